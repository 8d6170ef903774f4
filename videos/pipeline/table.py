"""The stage table: names, the video status each runs under, labels, timeouts and how
long each may stay silent before the sweeper calls it stuck."""

from __future__ import annotations

from videos.models import Video

STAGES = ("probe", "transcribe", "chunk", "embed")
NEXT_STAGE = {"probe": "transcribe", "transcribe": "chunk", "chunk": "embed", "embed": None}
STAGE_STATUS = {
    "probe": Video.Status.PENDING,
    "transcribe": Video.Status.TRANSCRIBING,
    "chunk": Video.Status.CHUNKING,
    "embed": Video.Status.EMBEDDING,
}
STAGE_LABEL = {
    "probe": "reading the file",
    "transcribe": "transcription",
    "chunk": "chunking",
    "embed": "embedding",
}
# django-q2 task timeouts per stage, seconds. Each stays below Q_CLUSTER["retry"] so the
# broker never re-delivers a task that is still running. Transcription is the long one
# (local ASR of an hour runs ~25 min on one core).
STAGE_TIMEOUTS = {"probe": 600, "transcribe": 3600, "chunk": 600, "embed": 1800}
# A stage whose heartbeat is older than this is stuck (its worker died or hung). Stages
# heartbeat at least every HEARTBEAT_EVERY seconds while working; the slowest silent step is
# one provider call (timeout 120 s x 4 tries + 7 s backoff).
HEARTBEAT_EVERY = 5.0
STALE_AFTER = {"probe": 900, "transcribe": 1200, "chunk": 900, "embed": 1200}
# Queued but never picked up (workers busy with long jobs is normal; hours is not).
PENDING_STALE_AFTER = 2 * 3600
# The sweeper re-queues a stuck video until it has been attempted this many times; then it
# fails it with a message.
MAX_ATTEMPTS = 3
