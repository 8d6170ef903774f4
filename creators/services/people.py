"""People: Chronos users for Whop users (created or found, safe to call twice)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from creators.models import User
from creators.slugs import unique_slug


def _unique_username(base: str) -> str:
    return unique_slug(
        base, queryset=User.objects.all(), field="username", max_length=140, fallback="user"
    )


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
    user_profile_refresh(user=user, email=email, display_name=name, avatar_url=avatar_url)
    return user


def user_profile_refresh(
    *,
    user: User,
    whop_user_id: str = "",
    email: str = "",
    display_name: str = "",
    avatar_url: str = "",
) -> list[str]:
    """Overwrite the user's profile with the non-empty values given (Whop is the source of
    truth for Whop users: OpenID userinfo, webhooks, the iframe). Saves only what changed
    (update_fields) and returns those field names. display_name is cut to 150 characters,
    avatar_url to 500 (the model's max lengths)."""
    changed = []
    for field, value in (
        ("whop_user_id", whop_user_id),
        ("email", email),
        ("display_name", (display_name or "")[:150]),
        ("avatar_url", (avatar_url or "")[:500]),
    ):
        if value and getattr(user, field) != value:
            setattr(user, field, value)
            changed.append(field)
    if changed:
        user.save(update_fields=changed)
    return changed


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
