"""Whop payments, the tiers they grant, and each creator's billing standing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing.models import BillingAccount, Payment, PlanTierMapping, TierChange
from creators.models import Creator, Tier, User

# --- Whop payments and tiers -----------------------------------------------------------------


def billing_account_for(*, creator: Creator) -> BillingAccount:
    """The creator's BillingAccount, created (status ok) on first use."""
    account, _ = BillingAccount.objects.get_or_create(creator=creator)
    return account


@transaction.atomic
def payment_record(
    *,
    creator: Creator | None,
    whop_payment_id: str,
    status: str,
    occurred_at: datetime,
    amount: Decimal = Decimal(0),
    currency: str = "",
    whop_plan_id: str = "",
    whop_product_id: str = "",
    whop_user_id: str = "",
    whop_membership_id: str = "",
    failure_message: str = "",
    webhook_id: str = "",
) -> Payment:
    """Store (or update) one Whop payment and apply it to the creator's billing standing.

    `amount` is Decimal in `currency`. Convergent per payment: an event older than the one
    stored for the same payment id changes nothing. A succeeded payment for a plan in
    PlanTierMapping sets `creator.tier` (newest payment wins) and clears a failed flag; a
    failed payment flags the BillingAccount as payment_failed (if newer than its status).
    """
    payment = Payment.objects.select_for_update().filter(whop_payment_id=whop_payment_id).first()
    if payment is not None and occurred_at < payment.occurred_at:
        return payment
    fields = {
        "creator": creator or (payment.creator if payment else None),
        "status": status,
        "amount": amount,
        "currency": currency[:10],
        "whop_plan_id": whop_plan_id,
        "whop_product_id": whop_product_id,
        "whop_user_id": whop_user_id,
        "whop_membership_id": whop_membership_id,
        "failure_message": failure_message,
        "occurred_at": occurred_at,
    }
    if payment is None:
        payment = Payment.objects.create(whop_payment_id=whop_payment_id, **fields)
    else:
        for key, value in fields.items():
            setattr(payment, key, value)
        payment.save(update_fields=[*fields, "updated_at"])
    creator = payment.creator
    if creator is None:
        return payment
    account = BillingAccount.objects.select_for_update().get(
        pk=billing_account_for(creator=creator).pk
    )
    newer_status = account.status_updated_at is None or occurred_at >= account.status_updated_at
    if status == Payment.Status.FAILED:
        if newer_status:
            account.status = BillingAccount.Status.PAYMENT_FAILED
            account.last_failure_message = failure_message[:2000]
            account.status_updated_at = occurred_at
            account.save(
                update_fields=[
                    "status", "last_failure_message", "status_updated_at", "updated_at",
                ]
            )  # fmt: skip
        return payment
    if newer_status:
        account.status = BillingAccount.Status.OK
        account.last_failure_message = ""
        account.status_updated_at = occurred_at
    mapping = (
        PlanTierMapping.objects.filter(whop_plan_id=whop_plan_id).first() if whop_plan_id else None
    )
    if mapping is not None:
        if account.tier_updated_at is None or occurred_at >= account.tier_updated_at:
            tier_set(
                creator=creator,
                account=account,
                to_tier=mapping.tier,
                reason="payment.succeeded",
                occurred_at=occurred_at,
                webhook_id=webhook_id,
                whop_plan_id=whop_plan_id,
                whop_membership_id=whop_membership_id,
                whop_payment_id=whop_payment_id,
            )
            account.tier_membership_id = whop_membership_id
            account.tier_payment_id = whop_payment_id
        if payment.tier_applied != mapping.tier:
            payment.tier_applied = mapping.tier
            payment.save(update_fields=["tier_applied"])
    account.save(
        update_fields=[
            "status", "last_failure_message", "status_updated_at", "tier_updated_at",
            "tier_membership_id", "tier_payment_id", "updated_at",
        ]
    )  # fmt: skip
    return payment


# --- Tier changes --------------------------------------------------------------------------


def tier_set(
    *,
    creator: Creator,
    account: BillingAccount,
    to_tier: str,
    reason: str,
    occurred_at: datetime,
    actor: User | None = None,
    webhook_id: str = "",
    whop_plan_id: str = "",
    whop_membership_id: str = "",
    whop_payment_id: str = "",
) -> TierChange | None:
    """Put `creator` on `to_tier` now and record it (TierChange, status applied), inside
    the caller's transaction with `account` locked. Scheduled downgrades caused before
    `occurred_at` are superseded. Moves account.tier_updated_at to `occurred_at` (the caller
    saves `account`). Returns the TierChange, or None when the tier was already `to_tier`."""
    now = timezone.now()
    TierChange.objects.filter(
        creator=creator, status=TierChange.Status.SCHEDULED, occurred_at__lte=occurred_at
    ).update(status=TierChange.Status.SUPERSEDED)
    account.tier_updated_at = occurred_at
    creator.refresh_from_db(fields=["tier"])
    if creator.tier == to_tier:
        return None
    change = TierChange.objects.create(
        creator=creator,
        from_tier=creator.tier,
        to_tier=to_tier,
        status=TierChange.Status.APPLIED,
        reason=reason,
        actor=actor,
        webhook_id=webhook_id,
        whop_plan_id=whop_plan_id,
        whop_membership_id=whop_membership_id,
        whop_payment_id=whop_payment_id,
        occurred_at=occurred_at,
        effective_at=now,
        applied_at=now,
    )
    creator.tier = to_tier
    creator.save(update_fields=["tier", "updated_at"])
    return change


@transaction.atomic
def tier_paid_through_record(
    *, creator: Creator, whop_membership_id: str, paid_through: datetime | None
) -> None:
    """Remember the end of what was paid for (a tier membership's renewal_period_end), used
    when a cancellation, refund or dispute sends the creator back to free."""
    account = BillingAccount.objects.select_for_update().get(
        pk=billing_account_for(creator=creator).pk
    )
    if account.tier_membership_id and account.tier_membership_id != whop_membership_id:
        return  # a membership other than the one that granted the current tier
    account.tier_membership_id = account.tier_membership_id or whop_membership_id
    account.tier_paid_through = paid_through
    account.save(update_fields=["tier_membership_id", "tier_paid_through", "updated_at"])


@transaction.atomic
def tier_downgrade(
    *,
    creator: Creator,
    reason: str,
    occurred_at: datetime,
    paid_through: datetime | None = None,
    webhook_id: str = "",
    whop_plan_id: str = "",
    whop_membership_id: str = "",
    whop_payment_id: str = "",
) -> TierChange | None:
    """Send `creator` back to free at the end of what was paid for: `paid_through` (or the
    account's remembered tier_paid_through), or now when that has passed or is unknown.

    Ignored (None) when the event is older than the last tier change applied (webhooks
    arrive in any order), when the creator is already free, or when it concerns a
    membership/payment other than the one that granted the current tier (an old plan's
    cancellation must not take a newer plan away). A future end makes a TierChange with
    status "scheduled" that tier_changes_apply_due() applies; data is never deleted.
    """
    account = BillingAccount.objects.select_for_update().get(
        pk=billing_account_for(creator=creator).pk
    )
    if account.tier_updated_at is not None and occurred_at < account.tier_updated_at:
        return None
    granted_by = {account.tier_membership_id, account.tier_payment_id} - {""}
    if granted_by and not granted_by & ({whop_membership_id, whop_payment_id} - {""}):
        return None
    creator.refresh_from_db(fields=["tier"])
    if creator.tier == Tier.FREE:
        # Already free (the payment may still be on its way): remember when the plan
        # ended, so that payment, older than this, does not put the tier back.
        account.tier_updated_at = occurred_at
        account.tier_membership_id = whop_membership_id or account.tier_membership_id
        account.save(update_fields=["tier_updated_at", "tier_membership_id", "updated_at"])
        return None
    now = timezone.now()
    ends = paid_through or account.tier_paid_through
    if ends is None or ends <= now:
        change = tier_set(
            creator=creator,
            account=account,
            to_tier=Tier.FREE,
            reason=reason,
            occurred_at=occurred_at,
            webhook_id=webhook_id,
            whop_plan_id=whop_plan_id,
            whop_membership_id=whop_membership_id,
            whop_payment_id=whop_payment_id,
        )
    else:
        TierChange.objects.filter(creator=creator, status=TierChange.Status.SCHEDULED).update(
            status=TierChange.Status.SUPERSEDED
        )
        change = TierChange.objects.create(
            creator=creator,
            from_tier=creator.tier,
            to_tier=Tier.FREE,
            status=TierChange.Status.SCHEDULED,
            reason=reason,
            webhook_id=webhook_id,
            whop_plan_id=whop_plan_id,
            whop_membership_id=whop_membership_id,
            whop_payment_id=whop_payment_id,
            occurred_at=occurred_at,
            effective_at=ends,
        )
        account.tier_updated_at = occurred_at
    account.save(update_fields=["tier_updated_at", "updated_at"])
    return change


def tier_changes_apply_due(*, now: datetime | None = None) -> int:
    """Apply scheduled downgrades whose effective_at has come; returns how many. Run by
    django-q2 every 15 minutes and before the Plan page is shown."""
    now = now or timezone.now()
    applied = 0
    due = TierChange.objects.filter(status=TierChange.Status.SCHEDULED, effective_at__lte=now)
    for change_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            change = (
                TierChange.objects.select_for_update()
                .select_related("creator")
                .filter(pk=change_id, status=TierChange.Status.SCHEDULED)
                .first()
            )
            if change is None:
                continue
            creator = change.creator
            creator.refresh_from_db(fields=["tier"])
            change.from_tier = creator.tier
            change.status = TierChange.Status.APPLIED
            change.applied_at = now
            change.save(update_fields=["from_tier", "status", "applied_at"])
            creator.tier = change.to_tier
            creator.save(update_fields=["tier", "updated_at"])
            applied += 1
    return applied


@transaction.atomic
def tier_set_by_admin(*, creator: Creator, to_tier: str, actor: User | None, reason: str) -> None:
    """An operator (admin, seed_demo) sets the tier directly; recorded like any change."""
    account = BillingAccount.objects.select_for_update().get(
        pk=billing_account_for(creator=creator).pk
    )
    tier_set(
        creator=creator,
        account=account,
        to_tier=to_tier,
        reason=reason,
        occurred_at=timezone.now(),
        actor=actor,
    )
    account.tier_membership_id = account.tier_payment_id = ""
    account.tier_paid_through = None
    account.save(
        update_fields=[
            "tier_updated_at", "tier_membership_id", "tier_payment_id", "tier_paid_through",
            "updated_at",
        ]
    )  # fmt: skip
