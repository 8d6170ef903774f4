"""Per-video reads: top videos, the engagement graph and the confusion heatmap."""

from __future__ import annotations

import math
from typing import Any

from django.db import connection
from django.db.models import Count, Sum, Value
from django.db.models.functions import Floor, Greatest, Least
from django.http import Http404

from analytics.buckets import bucket_counts
from analytics.models import BUCKET_SECONDS, QuestionFact, WatchSession
from analytics.ranges import DateRange, month_sql
from analytics.selectors.common import in_range, of_course
from creators.models import Creator

TOP_VIDEOS = 10


def top_videos(*, creator: Creator, rng: DateRange, course_id: int | None = None) -> list[dict]:
    """Per video in the range: {video_id, title, watch_seconds, viewers, completions,
    completion_rate (0..1: students who completed it in the range / its viewers)}, sorted by
    watch time (all videos with activity; callers slice)."""
    from courses.models import LessonProgress
    from videos.models import Video

    sessions = of_course(in_range(WatchSession.objects.filter(creator=creator), rng), course_id)
    per = {
        vid: {"video_id": vid, "watch_seconds": round(w or 0.0, 1), "viewers": n, "completions": 0}
        for vid, w, n in sessions.exclude(video=None)
        .values_list("video_id")
        .annotate(w=Sum("watch_seconds"), n=Count("user_id", distinct=True))
        .order_by()
    }
    lo, hi = rng.bounds_utc()
    done = LessonProgress.objects.filter(
        creator=creator, completed_at__gte=lo, completed_at__lt=hi, lesson__video__isnull=False
    )
    done = of_course(done, course_id, "lesson__module__course_id")
    for vid, n in (
        done.values_list("lesson__video_id").annotate(n=Count("user_id", distinct=True)).order_by()
    ):
        per.setdefault(vid, {"video_id": vid, "watch_seconds": 0.0, "viewers": 0})
        per[vid]["completions"] = n
    titles = dict(Video.objects.filter(creator=creator, pk__in=per).values_list("pk", "title"))
    out = []
    for vid, row in per.items():
        viewers = max(row["viewers"], row["completions"])
        row["title"] = titles.get(vid, f"Video {vid}")
        row["completion_rate"] = round(row["completions"] / viewers, 3) if viewers else 0.0
        out.append(row)
    out.sort(key=lambda r: (-r["watch_seconds"], r["title"]))
    return out


def engagement(*, creator: Creator, video_id: int, rng: DateRange) -> dict:
    """The engagement graph of one of the creator's videos over the range.

    {"bucket_seconds": 5, "duration": float seconds, "buckets": [{start, unique_viewers,
    plays}], "questions": [{start, count}]}. Raises Http404 for another creator's video.
    """
    from videos.models import Video

    video = Video.objects.filter(creator=creator, pk=video_id).values("duration_seconds").first()
    if video is None:
        raise Http404("No such video.")
    plays, viewers = bucket_counts(creator=creator, video_id=video_id, rng=rng)
    duration = float(video["duration_seconds"] or 0.0)
    size = max(math.ceil(duration / BUCKET_SECONDS), len(plays))
    plays += [0] * (size - len(plays))
    viewers += [0] * (size - len(viewers))
    questions = in_range(
        QuestionFact.objects.filter(creator=creator, video_id=video_id), rng
    ).exclude(position=None)
    qcount = dict(_binned(questions, BUCKET_SECONDS).values_list("b").annotate(n=Count("id")))
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


def _binned(qs: Any, width: float, bins: int | None = None) -> Any:
    """QuestionFact rows annotated with b = their position's bin of `width` seconds (negative
    positions in bin 0; with `bins`, positions past the last bin in the last one)."""
    b: Any = Floor(Greatest("position", Value(0.0)) / Value(float(width)))
    if bins is not None:
        b = Least(b, Value(float(bins - 1)))
    return qs.annotate(b=b).order_by()


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


def _most_questioned(creator: Creator, rng: DateRange, course_id: int | None) -> list[tuple]:
    """[(video id, questions placed on it in the range)] for the TOP_VIDEOS videos with the
    most, most first (ties: lower id first)."""
    first, last = rng.whole_months()
    args: dict[str, Any] = {
        "creator": creator.pk, "first": first, "last": last, "start": rng.start,
        "end": rng.end, "course": course_id, "top": TOP_VIDEOS,
    }  # fmt: skip
    with connection.cursor() as cur:
        cur.execute(
            _MOST_QUESTIONED.format(course="AND course_id = %(course)s" if course_id else ""),
            args,
        )
        return [(video, int(n)) for video, n in cur.fetchall()]


def confusion(*, creator: Creator, rng: DateRange, course_id: int | None = None) -> dict:
    """Questions placed on video timelines in the range, for the confusion heatmap.

    {"videos": [{video_id, title, duration}], "bin_seconds": int, "z": [[count per bin]]}
    for the (up to TOP_VIDEOS) videos with the most placed questions.
    """
    from videos.models import Video

    qs = of_course(in_range(QuestionFact.objects.filter(creator=creator), rng), course_id)
    qs = qs.exclude(video=None).exclude(position=None)
    top = _most_questioned(creator, rng, course_id)
    ids = [v for v, _n in top]
    videos = {
        v["pk"]: v
        for v in Video.objects.filter(creator=creator, pk__in=ids).values(
            "pk", "title", "duration_seconds"
        )
    }
    longest = max([videos[v]["duration_seconds"] or 0 for v in ids if v in videos] + [60.0])
    bin_seconds = max(BUCKET_SECONDS, math.ceil(longest / 60 / BUCKET_SECONDS) * BUCKET_SECONDS)
    nbins = math.ceil(longest / bin_seconds)
    z = {v: [0] * nbins for v in ids}
    binned = _binned(qs.filter(video_id__in=ids), bin_seconds, nbins)
    for vid, b, n in binned.values_list("video_id", "b").annotate(n=Count("id")).order_by():
        z[vid][int(b)] = n
    return {
        "videos": [
            {
                "video_id": v,
                "title": videos.get(v, {}).get("title", f"Video {v}"),
                "duration": videos.get(v, {}).get("duration_seconds"),
            }
            for v in ids
        ],
        "bin_seconds": bin_seconds,
        "z": [z[v] for v in ids],
    }
