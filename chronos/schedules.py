"""Periodic tasks as code: each app declares its django-q2 Schedules (name, task, interval)
and keeps them in the database after every migrate, and after every flush, which emits
post_migrate too (so a test database a transactional test emptied gets them back).

The data migrations that first created these rows stay as history; the declaration here is
what the database is brought to (same names, so nothing is duplicated).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.apps import AppConfig
from django.db.models.signals import post_migrate


@dataclass(frozen=True)
class Periodic:
    """One django-q2 Schedule. `minutes` is the interval (schedule type MINUTES); `cluster`
    names the django-q2 cluster that runs it (None: any)."""

    name: str
    func: str
    minutes: int
    cluster: str | None = None


def schedules_ensure(periodics: Sequence[Periodic], *, using: str = "default") -> int:
    """Create or update each Schedule by name (repeating forever). Returns how many rows
    were created. The next run time of an existing row is left alone."""
    from django_q.models import Schedule

    created = 0
    for p in periodics:
        _, made = Schedule.objects.using(using).update_or_create(
            name=p.name,
            defaults={
                "func": p.func,
                "schedule_type": Schedule.MINUTES,
                "minutes": p.minutes,
                "repeats": -1,
                "cluster": p.cluster,
            },
        )
        created += made
    return created


def schedules_connect(app_config: AppConfig, periodics: Sequence[Periodic]) -> None:
    """Call from AppConfig.ready(): keep `periodics` in the database after each migrate."""

    def ensure(sender, using="default", **kwargs) -> None:
        schedules_ensure(periodics, using=using)

    post_migrate.connect(
        ensure, sender=app_config, weak=False, dispatch_uid=f"{app_config.label}.schedules"
    )
