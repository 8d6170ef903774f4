"""Watch tracking: player events (xAPI video verbs) stored append-only in WatchEvent,
idempotent on (session_id, seq), folded into LessonProgress (merged intervals, unique
seconds, completion)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from chronos.db import prepared_cursor
from courses import selectors
from courses.intervals import intervals_merge, intervals_total
from courses.models import LessonProgress, WatchEvent
from courses.services._common import _invalid, _num
from creators.models import User

# --- completion and anti-gaming constants (sources in RESEARCH.md) ---------------------------
# Complete at >= 90% unique coverage of the video (Teachable's rule).
COMPLETION_COVERAGE = 0.90
# "At the end" = within 2 s of the duration (Vimeo's "finish" event).
END_TOLERANCE_SECONDS = 2.0
# An `ended` event completes a lesson only after real playback: its own played interval
# reaches the end and at least half the video was watched (so seek-to-near-end-and-play
# does not count; a lost heartbeat or two does not block completion).
ENDED_MIN_COVERAGE = 0.50
# Growth faster than wall-clock x rate is discarded (Kolibri issue 2840); timers and
# network jitter get 25% + 1 s of slack.
GROWTH_SLACK = 1.25
GROWTH_TOLERANCE_SECONDS = 1.0
# The player flushes every 10 s; a session's first batch may claim at most this much wall
# time (nothing on the server clock anchors it yet).
FIRST_BATCH_WALL_SECONDS = 15.0
# HTMLMediaElement.playbackRate range browsers accept (Chromium/Firefox: 1/16 .. 16).
RATE_MIN, RATE_MAX = 0.0625, 16.0
# Longest batch accepted (the player sends a few events per 10 s).
MAX_EVENTS_PER_BATCH = 500
# seq is stored in a PostgreSQL integer column, ids in bigint ones.
SEQ_MAX = 2**31 - 1
ID_MAX = 2**63 - 1
# How long a lesson's "playable" verdict for a student is trusted (seconds), kept on their
# LessonProgress row (playable_checked_at) so every web process shares it. Locks only open
# by themselves (drip dates pass, completion is sticky); a lock the creator adds, or a
# membership that ends, stops the recording of heartbeats within this time. The verdict
# guards recording, not watching (the media route checks the lock rules on every request),
# and a check costs ~25 ms of server CPU against ~10 ms for a steady batch: at 60 s one
# batch in six paid it, at 300 s one in thirty (README, "Watch events").
PLAYABLE_RECHECK_SECONDS = 300
PLAYED_VERBS = {"played", "paused", "heartbeat", "ended"}


@dataclass
class CleanEvent:
    index: int
    lesson_id: int
    session_id: uuid.UUID
    seq: int
    verb: str
    position: float
    time_from: float | None
    time_to: float | None
    rate: float
    client_time: datetime | None


def watch_event_clean(index: int, raw: Any) -> tuple[CleanEvent | None, dict[str, list[str]]]:
    """Parse one event dict of the wire format {lesson_id, session_id, seq, verb, position,
    from, to, rate, client_time}. Returns (event, {}) or (None, {field: [message]})."""
    errors: dict[str, list[str]] = {}
    if not isinstance(raw, dict):
        return None, {"event": ["Each event must be an object."]}

    def grab(field: str, parse: Any, message: str) -> Any:
        try:
            return parse(raw.get(field))
        except (TypeError, ValueError, AttributeError):
            errors[field] = [message]
            return None

    lesson_id = grab("lesson_id",
                     lambda v: int(v) if not isinstance(v, bool) and 0 < int(v) <= ID_MAX
                     else int("x"), "lesson_id must be a lesson's id.")  # fmt: skip
    session_id = grab("session_id", lambda v: uuid.UUID(str(v)), "session_id must be a UUID.")
    seq = grab("seq", lambda v: int(_num(v) or 0) if float(v) == int(v) <= SEQ_MAX else int("x"),
               f"seq must be a whole number from 0 to {SEQ_MAX}.")  # fmt: skip
    verb: Any = raw.get("verb")
    if verb not in WatchEvent.Verb.values:
        errors["verb"] = [f"verb must be one of: {', '.join(WatchEvent.Verb.values)}."]
    position = grab("position", _num, "position must be seconds (a number >= 0).")
    time_from = grab("from", lambda v: _num(v, allow_none=True), "from must be seconds or null.")
    time_to = grab("to", lambda v: _num(v, allow_none=True), "to must be seconds or null.")
    rate = grab("rate", lambda v: 1.0 if v is None else _num(v), "rate must be a number.")
    if rate is not None and not RATE_MIN <= rate <= RATE_MAX:
        errors["rate"] = [f"rate must be between {RATE_MIN} and {RATE_MAX}."]
    client_time = None
    if raw.get("client_time") not in (None, ""):
        parsed = None
        try:
            parsed = parse_datetime(str(raw.get("client_time")))
        except ValueError:
            parsed = None
        if parsed is None or timezone.is_naive(parsed):
            errors["client_time"] = ["client_time must be an ISO 8601 time with a zone."]
        client_time = parsed
    if verb in PLAYED_VERBS and None not in (time_from, time_to) and time_to < time_from:
        errors["to"] = ["to must not be before from."]
    if errors:
        return None, errors
    event = CleanEvent(
        index=index,
        lesson_id=lesson_id,
        session_id=session_id,
        seq=seq,
        verb=verb,
        position=position,
        time_from=time_from,
        time_to=time_to,
        rate=rate,
        client_time=client_time,
    )
    return event, {}


@dataclass
class WatchResult:
    accepted: int
    duplicates: int


def watch_events_record(*, user: User, events: Any) -> WatchResult:
    """Store a batch of player events and fold the new ones into LessonProgress.

    events: list of wire dicts (see watch_event_clean). An event may only name a lesson
    `user` may play now (courses.selectors.lessons_playable: visible, unlocked, in a course
    open to them); that verdict is kept on the user's LessonProgress row and re-checked when
    older than PLAYABLE_RECHECK_SECONDS, so a steady heartbeat runs no lock check.
    All or nothing: any malformed event, or one naming another lesson, raises DomainError
    (fields {"events[<index>].<field>": [message], ...}) and nothing is stored.
    Idempotent on (session_id, seq): a resent event counts as a duplicate and is not
    folded twice. Heartbeats the fast lane queued for the same progress rows
    (watch_heartbeats_append) are folded first, in the order they were received.
    Returns WatchResult(accepted, duplicates)."""
    if not isinstance(events, list) or not events:
        raise _invalid({"events": ["events must be a non-empty list."]})
    if len(events) > MAX_EVENTS_PER_BATCH:
        raise _invalid({"events": [f"At most {MAX_EVENTS_PER_BATCH} events a batch."]})
    clean: list[CleanEvent] = []
    problems: dict[str, list[str]] = {}
    for i, raw in enumerate(events):
        event, errors = watch_event_clean(i, raw)
        for field, messages in errors.items():
            problems[f"events[{i}].{field}"] = messages
        if event is not None:
            clean.append(event)
    if problems:  # report the lessons too, as one answer (no hurry on this path)
        playable = selectors.lessons_playable(user=user, lesson_ids={e.lesson_id for e in clean})
        _raise_unplayable(clean, set(playable), problems)
    now = timezone.now()
    with transaction.atomic():
        new, previous, rows, lessons, checked, pending_lessons = _insert_and_lock(user, clean, now)
        fresh_since = now - timedelta(seconds=PLAYABLE_RECHECK_SECONDS)
        stale = {
            e.lesson_id
            for e in clean
            if e.lesson_id not in lessons
            or lessons[e.lesson_id].video_id is None
            or (checked.get(e.lesson_id) or fresh_since) <= fresh_since
        }
        if stale:  # rolls the statement above back when a lesson is not playable
            playable = selectors.lessons_playable(user=user, lesson_ids=stale)
            _raise_unplayable(clean, set(playable) | (set(lessons) - stale), {})
            if pending_lessons & set(rows):  # the check's read folded them: read them again
                again, _facts = _progress_lock([(user.pk, lesson_id) for lesson_id in rows])
                rows = {lesson_id: again[(user.pk, lesson_id)] for lesson_id in rows}
            for lesson_id in stale & set(rows):
                rows[lesson_id].playable_checked_at = now
        by_lesson: dict[int, list[CleanEvent]] = {}
        for event in new:
            by_lesson.setdefault(event.lesson_id, []).append(event)
        if by_lesson:
            if pending := pending_lessons & set(rows):  # the lane's heartbeats go first
                keys = [(user.pk, lesson_id) for lesson_id in sorted(pending)]
                _pending_fold_into(
                    {(user.pk, k): rows[k] for k in pending}, lessons, _pending_claim(keys)
                )
            for lesson_id, lesson_events in by_lesson.items():
                _fold(rows[lesson_id], lessons[lesson_id], lesson_events, previous, now)
            _progress_write(list(rows.values()))
    return WatchResult(accepted=len(new), duplicates=len(clean) - len(new))


def playable_verdict_stamp(*, user: User, lesson_id: int) -> None:
    """Record that `lesson_id` was just found playable for `user` (the lesson page ran the
    same lock rules to show its player), on their existing LessonProgress row if any, so the
    page's first heartbeat batch skips the check (~25 ms of server CPU). No row is created:
    opening a lesson is not starting it."""
    LessonProgress.objects.filter(user=user, lesson_id=lesson_id).update(
        playable_checked_at=timezone.now()
    )


def _raise_unplayable(
    events: list[CleanEvent], playable: set[int], problems: dict[str, list[str]]
) -> None:
    """Raise DomainError with `problems` plus "events[<i>].lesson_id" for each event naming
    a lesson outside `playable`, if there is any problem at all."""
    for e in events:
        if e.lesson_id not in playable:
            problems[f"events[{e.index}].lesson_id"] = ["No such lesson, or it is locked for you."]
    if problems:
        raise _invalid(dict(sorted(problems.items(), key=lambda kv: _index_of(kv[0]))))


def _index_of(key: str) -> int:
    """The event index of an "events[<i>].<field>" key."""
    return int(key[len("events[") : key.index("]")])


@dataclass
class LessonFacts:
    """What the fold and the insert need of a lesson, read in the batch's own statement."""

    creator_id: int
    video_id: int | None
    duration: float | None


# A session's latest event stored before this batch: (seq, client_time, received_at).
Previous = dict[uuid.UUID, tuple[int, datetime | None, datetime]]

_EVENT_COLUMNS = (
    "creator_id, lesson_id, video_id, user_id, session_id, seq, verb, position, time_from, "
    "time_to, rate, client_time, received_at"
)
_EVENT_VALUES = (
    "(%s::bigint,%s::uuid,%s::integer,%s::varchar,%s::float8,%s::float8,%s::float8,%s::float8,"
    "%s::timestamptz)"
)
# Sibling statements of a WITH share one snapshot, so `prev` and `chk` never see what `ins`
# and `prog` write; `prog` reads `ins`'s RETURNING list (the lessons that got a new event).
# Events join the lessons they name (`les`): an unknown lesson stores nothing and is
# reported. One row shape for the five kinds: 'l' lesson, 'c' verdict time, 'p' previous
# event, 'i' inserted event, 'g' progress, 'q' a lesson with heartbeats pending (the fast
# lane's, courses.models.PendingHeartbeat); then their columns.
_INSERT_AND_LOCK = (
    "WITH les AS (SELECT l.id, l.creator_id, l.video_id, v.duration_seconds "
    "FROM courses_lesson l LEFT JOIN videos_video v ON v.id = l.video_id "
    "WHERE l.id = ANY(%(lessons)s::bigint[])), "
    "chk AS (SELECT lesson_id, playable_checked_at FROM courses_lessonprogress "
    "WHERE user_id = %(user)s AND lesson_id = ANY(%(lessons)s::bigint[])), "
    "prev AS (SELECT DISTINCT ON (session_id) session_id, seq, client_time, "
    "received_at FROM courses_watchevent WHERE session_id = ANY(%(sessions)s::uuid[]) "
    "ORDER BY session_id, seq DESC), "
    f"ins AS (INSERT INTO courses_watchevent ({_EVENT_COLUMNS}) "
    "SELECT les.creator_id, les.id, les.video_id, %(user)s, e.session_id, e.seq, e.verb, "
    "e.position, e.time_from, e.time_to, e.rate, e.client_time, %(now)s "
    "FROM (VALUES {events}) AS e(lesson_id, session_id, seq, verb, position, time_from, "
    "time_to, rate, client_time) JOIN les ON les.id = e.lesson_id "
    "ON CONFLICT (session_id, seq) DO NOTHING RETURNING lesson_id, session_id, seq), "
    "prog AS (INSERT INTO courses_lessonprogress (creator_id, lesson_id, user_id, "
    "last_position, played_intervals, unique_seconds, started_at, completed_at, updated_at) "
    "SELECT les.creator_id, les.id, %(user)s, 0.0, '[]'::jsonb, 0.0, %(now)s, NULL, %(now)s "
    "FROM les WHERE les.id IN (SELECT lesson_id FROM ins) ORDER BY les.id "
    "ON CONFLICT (lesson_id, user_id) DO UPDATE SET updated_at = EXCLUDED.updated_at "
    "RETURNING id, lesson_id, last_position, played_intervals, unique_seconds, started_at, "
    "completed_at), "
    "pq AS (SELECT DISTINCT lesson_id FROM courses_pendingheartbeat "
    "WHERE user_id = %(user)s AND lesson_id = ANY(%(lessons)s::bigint[])) "
    "SELECT 'l', NULL::uuid, video_id::bigint, NULL::timestamptz, NULL::timestamptz, "
    "creator_id::bigint, id::bigint, duration_seconds::float8, NULL::jsonb, NULL::float8 "
    "FROM les "
    "UNION ALL SELECT 'c', NULL, NULL, playable_checked_at, NULL, NULL, lesson_id, NULL, NULL, "
    "NULL FROM chk "
    "UNION ALL SELECT 'p', session_id, seq, client_time, received_at, NULL, NULL, NULL, NULL, "
    "NULL FROM prev "
    "UNION ALL SELECT 'i', session_id, seq, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM ins "
    "UNION ALL SELECT 'g', NULL, NULL, started_at, completed_at, id, lesson_id, last_position, "
    "played_intervals, unique_seconds FROM prog "
    "UNION ALL SELECT 'q', NULL, NULL, NULL, NULL, NULL, lesson_id, NULL, NULL, NULL FROM pq"
)


def _insert_and_lock(user: User, events: list[CleanEvent], now: datetime) -> tuple[
    list[CleanEvent],
    Previous,
    dict[int, LessonProgress],
    dict[int, LessonFacts],
    dict[int, datetime | None],
    set[int],
]:  # fmt: skip
    """One statement (one round trip): the lessons the events name (with their video's
    duration) and the user's verdict times for them; from the snapshot before it, each
    session's latest stored event; INSERT the events of known lessons ON CONFLICT
    (session_id, seq) DO NOTHING; and for each lesson that got a new event, the user's
    LessonProgress, created if missing and row-locked until the transaction ends (INSERT
    ... ON CONFLICT DO UPDATE: the no-op update takes the lock, in lesson order, so
    concurrent batches of two tabs fold one after the other). Returns (the events inserted,
    duplicates inside the batch counted once; previous events by session; progress rows by
    lesson id, fields as stored; lesson facts by id; playable_checked_at by lesson id, for
    lessons the user has a progress row of; the lessons with heartbeats pending). Django's
    psycopg setup hands jsonb over as text, hence json.loads."""
    params: dict[str, Any] = {
        "lessons": sorted({e.lesson_id for e in events}),
        "sessions": sorted({e.session_id for e in events}),
        "user": user.pk,
        "now": now,
    }
    sql = _INSERT_AND_LOCK.replace("{events}", _event_values(events, params))
    inserted: set[tuple[uuid.UUID, int]] = set()
    pending: set[int] = set()
    previous: Previous = {}
    rows: dict[int, LessonProgress] = {}
    lessons: dict[int, LessonFacts] = {}
    checked: dict[int, datetime | None] = {}
    with prepared_cursor() as cur:
        cur.execute(sql, params)
        for kind, sid, seq, time_a, time_b, pk, lesson_id, num, played, uniq in cur:
            if kind == "l":
                lessons[lesson_id] = LessonFacts(creator_id=pk, video_id=seq, duration=num)
            elif kind == "c":
                checked[lesson_id] = time_a
            elif kind == "p":
                previous[uuid.UUID(str(sid))] = (seq, time_a, time_b)
            elif kind == "i":
                inserted.add((uuid.UUID(str(sid)), seq))
            elif kind == "q":
                pending.add(lesson_id)
            elif kind == "g":
                rows[lesson_id] = LessonProgress(
                    id=pk, lesson_id=lesson_id, user_id=user.pk, last_position=num,
                    played_intervals=json.loads(played), unique_seconds=uniq,
                    started_at=time_a, completed_at=time_b, updated_at=now,
                )  # fmt: skip
    for row in rows.values():
        row.creator_id = lessons[row.lesson_id].creator_id
        row.playable_checked_at = checked.get(row.lesson_id)
    return _inserted(events, inserted), previous, rows, lessons, checked, pending


def _event_values(events: list[CleanEvent], params: dict[str, Any]) -> str:
    """The VALUES rows of `events` for the insert statements (lesson_id, session_id, seq,
    verb, position, time_from, time_to, rate, client_time), their values added to `params`."""
    values = []
    for n, e in enumerate(events):
        names = [f"e{n}_{k}" for k in range(9)]
        values.append(_EVENT_VALUES % tuple(f"%({name})s" for name in names))
        params.update(zip(names, (
            e.lesson_id, e.session_id, e.seq, e.verb, e.position, e.time_from, e.time_to,
            e.rate, e.client_time,
        ), strict=True))  # fmt: skip
    return ",".join(values)


def _inserted(events: list[CleanEvent], keys: set[tuple[uuid.UUID, int]]) -> list[CleanEvent]:
    """The events whose (session_id, seq) the insert returned, in batch order; an event
    sent twice in one batch counts once."""
    new, seen = [], set()
    for e in events:
        key = (e.session_id, e.seq)
        if key in keys and key not in seen:
            seen.add(key)
            new.append(e)
    return new


def _progress_write(rows: list[LessonProgress]) -> None:
    """Write the folded fields of locked progress rows in one UPDATE ... FROM unnest()."""
    with prepared_cursor() as cur:
        cur.execute(
            "UPDATE courses_lessonprogress p SET played_intervals = v.played::jsonb, "
            "unique_seconds = v.uniq, last_position = v.pos, completed_at = v.done, "
            "updated_at = v.at, playable_checked_at = v.checked "
            "FROM unnest(%s::bigint[], %s::text[], %s::float8[], %s::float8[], "
            "%s::timestamptz[], %s::timestamptz[], %s::timestamptz[]) "
            "AS v(id, played, uniq, pos, done, at, checked) WHERE p.id = v.id",
            [
                [r.pk for r in rows],
                [json.dumps(r.played_intervals) for r in rows],
                [r.unique_seconds for r in rows],
                [r.last_position for r in rows],
                [r.completed_at for r in rows],
                [r.updated_at for r in rows],
                [r.playable_checked_at for r in rows],
            ],
        )


# --- the fast lane's heartbeats: stored at once, folded in bulk ------------------------------
# A steady heartbeat batch is most of the route's traffic (one per student every 10 s) and
# changes nothing a student sees until they pause, seek, finish, leave or open a page: the
# fast lane stores it with one statement and queues it (PendingHeartbeat); it is folded by
# the student's next other batch, by any read of their progress (courses.selectors.
# course_views) and by the worker's minute schedule (README, "Watch events").

_APPEND = (
    "WITH ok AS (SELECT l.id, l.creator_id, l.video_id FROM courses_lesson l "
    "JOIN courses_lessonprogress p ON p.lesson_id = l.id AND p.user_id = %(user)s "
    "WHERE l.id = %(lesson)s AND l.video_id IS NOT NULL "
    "AND p.playable_checked_at > %(fresh_since)s), "
    f"ins AS (INSERT INTO courses_watchevent ({_EVENT_COLUMNS}) "
    "SELECT ok.creator_id, ok.id, ok.video_id, %(user)s, e.session_id, e.seq, e.verb, "
    "e.position, e.time_from, e.time_to, e.rate, e.client_time, %(now)s "
    "FROM (VALUES {events}) AS e(lesson_id, session_id, seq, verb, position, time_from, "
    "time_to, rate, client_time) JOIN ok ON ok.id = e.lesson_id "
    "ON CONFLICT (session_id, seq) DO NOTHING RETURNING id, creator_id, session_id, seq), "
    "pend AS (INSERT INTO courses_pendingheartbeat (event_id, creator_id, user_id, lesson_id) "
    "SELECT id, creator_id, %(user)s, %(lesson)s FROM ins) "
    "SELECT 'k', NULL::uuid, NULL::bigint FROM ok "
    "UNION ALL SELECT 'i', session_id, seq FROM ins"
)


def watch_heartbeats_append(*, user_id: int, events: Any) -> WatchResult | None:
    """Store a batch of heartbeats to be folded later (one statement, no transaction): the
    player's steady batch, for the fast lane (chronos/heartbeats.py).

    events: as for watch_events_record. Takes only well-formed `heartbeat` events of one
    lesson whose playable verdict on the user's LessonProgress is younger than
    PLAYABLE_RECHECK_SECONDS (so the lock rules were checked as recently as on the full
    path); for any other batch it stores nothing and returns None, and the caller records
    it with watch_events_record, which checks, reports and folds everything. Idempotent on
    (session_id, seq) like it. Returns WatchResult(accepted, duplicates)."""
    if not isinstance(events, list) or not 0 < len(events) <= MAX_EVENTS_PER_BATCH:
        return None
    clean = []
    for i, raw in enumerate(events):
        event, _errors = watch_event_clean(i, raw)
        if event is None or event.verb != WatchEvent.Verb.HEARTBEAT:
            return None
        clean.append(event)
    if len({e.lesson_id for e in clean}) != 1:
        return None
    now = timezone.now()
    params: dict[str, Any] = {
        "user": user_id,
        "lesson": clean[0].lesson_id,
        "now": now,
        "fresh_since": now - timedelta(seconds=PLAYABLE_RECHECK_SECONDS),
    }
    sql = _APPEND.replace("{events}", _event_values(clean, params))
    fresh, inserted = False, set()
    with prepared_cursor() as cur:
        cur.execute(sql, params)
        for kind, sid, seq in cur:
            if kind == "k":
                fresh = True
            else:
                inserted.add((uuid.UUID(str(sid)), seq))
    if not fresh:
        return None
    new = _inserted(clean, inserted)
    return WatchResult(accepted=len(new), duplicates=len(clean) - len(new))


# Progress rows folded per transaction by watch_pending_fold.
PENDING_FOLD_BATCH = 500


def watch_pending_fold(*, user_id: int | None = None) -> int:
    """Fold the queued heartbeats (PendingHeartbeat) into LessonProgress, in the order they
    were received, exactly as watch_events_record would have folded them then; for one
    user (a read of their progress) or everyone (the worker's minute schedule,
    courses.tasks.pending_heartbeats_fold). Progress rows are locked in (lesson, user) order,
    PENDING_FOLD_BATCH per transaction; a row's queue is claimed under its lock, so no
    heartbeat is folded twice. One statement when nothing is queued.
    Returns the number of heartbeats folded."""
    folded = 0
    where = "WHERE user_id = %s " if user_id is not None else ""
    while True:
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT DISTINCT user_id, lesson_id FROM courses_pendingheartbeat {where}"
                "ORDER BY lesson_id, user_id LIMIT %s",
                [*([user_id] if user_id is not None else []), PENDING_FOLD_BATCH],
            )
            keys = cur.fetchall()
        if not keys:
            return folded
        with transaction.atomic():
            rows, lessons = _progress_lock(keys)
            claimed = _pending_claim(keys)
            _pending_fold_into(rows, lessons, claimed)
            now = timezone.now()
            changed = [rows[key] for key in {(c[0], c[1]) for c in claimed} if key in rows]
            for row in changed:
                row.updated_at = now  # analytics reads changes since its watermark by this
            if changed:
                _progress_write(changed)
        folded += len(claimed)
        if len(keys) < PENDING_FOLD_BATCH:
            return folded


def _progress_lock(
    keys: list[tuple[int, int]],
) -> tuple[dict[tuple[int, int], LessonProgress], dict[int, LessonFacts]]:
    """Lock the LessonProgress rows of (user_id, lesson_id) `keys` in (lesson, user) order;
    returns them by key, as stored, and the facts of their lessons by id."""
    rows: dict[tuple[int, int], LessonProgress] = {}
    lessons: dict[int, LessonFacts] = {}
    with connection.cursor() as cur:
        cur.execute(
            "SELECT p.id, p.lesson_id, p.user_id, p.last_position, p.played_intervals, "
            "p.unique_seconds, p.started_at, p.completed_at, p.updated_at, "
            "p.playable_checked_at, l.creator_id, l.video_id, v.duration_seconds "
            "FROM courses_lessonprogress p JOIN courses_lesson l ON l.id = p.lesson_id "
            "LEFT JOIN videos_video v ON v.id = l.video_id "
            "WHERE (p.user_id, p.lesson_id) IN "
            "(SELECT * FROM unnest(%s::bigint[], %s::bigint[])) "
            "ORDER BY p.lesson_id, p.user_id FOR UPDATE OF p",
            [[user for user, _lesson in keys], [lesson for _user, lesson in keys]],
        )
        for (pk, lesson_id, user_id, position, played, uniq, started, done, updated, checked,
             creator_id, video_id, duration) in cur:  # fmt: skip
            lessons[lesson_id] = LessonFacts(
                creator_id=creator_id, video_id=video_id, duration=duration
            )
            rows[(user_id, lesson_id)] = LessonProgress(
                id=pk, creator_id=creator_id, lesson_id=lesson_id, user_id=user_id,
                last_position=position, played_intervals=json.loads(played),
                unique_seconds=uniq, started_at=started, completed_at=done, updated_at=updated,
                playable_checked_at=checked,
            )  # fmt: skip
    return rows, lessons


# A claimed heartbeat with the latest event of its session stored before it:
# (user_id, lesson_id, received_at, event, previous or None).
Claimed = tuple[int, int, datetime, CleanEvent, tuple[int, datetime | None, datetime] | None]


def _pending_claim(keys: list[tuple[int, int]]) -> list[Claimed]:
    """Delete the queue entries of (user_id, lesson_id) `keys` (their progress rows locked
    by the caller) and return their heartbeats, oldest first, each with the latest event
    of its session received before it (the `previous` watch_events_record would have read
    then)."""
    with prepared_cursor() as cur:
        cur.execute(
            "WITH claimed AS (DELETE FROM courses_pendingheartbeat WHERE (user_id, lesson_id) "
            "IN (SELECT * FROM unnest(%s::bigint[], %s::bigint[])) RETURNING event_id) "
            "SELECT e.user_id, e.lesson_id, e.received_at, e.session_id, e.seq, e.verb, "
            "e.position, e.time_from, e.time_to, e.rate, e.client_time, "
            "pv.seq, pv.client_time, pv.received_at "
            "FROM claimed JOIN courses_watchevent e ON e.id = claimed.event_id "
            "LEFT JOIN LATERAL (SELECT w.seq, w.client_time, w.received_at "
            "FROM courses_watchevent w WHERE w.session_id = e.session_id "
            "AND w.received_at < e.received_at ORDER BY w.seq DESC LIMIT 1) pv ON true "
            "ORDER BY e.received_at, e.session_id, e.seq",
            [[user for user, _lesson in keys], [lesson for _user, lesson in keys]],
        )
        claimed: list[Claimed] = []
        for (user_id, lesson_id, received, sid, seq, verb, position, time_from, time_to, rate,
             client_time, prev_seq, prev_client, prev_received) in cur:  # fmt: skip
            event = CleanEvent(
                index=0, lesson_id=lesson_id, session_id=uuid.UUID(str(sid)), seq=seq,
                verb=verb, position=position, time_from=time_from, time_to=time_to, rate=rate,
                client_time=client_time,
            )  # fmt: skip
            previous = None if prev_seq is None else (prev_seq, prev_client, prev_received)
            claimed.append((user_id, lesson_id, received, event, previous))
    return claimed


def _pending_fold_into(
    rows: dict[tuple[int, int], LessonProgress],
    lessons: dict[int, LessonFacts],
    claimed: list[Claimed],
) -> None:
    """Fold claimed heartbeats into their (locked) progress rows, in memory, one received
    batch at a time as watch_events_record folded it: same `previous`, same `now` (the
    time it was received). A batch received before the row was last written (a commit that
    raced a later batch) adds its intervals but does not move the resume point back."""
    batches: dict[tuple[int, int, datetime], tuple[list[CleanEvent], Previous]] = {}
    for user_id, lesson_id, received, event, previous in claimed:
        events, before = batches.setdefault((user_id, lesson_id, received), ([], {}))
        events.append(event)
        if previous is not None:
            before[event.session_id] = previous
    for (user_id, lesson_id, received), (events, before) in batches.items():
        row = rows.get((user_id, lesson_id))
        if row is None:  # no progress row to fold into (its lesson is being deleted)
            continue
        written_at, position = row.updated_at, row.last_position
        _fold(row, lessons[lesson_id], events, before, received)
        if received < written_at:
            row.last_position = position


def _fold(
    progress: LessonProgress,
    lesson: LessonFacts,
    events: list[CleanEvent],
    previous: Previous,
    now: datetime,
) -> None:
    """Fold new events of one lesson into the user's (locked) LessonProgress, in memory;
    the caller writes it with _progress_write."""
    limit = lesson.duration if lesson.duration and lesson.duration > 0 else None
    accepted: list[list[float]] = []
    ended_at_end = False
    by_session: dict[uuid.UUID, list[CleanEvent]] = {}
    for e in events:
        by_session.setdefault(e.session_id, []).append(e)
    for sid, session_events in by_session.items():
        session_events.sort(key=lambda e: e.seq)
        prev = previous.get(sid)
        prev_seq = prev[0] if prev else -1
        prev_client = prev[1] if prev else None
        server_left = (now - prev[2]).total_seconds() if prev else FIRST_BATCH_WALL_SECONDS
        for e in session_events:
            if e.seq < prev_seq:  # arrived late: no anchor, so the first-batch allowance
                prev_client, server_left = None, min(server_left, FIRST_BATCH_WALL_SECONDS)
            client_wall = (
                (e.client_time - prev_client).total_seconds()
                if e.client_time is not None and prev_client is not None
                else None
            )
            wall = server_left if client_wall is None else min(client_wall, server_left)
            if e.verb in PLAYED_VERBS and e.time_from is not None and e.time_to is not None:
                length = e.time_to - e.time_from
                if length > 0 and length <= max(wall, 0.0) * e.rate * GROWTH_SLACK + (
                    GROWTH_TOLERANCE_SECONDS
                ):
                    accepted.append([e.time_from, e.time_to])
                    if client_wall is None:
                        client_wall = length / e.rate
                    if e.verb == "ended" and (
                        limit is None or e.time_to >= limit - END_TOLERANCE_SECONDS
                    ):
                        ended_at_end = True
            server_left -= max(client_wall if client_wall is not None else 0.0, 0.0)
            server_left = max(server_left, 0.0)
            if e.client_time is not None:
                prev_client = e.client_time
            prev_seq = max(prev_seq, e.seq)
    merged = intervals_merge([*progress.played_intervals, *accepted], limit=limit)
    unique = intervals_total(merged)
    coverage = unique / limit if limit else 0.0
    last = events[-1]
    progress.played_intervals, progress.unique_seconds = merged, unique
    progress.last_position = min(last.position, limit) if limit else last.position
    if progress.completed_at is None and (
        (limit and coverage >= COMPLETION_COVERAGE)
        or (ended_at_end and (not limit or coverage >= ENDED_MIN_COVERAGE))
    ):
        progress.completed_at = now
    ended = any(e.verb == "ended" for e in events)
    if progress.completed_at is not None and ended and last.verb == "ended":
        progress.last_position = 0.0  # completed and played to the end: start over next time
    progress.updated_at = now
