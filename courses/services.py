"""Writes for courses: the builder (courses, modules, lessons, order), enrollment, watch
events folded into lesson progress, and notes. Keyword-only, typed, transactional.

Errors: chronos.errors.DomainError with field messages for bad input (the API renders it
as a 400 {"error", "code": "invalid", "fields"});
lookups of objects the caller may not touch happen in courses.selectors (Http404).
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from chronos.errors import DomainError
from courses.intervals import intervals_merge, intervals_total
from courses.models import (
    Course,
    Enrollment,
    Lesson,
    LessonNote,
    LessonProgress,
    Module,
    WatchEvent,
)
from creators.models import Creator, User
from creators.slugs import unique_slug
from videos.models import Video

TITLE_MAX = 200
DESCRIPTION_MAX = 20_000
NOTE_MAX = 5_000
# Drip up to ten years; larger is a typo.
DRIP_DAYS_MAX = 3650

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
PLAYED_VERBS = {"played", "paused", "heartbeat", "ended"}


# --- courses -----------------------------------------------------------------------------


def _invalid(fields: dict[str, list[str]]) -> DomainError:
    """Bad input: a DomainError naming its fields (the message repeats the first one)."""
    first = next((m for msgs in fields.values() for m in msgs), "Invalid input.")
    return DomainError(first, fields=fields)


def _clean_title(title: Any, field: str = "title") -> str:
    text = (title or "").strip() if isinstance(title, str) else ""
    if not text:
        raise _invalid({field: ["A title is required."]})
    if len(text) > TITLE_MAX:
        raise _invalid({field: [f"Titles are limited to {TITLE_MAX} characters."]})
    return text


def _clean_description(description: Any) -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        raise _invalid({"description": ["The description must be text."]})
    if len(description) > DESCRIPTION_MAX:
        raise _invalid(
            {"description": [f"Descriptions are limited to {DESCRIPTION_MAX} characters."]}
        )
    return description.strip()


def _unique_slug(creator: Creator, title: str, exclude_pk: int | None = None) -> str:
    return unique_slug(
        title,
        queryset=Course.objects.filter(creator=creator).exclude(pk=exclude_pk),
        field="slug",
        max_length=70,
        fallback="course",
    )


def course_create(
    *, creator: Creator, title: str, description: str = "", sequential: bool = False
) -> Course:
    """A new draft course, last in the creator's list. Raises DomainError for a
    missing/too long title or description."""
    title = _clean_title(title)
    description = _clean_description(description)
    with transaction.atomic():
        last = Course.objects.filter(creator=creator).aggregate(m=Max("position"))["m"]
        return Course.objects.create(
            creator=creator,
            title=title,
            slug=_unique_slug(creator, title),
            description=description,
            sequential=bool(sequential),
            position=(last + 1) if last is not None else 0,
        )


def course_update(
    *,
    course: Course,
    title: str | None = None,
    description: str | None = None,
    status: str | None = None,
    sequential: bool | None = None,
    thumbnail: Any = None,
    clear_thumbnail: bool = False,
) -> Course:
    """Change the given fields (None = keep). status: "draft" | "published"; thumbnail:
    an uploaded image file. Raises DomainError for bad values."""
    fields: list[str] = []
    if title is not None:
        course.title = _clean_title(title)
        fields.append("title")
    if description is not None:
        course.description = _clean_description(description)
        fields.append("description")
    if status is not None:
        if status not in Course.Status.values:
            raise _invalid({"status": ['Status must be "draft" or "published".']})
        course.status = status
        fields.append("status")
    if sequential is not None:
        if not isinstance(sequential, bool):
            raise _invalid({"sequential": ["sequential must be true or false."]})
        course.sequential = sequential
        fields.append("sequential")
    old_thumb = course.thumbnail.name if course.thumbnail else ""
    if thumbnail is not None:
        course.thumbnail.save(thumbnail.name, thumbnail, save=False)
        fields.append("thumbnail")
    elif clear_thumbnail and old_thumb:
        course.thumbnail = ""
        fields.append("thumbnail")
    if fields:
        course.save(update_fields=[*fields, "updated_at"])
    if "thumbnail" in fields and old_thumb and old_thumb != (course.thumbnail.name or ""):
        storage = course.thumbnail.storage
        transaction.on_commit(lambda: storage.delete(old_thumb))
    return course


def course_delete(*, course: Course) -> None:
    """Delete a course with its modules, lessons, enrollments, progress and events."""
    thumb = course.thumbnail.name if course.thumbnail else ""
    storage = course.thumbnail.storage
    with transaction.atomic():
        course.delete()
        if thumb:
            transaction.on_commit(lambda: storage.delete(thumb))


# --- modules and lessons -------------------------------------------------------------------


def module_create(*, course: Course, title: str) -> Module:
    """A module appended to the course."""
    title = _clean_title(title)
    with transaction.atomic():
        last = Module.objects.filter(course=course).aggregate(m=Max("position"))["m"]
        return Module.objects.create(
            creator_id=course.creator_id,
            course=course,
            title=title,
            position=(last + 1) if last is not None else 0,
        )


def module_update(*, module: Module, title: str | None = None) -> Module:
    if title is not None:
        module.title = _clean_title(title)
        module.save(update_fields=["title"])
    return module


def module_delete(*, module: Module) -> None:
    """Delete a module and its lessons (with their progress and events)."""
    module.delete()


def _clean_drip(drip_days: Any) -> int:
    if isinstance(drip_days, bool):
        raise _invalid({"drip_days": ["drip_days must be a whole number of days."]})
    try:
        value = int(drip_days)
    except (TypeError, ValueError):
        raise _invalid({"drip_days": ["drip_days must be a whole number of days."]}) from None
    if value < 0 or value > DRIP_DAYS_MAX or str(value) != str(drip_days).strip():
        raise _invalid(
            {"drip_days": [f"drip_days must be a whole number from 0 to {DRIP_DAYS_MAX}."]}
        )
    return value


def _clean_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false", "1", "0", "on", "off"}:
        return value.lower() in {"true", "1", "on"}
    raise _invalid({field: [f"{field} must be true or false."]})


def _video_of(creator_id: int, video_id: Any) -> Video:
    try:
        vid = int(video_id)
    except (TypeError, ValueError):
        raise _invalid({"video_id": ["video_id must be a video's id."]}) from None
    video = Video.objects.filter(creator_id=creator_id, pk=vid).first()
    if video is None:
        raise _invalid({"video_id": ["No such video in this library."]})
    return video


def lesson_create(
    *,
    module: Module,
    video_id: int,
    title: str | None = None,
    drip_days: int = 0,
    is_preview: bool = False,
) -> Lesson:
    """A lesson appended to `module`, playing one of the creator's videos. title defaults
    to the video's. Raises DomainError for a foreign video or bad values."""
    video = _video_of(module.creator_id, video_id)
    clean_title = _clean_title(title) if title not in (None, "") else video.title[:TITLE_MAX]
    drip = _clean_drip(drip_days)
    preview = _clean_bool(is_preview, "is_preview")
    with transaction.atomic():
        last = Lesson.objects.filter(module=module).aggregate(m=Max("position"))["m"]
        return Lesson.objects.create(
            creator_id=module.creator_id,
            module=module,
            video=video,
            title=clean_title,
            drip_days=drip,
            is_preview=preview,
            position=(last + 1) if last is not None else 0,
        )


def lesson_update(
    *,
    lesson: Lesson,
    title: str | None = None,
    drip_days: int | None = None,
    is_preview: bool | None = None,
    video_id: int | None = None,
) -> Lesson:
    """Change the given fields (None = keep). A blank title falls back to the video's."""
    fields: list[str] = []
    if video_id is not None:
        lesson.video = _video_of(lesson.creator_id, video_id)
        fields.append("video")
    if title is not None:
        if title.strip() == "" and lesson.video is not None:
            title = lesson.video.title[:TITLE_MAX]
        lesson.title = _clean_title(title)
        fields.append("title")
    if drip_days is not None:
        lesson.drip_days = _clean_drip(drip_days)
        fields.append("drip_days")
    if is_preview is not None:
        lesson.is_preview = _clean_bool(is_preview, "is_preview")
        fields.append("is_preview")
    if fields:
        lesson.save(update_fields=fields)
    return lesson


def lesson_delete(*, lesson: Lesson) -> None:
    """Delete a lesson (its progress, events and notes go with it)."""
    lesson.delete()


def lesson_move(*, lesson: Lesson, direction: str = "", module: Module | None = None) -> None:
    """The keyboard/touch alternative to dragging: direction "up"/"down" moves the lesson
    one place inside its module (across into the neighbouring module at the edges);
    `module` moves it to the end of another module of the same course."""
    course = lesson.module.course
    order = _current_order(course)
    flat = [(m, lid) for m, lids in order for lid in lids]
    if module is not None:
        if module.course_id != course.pk:
            raise _invalid({"module": ["That module is in another course."]})
        for _mid, lids in order:
            if lesson.pk in lids:
                lids.remove(lesson.pk)
        dict(order)[module.pk].append(lesson.pk)
    elif direction in ("up", "down"):
        index = next(i for i, (_m, lid) in enumerate(flat) if lid == lesson.pk)
        mod_ids = [m for m, _l in order]
        here = flat[index][0]
        lids = dict(order)[here]
        pos = lids.index(lesson.pk)
        step = -1 if direction == "up" else 1
        if 0 <= pos + step < len(lids):
            lids[pos], lids[pos + step] = lids[pos + step], lids[pos]
        else:
            target = mod_ids.index(here) + step
            if not 0 <= target < len(mod_ids):
                return
            lids.remove(lesson.pk)
            other = dict(order)[mod_ids[target]]
            if step < 0:
                other.append(lesson.pk)
            else:
                other.insert(0, lesson.pk)
    else:
        raise _invalid({"direction": ['Move "up", "down" or to a module.']})
    course_order_set(course=course, order=[{"id": m, "lessons": lids} for m, lids in order])


def module_move(*, module: Module, direction: str) -> None:
    """Move a module one place up or down in its course."""
    order = _current_order(module.course)
    ids = [m for m, _l in order]
    i = ids.index(module.pk)
    j = i + (-1 if direction == "up" else 1 if direction == "down" else 0)
    if j == i or not 0 <= j < len(ids):
        if direction not in ("up", "down"):
            raise _invalid({"direction": ['Move "up" or "down".']})
        return
    order[i], order[j] = order[j], order[i]
    course_order_set(course=module.course, order=[{"id": m, "lessons": ls} for m, ls in order])


def _current_order(course: Course) -> list[tuple[int, list[int]]]:
    modules = list(Module.objects.filter(course=course).order_by("position", "id"))
    lessons = Lesson.objects.filter(module__course=course).order_by("position", "id")
    by_module: dict[int, list[int]] = {m.pk: [] for m in modules}
    for lesson in lessons.values("pk", "module_id"):
        by_module[lesson["module_id"]].append(lesson["pk"])
    return [(m.pk, by_module[m.pk]) for m in modules]


def course_order_set(*, course: Course, order: Any) -> None:
    """Replace the whole order: `order` = [{"id": module_id, "lessons": [lesson ids]}, ...],
    every module and lesson of the course exactly once; lessons may change module.
    Positions are renumbered 0..n-1 in one transaction. Raises DomainError (field
    "modules") for an id outside the course, one left out, a duplicate or a bad shape."""
    if not isinstance(order, list):
        raise _invalid({"modules": ["modules must be a list of {id, lessons}."]})
    module_ids: list[int] = []
    placement: list[tuple[int, int, int]] = []  # (lesson, module, position)
    try:
        for entry in order:
            mid = int(entry["id"])
            lessons = entry.get("lessons", [])
            if not isinstance(lessons, list):
                raise TypeError
            module_ids.append(mid)
            placement.extend((int(lid), mid, i) for i, lid in enumerate(lessons))
    except (TypeError, ValueError, KeyError, AttributeError):
        raise _invalid(
            {"modules": ["Each module must be {id: int, lessons: [int, ...]}."]}
        ) from None
    with transaction.atomic():
        have_modules = set(
            Module.objects.select_for_update().filter(course=course).values_list("pk", flat=True)
        )
        have_lessons = set(
            Lesson.objects.filter(module__course=course).values_list("pk", flat=True)
        )
        lesson_ids = [lid for lid, _m, _p in placement]
        problems = []
        if len(set(module_ids)) != len(module_ids) or len(set(lesson_ids)) != len(lesson_ids):
            problems.append("An id appears twice.")
        if foreign := (set(module_ids) - have_modules) | (set(lesson_ids) - have_lessons):
            problems.append(f"Not in this course: {', '.join(map(str, sorted(foreign)))}.")
        if missing := (have_modules - set(module_ids)) | (have_lessons - set(lesson_ids)):
            problems.append(f"Left out: {', '.join(map(str, sorted(missing)))}.")
        if problems:
            raise _invalid({"modules": problems})
        with connection.cursor() as cur:
            if module_ids:
                cur.execute(
                    "UPDATE courses_module m SET position = v.pos FROM "
                    "unnest(%s::bigint[], %s::int[]) AS v(id, pos) WHERE m.id = v.id",
                    [module_ids, list(range(len(module_ids)))],
                )
            if placement:
                cur.execute(
                    "UPDATE courses_lesson l SET module_id = v.mid, position = v.pos FROM "
                    "unnest(%s::bigint[], %s::bigint[], %s::int[]) AS v(id, mid, pos) "
                    "WHERE l.id = v.id",
                    [
                        [p[0] for p in placement],
                        [p[1] for p in placement],
                        [p[2] for p in placement],
                    ],
                )


# --- enrollment ----------------------------------------------------------------------------


def enrollment_ensure(*, user: User, course: Course) -> Enrollment:
    """The user's enrollment in `course`, created on their first visit (enrolled_at =
    now) and re-activated if it was switched off. The caller checked entitlement."""
    enrollment, created = Enrollment.objects.get_or_create(
        course=course,
        user=user,
        defaults={"creator_id": course.creator_id, "enrolled_at": timezone.now()},
    )
    if not created and not enrollment.is_active:
        enrollment.is_active = True
        enrollment.save(update_fields=["is_active"])
    return enrollment


def enrollments_sync_membership(*, creator_id: int, user_id: int, active: bool) -> int:
    """Switch a student's enrollments in a creator's courses on/off when their membership
    changes (rows and progress are kept). Returns the number of rows changed."""
    return (
        Enrollment.objects.filter(creator_id=creator_id, user_id=user_id)
        .exclude(is_active=active)
        .update(is_active=active)
    )


# --- watch events -> lesson progress -----------------------------------------------------


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


def _num(value: Any, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError
    return number


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

    lesson_id = grab("lesson_id", lambda v: int(v) if not isinstance(v, bool) else int("x"),
                     "lesson_id must be a lesson's id.")  # fmt: skip
    session_id = grab("session_id", lambda v: uuid.UUID(str(v)), "session_id must be a UUID.")
    seq = grab("seq", lambda v: int(_num(v) or 0) if float(v) == int(v) else int("x"),
               "seq must be a whole number >= 0.")  # fmt: skip
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


def watch_events_record(
    *, user: User, events: Any, lessons: dict[int, Lesson] | None = None
) -> WatchResult:
    """Store a batch of player events and fold the new ones into LessonProgress.

    events: list of wire dicts (see watch_event_clean). lessons: the playable lessons by
    id, resolved for `user` by the caller (courses.selectors.lessons_playable); an event
    naming any other lesson is malformed. All or nothing: any malformed event raises
    DomainError (fields {"events[<index>].<field>": [message], ...}) and nothing is stored.
    Idempotent on (session_id, seq): a resent event counts as a duplicate and is not
    folded twice. Returns WatchResult(accepted, duplicates)."""
    if not isinstance(events, list) or not events:
        raise _invalid({"events": ["events must be a non-empty list."]})
    if len(events) > MAX_EVENTS_PER_BATCH:
        raise _invalid({"events": [f"At most {MAX_EVENTS_PER_BATCH} events a batch."]})
    lessons = lessons or {}
    clean: list[CleanEvent] = []
    problems: dict[str, list[str]] = {}
    for i, raw in enumerate(events):
        event, errors = watch_event_clean(i, raw)
        if event is not None and event.lesson_id not in lessons:
            errors = {"lesson_id": ["No such lesson, or it is locked for you."]}
        for field, messages in errors.items():
            problems[f"events[{i}].{field}"] = messages
        if not errors and event is not None:
            clean.append(event)
    if problems:
        raise _invalid(problems)
    now = timezone.now()
    with transaction.atomic():
        new, previous = _insert_events(user, clean, lessons, now)
        by_lesson: dict[int, list[CleanEvent]] = {}
        for event in new:
            by_lesson.setdefault(event.lesson_id, []).append(event)
        if by_lesson:
            rows = _progress_lock(user, [lessons[i] for i in sorted(by_lesson)], now)
            for lesson_id, lesson_events in by_lesson.items():
                _fold(rows[lesson_id], lessons[lesson_id], lesson_events, previous, now)
            _progress_write(list(rows.values()))
    return WatchResult(accepted=len(new), duplicates=len(clean) - len(new))


# A session's latest event stored before this batch: (seq, client_time, received_at).
Previous = dict[uuid.UUID, tuple[int, datetime | None, datetime]]


def _insert_events(
    user: User, events: list[CleanEvent], lessons: dict[int, Lesson], now: datetime
) -> tuple[list[CleanEvent], Previous]:
    """One statement: INSERT ... ON CONFLICT (session_id, seq) DO NOTHING, and, from the
    snapshot before it, each session's latest stored event. Returns (the events inserted,
    duplicates inside the batch counted once; previous events by session)."""
    rows, params = [], []
    for e in events:
        lesson = lessons[e.lesson_id]
        rows.append("(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)")
        params += [
            lesson.creator_id, lesson.pk, lesson.video_id, user.pk, e.session_id, e.seq,
            e.verb, e.position, e.time_from, e.time_to, e.rate, e.client_time, now,
        ]  # fmt: skip
    sessions = sorted({e.session_id for e in events})
    # Sibling statements of a WITH share one snapshot, so `prev` never sees `ins`'s rows.
    sql = (
        "WITH prev AS (SELECT DISTINCT ON (session_id) session_id, seq, client_time, "
        "received_at FROM courses_watchevent WHERE session_id = ANY(%s::uuid[]) "
        "ORDER BY session_id, seq DESC), "
        "ins AS (INSERT INTO courses_watchevent (creator_id, lesson_id, video_id, user_id, "
        "session_id, seq, verb, position, time_from, time_to, rate, client_time, received_at) "
        f"VALUES {','.join(rows)} ON CONFLICT (session_id, seq) DO NOTHING "
        "RETURNING session_id, seq) "
        "SELECT false, session_id, seq, NULL::timestamptz, NULL::timestamptz FROM ins "
        "UNION ALL SELECT true, session_id, seq, client_time, received_at FROM prev"
    )
    inserted: set[tuple[uuid.UUID, int]] = set()
    previous: Previous = {}
    with connection.cursor() as cur:
        cur.execute(sql, [sessions, *params])
        for is_prev, sid, seq, client_time, received_at in cur.fetchall():
            sid = uuid.UUID(str(sid))
            if is_prev:
                previous[sid] = (seq, client_time, received_at)
            else:
                inserted.add((sid, seq))
    new, seen = [], set()
    for e in events:
        key = (e.session_id, e.seq)
        if key in inserted and key not in seen:
            seen.add(key)
            new.append(e)
    return new, previous


def _progress_lock(user: User, lessons: list[Lesson], now: datetime) -> dict[int, LessonProgress]:
    """The user's LessonProgress of each lesson, created if missing, row-locked until the
    transaction ends: one INSERT ... ON CONFLICT DO UPDATE ... RETURNING (the no-op update
    takes the row lock, so concurrent batches of two tabs fold one after the other)."""
    values = ",".join(["(%s,%s,%s,0.0,'[]'::jsonb,0.0,%s,NULL,%s)"] * len(lessons))
    params = [p for lesson in lessons for p in (lesson.creator_id, lesson.pk, user.pk, now, now)]
    rows = LessonProgress.objects.raw(
        "INSERT INTO courses_lessonprogress (creator_id, lesson_id, user_id, last_position, "
        "played_intervals, unique_seconds, started_at, completed_at, updated_at) "
        f"VALUES {values} ON CONFLICT (lesson_id, user_id) "
        "DO UPDATE SET updated_at = EXCLUDED.updated_at RETURNING *",
        params,
    )
    return {row.lesson_id: row for row in rows}


def _progress_write(rows: list[LessonProgress]) -> None:
    """Write the folded fields of locked progress rows in one UPDATE ... FROM unnest()."""
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE courses_lessonprogress p SET played_intervals = v.played::jsonb, "
            "unique_seconds = v.uniq, last_position = v.pos, completed_at = v.done, "
            "updated_at = v.at FROM unnest(%s::bigint[], %s::text[], %s::float8[], "
            "%s::float8[], %s::timestamptz[], %s::timestamptz[]) "
            "AS v(id, played, uniq, pos, done, at) WHERE p.id = v.id",
            [
                [r.pk for r in rows],
                [json.dumps(r.played_intervals) for r in rows],
                [r.unique_seconds for r in rows],
                [r.last_position for r in rows],
                [r.completed_at for r in rows],
                [r.updated_at for r in rows],
            ],
        )


def _fold(
    progress: LessonProgress,
    lesson: Lesson,
    events: list[CleanEvent],
    previous: Previous,
    now: datetime,
) -> None:
    """Fold new events of one lesson into the user's (locked) LessonProgress, in memory;
    the caller writes it with _progress_write."""
    duration = lesson.video.duration_seconds if lesson.video is not None else None
    limit = duration if duration and duration > 0 else None
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


# --- notes ---------------------------------------------------------------------------------


def _clean_note(text: Any, position: Any) -> tuple[str, float]:
    body = text.strip() if isinstance(text, str) else ""
    if not body:
        raise _invalid({"text": ["Write something first."]})
    if len(body) > NOTE_MAX:
        raise _invalid({"text": [f"Notes are limited to {NOTE_MAX} characters."]})
    try:
        seconds = _num(position)
    except (TypeError, ValueError):
        raise _invalid({"position": ["position must be seconds (>= 0)."]}) from None
    return body, round(float(seconds or 0.0), 3)


def note_create(*, user: User, lesson: Lesson, text: str, position: float) -> LessonNote:
    """A note at `position` seconds of a lesson the caller may open."""
    body, seconds = _clean_note(text, position)
    return LessonNote.objects.create(
        creator_id=lesson.creator_id, lesson=lesson, user=user, position=seconds, text=body
    )


def note_update(*, note: LessonNote, text: str, position: float | None = None) -> LessonNote:
    body, seconds = _clean_note(text, note.position if position is None else position)
    note.text, note.position = body, seconds
    note.save(update_fields=["text", "position", "updated_at"])
    return note


def note_delete(*, note: LessonNote) -> None:
    note.delete()
