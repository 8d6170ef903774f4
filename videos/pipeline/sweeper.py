"""Stuck runs: detecting them, re-queueing or failing them, and where a retry resumes."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction

from videos.models import TranscriptSegment, Video, VideoChunk
from videos.pipeline.state import _now
from videos.pipeline.table import MAX_ATTEMPTS, PENDING_STALE_AFTER, STAGE_TABLE, stage_of

logger = logging.getLogger(__name__)


def is_stuck(video: Video, *, now=None) -> bool:
    """True when a processing video has not shown life for longer than its stage allows
    (its Stage.stale_after / PENDING_STALE_AFTER seconds since stage_heartbeat_at, or its
    task timeout + 300 s since it started)."""
    if not video.is_processing:
        return False
    now = now or _now()
    beat = video.stage_heartbeat_at or video.updated_at or video.created_at
    stage = stage_of(video)
    started = getattr(video, f"{stage.field_prefix}_started_at", None)
    if video.status == Video.Status.PENDING and started is None:
        # Queued, not yet picked up: workers busy with long jobs is normal; hours is not.
        return now - beat > timedelta(seconds=PENDING_STALE_AFTER)
    if now - beat > timedelta(seconds=stage.stale_after):
        return True
    return bool(started and now - started > timedelta(seconds=stage.timeout + 300))


def sweep_stuck(*, now=None) -> dict[str, int]:
    """Find processing videos that are stuck; re-queue each from its current stage (a new
    attempt, see _requeue) while attempts < MAX_ATTEMPTS, else fail it with a message. Returns
    {"requeued": n, "failed": m}."""
    now = now or _now()
    counts = {"requeued": 0, "failed": 0}
    for video in Video.objects.filter(status__in=Video.ACTIVE_STATUSES).iterator():
        if not is_stuck(video, now=now):
            continue
        stage = stage_of(video).name
        with transaction.atomic():
            v = Video.objects.select_for_update().get(pk=video.pk)
            if not is_stuck(v, now=now):
                continue
            if v.attempts >= MAX_ATTEMPTS:
                v.status = Video.Status.FAILED
                v.error = (
                    f"Processing stopped responding during {STAGE_TABLE[stage].noun} and was "
                    f"tried {v.attempts} times. Retry; if it happens again, the file may be "
                    "too long to process — contact support."
                )
                v.save(update_fields=["status", "error", "updated_at"])
                counts["failed"] += 1
                logger.warning("sweeper: video %s failed after %s attempts", v.pk, v.attempts)
                continue
            attempt = _requeue(v, stage, now=now)
            counts["requeued"] += 1
            logger.warning("sweeper: video %s re-queued at %s (attempt %s)", v.pk, stage, attempt)
    return counts


def _requeue(video: Video, stage: str, *, now) -> int:
    """Hand a locked processing `video` to a new attempt that starts `stage` afresh: status
    pending, the stage marked queued (so the long PENDING_STALE_AFTER applies while workers
    are busy), resumed_at set (the status label then says RESUMED_NOTE); the task is queued
    on commit. Returns the new attempt number. Call inside a transaction."""
    from videos.tasks import enqueue_stage

    fields = mark_queued(video, stage)
    video.status = Video.Status.PENDING
    video.attempts += 1
    video.stage_heartbeat_at = now
    video.stage_progress = 0.0
    video.resumed_at = now
    video.save(
        update_fields=[
            *fields,
            "status",
            "attempts",
            "stage_heartbeat_at",
            "stage_progress",
            "resumed_at",
            "updated_at",
        ]
    )
    attempt = video.attempts
    transaction.on_commit(lambda pk=video.pk, s=stage, a=attempt: enqueue_stage(pk, s, a))
    return attempt


def release_run(*, video_id: int, attempt: int) -> bool:
    """A stopping worker hands back its run (videos.tasks, on SIGTERM): when `attempt` is
    still the video's current, processing attempt, re-queue its stage as a new attempt now
    instead of waiting for the sweeper. Returns True when released, False when the run was
    already superseded or finished."""
    from django.db import connection

    # The signal may have interrupted a query: start from a fresh connection.
    connection.close()
    with transaction.atomic():
        video = Video.objects.select_for_update().filter(pk=video_id).first()
        if video is None or video.attempts != attempt or not video.is_processing:
            return False
        stage = stage_of(video).name
        new_attempt = _requeue(video, stage, now=_now())
    logger.warning("video %s: %s released on SIGTERM (attempt %s)", video_id, stage, new_attempt)
    return True


def mark_queued(video: Video, stage: str) -> list[str]:
    """Set `video` up to run `stage` next (not started yet); returns the changed fields."""
    prefix = STAGE_TABLE[stage].field_prefix
    video.stage = stage
    setattr(video, f"{prefix}_started_at", None)
    setattr(video, f"{prefix}_ended_at", None)
    return ["stage", f"{prefix}_started_at", f"{prefix}_ended_at"]


def resume_stage(video: Video) -> str:
    """The stage a retry should start from: the failed stage when its inputs exist
    (segments for chunk/embed), else probe."""
    stage = stage_of(video).name
    if stage in ("chunk", "embed") and not TranscriptSegment.objects.filter(video=video).exists():
        return "transcribe" if video.duration_seconds else "probe"
    if stage == "embed" and not VideoChunk.objects.filter(video=video).exists():
        return "chunk"
    if stage == "transcribe" and video.duration_seconds is None:
        return "probe"
    return stage
