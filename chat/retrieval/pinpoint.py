"""Pinpointing: inside each retrieved chunk, the run of 1..MAX_SPAN_SEGMENTS consecutive
segments that best supports the question becomes the citation; overlapping citations in one
video merge into one span."""

from __future__ import annotations

import re
from collections import defaultdict

from django.db import connection

from chat.retrieval.base import RRF_K, ChunkHit, Passage, Scope
from chat.retrieval.lexical import lexeme_weights
from videos.models import SEARCH_CONFIG

# A citation spans at most this many consecutive segments (a SegmentWindow's size).
MAX_SPAN_SEGMENTS = 3


def pinpoint(hits: list[ChunkHit], lexemes: list[str], scope: Scope) -> list[Passage]:
    """For each chunk hit, the best run of 1..MAX_SPAN_SEGMENTS segments (see module doc);
    overlapping results in the same video merge. Returns passages ordered by chunk rank."""
    if not hits:
        return []
    weights = lexeme_weights(scope.creator_id, lexemes)
    weight_sum = sum(weights.values()) or 1.0
    chunk_ids = [h.chunk_id for h in hits]
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT c.id, v.id, v.title, s.index, s.start, s."end", s.text,
                   tsvector_to_array(to_tsvector(%s::regconfig, s.text))
            FROM videos_videochunk c
            JOIN videos_video v ON v.id = c.video_id
            JOIN videos_transcriptsegment s ON s.video_id = c.video_id
                 AND s.index BETWEEN c.first_segment_index AND c.last_segment_index
            WHERE c.id = ANY(%s) AND c.creator_id = %s
            ORDER BY c.id, s.index
            """,
            [SEARCH_CONFIG, chunk_ids, scope.creator_id],
        )
        rows = cur.fetchall()
    segs_by_chunk: dict[int, list[tuple]] = defaultdict(list)
    titles: dict[int, str] = {}
    for chunk_id, video_id, title, index, start, end, text, lx in rows:
        segs_by_chunk[chunk_id].append((index, start, end, text, set(lx or [])))
        titles[video_id] = title
    passages: list[Passage] = []
    for rank, hit in enumerate(hits):
        segs = segs_by_chunk.get(hit.chunk_id) or []
        if not segs:
            continue
        best = None
        for i in range(len(segs)):
            found: set[str] = set()
            for j in range(i, min(i + MAX_SPAN_SEGMENTS, len(segs))):
                found |= segs[j][4] & weights.keys()
                coverage = sum(weights[lx] for lx in found) / weight_sum
                sim = 0.0
                if hit.best_window and hit.best_window[0] <= segs[i][0] <= hit.best_window[1]:
                    sim = hit.vector or 0.0
                # Shorter spans win ties: a quote should be the supporting sentence itself.
                score = coverage + 0.5 * sim - 0.01 * (j - i)
                if best is None or score > best[0] + 1e-9:
                    best = (score, i, j, coverage)
        _, i, j, coverage = best
        ctx_lo, ctx_hi = max(0, i - 2), min(len(segs) - 1, j + 2)
        passages.append(
            Passage(
                video_id=hit.video_id,
                video_title=titles.get(hit.video_id, ""),
                chunk_id=hit.chunk_id,
                first_segment_index=segs[i][0],
                last_segment_index=segs[j][0],
                start=float(segs[i][1]),
                end=float(segs[j][2]),
                quote=_join(s[3] for s in segs[i : j + 1]),
                context=_join(s[3] for s in segs[ctx_lo : ctx_hi + 1]),
                score=coverage if hit.vector is None else (coverage + hit.vector) / 2,
                coverage=coverage,
                relevance=hit.coverage,
                fused=hit.fused or (1.0 / (RRF_K + rank + 1)),
            )
        )
    # Best supporting span first; chunk rank breaks ties (sorted() is stable).
    return merge_overlapping(sorted(passages, key=lambda p: -p.score))


def _join(texts) -> str:
    return re.sub(r"\s+", " ", " ".join(t.strip() for t in texts)).strip()


def merge_overlapping(passages: list[Passage]) -> list[Passage]:
    """Merge passages of the same video whose segment ranges overlap or touch; the merged
    passage keeps the earlier rank, the union span, both quotes' segments and max scores."""
    out: list[Passage] = []
    for p in passages:
        for q in out:
            if q.video_id == p.video_id and not (
                p.first_segment_index > q.last_segment_index + 1
                or q.first_segment_index > p.last_segment_index + 1
            ):
                _absorb(q, p)
                break
        else:
            out.append(p)
    return out


def _absorb(q: Passage, p: Passage) -> None:
    if p.first_segment_index < q.first_segment_index:
        q.quote = _merge_text(p.quote, q.quote)
        q.context = _merge_text(p.context, q.context)
    else:
        q.quote = _merge_text(q.quote, p.quote)
        q.context = _merge_text(q.context, p.context)
    q.first_segment_index = min(q.first_segment_index, p.first_segment_index)
    q.last_segment_index = max(q.last_segment_index, p.last_segment_index)
    q.start = min(q.start, p.start)
    q.end = max(q.end, p.end)
    q.score = max(q.score, p.score)
    q.coverage = max(q.coverage, p.coverage)
    q.relevance = max(q.relevance, p.relevance)
    q.fused = max(q.fused, p.fused)


def _merge_text(first: str, second: str) -> str:
    """Concatenate two overlapping texts without repeating their common part."""
    if second in first:
        return first
    if first in second:
        return second
    for n in range(min(len(first), len(second)), 0, -1):
        if first.endswith(second[:n]):
            return first + second[n:]
    return f"{first} {second}"
