"""Retrieval: find the chunks that answer a question, then pinpoint the moment inside them.

Pipeline for one question inside a Scope (one creator; optionally a course or video list;
completed videos only):

Moments (chat.retrieval.moments) are what is ranked and cited; steps 2-3 find candidates:

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
6. "Not covered": the best moment's score is compared with the learned floor raised by
   w_unknown times the IDF share of the question's words that no chunk holds
   (moments.question_floor; both learned by bench/fit_retrieval.py). The per-creator
   calibration (calibration) is still computed off the request path.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

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
    calibration_ensure,
    calibration_schedule,
)
from chat.retrieval.fusion import rrf_fuse
from chat.retrieval.lexical import (
    CANDIDATES,
    idf,
    lexeme_frequencies,
    lexeme_weights,
    lexical_query,
    lexical_rank,
    unsaid_lexemes,
    vocabulary_size,
)
from chat.retrieval.moments import (
    candidate_windows,
    distinct_moments,
    fusion_params,
    pinpoint_moments,
    question_floor,
    score_windows,
)
from chat.retrieval.pinpoint import MAX_SPAN_SEGMENTS, merge_overlapping, pinpoint
from chat.retrieval.spelling import spelling_fixes
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
    "calibration_ensure",
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
    *,
    creator: Creator,
    scope: Scope,
    question: str,
    top_k: int = TOP_K,
    embedder=None,
    position: tuple[int, float] | None = None,
    near: Sequence[tuple[int, float, float]] = (),
    explain: dict | None = None,
    version: str | None = None,
) -> RetrievalResult:
    """Retrieve and pinpoint the moments that answer `question` inside `scope`.

    embedder: an object with .model_name and .embed(texts, creator=, subject=) (see
    videos.embedders.get_embedder); None -> full-text only. position: (video_id, seconds)
    of the player when asked from a lesson (biases toward that moment). near: the moments
    the previous answer cited [(video_id, start, end)] in seconds, for a follow-up (biases
    toward them the same way; chat.context). Returns a
    RetrievalResult whose passages are distinct moments, best first (at most top_k);
    covered is False when the best moment scores under the learned floor (passages are then
    still returned, for inspection, but callers must not cite them). explain: a dict that
    receives the scored candidate windows ("windows"), the parameters ("params") and the
    question's {lexeme: IDF} ("weights"), for
    bench/fit_retrieval.py. version: the creator's library_version when the caller has
    read it in this request (the calibration is checked against it).
    """
    if not scope.video_ids:
        return RetrievalResult(empty_library=True)
    version = version if version is not None else library_version(creator=creator)
    calib = calibration_ensure(creator=creator, version=version)
    ndoc, total = lexeme_frequencies(scope.creator_id, question_lexemes(question))
    # "Faraday" in "what does Faraday say about air?", "hi" in "hi, why does...?"
    unsaid = unsaid_lexemes(scope, ndoc)
    # "capilary" in "how does capilary attraction work?": read as the library's word
    unknown = {lx for lx, n in ndoc.items() if n == 0 and lx not in unsaid}
    fixes = spelling_fixes(
        creator_id=scope.creator_id, version=version, question=question, unknown=unknown
    )
    for wrong, (right, n) in fixes.items():
        del ndoc[wrong]
        ndoc[right] = n
    weights = {lx: idf(n, total) for lx, n in ndoc.items() if lx not in unsaid}
    unknown_share = sum(weights[lx] for lx in weights if not ndoc[lx]) / (
        sum(weights.values()) or 1.0
    )
    lexemes = list(weights)
    lexical = lexical_rank(scope, lexemes, doc_count=calib.doc_count)
    found: dict = {}
    if embedder is not None:
        try:
            vector_rank(scope, embedder, question, creator, windows_out=found)
        except Exception:  # an embedding outage degrades to full-text, never fails the answer
            logger.exception("question embedding failed; using full-text only")
            found = {}
    used_vectors = found.get("vector") is not None
    params = fusion_params(vectors=used_vectors)
    windows = candidate_windows(
        scope,
        lexical,
        found.get("windows", []),
        vector=found.get("vector"),
        model=embedder.model_name if used_vectors else "",
        position=position,
        near=near,
        lexemes=lexemes,
        version=version,
    )
    ranked = score_windows(windows, weights, params, position=position, near=near)
    if explain is not None:
        explain.update(
            windows=ranked,
            params=params,
            used_vectors=used_vectors,
            weights=weights,
            unknown_share=unknown_share,
        )
    # The question is covered when its best moment reaches the question's floor; the
    # moments cited beside it need the learned floor (their relevance, not the question's).
    vocabulary = None
    if unknown_share and params.get("w_unknown"):
        vocabulary = vocabulary_size(scope.creator_id, version)
    floor = question_floor(params, unknown_share=unknown_share, vocabulary=vocabulary)
    moments = distinct_moments(ranked, top_k=top_k, floor=params["floor"])
    passages = pinpoint_moments(moments, weights, scope, passage_share=params.get("passage_share"))
    # Coverage is decided on evidence: a follow-up's proximity prior orders, it does not answer.
    best = max((m.evidence for m in moments), default=0.0)
    covered = bool(passages) and best >= floor
    return RetrievalResult(
        passages=passages,
        covered=covered,
        borderline=bool(passages) and not covered and best >= params["floor"],
        best_relevance=best,
        floor=floor,
        used_vectors=used_vectors,
    )
