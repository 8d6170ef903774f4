"""Cut a timed transcript into overlapping, sentence-aligned chunks. Pure Python, no DB.

Rules (issue 2): target 750 words, min 500, max 1000 (a hard max even for text with no
punctuation), 100 words of overlap between consecutive chunks, and a chunk ends only at a
sentence end when one exists in the allowed range. A chunk's start/end are the start of the
first segment it covers and the end of the last one: real cue times, never interpolated.

Words are whitespace-separated tokens. A chunk is made of whole words; because a chunk may
begin or end inside a long segment (a no-punctuation transcript can be one huge segment),
the covered-segment indices are those of its first and last word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# Chunk sizes, in words, from issue 2 ("target 750, min 500, max 1000, 100-word overlap").
TARGET_WORDS = 750
MIN_WORDS = 500
MAX_WORDS = 1000
OVERLAP_WORDS = 100
# Consecutive segments per SegmentWindow (brief A: windows of 3 segments, stride 1).
WINDOW_SEGMENTS = 3

# A word ends a sentence when it ends with . ! ? or an ellipsis, optionally followed by
# closing quotes/brackets ("...end." / 'end?"' / "end.)").
_SENTENCE_END = re.compile(r"""(?:[.!?]|\u2026)["'\u201d\u2019)\]]*$""")
# Abbreviations whose final period does not end a sentence.
_ABBREVIATIONS = frozenset(
    [
        "mr.",
        "mrs.",
        "ms.",
        "dr.",
        "prof.",
        "st.",
        "sr.",
        "jr.",
        "vs.",
        "etc.",
        "e.g.",
        "i.e.",
        "cf.",
        "no.",
        "fig.",
        "approx.",
        "mt.",
    ]
)


class SegmentLike(Protocol):
    index: int
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class ChunkSpec:
    """One chunk to store: text, start/end in seconds, word count, covered segment indices
    (the `.index` values of the first and last segment, inclusive)."""

    text: str
    start: float
    end: float
    word_count: int
    first_segment_index: int
    last_segment_index: int


@dataclass(frozen=True)
class WindowSpec:
    """A SegmentWindow to store: `WINDOW_SEGMENTS` consecutive segments inside one chunk."""

    chunk_position: int  # position of the chunk in the chunk_segments() list
    first_segment_index: int
    last_segment_index: int
    start: float
    end: float
    text: str


def is_sentence_end(word: str) -> bool:
    """True when `word` closes a sentence (ends with . ! ? or …, not a known abbreviation,
    not a single initial like "J.")."""
    if not _SENTENCE_END.search(word):
        return False
    bare = word.rstrip("\"'\u201d\u2019)]").lower()
    if bare in _ABBREVIATIONS:
        return False
    # "J." or "U.S." style initials.
    return not re.fullmatch(r"(?:[a-z]\.)+", bare)


def chunk_segments(
    segments: Sequence[SegmentLike],
    *,
    target_words: int = TARGET_WORDS,
    min_words: int = MIN_WORDS,
    max_words: int = MAX_WORDS,
    overlap_words: int = OVERLAP_WORDS,
) -> list[ChunkSpec]:
    """Chunk `segments` (ordered by time; anything with .index .start .end .text).

    Returns a list of ChunkSpec in order. Each chunk holds at most `max_words` words; it
    ends at the sentence end closest to `target_words` within [min_words, max_words] when
    one exists, else at `target_words` exactly (a hard cut). The next chunk starts
    `overlap_words` words before the previous chunk's end (moved forward to a sentence start
    if one is within the overlap). A final remainder shorter than `min_words` is merged into
    the previous chunk when the merge stays within `max_words`. Empty input -> [].
    Raises ValueError on inconsistent sizes (min > target > max, overlap >= min).
    """
    if not (0 < min_words <= target_words <= max_words):
        raise ValueError("need 0 < min_words <= target_words <= max_words")
    if not (0 <= overlap_words < min_words):
        raise ValueError("need 0 <= overlap_words < min_words")

    # Flatten to words, remembering which segment each word came from.
    words: list[str] = []
    seg_of: list[int] = []  # position in `segments`
    for pos, seg in enumerate(segments):
        for w in (seg.text or "").split():
            words.append(w)
            seg_of.append(pos)
    n = len(words)
    if n == 0:
        return []
    ends_sentence = [is_sentence_end(w) for w in words]

    # Word-range boundaries [(begin, end_exclusive)].
    ranges: list[tuple[int, int]] = []
    begin = 0
    while begin < n:
        remaining = n - begin
        if remaining <= max_words:
            end = n
        else:
            end = _pick_end(begin, n, ends_sentence, target_words, min_words, max_words)
        ranges.append((begin, end))
        if end >= n:
            break
        begin = _next_begin(begin, end, ends_sentence, overlap_words)

    # A short tail (< min_words of new material) merges into the previous chunk if it fits.
    if len(ranges) >= 2:
        (pb, _pe), (lb, le) = ranges[-2], ranges[-1]
        if le - lb < min_words and le - pb <= max_words:
            ranges[-2:] = [(pb, le)]

    chunks: list[ChunkSpec] = []
    for b, e in ranges:
        first_seg = segments[seg_of[b]]
        last_seg = segments[seg_of[e - 1]]
        chunks.append(
            ChunkSpec(
                text=" ".join(words[b:e]),
                start=float(first_seg.start),
                end=float(last_seg.end),
                word_count=e - b,
                first_segment_index=int(first_seg.index),
                last_segment_index=int(last_seg.index),
            )
        )
    return chunks


def _pick_end(begin: int, n: int, ends_sentence: list[bool], target: int, lo: int, hi: int) -> int:
    """End (exclusive) for a chunk starting at `begin` when more than `hi` words remain."""
    best = None
    best_dist = None
    for size in range(lo, min(hi, n - begin) + 1):
        if ends_sentence[begin + size - 1]:
            dist = abs(size - target)
            if best_dist is None or dist < best_dist:
                best, best_dist = begin + size, dist
    if best is not None:
        return best
    return begin + target  # no sentence end in range: hard cut at the target


def _next_begin(begin: int, end: int, ends_sentence: list[bool], overlap: int) -> int:
    """Start of the next chunk: `overlap` words before `end`, moved forward to the first
    sentence start inside the overlap when there is one (so chunks start on a sentence)."""
    if overlap == 0:
        return end
    start = max(begin + 1, end - overlap)
    for i in range(start, end):
        if i > 0 and ends_sentence[i - 1]:
            return i
    return start


def windows_for_chunks(
    segments: Sequence[SegmentLike],
    chunks: Sequence[ChunkSpec],
    *,
    size: int = WINDOW_SEGMENTS,
) -> list[WindowSpec]:
    """SegmentWindows for `chunks`: inside each chunk, one window starts at every covered
    segment (stride 1) and spans up to `size` consecutive segments, never crossing the
    chunk's last segment. start/end come from the window's segments (seconds)."""
    by_index = {int(s.index): s for s in segments}
    ordered = sorted(by_index)
    pos_of = {idx: p for p, idx in enumerate(ordered)}
    out: list[WindowSpec] = []
    for cpos, ch in enumerate(chunks):
        lo, hi = pos_of[ch.first_segment_index], pos_of[ch.last_segment_index]
        for p in range(lo, hi + 1):
            q = min(p + size - 1, hi)
            segs = [by_index[ordered[k]] for k in range(p, q + 1)]
            text = " ".join(s.text.strip() for s in segs if s.text.strip())
            if not text:
                continue
            out.append(
                WindowSpec(
                    chunk_position=cpos,
                    first_segment_index=ordered[p],
                    last_segment_index=ordered[q],
                    start=float(segs[0].start),
                    end=float(segs[-1].end),
                    text=text,
                )
            )
    return out
