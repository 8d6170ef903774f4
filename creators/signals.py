"""Signal receivers: thin hooks that call services."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from creators.whop import whop_tokens_revoke


@receiver(user_logged_out, dispatch_uid="creators.revoke_whop_tokens")
def revoke_whop_tokens_on_logout(sender, request, user, **kwargs):
    """Sign-out revokes the user's Whop refresh tokens (failures are logged, never raised).

    Skipped when allauth logs a session out only to complete a new Whop sign-in.
    """
    if user is None or getattr(request, "_whop_login_in_progress", False):
        return
    whop_tokens_revoke(user=user)
