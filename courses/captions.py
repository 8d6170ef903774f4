"""WebVTT from a video's transcript segments (webvtt-py writes the file format)."""

from __future__ import annotations

import html
from collections.abc import Iterable

import webvtt


def _timestamp(seconds: float) -> str:
    millis = max(0, round(float(seconds) * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{ms:03d}"


def segments_to_vtt(segments: Iterable) -> str:
    """A WebVTT document, one cue per segment (start/end seconds, text). Cue text is
    escaped (&, <, >) as WebVTT requires; an end not after its start is nudged by 10 ms."""
    vtt = webvtt.WebVTT()
    for seg in segments:
        start, end = float(seg.start), float(seg.end)
        end = max(end, start + 0.01)
        text = html.escape(" ".join(seg.text.split()), quote=False) or " "
        vtt.captions.append(webvtt.Caption(_timestamp(start), _timestamp(end), text))
    return vtt.content
