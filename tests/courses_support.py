"""Helpers for course tests: a course built through the real services, and a player that
sends watch events the way static/js/lesson-player.js does (with the clock moved by
freezegun between batches)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import freezegun
from django.utils import timezone

from courses import services
from courses.models import Course, Lesson
from videos.models import Video

# freezegun walks every loaded module when it starts and stops; whop-sdk's lazily imported
# pydantic models must not be built under its fake datetime class.
freezegun.configure(extend_ignore_list=["whop_sdk", "pydantic", "openai", "anthropic"])


def make_video(creator, title: str, duration: float = 100.0) -> Video:
    """A processed video row (no media: the services only read duration and status)."""
    return Video.objects.create(
        creator=creator, title=title, status=Video.Status.COMPLETED, duration_seconds=duration
    )


def make_course(
    creator,
    *,
    modules: tuple[tuple[str, int], ...] = (("One", 2), ("Two", 1)),
    sequential: bool = False,
    published: bool = True,
    duration: float = 100.0,
) -> tuple[Course, list[Lesson]]:
    """A course with the given (module title, lesson count) layout, one video per lesson."""
    course = services.course_create(creator=creator, title="Candles", sequential=sequential)
    if published:
        services.course_update(course=course, status="published")
    lessons = []
    for mtitle, count in modules:
        module = services.module_create(course=course, title=mtitle)
        for i in range(count):
            video = make_video(creator, f"{mtitle} lecture {i + 1}", duration)
            lessons.append(services.lesson_create(module=module, video_id=video.pk))
    return course, lessons


class Player:
    """One page load's player: session_id, seq, and events with client times."""

    def __init__(self, user, lesson: Lesson, frozen, rate: float = 1.0):
        self.user, self.lesson, self.frozen, self.rate = user, lesson, frozen, rate
        self.session_id = str(uuid.uuid4())
        self.seq = 0
        self.position = 0.0

    def event(self, verb: str, position: float, time_from=None, time_to=None) -> dict:
        self.seq += 1
        self.position = position
        now = timezone.now()
        return {
            "lesson_id": self.lesson.pk,
            "session_id": self.session_id,
            "seq": self.seq,
            "verb": verb,
            "position": position,
            "from": time_from,
            "to": time_to,
            "rate": self.rate,
            "client_time": now.isoformat(),
        }

    def send(self, events: list[dict]) -> services.WatchResult:
        return services.watch_events_record(user=self.user, events=events)

    def play(self, start: float, end: float, step: float = 10.0, final: str = "paused"):
        """Play from `start` to `end` in real time (the frozen clock ticks), one heartbeat
        per `step` seconds of wall time, then a final `paused`/`ended` event."""
        self.send([self.event("played", start, start, start)])
        at = start
        while at < end:
            nxt = min(end, at + step * self.rate)
            self.frozen.tick(timedelta(seconds=(nxt - at) / self.rate))
            verb = "heartbeat" if nxt < end else final
            self.send([self.event(verb, nxt, at, nxt)])
            at = nxt

    def seek(self, to: float):
        self.send([self.event("seeked", to, self.position, to)])
