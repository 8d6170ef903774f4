"""The per-creator "not covered" floor, calibrated from the creator's own library.

Computed off the request path: videos.signals.library_changed (a video completed or was
deleted) queues chat.tasks.calibration_refresh on commit (see chat.apps). A question reads
the stored calibration; when the library changed since, a small library (<=
INLINE_MAX_CHUNKS chunks) recomputes inline (tens of ms), a large one keeps the previous
floor and queues a refresh; a large library with no calibration yet gets a quick bounded
estimate (QUICK_POSITIVES samples) inline and a full refresh queued.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

from django.core.cache import cache
from django.db import connection, transaction

from chat.models import RetrievalCalibration
from chat.retrieval.base import Scope, library_version, question_lexemes
from chat.retrieval.lexical import lexical_rank
from creators.models import Creator
from videos.models import SEARCH_CONFIG, Video

logger = logging.getLogger(__name__)

# Library sentences used as pseudo-questions (positives) by a full calibration, and by the
# quick estimate made inline when a large library has none yet.
CALIBRATION_POSITIVES = 60
QUICK_POSITIVES = 15
# Videos sampled for those sentences (bounds the sampling query in a large library).
CALIBRATION_VIDEOS = 40
# Libraries up to this many chunks recalibrate inline when stale: ~100 searches on the
# exact plan take well under 0.2 s there (bench/retrieval.py prints calibration times).
INLINE_MAX_CHUNKS = 2000
OFFTOPIC_QUESTIONS_FILE = Path(__file__).resolve().parent.parent / "data" / "offtopic_questions.txt"
# Advisory lock namespace: one calibration per creator at a time.
_LOCK_NAMESPACE = 7_300_001
# A calibration current for the library version a question read is remembered in the
# process's default cache (keyed by that version, so a library change reads the row again)
# for this many seconds: the row is read on every question otherwise.
CURRENT_CACHE_SECONDS = 300


def calibration_schedule(*, creator_id: int) -> None:
    """Queue chat.tasks.calibration_refresh for the creator once the current transaction
    commits (immediately outside one). Never raises: a queue outage leaves the lazy
    refresh in calibration_ensure."""
    from django_q.tasks import async_task

    def _queue():
        try:
            async_task("chat.tasks.calibration_refresh", creator_id, timeout=600)
        except Exception:  # pragma: no cover - the broker is the same database
            logger.exception("could not queue calibration for creator %s", creator_id)

    transaction.on_commit(_queue)


def calibration_ensure(*, creator: Creator, version: str | None = None) -> RetrievalCalibration:
    """The creator's calibration, made current when that is cheap, never slow (see module
    doc): a stored current one is returned as is; a small library recomputes (and stores)
    inline; a large one returns the stale row (or a stored quick estimate) and queues a
    refresh. version: library_version(creator) when the caller read it in this request.
    A current one is remembered per process under that version (CURRENT_CACHE_SECONDS).
    Writes: RetrievalCalibration (upsert, details["queued_for"])."""
    version = version if version is not None else library_version(creator=creator)
    key = f"chat:calibration:{creator.pk}:{version}"
    calib = cache.get(key)
    if calib is not None:
        return calib
    calib = RetrievalCalibration.objects.filter(creator=creator).first()
    if calib is not None and calib.library_version == version:
        cache.set(key, calib, CURRENT_CACHE_SECONDS)
        return calib
    chunks = _chunk_count(creator)
    if chunks <= INLINE_MAX_CHUNKS:
        return calibration_compute(creator=creator)
    if calib is None or (calib.details or {}).get("queued_for") != version:
        if calib is None:
            calib = calibration_compute(creator=creator, positives=QUICK_POSITIVES, version="")
        details = {**(calib.details or {}), "queued_for": version}
        RetrievalCalibration.objects.filter(pk=calib.pk).update(details=details)
        calib.details = details
        calibration_schedule(creator_id=creator.pk)
    return calib


def calibration_refresh(*, creator_id: int) -> float | None:
    """Recompute a creator's calibration unless it is already current for the library
    (the queued task's body). Returns the floor, or None if the creator is gone."""
    creator = Creator.objects.filter(pk=creator_id).first()
    if creator is None:
        return None
    current = RetrievalCalibration.objects.filter(creator=creator).first()
    if current is not None and current.library_version == library_version(creator=creator):
        return current.floor
    return calibration_compute(creator=creator).floor


def _chunk_count(creator: Creator) -> int:
    """The creator's chunks (all videos), from the trigger-kept LexemeFrequency '' row."""
    from videos.models import LexemeFrequency

    row = LexemeFrequency.objects.filter(creator=creator, lexeme=LexemeFrequency.TOTAL).first()
    return max(row.ndoc, 0) if row else 0


def calibration_compute(
    *, creator: Creator, positives: int = CALIBRATION_POSITIVES, version: str | None = None
) -> RetrievalCalibration:
    """Recompute the relevance floor for `creator` (whole library) and store it.

    The floor separates "the library covers this" from "it does not", from the creator's
    own material:
    - positives: up to `positives` transcript sentences (segments with >= 4 lexemes, a
      deterministic sample from up to CALIBRATION_VIDEOS videos) turned into
      pseudo-questions made of a random half of their lexemes plus one word the library
      never uses (how a student's paraphrase differs from the lecture);
    - negatives: the off-topic questions in chat/data/offtopic_questions.txt (cooking,
      sport, law, software...), scored against this library.
    Each pseudo-question's score is the best chunk coverage among its full-text results
    (as in `retrieve`). The floor is the threshold with the best balanced accuracy (TPR +
    TNR) between the two samples, placed midway between the neighbouring scores it
    separates. Too few sentences (< 5): the midpoint of the negatives' maximum and 1.
    version: the library version recorded (default: the current one; "" marks an
    estimate to be replaced).
    """
    version = library_version(creator=creator) if version is None else version
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, creator.pk])
            cur.execute(
                "SELECT count(*), coalesce(avg(c.word_count), 0) FROM videos_videochunk c "
                "JOIN videos_video v ON v.id = c.video_id "
                "WHERE c.creator_id = %s AND v.status = %s",
                [creator.pk, Video.Status.COMPLETED],
            )
            doc_count, avg_words = cur.fetchone()
        video_ids = tuple(
            sorted(Video.objects.filter(creator=creator).completed().values_list("id", flat=True))
        )
        scope = Scope(creator_id=creator.pk, video_ids=video_ids, library_videos=len(video_ids))
        pos, neg = _calibration_samples(creator, scope, int(doc_count), positives)
        floor, how = _balanced_threshold(pos, neg)
        calib, _ = RetrievalCalibration.objects.update_or_create(
            creator=creator,
            defaults={
                "library_version": version,
                "doc_count": int(doc_count),
                "floor": floor,
                "details": {
                    "avg_words": float(avg_words or 0),
                    "method": how,
                    "positives": _summary(pos),
                    "negatives": _summary(neg),
                },
            },
        )
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
    creator: Creator, scope: Scope, doc_count: int, positives: int
) -> tuple[list[float], list[float]]:
    rng = random.Random(creator.pk)
    salt = str(creator.pk)
    with connection.cursor() as cur:
        cur.execute(
            """
            WITH sample_videos AS (
                SELECT id FROM videos_video WHERE creator_id = %s AND status = %s
                ORDER BY md5(id::text || %s) LIMIT %s
            )
            SELECT tsvector_to_array(to_tsvector(%s::regconfig, s.text))
            FROM videos_transcriptsegment s
            WHERE s.creator_id = %s AND s.video_id IN (SELECT id FROM sample_videos)
            ORDER BY md5(s.id::text || %s) LIMIT %s
            """,
            [creator.pk, Video.Status.COMPLETED, salt, CALIBRATION_VIDEOS, SEARCH_CONFIG,
             creator.pk, salt, 400],
        )  # fmt: skip
        sentences = [row[0] for row in cur.fetchall() if row[0] and len(row[0]) >= 4]
    pos = []
    for i, lexemes in enumerate(sentences[:positives]):
        keep = rng.sample(lexemes, max(2, len(lexemes) // 2))
        # A token PostgreSQL will not find in the library: the paraphrase's own word.
        pos.append(_best_coverage(scope, [*keep, f"zzunseen{i}"], doc_count))
    neg = [_best_coverage(scope, question_lexemes(q), doc_count) for q in _offtopic_questions()]
    return pos, neg


def _best_coverage(scope: Scope, lexemes: list[str], doc_count: int) -> float:
    ranked = lexical_rank(scope, lexemes, doc_count=doc_count)
    return max((c.coverage for c in ranked), default=0.0)


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
