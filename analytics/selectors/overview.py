"""The dashboard's cards (this period against the previous one) and its daily series."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from analytics.ranges import DateRange
from analytics.selectors.common import ActiveSets, active_sets_for
from creators.models import Creator

CARD_KEYS = (
    "active_students",
    "watch_seconds",
    "lesson_completions",
    "questions",
    "questions_not_covered",
)


# Above this many days the activity charts switch from per-day to per-week points.
WEEKLY_AFTER_DAYS = 92


def overview(*, creator: Creator, rng: DateRange, course_id: int | None = None) -> dict:
    """The five cards for one period: {active_students, watch_seconds, lesson_completions,
    questions, questions_not_covered} (watch_seconds in seconds, others counts)."""
    return _totals(creator, [rng], course_id)[0]


def overview_compare(
    *,
    creator: Creator,
    rng: DateRange,
    course_id: int | None = None,
    active: ActiveSets | None = None,
) -> dict:
    """overview() of the range plus {"previous": overview() of the period before it}.
    active: the students' ActiveSets of both periods, if the caller has read them."""
    now, previous = _totals(creator, [rng, rng.previous()], course_id, active)
    now["previous"] = previous
    return now


def _totals(
    creator: Creator,
    ranges: list[DateRange],
    course_id: int | None,
    active: ActiveSets | None = None,
) -> list[dict]:
    """overview() of each range from the CourseDay rows of their span (ActiveSets: `active`
    when it covers the span, else one query): the totals summed per range, the active
    students as the popcount of the range's union of bitmaps."""
    span = DateRange("custom", min(r.start for r in ranges), max(r.end for r in ranges))
    sets = active_sets_for(active, creator=creator, rng=span, course_id=course_id)
    out = []
    for r in ranges:
        watch, done, asked, uncovered = 0.0, 0, 0, 0
        for day, (w, q, nc, c) in sets.day_totals().items():
            if r.start <= day <= r.end:
                watch += w
                done += c
                asked += q
                uncovered += nc
        out.append(
            {
                "active_students": sets.union(r.start, r.end).bit_count(),
                "watch_seconds": round(watch, 1),
                "lesson_completions": done,
                "questions": asked,
                "questions_not_covered": uncovered,
            }
        )
    return out


def cards(data: dict) -> list[dict]:
    """Card view-models: {key, label, value, previous, delta, delta_pct, good} per key."""
    labels = {
        "active_students": "Active students",
        "watch_seconds": "Watch time",
        "lesson_completions": "Lesson completions",
        "questions": "Questions asked",
        "questions_not_covered": "Questions not covered",
    }
    out = []
    for key in CARD_KEYS:
        value, prev = data[key], data["previous"][key]
        delta = value - prev
        pct = None if not prev else round(100.0 * delta / prev)
        # More of everything is good, except questions the videos did not cover.
        good = delta <= 0 if key == "questions_not_covered" else delta >= 0
        out.append(
            {
                "key": key,
                "label": labels[key],
                "value": value,
                "previous": prev,
                "delta": delta,
                "delta_pct": pct,
                "good": good,
            }
        )
    return out


def daily(
    *,
    creator: Creator,
    rng: DateRange,
    course_id: int | None = None,
    active: ActiveSets | None = None,
) -> dict:
    """Per-day (or per-week past WEEKLY_AFTER_DAYS) series for the activity charts.

    {"unit": "day"|"week", "x": [date], "active_students": [int], "watch_seconds": [float],
    "questions": [int], "not_covered": [int], "completions": [int]} — every period of the
    range present (zeros where nothing happened). active: ActiveSets covering the range.
    """
    weekly = rng.days > WEEKLY_AFTER_DAYS

    def period(d: date) -> date:
        return d - timedelta(days=d.weekday()) if weekly else d

    xs: list[date] = []
    d = period(rng.start)
    while d <= rng.end:
        xs.append(d)
        d += timedelta(days=7 if weekly else 1)
    sets = active_sets_for(active, creator=creator, rng=rng, course_id=course_id)
    agg: dict[date, list] = defaultdict(lambda: [0.0, 0, 0, 0])
    for day, (w, q, nc, c) in sets.day_totals().items():
        if rng.start <= day <= rng.end:
            a = agg[period(day)]
            a[0] += w
            a[1] += q
            a[2] += nc
            a[3] += c
    # Distinct students per period: the union of the period's per-course-day sets.
    active_per = {
        p: mask.bit_count() for p, mask in sets.by_day(period, rng.start, rng.end).items()
    }
    return {
        "unit": "week" if weekly else "day",
        "x": xs,
        "active_students": [active_per.get(x, 0) for x in xs],
        "watch_seconds": [round(agg[x][0], 1) if x in agg else 0.0 for x in xs],
        "questions": [agg[x][1] if x in agg else 0 for x in xs],
        "not_covered": [agg[x][2] if x in agg else 0 for x in xs],
        "completions": [agg[x][3] if x in agg else 0 for x in xs],
    }
