"""The lock rules in one statement (courses.selectors.lesson_locks, behind lessons_playable
and unlocked_video_ids) agree with lesson_states, the rules the pages show, on random
courses: order and drip locks, previews, completed lessons, hidden lessons (no video, one
still processing), draft courses, enrolled or not, managers and students."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from courses import selectors
from courses.models import Course, Enrollment, Lesson, LessonProgress, Module
from tests.factories import CreatorFactory, MembershipFactory, UserFactory
from videos.models import Video


def random_courses(rng: random.Random, creator, student, now) -> list[Course]:
    """1-3 courses of random shape; the student enrolled in some, with some lessons done."""
    courses = []
    for c in range(rng.randint(1, 3)):
        course = Course.objects.create(
            creator=creator,
            title=f"Course {c}",
            slug=f"course-{c}",
            status=rng.choice(["published", "published", "draft"]),
            sequential=rng.random() < 0.6,
            position=c,
        )
        courses.append(course)
        if rng.random() < 0.6:
            Enrollment.objects.create(
                creator=creator,
                course=course,
                user=student,
                enrolled_at=now - timedelta(days=rng.choice([0, 1, 2, 5, 9]), hours=rng.random()),
            )
        for m in range(rng.randint(1, 4)):
            # Positions collide on purpose: ties are broken by id, on both sides.
            module = Module.objects.create(
                creator=creator, course=course, title=f"M{m}", position=rng.randint(0, 1)
            )
            for n in range(rng.randint(0, 4)):
                status = rng.choice(["completed"] * 4 + ["processing", None])
                video = None
                if status is not None:
                    video = Video.objects.create(
                        creator=creator, title=f"V{c}{m}{n}", status=status, duration_seconds=60
                    )
                lesson = Lesson.objects.create(
                    creator=creator,
                    module=module,
                    video=video,
                    title=f"L{c}{m}{n}",
                    position=rng.randint(0, 3),
                    drip_days=rng.choice([0, 0, 0, 1, 3, 7]),
                    is_preview=rng.random() < 0.15,
                )
                if rng.random() < 0.35:
                    LessonProgress.objects.create(
                        creator=creator,
                        lesson=lesson,
                        user=student,
                        started_at=now,
                        updated_at=now,
                        completed_at=now if rng.random() < 0.8 else None,
                    )
    return courses


def states_by_lesson(user, creator, courses, manager, now) -> dict[int, tuple]:
    views = selectors.course_views(
        user=user, creator=creator, courses=courses, now=now, manager=manager
    )
    return {
        s.lesson.pk: (view.course.pk, s.lesson.video_id, s.locked, s.unlocks_at)
        for view in views
        for s in view.states
        if s.visible
    }


@pytest.mark.parametrize("seed", range(30))
def test_lesson_locks_agree_with_lesson_states(db, seed):
    rng = random.Random(seed)
    creator, student = CreatorFactory(), UserFactory()
    MembershipFactory(creator=creator, user=student)
    now = timezone.now()
    courses = random_courses(rng, creator, student, now)
    published = [c for c in courses if c.status == "published"]
    for manager, shown in ((False, published), (True, courses)):
        locks = selectors.lesson_locks(
            user=student, creator_id=creator.pk, manager=manager, now=now
        )
        got = {k.lesson_id: (k.course_id, k.video_id, k.locked, k.unlocks_at) for k in locks}
        assert got == states_by_lesson(student, creator, shown, manager, now)
    some = [c.pk for c in courses[:1]]
    narrowed = selectors.lesson_locks(
        user=student, creator_id=creator.pk, manager=True, course_ids=some, now=now
    )
    assert {k.course_id for k in narrowed} <= set(some)

    every_lesson = set(Lesson.objects.filter(creator=creator).values_list("id", flat=True))
    states = states_by_lesson(student, creator, published, False, now)
    playable = {pk for pk, (_c, _v, locked, _at) in states.items() if not locked}
    assert selectors.lessons_playable(user=student, lesson_ids=every_lesson) == playable
    owner_states = states_by_lesson(creator.owner, creator, courses, True, now)
    assert selectors.lessons_playable(user=creator.owner, lesson_ids=every_lesson) == set(
        owner_states
    )


@pytest.mark.parametrize("seed", range(8))
def test_unlocked_videos_are_those_of_no_locked_lesson_only(db, seed):
    """unlocked_video_ids over the whole library: every video of the creator except those
    only locked lessons of published courses use; and when the next drip opens."""
    rng = random.Random(100 + seed)
    creator, student = CreatorFactory(), UserFactory()
    MembershipFactory(creator=creator, user=student)
    now = timezone.now()
    courses = random_courses(rng, creator, student, now)
    Video.objects.create(creator=creator, title="In no course", status="completed")
    published = [c for c in courses if c.status == "published"]
    states = states_by_lesson(student, creator, published, False, now)
    open_videos = {v for _c, v, locked, _at in states.values() if not locked}
    locked_only = {v for _c, v, _l, _at in states.values()} - open_videos
    every = set(Video.objects.filter(creator=creator).values_list("id", flat=True))
    drips = [at for _c, _v, locked, at in states.values() if locked and at is not None]
    allowed, until = selectors.unlocked_video_ids_until(user=student, creator=creator, now=now)
    assert (allowed, until) == (every - locked_only, min(drips) if drips else None)
    outsider = UserFactory()
    assert selectors.unlocked_video_ids(user=outsider, creator=creator) == set()
