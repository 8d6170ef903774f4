"""Template context shared by every page: the creators the user manages and studies, and
whether Whop is configured (pages mention Whop only then)."""

from __future__ import annotations

from django.conf import settings

from creators.selectors import creators_learnable_by, creators_managed_by


def managed_creators(request) -> list:
    """The active creators the signed-in user manages (the top navigation's first 20), read
    once per request: the studio's plan banner (billing.context_processors) finds its
    creator here instead of querying again."""
    memo = getattr(request, "_nav_managed_creators", None)
    if memo is None:
        memo = list(creators_managed_by(user=request.user).filter(is_active=True)[:20])
        request._nav_managed_creators = memo
    return memo


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def managed():
        return managed_creators(request)

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
