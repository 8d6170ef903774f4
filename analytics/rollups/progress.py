"""Per student per course progress days (CourseProgress), from LessonProgress."""

from __future__ import annotations

from django.db import connection, transaction

# Per (student, course): the first local start day and, sorted, the day each completed
# lesson counts from (started and completed by then). Raw SQL only: the 0008 migration
# backfills with it.
_REFOLD = """
    INSERT INTO analytics_courseprogress (creator_id, user_id, course_id, started, done)
    SELECT %(creator)s, user_id, course_id, MIN(s),
           COALESCE(array_agg(d ORDER BY d) FILTER (WHERE d IS NOT NULL), '{{}}')
    FROM (
        SELECT lp.user_id, m.course_id, (lp.started_at AT TIME ZONE %(tz)s)::date AS s,
               CASE WHEN lp.completed_at IS NOT NULL THEN GREATEST(
                   (lp.started_at AT TIME ZONE %(tz)s)::date,
                   (lp.completed_at AT TIME ZONE %(tz)s)::date
               ) END AS d  -- GREATEST skips NULLs: only completed lessons have a day
        FROM courses_lessonprogress lp
        JOIN courses_lesson l ON l.id = lp.lesson_id
        JOIN courses_module m ON m.id = l.module_id
        WHERE lp.creator_id = %(creator)s {users}
    ) t
    GROUP BY user_id, course_id
"""


def course_progress_refold(
    *, creator_id: int, tz: str, pairs: list[tuple[int, int]] | None
) -> None:
    """Recompute the CourseProgress rows of the given (student, course) pairs (None: every
    pair) from their LessonProgress rows; days are local dates in the IANA zone `tz`."""
    only = ""
    if pairs is not None:
        only = "AND ({user}, {course}) IN (SELECT unnest(%(users)s::bigint[]), "
        only += "unnest(%(courses)s::bigint[]))"
    args = {
        "creator": creator_id, "tz": tz, "users": [u for u, _c in pairs or ()],
        "courses": [c for _u, c in pairs or ()],
    }  # fmt: skip
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "DELETE FROM analytics_courseprogress WHERE creator_id = %(creator)s "
            + only.format(user="user_id", course="course_id"),
            args,
        )
        cur.execute(
            _REFOLD.format(users=only.format(user="lp.user_id", course="m.course_id")), args
        )
