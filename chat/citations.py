"""Citation markers in answers and the citation dicts shown to students."""

from __future__ import annotations

import re

from django.urls import NoReverseMatch, reverse

from chat.formatting import format_timestamp

_MARKER = re.compile(r"\[(\d{1,3})\]")


def cited_numbers(answer: str, available: int) -> list[int]:
    """Passage numbers cited in `answer` as [n] (1-based), in order of first use, limited
    to 1..available."""
    seen: list[int] = []
    for m in _MARKER.finditer(answer or ""):
        n = int(m.group(1))
        if 1 <= n <= available and n not in seen:
            seen.append(n)
    return seen


def stream_url(video_id: int) -> str:
    """Where the player loads the video (videos:stream, Range-enabled)."""
    try:
        return reverse("videos:stream", args=[video_id])
    except NoReverseMatch:
        return f"/media/videos/{video_id}/file/"


def enrich(citation: dict) -> dict:
    """A stored citation {video_id, video_title, start, end, quote, score[, n]} plus
    start_label ("5:42") and stream_url, for display and the API. A creator-FAQ citation
    (kind "faq", chat.faq) has no video: its stream_url is ""."""
    return {
        **citation,
        "start_label": format_timestamp(citation.get("start")),
        "end_label": format_timestamp(citation.get("end")),
        "stream_url": stream_url(citation["video_id"]) if citation.get("video_id") else "",
    }


def citations_for_answer(answer: str, passages) -> list[dict]:
    """The passages the answer actually cites, each as a stored citation dict with its
    marker number `n`. No marker -> [] (the answer is treated as not covered)."""
    out = []
    for n in cited_numbers(answer, len(passages)):
        out.append({**passages[n - 1].as_citation(), "n": n})
    return out
