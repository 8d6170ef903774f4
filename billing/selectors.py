"""Billing reads for a creator the caller has already resolved through creators.selectors."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, QuerySet, Sum

from billing.models import BillingAccount, Payment, UsageLedgerEntry
from creators.models import Creator


def billing_status_for(*, creator: Creator) -> str:
    """ "ok" or "payment_failed" (BillingAccount.Status); "ok" when no account exists yet."""
    account = BillingAccount.objects.filter(creator=creator).first()
    return account.status if account else BillingAccount.Status.OK


def payments_for(*, creator: Creator) -> QuerySet[Payment]:
    """The creator's Whop payments, newest first."""
    return Payment.objects.filter(creator=creator).order_by("-occurred_at")


def usage_totals(*, creator: Creator, since: datetime | None = None) -> list[dict]:
    """Ledger totals per (operation, unit) for `creator`, optionally from `since` on.

    Returns [{"operation": str, "unit": str, "calls": int, "units": Decimal, "usd": Decimal}]
    ordered by operation; USD is Decimal.
    """
    qs = UsageLedgerEntry.objects.filter(creator=creator)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    rows = (
        qs.values("operation", "unit")
        .annotate(calls=Count("id"), units=Sum("units"), usd=Sum("usd"))
        .order_by("operation", "unit")
    )
    return [dict(r) for r in rows]
