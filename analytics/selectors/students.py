"""Student reads: the students table, one student's page, and how many were active."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Sum
from django.http import Http404

from analytics.models import QuestionFact, StudentDay
from analytics.ranges import DateRange, month_split_ctes
from analytics.selectors.common import in_range, of_course
from analytics.selectors.progress import lesson_counts
from creators.models import Creator


def students(
    *,
    creator: Creator,
    rng: DateRange,
    course_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
    lessons: dict | None = None,
) -> list[dict]:
    """Students with activity in the range, most watch time first:
    [{user_id, name, email, watch_seconds, questions, completions, last_active (date),
    progress (0..1: completed lessons / lessons of the courses they touched)}]."""
    from creators.models import User

    if course_id:
        qs = of_course(in_range(StudentDay.objects.filter(creator=creator), rng), course_id)
        rows = list(
            qs.values("user_id")
            .annotate(w=Sum("watch_seconds"), q=Sum("questions"), c=Sum("completions"))
            .order_by("-w", "user_id")[offset : offset + limit]
        )
    else:
        rows = _studio_totals(creator, rng, limit, offset)
    ids = [r["user_id"] for r in rows]
    people = {
        u.pk: u for u in User.objects.filter(pk__in=ids).only("display_name", "email", "username")
    }
    last, progress = _last_and_progress(creator, ids, course_id, lessons)
    return [
        {
            "user_id": r["user_id"],
            "name": str(people[r["user_id"]]) if r["user_id"] in people else "—",
            "email": people[r["user_id"]].email if r["user_id"] in people else "",
            "watch_seconds": round(r["w"] or 0.0, 1),
            "questions": r["q"] or 0,
            "completions": r["c"] or 0,
            "last_active": last.get(r["user_id"]),
            "progress": progress.get(r["user_id"], 0.0),
        }
        for r in rows
    ]


# Per student over a range, every course: a month the range wholly covers from its
# StudentMonth rows once the creator's month is materialised, every other day from StudentDay.
_STUDIO_TOTALS = f"""
    WITH {month_split_ctes("analytics_studentmonth")}
    SELECT user_id, SUM(w), SUM(q), SUM(c) FROM (
        SELECT user_id, watch_seconds AS w, questions AS q, completions AS c
        FROM analytics_studentmonth
        WHERE creator_id = %(creator)s AND month >= %(first)s AND month <= %(last)s
          AND month = ANY(ARRAY(SELECT month FROM present))
        UNION ALL
        SELECT user_id, watch_seconds, questions, completions FROM analytics_studentday
        WHERE creator_id = %(creator)s AND day = ANY(ARRAY(SELECT day FROM other))
    ) t
    GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %(limit)s OFFSET %(offset)s
"""


def _studio_totals(creator: Creator, rng: DateRange, limit: int, offset: int) -> list[dict]:
    """students()'s ranked rows for every course: [{"user_id", "w", "q", "c"}] (watch
    seconds, questions, completions in the range), most watch time first."""
    first, last = rng.whole_months()
    args: dict[str, Any] = {
        "creator": creator.pk, "first": first, "last": last, "start": rng.start,
        "end": rng.end, "limit": limit, "offset": offset,
    }  # fmt: skip
    with connection.cursor() as cur:
        cur.execute(_STUDIO_TOTALS, args)
        return [{"user_id": u, "w": w, "q": q, "c": c} for u, w, q, c in cur.fetchall()]


# For the listed students: each one's last active day (any course, any time), and per
# course they touched (LessonProgress rows or an enrolment) the lessons they completed.
_LAST_AND_PROGRESS = """
    SELECT user_id, NULL::bigint, NULL::bigint, MAX(day) FROM analytics_studentday
    WHERE creator_id = %(creator)s AND user_id = ANY(%(ids)s::bigint[])
    GROUP BY 1
    UNION ALL
    SELECT p.user_id, m.course_id, COUNT(*) FILTER (WHERE p.completed_at IS NOT NULL), NULL
    FROM courses_lessonprogress p
    JOIN courses_lesson l ON l.id = p.lesson_id JOIN courses_module m ON m.id = l.module_id
    WHERE p.creator_id = %(creator)s AND p.user_id = ANY(%(ids)s::bigint[]) {course}
    GROUP BY 1, 2
    UNION ALL
    SELECT user_id, course_id, 0, NULL FROM courses_enrollment e
    WHERE creator_id = %(creator)s AND user_id = ANY(%(ids)s::bigint[]) {enrolled_course}
"""


def _last_and_progress(
    creator: Creator, user_ids: list[int], course_id: int | None, lessons: dict | None = None
) -> tuple[dict, dict]:
    """({user_id: last active local day}, {user_id: completed lessons / lessons of the
    courses the user enrolled in or touched (capped at 1, 3 decimals)}) in one statement;
    with course_id, progress counts that course only."""
    lessons = lesson_counts(creator=creator) if lessons is None else lessons
    sql = _LAST_AND_PROGRESS.format(
        course="AND m.course_id = %(course)s" if course_id else "",
        enrolled_course="AND e.course_id = %(course)s" if course_id else "",
    )
    args: dict[str, Any] = {"creator": creator.pk, "ids": user_ids, "course": course_id}
    with connection.cursor() as cur:
        cur.execute(sql, args)
        rows = cur.fetchall()
    last: dict[int, Any] = {}
    touched: dict[int, set] = defaultdict(set)
    done: dict[int, int] = defaultdict(int)
    for user, course, n, day in rows:
        if day is not None:
            last[user] = day
        else:
            touched[user].add(course)
            done[user] += n
    progress = {
        u: round(min(1.0, done[u] / max(1, sum(lessons.get(c, 0) for c in cs))), 3)
        for u, cs in touched.items()
    }
    return last, progress


def student_get(*, creator: Creator, user_id: int) -> Any:
    """A user with any analytics row or membership at this creator; Http404 otherwise."""
    from creators.models import Membership, User

    user = User.objects.filter(pk=user_id).first()
    if user is None or not (
        StudentDay.objects.filter(creator=creator, user_id=user_id).exists()
        or Membership.objects.filter(creator=creator, user_id=user_id).exists()
    ):
        raise Http404("No such student.")
    return user


def student_detail(*, creator: Creator, user_id: int, rng: DateRange) -> dict:
    """One student's page: daily watch time, lesson progress rows and recent questions."""
    from courses.models import LessonProgress

    days = in_range(StudentDay.objects.filter(creator=creator, user_id=user_id), rng)
    per_day: dict[date, list] = defaultdict(lambda: [0.0, 0])
    for d, w, q in days.values_list("day", "watch_seconds", "questions"):
        per_day[d][0] += w
        per_day[d][1] += q
    lessons = list(
        LessonProgress.objects.filter(creator=creator, user_id=user_id)
        .select_related("lesson", "lesson__video", "lesson__module__course")
        .order_by("lesson__module__course__title", "lesson__module__position", "lesson__position")
    )
    questions = list(
        in_range(QuestionFact.objects.filter(creator=creator, user_id=user_id), rng)
        .select_related("video")
        .order_by("-asked_at")[:50]
    )
    xs = [rng.start + timedelta(days=i) for i in range(rng.days)]
    return {
        "x": xs,
        "watch_seconds": [round(per_day[x][0], 1) if x in per_day else 0.0 for x in xs],
        "questions_per_day": [per_day[x][1] if x in per_day else 0 for x in xs],
        "lessons": lessons,
        "questions": questions,
        "totals": {
            "watch_seconds": round(sum(v[0] for v in per_day.values()), 1),
            "questions": sum(v[1] for v in per_day.values()),
        },
    }


def students_count(*, creator: Creator, rng: DateRange, course_id: int | None = None) -> int:
    """How many students were active in the range."""
    qs = of_course(in_range(StudentDay.objects.filter(creator=creator), rng), course_id)
    return qs.aggregate(n=Count("user_id", distinct=True))["n"] or 0
