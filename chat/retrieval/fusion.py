"""Reciprocal rank fusion of the full-text and vector rankings."""

from __future__ import annotations

from chat.retrieval.base import RRF_K, ChunkHit


def rrf_fuse(*rankings: list[ChunkHit]) -> list[ChunkHit]:
    """Reciprocal rank fusion of rankings (each best first): score = sum 1/(RRF_K + rank),
    rank from 1. Attributes of the same chunk from different rankings are merged."""
    merged: dict[int, ChunkHit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            into = merged.setdefault(hit.chunk_id, ChunkHit(hit.chunk_id, hit.video_id))
            into.fused += 1.0 / (RRF_K + rank)
            into.bm25 = max(into.bm25, hit.bm25)
            into.coverage = max(into.coverage, hit.coverage)
            if hit.vector is not None:
                into.vector = hit.vector
                into.best_window = hit.best_window
    return sorted(merged.values(), key=lambda h: (-h.fused, -h.coverage, h.chunk_id))
