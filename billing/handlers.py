"""Webhook handlers owned by billing: Chronos's own plan sales.

payment.succeeded / payment.failed: store the payment; a succeeded one for a plan in
PlanTierMapping sets the creator's tier (matched by metadata.chronos_creator, then the
paying Whop user, then the company). membership.activated / .updated of a tier plan
remember the end of what was paid for; membership.deactivated, refund.created and
dispute.created of a tier plan send the creator back to free at that end
(billing.services.payments.tier_downgrade). Events of other plans are creators' business
(students' access) and are ignored here; creators' own handlers run for the same types.

Registered into creators' dispatch table from BillingConfig.ready(), so creators never
imports billing. Payment shapes (docs.whop.com payment object, whop_sdk Payment): id
"pay_...", total / subtotal / usd_total (float, in `currency`), currency ("usd"),
plan {id}, product {id}, user {id, ...}, membership {id, status}, company {id},
failure_message, paid_at, created_at. Newer API pins send amount_charged {amount: "50.00",
currency} and line_items[].variant_id (the plan) with account_id instead of company.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from billing.models import Payment, PlanTierMapping
from billing.services.payments import payment_record
from creators.handlers import company_id_of
from creators.models import Creator
from creators.webhooks import WebhookEnvelope, payload_id, payload_object, register

logger = logging.getLogger(__name__)


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None


def payment_fields(data: dict) -> dict[str, Any]:
    """Normalise a Whop payment object (old and new API pins) to payment_record kwargs."""
    charged = payload_object(data, "amount_charged")
    amount = (
        _decimal(data.get("total"))
        or _decimal(charged.get("amount"))
        or _decimal(data.get("subtotal"))
        or _decimal(data.get("usd_total"))
        or Decimal(0)
    )
    plan_id = payload_id(data, "plan")
    product_id = payload_id(data, "product")
    items = data.get("line_items") if isinstance(data.get("line_items"), list) else []
    if items and isinstance(items[0], dict):
        plan_id = plan_id or items[0].get("variant_id") or ""
        product_id = product_id or items[0].get("product_id") or ""
    return {
        "whop_payment_id": str(data.get("id") or ""),
        "amount": amount,
        "currency": str(data.get("currency") or charged.get("currency") or ""),
        "whop_plan_id": str(plan_id),
        "whop_product_id": str(product_id),
        "whop_user_id": payload_id(data, "user"),
        "whop_membership_id": payload_id(data, "membership"),
        "failure_message": str(data.get("failure_message") or ""),
    }


def creator_for_payment(envelope: WebhookEnvelope, fields: dict[str, Any]) -> Creator | None:
    """The tenant a payment belongs to.

    1. data.metadata.chronos_creator (a handle, set on Chronos's own checkout links);
    2. a plan mapped to a Chronos tier: the creator owned by the paying Whop user;
    3. the company the event concerns (data.company.id / account_id / envelope company_id).
    """
    data = envelope.data
    handle = payload_object(data, "metadata").get("chronos_creator")
    if handle:
        creator = Creator.objects.filter(handle=str(handle)).first()
        if creator is not None:
            return creator
    payer = fields["whop_user_id"]
    if payer and PlanTierMapping.objects.filter(whop_plan_id=fields["whop_plan_id"]).exists():
        owned = list(Creator.objects.filter(owner__whop_user_id=payer).order_by("pk")[:2])
        if len(owned) == 1:
            return owned[0]
    company_id = company_id_of(envelope)
    if company_id:
        return Creator.objects.filter(whop_company_id=company_id).first()
    return None


def _on_payment(envelope: WebhookEnvelope, status: str) -> None:
    fields = payment_fields(envelope.data)
    if not fields["whop_payment_id"]:
        raise ValueError(f"{envelope.type} without data.id.")
    creator = creator_for_payment(envelope, fields)
    if creator is None:
        logger.warning(
            "Payment %s matched no creator; stored unassigned.", fields["whop_payment_id"]
        )
    payment_record(
        creator=creator,
        status=status,
        occurred_at=envelope.timestamp,
        webhook_id=envelope.webhook_id,
        **fields,
    )


@register("payment.succeeded")
def on_payment_succeeded(envelope: WebhookEnvelope) -> None:
    _on_payment(envelope, Payment.Status.SUCCEEDED)


@register("payment.failed")
def on_payment_failed(envelope: WebhookEnvelope) -> None:
    _on_payment(envelope, Payment.Status.FAILED)
