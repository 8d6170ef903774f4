"""The studio-wide plan banner's data: limits at >= 80% for the studio being shown."""

from __future__ import annotations

from creators.models import Creator


def plan_alerts(request) -> dict:
    """{"plan_alerts": callable} — evaluated only when a studio page's nav renders the
    banner: the meters of the studio in the URL (/studio/<handle>/...) at >= 80%, for a
    user who manages it; [] otherwise."""
    match = getattr(request, "resolver_match", None)
    handle = (match.kwargs.get("handle") if match else None) or ""
    user = getattr(request, "user", None)
    if (
        not handle
        or not request.path.startswith("/studio/")
        or not user
        or not user.is_authenticated
    ):
        return {}

    def alerts():
        from billing.selectors import usage_summary
        from creators.context_processors import managed_creators

        # The top navigation's list (read once per request) holds the studio unless it is
        # inactive or past the list's first 20: then one lookup by handle.
        creator = next((c for c in managed_creators(request) if c.handle == handle), None)
        if creator is None:
            creator = Creator.objects.managed_by(user).filter(handle=handle).first()
        return usage_summary(creator=creator).alerts if creator else []

    return {"plan_alerts": alerts}
