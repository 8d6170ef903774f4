"""Chat answers never cite a lesson the student has not unlocked (the creator and preview
lessons excepted): locked lessons are excluded from retrieval."""

from __future__ import annotations

import pytest
from django.utils import timezone

from chat.services import chat_ask
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
