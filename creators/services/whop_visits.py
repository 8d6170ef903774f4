"""Chronos as a Whop app: who a visitor is to an experience or company, and what that grants.

Whop frames an installed app at the view paths it declares (docs.whop.com developer guides,
"app views"): `/experiences/<exp_id>/` for members of a product and `/dashboard/<biz_id>/`
for the company's team. The visitor is known from the `x-whop-user-token` header (signed in
by creators.middleware) or from a "Sign in with Whop" session (User.whop_user_id). Their role
comes from Whop's access check (`users.check_access`, cached <= 5 minutes, see
creators.whop.whop_access_level) on every visit, so webhooks speed changes up but are not the
only source of truth:

    admin      -> the creator's studio (first admin of an owner-less creator becomes owner,
                  later ones join the team as admins)
    customer   -> the student's catalog; a Whop membership row is granted if missing
    no_access  -> a page with the product's purchase link; a Whop-granted membership is
                  revoked (invite-granted ones are left alone)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from creators.models import Creator, CreatorMember, Membership, User
from creators.services.memberships import membership_apply
from creators.whop import (
    ACCESS_ADMIN,
    ACCESS_CUSTOMER,
    ACCESS_NONE,
    WhopAuthError,
    whop_access_level,
    whop_experience_get,
    whop_purchase_url,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WhopVisit:
    """The outcome of opening a Whop view.

    `role` is "admin", "customer" or "no_access"; `creator` is the tenant of that company
    (None: the company has not installed Chronos yet, or is unknown); `purchase_url` where a
    visitor without access can buy the product; `experience` the cached experience dict.
    """

    role: str
    creator: Creator | None
    purchase_url: str = ""
    experience: dict = field(default_factory=dict)


@transaction.atomic
def creator_admin_attach(*, creator: Creator, user: User) -> Creator:
    """A Whop company admin opened the app: the first one of an owner-less creator becomes
    its owner; any later one is added to the team as an admin (idempotent)."""
    creator = Creator.objects.select_for_update().get(pk=creator.pk)
    if creator.owner_id is None:
        creator.owner, creator.whop_user_id = user, user.whop_user_id
        creator.save(update_fields=["owner", "whop_user_id", "updated_at"])
    elif creator.owner_id != user.pk:
        CreatorMember.objects.get_or_create(
            creator=creator, user=user, defaults={"role": CreatorMember.Role.ADMIN}
        )
    return creator


def membership_sync_from_access(*, creator: Creator, user: User, has_access: bool) -> None:
    """Make the stored membership agree with Whop's access check just made.

    Access and no granting row: an active Whop membership is recorded. No access and a
    Whop-sourced granting row: it is set inactive. Invite memberships are never touched
    (they are the creator's own grant, not Whop's). The change is stamped now, so an older
    webhook delivered later does not undo it (creators.services.membership_apply).
    """
    current = Membership.objects.filter(creator=creator, user=user).first()
    granting = current is not None and Membership.objects.active().filter(pk=current.pk).exists()
    if has_access and not granting:
        membership_apply(
            creator=creator,
            user=user,
            whop_membership_id=(current.whop_membership_id or "") if current else "",
            status=Membership.Status.ACTIVE,
            occurred_at=timezone.now(),
        )
    elif (
        not has_access
        and current is not None
        and granting
        and current.source == Membership.Source.WHOP
    ):
        membership_apply(
            creator=creator,
            user=user,
            whop_membership_id=current.whop_membership_id or "",
            status=Membership.Status.INACTIVE,
            occurred_at=timezone.now(),
        )


def _apply_role(*, creator: Creator | None, user: User, role: str) -> None:
    if creator is None or not creator.is_active:
        return
    if role == ACCESS_ADMIN:
        creator_admin_attach(creator=creator, user=user)
    else:
        membership_sync_from_access(creator=creator, user=user, has_access=role == ACCESS_CUSTOMER)


def whop_visit_experience(*, user: User, experience_id: str) -> WhopVisit:
    """Resolve a visit to /experiences/<experience_id>/ by a Whop user.

    The experience (its company and products) comes from Whop's API (cached); the role from
    Whop's access check on the experience. Raises WhopAuthError when Whop cannot be asked
    or does not know the experience.
    """
    experience = whop_experience_get(experience_id=experience_id)
    company_id = experience["company"]["id"]
    role = whop_access_level(whop_user_id=user.whop_user_id, resource_id=experience_id)
    creator = Creator.objects.filter(whop_company_id=company_id).first()
    _apply_role(creator=creator, user=user, role=role)
    return WhopVisit(
        role=role,
        creator=creator,
        purchase_url=whop_purchase_url(experience) if role == ACCESS_NONE else "",
        experience=experience,
    )


def whop_visit_dashboard(*, user: User, company_id: str) -> WhopVisit:
    """Resolve a visit to /dashboard/<company_id>/: only the company's admins get the studio
    (everyone else is "no_access"). Raises WhopAuthError when Whop cannot be asked."""
    role = whop_access_level(whop_user_id=user.whop_user_id, resource_id=company_id)
    if role != ACCESS_ADMIN:
        role = ACCESS_NONE
    creator = Creator.objects.filter(whop_company_id=company_id).first()
    _apply_role(creator=creator, user=user, role=role)
    return WhopVisit(role=role, creator=creator)


__all__ = [
    "WhopAuthError",
    "WhopVisit",
    "creator_admin_attach",
    "membership_sync_from_access",
    "whop_visit_dashboard",
    "whop_visit_experience",
]
