"""Question reads: the most asked questions grouped by similarity, the not-covered list."""

from __future__ import annotations

from typing import Any

from django.db import connection

from analytics.ranges import DateRange, month_split_ctes
from creators.models import Creator

# Two questions join one group when their lexeme sets' Jaccard similarity is at least this.
SIMILARITY = 0.6

# Distinct lexeme keys considered for grouping (the most frequent ones).
GROUP_CANDIDATES = 300


# Both lists from one grouping of the range's questions per lexeme set: every question and
# the not-covered ones; the groups' candidates (the most asked sets) and the newest
# not-covered sets are two bounded slices of it. A month the range wholly covers is read
# from its QuestionGroupMonth rows once the creator's month is materialised (one index
# probe a month), every other day from QuestionFact; each column merges exactly (counts
# summed, the rest maxima), so the lists equal one grouping of the range's facts.
_SUMMARY = f"""
    WITH {month_split_ctes("analytics_questiongroupmonth")}, g AS (
        SELECT lexemes, SUM(n) AS n, SUM(nc) AS nc, MAX(text) AS text,
               MAX(nc_text) AS nc_text, MAX(last) AS last, MAX(mid) AS mid
        FROM (
            SELECT lexemes, questions AS n, not_covered AS nc, text,
                   not_covered_text AS nc_text, last_not_covered_at AS last,
                   last_not_covered_message_id AS mid
            FROM analytics_questiongroupmonth
            WHERE creator_id = %(creator)s AND month >= %(first)s AND month <= %(last)s
              AND month = ANY(ARRAY(SELECT month FROM present)) {{course}}
            UNION ALL
            SELECT lexemes, 1, CASE WHEN NOT covered THEN 1 ELSE 0 END, text,
                   CASE WHEN NOT covered THEN text END,
                   CASE WHEN NOT covered THEN asked_at END,
                   CASE WHEN NOT covered THEN message_id END
            FROM analytics_questionfact
            WHERE creator_id = %(creator)s AND day = ANY(ARRAY(SELECT day FROM other))
              {{course}}
        ) t
        GROUP BY lexemes
    )
    (SELECT 0, lexemes, n, nc, text, NULL::timestamptz, NULL::bigint FROM g
     WHERE lexemes <> '' ORDER BY n DESC, lexemes LIMIT %(candidates)s)
    UNION ALL
    (SELECT 1, lexemes, nc, nc, nc_text, last, mid FROM g
     WHERE nc > 0 ORDER BY last DESC, mid DESC LIMIT %(not_covered)s)
"""


def questions_summary(
    *,
    creator: Creator,
    rng: DateRange,
    course_id: int | None = None,
    limit: int = 10,
    not_covered_limit: int = 20,
) -> dict:
    """Both question lists of a range in one query: {"groups": question_groups(),
    "not_covered": not_covered()} (see those for the shapes and definitions)."""
    first, last = rng.whole_months()
    args: dict[str, Any] = {
        "creator": creator.pk, "start": rng.start, "end": rng.end, "course": course_id,
        "first": first, "last": last,
        "candidates": GROUP_CANDIDATES, "not_covered": not_covered_limit,
    }  # fmt: skip
    sql = _SUMMARY.format(course="AND course_id = %(course)s" if course_id else "")
    with connection.cursor() as cur:
        cur.execute(sql, args)
        rows = cur.fetchall()
    keys = [(k, n, nc, text) for part, k, n, nc, text, _last, _mid in rows if part == 0]
    return {
        "groups": _grouped(keys, limit),
        "not_covered": [
            {"message_id": mid, "text": text, "asked_at": last, "count": n}
            for part, _k, n, _nc, text, last, mid in rows
            if part == 1
        ],
    }


def question_groups(
    *, creator: Creator, rng: DateRange, course_id: int | None = None, limit: int = 10
) -> list[dict]:
    """Most asked questions grouped by similarity.

    Similarity: the questions' English lexeme sets (Postgres to_tsvector: stemmed, stop
    words removed) — equal sets form one group; groups whose sets have Jaccard similarity
    >= SIMILARITY merge (single link, among the GROUP_CANDIDATES most frequent sets).
    Returns [{"question": most frequent wording, "count", "not_covered", "examples": [str]}].
    """
    return questions_summary(creator=creator, rng=rng, course_id=course_id, limit=limit)["groups"]


def _grouped(keys: list[tuple], limit: int) -> list[dict]:
    """question_groups() of the candidates [(lexemes, count, not covered, text)], most
    asked first."""
    sets = [frozenset(k.split()) for k, *_ in keys]
    parent = list(range(len(keys)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # Prefix filtering (AllPairs, Bayardo et al. 2007): with each set's lexemes ordered
    # rarest first, two sets with Jaccard >= SIMILARITY share a lexeme among the first
    # |set| - floor(SIMILARITY * |set|) + 1 of each (a prefix at least as long as the
    # bound's), so each set is compared only with earlier sets whose prefix shares one of
    # its prefix's lexemes — the pairs found are exactly all similar pairs.
    df: dict[str, int] = {}
    for a in sets:
        for lexeme in a:
            df[lexeme] = df.get(lexeme, 0) + 1
    earlier: dict[str, list[int]] = {}
    for i, a in enumerate(sets):
        la = len(a)
        prefix = sorted(a, key=lambda lexeme: (df[lexeme], lexeme))[: la - int(SIMILARITY * la) + 1]
        for j in {j for lexeme in prefix for j in earlier.get(lexeme, ())}:
            lb = len(sets[j])
            # Jaccard <= min/max of the sizes: most pairs are ruled out without a set op.
            if min(la, lb) < SIMILARITY * max(la, lb):
                continue
            shared = len(a & sets[j])
            if shared / (la + lb - shared) >= SIMILARITY:
                parent[find(i)] = find(j)
        for lexeme in prefix:
            earlier.setdefault(lexeme, []).append(i)
    groups: dict[int, dict] = {}
    for i, (_k, n, nc, text) in enumerate(keys):
        g = groups.setdefault(
            find(i), {"question": text, "count": 0, "not_covered": 0, "examples": []}
        )
        g["count"] += n
        g["not_covered"] += nc
        if len(g["examples"]) < 3 and text not in g["examples"]:
            g["examples"].append(text)
    return sorted(groups.values(), key=lambda g: (-g["count"], g["question"]))[:limit]


def not_covered(
    *, creator: Creator, rng: DateRange, course_id: int | None = None, limit: int = 20
) -> list[dict]:
    """Questions the videos did not cover in the range, newest first, one per lexeme set:
    [{"message_id", "text", "asked_at", "count"}] (count: times asked)."""
    summary = questions_summary(
        creator=creator, rng=rng, course_id=course_id, not_covered_limit=limit
    )
    return summary["not_covered"]
