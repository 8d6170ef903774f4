"""Played intervals as sorted, merged [[start, end], ...] lists of seconds (pure functions).

The xAPI video profile's "played-segments" extension, kept as JSON instead of its
"0.000[.]12.000[,]..." string."""

from __future__ import annotations

from collections.abc import Iterable


def intervals_merge(
    intervals: Iterable[Iterable[float]], *, limit: float | None = None
) -> list[list[float]]:
    """Sort and merge [start, end] pairs (seconds). Touching or overlapping pairs merge;
    empty or inverted ones are dropped; with `limit` (the duration) every pair is clipped
    to [0, limit]. Returns a new list of [start, end] lists, rounded to milliseconds."""
    cleaned: list[tuple[float, float]] = []
    for pair in intervals:
        start, end = (float(x) for x in pair)
        start = max(0.0, start)
        if limit is not None:
            end = min(end, limit)
        if end > start:
            cleaned.append((start, end))
    cleaned.sort()
    merged: list[list[float]] = []
    for start, end in cleaned:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [[round(s, 3), round(e, 3)] for s, e in merged]


def intervals_total(intervals: Iterable[Iterable[float]]) -> float:
    """Total length in seconds of already-merged intervals."""
    return round(sum(float(e) - float(s) for s, e in intervals), 3)
