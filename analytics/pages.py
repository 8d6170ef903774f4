"""What each analytics page shows: selectors' data turned into cards, charts and lists.

Views call one function here per page; everything obeys the one DateRange. The query count
of a page is fixed (independent of how much data there is); tests assert it. The dashboard
is cached between rollups (analytics.caching); every page hands its figures to the browser
as one JSON payload (`figures_json`, read by static/js/analytics.js).
"""

from __future__ import annotations

import time

from django.core.cache import caches
from django.db import connection
from django.http import Http404, QueryDict
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import json_script
from django.utils.safestring import SafeString

from analytics import figures, selectors
from analytics.caching import rollup_cached
from analytics.ranges import PRESETS, DateRange, range_parse, tz_of, zone_for
from chronos.errors import DomainError
from creators.models import Creator


def _courses(creator: Creator) -> list:
    """The creator's courses by title, only pk and title loaded (one raw statement)."""
    from courses.models import Course

    with connection.cursor() as cur:
        cur.execute(
            f"SELECT id, title FROM {Course._meta.db_table} WHERE creator_id = %s "
            "ORDER BY title, id",
            [creator.pk],
        )
        return [Course.from_db(connection.alias, ["id", "title"], row) for row in cur.fetchall()]


def _video_choices(creator: Creator, top: list[dict]) -> list[dict]:
    """Videos offered in the engagement picker: the range's top videos by watch time."""
    return [{"id": v["video_id"], "title": v["title"]} for v in top[:25]]


def figures_payload(charts: list[figures.Chart]) -> SafeString:
    """One <script type="application/json" id="an-figures"> holding {chart id: figure} for
    every non-empty chart of a page (one parse in the browser instead of one per chart)."""
    return json_script({c.id: c.figure for c in charts if not c.is_empty}, "an-figures")


def dashboard(
    *,
    creator: Creator,
    rng: DateRange,
    course_id: int | None = None,
    video_id: int | None = None,
    first_day=None,
) -> dict:
    """The dashboard's context: cards, the ten charts, lists and the picker choices.

    course_id narrows everything to one course (the builder's course tab); video_id picks
    the video of the engagement and confusion charts (default: the most watched one).
    Raises Http404 for a course or video that is not the creator's. Cached per (creator,
    range, course, rollup watermark) — what dashboards_warm computes after a rollup — and
    another video's two charts per video on top of it: picking a video recomputes only
    those two charts, not the page.
    """
    key = f"dashboard:{rng.key}:{rng.tz}:{rng.start}:{rng.end}:{course_id}:{first_day}"
    page = rollup_cached(
        creator=creator, key=key, compute=lambda: _dashboard(creator, rng, course_id, first_day)
    )
    if video_id is None or (page["video"] and page["video"]["id"] == video_id):
        return page
    chosen = rollup_cached(
        creator=creator,
        key=f"{key}:video:{video_id}",
        compute=lambda: _video_charts(creator, rng, _video_title(creator, video_id)),
    )
    charts = [*page["charts"]]
    charts[ENGAGEMENT_CHARTS] = chosen["charts"]
    return {
        **page,
        **_charts_render(creator, rng, course_id, charts, page["video_choices"], chosen["video"]),
    }


# Filtered dashboards (a course tab, a custom range) the worker keeps warm per creator: the
# ones viewed most recently, for as long as they are viewed at least once a week. A view
# re-stamps its entry at most once a day (most views then cost one cache read).
RECENT_VIEWS = 6
RECENT_SECONDS = 7 * 24 * 3600
RECENT_RESTAMP_SECONDS = 24 * 3600


def _recent_key(creator: Creator) -> str:
    return f"analytics:{creator.pk}:recent-dashboards"


def _recent(creator: Creator) -> dict[tuple[str, int | None], float]:
    """{(range query, course id or None): last view, epoch seconds} of the filtered views."""
    return caches["analytics"].get(_recent_key(creator)) or {}


def dashboard_viewed(*, creator: Creator, rng: DateRange, course_id: int | None) -> None:
    """Remember a filtered dashboard view (a course tab or a custom range; the presets are
    always warmed) so dashboards_warm computes it after the next rollups too. Keeps the
    RECENT_VIEWS most recent for RECENT_SECONDS after their last view; a best-effort hint
    (two concurrent first views may each keep only their own)."""
    if course_id is None and rng.key != "custom":
        return
    entry, now = (rng.query(), course_id), time.time()
    recent = _recent(creator)
    if now - recent.get(entry, 0.0) < RECENT_RESTAMP_SECONDS:
        return
    recent[entry] = now
    latest = sorted(recent.items(), key=lambda item: -item[1])[:RECENT_VIEWS]
    caches["analytics"].set(_recent_key(creator), dict(latest), RECENT_SECONDS)


def dashboards_warm(*, creator: Creator) -> list[str]:
    """Compute the creator's dashboards into the shared analytics cache, as the view would
    (same keys): the whole studio for every preset range ("7d", "30d", "90d", "all": what
    a creator opens without filters), then the filtered views seen recently
    (dashboard_viewed). Run by the worker after a rollup moved the watermark. Returns what
    was computed, as URL queries ("range=7d", "range=all&course=12")."""
    first = selectors.first_day(creator=creator)
    tz = tz_of(creator)
    views: list[tuple[str, int | None]] = [(f"range={key}", None) for key in (*PRESETS, "all")]
    cutoff = time.time() - RECENT_SECONDS
    recent = sorted(_recent(creator).items(), key=lambda item: -item[1])
    views += [view for view, seen in recent if seen > cutoff]
    done = []
    for query, course_id in views:
        try:
            rng = range_parse(QueryDict(query), tz=tz, first_day=first)
            dashboard(creator=creator, rng=rng, course_id=course_id, first_day=first)
        except (DomainError, Http404):  # a course deleted since it was viewed
            continue
        done.append(query + (f"&course={course_id}" if course_id else ""))
    return done


# Where the engagement and confusion charts (the chosen video's) sit in the charts list.
ENGAGEMENT_CHARTS = slice(3, 5)


def _video_charts(creator: Creator, rng: DateRange, chosen: dict | None) -> dict:
    """The engagement and confusion charts of one video: {"video", "charts": [2 charts]}."""
    if chosen:
        eng = selectors.engagement(creator=creator, video_id=chosen["id"], rng=rng)
    else:
        eng = {"bucket_seconds": 5, "duration": 0, "buckets": [], "questions": []}
    title = chosen["title"] if chosen else ""
    return {
        "video": chosen,
        "charts": [figures.engagement(eng, title), figures.confusion(eng, title)],
    }


def _charts_render(
    creator: Creator, rng: DateRange, course_id: int | None, charts: list, choices: list, video
) -> dict:
    """The charts' HTML (their data tables are most of the page's template time) and their
    one JSON payload: {"charts", "charts_html", "figures_json", "video"}."""
    with timezone.override(zone_for(rng.tz)):
        html = render_to_string(
            "analytics/_dashboard_charts.html",
            {
                "charts": charts,
                "video_choices": choices,
                "video": video,
                "rng": rng,
                "course_id": course_id,
                "creator": creator,
            },
        )
    return {
        "charts": charts,
        "charts_html": html,
        "figures_json": figures_payload(charts),
        "video": video,
    }


def _dashboard(creator: Creator, rng: DateRange, course_id: int | None, first_day) -> dict:
    courses = _courses(creator)
    if course_id and course_id not in {c.pk for c in courses}:
        raise Http404("No such course.")
    # Active students' bitmaps of this period and the previous one, read once for the cards,
    # the activity series, the progress spread and the cohorts.
    both = DateRange("custom", rng.previous().start, rng.end, rng.tz)
    active = selectors.active_sets(creator=creator, rng=both, course_id=course_id)
    overview = selectors.overview_compare(
        creator=creator, rng=rng, course_id=course_id, active=active
    )
    series = selectors.daily(creator=creator, rng=rng, course_id=course_id, active=active)
    top = selectors.top_videos(creator=creator, rng=rng, course_id=course_id)
    choices = _video_choices(creator, top)
    default = {"id": top[0]["video_id"], "title": top[0]["title"]} if top else None
    video = _video_charts(creator, rng, default)
    lessons = selectors.lesson_counts(creator=creator)
    shared = {"creator": creator, "rng": rng, "course_id": course_id}
    summary = selectors.progress_summary(**shared, active=active)
    # Order = layout: pairs share a row at >= 1000 px, wide charts take a row of their own.
    charts = [
        figures.active_students(series),
        figures.watch_time(series),
        figures.top_videos(top),
        *video["charts"],  # ENGAGEMENT_CHARTS
        figures.funnel(summary["funnel"]),
        figures.progress(summary["distribution"]),
        figures.questions(series),
        figures.confusion_overview(selectors.confusion(**shared)),
        figures.cohorts(selectors.cohorts(**shared, active=active)),
    ]
    return {
        "overview": overview,
        "cards": selectors.cards(overview),
        **_charts_render(creator, rng, course_id, charts, choices, default),
        "courses": courses,
        "course_id": course_id,
        "video_choices": choices,
        **_questions_with_nearest(
            creator, selectors.questions_summary(creator=creator, rng=rng, course_id=course_id)
        ),
        "students": selectors.students(**shared, limit=20, lessons=lessons),
        "has_data": first_day is not None,
    }


def _questions_with_nearest(creator: Creator, summary: dict) -> dict:
    """questions_summary() with each not-covered question's "nearest": the closest moments
    the tutor's reply offered (chat.selectors.nearest_offered, enriched like citations: start
    in seconds, start_label, stream_url), which the creator can confirm as the answer."""
    from chat.citations import enrich_all
    from chat.selectors import nearest_offered

    offered = nearest_offered(
        creator=creator, question_ids=[q["message_id"] for q in summary["not_covered"]]
    )
    for q in summary["not_covered"]:
        q["nearest"] = enrich_all(offered.get(q["message_id"], []))
    return summary


def _video_title(creator: Creator, video_id: int) -> dict:
    from videos.models import Video

    video = Video.objects.filter(creator=creator, pk=video_id).values("pk", "title").first()
    if video is None:
        raise Http404("No such video.")
    return {"id": video["pk"], "title": video["title"]}


def video_page(*, creator: Creator, video_id: int, rng: DateRange) -> dict:
    """The per-video analytics tab: engagement and confusion charts plus its questions."""
    from analytics.models import QuestionFact

    video = _video_title(creator, video_id)
    eng = selectors.engagement(creator=creator, video_id=video_id, rng=rng)
    questions = list(
        QuestionFact.objects.filter(
            creator=creator, video_id=video_id, day__gte=rng.start, day__lte=rng.end
        ).order_by("position", "asked_at")[:200]
    )
    b = eng["buckets"]
    charts = [figures.engagement(eng), figures.confusion(eng)]
    return {
        "video": video,
        "engagement": eng,
        "charts": charts,
        "figures_json": figures_payload(charts),
        "questions": questions,
        "viewers": max((x["unique_viewers"] for x in b), default=0),
        "plays": sum(x["plays"] for x in b),
    }


def student_page(*, creator: Creator, user_id: int, rng: DateRange) -> dict:
    """One student's analytics page (Http404 if not a student of this creator)."""
    user = selectors.student_get(creator=creator, user_id=user_id)
    detail = selectors.student_detail(creator=creator, user_id=user_id, rng=rng)
    charts = [figures.student_activity(detail)]
    return {
        "student": user,
        "detail": detail,
        "charts": charts,
        "figures_json": figures_payload(charts),
        "completed_lessons": sum(1 for p in detail["lessons"] if p.completed_at),
    }
