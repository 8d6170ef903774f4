"""Template filters for the video pages: durations and transcript timestamps.

{% load videos_ui %}  {{ video.duration_seconds|hms }}  {{ segment.start|timestamp }}
"""

from __future__ import annotations

from django import template

from videos.timecodes import format_hms, format_timestamp

register = template.Library()


@register.filter
def hms(seconds) -> str:
    """Seconds -> "h:mm:ss" (a library column: 303.4 -> "0:05:03"); None -> "—"."""
    return format_hms(seconds)


@register.filter
def timestamp(seconds) -> str:
    """Seconds -> "m:ss" under an hour, "h:mm:ss" from an hour (342.9 -> "5:42",
    3665 -> "1:01:05"). Floored, because the player seeks to the line's start."""
    return format_timestamp(seconds)
