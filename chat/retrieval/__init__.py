"""Retrieval: find the chunks that answer a question, then pinpoint the moment inside them.

Pipeline for one question inside a Scope (one creator; optionally a course or video list;
completed videos only):

1. Lexemes (base.question_lexemes). PostgreSQL normalises the question with the same
   configuration as the chunks' search vectors (stemming; its own stop words).
2. Full-text (lexical). Okapi BM25 over impact-ordered postings (videos.ChunkPosting, kept
   by triggers on the chunks), IDF from the creator's document frequencies: an OR of the
   lexemes (AND-ing them matches almost nothing for natural questions), a bounded number
   of postings read per lexeme on a large library; coverage = IDF-weighted share of the
   question's lexemes a chunk contains.
3. Vector (vector; when the active embedder's model has embedded the scope's
   SegmentWindows, or failing that the chunks): cosine distance via pgvector's HNSW
   index; a chunk takes the score of its best window.
4. Fusion (fusion) by reciprocal rank fusion, score = sum 1 / (RRF_K + rank).
5. Pinpoint (pinpoint). Inside each of the top-k chunks every run of 1..3 consecutive
   segments is scored by the IDF-weighted share of the question's lexemes it contains
   (plus the cosine similarity of its window when embeddings exist); the best run is the
   citation. Overlapping citations in one video merge into one span.
6. "Not covered": the best chunk's coverage is compared with a floor calibrated per
   creator from its own library (calibration), computed off the request path.
"""

from __future__ import annotations

import logging

from chat.retrieval.base import (
    RRF_K,
    TOP_K,
    ChunkHit,
    Passage,
    RetrievalResult,
    Scope,
    cache_key,
    library_version,
    question_fingerprint,
    question_lexemes,
    scope_resolve,
)
from chat.retrieval.calibration import (
    calibration_compute,
    calibration_get,
    calibration_schedule,
)
from chat.retrieval.fusion import rrf_fuse
from chat.retrieval.lexical import (
    CANDIDATES,
    idf,
    lexeme_weights,
    lexical_query,
    lexical_rank,
)
from chat.retrieval.pinpoint import MAX_SPAN_SEGMENTS, merge_overlapping, pinpoint
from chat.retrieval.vector import VECTOR_CANDIDATES, vector_query, vector_rank, vector_search
from creators.models import Creator

logger = logging.getLogger(__name__)

__all__ = [
    "CANDIDATES",
    "MAX_SPAN_SEGMENTS",
    "RRF_K",
    "TOP_K",
    "VECTOR_CANDIDATES",
    "ChunkHit",
    "Passage",
    "RetrievalResult",
    "Scope",
    "cache_key",
    "calibration_compute",
    "calibration_get",
    "calibration_schedule",
    "idf",
    "lexeme_weights",
    "lexical_query",
    "lexical_rank",
    "library_version",
    "merge_overlapping",
    "pinpoint",
    "question_fingerprint",
    "question_lexemes",
    "retrieve",
    "rrf_fuse",
    "scope_resolve",
    "vector_query",
    "vector_rank",
    "vector_search",
]


def retrieve(
    *, creator: Creator, scope: Scope, question: str, top_k: int = TOP_K, embedder=None
) -> RetrievalResult:
    """Retrieve and pinpoint passages for `question` inside `scope`.

    embedder: an object with .model_name and .embed(texts, creator=, subject=) (see
    videos.embedders.get_embedder); None -> full-text only. Returns a RetrievalResult whose
    passages are best first (at most top_k, merged when they overlap); covered is False
    when the best chunk's coverage is under the creator's calibrated floor (passages are
    then still returned, for inspection, but callers must not cite them).
    """
    if not scope.video_ids:
        return RetrievalResult(empty_library=True)
    calib = calibration_get(creator=creator)
    lexemes = question_lexemes(question)
    lexical = lexical_rank(scope, lexemes, doc_count=calib.doc_count)
    vector: list[ChunkHit] = []
    if embedder is not None:
        try:
            vector = vector_rank(scope, embedder, question, creator)
        except Exception:  # an embedding outage degrades to full-text, never fails the answer
            logger.exception("question embedding failed; using full-text only")
            vector = []
    fused = rrf_fuse(lexical, vector) if vector else lexical
    top = fused[:top_k]
    best = max((h.coverage for h in lexical[:top_k]), default=0.0)
    floor = calib.floor
    covered = best >= floor and best > 0
    vector_floor = calib.vector_floor
    if not covered and vector and vector_floor is not None:
        covered = vector[0].vector is not None and vector[0].vector >= vector_floor
    passages = pinpoint(top, lexemes, scope)
    return RetrievalResult(
        passages=passages,
        covered=covered and bool(passages),
        best_relevance=best,
        floor=floor,
        used_vectors=bool(vector),
    )
