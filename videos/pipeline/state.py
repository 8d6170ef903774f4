"""A stage run's bookkeeping: the attempt fence (a superseded run stops without writing),
the heartbeat, started/ended times, the cost total and failing a video."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from videos.models import Video
from videos.pipeline.table import HEARTBEAT_EVERY, STAGE_TABLE


class StaleRun(Exception):
    """This task's run was superseded (retry/sweeper started a newer attempt)."""


# ------------------------------------------------------------------ helpers -------------


def _now():
    return timezone.now()


def _lock(video_id: int, attempt: int | None) -> Video:
    """The video row locked for update; StaleRun if `attempt` is not the current one or the
    video already finished/failed."""
    video = Video.objects.select_for_update().select_related("creator").get(pk=video_id)
    if attempt is not None and video.attempts != attempt:
        raise StaleRun()
    if video.status in (Video.Status.FAILED, Video.Status.COMPLETED):
        raise StaleRun()
    return video


class Heartbeat:
    """Throttled progress writer: `beat(fraction)` updates stage_progress and
    stage_heartbeat_at at most every HEARTBEAT_EVERY seconds (plus the final 1.0). Also
    raises StaleRun when the run was superseded, so long stages stop early."""

    def __init__(self, video: Video, *, on_progress: Callable[[float], None] | None = None):
        self.video_id = video.pk
        self.attempt = video.attempts
        self.on_progress = on_progress
        self._last = 0.0

    def beat(self, fraction: float, *, force: bool = False) -> None:
        if self.on_progress:
            self.on_progress(fraction)
        now = time.monotonic()
        if not force and now - self._last < HEARTBEAT_EVERY and fraction < 1.0:
            return
        self._last = now
        updated = Video.objects.filter(pk=self.video_id, attempts=self.attempt).update(
            stage_progress=max(0.0, min(1.0, fraction)), stage_heartbeat_at=_now()
        )
        if not updated:
            raise StaleRun()


@contextlib.contextmanager
def local_file(field) -> Iterator[Path]:
    """A local filesystem path for a stored FileField: the file itself on local storage,
    else (S3) a temporary copy streamed in 1 MiB blocks and removed afterwards
    (videos.storage.local_copy: a 2 GB object never sits in memory)."""
    from videos.storage import local_copy

    with local_copy(field.name, storage=field.storage) as path:
        yield path


def _start_stage(video_id: int, stage: str, attempt: int | None) -> Video:
    with transaction.atomic():
        video = _lock(video_id, attempt)
        now = _now()
        row = STAGE_TABLE[stage]
        video.status = row.status
        video.stage = stage
        video.stage_progress = 0.0
        video.stage_heartbeat_at = now
        fields = ["status", "stage", "stage_progress", "stage_heartbeat_at", "updated_at"]
        started = f"{row.field_prefix}_started_at"
        ended = f"{row.field_prefix}_ended_at"
        setattr(video, started, now)
        setattr(video, ended, None)
        fields += [started, ended]
        video.save(update_fields=fields)
    return video


def _end_stage_fields(video: Video, stage: str) -> list[str]:
    name = f"{STAGE_TABLE[stage].field_prefix}_ended_at"
    setattr(video, name, _now())
    video.stage_progress = 1.0
    video.stage_heartbeat_at = _now()
    return [name, "stage_progress", "stage_heartbeat_at", "updated_at"]


def video_cost_update(video: Video) -> Decimal:
    """Set processing_cost_usd to the sum of the video's ledger rows (Decimal USD)."""
    from billing.models import UsageLedgerEntry

    total = UsageLedgerEntry.objects.filter(
        creator_id=video.creator_id, subject=subject_for(video)
    ).aggregate(s=Sum("usd"))["s"] or Decimal(0)
    Video.objects.filter(pk=video.pk).update(processing_cost_usd=total)
    video.processing_cost_usd = total
    return total


def subject_for(video: Video) -> str:
    """The usage-ledger subject naming this video: "video:<id>"."""
    return f"video:{video.pk}"


def fail_video(*, video_id: int, message: str, attempt: int | None = None) -> None:
    """Mark the video failed with `message` (unless a newer attempt has taken over)."""
    qs = Video.objects.filter(pk=video_id)
    if attempt is not None:
        qs = qs.filter(attempts=attempt)
    qs.exclude(status=Video.Status.COMPLETED).update(
        status=Video.Status.FAILED,
        error=message[:2000],
        stage_heartbeat_at=_now(),
        updated_at=_now(),
    )
    video = Video.objects.filter(pk=video_id).first()
    if video is not None:
        video_cost_update(video)


def describe_unexpected(stage: str, exc: BaseException) -> str:
    return (
        f"Processing failed unexpectedly during {STAGE_TABLE[stage].noun} "
        f"({type(exc).__name__}). Retry; if it fails again, contact support."
    )
