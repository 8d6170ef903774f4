"""Template filters for the video pages: durations and transcript timestamps.

{% load videos_ui %}  {{ video.duration_seconds|hms }}  {{ segment.start|timestamp }}
"""

from __future__ import annotations

import math

from django import template

register = template.Library()


def _whole_seconds(seconds) -> int | None:
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return math.floor(value)


@register.filter
def hms(seconds) -> str:
    """Seconds -> "h:mm:ss" (a library column: 303.4 -> "0:05:03"); None -> "—"."""
    total = _whole_seconds(seconds)
    if total is None:
        return "—"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


@register.filter
def timestamp(seconds) -> str:
    """Seconds -> "m:ss" under an hour, "h:mm:ss" from an hour (342.9 -> "5:42",
    3665 -> "1:01:05"). Floored, because the player seeks to the line's start."""
    total = _whole_seconds(seconds) or 0
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"
