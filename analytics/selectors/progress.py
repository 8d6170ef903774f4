"""Course progress reads: lesson counts, the funnel, the progress spread, cohorts."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import connection
from django.db.models import Count

from analytics.models import StudentDay
from analytics.ranges import DateRange, tz_of
from analytics.selectors.common import monday_sql
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


def progress_summary(*, creator: Creator, rng: DateRange, course_id: int | None = None) -> dict:
    """The funnel and the progress spread of a range in one query, counted in PostgreSQL
    (a year of student-course pairs stays in the database):

    {"funnel": {"enrolled", "started", "half", "completed"}: student-course pairs enrolled
    in the range and how far they got by its end ("half" = at least 50% of the course's
    lessons completed, "completed" = all of them);
    "distribution": [{"label": "0-30%", "students": n}, ...]: pairs active in the range by
    course progress at its end (PROGRESS_BINS; progress = completed lessons / the course's
    lessons, Thinkific's definition; a course without lessons counts as one)}."""
    from courses.models import Enrollment, Lesson, LessonProgress, Module

    lo, hi = rng.bounds_utc()
    course_sql = "AND {col} = %(course)s" if course_id else ""
    # Bin i holds lo_i <= 100 * done / total < hi_i, compared in integers (no rounding).
    bins = " ".join(
        f"WHEN 100 * done < {hi_pct} * total THEN {i}"
        for i, (_label, _lo, hi_pct) in enumerate(PROGRESS_BINS)
    )
    sql = f"""
        WITH n AS (
            SELECT m.course_id, COUNT(*) AS total
            FROM {Lesson._meta.db_table} l JOIN {Module._meta.db_table} m ON m.id = l.module_id
            WHERE l.creator_id = %(creator)s GROUP BY 1
        ), e AS (
            SELECT DISTINCT user_id, course_id FROM {Enrollment._meta.db_table}
            WHERE creator_id = %(creator)s AND enrolled_at >= %(lo)s AND enrolled_at < %(hi)s
              {course_sql.format(col="course_id")}
        ), a AS (
            SELECT DISTINCT user_id, course_id FROM {StudentDay._meta.db_table}
            WHERE creator_id = %(creator)s AND day >= %(start)s AND day <= %(end)s
              AND course_id IS NOT NULL {course_sql.format(col="course_id")}
        ), p AS (
            SELECT lp.user_id, m.course_id,
                   COUNT(*) FILTER (WHERE lp.completed_at < %(hi)s) AS done
            FROM {LessonProgress._meta.db_table} lp
            JOIN {Lesson._meta.db_table} l ON l.id = lp.lesson_id
            JOIN {Module._meta.db_table} m ON m.id = l.module_id
            WHERE lp.creator_id = %(creator)s AND lp.started_at < %(hi)s
              {course_sql.format(col="m.course_id")}
            GROUP BY 1, 2
        )
        SELECT -1, COUNT(*), COUNT(p.user_id),
               COUNT(*) FILTER (WHERE p.done * 2 >= GREATEST(n.total, 1)),
               COUNT(*) FILTER (WHERE p.done >= GREATEST(n.total, 1))
        FROM e LEFT JOIN p USING (user_id, course_id) LEFT JOIN n USING (course_id)
        UNION ALL
        SELECT bin, COUNT(*), 0, 0, 0 FROM (
            SELECT CASE {bins} END AS bin FROM (
                SELECT COALESCE(p.done, 0) AS done, GREATEST(n.total, 1) AS total
                FROM a LEFT JOIN p USING (user_id, course_id) LEFT JOIN n USING (course_id)
            ) pairs
        ) binned WHERE bin IS NOT NULL GROUP BY bin
    """
    params: dict[str, Any] = {
        "creator": creator.pk, "lo": lo, "hi": hi, "start": rng.start, "end": rng.end,
        "course": course_id,
    }  # fmt: skip
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    counts = [0] * len(PROGRESS_BINS)
    funnel = {"enrolled": 0, "started": 0, "half": 0, "completed": 0}
    for key, a, b, c, d in rows:
        if key == -1:
            funnel = {"enrolled": a, "started": b, "half": c, "completed": d}
        else:
            counts[key] = a
    return {
        "funnel": funnel,
        "distribution": [
            {"label": b[0], "students": n} for b, n in zip(PROGRESS_BINS, counts, strict=True)
        ],
    }


def funnel(*, creator: Creator, rng: DateRange, course_id: int | None = None) -> dict:
    """progress_summary()'s funnel: {"enrolled", "started", "half", "completed"}."""
    return progress_summary(creator=creator, rng=rng, course_id=course_id)["funnel"]


def progress_distribution(
    *, creator: Creator, rng: DateRange, course_id: int | None = None
) -> list[dict]:
    """progress_summary()'s spread: [{"label": "0-30%", "students": n}, ...]."""
    return progress_summary(creator=creator, rng=rng, course_id=course_id)["distribution"]


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
        SELECT cohort, week, COUNT(*) FROM (
            SELECT {monday_sql("e.d")} AS cohort,
                   (s.day - e.d) / 7 AS week, e.user_id
            FROM e JOIN analytics_studentday s
              ON s.creator_id = %s AND s.user_id = e.user_id AND s.course_id = e.course_id
             AND s.day >= e.d AND s.day <= %s AND s.day < e.d + %s
             AND s.day >= %s  -- implied (e.d is in the range): lets the plan read only those days
            GROUP BY 1, 2, 3
        ) t GROUP BY 1, 2
        UNION ALL
        SELECT {monday_sql("e.d")}, -1, COUNT(*) FROM e GROUP BY 1
    """
    with connection.cursor() as cur:
        cur.execute(sql, [*params, creator.pk, rng.end, 7 * COHORT_WEEKS, rng.start])
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
