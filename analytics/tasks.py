"""django-q2 task functions of the analytics app, and their schedule."""

from __future__ import annotations

from chronos.schedules import Periodic

SCHEDULES = (Periodic("analytics: incremental rollup", "analytics.tasks.rollup_tick", minutes=5),)


def rollup_tick() -> dict[str, int]:
    """Every 5 minutes: fold what changed since each creator's watermarks, then queue the
    dashboards of each creator whose watermark moved (dashboards_warm_task), so the next
    view reads them from the shared analytics cache instead of computing them.

    Returns {"creators", "sessions", "warmed"} (see analytics.rollups.rollup_update_all)."""
    from django_q.tasks import async_task

    from analytics.rollups import rollup_update_all

    totals, moved = rollup_update_all()
    for creator_id in moved:
        async_task("analytics.tasks.dashboards_warm_task", creator_id, group="analytics-warm")
    return {**totals, "warmed": len(moved)}


def dashboards_warm_task(creator_id: int) -> list[str]:
    """Compute and cache a creator's dashboards (analytics.pages.dashboards_warm)."""
    from analytics.pages import dashboards_warm
    from creators.models import Creator

    creator = Creator.objects.filter(pk=creator_id).first()
    return dashboards_warm(creator=creator) if creator else []


def rollup_rebuild_task(creator_id: int) -> dict[str, int]:
    """Rebuild one creator's rollups from scratch (queued after a time-zone change), then
    compute its dashboards into the shared cache, as rollup_tick does."""
    from analytics.pages import dashboards_warm
    from analytics.rollups import rollup_rebuild
    from creators.models import Creator

    creator = Creator.objects.filter(pk=creator_id).first()
    if creator is None:
        return {}
    result = rollup_rebuild(creator=creator)
    dashboards_warm(creator=creator)
    return result
