"""Question reads: the most asked questions grouped by similarity, the not-covered list."""

from __future__ import annotations

from django.db.models import Count, Max, Q

from analytics.models import QuestionFact
from analytics.ranges import DateRange
from analytics.selectors.common import in_range, of_course
from creators.models import Creator

# Two questions join one group when their lexeme sets' Jaccard similarity is at least this.
SIMILARITY = 0.6

# Distinct lexeme keys considered for grouping (the most frequent ones).
GROUP_CANDIDATES = 300


def question_groups(
    *, creator: Creator, rng: DateRange, course_id: int | None = None, limit: int = 10
) -> list[dict]:
    """Most asked questions grouped by similarity.

    Similarity: the questions' English lexeme sets (Postgres to_tsvector: stemmed, stop
    words removed) — equal sets form one group; groups whose sets have Jaccard similarity
    >= SIMILARITY merge (single link, among the GROUP_CANDIDATES most frequent sets).
    Returns [{"question": most frequent wording, "count", "not_covered", "examples": [str]}].
    """
    qs = of_course(in_range(QuestionFact.objects.filter(creator=creator), rng), course_id)
    keys = list(
        qs.exclude(lexemes="")
        .values_list("lexemes")
        .annotate(n=Count("id"), nc=Count("id", filter=Q(covered=False)), text=Max("text"))
        .order_by("-n", "lexemes")[:GROUP_CANDIDATES]
    )
    sets = [frozenset(k.split()) for k, *_ in keys]
    parent = list(range(len(keys)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # Only sets sharing a lexeme can be similar: compare each set with the earlier sets
    # that share one (an inverted index), not with all of them.
    earlier: dict[str, list[int]] = {}
    for i, a in enumerate(sets):
        la = len(a)
        for j in {j for lexeme in a for j in earlier.get(lexeme, ())}:
            lb = len(sets[j])
            # Jaccard <= min/max of the sizes: most pairs are ruled out without a set op.
            if min(la, lb) < SIMILARITY * max(la, lb):
                continue
            shared = len(a & sets[j])
            if shared / (la + lb - shared) >= SIMILARITY:
                parent[find(i)] = find(j)
        for lexeme in a:
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
    [{"message_id", "text", "asked_at", "count", "video_id"}] (count: times asked)."""
    qs = of_course(in_range(QuestionFact.objects.filter(creator=creator), rng), course_id)
    rows = (
        qs.filter(covered=False)
        .values("lexemes")
        .annotate(n=Count("id"), last=Max("asked_at"), mid=Max("message_id"), text=Max("text"))
        .order_by("-last")[:limit]
    )
    return [
        {"message_id": r["mid"], "text": r["text"], "asked_at": r["last"], "count": r["n"]}
        for r in rows
    ]
