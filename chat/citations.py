"""Citation markers in answers and the citation dicts shown to students."""

from __future__ import annotations

import re

from django.urls import NoReverseMatch, reverse

from chat.formatting import caption_typography, format_timestamp

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
    start_label ("5:42") and stream_url, for display and the API; the quote without
    captioners' slips (chat.formatting.caption_typography). A creator-FAQ citation
    (kind "faq", chat.faq) has no video: its stream_url is ""."""
    return {
        **citation,
        "quote": caption_typography(citation.get("quote") or ""),
        "start_label": format_timestamp(citation.get("start")),
        "end_label": format_timestamp(citation.get("end")),
        "stream_url": stream_url(citation["video_id"]) if citation.get("video_id") else "",
    }


# Where a series name ends and a part's own title starts ("Series — Lecture II: ...").
_SEPARATOR = re.compile(r"\s+(?:\u2014|\u2013|-|\||::?)\s+|:\s+")


def video_labels(titles: list[str]) -> list[str]:
    """Short labels telling cited lectures apart on citation cards: when the titles differ,
    the series prefix they all share (up to a separator such as " — ", " - ", " | ", ": ")
    is dropped, so "The Chemical History of a Candle — Lecture I: A Candle: the Flame" and
    "... — Lecture II: Brightness of the Flame" read "Lecture I: A Candle: the Flame" and
    "Lecture II: Brightness of the Flame" instead of two identical cut-off beginnings.
    Identical or single titles are kept whole."""
    distinct = {t for t in titles if t}
    if len(distinct) < 2:
        return list(titles)
    common = min(distinct, key=len)
    for t in distinct:
        while not t.startswith(common):
            common = common[:-1]
    cut = 0
    for m in _SEPARATOR.finditer(common):
        # the shared part must end at a separator in every title, not inside a word
        if all(_SEPARATOR.match(t, m.start()) for t in distinct):
            cut = m.end()
    return [t[cut:] if t and cut and len(t) > cut else t for t in titles]


def enrich_all(citations: list[dict]) -> list[dict]:
    """enrich() each citation of one answer, plus "video_label": its lecture's title as
    video_labels() shortens it among this answer's cited lectures (what a card shows; the
    full "video_title" stays for the player and screen readers)."""
    out = [enrich(c) for c in citations]
    labels = video_labels([c.get("video_title") or "" for c in out])
    for c, label in zip(out, labels, strict=True):
        c["video_label"] = label
    return out


def citations_for_answer(answer: str, passages) -> list[dict]:
    """The passages the answer actually cites, each as a stored citation dict with its
    marker number `n`. No marker -> [] (the answer is treated as not covered)."""
    out = []
    for n in cited_numbers(answer, len(passages)):
        out.append({**passages[n - 1].as_citation(), "n": n})
    return out
