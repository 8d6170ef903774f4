"""Analytics reads cached between rollups.

Everything the dashboard and the engagement API show comes from rollup tables that change
only when `analytics.rollups.rollup_update` runs (the 5-minute schedule) or a rebuild does;
both save the creator's RollupState, whose `updated_at` is the watermark in every key here.
So a repeated view between two rollups is one small query plus a cache read. The cache is
CACHES["analytics"] (a database table every process shares), so the worker can compute the
dashboards right after a rollup (`dashboards_warm`, queued by analytics.tasks.rollup_tick)
and the first view after it reads them instead of paying the cold computation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.core.cache import caches
from django.db import connection

from analytics.models import RollupState
from creators.models import Creator

T = TypeVar("T")
# A key outlives its watermark by at most this long (seconds); rollups run every 300 s.
CACHE_SECONDS = 900


def rollup_watermark(*, creator: Creator) -> str:
    """The creator's rollup watermark (RollupState.updated_at, ISO) or "none" (never rolled)."""
    with connection.cursor() as cur:  # raw: read on every analytics view, cached or not
        cur.execute(
            f"SELECT updated_at FROM {RollupState._meta.db_table} WHERE creator_id = %s",
            [creator.pk],
        )
        row = cur.fetchone()  # RollupState is one-to-one with Creator: one row at most
    return row[0].isoformat() if row and row[0] else "none"


def rollup_cached(*, creator: Creator, key: str, compute: Callable[[], T]) -> T:
    """compute() cached per (creator, key, rollup watermark) for up to CACHE_SECONDS.

    key: what else the value depends on (page, range bounds and time zone, filters).
    """
    cache = caches["analytics"]
    full = f"analytics:{creator.pk}:{rollup_watermark(creator=creator)}:{key}"
    value = cache.get(full)
    if value is None:
        value = compute()
        cache.set(full, value, CACHE_SECONDS)
    return value
