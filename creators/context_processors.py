"""Template context shared by every page: the creators the user manages and studies."""

from __future__ import annotations

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
