"""Chat answers never cite a lesson the student has not unlocked (the creator and preview
lessons excepted): locked lessons are excluded from retrieval."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chat.services import EmptyLibraryError, chat_ask
from courses import services
from courses.models import LessonProgress
from tests.chat_library import library_fixture

lib = library_fixture("faraday-locks")
QUESTION = "What happens when lime is heated in a hydrogen flame?"  # Lecture II, cue 128


@pytest.fixture(autouse=True)
def _offline(settings):
    settings.CHRONOS_ANSWERER = "extractive"
    settings.CHRONOS_EMBEDDER = "none"


@pytest.fixture
def course(db, lib):
    course = services.course_create(creator=lib.creator, title="Candle", sequential=True)
    services.course_update(course=course, status="published")
    lessons = []
    for name in ("faraday-1", "faraday-2"):
        module = services.module_create(course=course, title=name)
        lessons.append(services.lesson_create(module=module, video_id=lib.videos[name].pk))
    return course, lessons


def _cited(result) -> set[int]:
    return {c["video_id"] for c in result.citations}


def test_locked_lessons_are_excluded_from_retrieval(lib, course):
    course, lessons = course
    two = lib.videos["faraday-2"].pk
    for course_id in (None, course.pk):
        result = chat_ask(
            user=lib.student, creator=lib.creator, message=QUESTION, course_id=course_id
        )
        assert two not in _cited(result), result.citations
    # The creator is never restricted.
    owner = chat_ask(
        user=lib.creator.owner, creator=lib.creator, message=QUESTION, course_id=course.pk
    )
    assert two in _cited(owner)
    # Lesson I complete -> Lesson II unlocks -> its video is cited.
    LessonProgress.objects.create(
        creator=lib.creator, lesson=lessons[0], user=lib.student, started_at=timezone.now(),
        updated_at=timezone.now(), completed_at=timezone.now(),
    )  # fmt: skip
    result = chat_ask(user=lib.student, creator=lib.creator, message=QUESTION, course_id=course.pk)
    assert two in _cited(result)


def test_a_preview_lesson_is_answerable(lib, course):
    course, lessons = course
    services.lesson_update(lesson=lessons[1], is_preview=True)
    result = chat_ask(user=lib.student, creator=lib.creator, message=QUESTION, course_id=course.pk)
    assert lib.videos["faraday-2"].pk in _cited(result)


def test_a_lock_the_creator_adds_holds_from_the_next_question(lib, course):
    """The student's scope is remembered between questions (chat_scope), keyed by every row
    the lock rules read: a lock added by the creator is not served from a stale scope."""
    course, lessons = course
    two = lib.videos["faraday-2"].pk
    services.course_update(course=course, sequential=False)
    ask = dict(user=lib.student, creator=lib.creator, course_id=course.pk)
    assert two in _cited(chat_ask(message=QUESTION, **ask))
    services.lesson_update(lesson=lessons[1], drip_days=3)  # Lecture II drips in 3 days
    assert two not in _cited(chat_ask(message=QUESTION + " ", **ask))
    services.lesson_update(lesson=lessons[1], drip_days=0)
    services.course_update(course=course, sequential=True)  # Lecture I first
    assert two not in _cited(chat_ask(message=QUESTION + "  ", **ask))
    services.course_update(course=course, status="draft")  # unpublished: no course to ask in
    with pytest.raises(EmptyLibraryError):
        chat_ask(message=QUESTION, **ask)


def test_a_drip_lock_opens_when_its_date_passes(lib, course):
    """A remembered scope ends when a drip date in it passes (Scope.valid_until)."""
    from courses.models import Enrollment
    from tests.courses_support import freezegun  # configured for the SDKs

    course, lessons = course
    two = lib.videos["faraday-2"].pk
    services.course_update(course=course, sequential=False)
    services.lesson_update(lesson=lessons[1], drip_days=1)
    start = timezone.now()
    Enrollment.objects.create(
        creator=lib.creator, course=course, user=lib.student,
        enrolled_at=start - timedelta(days=1) + timedelta(seconds=60),
    )  # fmt: skip
    ask = dict(user=lib.student, creator=lib.creator, course_id=course.pk)
    with freezegun.freeze_time(start) as frozen:
        assert two not in _cited(chat_ask(message=QUESTION, **ask))
        frozen.tick(61)  # Lecture II's drip date has passed
        assert two in _cited(chat_ask(message=QUESTION + " ", **ask))


def test_a_scope_resolved_by_one_process_serves_the_others(lib, course):
    """A student's resolved scope is shared (chat.ScopeMemo) under the digest of the lock
    rules' inputs: a process that has not resolved it reads it instead of running the
    rules, and a change to those inputs is resolved anew."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from chat.models import ScopeMemo

    course, lessons = course
    two = lib.videos["faraday-2"].pk
    ask = dict(user=lib.student, creator=lib.creator, course_id=course.pk)
    first = chat_ask(message=QUESTION, **ask)
    assert two not in _cited(first) and ScopeMemo.objects.count() == 1
    cache.clear()  # as another process: nothing remembered in this one
    with CaptureQueriesContext(connection) as queries:
        second = chat_ask(message=QUESTION + " ", **ask)
    assert _cited(second) == _cited(first)
    assert not any('"courses_lesson"' in q["sql"] for q in queries.captured_queries)
    services.lesson_update(lesson=lessons[1], is_preview=True)  # new inputs: resolved anew
    cache.clear()
    assert two in _cited(chat_ask(message=QUESTION + "  ", **ask))
    assert ScopeMemo.objects.count() == 2
