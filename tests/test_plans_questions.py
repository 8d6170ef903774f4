"""Question allowances: the free student's fourth question, the per-day reset at the
creator's midnight, the creator's monthly AI questions, the burst limit shared by two
processes through PostgreSQL, and the counter cache's atomic increments."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.cache import caches
from django.db import connection

from billing.models import QuestionUsage
from billing.services.allowances import (
    QuestionLimitReached,
    question_allowance_consume,
    question_allowance_status,
    question_burst_check,
)
from chronos.errors import RateLimited
from tests.factories import CreatorFactory, MembershipFactory
from tests.ratelimit_window import BURST_WINDOW, start_in_one_window

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _fresh_counters(db):
    caches["ratelimit"].clear()


@pytest.mark.django_db
def test_free_student_gets_three_questions_then_a_friendly_429(creator, student):
    left = [question_allowance_consume(creator=creator, user=student) for _ in range(3)]
    assert [a.remaining for a in left] == [2, 1, 0]
    assert left[0].text == "2 questions left" and left[0].few_left
    assert left[1].text == "1 question left"
    with pytest.raises(QuestionLimitReached) as caught:
        question_allowance_consume(creator=creator, user=student)
    err = caught.value
    assert err.status == 429 and err.code == "question_limit"
    assert err.extra["limit"] == "questions_per_student" and err.extra["resets_at"] is None
    assert "all 3 of your questions" in err.message
    assert QuestionUsage.objects.filter(creator=creator, user=student).count() == 3
    # The owner previewing the tutor has no per-student allowance.
    owner_left = question_allowance_consume(creator=creator, user=creator.owner)
    assert owner_left.period == "month" and owner_left.remaining == 100 - 4


@pytest.mark.django_db
def test_per_day_allowance_resets_at_the_creators_midnight(settings):
    settings.RATELIMIT_ENABLE = False  # 100 questions in a test "day": not a burst test
    creator = CreatorFactory(tier="basic", timezone="Asia/Tokyo")  # UTC+9, no DST
    student = MembershipFactory(creator=creator).user
    # 23:30 in Tokyo on 1 Dec = 14:30 UTC; midnight in Tokyo = 15:00 UTC.
    evening = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)
    QuestionUsage.objects.bulk_create(
        [QuestionUsage(creator=creator, user=student, asked_at=evening) for _ in range(99)]
    )
    last = question_allowance_consume(creator=creator, user=student, now=evening)
    assert last.remaining == 0 and last.period == "day"
    assert last.resets_at == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    with pytest.raises(QuestionLimitReached) as caught:
        question_allowance_consume(creator=creator, user=student, now=evening)
    assert caught.value.extra["resets_at"] == "2026-12-01T15:00:00+00:00"
    assert "midnight (Asia/Tokyo)" in caught.value.message
    # One minute after Tokyo's midnight (still 1 Dec in UTC) the day is new.
    after = datetime(2026, 12, 1, 15, 1, tzinfo=UTC)
    fresh = question_allowance_status(creator=creator, user=student, now=after)
    assert fresh.remaining == 100
    assert question_allowance_consume(creator=creator, user=student, now=after).remaining == 99


@pytest.mark.django_db
def test_monthly_ai_questions_cover_all_students(settings):
    settings.RATELIMIT_ENABLE = False
    creator = CreatorFactory(tier="free")
    others = [MembershipFactory(creator=creator).user for _ in range(2)]
    now = datetime(2026, 12, 20, 12, tzinfo=UTC)
    QuestionUsage.objects.bulk_create(
        [QuestionUsage(creator=creator, user=others[i % 2], asked_at=now) for i in range(100)]
    )
    newcomer = MembershipFactory(creator=creator).user
    with pytest.raises(QuestionLimitReached) as caught:
        question_allowance_consume(creator=creator, user=newcomer, now=now)
    assert caught.value.extra["limit"] == "ai_questions_per_month"
    assert caught.value.extra["resets_at"] == "2027-01-01T00:00:00+00:00"
    # Next month, questions come back (the newcomer still has their 3).
    assert (
        question_allowance_consume(
            creator=creator, user=newcomer, now=now + timedelta(days=12)
        ).remaining
        == 2
    )


@pytest.mark.django_db
def test_burst_limit_is_ten_a_minute_with_retry_after(creator, student):
    creator.tier = "pro"
    creator.save()
    for _ in range(10):
        question_allowance_consume(creator=creator, user=student)
    with pytest.raises(RateLimited) as caught:
        question_allowance_consume(creator=creator, user=student)
    assert caught.value.status == 429 and 1 <= caught.value.extra["retry_after"] <= 60
    assert QuestionUsage.objects.filter(user=student).count() == 10  # the 11th was not counted


@pytest.mark.django_db(transaction=True)
def test_counter_cache_increments_atomically_across_threads():
    cache = caches["ratelimit"]
    cache.add("race", 0, 60)
    errors: list[Exception] = []

    def bump() -> None:
        try:
            for _ in range(25):
                cache.incr("race")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and cache.get("race") == 100
    assert cache.add("race", 0, 60) is False  # not expired: add does not reset it
    with pytest.raises(ValueError):
        cache.incr("missing")


@pytest.mark.django_db(transaction=True)
def test_burst_limit_is_shared_by_two_processes():
    """Six questions' worth of burst in another process, five here: the 11th is refused."""
    student = MembershipFactory(creator=CreatorFactory(tier="pro")).user
    db = connection.settings_dict
    script = textwrap.dedent(
        f"""
        import django, os
        os.environ["DJANGO_SETTINGS_MODULE"] = "chronos.settings"
        django.setup()
        from creators.models import User
        from billing.services.allowances import question_burst_check
        user = User.objects.get(pk={student.pk})
        for _ in range(6):
            question_burst_check(user=user)
        print("ok")
        """
    )
    # The same server as this session's (embedded or DATABASE_URL), its test database.
    base = urlsplit(os.environ.get("DATABASE_URL") or os.environ["CHRONOS_EMBEDDED_DB_URL"])
    env = {**os.environ, "DATABASE_URL": urlunsplit(base._replace(path="/" + db["NAME"]))}
    # All eleven must fall in one fixed window (the other process takes a few seconds).
    start_in_one_window(f"user:{student.pk}", needed=BURST_WINDOW / 2)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]
    for _ in range(4):
        question_burst_check(user=student)
    with pytest.raises(RateLimited):
        question_burst_check(user=student)


def _race(creator, users, now=None) -> list[str]:
    """Each user asks once, all at once from their own thread and connection: the
    outcomes ("ok" or the limit's name), in no particular order."""
    barrier = threading.Barrier(len(users))
    outcomes: list[str] = []

    def ask(user) -> None:
        try:
            barrier.wait(timeout=30)
            question_allowance_consume(creator=creator, user=user, now=now, student=True)
            outcomes.append("ok")
        except QuestionLimitReached as exc:
            outcomes.append(exc.extra["limit"])
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return sorted(outcomes)


@pytest.mark.django_db(transaction=True)
def test_allowances_stay_exact_when_questions_race(settings):
    """Six questions at once for a student's last two and, across students, for the
    month's last three: exactly that many are recorded, the rest refused."""
    settings.RATELIMIT_ENABLE = False
    creator = CreatorFactory(tier="free")  # 3 questions per student in total, 100 a month
    student = MembershipFactory(creator=creator).user
    QuestionUsage.objects.create(creator=creator, user=student)
    assert _race(creator, [student] * 6) == ["ok"] * 2 + ["questions_per_student"] * 4
    assert QuestionUsage.objects.filter(creator=creator, user=student).count() == 3
    others = [MembershipFactory(creator=creator).user for _ in range(6)]
    QuestionUsage.objects.bulk_create([QuestionUsage(creator=creator) for _ in range(94)])
    assert _race(creator, others) == ["ai_questions_per_month"] * 3 + ["ok"] * 3
    assert QuestionUsage.objects.filter(creator=creator).count() == 100


@pytest.mark.django_db
def test_questions_count_against_the_tier_stored_now(settings):
    """A webhook moved the creator to Basic after this request read it as Free: Basic's
    per-day allowance applies, not Free's lifetime three."""
    settings.RATELIMIT_ENABLE = False
    creator = CreatorFactory(tier="free")
    student = MembershipFactory(creator=creator).user
    QuestionUsage.objects.bulk_create(
        [QuestionUsage(creator=creator, user=student) for _ in range(3)]
    )
    type(creator).objects.filter(pk=creator.pk).update(tier="basic")
    left = question_allowance_consume(creator=creator, user=student)
    assert (left.period, left.allowed, left.remaining) == ("day", 100, 96)
