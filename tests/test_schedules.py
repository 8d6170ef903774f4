"""Periodic tasks are declared in code (each app's tasks.SCHEDULES) and kept in the database
after every migrate and flush (chronos.schedules)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from analytics.tasks import SCHEDULES as ANALYTICS
from billing.tasks import SCHEDULES as BILLING
from courses.tasks import SCHEDULES as COURSES
from creators.tasks import SCHEDULES as CREATORS
from videos.tasks import SCHEDULES as VIDEOS

DECLARED = {p.name: p for p in (*ANALYTICS, *BILLING, *COURSES, *CREATORS, *VIDEOS)}


def _stored() -> dict[str, tuple]:
    rows = Schedule.objects.filter(name__in=DECLARED)
    return {s.name: (s.func, s.schedule_type, s.minutes, s.repeats, s.cluster) for s in rows}


def _declared() -> dict[str, tuple]:
    return {n: (p.func, Schedule.MINUTES, p.minutes, -1, p.cluster) for n, p in DECLARED.items()}


@pytest.mark.django_db(transaction=True)
def test_every_declared_schedule_is_stored_and_comes_back_after_a_flush():
    assert len(DECLARED) == 8
    assert _stored() == _declared()
    call_command("flush", interactive=False, verbosity=0)
    assert _stored() == _declared()


@pytest.mark.django_db
def test_a_changed_interval_is_brought_back_to_the_declared_one_on_migrate():
    Schedule.objects.filter(name="videos: sweep stuck videos").update(minutes=5)
    call_command("migrate", verbosity=0)
    assert Schedule.objects.get(name="videos: sweep stuck videos").minutes == 1
