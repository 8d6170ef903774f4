"""Full-text search over impact-ordered postings (videos.ChunkPosting).

A chunk's score for a question is Okapi BM25: sum over the question's lexemes of
IDF(lexeme) x weight(chunk, lexeme). The weight (BM25's term-frequency part, length
normalised against a constant avgdl) is stored per posting by the chunk triggers; IDF comes
from the document frequencies in videos.LexemeFrequency (also trigger-maintained), so a
search reads only the question's lexemes, never a chunk's tsvector.

Two plans, chosen by the scope's estimated size:
- wide (the whole library, or a large part): per lexeme, the POSTINGS_PER_LEXEME
  best-weighted postings in scope, read in weight order from the posting_impact index
  (index-only, then stop: cost independent of the library's size); their chunks are
  summed with IDF weights and the best CANDIDATES are re-scored exactly from all their
  postings (so BM25 and coverage are exact for every chunk returned; only the candidate
  set is approximate, the usual early-termination trade-off).
- exact (at most EXACT_SCOPE_CHUNKS chunks in scope): every posting of the question's
  lexemes in the scope's videos, through the (video, lexeme, chunk) primary key.
"""

from __future__ import annotations

import functools
import math

from django.db import connection

from chat.retrieval.base import ChunkHit, Scope
from chronos.db import prepared_cursor
from videos.models import SEARCH_CONFIG, LexemeFrequency

# Chunks returned by a full-text search (best BM25 first); also what fusion and the
# "not covered" test see. Large enough that a small library's order is exact.
CANDIDATES = 100
# Postings read per question lexeme on the wide plan (its best-weighted ones): a lexeme in a
# third of a 50k-chunk library has ~17k. bench/retrieval.py prints how often the wide plan's
# top 5 equal the exact plan's; 100..1600 gave the same agreement there (its corpus repeats
# two lectures, so the top postings of a lexeme are copies of a few passages) and 400
# costs ~0.5 ms per lexeme (index-only).
POSTINGS_PER_LEXEME = 400
# Scopes estimated at or below this many chunks use the exact plan: it reads every posting
# of the question's lexemes there (<= 2000 x ~8 lexemes index entries, a few ms).
EXACT_SCOPE_CHUNKS = 2000

# The question's lexemes with document frequency and BM25 IDF, ln(1 + (N - n + .5)/(n + .5))
# (Robertson & Zaragoza 2009), N = the creator's chunk count (LexemeFrequency row '').
_Q = """
q AS (
    SELECT l.lexeme, coalesce(f.ndoc, 0) AS ndoc,
           ln(1 + (greatest(t.n, coalesce(f.ndoc, 0)) - coalesce(f.ndoc, 0) + 0.5)
                  / (coalesce(f.ndoc, 0) + 0.5)) AS idf
    FROM unnest(%(lexemes)s::text[]) AS l(lexeme)
    CROSS JOIN (SELECT coalesce(max(ndoc), 0) AS n FROM videos_lexemefrequency
                WHERE creator_id = %(creator)s AND lexeme = '') AS t
    LEFT JOIN videos_lexemefrequency f ON f.creator_id = %(creator)s AND f.lexeme = l.lexeme
)"""

WIDE_SQL = """
WITH {q},
cand AS (
    SELECT t.chunk_id, t.video_id
    FROM q CROSS JOIN LATERAL (
        SELECT p.chunk_id, p.video_id, p.weight FROM videos_chunkposting p
        WHERE p.creator_id = %(creator)s AND p.lexeme = q.lexeme AND {video_filter}
        ORDER BY p.weight DESC
        LIMIT %(per_lexeme)s
    ) AS t
    WHERE q.ndoc > 0
    GROUP BY t.chunk_id, t.video_id
    ORDER BY sum(q.idf * t.weight) DESC, t.chunk_id
    LIMIT %(candidates)s
)
SELECT c.chunk_id, c.video_id, sum(q.idf * p.weight) AS bm25, sum(q.idf) AS found,
       (SELECT sum(idf) FROM q) AS total
FROM cand c
JOIN videos_chunkposting p
  ON p.video_id = c.video_id AND p.chunk_id = c.chunk_id AND p.lexeme = ANY(%(lexemes)s)
JOIN q ON q.lexeme = p.lexeme
GROUP BY c.chunk_id, c.video_id
"""

EXACT_SQL = f"""
WITH {_Q}
SELECT p.chunk_id, p.video_id, sum(q.idf * p.weight) AS bm25, sum(q.idf) AS found,
       (SELECT sum(idf) FROM q) AS total
FROM q
JOIN videos_chunkposting p ON p.video_id = ANY(%(videos)s) AND p.lexeme = q.lexeme
WHERE q.ndoc > 0 AND p.creator_id = %(creator)s
GROUP BY p.chunk_id, p.video_id
ORDER BY bm25 DESC, p.chunk_id
LIMIT %(candidates)s
"""


def idf(ndoc: int, total: int) -> float:
    """BM25's IDF, ln(1 + (N - n + 0.5) / (n + 0.5)); positive even for very common terms.
    A lexeme absent from the library (n = 0) gets the highest value."""
    return math.log(1.0 + (max(total, ndoc) - ndoc + 0.5) / (ndoc + 0.5))


def lexeme_weights(creator_id: int, lexemes: list[str]) -> dict[str, float]:
    """{lexeme: IDF} for the creator's library (the same values the SQL computes)."""
    ndoc, total = lexeme_frequencies(creator_id, lexemes)
    return {lx: idf(n, total) for lx, n in ndoc.items()}


def lexeme_frequencies(creator_id: int, lexemes: list[str]) -> tuple[dict[str, int], int]:
    """({lexeme: chunks of the creator's library containing it (0 if none)}, the library's
    chunk count), from videos.LexemeFrequency in one query."""
    lexemes = list(dict.fromkeys(lexemes))
    if not lexemes:
        return {}, 0
    with connection.cursor() as cur:  # raw: once per question (the ORM compile cost ~1 ms)
        cur.execute(
            f"SELECT lexeme, ndoc FROM {LexemeFrequency._meta.db_table} "
            "WHERE creator_id = %s AND lexeme = ANY(%s)",
            [creator_id, [LexemeFrequency.TOTAL, *lexemes]],
        )
        rows = dict(cur.fetchall())
    return {lx: max(rows.get(lx, 0), 0) for lx in lexemes}, rows.get(LexemeFrequency.TOTAL, 0)


# Words of the conversation, not of the subject ("hi, why does...", "thanks, and what..."):
# dropped from a question's search when the library never says them (PostgreSQL's English
# lexemes: "thanks" -> "thank", "please" -> "pleas").
CONVERSATION_LEXEMES = frozenset({"hi", "hello", "hey", "hiya", "thank", "thx", "pleas", "ok",
                                  "okay", "tutor"})  # fmt: skip


def unsaid_lexemes(scope: Scope, ndoc: dict[str, int]) -> set[str]:
    """The question's lexemes (`ndoc`: their lexeme_frequencies) that are not about the
    subject and in no chunk of the library: names of the library (naming_lexemes) and words
    of the conversation (CONVERSATION_LEXEMES)."""
    talk = {lx for lx, n in ndoc.items() if n == 0 and lx in CONVERSATION_LEXEMES}
    return talk | naming_lexemes(scope, {lx: n for lx, n in ndoc.items() if lx not in talk})


def naming_lexemes(scope: Scope, ndoc: dict[str, int]) -> set[str]:
    """The question's lexemes (`ndoc`: their lexeme_frequencies) that only name the library:
    found in the scope's video titles, the creator's course titles or its name, and in none
    of its transcripts' chunks. "What does Faraday say about air?" asks about air:
    "faraday" (in the titles, never spoken) matches no passage, and as the rarest word it
    would weigh most in every passage's share of the question's words, pushing them all
    under the "not covered" floor. Words spoken in the videos stay ("candle"), and so do
    unknown words in no title ("fireflies": a sign the question is out of scope). One
    query, run only when some lexeme is in no chunk."""
    from courses.models import Course
    from creators.models import Creator
    from videos.models import Video

    unseen = {lx for lx, n in ndoc.items() if n == 0}
    if not unseen:
        return set()
    with prepared_cursor() as cur:
        cur.execute(
            f"""SELECT tsvector_to_array(to_tsvector(%(config)s::regconfig, concat_ws(' ',
                (SELECT string_agg(title, ' ') FROM {Video._meta.db_table}
                 WHERE creator_id = %(creator)s AND id = ANY(%(videos)s::bigint[])),
                (SELECT string_agg(title, ' ') FROM {Course._meta.db_table}
                 WHERE creator_id = %(creator)s),
                (SELECT concat_ws(' ', company_name, handle) FROM {Creator._meta.db_table}
                 WHERE id = %(creator)s))))""",
            {"config": SEARCH_CONFIG, "creator": scope.creator_id, "videos": list(scope.video_ids)},
        )
        row = cur.fetchone()
    return unseen & set(row[0] or [])


def lexical_plan(scope: Scope, doc_count: int) -> str:
    """ "exact" when the scope holds an estimated <= EXACT_SCOPE_CHUNKS chunks (doc_count:
    the library's chunks; the scope's share estimated by its share of the videos), else
    "wide"."""
    videos = len(scope.video_ids)
    library = max(scope.library_videos, videos, 1)
    return "exact" if doc_count * videos / library <= EXACT_SCOPE_CHUNKS else "wide"


def lexical_query(
    scope: Scope, lexemes: list[str], *, doc_count: int, plan: str | None = None
) -> tuple[str, dict]:
    """The one SQL statement of a full-text search and its parameters (see module doc);
    rows are (chunk_id, video_id, bm25, IDF sum of lexemes found, IDF sum of all)."""
    plan = plan or lexical_plan(scope, doc_count)
    params = {
        "lexemes": list(dict.fromkeys(lexemes)),
        "creator": scope.creator_id,
        "videos": list(scope.video_ids),
        "per_lexeme": POSTINGS_PER_LEXEME,
        "candidates": CANDIDATES,
    }
    if plan == "exact":
        return EXACT_SQL, params
    video_filter, extra = scope.video_filter("p.video_id")
    return WIDE_SQL.format(q=_Q, video_filter=video_filter), {**params, **extra}


def lexical_rank(
    scope: Scope, lexemes: list[str], *, doc_count: int, plan: str | None = None
) -> list[ChunkHit]:
    """Chunks in `scope` containing any of `lexemes`, best BM25 first (at most CANDIDATES),
    each with its coverage: the IDF-weighted share (0-1) of the question's lexemes it has.
    doc_count: the library's chunk count (chooses the plan); plan: "exact" | "wide" to
    force one."""
    if not lexemes or not scope.video_ids:
        return []
    sql, params = lexical_query(scope, lexemes, doc_count=doc_count, plan=plan)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    hits = [
        ChunkHit(
            chunk_id=chunk_id,
            video_id=video_id,
            bm25=float(bm25),
            coverage=float(found) / float(total) if total else 0.0,
        )
        for chunk_id, video_id, bm25, found, total in rows
    ]
    hits.sort(key=lambda h: (-h.bm25, h.chunk_id))
    return hits


@functools.lru_cache(maxsize=64)
def vocabulary_size(creator_id: int, version: str) -> int:
    """How many distinct lexemes the creator's chunks hold (videos.LexemeFrequency rows
    with ndoc > 0), at library_version `version` (the cache key: read once per version)."""
    return (
        LexemeFrequency.objects.filter(creator_id=creator_id, ndoc__gt=0)
        .exclude(lexeme=LexemeFrequency.TOTAL)
        .count()
    )
