"""The usage ledger (one row per paid provider call), Whop payments, plan->tier mappings and
each creator's billing standing."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone

from creators.models import Tier


class UsageLedgerEntry(models.Model):
    """One paid call. `units` are in `unit` (seconds of audio, tokens); `usd` is Decimal USD.

    `subject` names what the call was for ("video:12", "chat_message:40") so billing need
    not import the apps above it.
    """

    class Operation(models.TextChoices):
        TRANSCRIPTION = "transcription", "Transcription"
        EMBEDDING = "embedding", "Embedding"
        CHAT = "chat", "Chat answer"
        TITLE = "title", "Session title"

    creator = models.ForeignKey(
        "creators.Creator", on_delete=models.CASCADE, related_name="usage_entries"
    )
    operation = models.CharField(max_length=20, choices=Operation.choices)
    provider = models.CharField(max_length=40)
    model = models.CharField(max_length=80)
    units = models.DecimalField(max_digits=16, decimal_places=3)
    unit = models.CharField(max_length=20)  # "seconds", "tokens", "input_tokens"...
    usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal(0))
    subject = models.CharField(max_length=80, blank=True, db_index=True)
    metadata = models.JSONField(default=dict, blank=True)
    # For the Costs page's breakdowns (billing may not reference the apps above it, so
    # videos and courses are plain ids): who asked, which video, which course.
    user = models.ForeignKey(
        "creators.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    video_id = models.BigIntegerField(null=True, blank=True)
    course_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "usage ledger entries"
        indexes = [models.Index(fields=["creator", "created_at"])]

    def __str__(self) -> str:
        return f"{self.operation} {self.model} {self.units} {self.unit} ${self.usd}"


class PlanTierMapping(models.Model):
    """A Whop plan (`plan_...`) whose payments put the paying creator on a Chronos tier.

    Edited by admins; payment.succeeded for a mapped plan sets `Creator.tier`.
    """

    whop_plan_id = models.CharField(max_length=64, unique=True)
    tier = models.CharField(max_length=20, choices=Tier.choices)
    label = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tier", "whop_plan_id"]

    def __str__(self) -> str:
        return f"{self.whop_plan_id} -> {self.tier}"


class Payment(models.Model):
    """One Whop payment (succeeded or failed), as reported by payment.* webhooks.

    `amount` is Decimal in `currency` (ISO code, lower case as Whop sends it);
    `creator` is null when no tenant could be matched (kept for the admin to resolve).
    """

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    creator = models.ForeignKey(
        "creators.Creator",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="payments",
    )
    whop_payment_id = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    currency = models.CharField(max_length=10, blank=True)
    whop_plan_id = models.CharField(max_length=64, blank=True, db_index=True)
    whop_product_id = models.CharField(max_length=64, blank=True)
    whop_user_id = models.CharField(max_length=64, blank=True)
    whop_membership_id = models.CharField(max_length=64, blank=True)
    failure_message = models.TextField(blank=True)
    # Tier this payment granted through a PlanTierMapping ("" when none).
    tier_applied = models.CharField(max_length=20, blank=True)
    # The webhook event's timestamp; a newer event for the same payment wins.
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [models.Index(fields=["creator", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.whop_payment_id} {self.status} {self.amount} {self.currency}"


class BillingAccount(models.Model):
    """A creator's standing with Chronos billing: ok, or flagged after a failed payment."""

    class Status(models.TextChoices):
        OK = "ok", "OK"
        PAYMENT_FAILED = "payment_failed", "Payment failed"

    creator = models.OneToOneField(
        "creators.Creator", on_delete=models.CASCADE, related_name="billing_account"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OK)
    # Event time of the newest payment event applied to `status` / the creator's tier.
    status_updated_at = models.DateTimeField(null=True, blank=True)
    tier_updated_at = models.DateTimeField(null=True, blank=True)
    # What granted the current paid tier (so a deactivation of an older membership, or a
    # refund of an older payment, does not take a newer plan away).
    tier_membership_id = models.CharField(max_length=64, blank=True)
    tier_payment_id = models.CharField(max_length=64, blank=True)
    # The end of what was paid for (the tier membership's renewal_period_end), when known.
    tier_paid_through = models.DateTimeField(null=True, blank=True)
    last_failure_message = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.creator.handle}: {self.status}"


class QuestionUsage(models.Model):
    """One question asked of a creator's tutor, counted against the tier's monthly AI
    questions and the asking student's allowance (billing.limits). Written before the answer
    is made, so an answer served from the cache counts too (the student asked). `user` is
    null for questions with no person behind them (the `ask` command)."""

    class Source(models.TextChoices):
        BROWSER = "browser", "Browser"
        API = "api", "REST API"
        CLI = "cli", "Command line"

    creator = models.ForeignKey(
        "creators.Creator", on_delete=models.CASCADE, related_name="question_usage"
    )
    user = models.ForeignKey(
        "creators.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.BROWSER)
    asked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-asked_at"]
        indexes = [
            models.Index(fields=["creator", "asked_at"]),
            models.Index(fields=["creator", "user", "asked_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.creator_id} {self.user_id or '-'} {self.asked_at:%Y-%m-%d %H:%M}"


class TierChange(models.Model):
    """Every change of a creator's tier: who or what made it, when, and which Whop event.

    `occurred_at` is when the cause happened (the webhook's timestamp); `effective_at` when
    the new tier applies (a downgrade waits for the end of what was paid for);
    `applied_at` is set once Creator.tier has been changed (null while scheduled, and for
    good when a newer event made it moot: status "superseded")."""

    class Status(models.TextChoices):
        APPLIED = "applied", "Applied"
        SCHEDULED = "scheduled", "Scheduled"
        SUPERSEDED = "superseded", "Superseded"

    creator = models.ForeignKey(
        "creators.Creator", on_delete=models.CASCADE, related_name="tier_changes"
    )
    from_tier = models.CharField(max_length=20, choices=Tier.choices)
    to_tier = models.CharField(max_length=20, choices=Tier.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.APPLIED)
    # "payment.succeeded", "membership.deactivated", "refund.created", "dispute.created",
    # "admin", "seed_demo"...
    reason = models.CharField(max_length=60)
    actor = models.ForeignKey(
        "creators.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    webhook_id = models.CharField(max_length=128, blank=True)
    whop_plan_id = models.CharField(max_length=64, blank=True)
    whop_membership_id = models.CharField(max_length=64, blank=True)
    whop_payment_id = models.CharField(max_length=64, blank=True)
    occurred_at = models.DateTimeField()
    effective_at = models.DateTimeField()
    applied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        indexes = [models.Index(fields=["status", "effective_at"])]

    def __str__(self) -> str:
        return f"{self.creator_id}: {self.from_tier} -> {self.to_tier} ({self.reason})"


class UsageAlert(models.Model):
    """One "80% of a limit" e-mail to the creator's owner: at most one per limit per period
    (the unique constraint makes it so, even with two web processes racing)."""

    creator = models.ForeignKey(
        "creators.Creator", on_delete=models.CASCADE, related_name="usage_alerts"
    )
    limit = models.CharField(max_length=40)  # a key of TierLimits.as_contract()
    period_start = models.DateTimeField()
    percent = models.PositiveIntegerField()
    sent_to = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["creator", "limit", "period_start"], name="usage_alert_once_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.creator_id} {self.limit} {self.percent}% from {self.period_start:%Y-%m-%d}"


class RateCounter(models.Model):
    """Rows of billing.ratecache.PostgresCounterCache: the shared cache that django-ratelimit
    counts in (atomic INSERT ... ON CONFLICT / UPDATE ... RETURNING). Integers only. The
    table is UNLOGGED (see the migration): counters are disposable and need no WAL."""

    key = models.CharField(max_length=250, primary_key=True)
    value = models.BigIntegerField()
    expires = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.key
