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
    stuck. band: (first, last) percent of the whole run it covers. next: the stage queued
    when it succeeds (None: the video is completed).
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


# Timeouts: transcription is the long one (local ASR of an hour runs ~25 min on one core).
# Stale-after: stages heartbeat at least every HEARTBEAT_EVERY seconds while working; the
# slowest silent step is one provider call (timeout 120 s x 4 tries + 7 s backoff).
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
            stale_after=900,
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
            stale_after=1200,
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
            stale_after=900,
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
            stale_after=1200,
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

# Stages heartbeat at least this often (seconds) while working.
HEARTBEAT_EVERY = 5.0
# Queued but never picked up (workers busy with long jobs is normal; hours is not).
PENDING_STALE_AFTER = 2 * 3600
# The sweeper re-queues a stuck video until it has been attempted this many times; then it
# fails it with a message.
MAX_ATTEMPTS = 3


def stage_of(video: Video) -> Stage:
    """The stage `video` is at (Video.stage), probe when it names none ("" or "done")."""
    return STAGE_TABLE.get(video.stage, STAGE_TABLE["probe"])
