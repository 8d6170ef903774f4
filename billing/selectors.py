"""Billing reads for a creator the caller has already resolved through creators.selectors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from billing.format import human_bytes, human_limit
from billing.limits import TierLimits, limits_for
from billing.meters import library_usage
from billing.models import BillingAccount, Payment, QuestionUsage, TierChange, UsageLedgerEntry
from creators.models import Creator, Membership
from creators.timezones import local_month_bounds


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


# --- Usage against the tier's limits (Plan page meters, GET /api/v1/usage/, the banner) ---


@dataclass(frozen=True)
class Meter:
    """One limit as used: `used` of `limit` (None = unlimited), in items or bytes."""

    key: str  # the key in GET /api/v1/usage/'s "used": videos, storage_bytes, ...
    label: str
    used: int
    limit: int | None
    is_bytes: bool = False

    @property
    def percent(self) -> int | None:
        """Whole percent used (may pass 100 after a downgrade); None when unlimited."""
        if self.limit is None:
            return None
        if self.limit == 0:
            return 100
        return self.used * 100 // self.limit

    @property
    def level(self) -> str:
        """ "green" below 75%, "amber" from 75% to below 90%, "red" from 90% (issue #10)."""
        pct = self.percent
        if pct is None or pct < AMBER_AT:
            return "green"
        return "amber" if pct < RED_AT else "red"

    @property
    def bar_percent(self) -> int:
        return min(100, self.percent or 0)

    def _fmt(self, n: int | None) -> str:
        if n is None:
            return "unlimited"
        return human_bytes(n) if self.is_bytes else human_limit(n)

    @property
    def used_text(self) -> str:
        return self._fmt(self.used)

    @property
    def limit_text(self) -> str:
        return self._fmt(self.limit)


AMBER_AT, RED_AT, ALERT_AT = 75, 90, 80  # percent


@dataclass(frozen=True)
class UsageSummary:
    creator: Creator
    limits: TierLimits
    period_start: datetime
    period_end: datetime
    meters: list[Meter]

    @property
    def period_last_day(self) -> datetime:
        """The period's last moment (period_end is exclusive), for "1 Nov - 30 Nov"."""
        return self.period_end - timedelta(microseconds=1)

    def meter(self, key: str) -> Meter:
        return next(m for m in self.meters if m.key == key)

    @property
    def alerts(self) -> list[Meter]:
        """Meters at or past 80% of their limit (the studio banner, the e-mail)."""
        return [m for m in self.meters if m.percent is not None and m.percent >= ALERT_AT]

    def as_contract(self) -> dict:
        """GET /api/v1/usage/'s body (null = unlimited; datetimes ISO 8601)."""
        return {
            "tier": self.limits.tier,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "limits": self.limits.as_contract(),
            "used": {m.key: m.used for m in self.meters},
        }


def usage_summary(*, creator: Creator, now: datetime | None = None) -> UsageSummary:
    """The creator's usage of its tier in the current period: the creator's calendar month
    in Creator.timezone, [period_start, period_end). Videos count every row (failed too),
    storage is bytes of media, ai_questions are QuestionUsage rows of the period, students
    are memberships granting access now. Four small queries."""
    now = now or timezone.now()
    limits = limits_for(creator.tier)
    start, end = local_month_bounds(creator=creator, at=now)
    library = library_usage(creator)
    questions = QuestionUsage.objects.filter(
        creator=creator, asked_at__gte=start, asked_at__lt=end
    ).count()
    students = Membership.objects.filter(creator=creator).active().count()
    return UsageSummary(
        creator=creator,
        limits=limits,
        period_start=start,
        period_end=end,
        meters=[
            Meter("videos", "Videos", library.videos, limits.videos),
            Meter("storage_bytes", "Storage", library.storage_bytes, limits.storage_bytes, True),
            Meter(
                "ai_questions", "AI questions this month", questions, limits.ai_questions_per_month
            ),
            Meter("students", "Students", students, limits.students),
        ],
    )


def tier_changes_for(*, creator: Creator) -> QuerySet[TierChange]:
    """The creator's tier history, newest first (who, when, which event)."""
    return TierChange.objects.filter(creator=creator).select_related("actor")
