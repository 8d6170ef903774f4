"""django-q2 task functions of the analytics app, and their schedule."""

from __future__ import annotations

from chronos.schedules import Periodic

SCHEDULES = (Periodic("analytics: incremental rollup", "analytics.tasks.rollup_tick", minutes=5),)


def rollup_tick() -> dict[str, int]:
    """Every 5 minutes: fold what changed since each creator's watermarks.

    Returns {"creators", "sessions"} (see analytics.rollups.rollup_update_all)."""
    from analytics.rollups import rollup_update_all

    return rollup_update_all()


def rollup_rebuild_task(creator_id: int) -> dict[str, int]:
    """Rebuild one creator's rollups from scratch (queued after a time-zone change)."""
    from analytics.rollups import rollup_rebuild
    from creators.models import Creator

    creator = Creator.objects.filter(pk=creator_id).first()
    return rollup_rebuild(creator=creator) if creator else {}
