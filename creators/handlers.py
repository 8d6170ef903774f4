"""Webhook handlers owned by creators: app installations and students' access.

Payload shapes (API v1, docs.whop.com webhooks; whop_sdk types):
- app_installation.created / .deleted: data = {id "aag_...", account {id "biz_...", title},
  app {id}, created_at, external_id, metadata}. No installing user: the first company
  admin who opens /dashboard/<biz_id>/ becomes the owner (creators.services.whop_visits).
- membership.activated / .deactivated / .updated / .cancel_at_period_end_changed: data =
  the Membership {id "mem_...", status, user {id, username, name, email}, company {id,
  title}, plan {id}, product {id}, renewal_period_end, cancel_at_period_end, updated_at}.
- refund.created / .updated: data = {id, status, payment {id, membership {id, status},
  user {id}, ...}, company?}; dispute.created / .updated: data = {id, status, payment
  {...same}, company?}.
A dated API pin's flat fields (user_id, account_id, membership_id) are read as fallbacks.

Access follows the documented membership status: active, trialing, completed (paid in
full) and canceling (until renewal_period_end) grant it; past_due, canceled, expired,
unresolved, drafted do not. membership.deactivated never grants. A succeeded refund or a
lost dispute of a creator's product revokes the student's access; otherwise the refund's or
dispute's nested membership status is applied. Events of Chronos's own company
(settings.WHOP_COMPANY_ID: plan sales) are billing's and ignored here.

An event of a company that has not installed Chronos raises CompanyNotInstalled: the
delivery stays pending and is retried until the install arrives (creators.services).
Registered in CreatorsConfig.ready().
"""

from __future__ import annotations

import logging

from django.conf import settings

from creators.models import Creator, Membership
from creators.services import (
    creator_provision,
    creator_uninstall,
    membership_apply,
    user_from_whop_object,
    webhook_events_release,
)
from creators.webhooks import (
    CompanyNotInstalled,
    WebhookEnvelope,
    occurred_at,
    parse_whop_datetime,
    payload_id,
    payload_object,
    register,
)

logger = logging.getLogger(__name__)

# Whop membership status (whop_sdk MembershipStatus) -> ours; anything else -> inactive.
WHOP_MEMBERSHIP_STATUS = {
    "active": Membership.Status.ACTIVE,
    "trialing": Membership.Status.TRIALING,
    "completed": Membership.Status.COMPLETED,
    "canceling": Membership.Status.CANCELING,
    "past_due": Membership.Status.PAST_DUE,
    "canceled": Membership.Status.CANCELED,
    "expired": Membership.Status.EXPIRED,
}
# Refund statuses (whop_sdk RefundStatus) and dispute statuses (DisputeStatuses) that end
# the student's access to what was paid for.
REFUND_REVOKES = {"succeeded"}
DISPUTE_REVOKES = {"lost"}


def company_id_of(envelope: WebhookEnvelope) -> str:
    """The Whop company ("biz_...") an event concerns: data.account.id (installs),
    data.company.id, data.company_id, data.account_id, then the envelope's."""
    data = envelope.data
    return str(
        payload_object(data, "account").get("id")
        or payload_object(data, "company").get("id")
        or data.get("company_id")
        or data.get("account_id")
        or envelope.company_id
        or ""
    )


def membership_status_of(whop_status: str, *, revoke: bool = False) -> str:
    """Our Membership.Status for Whop's `whop_status`; `revoke` turns a granting status into
    inactive (membership.deactivated, a succeeded refund, a lost dispute)."""
    status = WHOP_MEMBERSHIP_STATUS.get(whop_status, Membership.Status.INACTIVE)
    if revoke and status in Membership.GRANTING:
        return Membership.Status.INACTIVE
    return status


def _is_chronos_company(company_id: str) -> bool:
    return bool(company_id) and company_id == settings.WHOP_COMPANY_ID


def _creator_for(envelope: WebhookEnvelope) -> Creator | None:
    """The installed creator the event concerns; None for Chronos's own company. Raises
    CompanyNotInstalled when the company is unknown (kept pending, retried)."""
    company_id = company_id_of(envelope)
    if not company_id:
        raise ValueError(f"{envelope.type} without a company id.")
    if _is_chronos_company(company_id):
        return None
    creator = Creator.objects.filter(whop_company_id=company_id).first()
    if creator is None:
        raise CompanyNotInstalled(company_id)
    return creator


@register("app_installation.created")
def on_app_installation_created(envelope: WebhookEnvelope) -> None:
    company_id = company_id_of(envelope)
    if not company_id:
        raise ValueError("app_installation.created without data.account.id.")
    account = payload_object(envelope.data, "account") or payload_object(envelope.data, "company")
    creator_provision(
        whop_company_id=company_id,
        company_name=str(account.get("title") or account.get("name") or ""),
        owner=None,
        occurred_at=envelope.timestamp,
    )
    webhook_events_release(company_id=company_id)


@register("app_installation.deleted")
def on_app_installation_deleted(envelope: WebhookEnvelope) -> None:
    company_id = company_id_of(envelope)
    if not company_id:
        raise ValueError("app_installation.deleted without data.account.id.")
    creator_uninstall(whop_company_id=company_id, occurred_at=envelope.timestamp)


def _membership_event(envelope: WebhookEnvelope, *, revoke: bool) -> None:
    data = envelope.data
    creator = _creator_for(envelope)
    if creator is None:
        return
    user_obj = payload_object(data, "user") or (
        {"id": data["user_id"]} if data.get("user_id") else {}
    )
    user = user_from_whop_object(user_obj)
    if user is None:
        raise ValueError("Membership event without data.user.id.")
    status = membership_status_of(str(data.get("status") or ""), revoke=revoke)
    valid_until = None
    if status == Membership.Status.CANCELING or (
        data.get("cancel_at_period_end") and status in Membership.GRANTING
    ):
        valid_until = parse_whop_datetime(data.get("renewal_period_end"))
    membership_apply(
        creator=creator,
        user=user,
        whop_membership_id=str(data.get("id") or ""),
        status=status,
        occurred_at=occurred_at(envelope, data),
        plan_id=payload_id(data, "plan"),
        product_id=payload_id(data, "product"),
        valid_until=valid_until,
    )


@register("membership.activated", "membership.updated", "membership.cancel_at_period_end_changed")
def on_membership_changed(envelope: WebhookEnvelope) -> None:
    _membership_event(envelope, revoke=False)


@register("membership.deactivated")
def on_membership_deactivated(envelope: WebhookEnvelope) -> None:
    _membership_event(envelope, revoke=True)


def _payment_event(envelope: WebhookEnvelope, *, revoke: bool) -> None:
    """A refund or dispute of a creator's product: revoke, or apply the nested membership
    status. Nothing to do without a membership we can identify."""
    data = envelope.data
    payment = payload_object(data, "payment")
    company_id = company_id_of(envelope)
    if _is_chronos_company(company_id):
        return  # Chronos's own plan: billing's handler
    nested = payload_object(payment, "membership")
    whop_membership_id = str(nested.get("id") or payment.get("membership_id") or "")
    user_obj = payload_object(payment, "user") or payload_object(data, "user")
    membership = (
        Membership.objects.filter(whop_membership_id=whop_membership_id)
        .select_related("creator", "user")
        .first()
        if whop_membership_id
        else None
    )
    if membership is not None:
        creator, user = membership.creator, membership.user
    else:
        if not whop_membership_id or not company_id:
            logger.info("%s %s names no membership; nothing to do.", envelope.type, data.get("id"))
            return
        creator = _creator_for(envelope)
        if creator is None:
            return
        user = user_from_whop_object(user_obj)
        if user is None:
            return
    if not revoke and not nested.get("status"):
        return
    membership_apply(
        creator=creator,
        user=user,
        whop_membership_id=whop_membership_id,
        status=membership_status_of(str(nested.get("status") or ""), revoke=revoke),
        occurred_at=occurred_at(envelope, data),
    )


@register("refund.created", "refund.updated")
def on_refund(envelope: WebhookEnvelope) -> None:
    _payment_event(envelope, revoke=str(envelope.data.get("status") or "") in REFUND_REVOKES)


@register("dispute.created", "dispute.updated")
def on_dispute(envelope: WebhookEnvelope) -> None:
    _payment_event(envelope, revoke=str(envelope.data.get("status") or "") in DISPUTE_REVOKES)
