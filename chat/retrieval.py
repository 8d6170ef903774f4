"""Retrieval: find the chunks that answer a question, then pinpoint the moment inside them.

Pipeline for one question inside a Scope (one creator; optionally a course or video list;
completed videos only):

1. Lexemes. PostgreSQL normalises the question with the same configuration as the chunks'
   search vectors (`to_tsvector('english', q)`: stemming, stop words dropped by PostgreSQL
   itself, not a Python list). Each lexeme's document frequency comes from LexemeStat
   (ts_stat over the creator's chunks, refreshed when the library changes).
2. Full-text candidates. An OR of the lexemes (AND-ing them, as plainto/websearch_to_tsquery
   do, matches almost nothing for natural questions), GIN-filtered and ranked by ts_rank, top
   CANDIDATES rows; for those rows the term frequencies of the query lexemes come back in
   the same query. Python re-ranks them with Okapi BM25 (IDF from the creator's own
   library), so a rare word of the question counts for more than a common one.
3. Vector (when the active embedder's model has embedded the scope's SegmentWindows, or
   failing that the chunks): cosine distance via pgvector's HNSW index; a chunk takes the
   score of its best window.
4. Fusion by reciprocal rank fusion, score = sum 1 / (RRF_K + rank).
5. Pinpoint. Inside each of the top-k chunks every run of 1..3 consecutive segments is
   scored by the IDF-weighted share of the question's lexemes it contains (plus the cosine
   similarity of its window when embeddings exist); the best run is the citation: start =
   start of its first segment, end = end of its last, quote = its text. Overlapping
   citations in one video merge into one span.
6. "Not covered": the best chunk's IDF-weighted coverage of the question is compared with
   a floor calibrated per creator (calibration_compute).
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import connection, transaction

from chat.models import LexemeStat, RetrievalCalibration
from creators.models import Creator
from videos.models import SEARCH_CONFIG, Video

logger = logging.getLogger(__name__)

# Top-k passages by default (issue 3).
TOP_K = 5
# Full-text rows ranked by ts_rank before the BM25 re-rank. Large enough that the BM25
# order of a small library is exact; bounds the cost in a large one.
CANDIDATES = 100
# Windows fetched from the HNSW index per question (and hnsw.ef_search for that query).
VECTOR_CANDIDATES = 200
# Reciprocal rank fusion constant: Cormack, Clarke & Buettcher, "Reciprocal Rank Fusion
# outperforms Condorcet and individual Rank Learning Methods", SIGIR 2009 (k = 60).
RRF_K = 60
# Okapi BM25 parameters: the customary defaults (Robertson & Zaragoza, "The Probabilistic
# Relevance Framework: BM25 and Beyond", 2009; Lucene/Elasticsearch use the same).
BM25_K1 = 1.2
BM25_B = 0.75
# A citation spans at most this many consecutive segments (a SegmentWindow's size).
MAX_SPAN_SEGMENTS = 3
# Calibration sample sizes (library sentences used as pseudo-questions).
CALIBRATION_POSITIVES = 60
OFFTOPIC_QUESTIONS_FILE = Path(__file__).parent / "data" / "offtopic_questions.txt"


@dataclass(frozen=True)
class Scope:
    """What a question searches: one creator's completed videos, maybe narrowed.

    video_ids: the completed video ids searched (sorted); course_id / requested_video_ids
    record how the scope was asked for (for the session and the cache key).
    """

    creator_id: int
    video_ids: tuple[int, ...]
    course_id: int | None = None
    requested_video_ids: tuple[int, ...] | None = None

    @property
    def key(self) -> str:
        """A stable string naming the searched videos (part of the answer-cache key)."""
        return ",".join(str(v) for v in self.video_ids)


@dataclass
class Passage:
    """One pinpointed citation candidate. Times in seconds; scores in [0, 1].

    quote: the supporting segment text(s); context: the quote with up to two neighbouring
    segments each side (what an LLM reads); coverage: IDF-weighted share of the question's
    lexemes found in the span; relevance: the chunk's coverage (what the floor is tested on).
    """

    video_id: int
    video_title: str
    chunk_id: int
    first_segment_index: int
    last_segment_index: int
    start: float
    end: float
    quote: str
    context: str
    score: float
    coverage: float
    relevance: float
    fused: float = 0.0

    def as_citation(self) -> dict:
        return {
            "video_id": self.video_id,
            "video_title": self.video_title,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "quote": self.quote,
            "score": round(self.score, 4),
        }


@dataclass
class RetrievalResult:
    """passages: best first (merged, pinpointed); covered: best relevance >= floor."""

    passages: list[Passage] = field(default_factory=list)
    covered: bool = False
    best_relevance: float = 0.0
    floor: float = 0.0
    empty_library: bool = False
    used_vectors: bool = False


# --- scope and library version -------------------------------------------------------------


def scope_resolve(
    *, creator: Creator, course_id: int | None = None, video_ids: list[int] | None = None
) -> Scope:
    """The Scope for a question. Only `creator`'s completed videos are ever searched.

    course_id: a course of this creator (its lessons' videos); video_ids: videos of this
    creator. Both given -> their intersection. Raises ValidationError (clear message) for a
    course or video that is not this creator's, or ids that are not integers.
    """
    videos = Video.objects.filter(creator=creator)
    completed = set(videos.completed().values_list("id", flat=True))
    selected = completed
    requested: tuple[int, ...] | None = None
    cid = None
    if course_id not in (None, ""):
        from courses.models import Course, Lesson

        try:
            cid = int(course_id)
        except (TypeError, ValueError):
            raise ValidationError({"course_id": ["course_id must be an integer."]}) from None
        if not Course.objects.filter(creator=creator, pk=cid).exists():
            raise ValidationError({"course_id": ["No such course for this creator."]})
        lesson_videos = set(
            Lesson.objects.filter(
                creator=creator, module__course_id=cid, video__isnull=False
            ).values_list("video_id", flat=True)
        )
        selected = selected & lesson_videos
    if video_ids:
        if not isinstance(video_ids, (list, tuple)):
            raise ValidationError({"video_ids": ["video_ids must be a list of integers."]})
        try:
            wanted = {int(v) for v in video_ids}
        except (TypeError, ValueError):
            raise ValidationError({"video_ids": ["video_ids must be integers."]}) from None
        known = set(videos.filter(pk__in=wanted).values_list("id", flat=True))
        if known != wanted:
            raise ValidationError({"video_ids": ["No such video for this creator."]})
        requested = tuple(sorted(wanted))
        selected = selected & wanted
    return Scope(
        creator_id=creator.pk,
        video_ids=tuple(sorted(selected)),
        course_id=cid,
        requested_video_ids=requested,
    )


def library_version(*, creator: Creator) -> str:
    """A digest of the creator's completed videos (ids and updated_at): it changes whenever
    a video completes, is re-processed, edited or deleted. 32 hex chars."""
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT md5(coalesce(string_agg(id::text || ':' || extract(epoch FROM updated_at)::text,
                                           ',' ORDER BY id), ''))
            FROM videos_video WHERE creator_id = %s AND status = %s
            """,
            [creator.pk, Video.Status.COMPLETED],
        )
        return cur.fetchone()[0]


# --- lexemes and IDF ---------------------------------------------------------------------


def question_lexemes(question: str) -> list[str]:
    """The question's lexemes as PostgreSQL normalises them (stop words removed)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT tsvector_to_array(to_tsvector(%s::regconfig, %s))",
            [SEARCH_CONFIG, question or ""],
        )
        row = cur.fetchone()
    return [lx for lx in (row[0] or []) if "\\" not in lx]


def _lexeme_ndoc(creator_id: int, lexemes: list[str]) -> dict[str, int]:
    if not lexemes:
        return {}
    rows = LexemeStat.objects.filter(creator_id=creator_id, lexeme__in=lexemes).values_list(
        "lexeme", "ndoc"
    )
    return dict(rows)


def idf(ndoc: int, total: int) -> float:
    """BM25's IDF, ln(1 + (N - n + 0.5) / (n + 0.5)); positive even for very common terms.
    A lexeme absent from the library (n = 0) gets the highest value."""
    return math.log(1.0 + (total - ndoc + 0.5) / (ndoc + 0.5))


# --- calibration ---------------------------------------------------------------------------


def calibration_get(*, creator: Creator) -> RetrievalCalibration:
    """The creator's calibration, recomputed when the library version changed.

    A large library (over 20k chunks) keeps serving the previous calibration while a task
    recomputes it; otherwise it is recomputed inline (a small library takes milliseconds).
    """
    version = library_version(creator=creator)
    calib = RetrievalCalibration.objects.filter(creator=creator).first()
    if calib is not None and calib.library_version == version:
        return calib
    if calib is not None and calib.doc_count > 20_000:
        from django_q.tasks import async_task

        transaction.on_commit(
            lambda: async_task("chat.tasks.calibration_refresh", creator.pk, timeout=600)
        )
        return calib
    return calibration_compute(creator=creator)


def calibration_compute(*, creator: Creator) -> RetrievalCalibration:
    """Recompute LexemeStat and the relevance floor for `creator` (whole library).

    The floor separates "the library covers this" from "it does not", from the creator's
    own material:
    - positives: up to CALIBRATION_POSITIVES transcript sentences (segments with >= 4
      lexemes, a deterministic sample) turned into pseudo-questions made of a random half of
      their lexemes plus one word the library never uses (how a student's paraphrase
      differs from the lecture);
    - negatives: the off-topic questions in chat/data/offtopic_questions.txt (cooking,
      sport, law, software...), scored against this library.
    Each pseudo-question's score is the best chunk coverage (see `retrieve`). The floor is
    the threshold with the best balanced accuracy (TPR + TNR) between the two samples,
    placed midway between the neighbouring scores it separates. Too few sentences (< 5) to
    sample: the floor is the midpoint of the negatives' maximum and 1.
    """
    version = library_version(creator=creator)
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7_300_001, creator.pk])
            cur.execute(
                "SELECT count(*), coalesce(avg(c.word_count), 0) FROM videos_videochunk c "
                "JOIN videos_video v ON v.id = c.video_id "
                "WHERE c.creator_id = %s AND v.status = %s",
                [creator.pk, Video.Status.COMPLETED],
            )
            doc_count, avg_words = cur.fetchone()
            LexemeStat.objects.filter(creator=creator).delete()
            # ts_stat takes a query string; creator id and status are trusted literals.
            inner = (
                "SELECT c.search_vector FROM videos_videochunk c JOIN videos_video v "
                f"ON v.id = c.video_id WHERE c.creator_id = {int(creator.pk)} "
                f"AND v.status = '{Video.Status.COMPLETED}'"
            )
            cur.execute(
                "INSERT INTO chat_lexemestat (creator_id, lexeme, ndoc) "
                "SELECT %s, word, ndoc FROM ts_stat(%s)",
                [creator.pk, inner],
            )
        calib, _ = RetrievalCalibration.objects.update_or_create(
            creator=creator,
            defaults={
                "library_version": version,
                "doc_count": int(doc_count),
                "floor": 0.0,
                "details": {"avg_words": float(avg_words or 0)},
            },
        )
        scope = Scope(
            creator_id=creator.pk,
            video_ids=tuple(
                sorted(
                    Video.objects.filter(creator=creator).completed().values_list("id", flat=True)
                )
            ),
        )
        positives, negatives = _calibration_samples(creator, scope, calib)
        floor, how = _balanced_threshold(positives, negatives)
        calib.floor = floor
        calib.details = {
            "avg_words": float(avg_words or 0),
            "method": how,
            "positives": _summary(positives),
            "negatives": _summary(negatives),
        }
        calib.save(update_fields=["floor", "details", "computed_at"])
    return calib


def _summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    v = sorted(values)

    def pct(p: float) -> float:
        return round(v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))], 4)

    return {
        "n": len(v),
        "min": pct(0),
        "p10": pct(0.1),
        "p50": pct(0.5),
        "p90": pct(0.9),
        "max": pct(1),
    }


def _calibration_samples(
    creator: Creator, scope: Scope, calib: RetrievalCalibration
) -> tuple[list[float], list[float]]:
    rng = random.Random(creator.pk)
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT tsvector_to_array(to_tsvector(%s::regconfig, s.text))
            FROM videos_transcriptsegment s JOIN videos_video v ON v.id = s.video_id
            WHERE s.creator_id = %s AND v.status = %s
            ORDER BY md5(s.id::text || %s) LIMIT %s
            """,
            [SEARCH_CONFIG, creator.pk, Video.Status.COMPLETED, str(creator.pk), 400],
        )
        sentences = [row[0] for row in cur.fetchall() if row[0] and len(row[0]) >= 4]
    sentences = sentences[:CALIBRATION_POSITIVES]
    positives = []
    for i, lexemes in enumerate(sentences):
        keep = rng.sample(lexemes, max(2, len(lexemes) // 2))
        # A token PostgreSQL will not find in the library: the paraphrase's own word.
        query = [*keep, f"zzunseen{i}"]
        positives.append(_best_coverage(creator, scope, calib, query))
    negatives = []
    for question in _offtopic_questions():
        negatives.append(_best_coverage(creator, scope, calib, question_lexemes(question)))
    return positives, negatives


def _offtopic_questions() -> list[str]:
    lines = OFFTOPIC_QUESTIONS_FILE.read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def _balanced_threshold(positives: list[float], negatives: list[float]) -> tuple[float, str]:
    if len(positives) < 5 or not negatives:
        top_neg = max(negatives, default=0.0)
        return (top_neg + 1.0) / 2, "too few library sentences: midpoint of max(negatives) and 1"
    values = sorted(set(positives) | set(negatives))
    best = None
    for lo, hi in zip([-1.0, *values], [*values, 2.0], strict=False):
        t = (max(lo, 0.0) + min(hi, 1.0)) / 2 if lo >= 0 else hi / 2
        tpr = sum(p >= t for p in positives) / len(positives)
        tnr = sum(n < t for n in negatives) / len(negatives)
        score = tpr + tnr
        if best is None or score > best[0] + 1e-12:
            best = (score, t, tpr, tnr)
    _, t, tpr, tnr = best
    return round(t, 4), f"balanced accuracy threshold (TPR {tpr:.2f}, TNR {tnr:.2f})"


def _best_coverage(
    creator: Creator, scope: Scope, calib: RetrievalCalibration, lexemes: list[str]
) -> float:
    ranked = _lexical_rank(scope, calib, lexemes)
    return max((c.coverage for c in ranked), default=0.0)


# --- lexical search ------------------------------------------------------------------------


@dataclass
class _ChunkHit:
    chunk_id: int
    video_id: int
    bm25: float = 0.0
    coverage: float = 0.0
    ts_rank: float = 0.0
    vector: float | None = None
    best_window: tuple[int, int] | None = None
    fused: float = 0.0


# The GIN filter ORs at most this many of the question's rarest lexemes: ts_rank must read
# (detoast) every matched chunk's tsvector, so common words would make the candidate set,
# and the latency, grow with the library. BM25 still scores every question lexeme.
MAX_FILTER_LEXEMES = 4


def _selective(present: list[str], ndoc: dict[str, int], total: int) -> list[str]:
    """The lexemes that select candidates: those in at most half the chunks (all when none
    is), rarest first, at most MAX_FILTER_LEXEMES."""
    pool = [lx for lx in present if ndoc[lx] <= total / 2] or present
    return sorted(pool, key=lambda lx: (ndoc[lx], lx))[:MAX_FILTER_LEXEMES]


def _tsquery_text(lexemes: list[str]) -> str:
    """An OR tsquery in PostgreSQL's input syntax; each lexeme quoted (quotes doubled)."""
    return " | ".join("'" + lx.replace("'", "''") + "'" for lx in lexemes)


def _lexical_rank(scope: Scope, calib: RetrievalCalibration, lexemes: list[str]) -> list[_ChunkHit]:
    """Chunks matching any lexeme, ordered by BM25 (best first), with IDF coverage."""
    lexemes = list(dict.fromkeys(lexemes))
    if not lexemes or not scope.video_ids:
        return []
    total = max(calib.doc_count, 1)
    ndoc = _lexeme_ndoc(scope.creator_id, lexemes)
    weights = {lx: idf(ndoc.get(lx, 0), total) for lx in lexemes}
    weight_sum = sum(weights.values()) or 1.0
    present = [lx for lx in lexemes if ndoc.get(lx, 0) > 0]
    if not present:
        return []
    # Very common lexemes (in over half the chunks) add little but cost a lot to match;
    # they still count in BM25 for the rows the others find.
    selective = _selective(present, ndoc, total)
    avg_words = float((calib.details or {}).get("avg_words") or 0) or 750.0
    with connection.cursor() as cur:
        cur.execute(
            """
            WITH cand AS (
                SELECT c.id, c.video_id, c.word_count, c.search_vector AS sv,
                       ts_rank(c.search_vector, q) AS r
                FROM videos_videochunk c, CAST(%s AS tsquery) AS q
                WHERE c.creator_id = %s AND c.video_id = ANY(%s) AND c.search_vector @@ q
                ORDER BY r DESC
                LIMIT %s
            )
            SELECT cand.id, cand.video_id, cand.word_count, cand.r, u.lexeme,
                   coalesce(array_length(u.positions, 1), 1)
            FROM cand
            LEFT JOIN LATERAL unnest(ts_filter(setweight(cand.sv, 'A', %s), '{a}')) AS u
                ON true
            """,
            [
                _tsquery_text(selective),
                scope.creator_id,
                list(scope.video_ids),
                CANDIDATES,
                lexemes,
            ],
        )
        rows = cur.fetchall()
    hits: dict[int, _ChunkHit] = {}
    lengths: dict[int, int] = {}
    tfs: dict[int, dict[str, int]] = defaultdict(dict)
    for chunk_id, video_id, word_count, rank, lexeme, tf in rows:
        if chunk_id not in hits:
            hits[chunk_id] = _ChunkHit(chunk_id=chunk_id, video_id=video_id, ts_rank=rank)
            lengths[chunk_id] = word_count or 1
        if lexeme:
            tfs[chunk_id][lexeme] = tf
    for chunk_id, hit in hits.items():
        norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths[chunk_id] / avg_words)
        score = 0.0
        covered = 0.0
        for lx, tf in tfs[chunk_id].items():
            w = weights.get(lx, 0.0)
            score += w * tf * (BM25_K1 + 1) / (tf + norm)
            covered += w
        hit.bm25 = score
        hit.coverage = covered / weight_sum
    return sorted(hits.values(), key=lambda h: (-h.bm25, h.chunk_id))


# --- vector search -------------------------------------------------------------------------


def _vector_rank(scope: Scope, embedder, question: str, creator: Creator) -> list[_ChunkHit]:
    """Chunks by their best window's cosine similarity (windows of the embedder's model;
    chunk embeddings when no window has one). [] when nothing in scope has that model."""
    model = embedder.model_name
    with connection.cursor() as cur:
        cur.execute(
            "SELECT EXISTS (SELECT 1 FROM videos_segmentwindow WHERE creator_id = %s "
            "AND embedding_model = %s AND video_id = ANY(%s) AND embedding IS NOT NULL)",
            [scope.creator_id, model, list(scope.video_ids)],
        )
        has_windows = cur.fetchone()[0]
        if not has_windows:
            cur.execute(
                "SELECT EXISTS (SELECT 1 FROM videos_videochunk WHERE creator_id = %s "
                "AND embedding_model = %s AND video_id = ANY(%s) AND embedding IS NOT NULL)",
                [scope.creator_id, model, list(scope.video_ids)],
            )
            if not cur.fetchone()[0]:
                return []
    vector = embedder.embed([question], creator=creator, subject="chat:question")[0]
    return vector_search(scope, model, vector, windows=has_windows)


def vector_search(scope: Scope, model: str, vector, *, windows: bool = True) -> list[_ChunkHit]:
    """Chunks ranked by cosine similarity of `vector` to their best window (or the chunk
    embedding when windows=False), inside `scope`, vectors of `model` only."""
    literal = "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"SET LOCAL hnsw.ef_search = {int(VECTOR_CANDIDATES)}")
        if windows:
            cur.execute(
                """
                SELECT w.chunk_id, w.video_id, w.first_segment_index, w.last_segment_index,
                       1 - (w.embedding <=> %s::vector) AS sim
                FROM videos_segmentwindow w
                WHERE w.creator_id = %s AND w.embedding_model = %s AND w.video_id = ANY(%s)
                ORDER BY w.embedding <=> %s::vector
                LIMIT %s
                """,
                [literal, scope.creator_id, model, list(scope.video_ids), literal,
                 VECTOR_CANDIDATES],
            )  # fmt: skip
        else:
            cur.execute(
                """
                SELECT c.id, c.video_id, c.first_segment_index, c.last_segment_index,
                       1 - (c.embedding <=> %s::vector) AS sim
                FROM videos_videochunk c
                WHERE c.creator_id = %s AND c.embedding_model = %s AND c.video_id = ANY(%s)
                ORDER BY c.embedding <=> %s::vector
                LIMIT %s
                """,
                [literal, scope.creator_id, model, list(scope.video_ids), literal,
                 VECTOR_CANDIDATES],
            )  # fmt: skip
        rows = cur.fetchall()
    hits: dict[int, _ChunkHit] = {}
    for chunk_id, video_id, first, last, sim in rows:
        if chunk_id not in hits:  # rows come best first: the first is the best window
            hits[chunk_id] = _ChunkHit(
                chunk_id=chunk_id, video_id=video_id, vector=float(sim), best_window=(first, last)
            )
    return list(hits.values())


def rrf_fuse(*rankings: list[_ChunkHit]) -> list[_ChunkHit]:
    """Reciprocal rank fusion of rankings (each best first): score = sum 1/(RRF_K + rank),
    rank from 1. Attributes of the same chunk from different rankings are merged."""
    merged: dict[int, _ChunkHit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            into = merged.setdefault(hit.chunk_id, _ChunkHit(hit.chunk_id, hit.video_id))
            into.fused += 1.0 / (RRF_K + rank)
            into.bm25 = max(into.bm25, hit.bm25)
            into.coverage = max(into.coverage, hit.coverage)
            if hit.vector is not None:
                into.vector = hit.vector
                into.best_window = hit.best_window
    return sorted(merged.values(), key=lambda h: (-h.fused, -h.coverage, h.chunk_id))


# --- the whole retrieval -------------------------------------------------------------------


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
    lexical = _lexical_rank(scope, calib, lexemes)
    vector: list[_ChunkHit] = []
    if embedder is not None:
        try:
            vector = _vector_rank(scope, embedder, question, creator)
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
    passages = pinpoint(top, lexemes, calib, scope)
    return RetrievalResult(
        passages=passages,
        covered=covered and bool(passages),
        best_relevance=best,
        floor=floor,
        used_vectors=bool(vector),
    )


def pinpoint(
    hits: list[_ChunkHit], lexemes: list[str], calib: RetrievalCalibration, scope: Scope
) -> list[Passage]:
    """For each chunk hit, the best run of 1..MAX_SPAN_SEGMENTS segments (see module doc);
    overlapping results in the same video merge. Returns passages ordered by chunk rank."""
    if not hits:
        return []
    total = max(calib.doc_count, 1)
    lexemes = list(dict.fromkeys(lexemes))
    ndoc = _lexeme_ndoc(scope.creator_id, lexemes)
    weights = {lx: idf(ndoc.get(lx, 0), total) for lx in lexemes}
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


def question_fingerprint(question: str) -> str:
    """Normalised question text for the answer cache: lower case, single spaces, no
    trailing punctuation."""
    text = re.sub(r"\s+", " ", (question or "").strip().lower())
    return text.rstrip(" ?!.")


def cache_key(*, scope: Scope, version: str, question: str, answerer: str) -> str:
    """sha256 hex of (scope, library version, normalised question, answerer)."""
    raw = "\x1f".join(
        [str(scope.creator_id), version, scope.key, question_fingerprint(question), answerer]
    )
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()
