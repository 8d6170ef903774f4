"""Per-video reads: top videos, the engagement graph and the confusion heatmap."""

from __future__ import annotations

import math
from typing import Any

from django.db import connection
from django.http import Http404

from analytics.buckets import bucket_counts
from analytics.models import BUCKET_SECONDS
from analytics.ranges import DateRange, month_sql
from creators.models import Creator

TOP_VIDEOS = 10


# Per video over a range: watch time and distinct viewers from the sessions, distinct
# students who completed it from LessonProgress, its title — one statement.
_TOP_VIDEOS = """
    WITH s AS (
        SELECT video_id, SUM(watch_seconds) AS w, COUNT(DISTINCT user_id) AS n
        FROM analytics_watchsession
        WHERE creator_id = %(creator)s AND day >= %(start)s AND day <= %(end)s
          AND video_id IS NOT NULL {session_course}
        GROUP BY 1
    ), d AS (
        SELECT l.video_id, COUNT(DISTINCT p.user_id) AS n
        FROM courses_lessonprogress p JOIN courses_lesson l ON l.id = p.lesson_id {module}
        WHERE p.creator_id = %(creator)s AND p.completed_at >= %(lo)s AND p.completed_at < %(hi)s
          AND l.video_id IS NOT NULL {done_course}
        GROUP BY 1
    )
    SELECT COALESCE(s.video_id, d.video_id), s.w, s.n, d.n, v.title
    FROM s FULL JOIN d ON d.video_id = s.video_id
    LEFT JOIN videos_video v
      ON v.id = COALESCE(s.video_id, d.video_id) AND v.creator_id = %(creator)s
"""


def top_videos(*, creator: Creator, rng: DateRange, course_id: int | None = None) -> list[dict]:
    """Per video in the range: {video_id, title, watch_seconds, viewers, completions,
    completion_rate (0..1: students who completed it in the range / its viewers)}, sorted by
    watch time (all videos with activity; callers slice)."""
    lo, hi = rng.bounds_utc()
    sql = _TOP_VIDEOS.format(
        session_course="AND course_id = %(course)s" if course_id else "",
        module="JOIN courses_module m ON m.id = l.module_id" if course_id else "",
        done_course="AND m.course_id = %(course)s" if course_id else "",
    )
    args: dict[str, Any] = {
        "creator": creator.pk, "start": rng.start, "end": rng.end, "lo": lo, "hi": hi,
        "course": course_id,
    }  # fmt: skip
    with connection.cursor() as cur:
        cur.execute(sql, args)
        rows = cur.fetchall()
    out = []
    for vid, w, n, done, title in rows:
        viewers = max(n or 0, done or 0)
        out.append(
            {
                "video_id": vid,
                "watch_seconds": round(w or 0.0, 1),
                "viewers": n or 0,
                "completions": done or 0,
                "title": title if title is not None else f"Video {vid}",
                "completion_rate": round((done or 0) / viewers, 3) if viewers else 0.0,
            }
        )
    out.sort(key=lambda r: (-r["watch_seconds"], r["title"]))
    return out


# The video (another creator's: no row) and its placed questions per bucket over a range.
_VIDEO_QUESTIONS = """
    SELECT v.duration_seconds, q.b, q.n
    FROM videos_video v LEFT JOIN (
        SELECT FLOOR(GREATEST(position, 0.0) / %(width)s::float8) AS b, COUNT(*) AS n
        FROM analytics_questionfact
        WHERE creator_id = %(creator)s AND video_id = %(video)s
          AND day >= %(start)s AND day <= %(end)s AND position IS NOT NULL
        GROUP BY 1
    ) q ON TRUE
    WHERE v.id = %(video)s AND v.creator_id = %(creator)s
"""


def engagement(*, creator: Creator, video_id: int, rng: DateRange) -> dict:
    """The engagement graph of one of the creator's videos over the range.

    {"bucket_seconds": 5, "duration": float seconds, "buckets": [{start, unique_viewers,
    plays}], "questions": [{start, count}]}. Raises Http404 for another creator's video.
    """
    args: dict[str, Any] = {
        "creator": creator.pk, "video": video_id, "start": rng.start, "end": rng.end,
        "width": float(BUCKET_SECONDS),
    }  # fmt: skip
    with connection.cursor() as cur:
        cur.execute(_VIDEO_QUESTIONS, args)
        rows = cur.fetchall()
    if not rows:
        raise Http404("No such video.")
    qcount = {b: n for _d, b, n in rows if b is not None}
    plays, viewers = bucket_counts(creator=creator, video_id=video_id, rng=rng)
    duration = float(rows[0][0] or 0.0)
    size = max(math.ceil(duration / BUCKET_SECONDS), len(plays))
    plays += [0] * (size - len(plays))
    viewers += [0] * (size - len(viewers))
    return {
        "bucket_seconds": BUCKET_SECONDS,
        "duration": duration or size * BUCKET_SECONDS,
        "buckets": [
            {"start": i * BUCKET_SECONDS, "unique_viewers": viewers[i], "plays": plays[i]}
            for i in range(size)
        ],
        "questions": [
            {"start": int(i) * BUCKET_SECONDS, "count": qcount[i]} for i in sorted(qcount)
        ],
    }


# Placed questions per video over a range: one QuestionMonth row per video and course for
# each materialised month the range wholly covers, QuestionFact rows for its other days.
_MOST_QUESTIONED = f"""
    WITH present AS (
        SELECT DISTINCT month FROM analytics_questionmonth
        WHERE creator_id = %(creator)s AND month >= %(first)s AND month <= %(last)s
    ), other AS (
        SELECT d::date AS day FROM generate_series(%(start)s::date, %(end)s::date, '1 day') d
        WHERE {month_sql("d::date")} NOT IN (SELECT month FROM present)
    )
    SELECT video_id, SUM(n) FROM (
        SELECT video_id, questions AS n FROM analytics_questionmonth
        WHERE creator_id = %(creator)s AND month IN (SELECT month FROM present) {{course}}
        UNION ALL
        SELECT video_id, 1 FROM analytics_questionfact
        WHERE creator_id = %(creator)s AND day = ANY(ARRAY(SELECT day FROM other))
          AND video_id IS NOT NULL AND position IS NOT NULL {{course}}
    ) t
    GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %(top)s
"""

# The ranked videos' titles and durations (another creator's video: none).
_RANKED_VIDEOS = f"""
    SELECT r.video_id, r.n, v.title, v.duration_seconds
    FROM ({_MOST_QUESTIONED}) r(video_id, n)
    LEFT JOIN videos_video v ON v.id = r.video_id AND v.creator_id = %(creator)s
    ORDER BY r.n DESC, r.video_id
"""

# Placed questions of the given videos per bin of %(width)s seconds (negative positions in
# bin 0, positions past the last bin %(last)s in it).
_CONFUSION_BINS = """
    SELECT video_id, LEAST(FLOOR(GREATEST(position, 0.0) / %(width)s::float8), %(last)s::float8),
           COUNT(*)
    FROM analytics_questionfact
    WHERE creator_id = %(creator)s AND day >= %(start)s AND day <= %(end)s {course}
      AND video_id = ANY(%(ids)s::bigint[]) AND position IS NOT NULL
    GROUP BY 1, 2
"""


def confusion(*, creator: Creator, rng: DateRange, course_id: int | None = None) -> dict:
    """Questions placed on video timelines in the range, for the confusion heatmap.

    {"videos": [{video_id, title, duration}], "bin_seconds": int, "z": [[count per bin]]}
    for the (up to TOP_VIDEOS) videos with the most placed questions (most first, ties:
    lower id first).
    """
    first, last = rng.whole_months()
    course = "AND course_id = %(course)s" if course_id else ""
    args: dict[str, Any] = {
        "creator": creator.pk, "first": first, "last": last, "start": rng.start,
        "end": rng.end, "course": course_id, "top": TOP_VIDEOS,
    }  # fmt: skip
    with connection.cursor() as cur:
        cur.execute(_RANKED_VIDEOS.format(course=course), args)
        top = cur.fetchall()
        ids = [v for v, _n, _title, _duration in top]
        longest = max([d or 0 for _v, _n, title, d in top if title is not None] + [60.0])
        bin_seconds = max(BUCKET_SECONDS, math.ceil(longest / 60 / BUCKET_SECONDS) * BUCKET_SECONDS)
        nbins = math.ceil(longest / bin_seconds)
        z = {v: [0] * nbins for v in ids}
        if ids:
            args |= {"ids": ids, "width": float(bin_seconds), "last": float(nbins - 1)}
            cur.execute(_CONFUSION_BINS.format(course=course), args)
            for vid, b, n in cur.fetchall():
                z[vid][int(b)] = n
    return {
        "videos": [
            {
                "video_id": v,
                "title": title if title is not None else f"Video {v}",
                "duration": duration,
            }
            for v, _n, title, duration in top
        ],
        "bin_seconds": bin_seconds,
        "z": [z[v] for v in ids],
    }
