"""WatchSession rows refolded from the raw watch events."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import connection, transaction

from analytics.models import (
    WatchSession,
)
from analytics.ranges import tz_of, zone_for
from analytics.rollups.fold import BATCH, Segment, fold_segments
from creators.models import Creator


def _course_of_lessons(lesson_ids: set[int]) -> dict[int, int]:
    from courses.models import Lesson

    return dict(Lesson.objects.filter(pk__in=lesson_ids).values_list("pk", "module__course_id"))


def sessions_refold(*, creator: Creator, session_ids: Iterable) -> set[int]:
    """Recompute the WatchSession rows of `session_ids` from all of their events.

    Returns the (user id, day) pairs whose sessions changed (before or after).
    """
    from courses.models import WatchEvent
    from videos.models import Video

    zone = zone_for(tz_of(creator))
    ids = list(session_ids)
    touched: set[tuple] = set()
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        touched |= set(
            WatchSession.objects.filter(creator=creator, session_id__in=batch).values_list(
                "user_id", "day"
            )
        )
        # Each session's first event (by arrival, then seq: its student and start) and last
        # arrival in SQL, so only two timestamps a session are converted to Python; the
        # events themselves carry no timestamp (the fold orders them by seq).
        table = WatchEvent._meta.db_table
        with connection.cursor() as cur:
            cur.execute(
                "SELECT DISTINCT ON (session_id) session_id, user_id, received_at, "
                "MAX(received_at) OVER (PARTITION BY session_id) "
                f"FROM {table} WHERE creator_id = %s AND session_id = ANY(%s::uuid[]) "
                "ORDER BY session_id, received_at, seq",
                [creator.pk, batch],
            )
            ends = {sid: (user, first, last) for sid, user, first, last in cur.fetchall()}
            cur.execute(
                "SELECT session_id, seq, verb, time_from, time_to, video_id, lesson_id "
                f"FROM {table} WHERE creator_id = %s AND session_id = ANY(%s::uuid[])",
                [creator.pk, batch],
            )
            grouped: dict = defaultdict(list)
            for row in cur.fetchall():
                grouped[row[0]].append(row)
        video_ids = {r[0][5] for r in grouped.values() if r[0][5]}
        durations = dict(
            Video.objects.filter(pk__in=video_ids).values_list("pk", "duration_seconds")
        )
        courses = _course_of_lessons({r[0][6] for r in grouped.values() if r[0][6]})
        objs = []
        for sid, evs in grouped.items():
            user_id, started, ended = ends[sid]
            video_id = next((r[5] for r in evs if r[5]), None)
            lesson_id = next((r[6] for r in evs if r[6]), None)
            fold = fold_segments(
                (Segment(r[1], r[2], r[3], r[4]) for r in evs), durations.get(video_id)
            )
            objs.append(
                WatchSession(
                    creator=creator,
                    session_id=sid,
                    user_id=user_id,
                    video_id=video_id,
                    lesson_id=lesson_id,
                    course_id=courses.get(lesson_id),
                    day=started.astimezone(zone).date(),
                    started_at=started,
                    ended_at=ended,
                    events=len(evs),
                    watch_seconds=fold.watch_seconds,
                    furthest=fold.furthest,
                    buckets=fold.buckets,
                )
            )
            touched.add((user_id, objs[-1].day))
        with transaction.atomic():
            WatchSession.objects.filter(creator=creator, session_id__in=batch).delete()
            _sessions_copy(objs)
    return touched


_SESSION_COLUMNS = (
    "creator_id",
    "session_id",
    "user_id",
    "video_id",
    "lesson_id",
    "course_id",
    "day",
    "started_at",
    "ended_at",
    "events",
    "watch_seconds",
    "furthest",
)


def _sessions_copy(objs: list[WatchSession]) -> None:
    """Insert WatchSession rows with COPY. bulk_create prepared every bucket of every array
    through Django's field and psycopg's array dumper in Python: ~90 % of an incremental
    rollup of 100,000 events (cProfile, bench/analytics.py at full scale). Here each array
    is one text literal ("{1,0,2}"), which COPY parses in the server."""
    if not objs:
        return
    columns = ", ".join((*_SESSION_COLUMNS, "buckets"))
    with (
        connection.cursor() as cur,
        cur.cursor.copy(f"COPY {WatchSession._meta.db_table} ({columns}) FROM STDIN") as copy,
    ):
        for o in objs:
            row = [getattr(o, c) for c in _SESSION_COLUMNS]
            copy.write_row([*row, "{" + ",".join(map(str, o.buckets)) + "}"])
