"""Writes to the usage ledger; Whop payments, tiers and each creator's billing standing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction

from billing.models import BillingAccount, Payment, PlanTierMapping, UsageLedgerEntry
from creators.models import Creator


def usage_record(
    *,
    creator: Creator,
    operation: str,
    provider: str,
    model: str,
    units: float | int | Decimal,
    unit: str,
    usd: Decimal,
    subject: str = "",
    metadata: dict | None = None,
) -> UsageLedgerEntry:
    """Append one ledger row for a paid call. `usd` comes from billing.prices."""
    return UsageLedgerEntry.objects.create(
        creator=creator,
        operation=operation,
        provider=provider,
        model=model,
        units=Decimal(str(units)),
        unit=unit,
        usd=usd,
        subject=subject,
        metadata=metadata or {},
    )


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
        payment.save()
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
            account.save()
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
            creator.tier = mapping.tier
            creator.save(update_fields=["tier", "updated_at"])
            account.tier_updated_at = occurred_at
        if payment.tier_applied != mapping.tier:
            payment.tier_applied = mapping.tier
            payment.save(update_fields=["tier_applied"])
    account.save()
    return payment
