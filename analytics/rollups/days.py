"""Per student and per course per day rollups (StudentDay, CourseDay) and per student per
closed month (StudentMonth)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate

from analytics.buckets import closed_months_refold
from analytics.models import (
    CourseDay,
    QuestionFact,
    StudentDay,
    WatchSession,
)
from analytics.ranges import month_sql, tz_of, zone_for
from analytics.rollups.fold import BATCH
from creators.models import Creator


def students_refold(*, creator: Creator, pairs: Iterable[tuple]) -> set:
    """Recompute the StudentDay rows of the given (user id, local day) pairs from sessions,
    progress and questions. Returns the set of days whose CourseDay rows need recomputing.
    """
    from courses.models import LessonProgress

    zone = zone_for(tz_of(creator))
    by_user: dict[int, set] = defaultdict(set)
    for user, day in pairs:
        by_user[user].add(day)
    users = sorted(by_user)
    days: set = set()
    for start in range(0, len(users), BATCH):
        batch = users[start : start + BATCH]
        wanted = {(u, d) for u in batch for d in by_user[u]}
        batch_days = sorted({d for _u, d in wanted})
        rows: dict[tuple, dict] = defaultdict(
            lambda: {"sessions": 0, "watch": 0.0, "done": 0, "q": 0, "nc": 0}
        )
        for user, course, day, n, secs in (
            WatchSession.objects.filter(creator=creator, user_id__in=batch, day__in=batch_days)
            .values_list("user_id", "course_id", "day")
            .annotate(n=Count("id"), secs=Sum("watch_seconds"))
            .order_by()
        ):
            rows[(user, course, day)].update(sessions=n, watch=secs or 0.0)
        for user, course, day, n in (
            LessonProgress.objects.filter(
                creator=creator, user_id__in=batch, completed_at__isnull=False
            )
            .annotate(d=TruncDate("completed_at", tzinfo=zone))
            .filter(d__in=batch_days)
            .values_list("user_id", "lesson__module__course_id", "d")
            .annotate(n=Count("id"))
            .order_by()
        ):
            rows[(user, course, day)]["done"] = n
        for user, course, day, n, nc in (
            QuestionFact.objects.filter(creator=creator, user_id__in=batch, day__in=batch_days)
            .values_list("user_id", "course_id", "day")
            .annotate(n=Count("id"), nc=Count("id", filter=Q(covered=False)))
            .order_by()
        ):
            rows[(user, course, day)].update(q=n, nc=nc)
        keep = {k: v for k, v in rows.items() if (k[0], k[2]) in wanted}
        days |= set(batch_days)
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(
                "DELETE FROM analytics_studentday WHERE creator_id = %s AND (user_id, day) IN "
                "(SELECT unnest(%s::bigint[]), unnest(%s::date[]))",
                [creator.pk, [u for u, _d in wanted], [d for _u, d in wanted]],
            )
            StudentDay.objects.bulk_create(
                [
                    StudentDay(
                        creator=creator,
                        user_id=u,
                        course_id=c,
                        day=d,
                        sessions=v["sessions"],
                        watch_seconds=v["watch"],
                        completions=v["done"],
                        questions=v["q"],
                        questions_not_covered=v["nc"],
                    )
                    for (u, c, d), v in keep.items()
                ],
                batch_size=2000,
            )
    return days


# New students get the next free bits, in user id order (StudentBit rows are never deleted
# but by a rebuild, so a bit never changes hands).
_ASSIGN_BITS = """
    INSERT INTO analytics_studentbit (creator_id, user_id, bit)
    SELECT %(creator)s, user_id, ROW_NUMBER() OVER (ORDER BY user_id) - 1 + (
        SELECT COALESCE(MAX(bit) + 1, 0) FROM analytics_studentbit WHERE creator_id = %(creator)s
    )
    FROM (
        SELECT DISTINCT user_id FROM analytics_studentday
        WHERE creator_id = %(creator)s AND day = ANY(%(days)s::date[])
        EXCEPT SELECT user_id FROM analytics_studentbit WHERE creator_id = %(creator)s
    ) new
"""

_DAY_BITS = """
    SELECT s.course_id, s.day, array_agg(b.bit)
    FROM analytics_studentday s
    JOIN analytics_studentbit b ON b.creator_id = s.creator_id AND b.user_id = s.user_id
    WHERE s.creator_id = %(creator)s AND s.day = ANY(%(days)s::date[])
    GROUP BY 1, 2
"""


def course_day_bitmaps(*, creator_id: int, days: list) -> dict[tuple, bytes]:
    """The CourseDay.students bitmaps of the given local days, from StudentDay:
    {(course id or None, day): bytes}. Gives students seen for the first time their
    StudentBit first (raw SQL only: the 0007 migration backfills with it too)."""
    args = {"creator": creator_id, "days": sorted(days)}
    with connection.cursor() as cur:
        cur.execute(_ASSIGN_BITS, args)
        cur.execute(_DAY_BITS, args)
        rows = cur.fetchall()
    out = {}
    for course, day, bits in rows:
        mask = bytearray(max(bits) // 8 + 1)
        for b in bits:
            mask[b >> 3] |= 1 << (b & 7)
        out[(course, day)] = bytes(mask)
    return out


def course_days_refold(*, creator: Creator, days: Iterable) -> None:
    """Recompute CourseDay rows of the given local days from StudentDay."""
    days = sorted(set(days))
    for start in range(0, len(days), 500):
        batch = days[start : start + 500]
        bitmaps = course_day_bitmaps(creator_id=creator.pk, days=batch)
        agg = (
            StudentDay.objects.filter(creator=creator, day__in=batch)
            .values_list("course_id", "day")
            .annotate(
                views=Sum("sessions"),
                watch=Sum("watch_seconds"),
                active=Count("user_id"),
                done=Sum("completions"),
                q=Sum("questions"),
                nc=Sum("questions_not_covered"),
            )
            .order_by()
        )
        objs = [
            CourseDay(
                creator=creator,
                course_id=course,
                day=day,
                views=views or 0,
                watch_seconds=watch or 0.0,
                active_students=active,
                students=bitmaps.get((course, day), b""),
                completions=done or 0,
                questions=q or 0,
                questions_not_covered=nc or 0,
            )
            for course, day, views, watch, active, done, q, nc in agg
        ]
        with transaction.atomic():
            CourseDay.objects.filter(creator=creator, day__in=batch).delete()
            CourseDay.objects.bulk_create(objs, batch_size=2000)


_STUDENT_MONTHS = f"""
    INSERT INTO analytics_studentmonth
        (creator_id, user_id, month, watch_seconds, questions, completions)
    SELECT %(creator)s, user_id, {month_sql("day")}, SUM(watch_seconds), SUM(questions),
           SUM(completions)
    FROM analytics_studentday
    WHERE creator_id = %(creator)s AND day >= %(lo)s AND day < %(hi)s
      AND {month_sql("day")} = ANY(%(months)s::date[])
    GROUP BY 2, 3
"""

# Closed months with StudentDay rows but no StudentMonth rows yet (two index probes a month
# since the first day, not a scan of every StudentDay row).
_STUDENT_MONTHS_MISSING = f"""
    SELECT m::date FROM generate_series(
        (SELECT {month_sql("MIN(day)")} FROM analytics_studentday
         WHERE creator_id = %(creator)s)::timestamp,
        %(current)s::timestamp - interval '1 month', interval '1 month'
    ) m
    WHERE (
        SELECT 1 FROM analytics_studentday WHERE creator_id = %(creator)s
          AND day >= m::date AND day < (m + interval '1 month')::date LIMIT 1
    ) IS NOT NULL AND (
        SELECT 1 FROM analytics_studentmonth
        WHERE creator_id = %(creator)s AND month = m::date LIMIT 1
    ) IS NULL
"""


def student_months_refold(*, creator: Creator, days: Iterable) -> list:
    """Recompute StudentMonth for the closed months among `days` (whose StudentDay rows just
    changed) and for closed months not materialised yet (analytics.buckets.
    closed_months_refold). Returns the months written (first days), oldest first."""
    return closed_months_refold(
        creator=creator, days=days, missing_sql=_STUDENT_MONTHS_MISSING,
        table="analytics_studentmonth", fill_sql=_STUDENT_MONTHS,
    )  # fmt: skip
