"""A stage run's bookkeeping: the attempt fence (a superseded run stops without writing),
the heartbeat, started/ended times, the cost total and failing a video."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

from django.db import DatabaseError, transaction
from django.db.models import Sum
from django.utils import timezone

from videos.models import Video
from videos.pipeline.table import HEARTBEAT_EVERY, PROGRESS_EVERY, STAGE_TABLE

logger = logging.getLogger(__name__)


class StaleRun(Exception):
    """This task's run was superseded (retry/sweeper started a newer attempt)."""


class WorkerStopping(BaseException):
    """Raised in a stage by the worker's SIGTERM handler (videos.tasks.run_stage_task): the
    worker is stopping, so the stage hands its video to a new attempt and the process exits.
    A BaseException, so no stage's `except Exception` swallows it."""


# Set by the worker's SIGTERM handler. Raising from a signal handler is not enough on its
# own: native code that calls back into Python (PyAV's Cython) can swallow the exception,
# so the stage also checks this flag at its start and on every heartbeat.
_stop_requested = threading.Event()


def worker_stop_request() -> None:
    """Record that this worker process was told to stop (SIGTERM). From then on the stage
    that runs, or the next one to start, raises WorkerStopping (worker_stop_check)."""
    _stop_requested.set()


def worker_stop_check() -> None:
    """Raise WorkerStopping when this process was told to stop; otherwise nothing."""
    if _stop_requested.is_set():
        raise WorkerStopping()


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
    """A stage run's signs of life.

    `beat(fraction)` writes stage_progress (0..1) and stage_heartbeat_at at most every
    PROGRESS_EVERY seconds (plus the final 1.0) and raises StaleRun when the run was
    superseded, so long stages stop early. Used as a context manager (videos.pipeline.runner
    does), it also runs a pulse thread that refreshes stage_heartbeat_at every `every`
    seconds (HEARTBEAT_EVERY) while the stage works, even through a silent step (one long
    provider call): a stage goes quiet only when its worker is dead or frozen, and the
    sweeper re-queues it after STALE_AFTER_BEATS missed beats.
    """

    def __init__(
        self,
        video: Video,
        *,
        on_progress: Callable[[float], None] | None = None,
        every: float = HEARTBEAT_EVERY,
    ):
        self.video_id = video.pk
        self.attempt = video.attempts
        self.on_progress = on_progress
        self.every = every
        self._last = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self, fraction: float, *, force: bool = False) -> None:
        worker_stop_check()
        if self.on_progress:
            self.on_progress(fraction)
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_EVERY and fraction < 1.0:
            return
        self._last = now
        updated = Video.objects.filter(pk=self.video_id, attempts=self.attempt).update(
            stage_progress=max(0.0, min(1.0, fraction)), stage_heartbeat_at=_now()
        )
        if not updated:
            raise StaleRun()

    def __enter__(self) -> Heartbeat:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._pulse, name=f"heartbeat-video-{self.video_id}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _pulse(self) -> None:
        """Thread body: refresh stage_heartbeat_at every `self.every` seconds until stopped.
        Its own database connection; a row locked by the stage's own transaction is
        skipped (SKIP LOCKED), never waited for, so stopping is prompt."""
        from django.db import connections

        table = Video._meta.db_table
        try:
            while not self._stop.wait(self.every):
                try:
                    with connections["default"].cursor() as cur:
                        cur.execute(
                            f"UPDATE {table} SET stage_heartbeat_at = %s WHERE id IN "
                            f"(SELECT id FROM {table} WHERE id = %s AND attempts = %s "
                            "FOR UPDATE SKIP LOCKED)",
                            [_now(), self.video_id, self.attempt],
                        )
                except DatabaseError:
                    logger.warning("heartbeat of video %s not written", self.video_id)
        finally:
            connections.close_all()


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
