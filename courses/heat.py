"""How often students asked about each video (the builder's heat meter).

Citations live in chat, which sits above courses, so chat registers the counting function
in its AppConfig.ready() (`register_citation_counter`); without one every count is 0.
"""

from __future__ import annotations

from collections.abc import Callable

CitationCounter = Callable[[int], dict[int, int]]
_counters: list[CitationCounter] = []


def register_citation_counter(fn: CitationCounter) -> None:
    """fn(creator_id) -> {video_id: number of answer citations}. Idempotent."""
    if fn not in _counters:
        _counters.append(fn)


def video_heat(*, creator_id: int) -> dict[int, float]:
    """{video_id: 0-1}: citations of the video ÷ the most-cited video's citations
    (relative to the creator's library; 0 when nothing was cited)."""
    counts = video_citations(creator_id=creator_id)
    top = max(counts.values(), default=0)
    return {vid: n / top for vid, n in counts.items()} if top else {}


def video_citations(*, creator_id: int) -> dict[int, int]:
    """{video_id: citations} summed over the registered counters."""
    counts: dict[int, int] = {}
    for fn in _counters:
        for video_id, n in fn(creator_id).items():
            counts[video_id] = counts.get(video_id, 0) + n
    return counts
