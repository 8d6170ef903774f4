"""Receivers of lower apps' signals: each only queues a task (DESIGN.md, imports)."""

from __future__ import annotations

from django.db import transaction


def membership_saved(sender, instance, **kwargs) -> None:
    """A membership changed: queue the enrollment on/off sync once the change commits."""
    from django_q.tasks import async_task

    membership_id = instance.pk
    transaction.on_commit(
        lambda: async_task("courses.tasks.enrollments_sync", membership_id, timeout=60)
    )
