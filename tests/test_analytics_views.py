"""The analytics dashboard, per-video/per-student pages, API contracts and CSV exports."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import plotly.graph_objects as go
import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analytics.models import RollupState
from analytics.pages import dashboards_warm
from analytics.rollups import rollup_update
from analytics.tasks import rollup_tick
from tests.analytics_support import ask, course_with_videos, enroll, play, progress
from tests.factories import MembershipFactory
from videos.models import Video

pytestmark = pytest.mark.django_db


def _days_ago(n: int, hour: int = 12):
    now = timezone.now()
    return now.replace(hour=hour, minute=0, second=0, microsecond=0) - timedelta(days=n)


@pytest.fixture
def history(creator):
    """Two students, one course of two lessons: activity 3 days ago and 20 days ago."""
    course, lessons = course_with_videos(creator, n=2, duration=100.0)
    ana = MembershipFactory(creator=creator, user__display_name="Ana Ñúñez").user
    bo = MembershipFactory(creator=creator, user__display_name="Bo").user
    recent, older = _days_ago(3), _days_ago(20)
    for user, at in ((ana, recent), (bo, older)):
        enroll(creator=creator, user=user, course=course, at=at - timedelta(hours=1))
    play(
        creator=creator,
        user=ana,
        lesson=lessons[0],
        at=recent,
        segments=[
            ("heartbeat", 0, 50),
            ("heartbeat", 50, 100),
            ("seeked", 100, 20),
            ("heartbeat", 20, 40),
        ],
    )
    progress(creator=creator, user=ana, lesson=lessons[0], at=recent, intervals=[[0, 100]])
    play(creator=creator, user=bo, lesson=lessons[0], at=older, segments=[("heartbeat", 0, 30)])
    progress(creator=creator, user=bo, lesson=lessons[0], at=older, intervals=[[0, 30]])
    ask(
        creator=creator,
        user=ana,
        text="Why does the wick draw up the wax?",
        at=recent,
        cite=(lessons[0].video, 22.0),
    )
    ask(
        creator=creator,
        user=ana,
        text="why do wicks draw wax up",
        at=recent,
        cite=(lessons[0].video, 24.0),
    )
    ask(creator=creator, user=bo, text="Will this be on the exam?", at=older, covered=False)
    ask(
        creator=creator,
        user=bo,
        text="What is the bright part of the flame?",
        at=older,
        cite=(lessons[0].video, 61.0),
    )
    rollup_update(creator=creator)
    return {"course": course, "lessons": lessons, "ana": ana, "bo": bo}


def _newcomer_plays(creator, lesson) -> None:
    """A new student watches 40 s of `lesson` yesterday (not rolled up yet)."""
    newcomer = MembershipFactory(creator=creator).user
    play(creator=creator, user=newcomer, lesson=lesson, at=_days_ago(1),
         segments=[("heartbeat", 0, 40)])  # fmt: skip


def _figures(html: str) -> dict[str, dict]:
    """{chart id: figure} from the page's one JSON payload (each validated by plotly)."""
    assert html.count('<script id="an-figures"') == 1
    body = html.split('<script id="an-figures" type="application/json">', 1)[1]
    out = json.loads(body.split("</script>", 1)[0])
    for chart_id, fig in out.items():
        assert f'data-figure="{chart_id}"' in html
        go.Figure(fig)  # raises on anything plotly.js would not understand
    return out


def test_dashboard_range_changes_every_figure(owner_client, history):
    week = owner_client.get("/studio/acme/analytics/?range=7d")
    month = owner_client.get("/studio/acme/analytics/?range=30d")
    assert week.status_code == month.status_code == 200
    text = month.content.decode()
    for title in (
        "Active students per day",
        "Watch time per day",
        "Top videos",
        "Engagement",
        "Course funnel",
        "Retention by weekly enrolment cohort",
        "Questions per day",
        "Confusion",
        "Progress of active students",
    ):
        assert title in text
    assert "{#" not in text and "#}" not in text  # no template comment leaks into the page
    f7, f30 = _figures(week.content.decode()), _figures(text)
    assert len(f30) >= 9
    # Bo's activity (20 days ago) is only inside 30d: every figure of 30d differs from 7d's,
    # or is empty in 7d (then its empty state explains why).
    for chart_id, fig in f30.items():
        assert chart_id not in f7 or f7[chart_id]["data"] != fig["data"], chart_id
    assert f7["chart-funnel"]["data"][0]["x"] == [1, 1, 1, 0]  # Ana: 1 of 2 lessons done
    assert f30["chart-funnel"]["data"][0]["x"] == [2, 2, 1, 0]
    custom = owner_client.get(
        f"/studio/acme/analytics/?from={_days_ago(25).date()}&to={_days_ago(15).date()}"
    )
    assert custom.status_code == 200
    assert _figures(custom.content.decode())["chart-active"]["data"][0]["y"].count(1) == 1


def test_cards_show_deltas_against_previous_period(owner_client, history, creator):
    response = owner_client.get("/api/v1/analytics/overview/?range=7d")
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {
        "range",
        "from",
        "to",
        "active_students",
        "watch_seconds",
        "lesson_completions",
        "questions",
        "questions_not_covered",
        "previous",
    }
    assert data["range"] == "7d"
    assert data["active_students"] == 1 and data["questions"] == 2
    assert data["watch_seconds"] == 120.0 and data["lesson_completions"] == 1
    assert data["previous"] == {
        "active_students": 0,
        "watch_seconds": 0.0,
        "lesson_completions": 0,
        "questions": 0,
        "questions_not_covered": 0,
    }
    month = owner_client.get("/api/v1/analytics/overview/?range=30d").json()
    assert month["active_students"] == 2 and month["questions_not_covered"] == 1
    page = owner_client.get("/studio/acme/analytics/?range=7d").content.decode()
    assert "+1 vs previous period" in page  # active students: 1 now, 0 before


def test_engagement_api_contract(owner_client, history):
    video = history["lessons"][0].video
    data = owner_client.get(f"/api/v1/analytics/videos/{video.pk}/engagement/?range=7d").json()
    assert data["bucket_seconds"] == 5 and data["duration"] == 100.0
    assert len(data["buckets"]) == 20
    b = {x["start"]: x for x in data["buckets"]}
    assert b[0] == {"start": 0, "unique_viewers": 1, "plays": 1}
    assert b[25] == {"start": 25, "unique_viewers": 1, "plays": 2}  # rewatched after a seek
    assert data["questions"] == [{"start": 20, "count": 2}]  # placed by top citation
    assert (
        owner_client.get(f"/api/v1/analytics/videos/{video.pk}/engagement/?range=9y").status_code
        == 400
    )


def test_students_and_other_tenants_get_404(client, history, creator, other_creator, student):
    client.force_login(student)
    assert client.get("/studio/acme/analytics/").status_code == 404
    assert client.get("/api/v1/analytics/overview/?creator=acme").status_code == 404
    video = history["lessons"][0].video
    assert client.get(f"/api/v1/analytics/videos/{video.pk}/engagement/").status_code == 404
    client.force_login(other_creator.owner)
    assert client.get(f"/api/v1/analytics/videos/{video.pk}/engagement/").status_code == 404
    assert client.get(f"/studio/globex/analytics/videos/{video.pk}/").status_code == 404
    ana = history["ana"]
    assert client.get(f"/studio/globex/analytics/students/{ana.pk}/").status_code == 404
    assert client.get("/studio/acme/analytics/").status_code == 404


def test_bad_range_is_a_clear_error(owner_client, history):
    page = owner_client.get("/studio/acme/analytics/?from=2026-13-01&to=2026-01-01")
    assert page.status_code == 400
    assert "Use a date like" in page.content.decode()
    assert owner_client.get("/studio/acme/analytics/export.csv?report=nope").status_code == 400


def test_pages_render(owner_client, history):
    ana, video = history["ana"], history["lessons"][0].video
    assert (
        "Questions on this video"
        in owner_client.get(f"/studio/acme/analytics/videos/{video.pk}/?range=30d").content.decode()
    )
    page = owner_client.get(f"/studio/acme/analytics/students/{ana.pk}/?range=30d")
    assert page.status_code == 200 and "Ana Ñúñez" in page.content.decode()
    listing = owner_client.get("/studio/acme/analytics/students/?range=30d").content.decode()
    assert "Ana Ñúñez" in listing and "Bo" in listing
    course = history["course"]
    assert owner_client.get(f"/studio/acme/analytics/courses/{course.pk}/").status_code == 200
    # The course builder links to the course's Analytics tab.
    builder = owner_client.get(
        reverse("courses:builder", kwargs={"handle": "acme", "pk": course.pk})
    )
    assert f'href="/studio/acme/analytics/courses/{course.pk}/"' in builder.content.decode()
    # The video page links to its Analytics tab.
    video_page = owner_client.get(f"/studio/acme/videos/{video.pk}/").content.decode()
    assert f'href="/studio/acme/analytics/videos/{video.pk}/"' in video_page


def test_most_asked_groups_similar_wordings(owner_client, history):
    page = owner_client.get("/studio/acme/analytics/?range=30d").content.decode()
    assert "2\u00d7" in page  # the two wick questions are one group
    assert "Will this be on the exam?" in page.split('id="not-covered"')[1]


def test_dashboard_query_count_is_constant(owner_client, history, creator):
    with CaptureQueriesContext(connection) as small:
        assert owner_client.get("/studio/acme/analytics/?range=30d").status_code == 200
    # Ten times the students and questions: the page must not issue more queries.
    _course, lessons = history["course"], history["lessons"]
    for i in range(10):
        user = MembershipFactory(creator=creator).user
        at = _days_ago(2 + i % 5)
        play(
            creator=creator,
            user=user,
            lesson=lessons[i % 2],
            at=at,
            segments=[("heartbeat", 0, 40)],
        )
        ask(
            creator=creator,
            user=user,
            text=f"Question number {i} about flames",
            at=at,
            covered=i % 2 == 0,
            cite=(lessons[0].video, 5.0 * i),
        )
    rollup_update(creator=creator)
    with CaptureQueriesContext(connection) as big:
        assert owner_client.get("/studio/acme/analytics/?range=30d").status_code == 200
    assert len(big) == len(small)
    # 21 for the dashboard itself (the rollup watermark of the cache key included; one read
    # of CourseDay — the active students' bitmaps and the day totals — serves the cards,
    # series, spread and cohorts, one the two question lists, one the top videos, two each
    # the engagement and confusion charts, three the students table) + 6 for the shared
    # analytics cache (read; cull count, savepoint, lookup, insert) + 3 for the studio-wide
    # plan banner (billing.context_processors: it finds the studio in the top navigation's
    # list of managed creators, read once per request, instead of a lookup of its own).
    assert len(big) <= 30, "\n".join(q["sql"][:150] for q in big.captured_queries)


def test_data_tables_show_every_row_escaped(owner_client, history):
    video = history["lessons"][0].video
    video.title = "Flames <b>& wax</b>"
    video.save(update_fields=["title"])
    html = owner_client.get("/studio/acme/analytics/?range=30d").content.decode()

    def table(chart_id: str) -> str:
        section = html[html.index(f'id="{chart_id}-title"') :]
        return section[: section.index("</table>")]

    top = table("chart-top-videos")
    assert "<td>Flames &lt;b&gt;&amp; wax&lt;/b&gt;</td>" in top and "<b>&" not in top
    assert top.count("<tr>") == 1 + 1  # the header and the one video watched in the range
    active = table("chart-active")
    assert active.count("<tr>") == 1 + 30  # one row per day of the range, zeros included


def test_dashboard_is_cached_until_the_next_rollup(owner_client, history, creator):
    url = "/studio/acme/analytics/?range=7d"
    with CaptureQueriesContext(connection) as cold:
        first = owner_client.get(url).content.decode()
    with CaptureQueriesContext(connection) as warm:
        again = owner_client.get(url).content.decode()
    # Warm: session, user, creator, first day, watermark, the shared cache's read, the plan
    # banner; no analytics read.
    assert len(warm) <= 12 < len(cold), "\n".join(q["sql"][:150] for q in warm.captured_queries)
    assert _figures(again) == _figures(first)
    _newcomer_plays(creator, history["lessons"][1])
    # New events show after the rollup that folds them (not before: same watermark).
    assert _figures(owner_client.get(url).content.decode()) == _figures(first)
    rollup_update(creator=creator)
    fresh = _figures(owner_client.get(url).content.decode())
    assert (
        sum(fresh["chart-active"]["data"][0]["y"])
        == sum(_figures(first)["chart-active"]["data"][0]["y"]) + 1
    )
    api = f"/api/v1/analytics/videos/{history['lessons'][1].video_id}/engagement/?range=7d"
    assert owner_client.get(api).json()["buckets"][0]["unique_viewers"] == 1


def test_the_rollup_tick_computes_the_dashboards_before_anyone_looks(
    owner_client, history, creator
):
    _newcomer_plays(creator, history["lessons"][1])
    before = _figures(owner_client.get("/studio/acme/analytics/?range=7d").content.decode())
    result = rollup_tick()  # the worker: fold, then queue dashboards_warm_task (run inline)
    assert result["warmed"] >= 1
    for key in ("7d", "30d", "90d", "all"):
        with CaptureQueriesContext(connection) as first_view:
            page = owner_client.get(f"/studio/acme/analytics/?range={key}").content.decode()
        # Served from the shared analytics cache: no analytics query on the first view.
        assert len(first_view) <= 12, "\n".join(q["sql"][:150] for q in first_view.captured_queries)
        if key == "7d":
            warmed = _figures(page)
            active = warmed["chart-active"]["data"][0]["y"]
            assert sum(active) == sum(before["chart-active"]["data"][0]["y"]) + 1
    caches["analytics"].clear()
    assert _figures(owner_client.get("/studio/acme/analytics/?range=7d").content.decode()) == (
        warmed
    )  # what the worker computed is what the view computes


def test_the_rollup_tick_also_computes_the_filtered_views_seen_lately(
    owner_client, history, creator
):
    course = history["lessons"][1].module.course
    tab = f"/studio/acme/analytics/courses/{course.pk}/?range=30d"
    custom = "/studio/acme/analytics/?from=2026-01-01&to=2026-12-31"
    before = _figures(owner_client.get(tab).content.decode())
    owner_client.get(custom)
    _newcomer_plays(creator, history["lessons"][1])
    assert rollup_tick()["warmed"] >= 1
    for url in (tab, custom):
        with CaptureQueriesContext(connection) as first_view:
            assert owner_client.get(url).status_code == 200
        # The page from the shared cache (+1 query: the recently-viewed list read).
        assert len(first_view) <= 13, "\n".join(q["sql"][:150] for q in first_view.captured_queries)
    warmed = _figures(owner_client.get(tab).content.decode())
    assert sum(warmed["chart-active"]["data"][0]["y"]) == (
        sum(before["chart-active"]["data"][0]["y"]) + 1
    )
    caches["analytics"].clear()  # what the worker computed is what the view computes
    assert _figures(owner_client.get(tab).content.decode()) == warmed
    # The clear forgot the custom range; the tab's view just now noted the tab again.
    assert dashboards_warm(creator=creator) == [
        "range=7d", "range=30d", "range=90d", "range=all", f"range=30d&course={course.pk}"
    ]  # fmt: skip


def test_picking_a_video_recomputes_only_its_two_charts(owner_client, history, other_creator):
    url = "/studio/acme/analytics/?range=30d"
    default = _figures(owner_client.get(url).content.decode())
    top_title = default["chart-engagement"]["layout"]["title"]["text"]
    lesson = next(x for x in history["lessons"] if x.video.title not in top_title)
    other = lesson.video
    play(creator=other.creator, user=history["bo"], lesson=lesson, at=_days_ago(3),
         segments=[("heartbeat", 0, 20)])  # fmt: skip
    rollup_update(creator=other.creator)  # a second video with plays (still not the top one)
    default = _figures(owner_client.get(url).content.decode())
    assert top_title == default["chart-engagement"]["layout"]["title"]["text"]
    picked_html = owner_client.get(f"{url}&video={other.pk}").content.decode()
    picked = _figures(picked_html)
    assert other.title in picked["chart-engagement"]["layout"]["title"]["text"]
    assert set(picked) - {"chart-engagement", "chart-confusion"} == set(default) - {
        "chart-engagement",
        "chart-confusion",
    }
    for chart_id in set(picked) - {"chart-engagement", "chart-confusion"}:
        assert picked[chart_id] == default[chart_id]
    with CaptureQueriesContext(connection) as again:
        assert _figures(owner_client.get(f"{url}&video={other.pk}").content.decode()) == picked
    # The page's cache read and the video's (each with its watermark); no analytics query.
    assert len(again) <= 14
    foreign = Video.objects.create(creator=other_creator, title="Theirs", status="completed")
    assert owner_client.get(f"{url}&video={foreign.pk}").status_code == 404


def test_a_rollup_with_nothing_new_keeps_the_cached_dashboards(owner_client, history, creator):
    url = "/studio/acme/analytics/?range=30d"
    owner_client.get(url)
    mark = RollupState.objects.get(creator=creator).updated_at
    assert rollup_update(creator=creator)["watermark"] == 0
    assert RollupState.objects.get(creator=creator).updated_at == mark
    with CaptureQueriesContext(connection) as again:
        owner_client.get(url)
    assert len(again) <= 12


def test_csv_export_content_and_encoding(owner_client, history):
    start, end = _days_ago(30).date(), _days_ago(0).date()
    for report, header in (
        ("videos", "video_id"),
        ("students", "user_id"),
        ("questions", "asked_at"),
        ("watch", "session_id"),
    ):
        response = owner_client.get(
            f"/studio/acme/analytics/export.csv?report={report}&from={start}&to={end}"
        )
        assert response.status_code == 200 and response.streaming
        assert response["Content-Disposition"] == (
            f'attachment; filename="acme-{report}-{start}-{end}.csv"'
        )
        raw = b"".join(response.streaming_content)
        assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads it as UTF-8
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
        assert rows[0][0] == header
        if report == "students":
            names = {r[1] for r in rows[1:]}
            assert "Ana Ñúñez" in names  # non-ASCII survives
        if report == "questions":
            assert len(rows) == 5 and {r[4] for r in rows[1:]} == {"yes", "no"}
        if report == "watch":
            assert len(rows) == 3
    narrow = owner_client.get(
        f"/studio/acme/analytics/export.csv?report=questions&from={_days_ago(5).date()}&to={end}"
    )
    assert (
        len(list(csv.reader(io.StringIO(b"".join(narrow.streaming_content).decode("utf-8-sig")))))
        == 3
    )


def test_empty_dashboard_explains_itself(owner_client, creator):
    page = owner_client.get("/studio/acme/analytics/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "No student activity yet" in text
    assert "vendor/plotly.min.js" in text


def test_long_ranges_count_distinct_students_per_iso_week(creator):
    """Past WEEKLY_AFTER_DAYS the activity series is weekly: Monday-based ISO weeks, a
    student counted once a week however many days they were active."""
    from datetime import date

    from analytics.models import StudentDay
    from analytics.ranges import DateRange
    from analytics.rollups import course_days_refold
    from analytics.selectors import daily
    from tests.factories import UserFactory

    ada, bo = UserFactory(), UserFactory()
    sunday, monday = date(2026, 3, 8), date(2026, 3, 9)  # the week turns between them
    for user, day in [(ada, sunday), (ada, sunday - timedelta(days=6)), (bo, sunday),
                      (ada, monday), (ada, monday + timedelta(days=6))]:  # fmt: skip
        StudentDay.objects.create(creator=creator, user=user, day=day, watch_seconds=60)
    # The rollup's next step after StudentDay: the days' CourseDay rows and their bitmaps.
    course_days_refold(creator=creator, days=StudentDay.objects.values_list("day", flat=True))
    rng = DateRange("custom", date(2026, 1, 1), date(2026, 4, 30))
    series = daily(creator=creator, rng=rng)
    assert series["unit"] == "week" and all(x.weekday() == 0 for x in series["x"])
    by_week = dict(zip(series["x"], series["active_students"], strict=True))
    assert by_week[date(2026, 3, 2)] == 2  # ada (Monday and Sunday) and bo: two students
    assert by_week[date(2026, 3, 9)] == 1  # ada on Monday and on Sunday: one
    assert sum(series["active_students"]) == 3


def test_both_question_lists_come_from_one_query(history, creator):
    """questions_summary reads the range's questions once for the most asked groups and the
    not-covered list: groups leave out questions without lexemes, the not-covered list keeps
    them, newest first (a tie on the time: the newest message first), times asked counted."""
    from analytics.ranges import DateRange
    from analytics.selectors import not_covered, question_groups, questions_summary

    user, now = history["bo"], _days_ago(1)
    for text in ("Will this be on the exam?", "???", "???", "Is there a certificate?"):
        ask(creator=creator, user=user, text=text, at=now, covered=False)
    rollup_update(creator=creator)
    rng = DateRange("custom", _days_ago(30).date(), _days_ago(0).date())
    with CaptureQueriesContext(connection) as queries:
        both = questions_summary(creator=creator, rng=rng)
    assert len(queries) == 1
    assert both == {
        "groups": question_groups(creator=creator, rng=rng),
        "not_covered": not_covered(creator=creator, rng=rng),
    }
    assert [(g["question"], g["count"], g["not_covered"]) for g in both["groups"]] == [
        ("Will this be on the exam?", 2, 2),
        ("why do wicks draw wax up", 2, 0),
        ("Is there a certificate?", 1, 1),
        ("What is the bright part of the flame?", 1, 0),
    ]
    listed = [(q["text"], q["count"]) for q in both["not_covered"]]
    # The three asked at the same moment: the newest message first ("???": no lexemes).
    assert listed == [
        ("Is there a certificate?", 1),
        ("???", 2),
        ("Will this be on the exam?", 2),
    ]
    assert not_covered(creator=creator, rng=rng, limit=1) == both["not_covered"][:1]
