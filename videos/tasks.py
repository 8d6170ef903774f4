"""django-q2 tasks for the pipeline: one task per stage, each taking ids only and calling
videos.pipeline. A stage queues the next one when it succeeds; the sweeper runs every
5 minutes (Schedule created by migration videos.0003_sweeper_schedule)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)


def stage_timeout(stage: str) -> int:
    """Task timeout for `stage`, seconds: its Stage.timeout (videos.pipeline.STAGE_TABLE)
    capped by the cluster's own timeout (which sits below its `retry`, as django-q2
    requires)."""
    from videos.pipeline import STAGE_TABLE

    timeout = STAGE_TABLE[stage].timeout
    return min(timeout, int(settings.Q_CLUSTER.get("timeout") or timeout))


def enqueue_stage(video_id: int, stage: str, attempt: int) -> None:
    """Queue `stage` of `video_id` for run `attempt` with its explicit timeout."""
    from django_q.tasks import async_task

    async_task(
        "videos.tasks.run_stage_task",
        video_id,
        stage,
        attempt,
        timeout=stage_timeout(stage),
        task_name=f"video-{video_id}-{stage}-a{attempt}",
        group=f"video-{video_id}",
    )


def run_stage_task(video_id: int, stage: str, attempt: int) -> str:
    """Run one stage, then queue the next on success. Returns a short outcome string
    ("next:<stage>", "done", or "stopped") for django-q2's task log."""
    from videos.models import Video
    from videos.pipeline import run_stage

    nxt = run_stage(video_id=video_id, stage=stage, attempt=attempt)
    if nxt:
        transaction.on_commit(lambda: enqueue_stage(video_id, nxt, attempt))
        return f"next:{nxt}"
    status = Video.objects.filter(pk=video_id).values_list("status", flat=True).first()
    return "done" if status == Video.Status.COMPLETED else "stopped"


def sweep_stuck_videos() -> dict:
    """Periodic: re-queue or fail videos stuck past their stage timeout."""
    from videos.pipeline import sweep_stuck

    counts = sweep_stuck()
    if counts["requeued"] or counts["failed"]:
        logger.warning("sweeper: %s", counts)
    return counts


def abort_abandoned_uploads() -> dict:
    """Periodic (hourly; Schedule created by migration videos.0007): abort direct uploads
    nobody completed within settings.CHRONOS_UPLOAD_ABANDON_HOURS. Returns the counts."""
    from videos.uploads import direct_uploads_abort_stale

    return direct_uploads_abort_stale()


def verify_direct_upload(upload_id: int) -> str:
    """Probe a completed direct upload and create its Video, or refuse it
    (videos.uploads.direct_upload_verify). Returns the upload's status."""
    from videos.uploads import direct_upload_verify

    return direct_upload_verify(upload_id=upload_id).status
