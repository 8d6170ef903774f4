"""Rollup writes: fold watch events, progress and questions into analytics tables.

`rollup_update` is incremental (the 5-minute django-q2 schedule): it reads only facts newer
than the creator's watermarks (minus OVERLAP_SECONDS, so rows whose transaction committed
late are not missed; re-folding is idempotent) and recomputes just the sessions, questions,
students, days and per-video buckets (analytics.buckets) they touch. `rollup_rebuild`
deletes a creator's rollups and folds everything again; the two always agree
(tests/test_analytics_rollups.py proves it on random event streams).

Definitions (Open edX Insights' 5-second segments; xAPI video "played segments"):
- a played segment is a WatchEvent's [time_from, time_to] for any verb but "seeked" (a seek
  moves the playhead, it plays nothing); segments are ordered by seq, never by arrival.
- a run is a continuous stretch of playback: the next segment starts within
  RUN_TOLERANCE_SECONDS of where the previous ended; a rewind, skip or seek starts a new run.
- a bucket's plays = runs that overlap it (by more than 0 s); unique viewers = students with
  at least one play; replays = plays - unique viewers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from analytics.buckets import video_buckets_refold
from analytics.models import (
    BUCKET_SECONDS,
    CourseDay,
    QuestionFact,
    RollupState,
    StudentDay,
    VideoDay,
    VideoViewerDay,
    WatchSession,
)
from analytics.ranges import tz_of, zone_for
from creators.models import Creator

# Re-read this many seconds before each watermark: a row stamped before the watermark but
# committed after the previous run is still picked up (ingest transactions are short).
OVERLAP_SECONDS = 120
# Chat answers saved but not yet written (chat.models.ChatMessage.Status), and how long one
# may hold back the questions watermark (seconds).
IN_FLIGHT = ("pending", "answering")
IN_FLIGHT_SECONDS = 600
# Two segments belong to one run when the second starts within this many seconds of the
# first's end (players report heartbeats with sub-second jitter).
RUN_TOLERANCE_SECONDS = 1.0
# A segment longer than this is clamped (a client bug or forged event must not fill a video).
MAX_SEGMENT_SECONDS = 600.0
# Users and sessions folded per batch (bounds memory on a rebuild of millions of events).
BATCH = 2000


@dataclass
class Segment:
    """One reported piece of a session, as the fold needs it."""

    seq: int
    verb: str
    time_from: float | None
    time_to: float | None


@dataclass
class SessionFold:
    """What one session adds up to; see the module docstring for the definitions."""

    runs: list[list[float]] = field(default_factory=list)
    watch_seconds: float = 0.0
    furthest: float = 0.0
    buckets: list[int] = field(default_factory=list)


def fold_segments(segments: Iterable[Segment], duration: float | None = None) -> SessionFold:
    """Fold one session's events (any order; sorted here by seq) into runs and bucket plays.

    duration: the video's length in seconds (positions are clamped to it when known).
    """
    out = SessionFold()
    current: list[float] | None = None
    for seg in sorted(segments, key=lambda s: s.seq):
        if seg.verb == "seeked":
            current = None
            continue
        if seg.time_from is None or seg.time_to is None:
            continue
        a, b = float(seg.time_from), float(seg.time_to)
        if not (math.isfinite(a) and math.isfinite(b)):
            continue
        a = max(0.0, a)
        if duration:
            b = min(b, float(duration))
        b = min(b, a + MAX_SEGMENT_SECONDS)
        if b <= a:
            continue
        out.watch_seconds += b - a
        out.furthest = max(out.furthest, b)
        if current is not None and abs(a - current[1]) <= RUN_TOLERANCE_SECONDS:
            current[1] = max(current[1], b)
        else:
            current = [a, b]
            out.runs.append(current)
    size = math.ceil((duration or out.furthest) / BUCKET_SECONDS) if out.runs else 0
    size = max(size, math.ceil(out.furthest / BUCKET_SECONDS))
    buckets = [0] * size
    for a, b in out.runs:
        for i in range(int(a // BUCKET_SECONDS), math.ceil(b / BUCKET_SECONDS)):
            buckets[i] += 1
    out.buckets = buckets
    return out


# --- watch sessions --------------------------------------------------------------------------


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
        rows = (
            WatchEvent.objects.filter(creator=creator, session_id__in=batch)
            .order_by()
            .values_list(
                "session_id",
                "seq",
                "verb",
                "time_from",
                "time_to",
                "received_at",
                "user_id",
                "video_id",
                "lesson_id",
            )
        )
        grouped: dict = defaultdict(list)
        for row in rows.iterator(chunk_size=5000):
            grouped[row[0]].append(row)
        video_ids = {r[0][7] for r in grouped.values() if r[0][7]}
        durations = dict(
            Video.objects.filter(pk__in=video_ids).values_list("pk", "duration_seconds")
        )
        courses = _course_of_lessons({r[0][8] for r in grouped.values() if r[0][8]})
        objs = []
        for sid, evs in grouped.items():
            first = min(evs, key=lambda r: (r[5], r[1]))
            video_id = next((r[7] for r in evs if r[7]), None)
            lesson_id = next((r[8] for r in evs if r[8]), None)
            fold = fold_segments(
                (Segment(r[1], r[2], r[3], r[4]) for r in evs), durations.get(video_id)
            )
            started = first[5]
            objs.append(
                WatchSession(
                    creator=creator,
                    session_id=sid,
                    user_id=first[6],
                    video_id=video_id,
                    lesson_id=lesson_id,
                    course_id=courses.get(lesson_id),
                    day=started.astimezone(zone).date(),
                    started_at=started,
                    ended_at=max(r[5] for r in evs),
                    events=len(evs),
                    watch_seconds=fold.watch_seconds,
                    furthest=fold.furthest,
                    buckets=fold.buckets,
                )
            )
            touched.add((first[6], objs[-1].day))
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


# --- questions -------------------------------------------------------------------------------


def _place(user_msg: dict, answer: dict | None) -> tuple[int | None, float | None, str]:
    video, position = user_msg.get("video_id"), user_msg.get("video_position")
    if video and position is not None:
        return video, float(position), QuestionFact.PlacedBy.PLAYER
    citations = (answer or {}).get("citations") or []
    top = next((c for c in citations if isinstance(c, dict) and c.get("video_id")), None)
    if top is not None:
        try:
            return int(top["video_id"]), float(top.get("start") or 0.0), "citation"
        except (TypeError, ValueError):
            pass
    if video:
        return video, None, QuestionFact.PlacedBy.PLAYER
    return None, None, QuestionFact.PlacedBy.NONE


def _message_fields() -> list[str]:
    from chat.models import ChatMessage

    names = {f.name for f in ChatMessage._meta.get_fields()}
    extra = [n for n in ("video_id", "video_position") if n.removesuffix("_id") in names]
    return ["id", "session_id", "role", "content", "citations", "covered", "created_at", *extra]


def questions_refold(*, creator: Creator, chat_session_ids: Iterable[int]) -> set[int]:
    """Recompute QuestionFact rows for every user question in the given chat sessions.

    Returns the (user id, day) pairs whose questions changed (before or after).
    """
    from chat.models import ChatMessage, ChatSession
    from courses.models import Lesson

    zone = zone_for(tz_of(creator))
    ids = list(chat_session_ids)
    touched: set[tuple] = set()
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        sessions = dict(
            ChatSession.objects.filter(creator=creator, pk__in=batch).values_list("pk", "user_id")
        )
        session_course = dict(
            ChatSession.objects.filter(creator=creator, pk__in=batch).values_list("pk", "course_id")
        )
        msgs = list(
            ChatMessage.objects.filter(creator=creator, session_id__in=batch)
            .exclude(role="assistant", status__in=IN_FLIGHT)  # not answered yet
            .order_by("session_id", "created_at", "id")
            .values(*_message_fields())
        )
        touched |= set(
            QuestionFact.objects.filter(creator=creator, message__session_id__in=batch)
            .values_list("user_id", "day")
            .distinct()
        )
        pending: list[tuple[dict, dict | None]] = []
        for i, m in enumerate(msgs):
            if m["role"] != "user":
                continue
            nxt = msgs[i + 1] if i + 1 < len(msgs) else None
            answer = (
                nxt
                if nxt and nxt["role"] == "assistant" and nxt["session_id"] == m["session_id"]
                else None
            )
            pending.append((m, answer))
        placed = [(m, a, *_place(m, a)) for m, a in pending]
        video_course = dict(
            Lesson.objects.filter(creator=creator, video_id__in={p[2] for p in placed if p[2]})
            .order_by("-id")
            .values_list("video_id", "module__course_id")
        )
        objs = [
            QuestionFact(
                creator=creator,
                message_id=m["id"],
                user_id=sessions[m["session_id"]],
                course_id=session_course.get(m["session_id"]) or video_course.get(video),
                video_id=video,
                position=position,
                placed_by=placed_by,
                asked_at=m["created_at"],
                day=m["created_at"].astimezone(zone).date(),
                covered=None if a is None else bool(a["covered"]),
                text=m["content"][:2000],
            )
            for m, a, video, position, placed_by in placed
        ]
        touched |= {(o.user_id, o.day) for o in objs}
        with transaction.atomic():
            QuestionFact.objects.filter(creator=creator, message__session_id__in=batch).delete()
            QuestionFact.objects.bulk_create(objs, batch_size=1000)
            _set_lexemes(creator.pk, [o.message_id for o in objs])
    return touched


def _set_lexemes(creator_id: int, message_ids: list[int]) -> None:
    if not message_ids:
        return
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE analytics_questionfact SET lexemes = "
            "array_to_string(tsvector_to_array(to_tsvector('english', text)), ' ') "
            "WHERE creator_id = %s AND message_id = ANY(%s)",
            [creator_id, message_ids],
        )


# --- per student / per course days -----------------------------------------------------------


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


def course_days_refold(*, creator: Creator, days: Iterable) -> None:
    """Recompute CourseDay rows of the given local days from StudentDay."""
    days = sorted(set(days))
    for start in range(0, len(days), 500):
        batch = days[start : start + 500]
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
                completions=done or 0,
                questions=q or 0,
                questions_not_covered=nc or 0,
            )
            for course, day, views, watch, active, done, q, nc in agg
        ]
        with transaction.atomic():
            CourseDay.objects.filter(creator=creator, day__in=batch).delete()
            CourseDay.objects.bulk_create(objs, batch_size=2000)


# --- the two entry points --------------------------------------------------------------------


def _since(qs, field_name: str, mark: datetime | None):
    if mark is None:
        return qs
    return qs.filter(**{f"{field_name}__gt": mark - timedelta(seconds=OVERLAP_SECONDS)})


def rollup_update(*, creator: Creator) -> dict[str, int]:
    """Fold whatever changed since the creator's watermarks (the 5-minute schedule).

    Returns counts {"sessions", "questions", "students", "days"} of what was recomputed.
    A changed Creator.timezone makes every stored `day` stale: then this rebuilds.
    """
    from chat.models import ChatMessage
    from courses.models import LessonProgress, WatchEvent

    state, _ = RollupState.objects.get_or_create(
        creator=creator, defaults={"timezone": tz_of(creator)}
    )
    if state.timezone != tz_of(creator):
        return rollup_rebuild(creator=creator)
    events = _since(WatchEvent.objects.filter(creator=creator), "received_at", state.events_through)
    ev_mark = events.aggregate(m=Max("received_at"))["m"]
    session_ids = list(events.order_by().values_list("session_id", flat=True).distinct())
    progress = _since(
        LessonProgress.objects.filter(creator=creator), "updated_at", state.progress_through
    )
    pr_mark = progress.aggregate(m=Max("updated_at"))["m"]
    zone = zone_for(tz_of(creator))
    progress_pairs = {
        (user, done.astimezone(zone).date())
        for user, done in progress.exclude(completed_at=None).values_list("user_id", "completed_at")
    }
    messages = _since(
        ChatMessage.objects.filter(creator=creator), "created_at", state.questions_through
    )
    q_mark = messages.aggregate(m=Max("created_at"))["m"]
    # An answer still streaming (chat.services.reply) is folded once it is written: the mark
    # stays before it (abandoned ones older than IN_FLIGHT_SECONDS no longer hold it).
    recent = timezone.now() - timedelta(seconds=IN_FLIGHT_SECONDS)
    in_flight = messages.filter(
        role="assistant", status__in=IN_FLIGHT, created_at__gte=recent
    ).aggregate(m=Min("created_at"))["m"]
    if in_flight is not None and q_mark is not None:
        q_mark = min(q_mark, in_flight - timedelta(microseconds=1))
    chat_ids = list(messages.order_by().values_list("session_id", flat=True).distinct())

    pairs = sessions_refold(creator=creator, session_ids=session_ids)
    video_buckets_refold(creator=creator, pairs=pairs)
    pairs |= questions_refold(creator=creator, chat_session_ids=chat_ids)
    pairs |= progress_pairs
    days = students_refold(creator=creator, pairs=pairs)
    course_days_refold(creator=creator, days=days)

    state.events_through = max(filter(None, [state.events_through, ev_mark]), default=None)
    state.progress_through = max(filter(None, [state.progress_through, pr_mark]), default=None)
    state.questions_through = max(filter(None, [state.questions_through, q_mark]), default=None)
    state.save()
    return {
        "sessions": len(session_ids),
        "questions": len(chat_ids),
        "students": len({u for u, _d in pairs}),
        "days": len(days),
    }


def rollup_rebuild(*, creator: Creator) -> dict[str, int]:
    """Delete the creator's rollups and fold every fact again (`analytics_rebuild`)."""
    with transaction.atomic():
        for model in (WatchSession, QuestionFact, StudentDay, CourseDay, VideoDay, VideoViewerDay):
            model.objects.filter(creator=creator).delete()
        RollupState.objects.update_or_create(
            creator=creator,
            defaults={
                "events_through": None,
                "progress_through": None,
                "questions_through": None,
                "timezone": tz_of(creator),
                "rebuilt_at": timezone.now(),
            },
        )
    return rollup_update(creator=creator)


def rollup_update_all() -> dict[str, int]:
    """The scheduled task body: rollup_update for every active creator.

    Returns {"creators": n, "sessions": total sessions refolded}.
    """
    totals = {"creators": 0, "sessions": 0}
    for creator in Creator.objects.active().order_by("pk"):
        result = rollup_update(creator=creator)
        totals["creators"] += 1
        totals["sessions"] += result["sessions"]
    return totals
