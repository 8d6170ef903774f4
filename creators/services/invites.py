"""Chronos without Whop: studios created by their owner, students invited by link or e-mail.

A signed-in user creates a studio (`studio_create`); its owner or team invites students with
a shareable join link (`/join/<token>/`, optional expiry and use limit, revocable) or an
e-mailed invite (the same link bound to one address, one use). Redeeming grants a
Membership of source "invite" (status active, no end date).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from chronos.errors import DomainError, NotFound
from creators.models import Creator, Invite, Membership, User

# Studios one person may own when created here (Whop installs are not counted).
MAX_OWNED_STUDIOS = 5
# Join-link lifetime bounds offered to creators (days); None = no expiry.
MAX_INVITE_DAYS = 365
# Handles that are path segments of Chronos's own URLs (/studio/new/).
RESERVED_HANDLES = {"new"}
# Bytes of randomness in a join token (secrets.token_urlsafe: ~1.3 characters per byte).
TOKEN_BYTES = 24


class InviteError(DomainError):
    """A studio or invite request that cannot be honoured; the message is for the user.

    `code` is machine-readable: "invalid", "limit_exceeded", "revoked", "expired",
    "exhausted", "wrong_email"; an invite that cannot be used answers 410 (Gone)."""


@transaction.atomic
def studio_create(*, owner: User, company_name: str) -> Creator:
    """A new standalone studio (tenant) owned by `owner`, on the free tier.

    Raises InviteError (code "invalid") for an empty name, ("limit_exceeded") when the user
    already owns MAX_OWNED_STUDIOS studios."""
    from creators.services.tenants import creator_create, creator_handle_for

    name = " ".join((company_name or "").split())[:200]
    if not name:
        raise InviteError("Give your studio a name.")
    if Creator.objects.filter(owner=owner).count() >= MAX_OWNED_STUDIOS:
        raise InviteError(f"You already own {MAX_OWNED_STUDIOS} studios.", code="limit_exceeded")
    handle = creator_handle_for(name=name)
    if handle in RESERVED_HANDLES:
        handle = creator_handle_for(name=f"{name} studio")
    return creator_create(company_name=name, owner=owner, handle=handle)


def invite_create(
    *,
    creator: Creator,
    actor: User,
    email: str = "",
    expires_in_days: int | None = None,
    max_uses: int | None = None,
    note: str = "",
) -> Invite:
    """A join link for `creator`. With `email`, it is bound to that address and usable once.

    `expires_in_days` (1..MAX_INVITE_DAYS) or None for no expiry; `max_uses` >= 1 or None
    for unlimited. Raises InviteError for out-of-range values."""
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_INVITE_DAYS:
        raise InviteError(f"Expiry must be between 1 and {MAX_INVITE_DAYS} days.")
    if max_uses is not None and max_uses < 1:
        raise InviteError("A use limit must be at least 1.")
    email = (email or "").strip()
    return Invite.objects.create(
        creator=creator,
        token=secrets.token_urlsafe(TOKEN_BYTES),
        email=email,
        note=note[:200],
        expires_at=timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None,
        max_uses=1 if email else max_uses,
        created_by=actor,
    )


def invite_send(*, invite: Invite, join_url: str) -> None:
    """E-mail the join link (an absolute URL) to the invite's address (settings'
    EMAIL_BACKEND; the console backend in development)."""
    if not invite.email:
        return
    expiry = f"\nThis link expires on {invite.expires_at:%d %b %Y}.\n" if invite.expires_at else ""
    send_mail(
        subject=f"You're invited to {invite.creator.company_name} on Chronos",
        message=(
            f"{invite.creator.company_name} invited you to their courses on Chronos.\n\n"
            f"Join here: {join_url}\n{expiry}"
        ),
        from_email=None,
        recipient_list=[invite.email],
    )


def invite_revoke(*, creator: Creator, invite_id: int) -> Invite:
    """Stop a join link working (memberships it granted stay). Raises NotFound when
    `invite_id` is not one of `creator`'s invites."""
    invite = Invite.objects.filter(creator=creator, pk=invite_id).first()
    if invite is None:
        raise NotFound("No such invite.")
    if invite.revoked_at is None:
        invite.revoked_at = timezone.now()
        invite.save(update_fields=["revoked_at"])
    return invite


def invite_check(invite: Invite, *, user: User | None = None) -> None:
    """Raise InviteError when `invite` cannot be redeemed (by `user`, when given)."""
    if invite.revoked_at is not None:
        raise InviteError("This invite link was revoked.", code="revoked", status=410)
    if invite.expires_at is not None and invite.expires_at <= timezone.now():
        raise InviteError("This invite link has expired.", code="expired", status=410)
    if invite.max_uses is not None and invite.uses >= invite.max_uses:
        raise InviteError("This invite link has been used up.", code="exhausted", status=410)
    if not invite.creator.is_active:
        raise InviteError("This studio is closed.", code="revoked", status=410)
    if user is not None and invite.email and invite.email.lower() != (user.email or "").lower():
        raise InviteError(
            "This invite was sent to another e-mail address. Sign in with that address.",
            code="wrong_email",
            status=403,
        )


@transaction.atomic
def invite_redeem(*, token: str, user: User) -> Membership:
    """Redeem join link `token` for `user`: an active membership of source "invite".

    A user who already has a granting membership keeps it and uses up nothing. Raises
    Invite.DoesNotExist for an unknown token, InviteError when it is revoked, expired, used
    up, bound to another e-mail, or its studio is closed."""
    invite = Invite.objects.select_for_update().select_related("creator").get(token=token)
    existing = Membership.objects.active().filter(creator=invite.creator, user=user).first()
    if existing is not None or invite.creator in Creator.objects.managed_by(user):
        invite_check(invite)
        return existing or Membership(creator=invite.creator, user=user)
    invite_check(invite, user=user)
    membership, _ = Membership.objects.update_or_create(
        creator=invite.creator,
        user=user,
        defaults={
            "status": Membership.Status.ACTIVE,
            "source": Membership.Source.INVITE,
            "valid_until": None,
            "source_updated_at": timezone.now(),
        },
    )
    invite.uses += 1
    invite.save(update_fields=["uses"])
    return membership
