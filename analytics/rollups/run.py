"""The two entry points: the incremental rollup (5-minute schedule) and the rebuild."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from analytics.buckets import video_buckets_refold
from analytics.models import (
    CourseDay,
    CourseProgress,
    QuestionFact,
    QuestionGroupMonth,
    QuestionMonth,
    RollupState,
    StudentBit,
    StudentDay,
    StudentMonth,
    VideoDay,
    VideoMonth,
    VideoViewerDay,
    WatchSession,
)
from analytics.ranges import tz_of, zone_for
from analytics.rollups.days import course_days_refold, student_months_refold, students_refold
from analytics.rollups.progress import course_progress_refold
from analytics.rollups.questions import (
    IN_FLIGHT,
    question_group_months_refold,
    question_months_refold,
    questions_refold,
)
from analytics.rollups.sessions import sessions_refold
from creators.models import Creator

# Re-read this many seconds before each watermark: a row stamped before the watermark but
# committed after the previous run is still picked up (ingest transactions are short).
OVERLAP_SECONDS = 120

IN_FLIGHT_SECONDS = 600


def _since(qs, field_name: str, mark: datetime | None):
    if mark is None:
        return qs
    return qs.filter(**{f"{field_name}__gt": mark - timedelta(seconds=OVERLAP_SECONDS)})


def rollup_update(*, creator: Creator) -> dict[str, int]:
    """Fold whatever changed since the creator's watermarks (the 5-minute schedule).

    Returns counts {"sessions", "questions", "students", "days"} of what was recomputed and
    "watermark": 1 when new facts moved a watermark (RollupState saved, so its updated_at —
    the analytics caches' key — changed), else 0: an idle creator's cached dashboards stay.
    A changed Creator.timezone makes every stored `day` stale: then this rebuilds.
    """
    from chat.models import ChatMessage
    from courses.models import LessonProgress, WatchEvent

    state, _ = RollupState.objects.get_or_create(
        creator=creator, defaults={"timezone": tz_of(creator)}
    )
    if state.timezone != tz_of(creator):
        return rollup_rebuild(creator=creator)
    marks_before = (state.events_through, state.progress_through, state.questions_through)
    events = _since(WatchEvent.objects.filter(creator=creator), "received_at", state.events_through)
    ev_mark = events.aggregate(m=Max("received_at"))["m"]
    session_ids = list(events.order_by().values_list("session_id", flat=True).distinct())
    progress = _since(
        LessonProgress.objects.filter(creator=creator), "updated_at", state.progress_through
    )
    pr_mark = progress.aggregate(m=Max("updated_at"))["m"]
    zone = zone_for(tz_of(creator))
    changed = list(progress.values_list("user_id", "lesson__module__course_id", "completed_at"))
    progress_pairs = {(user, done.astimezone(zone).date()) for user, _c, done in changed if done}
    progress_courses = sorted({(user, course) for user, course, _done in changed})
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
    asked = questions_refold(creator=creator, chat_session_ids=chat_ids)
    question_months_refold(creator=creator, days={day for _user, day in asked})
    question_group_months_refold(creator=creator, days={day for _user, day in asked})
    pairs |= asked
    pairs |= progress_pairs
    days = students_refold(creator=creator, pairs=pairs)
    course_days_refold(creator=creator, days=days)
    student_months_refold(creator=creator, days=days)
    if progress_courses:
        course_progress_refold(creator_id=creator.pk, tz=tz_of(creator), pairs=progress_courses)

    state.events_through = max(filter(None, [state.events_through, ev_mark]), default=None)
    state.progress_through = max(filter(None, [state.progress_through, pr_mark]), default=None)
    state.questions_through = max(filter(None, [state.questions_through, q_mark]), default=None)
    moved = (state.events_through, state.progress_through, state.questions_through) != (
        marks_before
    )
    if moved:
        state.save()
    return {
        "sessions": len(session_ids),
        "questions": len(chat_ids),
        "students": len({u for u, _d in pairs}),
        "days": len(days),
        "watermark": int(moved),
    }


def rollup_rebuild(*, creator: Creator) -> dict[str, int]:
    """Delete the creator's rollups and fold every fact again (`analytics_rebuild`)."""
    with transaction.atomic():
        rollups = (WatchSession, QuestionFact, StudentDay, CourseDay, VideoDay)
        months = (VideoMonth, QuestionMonth, QuestionGroupMonth, StudentMonth)
        for model in (*rollups, *months, VideoViewerDay, StudentBit, CourseProgress):
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
    return {**rollup_update(creator=creator), "watermark": 1}  # the state was just saved


def rollup_update_all() -> tuple[dict[str, int], list[int]]:
    """The scheduled task body: rollup_update for every active creator.

    Returns ({"creators": n, "sessions": total sessions refolded}, ids of the creators whose
    watermark moved: their cached analytics are stale).
    """
    totals = {"creators": 0, "sessions": 0}
    moved = []
    for creator in Creator.objects.active().order_by("pk"):
        result = rollup_update(creator=creator)
        totals["creators"] += 1
        totals["sessions"] += result["sessions"]
        if result["watermark"]:
            moved.append(creator.pk)
    return totals, moved
