"""Webhook handlers owned by creators: app installations and student memberships.

Payload shapes follow Whop's webhook reference (docs.whop.com/api-reference): membership
events carry the Membership object (id "mem_...", status, user {id, username, name, email},
company {id, title}, plan {id}, product {id}, updated_at, renewal_period_end,
cancel_at_period_end). App installation events carry the installation with its company
and the installing user; the company is also in the envelope (company_id / account_id).
Registered in CreatorsConfig.ready().
"""

from __future__ import annotations

import logging
from typing import Any

from creators.models import Creator, Membership
from creators.services import (
    WHOP_MEMBERSHIP_STATUS,
    creator_provision,
    creator_uninstall,
    membership_apply,
    user_from_whop_object,
)
from creators.webhooks import WebhookEnvelope, parse_whop_datetime, register

logger = logging.getLogger(__name__)


def _obj(data: dict, key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def company_id_of(envelope: WebhookEnvelope) -> str:
    """The Whop company ("biz_...") an event concerns: data.company.id, data.company_id,
    data.account_id, then the envelope's company_id/account_id."""
    data = envelope.data
    return str(
        _obj(data, "company").get("id")
        or data.get("company_id")
        or data.get("account_id")
        or envelope.company_id
        or ""
    )


@register("app_installation.created")
def on_app_installation_created(envelope: WebhookEnvelope) -> None:
    data = envelope.data
    company = _obj(data, "company")
    company_id = company_id_of(envelope)
    if not company_id:
        raise ValueError("app_installation.created without a company id.")
    installer = _obj(data, "user") or _obj(data, "installed_by")
    if not installer and data.get("user_id"):
        installer = {"id": data["user_id"]}
    creator_provision(
        whop_company_id=company_id,
        company_name=str(
            company.get("title") or company.get("name") or data.get("company_title") or ""
        ),
        owner=user_from_whop_object(installer),
        occurred_at=envelope.timestamp,
    )


@register("app_installation.deleted")
def on_app_installation_deleted(envelope: WebhookEnvelope) -> None:
    company_id = company_id_of(envelope)
    if not company_id:
        raise ValueError("app_installation.deleted without a company id.")
    creator_uninstall(whop_company_id=company_id, occurred_at=envelope.timestamp)


def _membership_event(envelope: WebhookEnvelope, *, revoke: bool) -> None:
    data = envelope.data
    company_id = company_id_of(envelope)
    creator = Creator.objects.filter(whop_company_id=company_id).first() if company_id else None
    if creator is None:
        # A membership of a company that has not installed Chronos: nothing to grant.
        logger.info("Membership event for unknown company %s ignored.", company_id or "-")
        return
    user = user_from_whop_object(_obj(data, "user"))
    if user is None:
        raise ValueError("Membership event without data.user.id.")
    whop_status = str(data.get("status") or "")
    status = WHOP_MEMBERSHIP_STATUS.get(whop_status, Membership.Status.INACTIVE)
    if revoke and status in (Membership.Status.ACTIVE, Membership.Status.TRIALING):
        status = Membership.Status.INACTIVE  # deactivated wins whatever data.status says
    valid_until = None
    if data.get("cancel_at_period_end"):
        valid_until = parse_whop_datetime(data.get("renewal_period_end"))
    occurred_at = parse_whop_datetime(data.get("updated_at")) or envelope.timestamp
    membership_apply(
        creator=creator,
        user=user,
        whop_membership_id=str(data.get("id") or ""),
        status=status,
        occurred_at=max(occurred_at, envelope.timestamp),
        plan_id=str(_obj(data, "plan").get("id") or ""),
        product_id=str(_obj(data, "product").get("id") or ""),
        valid_until=valid_until,
    )


@register("membership.activated", "membership.updated")
def on_membership_activated(envelope: WebhookEnvelope) -> None:
    _membership_event(envelope, revoke=False)


@register("membership.deactivated")
def on_membership_deactivated(envelope: WebhookEnvelope) -> None:
    _membership_event(envelope, revoke=True)
