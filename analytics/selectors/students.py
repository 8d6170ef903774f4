"""Student reads: the students table, one student's page, and how many were active."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Max, Q, Sum
from django.http import Http404

from analytics.models import QuestionFact, StudentDay
from analytics.ranges import DateRange, month_sql
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
    last = dict(
        StudentDay.objects.filter(creator=creator, user_id__in=ids)
        .values_list("user_id")
        .annotate(d=Max("day"))
        .order_by()
    )
    people = {
        u.pk: u for u in User.objects.filter(pk__in=ids).only("display_name", "email", "username")
    }
    progress = _user_progress(creator, ids, course_id, lessons)
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
    WITH present AS (
        SELECT m::date AS month
        FROM generate_series(%(first)s::timestamp, %(last)s::timestamp, interval '1 month') m
        WHERE (  -- one index probe a month
            SELECT 1 FROM analytics_studentmonth
            WHERE creator_id = %(creator)s AND month = m::date LIMIT 1
        ) IS NOT NULL
    ), other AS (
        SELECT d::date AS day FROM generate_series(%(start)s::date, %(end)s::date, '1 day') d
        WHERE {month_sql("d::date")} NOT IN (SELECT month FROM present)
    )
    SELECT user_id, SUM(w), SUM(q), SUM(c) FROM (
        SELECT user_id, watch_seconds AS w, questions AS q, completions AS c
        FROM analytics_studentmonth
        WHERE creator_id = %(creator)s AND month = ANY(ARRAY(SELECT month FROM present))
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


def _user_progress(
    creator: Creator, user_ids: list[int], course_id: int | None, lessons: dict | None = None
) -> dict:
    """{user_id: completed lessons / lessons of the courses the user enrolled in or touched}."""
    from courses.models import Enrollment, LessonProgress

    lessons = lesson_counts(creator=creator) if lessons is None else lessons
    touched: dict[int, set] = defaultdict(set)
    done: dict[int, int] = defaultdict(int)
    prog = of_course(
        LessonProgress.objects.filter(creator=creator, user_id__in=user_ids),
        course_id,
        "lesson__module__course_id",
    )
    for u, c, n in (
        prog.values_list("user_id", "lesson__module__course_id")
        .annotate(n=Count("id", filter=Q(completed_at__isnull=False)))
        .order_by()
    ):
        touched[u].add(c)
        done[u] += n
    enr = of_course(Enrollment.objects.filter(creator=creator, user_id__in=user_ids), course_id)
    for u, c in enr.values_list("user_id", "course_id"):
        touched[u].add(c)
    return {
        u: round(min(1.0, done[u] / max(1, sum(lessons.get(c, 0) for c in cs))), 3)
        for u, cs in touched.items()
    }


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
