"""The 80% warning: one e-mail to the creator's owner per limit per period.

Sent through Django's e-mail backend (settings.EMAIL_BACKEND; the console by default). The
UsageAlert row's unique (creator, limit, period_start) makes "once" hold across processes:
whoever inserts it sends the mail. Called after a question or an upload is recorded, and
by the periodic sweep `usage_alerts_sweep` (students arrive through webhooks and invites,
which live in creators and cannot call billing).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse

from billing.models import UsageAlert
from billing.selectors import usage_summary
from creators.models import Creator

logger = logging.getLogger(__name__)


def usage_alerts_check(*, creator: Creator, now: datetime | None = None) -> list[UsageAlert]:
    """E-mail the owner about each limit at >= 80% not yet announced this period.

    Returns the UsageAlert rows created now ([] when nothing new). Mail failures are logged,
    not raised (the alert row stays, so a broken mail server does not mean a mail a minute).
    """
    summary = usage_summary(creator=creator, now=now)
    created: list[UsageAlert] = []
    owner = creator.owner if creator.owner_id else None
    owner_email = owner.email if owner is not None and owner.email else ""
    for meter in summary.alerts:
        try:
            with transaction.atomic():
                alert = UsageAlert.objects.create(
                    creator=creator,
                    limit=meter.key,
                    period_start=summary.period_start,
                    percent=meter.percent or 0,
                    sent_to=owner_email,
                )
        except IntegrityError:
            continue  # announced already this period
        created.append(alert)
        if owner_email:
            _send(creator, meter, summary.limits.label, owner_email)
    return created


def _send(creator: Creator, meter: Any, tier_label: str, to: str) -> None:
    plan_url = reverse("billing:plan", kwargs={"handle": creator.handle})
    base = settings.SITE_URL.rstrip("/")
    subject = f"{creator.company_name}: {meter.percent}% of your {meter.label.lower()} used"
    body = (
        f"Hello,\n\n{creator.company_name} has used {meter.used_text} of the "
        f"{meter.limit_text} {meter.label.lower()} of the {tier_label} plan "
        f"({meter.percent}%).\n\nNothing stops yet: students keep their access and your "
        f"content stays. To lift the limit, see your Plan & usage page: {base}{plan_url}\n\n"
        f"— Chronos\n"
    )
    try:
        send_mail(subject, body, None, [to])
    except Exception:
        logger.exception("Could not send the usage alert for %s to the owner.", creator.handle)


def usage_alerts_sweep() -> int:
    """usage_alerts_check for every active creator; returns how many alerts were created.
    Run by django-q2 (billing.tasks.usage_alerts_sweep_task) every 15 minutes."""
    total = 0
    for creator in Creator.objects.active().select_related("owner").iterator():
        total += len(usage_alerts_check(creator=creator))
    return total
