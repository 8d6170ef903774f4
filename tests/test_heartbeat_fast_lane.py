"""The heartbeat fast lane (chronos/heartbeats.py): the player's ordinary batch is answered
without the full request cycle, with the full path's answer and headers; everything else
on the route is handed to the full stack, with nothing stored."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone
from freezegun import freeze_time

from courses.models import LessonProgress, PendingHeartbeat, WatchEvent
from courses.watch_tickets import (
    WATCH_TICKET_SECONDS,
    TicketHolder,
    watch_ticket_holder,
    watch_ticket_issue,
)
from tests.courses_support import make_course
from tests.factories import CreatorFactory

CSRF = "a" * 32


@pytest.fixture
def app(monkeypatch):
    monkeypatch.setenv("DB_POOL", "0")  # importing chronos.asgi must not change os.environ
    from chronos.asgi import application

    return application


@pytest.fixture
def lesson(creator):
    return make_course(creator)[1][0]


@pytest.fixture
def session_key(client, student):
    client.force_login(student)
    return client.cookies["sessionid"].value


def _batch(lesson, seq=1, session=None, **extra):
    return {
        "events": [
            {
                "lesson_id": lesson.pk,
                "session_id": session or str(uuid.uuid4()),
                "seq": seq,
                "verb": "heartbeat",
                "position": 10.0,
                "from": 0.0,
                "to": 10.0,
                "rate": 1,
                "client_time": timezone.now().isoformat(),
                **extra,
            }
        ]
    }


def _scope(session_key, *, csrf=CSRF, method="POST", query=b"", content_type=b"application/json",
           extra=()):  # fmt: skip
    cookies = f"csrftoken={CSRF}" + (f"; sessionid={session_key}" if session_key else "")
    headers = [(b"host", b"testserver"), (b"cookie", cookies.encode())]
    if csrf:
        headers.append((b"x-csrftoken", csrf.encode()))
    if content_type:
        headers.append((b"content-type", content_type))
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": "/api/v1/watch-events/", "raw_path": b"/api/v1/watch-events/",
        "root_path": "", "query_string": query, "headers": [*headers, *extra],
        "server": ("testserver", 80), "client": ("127.0.0.1", 5000),
    }  # fmt: skip


def _lane(scope, body):
    from chronos import heartbeats

    assert heartbeats.ordinary(scope)
    return heartbeats.answer(scope, json.dumps(body).encode())


def _through_app(app, session_key, body, query="", ticket=None):
    headers = {"X-CSRFToken": CSRF, "Cookie": f"csrftoken={CSRF}; sessionid={session_key}"}
    if ticket:
        headers["X-Watch-Ticket"] = ticket

    async def post():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as web:
            return await web.post("/api/v1/watch-events/" + query, json=body, headers=headers)

    return asyncio.run(post())


def test_the_lane_records_an_ordinary_batch(transactional_db, lesson, session_key, student):
    response = _lane(_scope(session_key), _batch(lesson))
    assert response is not None and response.status_code == 202
    assert json.loads(response.content) == {"accepted": 1, "duplicates": 0}
    progress = LessonProgress.objects.get(lesson=lesson, user=student)
    assert (progress.last_position, progress.unique_seconds) == (10.0, 10.0)
    again = _lane(
        _scope(session_key), _batch(lesson, session=str(WatchEvent.objects.get().session_id))
    )
    assert json.loads(again.content) == {"accepted": 0, "duplicates": 1}


def test_the_lanes_steady_heartbeat_is_queued_and_folded_on_read(
    transactional_db, lesson, session_key, student, client
):
    session = str(uuid.uuid4())
    _lane(_scope(session_key), _batch(lesson, session=session))  # first: the full fold
    later = _batch(lesson, seq=2, session=session, position=20.0, **{"from": 10.0, "to": 20.0})
    response = _lane(_scope(session_key), later)
    assert json.loads(response.content) == {"accepted": 1, "duplicates": 0}
    assert PendingHeartbeat.objects.filter(user=student).count() == 1
    assert LessonProgress.objects.get(lesson=lesson, user=student).last_position == 10.0
    course_id = lesson.module.course_id
    outline = client.get(f"/api/v1/courses/{course_id}/outline/").json()
    (state,) = [x for m in outline["modules"] for x in m["lessons"] if x["id"] == lesson.pk]
    assert state["resume_at"] == 20.0 and not PendingHeartbeat.objects.exists()


def test_the_lanes_answer_and_headers_are_the_full_paths(
    transactional_db, app, lesson, session_key
):
    lane = _through_app(app, session_key, _batch(lesson))
    # A query string sends the same request the full way (the view ignores it).
    full = _through_app(app, session_key, _batch(lesson), query="?via=full")
    assert (lane.status_code, lane.json()) == (full.status_code, full.json()) == (
        202, {"accepted": 1, "duplicates": 0}
    )  # fmt: skip
    skip = {"date", "content-length", "server", "x-watch-ticket"}
    assert {k: v for k, v in lane.headers.items() if k not in skip} == {
        k: v for k, v in full.headers.items() if k not in skip
    }
    assert "content-security-policy" in lane.headers and "x-content-type-options" in lane.headers
    assert WatchEvent.objects.count() == 2
    # The full path hands the player a ticket; with it the lane answers the same way.
    ticket = full.headers["x-watch-ticket"]
    with_ticket = _through_app(app, session_key, _batch(lesson), ticket=ticket)
    assert (with_ticket.status_code, with_ticket.json()) == (202, lane.json())
    assert {k: v for k, v in with_ticket.headers.items() if k not in skip} == {
        k: v for k, v in full.headers.items() if k not in skip
    }


def test_with_a_watch_ticket_a_steady_batch_reads_neither_session_nor_user(
    transactional_db, lesson, session_key, student
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    session = str(uuid.uuid4())
    _lane(_scope(session_key), _batch(lesson, session=session))  # the first, full fold
    ticket = watch_ticket_issue(user_id=student.pk, whop_user_id="", session_key=session_key)
    with CaptureQueriesContext(connection) as queries:
        response = _lane(
            _scope(session_key, extra=[(b"x-watch-ticket", ticket.encode())]),
            _batch(lesson, seq=2, session=session),
        )
    assert json.loads(response.content) == {"accepted": 1, "duplicates": 0}
    assert len(queries) == 1 and "courses_pendingheartbeat" in queries[0]["sql"]
    assert PendingHeartbeat.objects.filter(user=student).count() == 1


def test_a_ticket_counts_only_for_its_own_session_while_young_and_unaltered(
    transactional_db, lesson, session_key, student
):
    ticket = watch_ticket_issue(user_id=student.pk, whop_user_id="", session_key=session_key)
    assert watch_ticket_holder(ticket, session_key=session_key) == TicketHolder(student.pk, "")
    forged = ticket[:-2] + ("AA" if not ticket.endswith("AA") else "BB")
    assert watch_ticket_holder(forged, session_key=session_key) is None
    assert watch_ticket_holder(ticket, session_key="another-session-key") is None
    assert watch_ticket_holder(ticket, session_key=None) is None
    with freeze_time(timezone.now() + timedelta(seconds=WATCH_TICKET_SECONDS + 1)):
        assert watch_ticket_holder(ticket, session_key=session_key) is None
    # Without its session cookie a ticket is nothing: the full path answers (signed out).
    signed_out = _scope(None, extra=[(b"x-watch-ticket", ticket.encode())])
    assert _lane(signed_out, _batch(lesson)) is None
    assert not WatchEvent.objects.exists()


def test_a_ticket_naming_another_user_than_its_session_records_nothing(
    transactional_db, lesson, session_key, student
):
    """A batch the queue does not take is recorded for the session's user: when the ticket
    names someone else (it cannot be forged, but a session may outlive a sign-in), the lane
    hands it to the full path instead of recording it for either."""
    other = CreatorFactory().owner
    ticket = watch_ticket_issue(user_id=other.pk, whop_user_id="", session_key=session_key)
    played = _batch(lesson, verb="played")
    assert _lane(_scope(session_key, extra=[(b"x-watch-ticket", ticket.encode())]), played) is None
    assert not WatchEvent.objects.exists()


def test_anything_but_the_ordinary_batch_goes_the_full_way(
    transactional_db, lesson, session_key, student
):
    from chronos import heartbeats

    other_lesson = make_course(CreatorFactory())[1][0]  # another tenant's
    body = _batch(lesson)
    handed_over = {
        "no CSRF token": (_scope(session_key, csrf=None), body),
        "a wrong CSRF token": (_scope(session_key, csrf="b" * 32), body),
        "signed out": (_scope(None), body),
        "an unknown session": (_scope("nosuchsessionkey0"), body),
        "a malformed event": (_scope(session_key), _batch(lesson, verb="jump")),
        "another tenant's lesson": (_scope(session_key), _batch(other_lesson)),
        "no events": (_scope(session_key), {"events": []}),
        "a JSON list": (_scope(session_key), [body]),
        "a NUL": (_scope(session_key), _batch(lesson, client_time="2026-01-01T00:00:00Z\x00")),
        "a Host outside ALLOWED_HOSTS": (
            {
                **_scope(session_key),
                "headers": [
                    (b"host", b"evil.example") if k == b"host" else (k, v)
                    for k, v in _scope(session_key)["headers"]
                ],
            },
            body,
        ),
    }
    for why, (scope, sent) in handed_over.items():
        assert _lane(scope, sent) is None, why
    assert WatchEvent.objects.count() == 0 and not LessonProgress.objects.exists()

    not_ordinary = {
        "a GET": _scope(session_key, method="GET"),
        "a query string": _scope(session_key, query=b"x=1"),
        "a form post (the page-hide beacon)": _scope(
            session_key, content_type=b"application/x-www-form-urlencoded"
        ),
        "HTTP Basic": _scope(session_key, extra=[(b"authorization", b"Basic eDp5")]),
    }
    for why, scope in not_ordinary.items():
        assert not heartbeats.ordinary(scope), why

    student.is_active = False
    student.save()
    assert _lane(_scope(session_key), body) is None  # an inactive user


def test_full_path_answers_what_the_lane_hands_over(transactional_db, app, lesson, session_key):
    bad = _through_app(app, session_key, _batch(lesson, verb="jump"))
    assert bad.status_code == 400 and "events[0].verb" in bad.json()["fields"]
    other_lesson = make_course(CreatorFactory())[1][0]
    locked = _through_app(app, session_key, _batch(other_lesson))
    assert locked.status_code == 400 and "events[0].lesson_id" in locked.json()["fields"]
    assert WatchEvent.objects.count() == 0


def test_inside_whops_iframe_the_lane_takes_the_session_users_own_token(
    transactional_db, lesson, session_key, student, settings
):
    """Every request from Whop's iframe carries x-whop-user-token: verified as the
    middleware does, naming the session's user, it is an ordinary batch; a token that fails
    or names another Whop user is the full path's (WhopUserTokenMiddleware signs in or 401s).
    """
    from tests.oidc_server import OIDCServer

    server = OIDCServer().start()
    try:
        settings.WHOP_APP_ID = "app_chronos_test"
        settings.WHOP_JWKS_URL = f"{server.base_url}/.well-known/jwks.json"
        student.whop_user_id = "user_Lane0001"
        student.save()

        def token(sub):
            return server.user_token(sub=sub, aud="app_chronos_test").encode()

        own = _scope(session_key, extra=[(b"x-whop-user-token", token("user_Lane0001"))])
        assert _lane(own, _batch(lesson)).status_code == 202
        other = _scope(session_key, extra=[(b"x-whop-user-token", token("user_Other0002"))])
        assert _lane(other, _batch(lesson)) is None
        forged = _scope(session_key, extra=[(b"x-whop-user-token", b"not.a.token")])
        assert _lane(forged, _batch(lesson)) is None
    finally:
        server.stop()
    assert WatchEvent.objects.count() == 1
