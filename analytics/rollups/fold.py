"""Folding one watch session's events into runs, watch time and bucket plays."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from analytics.models import (
    BUCKET_SECONDS,
)

# Two segments belong to one run when the second starts within this many seconds of the
# first's end (players report heartbeats with sub-second jitter).
RUN_TOLERANCE_SECONDS = 1.0

# A segment longer than this is clamped (a client bug or forged event must not fill a video).
MAX_SEGMENT_SECONDS = 600.0

# Users and sessions folded per batch (bounds memory on a rebuild of millions of events).
BATCH = 2000


@dataclass
class Segment:
    """One reported piece of a session, as the fold needs it."""

    seq: int
    verb: str
    time_from: float | None
    time_to: float | None


@dataclass
class SessionFold:
    """What one session adds up to; see the module docstring for the definitions."""

    runs: list[list[float]] = field(default_factory=list)
    watch_seconds: float = 0.0
    furthest: float = 0.0
    buckets: list[int] = field(default_factory=list)


def fold_segments(segments: Iterable[Segment], duration: float | None = None) -> SessionFold:
    """Fold one session's events (any order; sorted here by seq) into runs and bucket plays.

    duration: the video's length in seconds (positions are clamped to it when known).
    """
    out = SessionFold()
    current: list[float] | None = None
    for seg in sorted(segments, key=lambda s: s.seq):
        if seg.verb == "seeked":
            current = None
            continue
        if seg.time_from is None or seg.time_to is None:
            continue
        a, b = float(seg.time_from), float(seg.time_to)
        if not (math.isfinite(a) and math.isfinite(b)):
            continue
        a = max(0.0, a)
        if duration:
            b = min(b, float(duration))
        b = min(b, a + MAX_SEGMENT_SECONDS)
        if b <= a:
            continue
        out.watch_seconds += b - a
        out.furthest = max(out.furthest, b)
        if current is not None and abs(a - current[1]) <= RUN_TOLERANCE_SECONDS:
            current[1] = max(current[1], b)
        else:
            current = [a, b]
            out.runs.append(current)
    size = math.ceil((duration or out.furthest) / BUCKET_SECONDS) if out.runs else 0
    size = max(size, math.ceil(out.furthest / BUCKET_SECONDS))
    buckets = [0] * size
    for a, b in out.runs:
        for i in range(int(a // BUCKET_SECONDS), math.ceil(b / BUCKET_SECONDS)):
            buckets[i] += 1
    out.buckets = buckets
    return out
