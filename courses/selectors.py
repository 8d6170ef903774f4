"""Reads of courses, always scoped to the acting user (manager or student).

The lock rules live in `lesson_states` (the outline, the catalog and the lesson page, which
need the lessons themselves) and, as one statement, in `lesson_locks` (the heartbeat's
verdict, the media stream and chat retrieval, through `lessons_playable` and
`unlocked_video_ids`), so a locked lesson is never played nor cited. tests/test_lock_rules.py
holds the two to the same verdicts on random courses: change both together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from chronos.db import prepared_cursor
from courses.models import (
    Course,
    Enrollment,
    Lesson,
    LessonNote,
    LessonProgress,
    Module,
    PendingHeartbeat,
)
from creators.models import Creator, User
from creators.selectors import (
    creator_access,
    creator_access_by_id,
    creators_learnable_by,
    creators_managed_by,
)
from videos.models import Video


def user_manages(*, user: User, creator: Creator) -> bool:
    """True when `user` owns or is on the team of `creator` (or is staff)."""
    return creators_managed_by(user=user).filter(pk=creator.pk).exists()


# --- courses for the builder (managers) ----------------------------------------------------


def courses_for_manager(*, creator: Creator) -> QuerySet[Course]:
    """All of a creator's courses (the caller resolved `creator` as managed), with
    `lesson_count` and `student_count` annotations, in builder order."""
    return Course.objects.filter(creator=creator).annotate(
        lesson_count=Count("modules__lessons", distinct=True),
        student_count=Count("enrollments", filter=Q(enrollments__is_active=True), distinct=True),
    )


def course_get_managed(*, user: User, pk: int, creator: Creator | None = None) -> Course:
    """A course of a creator the user manages (optionally of `creator` only); Http404
    otherwise (another tenant's course is indistinguishable from a missing one)."""
    qs = Course.objects.filter(creator__in=creators_managed_by(user=user), pk=pk)
    if creator is not None:
        qs = qs.filter(creator=creator)
    course = qs.select_related("creator").first()
    if course is None:
        raise Http404("No such course.")
    return course


def module_get_managed(*, user: User, pk: int) -> Module:
    module = (
        Module.objects.filter(creator__in=creators_managed_by(user=user), pk=pk)
        .select_related("course", "creator")
        .first()
    )
    if module is None:
        raise Http404("No such module.")
    return module


def lesson_get_managed(*, user: User, pk: int) -> Lesson:
    lesson = (
        Lesson.objects.filter(creator__in=creators_managed_by(user=user), pk=pk)
        .select_related("module__course", "creator", "video")
        .first()
    )
    if lesson is None:
        raise Http404("No such lesson.")
    return lesson


def course_structure(*, course: Course) -> list[Any]:
    """The course's modules in order, each with `.lesson_list` (lessons in order, video
    selected). Two queries."""
    lessons = Lesson.objects.select_related("video").order_by("position", "id")
    modules = list(
        Module.objects.filter(course=course)
        .order_by("position", "id")
        .prefetch_related(Prefetch("lessons", queryset=lessons, to_attr="lesson_list"))
    )
    return modules


# --- what a student may see ----------------------------------------------------------------


def courses_learnable(
    *, user: User, creator: Creator, manager: bool | None = None
) -> QuerySet[Course]:
    """Courses of `creator` the user may open: all of them for a manager, the published
    ones for a student with an active membership, none otherwise. manager: whether the
    user manages `creator`, when the caller already knows (else checked here)."""
    if user_manages(user=user, creator=creator) if manager is None else manager:
        return Course.objects.filter(creator=creator)
    # creator_access: the rules of creators_learnable_by in one raw statement (composing
    # that queryset cost ~4 ms of CPU on every scope a question resolves).
    if not creator_access(user=user, creator=creator).learns:
        return Course.objects.none()
    return Course.objects.filter(creator=creator).published()


def course_get_learnable(*, user: User, pk: int, creator: Creator | None = None) -> Course:
    """A course the user may open (see courses_learnable); Http404 otherwise."""
    qs = Course.objects.filter(pk=pk, creator__in=creators_learnable_by(user=user))
    if creator is not None:
        qs = qs.filter(creator=creator)
    course = qs.select_related("creator").first()
    if (
        course is None
        or not courses_learnable(user=user, creator=course.creator).filter(pk=course.pk).exists()
    ):
        raise Http404("No such course.")
    return course


def lesson_visible(lesson: Lesson) -> bool:
    """A student sees a lesson whose video exists and finished processing ("video
    removed" and still-processing lessons are hidden and count nowhere)."""
    return lesson.video_id is not None and (
        lesson.video is None or lesson.video.status == Video.Status.COMPLETED
    )


@dataclass
class LessonState:
    """One lesson as the acting user sees it. Seconds for positions; fraction 0-1.

    lock_reason: "" | "order" (complete the previous lesson first) | "drip" (unlocks at
    `unlocks_at`); previous: the lesson that must be completed first (order locks)."""

    lesson: Lesson
    visible: bool
    locked: bool = False
    lock_reason: str = ""
    unlocks_at: datetime | None = None
    previous: Lesson | None = None
    completed: bool = False
    watched_fraction: float = 0.0
    resume_at: float = 0.0

    @property
    def duration(self) -> float | None:
        video = self.lesson.video
        return video.duration_seconds if video is not None else None


def lesson_states(
    *,
    course: Course,
    modules: Sequence[Any],
    manager: bool,
    enrollment: Enrollment | None,
    progress: dict[int, LessonProgress],
    now: datetime | None = None,
) -> list[LessonState]:
    """Lock, completion and resume state of every lesson of `course`, in course order.

    modules: from course_structure (lessons with videos); progress: the user's
    LessonProgress by lesson id. Rules (issue 8):
    - hidden lessons (no video / not processed) are listed with visible=False for managers
      and skipped for students;
    - a manager sees nothing locked;
    - a completed or preview lesson is never locked;
    - drip: locked until enrolled_at + drip_days (not enrolled yet: from now);
    - sequential: locked until the previous visible lesson is complete.
    """
    now = now or timezone.now()
    enrolled_at = enrollment.enrolled_at if enrollment is not None else now
    states: list[LessonState] = []
    previous: Lesson | None = None
    previous_done = True
    for module in modules:
        for lesson in module.lesson_list:
            visible = lesson_visible(lesson)
            if not visible and not manager:
                continue
            state = LessonState(lesson=lesson, visible=visible)
            row = progress.get(lesson.pk)
            duration = state.duration or 0.0
            if row is not None:
                state.completed = row.completed_at is not None
                state.resume_at = row.last_position
                if duration > 0:
                    state.watched_fraction = round(min(1.0, row.unique_seconds / duration), 4)
            if not manager and not state.completed and not lesson.is_preview:
                unlocks_at = enrolled_at + timedelta(days=lesson.drip_days)
                if lesson.drip_days and now < unlocks_at:
                    state.locked, state.lock_reason, state.unlocks_at = True, "drip", unlocks_at
                elif course.sequential and not previous_done:
                    state.locked, state.lock_reason, state.previous = True, "order", previous
            if visible:
                previous, previous_done = lesson, state.completed
            states.append(state)
    return states


def course_progress_percent(states: list[LessonState]) -> int:
    """Completed visible lessons ÷ visible lessons, as an int 0-100 (Thinkific's rule:
    lessons added later lower it; removed or hidden lessons do not count)."""
    shown = [s for s in states if s.visible]
    if not shown:
        return 0
    return int(100 * sum(1 for s in shown if s.completed) / len(shown))


def next_lesson_state(states: list[LessonState]) -> LessonState | None:
    """Where "Start"/"Continue" goes: the first incomplete unlocked visible lesson, else
    the first unlocked one (all done: start again), else None."""
    playable = [s for s in states if s.visible and not s.locked]
    for state in playable:
        if not state.completed:
            return state
    return playable[0] if playable else None


@dataclass
class CourseView:
    """A course with the acting user's lesson states (what outline/catalog/lesson need)."""

    course: Course
    modules: list[Any]
    states: list[LessonState]
    enrollment: Enrollment | None
    manager: bool

    @property
    def progress(self) -> int:
        return course_progress_percent(self.states)

    @property
    def next_state(self) -> LessonState | None:
        return next_lesson_state(self.states)

    def state_for(self, lesson_id: int) -> LessonState | None:
        return next((s for s in self.states if s.lesson.pk == lesson_id), None)


def _progress_folded(*, user: User, course_ids: list[int]) -> dict[int, LessonProgress]:
    """The user's LessonProgress in these courses by lesson id, with what their player sent
    through the fast lane folded in: when a row has heartbeats queued (PendingHeartbeat),
    they are folded (courses.services.watch_pending_fold) and the rows read again, so a
    page or a lock rule never decides on a stale row. One statement when nothing is queued."""
    from courses.services.watch import watch_pending_fold  # services import selectors

    rows = LessonProgress.objects.filter(
        user=user, lesson__module__course_id__in=course_ids
    ).annotate(
        queued=Exists(
            PendingHeartbeat.objects.filter(
                user_id=OuterRef("user_id"), lesson_id=OuterRef("lesson_id")
            )
        )
    )
    progress: dict[int, LessonProgress] = {p.lesson_id: p for p in rows}
    if any(p.queued for p in rows):
        watch_pending_fold(user_id=user.pk)
        progress = {p.lesson_id: p for p in rows.all()}
    return progress


def course_views(
    *,
    user: User,
    creator: Creator,
    courses: list[Course],
    now: datetime | None = None,
    manager: bool | None = None,
) -> list[CourseView]:
    """CourseView for each course (all of `creator`), in a constant number of queries
    (modules+lessons+videos, enrollments, progress, and the manager check unless the caller
    already knows `manager`)."""
    if manager is None:
        manager = user_manages(user=user, creator=creator)
    ids = [c.pk for c in courses]
    lessons = Lesson.objects.select_related("video").order_by("position", "id")
    modules = list(
        Module.objects.filter(course_id__in=ids)
        .order_by("position", "id")
        .prefetch_related(Prefetch("lessons", queryset=lessons, to_attr="lesson_list"))
    )
    enrollments = {e.course_id: e for e in Enrollment.objects.filter(user=user, course_id__in=ids)}
    progress = _progress_folded(user=user, course_ids=ids)
    views = []
    for course in courses:
        own = [m for m in modules if m.course_id == course.pk]
        views.append(
            CourseView(
                course=course,
                modules=own,
                states=lesson_states(
                    course=course,
                    modules=own,
                    manager=manager,
                    enrollment=enrollments.get(course.pk),
                    progress=progress,
                    now=now,
                ),
                enrollment=enrollments.get(course.pk),
                manager=manager,
            )
        )
    return views


def course_view(*, user: User, course: Course, now: datetime | None = None) -> CourseView:
    """The CourseView of one course the caller already resolved for `user`."""
    return course_views(user=user, creator=course.creator, courses=[course], now=now)[0]


def lesson_get_learnable(
    *, user: User, creator: Creator, course_pk: int, lesson_pk: int
) -> tuple[CourseView, LessonState]:
    """The course view and the state of one lesson the user may open (it may be locked:
    the caller shows why). Http404 for a lesson outside the course or hidden from them."""
    course = course_get_learnable(user=user, pk=course_pk, creator=creator)
    view = course_view(user=user, course=course)
    state = view.state_for(lesson_pk)
    if state is None:
        raise Http404("No such lesson.")
    return view, state


@dataclass(frozen=True)
class LessonLock:
    """One visible lesson's lock verdict for a user (see lesson_locks). unlocks_at: when a
    drip lock opens (aware UTC), None for order locks and open lessons."""

    lesson_id: int
    course_id: int
    video_id: int
    locked: bool
    unlocks_at: datetime | None


# The rules of lesson_states in one statement, over the visible lessons (a completed video)
# of a creator's courses in course order: a manager sees nothing locked; a completed or
# preview lesson is never locked; drip locks until enrolled_at (else now) + drip_days;
# sequential locks until the previous visible lesson is complete. `queued`: heartbeats the
# fast lane queued for the lesson (courses.models.PendingHeartbeat), folded before deciding.
_LESSON_LOCKS = """
    WITH les AS (
      SELECT l.id, mo.course_id, l.video_id, l.drip_days, l.is_preview, co.sequential,
             mo.position AS module_position, mo.id AS module_id, l.position,
             p.completed_at IS NOT NULL AS completed,
             coalesce(e.enrolled_at, %(now)s::timestamptz)
               + l.drip_days * interval '24 hours' AS drip_ends,
             EXISTS (SELECT 1 FROM courses_pendingheartbeat q
                     WHERE q.user_id = %(user)s::bigint AND q.lesson_id = l.id) AS queued
        FROM courses_course co
        JOIN courses_module mo ON mo.course_id = co.id
        JOIN courses_lesson l ON l.module_id = mo.id AND l.creator_id = co.creator_id
        JOIN videos_video v ON v.id = l.video_id AND v.status = %(completed)s::varchar
        LEFT JOIN courses_enrollment e ON e.course_id = co.id AND e.user_id = %(user)s::bigint
        LEFT JOIN courses_lessonprogress p
               ON p.lesson_id = l.id AND p.user_id = %(user)s::bigint
       WHERE co.creator_id = %(creator)s::bigint
         AND (%(manager)s::boolean OR co.status = %(published)s::varchar)
         AND (%(courses)s::bigint[] IS NULL OR co.id = ANY(%(courses)s::bigint[]))
    ), judged AS (
      SELECT id, course_id, video_id, queued, drip_ends,
             NOT (%(manager)s::boolean OR completed OR is_preview) AS lockable,
             drip_days > 0 AND %(now)s::timestamptz < drip_ends AS dripping,
             sequential AND NOT coalesce(lag(completed) OVER (
               PARTITION BY course_id ORDER BY module_position, module_id, position, id
             ), true) AS waiting
        FROM les
    )
    SELECT id, course_id, video_id, queued, lockable AND (dripping OR waiting),
           CASE WHEN lockable AND dripping THEN drip_ends END
      FROM judged
"""


def lesson_locks(
    *,
    user: User,
    creator_id: int,
    manager: bool,
    course_ids: Sequence[int] | None = None,
    now: datetime | None = None,
) -> list[LessonLock]:
    """The lock verdict of every visible lesson of the creator's courses for `user`: all
    courses for a manager, the published ones otherwise (the caller checked access:
    creators.selectors.creator_access), optionally only `course_ids`. The rules are
    lesson_states' (tests/test_lock_rules.py checks both agree on random courses), in one
    prepared statement (~1 ms) where course_views costs ~15 ms of ORM CPU: this runs on the
    heartbeat's verdict re-check, a chat scope and the media stream. Heartbeats queued for
    these lessons are folded first (they may complete one), then the statement runs again."""
    from courses.services.watch import watch_pending_fold  # services import selectors

    params = {
        "user": user.pk,
        "creator": creator_id,
        "manager": manager,
        "courses": list(course_ids) if course_ids is not None else None,
        "now": now or timezone.now(),
        "completed": str(Video.Status.COMPLETED),
        "published": str(Course.Status.PUBLISHED),
    }
    with prepared_cursor() as cursor:
        cursor.execute(_LESSON_LOCKS, params)
        rows = cursor.fetchall()
        if any(row[3] for row in rows):
            watch_pending_fold(user_id=user.pk)
            cursor.execute(_LESSON_LOCKS, params)
            rows = cursor.fetchall()
    return [
        LessonLock(lesson_id=i, course_id=c, video_id=v, locked=locked, unlocks_at=at)
        for i, c, v, _queued, locked, at in rows
    ]


def unlocked_video_ids(
    *, user: User, creator: Creator, course: Course | None = None
) -> set[int] | None:
    """The creator's video ids the user may watch and be answered from; None = no
    restriction (the creator and their team).

    With `course`: the videos of that course's unlocked visible lessons (an empty set if
    the course is not open to the user). Without: every video of the creator except those
    that only locked lessons of published courses use (a video in no published course
    stays open to members, as in chat-only libraries). Preview lessons are never locked.
    A user with no access to the creator gets an empty set.
    """
    return unlocked_video_ids_until(user=user, creator=creator, course=course)[0]


def unlocked_video_ids_until(
    *,
    user: User,
    creator: Creator,
    course: Course | None = None,
    manager: bool | None = None,
    now: datetime | None = None,
) -> tuple[set[int] | None, datetime | None]:
    """(unlocked_video_ids, the earliest moment a drip lock among them opens by itself, or
    None when no lock waits on a date). manager: whether the user manages `creator`, when
    the caller already knows (else checked here). Callers that remember the answer keep it
    no later than that moment (see lock_inputs_digest for the data it depends on)."""
    if manager:
        return None, None
    access = creator_access(user=user, creator=creator)
    if manager is None and access.manages:
        return None, None
    if not access.learns:
        return set(), None
    locks = lesson_locks(
        user=user,
        creator_id=creator.pk,
        manager=False,
        course_ids=[course.pk] if course is not None else None,
        now=now,
    )
    unlocked = {lock.video_id for lock in locks if not lock.locked}
    opens = [lock.unlocks_at for lock in locks if lock.unlocks_at is not None]
    until = min(opens) if opens else None
    if course is not None:
        return unlocked, until
    gated = {lock.video_id for lock in locks}
    with prepared_cursor() as cursor:
        cursor.execute("SELECT id FROM videos_video WHERE creator_id = %s::bigint", [creator.pk])
        every = {row[0] for row in cursor.fetchall()}
    return every - (gated - unlocked), until


def lock_inputs_digest(*, user: User, creator: Creator) -> str:
    """An md5 hex digest of every row that decides what `user` may see of `creator`: the
    creator (active, owner), the user (staff), their team seat and membership (status,
    valid_until), the creator's videos (id, status), courses (status, sequential), modules
    and lessons (order, video, drip days, preview), and the user's enrollments and
    completed lessons (heartbeats the fast lane queued for the user folded first). One
    statement when none are queued. Any write to those rows changes it, so an answer
    of unlocked_video_ids remembered under this digest is current until its own `until`
    (time alone only opens drip locks). Keep it in step with the lock rules above."""
    sql = """
        SELECT md5(concat_ws('|',
          (SELECT c.is_active || ':' || coalesce(c.owner_id::text, '')
             FROM creators_creator c WHERE c.id = %(creator)s),
          (SELECT u.is_staff || ':' || u.is_active FROM creators_user u WHERE u.id = %(user)s),
          (SELECT string_agg(t.role, ',') FROM creators_creatormember t
             WHERE t.creator_id = %(creator)s AND t.user_id = %(user)s),
          (SELECT string_agg(m.status || ':' || coalesce(m.valid_until::text, ''), ',')
             FROM creators_membership m
             WHERE m.creator_id = %(creator)s AND m.user_id = %(user)s),
          (SELECT string_agg(v.id || ':' || v.status, ',' ORDER BY v.id)
             FROM videos_video v WHERE v.creator_id = %(creator)s),
          (SELECT string_agg(co.id || ':' || co.status || ':' || co.sequential, ','
                             ORDER BY co.id)
             FROM courses_course co WHERE co.creator_id = %(creator)s),
          (SELECT string_agg(mo.id || ':' || mo.course_id || ':' || mo.position, ','
                             ORDER BY mo.id)
             FROM courses_module mo WHERE mo.creator_id = %(creator)s),
          (SELECT string_agg(l.id || ':' || l.module_id || ':' || l.position || ':'
                             || coalesce(l.video_id::text, '') || ':' || l.drip_days || ':'
                             || l.is_preview, ',' ORDER BY l.id)
             FROM courses_lesson l WHERE l.creator_id = %(creator)s),
          (SELECT string_agg(e.course_id || ':' || e.enrolled_at || ':' || e.is_active, ','
                             ORDER BY e.id)
             FROM courses_enrollment e
             WHERE e.creator_id = %(creator)s AND e.user_id = %(user)s),
          (SELECT string_agg(p.lesson_id::text, ',' ORDER BY p.lesson_id)
             FROM courses_lessonprogress p
             WHERE p.creator_id = %(creator)s AND p.user_id = %(user)s
               AND p.completed_at IS NOT NULL)
        )), EXISTS (SELECT 1 FROM courses_pendingheartbeat q WHERE q.user_id = %(user)s)
    """
    with prepared_cursor() as cursor:
        cursor.execute(sql, {"creator": creator.pk, "user": user.pk})
        digest, queued = cursor.fetchone()
    if queued:  # fold what the fast lane queued first: it may complete a lesson
        from courses.services.watch import watch_pending_fold  # services import selectors

        watch_pending_fold(user_id=user.pk)
        with prepared_cursor() as cursor:
            cursor.execute(sql, {"creator": creator.pk, "user": user.pk})
            digest, _queued = cursor.fetchone()
    return digest


def notes_for_lesson(*, user: User, lesson: Lesson) -> QuerySet[LessonNote]:
    """The user's own notes on a lesson, by position."""
    return LessonNote.objects.filter(user=user, lesson=lesson).order_by("position", "id")


def note_get_own(*, user: User, pk: int) -> LessonNote:
    note = LessonNote.objects.filter(user=user, pk=pk).select_related("lesson").first()
    if note is None:
        raise Http404("No such note.")
    return note


def lessons_playable(*, user: User, lesson_ids: set[int]) -> set[int]:
    """Of `lesson_ids`, the ids of the lessons the user may play now (visible, unlocked, in a
    course open to them). Others are left out.

    Three prepared statements for a batch naming one creator's lessons (their courses, the
    access check, lesson_locks); the watch-events service calls this when a student's
    verdict for a lesson is older than PLAYABLE_RECHECK_SECONDS (courses.services.watch)."""
    wanted = sorted(
        {
            int(i)
            for i in lesson_ids
            if (isinstance(i, int) and not isinstance(i, bool))
            or (isinstance(i, str) and i.isdigit())
        }
    )
    if not wanted:
        return set()
    with prepared_cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT co.creator_id, co.id FROM courses_lesson l "
            "JOIN courses_module mo ON mo.id = l.module_id "
            "JOIN courses_course co ON co.id = mo.course_id AND co.creator_id = l.creator_id "
            "WHERE l.id = ANY(%s::bigint[])",
            [wanted],
        )
        courses_by_creator: dict[int, list[int]] = {}
        for creator_id, course_id in cursor.fetchall():
            courses_by_creator.setdefault(creator_id, []).append(course_id)
    playable: set[int] = set()
    for creator_id, course_ids in courses_by_creator.items():
        rights = creator_access_by_id(user=user, creator_id=creator_id)
        if not rights.learns:
            continue
        locks = lesson_locks(
            user=user, creator_id=creator_id, manager=rights.manages, course_ids=course_ids
        )
        playable |= {lock.lesson_id for lock in locks if not lock.locked}
    return playable & set(wanted)


def video_view_allowed(user: User, video: Video) -> bool:
    """videos.access filter: False when `video` is only in lessons locked for `user`
    (managers and videos outside published courses pass)."""
    gated = Lesson.objects.filter(
        video=video, module__course__status=Course.Status.PUBLISHED
    ).exists()
    if not gated:  # the common case for chat-only libraries: one query
        return True
    allowed = unlocked_video_ids(user=user, creator=video.creator)
    return allowed is None or video.pk in allowed
