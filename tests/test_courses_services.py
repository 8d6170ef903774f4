"""Course rules (issue 8): coverage-based completion that seeking and too-fast intervals
cannot game, sticky completion and resume, idempotent events, progress as lessons come
and go, sequential and drip locks (frozen clock), and the unlocked-videos selector."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time

from chronos.errors import DomainError
from courses import selectors, services
from courses.intervals import intervals_merge, intervals_total
from courses.models import LessonProgress, WatchEvent
from tests.courses_support import Player, make_course, make_video

T0 = "2026-03-02 09:00:00+00:00"


def progress_of(user, lesson) -> LessonProgress:
    return LessonProgress.objects.get(user=user, lesson=lesson)


def view_of(user, course):
    return selectors.course_view(user=user, course=course)


def test_intervals_merge_sorts_merges_and_clips():
    merged = intervals_merge([[50, 60], [0, 10], [5, 20], [20, 25], [90, 130], [7, 3]], limit=100)
    assert merged == [[0, 25], [50, 60], [90, 100]]
    assert intervals_total(merged) == 45


def test_ninety_percent_unique_coverage_completes(db, creator, student):
    _course, lessons = make_course(creator)
    with freeze_time(T0) as frozen:
        player = Player(student, lessons[0], frozen)
        player.play(0, 50)
        row = progress_of(student, lessons[0])
        assert row.unique_seconds == pytest.approx(50)
        assert row.completed_at is None
        assert row.last_position == 50
        player.play(50, 89)
        assert progress_of(student, lessons[0]).completed_at is None
        player.play(89, 91)
    row = progress_of(student, lessons[0])
    assert row.played_intervals == [[0, 91]]
    assert row.completed_at is not None


def test_replayed_seconds_count_once(db, creator, student):
    """Teachable's example: the first 20 s and the last 50 s of 100 s, twice, is 70%."""
    _course, lessons = make_course(creator)
    with freeze_time(T0) as frozen:
        for _ in range(2):
            player = Player(student, lessons[0], frozen)
            player.play(0, 20)
            player.seek(50)
            player.play(50, 100)
    row = progress_of(student, lessons[0])
    assert row.unique_seconds == pytest.approx(70)
    assert row.completed_at is None


def test_seeking_to_the_end_never_completes(db, creator, student):
    _course, lessons = make_course(creator)
    with freeze_time(T0) as frozen:
        player = Player(student, lessons[0], frozen)
        player.play(0, 5)
        player.seek(100)
        frozen.tick(1)
        player.send([player.event("ended", 100, 100, 100)])
        # Seek to just before the end and play the last seconds: still not real playback.
        player.seek(96)
        player.play(96, 100, final="ended")
    row = progress_of(student, lessons[0])
    assert row.completed_at is None
    assert row.unique_seconds == pytest.approx(9)


def test_ended_after_real_playback_completes_below_ninety_percent(db, creator, student):
    """A few lost heartbeats: 80% coverage, then the video plays to its end."""
    _course, lessons = make_course(creator)
    with freeze_time(T0) as frozen:
        player = Player(student, lessons[0], frozen)
        player.play(0, 40)
        frozen.tick(20)  # two heartbeats lost in the network
        player.send([player.event("heartbeat", 60, 60, 60)])
        player.play(60, 100, final="ended")
    row = progress_of(student, lessons[0])
    assert row.unique_seconds == pytest.approx(80)
    assert row.completed_at is not None
    assert row.last_position == 0  # completed and played to the end: resume from the start


def test_growth_faster_than_wall_clock_is_discarded(db, creator, student):
    _course, lessons = make_course(creator)
    with freeze_time(T0) as frozen:
        player = Player(student, lessons[0], frozen)
        player.send([player.event("played", 0, 0, 0)])
        frozen.tick(10)
        # Ten seconds later the client claims 95 seconds played at normal speed.
        player.send([player.event("heartbeat", 95, 0, 95)])
        row = progress_of(student, lessons[0])
        assert row.unique_seconds == 0
        assert row.completed_at is None
        # A forged client clock does not help: the server's clock bounds the batch.
        forged = player.event("heartbeat", 95, 0, 95)
        forged["client_time"] = "2030-01-01T00:00:00+00:00"
        frozen.tick(10)
        player.send([forged])
        assert progress_of(student, lessons[0]).unique_seconds == 0
        # Double speed covers twice the wall time, legitimately.
        fast = Player(student, lessons[1], frozen, rate=2.0)
        fast.play(0, 40)
    assert progress_of(student, lessons[1]).unique_seconds == pytest.approx(40)


def test_completion_is_sticky_and_resume_is_the_last_position(db, creator, student):
    course, lessons = make_course(creator)
    with freeze_time(T0) as frozen:
        Player(student, lessons[0], frozen).play(0, 95)
        done = progress_of(student, lessons[0]).completed_at
        assert done is not None
        again = Player(student, lessons[0], frozen)
        again.seek(30)
        again.play(30, 42)
    row = progress_of(student, lessons[0])
    assert row.completed_at == done
    assert row.last_position == 42
    state = view_of(student, course).state_for(lessons[0].pk)
    assert state.completed and state.resume_at == 42 and state.watched_fraction == 0.95


def test_events_are_idempotent_on_session_and_seq(db, creator, student):
    _course, lessons = make_course(creator)
    with freeze_time(T0) as frozen:
        player = Player(student, lessons[0], frozen)
        player.send([player.event("played", 0, 0, 0)])
        frozen.tick(10)
        batch = [player.event("heartbeat", 10, 0, 10)]
        assert player.send(batch) == services.WatchResult(accepted=1, duplicates=0)
        frozen.tick(10)
        assert player.send(batch + batch) == services.WatchResult(accepted=0, duplicates=2)
    assert WatchEvent.objects.filter(user=student).count() == 2
    assert progress_of(student, lessons[0]).unique_seconds == pytest.approx(10)


def test_malformed_events_are_refused_with_their_index(db, creator, student):
    _course, lessons = make_course(creator)
    with freeze_time(T0) as frozen:
        player = Player(student, lessons[0], frozen)
        good = player.event("played", 0, 0, 0)
        bad = player.event("jumped", -3, 0, 1)
        bad["session_id"] = "not-a-uuid"
        with pytest.raises(DomainError) as caught:
            player.send([good, bad])
    errors = caught.value.fields
    assert set(errors) == {"events[1].verb", "events[1].position", "events[1].session_id"}
    assert not WatchEvent.objects.exists()


def test_progress_counts_visible_lessons_and_drops_when_lessons_are_added(db, creator, student):
    course, lessons = make_course(creator, modules=(("One", 2),))
    with freeze_time(T0) as frozen:
        Player(student, lessons[0], frozen).play(0, 100)
    assert view_of(student, course).progress == 50
    module = lessons[0].module
    later = make_video(creator, "Added later")
    services.lesson_create(module=module, video_id=later.pk)
    assert view_of(student, course).progress == 33
    # A lesson whose video was deleted is hidden and does not count.
    later.delete()
    assert view_of(student, course).progress == 50
    # Still processing: hidden too.
    processing = make_video(creator, "Processing")
    processing.status = "transcribing"
    processing.save()
    services.lesson_create(module=module, video_id=processing.pk)
    assert view_of(student, course).progress == 50


def test_sequential_course_locks_until_previous_complete(db, creator, student):
    course, lessons = make_course(creator, sequential=True)
    services.lesson_update(lesson=lessons[2], is_preview=True)
    states = {s.lesson.pk: s for s in view_of(student, course).states}
    assert not states[lessons[0].pk].locked
    assert states[lessons[1].pk].locked and states[lessons[1].pk].lock_reason == "order"
    assert states[lessons[1].pk].previous == lessons[0]
    assert not states[lessons[2].pk].locked  # a preview is never locked
    assert all(not s.locked for s in view_of(creator.owner, course).states)
    with freeze_time(T0) as frozen:
        Player(student, lessons[0], frozen).play(0, 100, final="ended")
    states = {s.lesson.pk: s for s in view_of(student, course).states}
    assert not states[lessons[1].pk].locked
    assert view_of(student, course).next_state.lesson == lessons[1]


def test_drip_unlocks_days_after_enrollment_frozen_clock(db, creator, student):
    course, lessons = make_course(creator)
    services.lesson_update(lesson=lessons[1], drip_days=3)
    with freeze_time(T0) as frozen:
        enrollment = services.enrollment_ensure(user=student, course=course)
        frozen.tick(timedelta(days=2, hours=23))
        state = view_of(student, course).state_for(lessons[1].pk)
        assert state.locked and state.lock_reason == "drip"
        assert state.unlocks_at == enrollment.enrolled_at + timedelta(days=3)
        assert lessons[1].video_id not in selectors.unlocked_video_ids(
            user=student, creator=creator
        )
        frozen.tick(timedelta(hours=1))
        assert not view_of(student, course).state_for(lessons[1].pk).locked
        assert lessons[1].video_id in selectors.unlocked_video_ids(user=student, creator=creator)


def test_locked_lesson_cannot_receive_watch_events(db, creator, student):
    _course, lessons = make_course(creator, sequential=True)
    with freeze_time(T0) as frozen, pytest.raises(DomainError) as caught:
        Player(student, lessons[1], frozen).play(0, 10)
    assert "events[0].lesson_id" in caught.value.fields


def test_a_lock_added_stops_heartbeats_once_the_verdict_is_old(db, creator, student):
    """The "playable" verdict lives on the student's progress row for
    PLAYABLE_RECHECK_SECONDS (shared by every web process): within it a steady batch runs
    no lock check (two statements); after it the check runs again and refuses."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from courses.services.watch import PLAYABLE_RECHECK_SECONDS

    course, lessons = make_course(creator)
    with freeze_time(T0) as frozen:
        player = Player(student, lessons[0], frozen)
        player.play(0, 10)
        assert progress_of(student, lessons[0]).playable_checked_at is not None
        services.course_update(course=course, status="draft")  # locks every lesson
        frozen.tick(timedelta(seconds=10))
        with CaptureQueriesContext(connection) as ctx:
            player.send([player.event("heartbeat", 20, 10, 20)])  # verdict still fresh
        assert len([q for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]) == 2
        frozen.tick(timedelta(seconds=PLAYABLE_RECHECK_SECONDS))
        stored = WatchEvent.objects.count()
        with pytest.raises(DomainError) as caught:
            player.send([player.event("heartbeat", 30, 20, 30)])
    assert list(caught.value.fields) == ["events[0].lesson_id"]
    assert WatchEvent.objects.count() == stored
    assert progress_of(student, lessons[0]).last_position == 20


def test_another_users_resent_events_are_refused_not_counted(db, creator, student, other_creator):
    """A batch whose events all exist already is still checked against the sender's
    lessons: an outsider replaying a student's batch gets the lesson error, not
    "duplicates"; so does an unknown lesson id, and field errors come with it."""
    from tests.factories import MembershipFactory

    _course, lessons = make_course(creator)
    outsider = MembershipFactory(creator=other_creator).user
    with freeze_time(T0) as frozen:
        player = Player(student, lessons[0], frozen)
        batch = [player.event("played", 0, 0, 0)]
        assert player.send(batch).accepted == 1
        with pytest.raises(DomainError) as caught:
            services.watch_events_record(user=outsider, events=batch)
        assert list(caught.value.fields) == ["events[0].lesson_id"]
        bad = [{**batch[0], "verb": "jump"}, {**batch[0], "seq": 2, "lesson_id": 10**9}]
        with pytest.raises(DomainError) as caught:
            services.watch_events_record(user=student, events=bad)
        assert list(caught.value.fields) == ["events[0].verb", "events[1].lesson_id"]
        with pytest.raises(DomainError) as caught:
            services.watch_events_record(user=student, events=[{**batch[0], "seq": 2**31}])
        assert list(caught.value.fields) == ["events[0].seq"]
        with pytest.raises(DomainError) as caught:  # beyond bigint: a 400, not a 500
            services.watch_events_record(user=student, events=[{**batch[0], "lesson_id": 2**63}])
        assert list(caught.value.fields) == ["events[0].lesson_id"]
    assert WatchEvent.objects.count() == 1


def test_who_may_record_watching_a_lesson(db, creator, student):
    """lessons_playable's access rules: the creator (owner) may watch a draft course's
    lessons, a student may not; a student whose membership ended may not watch a
    published one; a sequential course's second lesson waits for the first."""
    from creators.models import Membership

    _draft, drafts = make_course(creator, published=False)
    _course, lessons = make_course(creator, sequential=True)
    ids = {drafts[0].pk, lessons[0].pk, lessons[1].pk}
    assert set(selectors.lessons_playable(user=creator.owner, lesson_ids=ids)) == ids
    assert set(selectors.lessons_playable(user=student, lesson_ids=ids)) == {lessons[0].pk}
    Membership.objects.filter(user=student).update(status=Membership.Status.CANCELED)
    assert selectors.lessons_playable(user=student, lesson_ids=ids) == set()


def test_unlocked_video_ids(db, creator, student, other_creator):
    course, lessons = make_course(creator, sequential=True)
    loose = make_video(creator, "Not in any course")
    draft, draft_lessons = make_course(creator, published=False)
    assert selectors.unlocked_video_ids(user=creator.owner, creator=creator) is None
    ids = selectors.unlocked_video_ids(user=student, creator=creator)
    assert lessons[0].video_id in ids and loose.pk in ids
    assert lessons[1].video_id not in ids and lessons[2].video_id not in ids
    assert draft_lessons[0].video_id in ids  # a draft course gates nothing
    assert selectors.unlocked_video_ids(user=student, creator=creator, course=course) == {
        lessons[0].video_id
    }
    assert selectors.unlocked_video_ids(user=student, creator=creator, course=draft) == set()
    assert selectors.unlocked_video_ids(user=student, creator=other_creator) == set()


def test_order_set_validates_and_renumbers(db, creator):
    course, lessons = make_course(creator)
    one, two = selectors.course_structure(course=course)
    _other_course, other_lessons = make_course(creator)
    full = [
        {"id": two.pk, "lessons": [lessons[2].pk, lessons[0].pk]},
        {"id": one.pk, "lessons": [lessons[1].pk]},
    ]
    with pytest.raises(DomainError, match="Left out"):
        services.course_order_set(course=course, order=full[:1])
    with pytest.raises(DomainError, match="Not in this course"):
        services.course_order_set(
            course=course, order=[*full[:1], {"id": one.pk, "lessons": [other_lessons[0].pk]}]
        )
    with pytest.raises(DomainError, match="twice"):
        services.course_order_set(
            course=course, order=[full[0], {"id": one.pk, "lessons": [lessons[0].pk]}]
        )
    with pytest.raises(DomainError):
        services.course_order_set(course=course, order=[{"id": "x"}])
    services.course_order_set(course=course, order=full)
    got = [
        (m.pk, [ls.pk for ls in m.lesson_list]) for m in selectors.course_structure(course=course)
    ]
    assert got == [(two.pk, [lessons[2].pk, lessons[0].pk]), (one.pk, [lessons[1].pk])]


def test_keyboard_moves(db, creator):
    course, lessons = make_course(creator)
    _one, two = selectors.course_structure(course=course)
    services.lesson_move(lesson=lessons[1], direction="down")  # crosses into module two
    services.module_move(module=two, direction="up")
    services.lesson_move(lesson=lessons[0], module=two)
    got = [[ls.pk for ls in m.lesson_list] for m in selectors.course_structure(course=course)]
    assert got == [[lessons[1].pk, lessons[2].pk, lessons[0].pk], []]
