"""Per-video bucket rollups (VideoDay, VideoMonth, VideoViewerDay) and the engagement read
over them. All are derived from WatchSession rows (analytics.rollups folds those from the raw
watch events) with one SQL statement each, for just the (student, day) pairs, days and
months a rollup touched; `rollup_rebuild` recomputes them like every other rollup. A range's
engagement graph then reads one VideoMonth row per closed month it wholly covers and one
VideoDay row per other day (plays), and one VideoViewerDay row per (student, day) that
played the video (unique viewers: the students' `seen` strings OR-ed per student in SQL,
counted per bucket with numpy) — no session arrays are unnested at read time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np
from django.db import connection, transaction

from analytics.ranges import DateRange, local_today, month_after, month_sql, tz_of
from creators.models import Creator

_VIDEO_DAYS = """
    INSERT INTO analytics_videoday (creator_id, video_id, day, plays)
    SELECT %(creator)s, video_id, day, array_agg(p ORDER BY i)
    FROM (
        SELECT s.video_id, s.day, b.i, SUM(b.p) AS p
        FROM analytics_watchsession s, unnest(s.buckets) WITH ORDINALITY AS b(p, i)
        WHERE s.creator_id = %(creator)s AND s.day = ANY(%(days)s::date[])
          AND s.video_id IS NOT NULL
        GROUP BY 1, 2, 3
    ) t
    GROUP BY video_id, day
"""

_VIEWER_DAYS = """
    INSERT INTO analytics_videoviewerday (creator_id, video_id, user_id, day, seen)
    SELECT %(creator)s, video_id, user_id, day,
           string_agg(CASE WHEN p > 0 THEN '1' ELSE '0' END, '' ORDER BY i)
    FROM (
        SELECT s.video_id, s.user_id, s.day, b.i, MAX(b.p) AS p
        FROM analytics_watchsession s, unnest(s.buckets) WITH ORDINALITY AS b(p, i)
        WHERE s.creator_id = %(creator)s AND s.video_id IS NOT NULL
          AND (s.user_id, s.day) IN (SELECT unnest(%(users)s::bigint[]), unnest(%(days)s::date[]))
        GROUP BY 1, 2, 3, 4
    ) t
    GROUP BY video_id, user_id, day
    HAVING MAX(p) > 0
"""


_VIDEO_MONTHS = f"""
    INSERT INTO analytics_videomonth (creator_id, video_id, month, plays)
    SELECT %(creator)s, video_id, month, array_agg(p ORDER BY i)
    FROM (
        SELECT v.video_id, {month_sql("v.day")} AS month, b.i, SUM(b.p) AS p
        FROM analytics_videoday v, unnest(v.plays) WITH ORDINALITY AS b(p, i)
        WHERE v.creator_id = %(creator)s AND v.day >= %(lo)s AND v.day < %(hi)s
          AND {month_sql("v.day")} = ANY(%(months)s::date[])
        GROUP BY 1, 2, 3
    ) t
    GROUP BY video_id, month
"""

# Closed months with VideoDay rows but no VideoMonth rows yet (they closed since the last
# refold that touched them).
_MONTHS_MISSING = f"""
    SELECT DISTINCT {month_sql("day")} FROM analytics_videoday
    WHERE creator_id = %(creator)s AND day < %(current)s
    EXCEPT SELECT month FROM analytics_videomonth WHERE creator_id = %(creator)s
"""

# One round trip: the range's plays per bucket (arrays summed by position; every position
# 1..max is present, arrays being dense) — a month the range wholly covers from its
# VideoMonth row when there is one, every other day from VideoDay — and each viewer's
# buckets OR-ed over days.
_ENGAGEMENT = f"""
    WITH mo AS (
        SELECT month, plays FROM analytics_videomonth
        WHERE creator_id = %(creator)s AND video_id = %(video)s
          AND month BETWEEN %(mlo)s AND %(mhi)s
    ), a AS (
        SELECT plays FROM mo
        UNION ALL
        SELECT v.plays FROM analytics_videoday v
        WHERE v.creator_id = %(creator)s AND v.video_id = %(video)s
          AND v.day BETWEEN %(lo)s AND %(hi)s
          AND {month_sql("v.day")} NOT IN (SELECT month FROM mo)
    ), p AS (
        SELECT b.i, SUM(b.p) AS n
        FROM a, unnest(a.plays) WITH ORDINALITY AS b(p, i)
        GROUP BY b.i
    ), r AS (
        SELECT user_id, seen FROM analytics_videoviewerday
        WHERE creator_id = %(creator)s AND video_id = %(video)s AND day BETWEEN %(lo)s AND %(hi)s
    ), w AS (SELECT max(length(seen)) AS n FROM r), u AS (
        SELECT bit_or(rpad(r.seen, w.n, '0')::varbit)::text AS seen
        FROM r, w GROUP BY r.user_id
    )
    SELECT (SELECT array_agg(n ORDER BY i) FROM p), (SELECT array_agg(seen) FROM u)
"""


def closed_months_refold(
    *, creator: Creator, days: Iterable[date], missing_sql: str, table: str, fill_sql: str
) -> list[date]:
    """Recompute a month rollup `table` for the closed months (before the creator's current
    local month) among `days` (whose day rows just changed) and for closed months
    `missing_sql` finds not materialised yet: their rows are deleted and `fill_sql` inserts
    them again, in one transaction. Both statements take %(creator)s, %(months)s (the
    months' first days), %(lo)s and %(hi)s (the first day of the first month and of the
    month after the last); `missing_sql` takes %(creator)s and %(current)s. Returns the
    months written (first days), oldest first."""
    current = local_today(tz_of(creator)).replace(day=1)
    with connection.cursor() as cur:
        cur.execute(missing_sql, {"creator": creator.pk, "current": current})
        months = {m for (m,) in cur.fetchall()} | {d.replace(day=1) for d in days if d < current}
        if not months:
            return []
        ordered = sorted(months)
        args = {
            "creator": creator.pk, "months": ordered, "lo": ordered[0],
            "hi": month_after(ordered[-1]),
        }  # fmt: skip
        with transaction.atomic():
            cur.execute(
                f"DELETE FROM {table} WHERE creator_id = %(creator)s "
                "AND month = ANY(%(months)s::date[])",
                args,
            )
            cur.execute(fill_sql, args)
    return ordered


def video_months_refold(*, creator: Creator, days: Iterable[date]) -> list[date]:
    """Recompute VideoMonth for the closed months among `days` (whose VideoDay rows just
    changed) and for closed months not materialised yet (closed_months_refold). Returns
    the months written (first days)."""
    return closed_months_refold(
        creator=creator, days=days, missing_sql=_MONTHS_MISSING,
        table="analytics_videomonth", fill_sql=_VIDEO_MONTHS,
    )  # fmt: skip


def video_buckets_refold(*, creator: Creator, pairs: Iterable[tuple[int, date]]) -> None:
    """Recompute VideoViewerDay for the (user id, local day) pairs whose sessions changed, and
    VideoDay for their days, from WatchSession (call after analytics.rollups.sessions_refold).
    """
    pairs = sorted(set(pairs))
    if not pairs:
        return
    users = [u for u, _d in pairs]
    days = [d for _u, d in pairs]
    unique_days = sorted(set(days))
    args = {"creator": creator.pk, "users": users, "days": days}
    with connection.cursor() as cur:
        cur.execute(
            "DELETE FROM analytics_videoviewerday WHERE creator_id = %(creator)s AND "
            "(user_id, day) IN (SELECT unnest(%(users)s::bigint[]), unnest(%(days)s::date[]))",
            args,
        )
        cur.execute(_VIEWER_DAYS, args)
        day_args = {"creator": creator.pk, "days": unique_days}
        cur.execute(
            "DELETE FROM analytics_videoday WHERE creator_id = %(creator)s "
            "AND day = ANY(%(days)s::date[])",
            day_args,
        )
        cur.execute(_VIDEO_DAYS, day_args)
    video_months_refold(creator=creator, days=unique_days)


def bucket_counts(*, creator: Creator, video_id: int, rng: DateRange) -> tuple[list, list]:
    """(plays, unique viewers) per bucket of one video over the range: two lists of ints of
    equal length (the longest bucket array seen; callers pad to the video's duration)."""
    mlo, mhi = rng.whole_months()
    args = {
        "creator": creator.pk, "video": video_id, "lo": rng.start, "hi": rng.end,
        "mlo": mlo, "mhi": mhi,
    }  # fmt: skip
    with connection.cursor() as cur:
        cur.execute(_ENGAGEMENT, args)
        plays_rows, seen = cur.fetchone()
    plays_rows, seen = plays_rows or [], seen or []
    size = max(len(plays_rows), len(seen[0]) if seen else 0)
    plays = [int(p) for p in plays_rows] + [0] * (size - len(plays_rows))
    viewers = [0] * size
    if seen:
        bits = np.frombuffer("".join(seen).encode("ascii"), dtype=np.uint8)
        per_bucket = (bits.reshape(len(seen), -1) == ord("1")).sum(axis=0)
        viewers[: len(per_bucket)] = [int(n) for n in per_bucket]
    return plays, viewers
