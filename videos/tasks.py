"""django-q2 tasks for the pipeline: one task per stage, each taking ids only and calling
videos.pipeline. A stage queues the next one when it succeeds; the sweeper runs every
minute (SCHEDULES below)."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator

from django.conf import settings
from django.db import transaction

from chronos.schedules import Periodic

logger = logging.getLogger(__name__)

# SWEEP_EVERY_MINUTES (videos.pipeline.table) is 1; a literal here keeps this module light.
SCHEDULES = (
    Periodic("videos: sweep stuck videos", "videos.tasks.sweep_stuck_videos", minutes=1),
    Periodic(
        "videos: abort abandoned direct uploads", "videos.tasks.abort_abandoned_uploads", minutes=60
    ),
)


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
    ("next:<stage>", "done", "stopped" or "deferred") for django-q2's task log.

    SIGTERM while the stage runs (a stopping worker: `make run`'s Ctrl-C, a deploy) hands
    the video to a new attempt at once (videos.pipeline.release_run: re-queued, labelled
    "worker restarted, resuming") and exits the worker process (SystemExit), so the worker
    stops within seconds instead of finishing an hour of transcription. A task handed to a
    worker already told to stop is queued again untouched, and the worker exits."""
    from videos.models import Video
    from videos.pipeline import WorkerStopping, release_run, run_stage, worker_stop_check

    try:
        worker_stop_check()
    except WorkerStopping:
        enqueue_stage(video_id, stage, attempt)
        raise SystemExit(0) from None
    try:
        with _stop_on_sigterm():
            nxt = run_stage(video_id=video_id, stage=stage, attempt=attempt)
    except WorkerStopping:
        release_run(video_id=video_id, attempt=attempt)
        raise SystemExit(0) from None
    if nxt:
        transaction.on_commit(lambda: enqueue_stage(video_id, nxt, attempt))
        return f"next:{nxt}"
    status = Video.objects.filter(pk=video_id).values_list("status", flat=True).first()
    return "done" if status == Video.Status.COMPLETED else "stopped"


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """While the block runs in the main thread, SIGTERM records the stop and raises
    WorkerStopping in it at once (the previous handler is restored afterwards). Should
    native code swallow that exception, the stage's next heartbeat raises it again
    (videos.pipeline.worker_stop_check). Elsewhere (a thread) it does nothing."""
    from videos.pipeline import WorkerStopping, worker_stop_request

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigterm(signum, frame):
        worker_stop_request()
        raise WorkerStopping()

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def sweep_stuck_videos() -> dict:
    """Periodic: re-queue or fail videos stuck past their stage timeout."""
    from videos.pipeline import sweep_stuck

    counts = sweep_stuck()
    if counts["requeued"] or counts["failed"]:
        logger.warning("sweeper: %s", counts)
    return counts


def abort_abandoned_uploads() -> dict:
    """Periodic (hourly; SCHEDULES): abort direct uploads
    nobody completed within settings.CHRONOS_UPLOAD_ABANDON_HOURS. Returns the counts."""
    from videos.uploads import direct_uploads_abort_stale

    return direct_uploads_abort_stale()


def verify_direct_upload(upload_id: int) -> str:
    """Probe a completed direct upload and create its Video, or refuse it
    (videos.uploads.direct_upload_verify). Returns the upload's status."""
    from videos.uploads import direct_upload_verify

    return direct_upload_verify(upload_id=upload_id).status
