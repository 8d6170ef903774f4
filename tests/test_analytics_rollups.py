"""Rollups equal a from-scratch computation, whatever order and batches events arrive in.

The property test generates random player sessions (continuous play, rewinds that overlap
what was played, forward skips, seeks, pauses, replays of whole stretches), delivers their
events in random order and random batches with the incremental rollup running between
batches, and checks (1) the incremental result equals `analytics_rebuild` from scratch and
(2) the engagement graph equals an independent per-bucket computation straight from the
raw segments (unique viewers = students with any played second in the bucket).
"""

from __future__ import annotations

import math
import random
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.models import (
    CourseDay,
    CourseProgress,
    QuestionFact,
    QuestionGroupMonth,
    QuestionMonth,
    StudentDay,
    StudentMonth,
    VideoDay,
    VideoMonth,
    VideoViewerDay,
    WatchSession,
)
from analytics.ranges import DateRange
from analytics.rollups import OVERLAP_SECONDS, Segment, fold_segments, rollup_rebuild, rollup_update
from analytics.selectors import engagement, overview
from courses.models import WatchEvent
from tests.analytics_support import ask, course_with_videos, play, progress
from tests.factories import MembershipFactory

DURATION = 60.0
BASE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_fold_runs_replays_and_seeks():
    segs = [
        Segment(0, "played", None, None),
        Segment(1, "heartbeat", 0.0, 10.0),
        Segment(2, "heartbeat", 10.2, 20.0),  # continuous (jitter below 1 s)
        Segment(3, "seeked", 20.0, 5.0),  # a seek plays nothing and ends the run
        Segment(4, "heartbeat", 5.0, 12.0),  # replays 5..12
        Segment(6, "paused", 30.0, 31.0),  # forward skip without a seek: a new run
    ]
    fold = fold_segments(reversed(segs), duration=40.0)  # arrival order does not matter
    assert fold.runs == [[0.0, 20.0], [5.0, 12.0], [30.0, 31.0]]
    assert fold.watch_seconds == pytest.approx(10 + 9.8 + 7 + 1)
    # buckets: [0,5) once, [5,10) twice, [10,15) twice, [15,20) once, [30,35) once
    assert fold.buckets == [1, 2, 2, 1, 0, 0, 1, 0]


def test_fold_clamps_to_duration_and_ignores_garbage():
    fold = fold_segments(
        [
            Segment(0, "heartbeat", 50.0, 500.0),
            Segment(1, "heartbeat", 9.0, 3.0),
            Segment(2, "heartbeat", float("nan"), 4.0),
        ],
        duration=60.0,
    )
    assert fold.watch_seconds == pytest.approx(10.0)
    assert len(fold.buckets) == 12 and fold.buckets[10] == 1 and fold.buckets[11] == 1


# --- the property test -------------------------------------------------------------------------

action = st.one_of(
    st.tuples(st.just("play"), st.floats(1, 25)),  # keep playing for n seconds
    st.tuples(st.just("rewind"), st.floats(1, 30)),  # jump back (overlaps what was played)
    st.tuples(st.just("skip"), st.floats(2, 20)),  # jump forward without a seek event
    st.tuples(st.just("seek"), st.floats(0, DURATION)),  # a seek to a position
    st.tuples(st.just("pause"), st.just(0.0)),
)
session = st.tuples(
    st.integers(0, 2),  # student
    st.integers(0, 1),  # lesson
    st.integers(0, 3),  # day offset
    st.floats(0, DURATION - 1),  # start position
    st.lists(action, min_size=1, max_size=12),
)


def _events(start: float, actions) -> list[tuple]:
    """(verb, time_from, time_to) events a player would send for these actions."""
    out, pos = [("played", None, None)], start
    for kind, amount in actions:
        if kind == "play":
            end = min(DURATION, pos + amount)
            if end > pos:
                out.append(("heartbeat", pos, end))
            pos = end
        elif kind == "rewind":
            pos = max(0.0, pos - amount)
        elif kind == "skip":
            pos = min(DURATION, pos + amount)
        elif kind == "seek":
            out.append(("seeked", pos, amount))
            pos = amount
        else:
            out.append(("paused", pos, pos))
    return out


def _truth(sessions_events) -> dict[int, dict]:
    """Per lesson index: {bucket: set(students)} from raw played segments, and watch seconds."""
    viewers: dict[int, dict] = defaultdict(lambda: defaultdict(set))
    watch = 0.0
    for student, lesson, _day, events in sessions_events:
        for verb, a, b in events:
            if verb == "seeked" or a is None or b <= a:
                continue
            watch += b - a
            for i in range(int(a // 5), math.ceil(b / 5)):
                viewers[lesson][i].add(student)
    return {"viewers": viewers, "watch": watch}


def _snapshot(creator) -> dict:
    def rows(model, *fields):
        return sorted(
            (
                tuple(round(v, 6) if isinstance(v, float) else v for v in r)
                for r in model.objects.filter(creator=creator).values_list(*fields)
            ),
            key=repr,
        )

    return {
        "sessions": rows(
            WatchSession,
            "session_id",
            "user_id",
            "video_id",
            "course_id",
            "day",
            "events",
            "watch_seconds",
            "furthest",
            "buckets",
        ),
        "students": rows(
            StudentDay,
            "user_id",
            "course_id",
            "day",
            "sessions",
            "watch_seconds",
            "completions",
            "questions",
            "questions_not_covered",
        ),
        "courses": rows(
            CourseDay,
            "course_id",
            "day",
            "views",
            "watch_seconds",
            "active_students",
            "completions",
            "questions",
            "questions_not_covered",
        ),
        "questions": rows(QuestionFact, "message_id", "video_id", "position", "covered", "day"),
        "video_days": rows(VideoDay, "video_id", "day", "plays"),
        "video_months": rows(VideoMonth, "video_id", "month", "plays"),
        "video_viewers": rows(VideoViewerDay, "video_id", "user_id", "day", "seen"),
        "course_students": _course_students(creator),
        "course_progress": rows(CourseProgress, "user_id", "course_id", "started", "done"),
        "question_months": rows(QuestionMonth, "video_id", "course_id", "month", "questions"),
        "question_group_months": rows(
            QuestionGroupMonth,
            "course_id",
            "month",
            "lexemes",
            "questions",
            "not_covered",
            "text",
            "not_covered_text",
            "last_not_covered_at",
            "last_not_covered_message_id",
        ),
        "student_months": rows(
            StudentMonth, "user_id", "month", "watch_seconds", "questions", "completions"
        ),
    }


def _course_students(creator) -> list[tuple]:
    """CourseDay.students decoded through StudentBit: (course, day, sorted user ids) — bits
    may differ between an incremental run and a rebuild, the students may not; each row's
    students are its StudentDay rows' students."""
    from analytics.models import StudentBit

    user_of = dict(StudentBit.objects.filter(creator=creator).values_list("bit", "user_id"))
    out = []
    for course, day, mask in CourseDay.objects.filter(creator=creator).values_list(
        "course_id", "day", "students"
    ):
        n = int.from_bytes(mask, "little")
        users = sorted(user_of[b] for b in range(n.bit_length()) if n >> b & 1)
        truth = StudentDay.objects.filter(creator=creator, course_id=course, day=day)
        assert users == sorted(truth.values_list("user_id", flat=True)), (course, day)
        out.append((course, day, users))
    return sorted(out, key=repr)


def _plays_from_sessions(creator, video_id: int, days: set) -> list[int]:
    """Plays per bucket straight from the WatchSession arrays (what VideoDay must sum to)."""
    total: list[int] = []
    for buckets in WatchSession.objects.filter(
        creator=creator, video_id=video_id, day__in=days
    ).values_list("buckets", flat=True):
        total += [0] * (len(buckets) - len(total))
        for i, p in enumerate(buckets):
            total[i] += p
    return total


@pytest.fixture
def world(creator):
    course, lessons = course_with_videos(creator, n=2, duration=DURATION)
    students = [MembershipFactory(creator=creator).user for _ in range(3)]
    return creator, course, lessons, students


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sessions=st.lists(session, min_size=1, max_size=6), seed=st.integers(0, 10_000))
def test_incremental_rollups_equal_rebuild_and_truth(world, sessions, seed):
    creator, _course, lessons, students = world
    WatchEvent.objects.filter(creator=creator).delete()
    rollup_rebuild(creator=creator)
    rng = random.Random(seed)
    rows, truth_input = [], []
    for student, lesson, day, start, actions in sessions:
        events = _events(start, actions)
        sid = uuid.uuid4()
        truth_input.append((student, lesson, day, events))
        for seq, ev in enumerate(events):
            rows.append((sid, seq, student, lesson, day, ev))
    rng.shuffle(rows)  # out-of-order arrival, sessions interleaved
    clock = BASE
    cut = sorted(rng.sample(range(len(rows) + 1), k=min(3, len(rows) + 1)))
    batches = [rows[a:b] for a, b in zip([0, *cut], [*cut, len(rows)], strict=True)]
    for batch in batches:
        for sid, seq, student, lesson, day, (verb, a, b) in batch:
            play(
                creator=creator,
                user=students[student],
                lesson=lessons[lesson],
                at=BASE + timedelta(days=day),
                segments=[(verb, a, b)],
                session_id=sid,
                first_seq=seq,
                received_at=clock,
            )
            clock += timedelta(seconds=1)
        # A session's day is its first arrival's day, so arrival times stay within a day.
        rollup_update(creator=creator)
    incremental = _snapshot(creator)
    rollup_rebuild(creator=creator)
    assert _snapshot(creator) == incremental

    everything = DateRange("all", BASE.date() - timedelta(days=1), BASE.date() + timedelta(days=5))
    truth = _truth(truth_input)
    for index, lesson in enumerate(lessons):
        graph = engagement(creator=creator, video_id=lesson.video_id, rng=everything)
        assert len(graph["buckets"]) == DURATION / 5
        plays = _plays_from_sessions(creator, lesson.video_id, {BASE.date()})
        for b in graph["buckets"]:
            expected = len(truth["viewers"][index].get(b["start"] // 5, ()))
            assert b["unique_viewers"] == expected, (index, b)
            assert b["plays"] >= b["unique_viewers"]
            i = b["start"] // 5
            assert b["plays"] == (plays[i] if i < len(plays) else 0), (index, b)
    cards = overview(creator=creator, rng=everything)
    assert cards["watch_seconds"] == pytest.approx(truth["watch"], abs=0.2)


@pytest.mark.django_db
def test_late_commit_inside_overlap_is_not_missed(world):
    creator, _course, lessons, students = world
    play(
        creator=creator,
        user=students[0],
        lesson=lessons[0],
        at=BASE,
        segments=[("heartbeat", 0.0, 10.0)],
    )
    rollup_update(creator=creator)
    # A row stamped before the watermark, committed after the run (a slow transaction).
    play(
        creator=creator,
        user=students[1],
        lesson=lessons[0],
        at=BASE,
        segments=[("heartbeat", 0.0, 10.0)],
        received_at=BASE - timedelta(seconds=OVERLAP_SECONDS // 2),
    )
    rollup_update(creator=creator)
    day = DateRange("custom", BASE.date(), BASE.date())
    assert (
        engagement(creator=creator, video_id=lessons[0].video_id, rng=day)["buckets"][0][
            "unique_viewers"
        ]
        == 2
    )


@pytest.mark.django_db
def test_completions_questions_and_rebuild_command(world):
    creator, course, lessons, students = world
    s0, s1 = students[0], students[1]
    play(creator=creator, user=s0, lesson=lessons[0], at=BASE, segments=[("heartbeat", 0, 60)])
    progress(creator=creator, user=s0, lesson=lessons[0], at=BASE, intervals=[[0, 60]])
    ask(
        creator=creator,
        user=s1,
        text="Why does the flame point up?",
        at=BASE,
        cite=(lessons[1].video, 32.0),
    )
    ask(
        creator=creator,
        user=s1,
        text="Is there an exam?",
        at=BASE + timedelta(days=1),
        covered=False,
    )
    rollup_update(creator=creator)
    rng = DateRange("custom", BASE.date(), BASE.date() + timedelta(days=1))
    cards = overview(creator=creator, rng=rng)
    assert cards == {
        "active_students": 2,
        "watch_seconds": 60.0,
        "lesson_completions": 1,
        "questions": 2,
        "questions_not_covered": 1,
    }
    placed = QuestionFact.objects.get(text__startswith="Why")
    assert (placed.video_id, placed.position, placed.placed_by) == (
        lessons[1].video_id,
        32.0,
        "citation",
    )
    assert placed.course_id == course.pk  # via the lesson that plays the cited video
    before = _snapshot(creator)
    WatchSession.objects.filter(creator=creator).delete()  # damage: the command repairs it
    call_command("analytics_rebuild", "--creator", creator.handle)
    assert _snapshot(creator) == before


@pytest.mark.django_db
def test_timezone_decides_the_day(world):
    creator, _course, lessons, students = world
    if not hasattr(creator, "timezone"):
        pytest.skip("Creator.timezone not on this branch yet")
    late = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)  # already 3 March in Tokyo
    play(
        creator=creator,
        user=students[0],
        lesson=lessons[0],
        at=late,
        segments=[("heartbeat", 0, 10)],
    )
    rollup_update(creator=creator)
    assert WatchSession.objects.get(creator=creator).day.isoformat() == "2026-03-02"
    creator.timezone = "Asia/Tokyo"
    creator.save(update_fields=["timezone"])
    rollup_update(creator=creator)  # a changed zone rebuilds
    assert WatchSession.objects.get(creator=creator).day.isoformat() == "2026-03-03"


@pytest.mark.django_db
def test_unique_viewers_over_several_days_count_each_student_once(world):
    """VideoViewerDay keeps one row per (student, day): a range's unique viewers OR them per
    student, so a student who rewatches on another day is one viewer, not two."""
    creator, _course, lessons, students = world
    video = lessons[0].video_id
    for day, student, segment in (
        (0, 0, ("heartbeat", 0.0, 12.0)),  # buckets 0-2
        (1, 0, ("heartbeat", 8.0, 22.0)),  # buckets 1-4: 1 and 2 again, another day
        (1, 1, ("heartbeat", 0.0, 6.0)),  # buckets 0-1
    ):
        at = BASE + timedelta(days=day)
        play(
            creator=creator,
            user=students[student],
            lesson=lessons[0],
            at=at,
            segments=[segment],
            received_at=at,
        )
    rollup_update(creator=creator)
    both = DateRange("custom", BASE.date(), BASE.date() + timedelta(days=1))
    second = DateRange("custom", BASE.date() + timedelta(days=1), BASE.date() + timedelta(days=1))

    def graph(rng):
        b = engagement(creator=creator, video_id=video, rng=rng)["buckets"]
        return [(x["unique_viewers"], x["plays"]) for x in b[:6]]

    assert graph(both) == [(2, 2), (2, 3), (1, 2), (1, 1), (1, 1), (0, 0)]
    assert graph(second) == [(1, 1), (2, 2), (1, 1), (1, 1), (1, 1), (0, 0)]
    incremental = _snapshot(creator)
    rollup_rebuild(creator=creator)
    assert _snapshot(creator) == incremental
    assert VideoViewerDay.objects.filter(creator=creator).count() == 3


def test_a_closed_month_is_read_from_one_row_per_video(world):
    """VideoMonth holds a closed month's plays (the current month stays per day); a range
    that wholly covers the month reads that row; a late event into the month rewrites it."""
    creator, _course, lessons, students = world
    video = lessons[0].video_id
    feb = [datetime(2026, 2, 3, 9, tzinfo=UTC), datetime(2026, 2, 20, 9, tzinfo=UTC)]
    first = play(creator=creator, user=students[0], lesson=lessons[0], at=feb[0],
                 segments=[("heartbeat", 0, 40)])  # fmt: skip
    play(creator=creator, user=students[1], lesson=lessons[0], at=feb[1],
         segments=[("heartbeat", 20, 60), ("heartbeat", 0, 10)])  # fmt: skip
    play(creator=creator, user=students[2], lesson=lessons[0], at=timezone.now(),
         segments=[("heartbeat", 0, 30)])  # fmt: skip
    rollup_update(creator=creator)
    feb_days = {d.date() for d in feb}
    month = DateRange("custom", date(2026, 2, 1), date(2026, 2, 28))
    assert list(VideoMonth.objects.filter(creator=creator).values_list("video_id", "month")) == [
        (video, date(2026, 2, 1))
    ]  # not the current month
    plays = [b["plays"] for b in engagement(creator=creator, video_id=video, rng=month)["buckets"]]
    assert plays[: len(expected := _plays_from_sessions(creator, video, feb_days))] == expected
    assert sum(expected) == 8 + 8 + 2  # 0-40 s, 20-60 s, 0-10 s in 5-second buckets
    # The month's row is what a whole-month range reads (the days' rows are not summed).
    VideoDay.objects.filter(creator=creator, day__in=feb_days).update(plays=[])
    assert [
        b["plays"] for b in engagement(creator=creator, video_id=video, rng=month)["buckets"]
    ] == plays
    part = DateRange("custom", date(2026, 2, 1), date(2026, 2, 27))  # not the whole month
    assert not any(
        b["plays"] for b in engagement(creator=creator, video_id=video, rng=part)["buckets"]
    )
    rollup_rebuild(creator=creator)  # back to the truth, the month materialised again
    assert VideoMonth.objects.filter(creator=creator).count() == 1
    assert [
        b["plays"] for b in engagement(creator=creator, video_id=video, rng=month)["buckets"]
    ] == plays
    # A late event of a February session: the day and its month are folded again.
    play(creator=creator, user=students[0], lesson=lessons[0], at=feb[0] + timedelta(minutes=5),
         segments=[("heartbeat", 50, 60)], session_id=first, first_seq=1,
         received_at=timezone.now())  # fmt: skip
    rollup_update(creator=creator)
    again = [b["plays"] for b in engagement(creator=creator, video_id=video, rng=month)["buckets"]]
    assert sum(again) == sum(plays) + 2 and again == [
        b["plays"] for b in engagement(creator=creator, video_id=video, rng=part)["buckets"]
    ]


def _oracle(creator, rng: DateRange, course_id: int | None, lesson_total: dict) -> dict:
    """The active-student figures computed straight from StudentDay, Enrollment and
    LessonProgress rows in Python (what the bitmaps must reproduce)."""
    from courses.models import Enrollment, LessonProgress

    days = StudentDay.objects.filter(creator=creator, day__gte=rng.start, day__lte=rng.end)
    if course_id:
        days = days.filter(course_id=course_id)
    rows = list(days.values_list("user_id", "course_id", "day"))
    weekly = rng.days > 92
    per: dict = defaultdict(set)
    for user, _course, day in rows:
        per[day - timedelta(days=day.weekday()) if weekly else day].add(user)
    lo, hi = rng.bounds_utc()
    done: dict = defaultdict(int)
    started = set()
    for user, course, s, c in LessonProgress.objects.filter(creator=creator).values_list(
        "user_id", "lesson__module__course_id", "started_at", "completed_at"
    ):
        if s < hi:
            started.add((user, course))
            done[(user, course)] += c is not None and c < hi
    spread = [0, 0, 0, 0]
    for user, course in {(u, c) for u, c, _d in rows if c is not None}:
        share = 100 * done[(user, course)] / max(lesson_total.get(course, 0), 1)
        spread[0 if share < 30 else 1 if share < 60 else 2 if share < 100 else 3] += 1
    enrolled = Enrollment.objects.filter(creator=creator, enrolled_at__gte=lo, enrolled_at__lt=hi)
    if course_id:
        enrolled = enrolled.filter(course_id=course_id)
    pairs = set(enrolled.values_list("user_id", "course_id"))
    whole = {c: max(lesson_total.get(c, 0), 1) for _u, c in pairs}
    funnel = {
        "enrolled": len(pairs),
        "started": len(pairs & started),
        "half": sum(p in started and 2 * done[p] >= whole[p[1]] for p in pairs),
        "completed": sum(p in started and done[p] >= whole[p[1]] for p in pairs),
    }
    size: dict = defaultdict(int)
    cells: dict = defaultdict(set)
    for user, course, at in enrolled.values_list("user_id", "course_id", "enrolled_at"):
        d = at.astimezone(UTC).date()
        cohort = d - timedelta(days=d.weekday())
        size[cohort] += 1
        for u, c, s in rows:
            if (u, c) == (user, course) and d <= s < d + timedelta(days=84):
                cells[(cohort, (s - d).days // 7)].add(user)
    retention = [
        [
            round(len(cells[(c, w)]) / size[c], 3) if w <= (rng.end - c).days // 7 else None
            for w in range(12)
        ]
        for c in sorted(size)
    ]
    return {
        "active": len({u for u, _c, _d in rows}),
        "series": {p: len(users) for p, users in per.items()},
        "spread": spread,
        "funnel": funnel,
        "cohorts": (sorted(size), retention),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_active_students_from_bitmaps_equal_student_days(world, seed):
    """CourseDay.students (bitmaps through StudentBit) and CourseProgress give the same
    active students, daily and weekly series, funnel, progress spread and cohorts as counting
    StudentDay, Enrollment and LessonProgress rows, for ranges that cover weeks and months
    partly, with and without a course, after incremental rollups and a late completion on
    an old day by a student seen for the first time; incremental equals a rebuild."""
    from analytics.models import StudentBit
    from analytics.selectors import active_sets, cohorts, daily, lesson_counts, progress_summary
    from courses.models import Enrollment, LessonProgress
    from tests.analytics_support import enroll

    creator, course, lessons, students = world
    course2, lessons2 = course_with_videos(creator, n=2, duration=DURATION, title="Wax")
    students += [MembershipFactory(creator=creator).user for _ in range(3)]
    rnd = random.Random(seed)
    for user in students:
        for c in rnd.sample([course, course2], rnd.randint(0, 2)):
            enroll(
                creator=creator, user=user, course=c, at=BASE + timedelta(days=rnd.randint(0, 99))
            )
    # Student 0 enrols on day 40 and watches that day: a range ending on day 40 sees it.
    Enrollment.objects.update_or_create(
        course=course, user=students[0],
        defaults={"creator": creator, "enrolled_at": BASE + timedelta(days=40)},
    )  # fmt: skip
    every, given = lessons + lessons2, set()
    plays = sorted(
        [
            (40, 0, 0),
            *((rnd.randint(0, 119), rnd.randrange(5), rnd.randrange(4)) for _ in range(40)),
        ]
    )
    for part in (plays[:15], plays[15:30], plays[30:]):
        for day, student, index in part:
            at, lesson = BASE + timedelta(days=day), every[index]
            play(creator=creator, user=students[student], lesson=lesson, at=at,
                 segments=[("heartbeat", 0.0, rnd.uniform(5, DURATION))])  # fmt: skip
            # Some complete the lesson, some only start it (once: a completion is final, as
            # courses.services.watch keeps it).
            if rnd.random() < 0.4 and (student, index) not in given:
                given.add((student, index))
                progress(creator=creator, user=students[student], lesson=lesson, at=at,
                         intervals=[[0, rnd.choice([10, DURATION])]])  # fmt: skip
        rollup_update(creator=creator)
    # Late: a completion stamped 100 days back, written after the last rollup, by the one
    # student never seen before (a new bit, an old day's bitmap rewritten).
    late = BASE + timedelta(days=20)
    progress(creator=creator, user=students[5], lesson=lessons2[0], at=late,
             intervals=[[0, DURATION]])  # fmt: skip
    LessonProgress.objects.filter(user=students[5]).update(updated_at=BASE + timedelta(days=121))
    rollup_update(creator=creator)
    bits = sorted(StudentBit.objects.filter(creator=creator).values_list("bit", flat=True))
    assert bits == list(range(len(bits)))  # dense, one per student with any activity
    incremental = _snapshot(creator)
    rollup_rebuild(creator=creator)
    assert _snapshot(creator) == incremental

    lesson_total = lesson_counts(creator=creator)
    for start, length in ((0, 120), (3, 100), (10, 31), (10, 45), (17, 9), (18, 1), (60, 93)):
        rng = DateRange(
            "custom", BASE.date() + timedelta(days=start),
            BASE.date() + timedelta(days=start + length - 1),
        )  # fmt: skip
        for course_id in (None, course.pk, course2.pk):
            want = _oracle(creator, rng, course_id, lesson_total)
            kw = {"creator": creator, "rng": rng, "course_id": course_id}
            assert overview(**kw)["active_students"] == want["active"], (rng, course_id)
            series = daily(**kw)
            got = {x: n for x, n in zip(series["x"], series["active_students"], strict=True) if n}
            assert got == want["series"], (rng, course_id)
            summary = progress_summary(**kw)
            assert [b["students"] for b in summary["distribution"]] == want["spread"], rng
            assert summary["funnel"] == want["funnel"], (rng, course_id)
            matrix = cohorts(**kw)
            assert (matrix["cohorts"], matrix["retention"]) == want["cohorts"], (rng, course_id)
            # The dashboard's one read of both periods gives the same as each read alone.
            wide = DateRange("custom", rng.previous().start, rng.end)
            shared = active_sets(creator=creator, rng=wide, course_id=course_id)
            assert cohorts(**kw, active=shared) == matrix
            assert daily(**kw, active=shared) == series
    # A deleted student: their bits stay set in the old days' bitmaps (StudentBit keeps the
    # bit, user None) but they are nobody's progress any more.
    gone = max(students, key=lambda u: StudentDay.objects.filter(user=u).count())
    assert StudentBit.objects.filter(creator=creator, user=gone).exists()
    gone.delete()
    for rng in (DateRange("custom", BASE.date(), BASE.date() + timedelta(days=119)),):
        for course_id in (None, course.pk):
            want = _oracle(creator, rng, course_id, lesson_total)
            summary = progress_summary(creator=creator, rng=rng, course_id=course_id)
            assert [b["students"] for b in summary["distribution"]] == want["spread"], rng
            assert summary["funnel"] == want["funnel"], (rng, course_id)


@pytest.mark.django_db
def test_a_closed_month_of_questions_is_read_from_one_row_per_video(world):
    """QuestionMonth holds a closed month's placed questions per video and course (the
    current month stays in QuestionFact); the confusion heatmap ranks videos from it for a
    month the range wholly covers, from QuestionFact for part of a month; a late question
    into the month rewrites it; a rebuild gives the same rows."""
    from analytics.selectors import confusion
    from chat.models import ChatMessage

    creator, course, lessons, students = world
    feb = datetime(2026, 2, 10, 9, tzinfo=UTC)
    for i, (lesson, at) in enumerate(
        [(0, feb), (0, feb + timedelta(days=5)), (1, feb), (1, timezone.now())]
    ):
        ask(creator=creator, user=students[i % 3], text=f"Why the flame {i}?", at=at,
            cite=(lessons[lesson].video, 10.0 + i), course=course)  # fmt: skip
    rollup_update(creator=creator)
    month = DateRange("custom", date(2026, 2, 1), date(2026, 2, 28))
    part = DateRange("custom", date(2026, 2, 1), date(2026, 2, 12))
    video0, video1 = lessons[0].video_id, lessons[1].video_id
    assert sorted(
        QuestionMonth.objects.filter(creator=creator).values_list("video_id", "month", "questions")
    ) == sorted([(video0, date(2026, 2, 1), 2), (video1, date(2026, 2, 1), 1)])

    def ranked(rng, course_id=None):
        got = confusion(creator=creator, rng=rng, course_id=course_id)
        return [(v["video_id"], sum(z)) for v, z in zip(got["videos"], got["z"], strict=True)]

    assert ranked(month) == [(video0, 2), (video1, 1)]
    assert ranked(month, course.pk) == [(video0, 2), (video1, 1)]
    assert ranked(part) == [(video0, 1), (video1, 1)]  # 10 Feb only: from QuestionFact
    # The whole month is read from its rows: hiding the facts' videos leaves the ranking.
    QuestionFact.objects.filter(creator=creator, day__month=2).update(position=None)
    assert [v for v, _n in ranked(month)] == [video0, video1]
    assert ranked(part) == []
    rollup_rebuild(creator=creator)
    assert ranked(part) == [(video0, 1), (video1, 1)]
    # A late answer to a question asked in February (the answer arrives now) refolds the
    # question, and its closed month with it.
    late = ask(creator=creator, user=students[2], text="Late one?", at=feb,
               cite=(lessons[1].video, 5.0), course=course)  # fmt: skip
    ChatMessage.objects.filter(session=late.session, role="assistant").update(
        created_at=timezone.now() + timedelta(seconds=1)
    )
    rollup_update(creator=creator)
    assert QuestionMonth.objects.get(creator=creator, video_id=video1).questions == 2
    assert ranked(month) == [(video0, 2), (video1, 2)][:: 1 if video0 < video1 else -1]
    incremental = _snapshot(creator)
    rollup_rebuild(creator=creator)
    assert _snapshot(creator) == incremental


@pytest.mark.django_db
def test_question_lists_read_closed_months_from_their_group_rows(world):
    """QuestionGroupMonth holds a closed month's question groups per course and lexeme set
    (the current month stays in QuestionFact); both question lists read it for the months a
    range wholly covers and QuestionFact for its other days, and equal the lists grouped
    from the facts alone (the month rows deleted) and a plain Python count of the facts,
    for ranges cutting months, with and without a course; a late answer into a closed
    month refolds it; a rebuild gives the same rows."""
    from analytics.selectors import questions_summary
    from chat.models import ChatMessage

    creator, course, _lessons, students = world
    wordings = [
        "Why does the flame point up?",
        "Why does the flame point upwards?",
        "What is the wick made of?",
        "Will this be on the exam?",
        "What is the wick made from?",
    ]
    times = [
        datetime(2026, 1, 30, 9, tzinfo=UTC),
        datetime(2026, 2, 10, 9, tzinfo=UTC),
        datetime(2026, 2, 27, 9, tzinfo=UTC),
        datetime(2026, 3, 3, 9, tzinfo=UTC),
        timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0),  # this month
    ]
    for i in range(23):
        ask(creator=creator, user=students[i % 3], text=wordings[i % 5],
            at=times[i % 5] + timedelta(minutes=i), covered=i % 4 != 0,
            course=course if i % 3 else None)  # fmt: skip
    rollup_update(creator=creator)
    months = set(QuestionGroupMonth.objects.filter(creator=creator).values_list("month", flat=True))
    assert months == {date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)}
    today = timezone.now().date()
    ranges = [
        DateRange("custom", date(2026, 2, 1), date(2026, 2, 28)),  # one whole month
        DateRange("custom", date(2026, 1, 15), date(2026, 3, 20)),  # cuts two months
        DateRange("custom", date(2026, 2, 5), date(2026, 2, 12)),  # part of one
        DateRange("custom", date(2025, 12, 1), today),  # every month and today
    ]

    def lists(rng, course_id):
        return questions_summary(creator=creator, rng=rng, course_id=course_id)

    def counted(rng, course_id) -> dict:
        """{lexemes: (asked, not covered)} straight from the facts."""
        out: dict = defaultdict(lambda: [0, 0])
        facts = QuestionFact.objects.filter(creator=creator, day__gte=rng.start, day__lte=rng.end)
        for lexemes, covered in (
            facts.filter(course_id=course_id) if course_id else facts
        ).values_list("lexemes", "covered"):
            out[lexemes][0] += 1
            out[lexemes][1] += covered is False
        return {k: tuple(v) for k, v in out.items()}

    def check():
        got = {(r.start, c): lists(r, c) for r in ranges for c in (None, course.pk)}
        for (start, c), summary in got.items():
            rng = next(r for r in ranges if r.start == start)
            want = counted(rng, c)
            assert sum(g["count"] for g in summary["groups"]) == sum(n for n, _nc in want.values())
            assert sorted(n["count"] for n in summary["not_covered"]) == sorted(
                nc for _n, nc in want.values() if nc
            )
        with transaction.atomic():  # the same lists grouped from the facts alone
            QuestionGroupMonth.objects.filter(creator=creator).delete()
            for (start, c), summary in got.items():
                rng = next(r for r in ranges if r.start == start)
                assert lists(rng, c) == summary, (rng, c)
            transaction.set_rollback(True)

    check()
    # A late answer to a question asked in February (the answer arrives now) refolds the
    # question, and its closed month with it.
    late = ask(creator=creator, user=students[2], text="Is the wick made of cotton?",
               at=times[1], covered=False, course=course)  # fmt: skip
    ChatMessage.objects.filter(session=late.session, role="assistant").update(
        created_at=timezone.now() + timedelta(seconds=1)
    )
    rollup_update(creator=creator)
    feb = lists(ranges[0], None)
    assert late.pk in {n["message_id"] for n in feb["not_covered"]}  # a wording of its own
    check()
    incremental = _snapshot(creator)
    rollup_rebuild(creator=creator)
    assert _snapshot(creator) == incremental


def _students_oracle(creator, rng: DateRange, course_id: int | None = None) -> list[tuple]:
    """The students table's ranking summed straight from StudentDay rows in Python:
    [(user id, watch seconds rounded to 0.1, questions, completions)], most watch first."""
    per: dict = defaultdict(lambda: [0.0, 0, 0])
    days = StudentDay.objects.filter(creator=creator, day__gte=rng.start, day__lte=rng.end)
    if course_id:
        days = days.filter(course_id=course_id)
    for user, w, q, c in days.values_list("user_id", "watch_seconds", "questions", "completions"):
        per[user][0] += w
        per[user][1] += q
        per[user][2] += c
    ranked = sorted(per.items(), key=lambda item: (-item[1][0], item[0]))
    return [(u, round(w, 1), q, c) for u, (w, q, c) in ranked]


@pytest.mark.django_db
def test_the_students_table_reads_closed_months_from_one_row_per_student(world):
    """StudentMonth holds each student's closed months across courses (the current month
    stays in StudentDay); the whole-studio students table sums whole months from it and
    other days from StudentDay — equal to summing StudentDay for ranges cutting months, with
    a course filter, after a late completion into a closed month and after a rebuild."""
    from analytics.selectors import students as students_table
    from courses.models import LessonProgress

    creator, course, lessons, students = world
    course2, lessons2 = course_with_videos(creator, n=1, duration=DURATION, title="Wax")
    rnd = random.Random(7)
    for i in range(30):  # January to April 2026, every student in both courses
        at = datetime(2026, 1, 1, 8, tzinfo=UTC) + timedelta(days=rnd.randint(0, 119))
        lesson = rnd.choice([*lessons, *lessons2])
        play(creator=creator, user=students[i % 3], lesson=lesson, at=at,
             segments=[("heartbeat", 0.0, rnd.uniform(5, DURATION))])  # fmt: skip
        if i % 4 == 0:
            ask(creator=creator, user=students[i % 3], text=f"Why {i}?", at=at,
                cite=(lesson.video, 5.0), course=course)  # fmt: skip
    play(creator=creator, user=students[0], lesson=lessons[0], at=timezone.now(),
         segments=[("heartbeat", 0.0, 20.0)])  # fmt: skip
    rollup_update(creator=creator)
    months = sorted(
        set(StudentMonth.objects.filter(creator=creator).values_list("month", flat=True))
    )
    assert months == [date(2026, m, 1) for m in (1, 2, 3, 4)]  # not the current month
    ranges = [
        DateRange("custom", date(2026, 1, 1), date(2026, 4, 30)),  # four whole months
        DateRange("custom", date(2026, 1, 15), date(2026, 3, 31)),  # part, two whole
        DateRange("custom", date(2026, 2, 3), date(2026, 2, 20)),  # inside one month
        DateRange("custom", date(2026, 1, 1), timezone.now().date()),  # to the current month
    ]

    def table(rng, course_id=None, limit=20, offset=0):
        rows = students_table(creator=creator, rng=rng, course_id=course_id, limit=limit,
                              offset=offset)  # fmt: skip
        return [(r["user_id"], r["watch_seconds"], r["questions"], r["completions"]) for r in rows]

    for rng in ranges:
        assert table(rng) == _students_oracle(creator, rng), rng
        assert table(rng, limit=1, offset=1) == _students_oracle(creator, rng)[1:2], rng
        for course_id in (course.pk, course2.pk):  # a course tab sums its StudentDay rows
            assert table(rng, course_id) == _students_oracle(creator, rng, course_id), rng
    # A whole month is read from its rows: emptying February's days leaves its sums.
    whole = ranges[0]
    want = table(whole)
    StudentDay.objects.filter(creator=creator, day__month=2).update(watch_seconds=0.0)
    assert table(whole) == want
    inside = table(ranges[2])  # part of February: its (emptied) days
    assert inside == _students_oracle(creator, ranges[2]) and inside
    assert all(w == 0.0 for _u, w, _q, _c in inside)
    rollup_rebuild(creator=creator)
    assert table(whole) == want == _students_oracle(creator, whole)
    # A late completion in March (written now) refolds the day and its closed month.
    progress(creator=creator, user=students[1], lesson=lessons2[0],
             at=datetime(2026, 3, 10, 9, tzinfo=UTC), intervals=[[0, DURATION]])  # fmt: skip
    LessonProgress.objects.filter(user=students[1]).update(updated_at=timezone.now())
    rollup_update(creator=creator)
    after = table(whole)
    assert sum(c for *_r, c in after) == sum(c for *_r, c in want) + 1
    for rng in ranges:
        assert table(rng) == _students_oracle(creator, rng), rng
    incremental = _snapshot(creator)
    rollup_rebuild(creator=creator)
    assert _snapshot(creator) == incremental


def _groups_by_all_pairs(keys: list[tuple], limit: int) -> list[dict]:
    """question_groups()' grouping by comparing every pair of lexeme sets (single link at
    Jaccard >= SIMILARITY): what the prefix-filtered comparison must reproduce."""
    from analytics.selectors import SIMILARITY

    sets = [frozenset(k.split()) for k, *_ in keys]
    group = list(range(len(keys)))
    for i in range(len(sets)):
        for j in range(i):
            if len(sets[i] & sets[j]) / len(sets[i] | sets[j]) >= SIMILARITY:
                old, new = group[i], group[j]
                group = [new if g == old else g for g in group]
    out: dict[int, dict] = {}
    for i, (_k, n, nc, text) in enumerate(keys):
        g = out.setdefault(group[i], {"question": text, "count": 0, "not_covered": 0,
                                      "examples": []})  # fmt: skip
        g["count"] += n
        g["not_covered"] += nc
        if len(g["examples"]) < 3 and text not in g["examples"]:
            g["examples"].append(text)
    return sorted(out.values(), key=lambda g: (-g["count"], g["question"]))[:limit]


@settings(max_examples=60, deadline=None)
@given(
    sets=st.lists(
        st.sets(st.sampled_from("abcdefghij"), min_size=1, max_size=7), min_size=1, max_size=40
    ),
    seed=st.integers(0, 1000),
)
def test_question_groups_equal_an_all_pairs_comparison(sets, seed):
    """The question lists' grouping compares only sets whose rarest-first prefixes share a
    lexeme; it finds the same groups as comparing every pair (sizes 1-7, a small alphabet
    so that many pairs are near the threshold)."""
    from analytics.selectors.questions import _grouped

    rnd = random.Random(seed)
    keys = sorted(
        {" ".join(sorted(s)) for s in sets},
        key=lambda k: (-len(k), k),
    )
    rows = [(k, rnd.randint(1, 9), rnd.randint(0, 1), f"q {k}") for k in keys]
    assert _grouped(rows, 100) == _groups_by_all_pairs(rows, 100)
