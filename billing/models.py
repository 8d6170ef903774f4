"""The usage ledger (one row per paid provider call), Whop payments, plan->tier mappings and
each creator's billing standing."""

from __future__ import annotations

from decimal import Decimal

from django.db import models

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
    last_failure_message = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.creator.handle}: {self.status}"
