"""Course progress reads: lesson counts, the funnel, the progress spread, cohorts."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import connection
from django.db.models import Count, Q

from analytics.models import StudentDay
from analytics.ranges import DateRange, tz_of
from analytics.selectors.common import in_range, of_course
from creators.models import Creator

# Weeks shown in the cohort retention matrix (PostHog's default weekly view shows 8-12).
COHORT_WEEKS = 12

# Progress distribution bins (Frappe LMS): upper bounds in percent, inclusive of 100.
PROGRESS_BINS = (
    ("0\u201330%", 0, 30),
    ("30\u201360%", 30, 60),
    ("60\u201399%", 60, 100),
    ("100%", 100, 101),
)


def lesson_counts(*, creator: Creator) -> dict[int, int]:
    """{course_id: number of lessons} of the creator's courses."""
    from courses.models import Lesson

    return dict(
        Lesson.objects.filter(creator=creator)
        .values_list("module__course_id")
        .annotate(n=Count("id"))
        .order_by()
    )


def progress_as_of(*, creator: Creator, rng: DateRange, course_id: int | None = None) -> dict:
    """{(user, course): {"started": True, "done": lessons completed}} at the range's end."""
    return _progress_as_of(creator, rng.bounds_utc()[1], course_id)


def _progress_as_of(creator: Creator, hi: Any, course_id: int | None) -> dict[tuple, dict]:
    """{(user, course): {"started": bool, "done": completed lessons}} as of `hi`."""
    from courses.models import LessonProgress

    qs = LessonProgress.objects.filter(creator=creator, started_at__lt=hi)
    qs = of_course(qs, course_id, "lesson__module__course_id")
    return {
        (u, c): {"started": True, "done": done}
        for u, c, done in qs.values_list("user_id", "lesson__module__course_id")
        .annotate(done=Count("id", filter=Q(completed_at__lt=hi)))
        .order_by()
    }


def funnel(
    *,
    creator: Creator,
    rng: DateRange,
    course_id: int | None = None,
    lessons: dict | None = None,
    progress: dict | None = None,
) -> dict:
    """Students who enrolled in the range and how far they got by its end:
    {"enrolled", "started", "half", "completed"} (counts of student-course pairs; "half" =
    at least 50% of the course's lessons completed, "completed" = all of them)."""
    from courses.models import Enrollment

    lo, hi = rng.bounds_utc()
    enrolled = of_course(
        Enrollment.objects.filter(creator=creator, enrolled_at__gte=lo, enrolled_at__lt=hi),
        course_id,
    ).values_list("user_id", "course_id")
    pairs = set(enrolled)
    progress = _progress_as_of(creator, hi, course_id) if progress is None else progress
    lessons = lesson_counts(creator=creator) if lessons is None else lessons
    out = {"enrolled": len(pairs), "started": 0, "half": 0, "completed": 0}
    for pair in pairs:
        p = progress.get(pair)
        if not p:
            continue
        total = lessons.get(pair[1], 0) or 1
        out["started"] += 1
        out["half"] += p["done"] * 2 >= total
        out["completed"] += p["done"] >= total
    return out


def progress_distribution(
    *,
    creator: Creator,
    rng: DateRange,
    course_id: int | None = None,
    lessons: dict | None = None,
    progress: dict | None = None,
) -> list[dict]:
    """Students active in the range by course progress at its end:
    [{"label": "0-30%", "students": n}, ...] (PROGRESS_BINS; progress = completed lessons /
    the course's lessons, Thinkific's definition)."""
    _lo, hi = rng.bounds_utc()
    active = set(
        of_course(in_range(StudentDay.objects.filter(creator=creator), rng), course_id)
        .exclude(course=None)
        .values_list("user_id", "course_id")
        .distinct()
    )
    progress = _progress_as_of(creator, hi, course_id) if progress is None else progress
    lessons = lesson_counts(creator=creator) if lessons is None else lessons
    counts = [0] * len(PROGRESS_BINS)
    for pair in active:
        total = lessons.get(pair[1], 0) or 1
        pct = 100.0 * (progress.get(pair, {}).get("done", 0)) / total
        for i, (_label, lo_pct, hi_pct) in enumerate(PROGRESS_BINS):
            if lo_pct <= pct < hi_pct or (i == 0 and pct < 0):
                counts[i] += 1
                break
    return [{"label": b[0], "students": n} for b, n in zip(PROGRESS_BINS, counts, strict=True)]


def cohorts(*, creator: Creator, rng: DateRange, course_id: int | None = None) -> dict:
    """Weekly enrolment cohorts x weeks since enrolment (PostHog-style retention).

    {"cohorts": [week start date], "weeks": [0..N], "size": [students per cohort],
    "retention": [[share 0..1 or None (week not reached yet)]]} — share of the cohort with
    any activity (watching, completing, asking) in that course during week N.
    """
    from courses.models import Enrollment

    tz = tz_of(creator)
    lo, hi = rng.bounds_utc()
    course_sql = "AND e.course_id = %s" if course_id else ""
    params: list[Any] = [tz, creator.pk, lo, hi] + ([course_id] if course_id else [])
    table = Enrollment._meta.db_table
    sql = f"""
        WITH e AS (
            SELECT e.user_id, e.course_id, (e.enrolled_at AT TIME ZONE %s)::date AS d
            FROM {table} e
            WHERE e.creator_id = %s AND e.enrolled_at >= %s AND e.enrolled_at < %s {course_sql}
        )
        SELECT (e.d - extract(isodow FROM e.d)::int + 1) AS cohort,
               (s.day - e.d) / 7 AS week,
               COUNT(DISTINCT e.user_id) AS n
        FROM e JOIN analytics_studentday s
          ON s.user_id = e.user_id AND s.course_id = e.course_id
         AND s.day >= e.d AND s.day <= %s
        GROUP BY 1, 2
        UNION ALL
        SELECT (e.d - extract(isodow FROM e.d)::int + 1), -1, COUNT(*) FROM e GROUP BY 1
    """
    with connection.cursor() as cur:
        cur.execute(sql, [*params, rng.end])
        rows = cur.fetchall()
    size: dict[date, int] = {}
    active: dict[tuple, int] = {}
    for cohort, week, n in rows:
        if week == -1:
            size[cohort] = n
        elif week < COHORT_WEEKS:
            active[(cohort, week)] = n
    starts = sorted(size)
    weeks = list(range(COHORT_WEEKS))
    matrix = []
    for c in starts:
        reached = (rng.end - c).days // 7
        matrix.append(
            [round(active.get((c, w), 0) / size[c], 3) if w <= reached else None for w in weeks]
        )
    return {
        "cohorts": starts,
        "weeks": weeks,
        "size": [size[c] for c in starts],
        "retention": matrix,
    }
