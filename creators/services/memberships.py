"""Student memberships from Whop's membership statuses."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from creators.models import Creator, Membership, User

# Statuses that open content (active, trialing, completed, canceling); the Whop status
# mapping itself lives with the webhook handlers (creators.handlers.WHOP_MEMBERSHIP_STATUS).
_GRANTING = set(Membership.GRANTING)


@transaction.atomic
def membership_apply(
    *,
    creator: Creator,
    user: User,
    whop_membership_id: str,
    status: str,
    occurred_at: datetime,
    plan_id: str = "",
    product_id: str = "",
    valid_until: datetime | None = None,
) -> Membership:
    """Record a Whop membership state for (creator, user); returns the stored Membership.

    `status` is one of Membership.Status. Convergent: a state older than
    `source_updated_at` is ignored (on a tie, a revocation wins). A revocation for a
    different Whop membership than the one currently granting access is ignored too.
    """
    membership = (
        Membership.objects.select_for_update().filter(whop_membership_id=whop_membership_id).first()
        if whop_membership_id
        else None
    ) or Membership.objects.select_for_update().filter(creator=creator, user=user).first()
    granting = status in _GRANTING
    if membership is None:
        return Membership.objects.create(
            creator=creator,
            user=user,
            whop_membership_id=whop_membership_id or None,
            status=status,
            plan_id=plan_id,
            product_id=product_id,
            valid_until=valid_until,
            source_updated_at=occurred_at,
        )
    last = membership.source_updated_at
    if last is not None and (occurred_at < last or (occurred_at == last and granting)):
        return membership  # stale delivery
    other_id = whop_membership_id and membership.whop_membership_id not in (
        None,
        whop_membership_id,
    )
    if other_id and not granting and membership.status in _GRANTING:
        return membership  # another Whop membership still grants access
    membership.whop_membership_id = whop_membership_id or membership.whop_membership_id
    membership.status = status
    membership.plan_id = plan_id or membership.plan_id
    membership.product_id = product_id or membership.product_id
    membership.valid_until = valid_until
    membership.source_updated_at = occurred_at
    membership.save(
        update_fields=[
            *("whop_membership_id", "status", "plan_id", "product_id", "valid_until"),
            *("source_updated_at", "updated_at"),
        ]
    )
    return membership
