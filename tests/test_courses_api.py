"""The courses REST contracts of issue 8 (exact URLs and keys), with query-count bounds."""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from courses import services
from courses.models import Course, Lesson, Module, WatchEvent
from tests.courses_support import make_course, make_video
from tests.factories import MembershipFactory


def test_creator_creates_and_edits_a_course(owner_client, creator):
    r = owner_client.post("/api/v1/courses/", {"title": "Candles", "description": "*Wax*"})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["title"] == "Candles" and body["status"] == "draft"
    assert body["sequential"] is False and isinstance(body["id"], int)
    cid = body["id"]
    assert r["Location"] == f"http://testserver/api/v1/courses/{cid}/"  # absolute URLs
    r = owner_client.patch(
        f"/api/v1/courses/{cid}/",
        {"status": "published", "sequential": True, "title": "Candles II"},
        content_type="application/json",
    )
    assert r.status_code == 200, r.content
    assert (r.json()["status"], r.json()["sequential"], r.json()["title"]) == (
        "published",
        True,
        "Candles II",
    )
    r = owner_client.patch(
        f"/api/v1/courses/{cid}/", {"status": "live"}, content_type="application/json"
    )
    assert r.status_code == 400 and "status" in json.dumps(r.json())
    assert owner_client.post("/api/v1/courses/", {"title": ""}).status_code == 400

    r = owner_client.post(f"/api/v1/courses/{cid}/modules/", {"title": "Flames"})
    assert r.status_code == 201
    mid = r.json()["id"]
    video = make_video(creator, "Lecture I")
    r = owner_client.post(f"/api/v1/modules/{mid}/lessons/", {"video_id": video.pk, "drip_days": 2})
    assert r.status_code == 201, r.content
    lid = r.json()["id"]
    lesson = Lesson.objects.get(pk=lid)
    assert (lesson.title, lesson.drip_days, lesson.creator_id) == ("Lecture I", 2, creator.pk)
    r = owner_client.patch(
        f"/api/v1/lessons/{lid}/",
        {"title": "Intro", "is_preview": True},
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["is_preview"] is True
    assert (
        owner_client.patch(
            f"/api/v1/lessons/{lid}/", {"drip_days": -1}, content_type="application/json"
        ).status_code
        == 400
    )
    assert (
        owner_client.patch(
            f"/api/v1/modules/{mid}/", {"title": "Wicks"}, content_type="application/json"
        ).json()["title"]
        == "Wicks"
    )
    r = owner_client.get("/api/v1/courses/")
    assert [c["lessons"] for c in r.json()["results"]] == [1]
    assert owner_client.delete(f"/api/v1/lessons/{lid}/").status_code == 204
    assert owner_client.delete(f"/api/v1/modules/{mid}/").status_code == 204
    assert owner_client.delete(f"/api/v1/courses/{cid}/").status_code == 204
    assert not Course.objects.exists() and not Module.objects.exists()


def test_lesson_refuses_another_creators_video(owner_client, creator, other_creator):
    _course, lessons = make_course(creator)
    foreign = make_video(other_creator, "Theirs")
    r = owner_client.post(
        f"/api/v1/modules/{lessons[0].module_id}/lessons/", {"video_id": foreign.pk}
    )
    assert r.status_code == 400 and "video_id" in json.dumps(r.json())


def test_students_read_published_courses_with_progress(client, creator, student):
    course, _lessons = make_course(creator)
    make_course(creator, published=False)
    client.force_login(student)
    r = client.get("/api/v1/courses/")
    assert r.status_code == 200
    results = r.json()["results"]
    assert [(c["id"], c["progress"]) for c in results] == [(course.pk, 0)]
    assert client.post("/api/v1/courses/", {"title": "Mine"}).status_code == 404
    assert (
        client.patch(
            f"/api/v1/courses/{course.pk}/", {"title": "x"}, content_type="application/json"
        ).status_code
        == 404
    )
    assert client.get(f"/api/v1/courses/{course.pk}/").status_code == 200


def test_outline_keys_and_locks(client, creator, student):
    course, _lessons = make_course(creator, sequential=True)
    client.force_login(student)
    r = client.get(f"/api/v1/courses/{course.pk}/outline/")
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {"id", "title", "progress", "modules"}
    first = body["modules"][0]["lessons"][0]
    assert set(first) >= {
        "id",
        "title",
        "video_id",
        "duration",
        "locked",
        "unlocks_at",
        "completed",
        "watched_fraction",
        "resume_at",
    }
    locks = [ls["locked"] for m in body["modules"] for ls in m["lessons"]]
    assert locks == [False, True, True]
    assert first["duration"] == 100.0


def test_order_put(owner_client, creator, other_creator):
    course, lessons = make_course(creator)
    one, two = Module.objects.filter(course=course).order_by("position")
    url = f"/api/v1/courses/{course.pk}/order/"
    good = {
        "modules": [
            {"id": two.pk, "lessons": [lessons[0].pk, lessons[2].pk]},
            {"id": one.pk, "lessons": [lessons[1].pk]},
        ]
    }
    r = owner_client.put(url, good, content_type="application/json")
    assert r.status_code == 200, r.content
    assert r.json()["modules"] == good["modules"]
    moved = Lesson.objects.get(pk=lessons[0].pk)
    assert (moved.module_id, moved.position) == (two.pk, 0)
    left_out = {"modules": good["modules"][:1]}
    assert owner_client.put(url, left_out, content_type="application/json").status_code == 400
    _theirs, their_lessons = make_course(other_creator)
    foreign = {
        "modules": [
            good["modules"][0],
            {"id": one.pk, "lessons": [lessons[1].pk, their_lessons[0].pk]},
        ]
    }
    r = owner_client.put(url, foreign, content_type="application/json")
    assert r.status_code == 400 and str(their_lessons[0].pk) in json.dumps(r.json())
    assert (
        owner_client.put(url, {"modules": "x"}, content_type="application/json").status_code == 400
    )


def _event(lesson, seq, verb="played", session=None, **extra):
    return {
        "lesson_id": lesson.pk,
        "session_id": session or str(uuid.uuid4()),
        "seq": seq,
        "verb": verb,
        "position": 0,
        "from": 0,
        "to": 0,
        "rate": 1,
        "client_time": timezone.now().isoformat(),
        **extra,
    }


def test_watch_events_contract(client, creator, student):
    _course, lessons = make_course(creator)
    client.force_login(student)
    session = str(uuid.uuid4())
    batch = {
        "events": [
            _event(lessons[0], 1, session=session),
            _event(lessons[0], 2, "paused", session=session),
        ]
    }
    r = client.post("/api/v1/watch-events/", batch, content_type="application/json")
    assert r.status_code == 202, r.content
    assert r.json() == {"accepted": 2, "duplicates": 0}
    r = client.post("/api/v1/watch-events/", batch, content_type="application/json")
    assert r.json() == {"accepted": 0, "duplicates": 2}
    bad = {"events": [_event(lessons[0], 3, session=session), _event(lessons[0], 4, "jump")]}
    r = client.post("/api/v1/watch-events/", bad, content_type="application/json")
    assert r.status_code == 400
    assert "events[1].verb" in json.dumps(r.json())
    assert (
        client.post("/api/v1/watch-events/", {}, content_type="application/json").status_code == 400
    )
    assert WatchEvent.objects.count() == 2


def test_watch_events_by_beacon_with_csrf_in_the_body(creator, student):
    from django.test import Client

    _course, lessons = make_course(creator)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(student)
    page = browser.get("/api/v1/courses/")  # any page sets no cookie; fetch the token
    assert page.status_code == 200
    from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret

    secret = _get_new_csrf_string()
    browser.cookies["csrftoken"] = secret
    events = json.dumps([_event(lessons[0], 1)])
    refused = browser.post("/api/v1/watch-events/", {"events": events})
    assert refused.status_code == 403
    token = _mask_cipher_secret(secret)
    r = browser.post("/api/v1/watch-events/", {"events": events, "csrfmiddlewaretoken": token})
    assert r.status_code == 202, r.content
    assert r.json()["accepted"] == 1


def test_students_of_other_creators_and_strangers_get_404(client, creator, other_creator):
    course, lessons = make_course(creator)
    outsider = MembershipFactory(creator=other_creator).user
    client.force_login(outsider)
    assert client.get(f"/api/v1/courses/{course.pk}/outline/").status_code == 404
    assert client.get(f"/api/v1/courses/{course.pk}/").status_code == 404
    r = client.post(
        "/api/v1/watch-events/",
        {"events": [_event(lessons[0], 1)]},
        content_type="application/json",
    )
    assert r.status_code == 400


@pytest.mark.parametrize("lessons_per_module", [1, 6])
def test_outline_and_catalog_queries_do_not_grow_with_lessons(
    client, creator, student, lessons_per_module
):
    course, _ = make_course(creator, modules=(("A", lessons_per_module), ("B", lessons_per_module)))
    make_course(creator, modules=(("C", lessons_per_module),))
    client.force_login(student)
    services.enrollment_ensure(user=student, course=course)
    for url in (f"/api/v1/courses/{course.pk}/outline/", "/api/v1/courses/"):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        assert len(ctx) <= 14, [q["sql"] for q in ctx.captured_queries]


def test_a_steady_heartbeat_batch_costs_a_handful_of_queries(client, creator, student):
    """After the first batch (which resolves the lesson's locks), a batch is the session
    and user lookups, one statement that stores the events and creates/locks the progress
    row, and one progress update (plus the transaction's savepoint pair under the test
    client). A resent batch stores nothing and leaves the progress row alone."""
    _course, lessons = make_course(creator)
    client.force_login(student)
    session = str(uuid.uuid4())
    for seq in (1, 2):
        with CaptureQueriesContext(connection) as ctx:
            r = client.post(
                "/api/v1/watch-events/",
                {"events": [_event(lessons[0], seq, session=session, position=10.0)]},
                content_type="application/json",
            )
        assert r.status_code == 202 and r.json()["accepted"] == 1
    sql = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(sql) == 4, sql
    progress = lessons[0].progress.get(user=student)
    assert progress.last_position == 10.0 and progress.creator_id == creator.pk
    r = client.post(
        "/api/v1/watch-events/",
        {"events": [_event(lessons[0], 2, session=session, position=99.0)]},
        content_type="application/json",
    )
    assert r.status_code == 202 and r.json() == {"accepted": 0, "duplicates": 1}
    again = lessons[0].progress.get(user=student)
    assert (again.last_position, again.updated_at) == (10.0, progress.updated_at)


def test_heartbeats_through_the_web_servers_app_keep_every_check(
    transactional_db, client, creator, student, monkeypatch
):
    """chronos.asgi serves POST /api/v1/watch-events/ through Django's WSGI handler on a
    thread pool (a2wsgi): the same session auth, CSRF, validation and error shape as the
    ASGI handler that serves every other route."""
    import asyncio

    import httpx

    monkeypatch.setenv("DB_POOL", "0")  # importing chronos.asgi must not change os.environ
    from chronos.asgi import HEARTBEAT_PATHS, application

    assert "/api/v1/watch-events/" in HEARTBEAT_PATHS
    _course, lessons = make_course(creator)
    client.force_login(student)
    cookies = {"sessionid": client.cookies["sessionid"].value, "csrftoken": "a" * 32}
    batch = {"events": [_event(lessons[0], 1)]}

    async def post(body, **headers):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as web:
            return await web.post("/api/v1/watch-events/", json=body, headers=headers)

    def send(body, **headers):
        return asyncio.run(post(body, Cookie="; ".join(f"{k}={v}" for k, v in cookies.items()),
                                **headers))  # fmt: skip

    assert send(batch).status_code == 403  # no CSRF token
    ok = send(batch, **{"X-CSRFToken": "a" * 32})
    assert (ok.status_code, ok.json()) == (202, {"accepted": 1, "duplicates": 0})
    bad = send({"events": [{**batch["events"][0], "verb": "jump"}]}, **{"X-CSRFToken": "a" * 32})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"
    assert "events[0].verb" in bad.json()["fields"]
    cookies.pop("sessionid")
    assert send(batch, **{"X-CSRFToken": "a" * 32}).status_code == 401  # signed out
    assert WatchEvent.objects.count() == 1


def test_opening_the_lesson_page_spares_the_first_heartbeat_its_lock_check(
    client, creator, student
):
    """The lesson page runs the lock rules to show its player; it stamps the verdict on the
    student's progress row, so the page's first batch is a steady one (the statements of
    test_a_steady_heartbeat_batch_costs_a_handful_of_queries). Opening a lesson never
    watched creates no progress row."""
    from datetime import timedelta

    from courses.models import LessonProgress

    course, lessons = make_course(creator)
    client.force_login(student)
    page = f"/learn/{creator.handle}/courses/{course.pk}/lessons/{lessons[1].pk}/"
    assert client.get(page).status_code == 200
    assert not LessonProgress.objects.filter(lesson=lessons[1]).exists()
    r = client.post(
        "/api/v1/watch-events/", {"events": [_event(lessons[1], 1, position=5.0)]},
        content_type="application/json",
    )  # fmt: skip
    assert r.status_code == 202
    stale = timezone.now() - timedelta(days=1)
    LessonProgress.objects.filter(lesson=lessons[1]).update(playable_checked_at=stale)
    assert client.get(page).status_code == 200
    assert LessonProgress.objects.get(lesson=lessons[1]).playable_checked_at > stale
    with CaptureQueriesContext(connection) as ctx:
        r = client.post(
            "/api/v1/watch-events/", {"events": [_event(lessons[1], 1, position=9.0)]},
            content_type="application/json",
        )  # fmt: skip
    assert r.status_code == 202
    assert len([q for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]) == 4
