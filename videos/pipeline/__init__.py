"""The processing pipeline: probe -> transcribe -> chunk -> embed -> completed | failed.

Each stage is idempotent (re-running replaces what it made) and is given the video's
`attempts` number when queued: a stage whose attempt is no longer current (the sweeper or a
retry started a new run) stops without writing. Every stage records its started/ended time,
keeps `stage_heartbeat_at` fresh while it works, and either queues the next stage or marks
the video failed with a message the creator can act on. videos.tasks wraps these for
django-q2; the ingest CLI calls them in-process.

Modules: table (the stage table), state (attempt fence, heartbeat, times, cost, failing),
stages (the work of each stage), runner (one stage / all in-process), sweeper (stuck runs,
where a retry resumes). The names below are the package's public surface.
"""

from videos.pipeline.runner import run_all, run_stage
from videos.pipeline.stages import EMBED_GROUP, STAGE_FUNCS, chunks_replace, embed_video
from videos.pipeline.state import (
    Heartbeat,
    StaleRun,
    WorkerStopping,
    describe_unexpected,
    fail_video,
    local_file,
    subject_for,
    video_cost_update,
    worker_stop_check,
    worker_stop_request,
)
from videos.pipeline.sweeper import is_stuck, mark_queued, release_run, resume_stage, sweep_stuck
from videos.pipeline.table import (
    FAILED_LABEL,
    HEARTBEAT_EVERY,
    MAX_ATTEMPTS,
    PENDING_STALE_AFTER,
    QUEUED_LABEL,
    READY_LABEL,
    RESUMED_NOTE,
    STAGE_BY_STATUS,
    STAGE_TABLE,
    STAGES,
    STALE_AFTER,
    SWEEP_EVERY_MINUTES,
    Stage,
    stage_of,
)

__all__ = [
    "EMBED_GROUP",
    "FAILED_LABEL",
    "HEARTBEAT_EVERY",
    "MAX_ATTEMPTS",
    "PENDING_STALE_AFTER",
    "QUEUED_LABEL",
    "READY_LABEL",
    "RESUMED_NOTE",
    "STAGES",
    "STAGE_BY_STATUS",
    "STAGE_FUNCS",
    "STAGE_TABLE",
    "STALE_AFTER",
    "SWEEP_EVERY_MINUTES",
    "Heartbeat",
    "Stage",
    "StaleRun",
    "WorkerStopping",
    "chunks_replace",
    "describe_unexpected",
    "embed_video",
    "fail_video",
    "is_stuck",
    "local_file",
    "mark_queued",
    "release_run",
    "resume_stage",
    "run_all",
    "run_stage",
    "stage_of",
    "subject_for",
    "sweep_stuck",
    "video_cost_update",
    "worker_stop_check",
    "worker_stop_request",
]
