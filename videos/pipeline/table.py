"""The stage table: one row per processing stage, read by the pipeline (status, timeouts,
next stage), the sweeper (stale-after), videos.services (the status payload's label and
progress band) and videos.tasks (task timeout). A stage is named by its key everywhere
(Video.stage, task arguments); its status is what Video.status says while it runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from videos.models import Video


@dataclass(frozen=True)
class Stage:
    """One processing stage.

    name: the key stored in Video.stage and passed to tasks ("probe", "transcribe", ...).
    status: Video.status while it runs. label: what the creator sees while it runs.
    noun: how a failure message names it ("... during transcription"). field_prefix: its
    `<prefix>_started_at` / `<prefix>_ended_at` columns on Video. timeout: the django-q2
    task timeout, seconds (each below Q_CLUSTER["retry"], so the broker never re-delivers a
    running task). stale_after: seconds without a heartbeat before the sweeper calls it
    stuck (STALE_AFTER for every stage). band: (first, last) percent of the whole run it
    covers. next: the stage queued when it succeeds (None: the video is completed).
    """

    name: str
    status: str
    label: str
    noun: str
    field_prefix: str
    timeout: int
    stale_after: int
    band: tuple[int, int]
    next: str | None


# Stages heartbeat at least this often (seconds) while working: a thread beside the stage
# (videos.pipeline.state.Heartbeat) beats even through a long silent provider call, so only a
# dead or frozen worker goes quiet.
HEARTBEAT_EVERY = 20.0
# A stage silent for this many heartbeats is stuck (issue 13: "silent for 3 heartbeats").
# With the sweeper every SWEEP_EVERY_MINUTES, a dead worker's stage is re-queued within
# 3 x 20 s + 60 s = 2 minutes (the bound: 3 minutes).
STALE_AFTER_BEATS = 3
STALE_AFTER = int(STALE_AFTER_BEATS * HEARTBEAT_EVERY)
# The sweeper's django-q2 Schedule interval, minutes (videos.tasks.SCHEDULES).
SWEEP_EVERY_MINUTES = 1
# Progress bars are written at most this often (seconds) while a stage reports progress.
PROGRESS_EVERY = 5.0

# Timeouts: transcription is the long one (local ASR of an hour runs ~25 min on one core).
STAGE_TABLE: dict[str, Stage] = {
    s.name: s
    for s in (
        Stage(
            name="probe",
            status=Video.Status.PENDING,
            label="Reading the file",
            noun="reading the file",
            field_prefix="probe",
            timeout=600,
            stale_after=STALE_AFTER,
            band=(0, 10),
            next="transcribe",
        ),
        Stage(
            name="transcribe",
            status=Video.Status.TRANSCRIBING,
            label="Transcribing",
            noun="transcription",
            field_prefix="transcribing",
            timeout=3600,
            stale_after=STALE_AFTER,
            band=(10, 60),
            next="chunk",
        ),
        Stage(
            name="chunk",
            status=Video.Status.CHUNKING,
            label="Chunking",
            noun="chunking",
            field_prefix="chunking",
            timeout=600,
            stale_after=STALE_AFTER,
            band=(60, 70),
            next="embed",
        ),
        Stage(
            name="embed",
            status=Video.Status.EMBEDDING,
            label="Embedding",
            noun="embedding",
            field_prefix="embedding",
            timeout=1800,
            stale_after=STALE_AFTER,
            band=(70, 99),
            next=None,
        ),
    )
}
STAGES = tuple(STAGE_TABLE)
# The stage running under each processing status.
STAGE_BY_STATUS: dict[str, Stage] = {s.status: s for s in STAGE_TABLE.values()}

# What the status payload says outside the stages (videos.services.video_status_payload).
QUEUED_LABEL = "Queued"
READY_LABEL = "Ready"
FAILED_LABEL = "Failed"
# Added to the stage label while a run handed over by the sweeper or a stopping worker goes on.
RESUMED_NOTE = "worker restarted, resuming"

# Queued but never picked up (workers busy with long jobs is normal; hours is not).
PENDING_STALE_AFTER = 2 * 3600
# The sweeper re-queues a stuck video until it has been attempted this many times; then it
# fails it with a message.
MAX_ATTEMPTS = 3


def stage_of(video: Video) -> Stage:
    """The stage `video` is at (Video.stage), probe when it names none ("" or "done")."""
    return STAGE_TABLE.get(video.stage, STAGE_TABLE["probe"])
