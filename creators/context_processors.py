"""Template context shared by every page: the creators the user manages and studies, and
whether Whop is configured (pages mention Whop only then)."""

from __future__ import annotations

from django.conf import settings

from creators.selectors import creators_learnable_by, creators_managed_by


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def managed():
        return list(creators_managed_by(user=user).filter(is_active=True)[:20])

    def learnable():
        return list(creators_learnable_by(user=user)[:20])

    # Lazy: evaluated only if a template uses them.
    return {"nav_managed_creators": managed, "nav_learnable_creators": learnable}


def whop(request) -> dict:
    """`whop_signin`: "Sign in with Whop" is configured (WHOP_CLIENT_ID); `whop_app`: Chronos
    runs as a Whop app here (WHOP_APP_ID). Without either, no page mentions Whop."""
    return {
        "whop_signin": bool(settings.WHOP_CLIENT_ID),
        "whop_app": bool(settings.WHOP_APP_ID),
    }
