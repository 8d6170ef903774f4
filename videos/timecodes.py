"""Timestamps shown for positions in a video: the one copy (chat citations and prompts,
the library's templates, the admin and the analytics charts all use these)."""

from __future__ import annotations

import math


def whole_seconds(seconds: object) -> int | None:
    """A position or duration in seconds, floored to whole seconds (the player seeks to
    the whole second); None for missing, non-numeric, infinite or negative values."""
    try:
        value = float(seconds)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return math.floor(value)


def format_timestamp(seconds: object) -> str:
    """Seconds -> "m:ss" under an hour, "h:mm:ss" from an hour (342.9 -> "5:42",
    3665 -> "1:01:05"); None or negative -> "0:00"."""
    total = whole_seconds(seconds) or 0
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def format_hms(seconds: object) -> str:
    """Seconds -> always "h:mm:ss" (a duration column: 303.4 -> "0:05:03"); None -> "—"."""
    total = whole_seconds(seconds)
    if total is None:
        return "—"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
