"""Webhook handlers of billing for tier plans' memberships, refunds and disputes.

Registered beside creators' handlers of the same types (creators' dispatch table runs every
handler of a type; each returns quietly when the event is not its business): a membership
of a plan in PlanTierMapping is Chronos's own sale, so billing records its paid-through date
and, when it is deactivated, refunded or disputed, sends the creator back to free at the
end of what was paid for (billing.services.payments.tier_downgrade).
"""

from __future__ import annotations

import logging

from billing.handlers import creator_for_payment
from billing.models import Payment, PlanTierMapping
from billing.services.payments import tier_downgrade, tier_paid_through_record
from creators.models import Creator
from creators.webhooks import (
    WebhookEnvelope,
    occurred_at,
    parse_whop_datetime,
    payload_id,
    payload_object,
    register,
)

logger = logging.getLogger(__name__)


def _tier_membership(envelope: WebhookEnvelope) -> tuple[Creator, dict] | None:
    """(creator, fields) when the membership event is for a tier plan, else None."""
    data = envelope.data
    plan_id = payload_id(data, "plan")
    if not plan_id or not PlanTierMapping.objects.filter(whop_plan_id=plan_id).exists():
        return None
    fields = {
        "whop_plan_id": plan_id,
        "whop_user_id": payload_id(data, "user"),
        "whop_membership_id": str(data.get("id") or ""),
    }
    creator = creator_for_payment(envelope, fields)
    if creator is None:
        logger.warning("Tier membership %s matched no creator.", fields["whop_membership_id"])
        return None
    return creator, fields


@register("membership.activated", "membership.updated")
def on_tier_membership_changed(envelope: WebhookEnvelope) -> None:
    found = _tier_membership(envelope)
    if found is None:
        return
    creator, fields = found
    tier_paid_through_record(
        creator=creator,
        whop_membership_id=fields["whop_membership_id"],
        paid_through=parse_whop_datetime(envelope.data.get("renewal_period_end")),
    )


@register("membership.deactivated")
def on_tier_membership_deactivated(envelope: WebhookEnvelope) -> None:
    found = _tier_membership(envelope)
    if found is None:
        return
    creator, fields = found
    tier_downgrade(
        creator=creator,
        reason=envelope.type,
        occurred_at=occurred_at(envelope),
        paid_through=parse_whop_datetime(envelope.data.get("renewal_period_end")),
        webhook_id=envelope.webhook_id,
        whop_plan_id=fields["whop_plan_id"],
        whop_membership_id=fields["whop_membership_id"],
    )


@register("refund.created", "dispute.created")
def on_tier_payment_reversed(envelope: WebhookEnvelope) -> None:
    """A refund or dispute of a payment that bought a tier: back to free at the end of
    what was paid for. data = {id, status, payment {id, membership {id}, ...}, ...}."""
    data = envelope.data
    payment_obj = payload_object(data, "payment")
    payment_id = payload_id(data, "payment")
    payment = (
        Payment.objects.filter(whop_payment_id=payment_id).select_related("creator").first()
        if payment_id
        else None
    )
    if payment is None or payment.creator is None or not payment.tier_applied:
        return  # not a payment for a Chronos tier (a creator's own product: creators')
    tier_downgrade(
        creator=payment.creator,
        reason=envelope.type,
        occurred_at=occurred_at(envelope),
        webhook_id=envelope.webhook_id,
        whop_plan_id=payment.whop_plan_id,
        whop_membership_id=str(
            payload_object(payment_obj, "membership").get("id") or payment.whop_membership_id or ""
        ),
        whop_payment_id=payment_id,
    )
