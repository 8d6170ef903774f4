"""django-q2 tasks of billing, scheduled every 15 minutes (SCHEDULES): due downgrades,
and the 80% e-mails for usage that grows outside billing's own entry points (students
arriving through webhooks and invites)."""

from __future__ import annotations

from chronos.schedules import Periodic

SCHEDULES = (
    Periodic(
        "billing: apply due downgrades", "billing.tasks.tier_changes_apply_due_task", minutes=15
    ),
    Periodic("billing: usage alerts sweep", "billing.tasks.usage_alerts_sweep_task", minutes=15),
)


def tier_changes_apply_due_task() -> int:
    """Apply scheduled downgrades that have come due; returns how many."""
    from billing.services.payments import tier_changes_apply_due

    return tier_changes_apply_due()


def usage_alerts_sweep_task() -> int:
    """Send any 80% e-mail not yet sent this period; returns how many alerts were made."""
    from billing.services.alerts import usage_alerts_sweep

    return usage_alerts_sweep()
