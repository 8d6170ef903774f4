"""Helpers for the analytics tests: a small course and watch/chat facts written as the
courses and chat apps write them (bulk rows with explicit times, like the player's
batches), so rollups can be checked against what really happened."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from chat.models import ChatMessage, ChatSession
from courses.intervals import intervals_merge, intervals_total
from courses.models import Course, Enrollment, Lesson, LessonProgress, Module, WatchEvent
from videos.models import Video


def course_with_videos(creator, n: int = 2, duration: float = 120.0, title: str = "Candles"):
    """A course with one module and `n` lessons, each playing its own completed video."""
    course = Course.objects.create(creator=creator, title=title, slug=f"{title.lower()}-{n}")
    module = Module.objects.create(creator=creator, course=course, title="Module 1")
    lessons = []
    for i in range(n):
        video = Video.objects.create(
            creator=creator,
            title=f"{title} lecture {i + 1}",
            status="completed",
            duration_seconds=duration,
        )
        lessons.append(
            Lesson.objects.create(
                creator=creator, module=module, video=video, title=f"Lesson {i + 1}", position=i
            )
        )
    return course, lessons


def play(
    *,
    creator,
    user,
    lesson,
    at: datetime,
    segments: list[tuple],
    session_id: uuid.UUID | None = None,
    first_seq: int = 0,
    received_at: datetime | None = None,
) -> uuid.UUID:
    """Write one session's events: each segment is (verb, time_from, time_to)."""
    sid = session_id or uuid.uuid4()
    WatchEvent.objects.bulk_create(
        [
            WatchEvent(
                creator=creator,
                lesson=lesson,
                video=lesson.video,
                user=user,
                session_id=sid,
                seq=first_seq + i,
                verb=verb,
                position=b if b is not None else 0.0,
                time_from=a,
                time_to=b,
                client_time=at + timedelta(seconds=10 * i),
                received_at=received_at or at + timedelta(seconds=10 * i),
            )
            for i, (verb, a, b) in enumerate(segments)
        ]
    )
    return sid


def progress(*, creator, user, lesson, at: datetime, intervals, complete: bool | None = None):
    """LessonProgress as the courses fold leaves it (>= 90% unique coverage completes)."""
    merged = intervals_merge(intervals, limit=lesson.video.duration_seconds)
    unique = intervals_total(merged)
    done = complete if complete is not None else unique >= 0.9 * lesson.video.duration_seconds
    obj, _ = LessonProgress.objects.update_or_create(
        lesson=lesson,
        user=user,
        defaults={
            "creator": creator,
            "played_intervals": merged,
            "unique_seconds": unique,
            "last_position": merged[-1][1] if merged else 0.0,
            "started_at": at,
            "completed_at": at if done else None,
            "updated_at": at,
        },
    )
    return obj


def enroll(*, creator, user, course, at: datetime) -> Enrollment:
    return Enrollment.objects.create(creator=creator, user=user, course=course, enrolled_at=at)


def ask(
    *,
    creator,
    user,
    text: str,
    at: datetime,
    covered: bool = True,
    cite=None,
    video=None,
    position=None,
    course=None,
) -> ChatMessage:
    """A question and its answer, as chat stores them; `cite`=(video, start) for the
    answer's top citation; `video`/`position` = the player's place when asked."""
    session = ChatSession.objects.create(creator=creator, user=user, title=text[:40], course=course)
    extra = {}
    if video is not None and hasattr(ChatMessage, "video_position"):
        extra = {"video": video, "video_position": position}
    q = ChatMessage.objects.create(
        creator=creator, session=session, role="user", content=text, **extra
    )
    citations = []
    if cite is not None:
        citations = [
            {
                "video_id": cite[0].pk,
                "video_title": cite[0].title,
                "start": cite[1],
                "end": cite[1] + 20,
                "quote": "…",
                "score": 1.0,
                "n": 1,
            }
        ]
    a = ChatMessage.objects.create(
        creator=creator,
        session=session,
        role="assistant",
        content="Answer [1]" if covered else "The videos don't cover this.",
        citations=citations,
        covered=covered,
    )
    ChatMessage.objects.filter(pk=q.pk).update(created_at=at)
    ChatMessage.objects.filter(pk=a.pk).update(created_at=at + timedelta(seconds=2))
    q.refresh_from_db()
    return q
