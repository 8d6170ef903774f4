"""Course progress reads: lesson counts, the funnel, the progress spread, cohorts."""

from __future__ import annotations

from datetime import timedelta
from functools import reduce
from operator import or_
from typing import Any

from django.db import connection

from analytics.models import CourseProgress, StudentBit
from analytics.ranges import DateRange, tz_of
from analytics.selectors.common import ActiveSets, active_sets_for, binary_cursor
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
    """{course_id: number of lessons} of the creator's courses (courses without lessons
    absent). One raw statement."""
    from courses.models import Lesson, Module

    with connection.cursor() as cur:
        cur.execute(
            f"SELECT m.course_id, COUNT(*) FROM {Lesson._meta.db_table} l "
            f"JOIN {Module._meta.db_table} m ON m.id = l.module_id "
            "WHERE l.creator_id = %s GROUP BY 1",
            [creator.pk],
        )
        return dict(cur.fetchall())


def progress_summary(
    *,
    creator: Creator,
    rng: DateRange,
    course_id: int | None = None,
    active: ActiveSets | None = None,
) -> dict:
    """The funnel and the progress spread of a range in one query, counted in PostgreSQL
    (a year of student-course pairs stays in the database):

    {"funnel": {"enrolled", "started", "half", "completed"}: student-course pairs enrolled
    in the range and how far they got by its end ("half" = at least 50% of the course's
    lessons completed, "completed" = all of them);
    "distribution": [{"label": "0-30%", "students": n}, ...]: pairs active in the range by
    course progress at its end (PROGRESS_BINS; progress = completed lessons / the course's
    lessons, Thinkific's definition; a course without lessons counts as one)}. Progress by the
    range's end comes from CourseProgress (one row per student and course); the active
    pairs from the range's ActiveSets (`active`, or read here): per course, the union of
    its days' student bitmaps — the started pairs' students are tested in it in SQL (their
    StudentBit), the rest are its popcount (less deleted students' bits), at 0%."""
    from courses.models import Enrollment, Lesson, Module

    sets = active_sets_for(active, creator=creator, rng=rng, course_id=course_id)
    per_course = sets.by_course(rng.start, rng.end)
    per_course.pop(None, None)  # activity outside any course has no progress

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
        ), e AS (  -- one row per pair (Enrollment's course-user constraint)
            SELECT user_id, course_id FROM {Enrollment._meta.db_table}
            WHERE creator_id = %(creator)s AND enrolled_at >= %(lo)s AND enrolled_at < %(hi)s
              {course_sql.format(col="course_id")}
        ), p AS (  -- pairs started by the range's end: lessons done by then (done days <= end)
            SELECT user_id, course_id, done, total, CASE {bins} END AS bin FROM (
                SELECT c.user_id, c.course_id, width_bucket(%(end)s::date, c.done) AS done,
                       GREATEST(n.total, 1) AS total
                FROM {CourseProgress._meta.db_table} c LEFT JOIN n USING (course_id)
                WHERE c.creator_id = %(creator)s AND c.started <= %(end)s
                  {course_sql.format(col="c.course_id")}
            ) started
        )
        SELECT -1, COUNT(*), COUNT(p.user_id), COUNT(*) FILTER (WHERE p.done * 2 >= p.total),
               COUNT(*) FILTER (WHERE p.done >= p.total)
        FROM e LEFT JOIN p USING (user_id, course_id)
        UNION ALL  -- started pairs active in the range (the student's bit in the course's mask)
        SELECT COALESCE(p.bin, -3), COUNT(*), 0, 0, 0
        FROM p
        JOIN unnest(%(courses)s::bigint[], %(masks)s::bytea[]) AS m(course_id, mask)
          USING (course_id)
        JOIN {StudentBit._meta.db_table} b ON b.creator_id = %(creator)s AND b.user_id = p.user_id
        WHERE b.bit < 8 * length(m.mask) AND get_bit(m.mask, b.bit) = 1
        GROUP BY p.bin
        UNION ALL  -- the bits of deleted students (their masks' bits name nobody now)
        SELECT -2, bit, 0, 0, 0 FROM {StudentBit._meta.db_table}
        WHERE creator_id = %(creator)s AND user_id IS NULL
    """
    params: dict[str, Any] = {
        "creator": creator.pk, "lo": lo, "hi": hi, "end": rng.end, "course": course_id,
        "courses": list(per_course),
        "masks": [m.to_bytes((m.bit_length() + 7) // 8, "little") for m in per_course.values()],
    }  # fmt: skip
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    counts = [0] * len(PROGRESS_BINS)
    funnel = {"enrolled": 0, "started": 0, "half": 0, "completed": 0}
    gone = matched = 0  # the deleted students' bits; active pairs with progress
    for key, a, b, c, d in rows:
        if key == -1:
            funnel = {"enrolled": a, "started": b, "half": c, "completed": d}
        elif key == -2:
            gone |= 1 << a
        else:
            matched += a
            if key >= 0:  # -3: more lessons done than the course has now (in no bin)
                counts[key] = a
    # The other active pairs had not started by the range's end: 0 lessons done, bin 0.
    counts[0] += sum((mask & ~gone).bit_count() for mask in per_course.values()) - matched
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


def cohorts(
    *,
    creator: Creator,
    rng: DateRange,
    course_id: int | None = None,
    active: ActiveSets | None = None,
) -> dict:
    """Weekly enrolment cohorts x weeks since enrolment (PostHog-style retention).

    {"cohorts": [week start date], "weeks": [0..N], "size": [students per cohort],
    "retention": [[share 0..1 or None (week not reached yet)]]} — share of the cohort with
    any activity (watching, completing, asking) in that course during week N (week N of an
    enrolment on day d: days d + 7N .. d + 7N + 6, up to the range's end; a student counts
    once per cohort and week). Activity comes from the range's ActiveSets (`active`, or read
    here): per enrolment day and course, the enrolled students' bitmap ANDed with the
    course's students over each week's days.
    """
    from courses.models import Enrollment

    sets = active_sets_for(active, creator=creator, rng=rng, course_id=course_id)
    lo, hi = rng.bounds_utc()
    course_sql = "AND e.course_id = %s" if course_id else ""
    with binary_cursor() as cur:  # per course and enrolment day: how many, whose bits
        cur.execute(
            f"""SELECT e.course_id, (e.enrolled_at AT TIME ZONE %s)::date - %s, COUNT(*),
                   array_agg(b.bit) FILTER (WHERE b.bit IS NOT NULL)
            FROM {Enrollment._meta.db_table} e
            LEFT JOIN {StudentBit._meta.db_table} b
              ON b.creator_id = e.creator_id AND b.user_id = e.user_id
            WHERE e.creator_id = %s AND e.enrolled_at >= %s AND e.enrolled_at < %s
              {course_sql}
            GROUP BY 1, 2""",
            [tz_of(creator), rng.start, creator.pk, lo, hi, *([course_id] if course_id else [])],
        )
        rows = cur.fetchall()
    # Days are counted from the range's start: i is rng.start + i days; cohort k (its
    # Monday) starts on day 7k - shift.
    n, shift = rng.days, rng.start.weekday()
    counts: dict[int, int] = {}  # cohort -> enrolments
    windows: dict[int | None, list[int]] = {}  # course -> students active on days i .. i + 6
    for course, _day, _n, _bits in rows:
        windows[course] = []
    for (course, d), mask in sets.masks.items():
        one = windows.get(course)
        if one is not None and rng.start <= d <= rng.end:
            if not one:
                one += [0] * n
            one[(d - rng.start).days] |= mask
    for course, one in windows.items():  # days i..i+1, i..i+3, then i..i+5 | i+6
        if not one:
            continue
        two = [a | b for a, b in zip(one, [*one[1:], 0], strict=True)]
        four = [a | b for a, b in zip(two, [*two[2:], 0, 0], strict=True)]
        windows[course] = [
            a | b | c
            for a, b, c in zip(four, [*two[4:], *[0] * 4], [*one[6:], *[0] * 6], strict=True)
        ]
    hits: list[list[int]] = [[0] * COHORT_WEEKS for _k in range((n + shift + 6) // 7)]
    for course, day, enrolments, bits in rows:
        k = (day + shift) // 7
        counts[k] = counts.get(k, 0) + enrolments
        who = reduce(or_, map((1).__lshift__, bits), 0) if bits else 0  # never active: no bit
        one = windows[course]
        if who and one:
            row = hits[k]  # week w of the enrolment: its window on day day + 7w
            for w, window in enumerate(one[day : day + 7 * COHORT_WEEKS : 7]):
                if seen := who & window:  # most enrolment days have nobody back that week
                    row[w] |= seen
    size = {rng.start + timedelta(days=7 * k - shift): m for k, m in counts.items()}
    active_in = {
        (rng.start + timedelta(days=7 * k - shift), w): mask
        for k, row in enumerate(hits)
        for w, mask in enumerate(row)
        if mask
    }
    starts = sorted(size)
    weeks = list(range(COHORT_WEEKS))
    matrix = []
    for c in starts:
        reached = (rng.end - c).days // 7
        matrix.append(
            [
                round(active_in.get((c, w), 0).bit_count() / size[c], 3) if w <= reached else None
                for w in weeks
            ]
        )
    return {
        "cohorts": starts,
        "weeks": weeks,
        "size": [size[c] for c in starts],
        "retention": matrix,
    }
