"""Heartbeats the fast lane queues (courses.services.watch_heartbeats_append) and folds later
(watch_pending_fold): the folded progress is what folding each batch at once gives, on
random watching; every read of progress and every lock rule sees them folded; the queue
takes only fresh, well-formed, one-lesson heartbeat batches."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django_q.models import Schedule
from freezegun import freeze_time

from courses import selectors, services, tasks
from courses.models import LessonProgress, PendingHeartbeat, WatchEvent
from courses.services.watch import PLAYABLE_RECHECK_SECONDS
from tests.courses_support import Player, make_course
from tests.factories import MembershipFactory

T0 = "2026-03-02 09:00:00+00:00"
FIELDS = ("played_intervals", "unique_seconds", "last_position", "completed_at")


class LanePlayer(Player):
    """A player whose heartbeat-only batches go through the queue, as the fast lane sends
    them (anything the queue refuses is recorded the full way, as the lane does)."""

    def send(self, events):
        if all(e["verb"] == "heartbeat" for e in events):
            queued = services.watch_heartbeats_append(user_id=self.user.pk, events=events)
            if queued is not None:
                return queued
        return super().send(events)


def progress_of(user, lesson) -> tuple:
    row = LessonProgress.objects.get(user=user, lesson=lesson)
    return tuple(getattr(row, f) for f in FIELDS)


def watch_randomly(player, rng: random.Random, frozen, sweep=None) -> None:
    """A random viewing: plays of random length (rate 1 or 2), seeks back and forward,
    heartbeats claiming more than the clock allows, an `ended`, and (for the queued
    player) the worker's sweep at random moments."""
    for _ in range(rng.randint(3, 7)):
        start = rng.choice([0.0, player.position, rng.uniform(0, 90)])
        if start != player.position:
            player.seek(start)
        player.rate = rng.choice([1.0, 1.0, 2.0])
        end = min(100.0, start + rng.uniform(5, 70))
        player.play(start, end, step=rng.choice([5.0, 10.0]),
                    final=rng.choice(["paused", "heartbeat", "ended"]))  # fmt: skip
        if rng.random() < 0.3:  # a heartbeat claiming 40 s in 10 s of wall time
            at = player.position
            frozen.tick(timedelta(seconds=10))
            player.send([player.event("heartbeat", at + 40, at, at + 40)])
        if rng.random() < 0.4 and sweep is not None:  # the same draws for both players
            sweep()
        frozen.tick(timedelta(seconds=rng.choice([1, 30, 400])))


@pytest.mark.parametrize("seed", range(10))
def test_queued_heartbeats_fold_to_what_folding_at_once_gives(db, creator, student, seed):
    _course, lessons = make_course(creator)
    at_once, queued = student, MembershipFactory(creator=creator).user
    with freeze_time(T0) as frozen:
        watch_randomly(Player(at_once, lessons[0], frozen), random.Random(seed), frozen)
    with freeze_time(T0) as frozen:
        lane = LanePlayer(queued, lessons[0], frozen)
        watch_randomly(lane, random.Random(seed), frozen, sweep=services.watch_pending_fold)
        services.watch_pending_fold()
    assert WatchEvent.objects.filter(user=queued).count() == (
        WatchEvent.objects.filter(user=at_once).count()
    )
    assert progress_of(queued, lessons[0]) == progress_of(at_once, lessons[0])
    assert not PendingHeartbeat.objects.exists()


def test_a_queued_heartbeat_is_stored_and_folded_by_the_next_read(db, creator, student):
    course, lessons = make_course(creator)
    with freeze_time(T0) as frozen:
        player = LanePlayer(student, lessons[0], frozen)
        player.play(0, 30, final="heartbeat")  # `played` the full way, then 3 heartbeats
        assert PendingHeartbeat.objects.filter(user=student).count() == 3
        assert WatchEvent.objects.filter(user=student).count() == 4
        stored = LessonProgress.objects.get(user=student, lesson=lessons[0])
        assert (stored.last_position, stored.unique_seconds) == (0.0, 0.0)
        state = selectors.course_view(user=student, course=course).state_for(lessons[0].pk)
    assert (state.resume_at, state.watched_fraction) == (30.0, pytest.approx(0.3))
    assert not PendingHeartbeat.objects.exists()


def test_a_pause_folds_the_queue_before_itself(db, creator, student):
    _course, lessons = make_course(creator)
    with freeze_time(T0) as frozen:
        LanePlayer(student, lessons[0], frozen).play(0, 40, final="paused")
    assert progress_of(student, lessons[0])[:3] == ([[0.0, 40.0]], 40.0, 40.0)
    assert not PendingHeartbeat.objects.exists()


def test_a_queued_heartbeat_that_completes_a_lesson_unlocks_the_next_for_chat(db, creator, student):
    course, lessons = make_course(creator, modules=(("One", 2),), sequential=True)
    services.enrollment_ensure(user=student, course=course)
    with freeze_time(T0) as frozen:
        LanePlayer(student, lessons[0], frozen).play(0, 95, final="heartbeat")
        assert PendingHeartbeat.objects.filter(user=student).exists()
        before = LessonProgress.objects.get(user=student, lesson=lessons[0]).completed_at
        assert before is None
        allowed = selectors.unlocked_video_ids(user=student, creator=creator)
    assert lessons[1].video_id in allowed
    assert not PendingHeartbeat.objects.exists()


def test_the_queue_takes_only_fresh_one_lesson_heartbeat_batches(db, creator, student):
    _course, lessons = make_course(creator)
    with freeze_time(T0) as frozen:
        player = Player(student, lessons[0], frozen)
        first = [player.event("heartbeat", 10, 0, 10)]
        # No progress row yet, so no verdict: the full way records (and checks) it.
        assert services.watch_heartbeats_append(user_id=student.pk, events=first) is None
        player.send(first)
        frozen.tick(timedelta(seconds=10))
        other = Player(student, lessons[1], frozen)
        refused = {
            "paused": [player.event("paused", 20, 10, 20)],
            "two lessons": [
                player.event("heartbeat", 20, 10, 20),
                other.event("heartbeat", 10, 0, 10),
            ],
            "malformed": [{**player.event("heartbeat", 20, 10, 20), "seq": -1}],
            "empty": [],
        }
        for name, events in refused.items():
            assert services.watch_heartbeats_append(user_id=student.pk, events=events) is None, name
        frozen.tick(timedelta(seconds=PLAYABLE_RECHECK_SECONDS + 1))
        stale = [player.event("heartbeat", 30, 20, 30)]
        assert services.watch_heartbeats_append(user_id=student.pk, events=stale) is None
    assert WatchEvent.objects.count() == 1 and not PendingHeartbeat.objects.exists()


def test_a_resent_queued_heartbeat_is_a_duplicate(db, creator, student):
    _course, lessons = make_course(creator)
    with freeze_time(T0) as frozen:
        player = LanePlayer(student, lessons[0], frozen)
        player.play(0, 10, final="heartbeat")
        frozen.tick(timedelta(seconds=10))
        batch = [player.event("heartbeat", 20, 10, 20)]
        assert player.send(batch) == services.WatchResult(accepted=1, duplicates=0)
        assert player.send(batch) == services.WatchResult(accepted=0, duplicates=1)
    assert PendingHeartbeat.objects.count() == 2  # 0-10 and 10-20


def test_the_worker_folds_the_queue_every_minute(db, creator, student):
    _course, lessons = make_course(creator)
    schedule = Schedule.objects.get(func="courses.tasks.pending_heartbeats_fold")
    assert (schedule.schedule_type, schedule.minutes) == (Schedule.MINUTES, 1)
    with freeze_time(T0) as frozen:
        LanePlayer(student, lessons[0], frozen).play(0, 30, final="heartbeat")
        assert tasks.pending_heartbeats_fold() == 3
    assert progress_of(student, lessons[0])[:3] == ([[0.0, 30.0]], 30.0, 30.0)
    assert tasks.pending_heartbeats_fold() == 0
