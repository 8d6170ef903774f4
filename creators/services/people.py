"""People: Chronos users for Whop users (created or found, safe to call twice)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from creators.models import User


def _unique_username(base: str) -> str:
    base = (slugify(base) or "user")[:140]
    candidate, n = base, 1
    while User.objects.filter(username=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def user_get_or_create_for_whop(
    *,
    whop_user_id: str,
    email: str = "",
    username: str = "",
    name: str = "",
    avatar_url: str = "",
) -> User:
    """The User for Whop user `whop_user_id` ("user_..."), created when new.

    Profile fields given non-empty overwrite stored ones (Whop is the source of truth for
    Whop users). New users get an unusable password (they sign in through Whop).
    Raises ValueError when `whop_user_id` is empty.
    """
    if not whop_user_id:
        raise ValueError("whop_user_id is required.")
    user = User.objects.filter(whop_user_id=whop_user_id).first()
    if user is None:
        user = User(
            whop_user_id=whop_user_id,
            username=_unique_username(username or whop_user_id),
            email=email or "",
            display_name=(name or username or "")[:150],
            avatar_url=(avatar_url or "")[:500],
        )
        user.set_unusable_password()
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:  # created concurrently by another request/worker
            return User.objects.get(whop_user_id=whop_user_id)
        return user
    changed = []
    for field, value in (
        ("email", email),
        ("display_name", (name or "")[:150]),
        ("avatar_url", (avatar_url or "")[:500]),
    ):
        if value and getattr(user, field) != value:
            setattr(user, field, value)
            changed.append(field)
    if changed:
        user.save(update_fields=changed)
    return user


def user_from_whop_object(obj: dict[str, Any] | None) -> User | None:
    """A User for a Whop user object ({"id": "user_...", "username", "name", "email"})."""
    if not isinstance(obj, dict) or not obj.get("id"):
        return None
    return user_get_or_create_for_whop(
        whop_user_id=str(obj["id"]),
        email=str(obj.get("email") or ""),
        username=str(obj.get("username") or ""),
        name=str(obj.get("name") or ""),
        avatar_url=str((obj.get("profile_picture") or {}).get("url") or "")
        if isinstance(obj.get("profile_picture"), dict)
        else "",
    )
