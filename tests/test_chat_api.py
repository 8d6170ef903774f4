"""REST API: POST /api/v1/chat (JSON and server-sent events) and the sessions endpoints."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

from chat.models import ChatMessage, ChatSession
from tests.chat_library import library_fixture
from tests.factories import MembershipFactory, UserFactory

QUESTION = "Why does a candle go out when you turn it upside down?"


lib = library_fixture("faraday-api")


@pytest.fixture(autouse=True)
def _offline(settings):
    settings.CHRONOS_ANSWERER = "extractive"
    settings.CHRONOS_EMBEDDER = "none"


@pytest.fixture
def api(db, lib):
    """A browser-like client of the student: session cookie + CSRF checks enforced."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(lib.student)
    client.get("/api/v1/chat/sessions", {"creator": lib.creator.handle})  # any request
    return client


def _csrf(client) -> str:
    from django.middleware.csrf import _get_new_csrf_string

    token = client.cookies.get("csrftoken")
    if token is None:
        token_value = _get_new_csrf_string()
        client.cookies["csrftoken"] = token_value
        return token_value
    return token.value


def _post(client, payload, **extra):
    return client.post(
        "/api/v1/chat",
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=_csrf(client),
        **extra,
    )


def _sse_events(response) -> list[tuple[str, dict]]:
    from asgiref.sync import async_to_sync

    async def collect():
        return [chunk async for chunk in response.streaming_content]

    raw = b"".join(async_to_sync(collect)()).decode()
    events = []
    for block in raw.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_ask_returns_answer_citations_and_usage(api, lib):
    response = _post(api, {"message": QUESTION, "creator": lib.creator.handle})
    assert response.status_code == 200, response.content
    data = response.json()
    assert set(data) >= {"session_id", "answer", "citations", "usage", "covered", "answer_html"}
    assert data["covered"] is True
    citation = data["citations"][0]
    assert set(citation) >= {
        "video_id", "video_title", "start", "end", "quote", "score", "start_label", "stream_url"
    }  # fmt: skip
    assert citation["video_id"] == lib.videos["faraday-1"].pk
    assert str(citation["video_id"]) in citation["stream_url"]
    assert data["usage"]["model"] == "extractive"
    session = ChatSession.objects.get(pk=data["session_id"])
    assert session.user == lib.student and session.creator == lib.creator
    assert [m.role for m in session.messages.all()] == ["user", "assistant"]


def test_creator_may_be_omitted_when_the_user_has_one(api, lib):
    assert _post(api, {"message": QUESTION}).status_code == 200


def test_stream_sends_server_sent_events_in_order(api, lib):
    response = _post(api, {"message": QUESTION, "stream": True, "creator": lib.creator.handle})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    events = _sse_events(response)
    names = [name for name, _ in events]
    assert names[0] == "session" and names[-2:] == ["citations", "done"]
    assert set(names[1:-2]) == {"delta"}
    assert all(data["event"] == name for name, data in events)
    session_id = events[0][1]["session_id"]
    done = events[-1][1]
    assert done["covered"] is True and "<blockquote>" in done["answer_html"]
    text = "".join(d["text"] for n, d in events if n == "delta")
    assert ChatMessage.objects.get(pk=done["message_id"]).content == text.strip()
    # A follow-up in the same session keeps its history.
    follow = _post(
        api,
        {"message": "Why do flames rise upwards?", "session_id": session_id, "stream": True},
    )
    assert _sse_events(follow)[0][1]["session_id"] == session_id
    assert ChatMessage.objects.filter(session_id=session_id).count() == 4


def test_csrf_is_required_for_session_auth(db, lib):
    client = Client(enforce_csrf_checks=True)
    client.force_login(lib.student)
    response = client.post(
        "/api/v1/chat", data=json.dumps({"message": QUESTION}), content_type="application/json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]
    assert response.json()["code"] == "permission_denied"


def test_basic_auth_works_without_csrf(db, lib):
    from creators.models import User

    user = User.objects.get(pk=lib.student.pk)  # a copy: lib.student stays as committed
    user.set_password("pw-Chronos-123")
    user.save()
    token = base64.b64encode(f"{user.username}:pw-Chronos-123".encode()).decode()
    response = Client(enforce_csrf_checks=True).post(
        "/api/v1/chat",
        data=json.dumps({"message": QUESTION}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {token}",
    )
    assert response.status_code == 200


def test_anonymous_is_refused(db, lib):
    response = Client().post(
        "/api/v1/chat", data=json.dumps({"message": QUESTION}), content_type="application/json"
    )
    assert response.status_code == 401
    assert Client().get("/api/v1/chat/sessions").status_code in (401, 403)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"message": ""}, "message"),
        ({"message": "   "}, "message"),
        ({"message": 42}, "message"),
        ({"message": "x" * 4001}, "message"),
        ({"message": QUESTION, "video_ids": "3"}, "video_ids"),
        ({"message": QUESTION, "video_ids": ["a"]}, "video_ids"),
        ({"message": QUESTION, "course_id": "abc"}, "course_id"),
        ({"message": QUESTION, "course_id": 999999}, "course_id"),
        ({"message": QUESTION, "video_ids": [999999]}, "video_ids"),
    ],
)
def test_bad_input_is_a_clear_400(api, lib, payload, field):
    response = _post(api, {**payload, "creator": lib.creator.handle})
    assert response.status_code == 400
    data = response.json()
    assert field in data["fields"] and data["error"] and data["code"]


def test_invalid_json_is_a_400(api, lib):
    response = api.post(
        "/api/v1/chat",
        data="{not json",
        content_type="application/json",
        HTTP_X_CSRFTOKEN=_csrf(api),
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]  # the API error shape (chronos.input)


def test_empty_library_gives_a_clear_message(db, creator, student):
    client = Client(enforce_csrf_checks=True)
    client.force_login(student)
    response = _post(client, {"message": QUESTION, "creator": creator.handle})
    assert response.status_code == 400
    assert response.json() == {
        "error": "This creator has no processed videos yet.",
        "code": "empty_library",
        "fields": {},
    }
    assert not ChatSession.objects.filter(creator=creator).exists()


def test_someone_elses_session_is_404(api, lib):
    other = MembershipFactory(creator=lib.creator).user
    client = Client()
    client.force_login(other)
    session_id = client.post(
        "/api/v1/chat", data=json.dumps({"message": QUESTION}), content_type="application/json"
    ).json()["session_id"]
    response = _post(api, {"message": QUESTION, "session_id": session_id})
    assert response.status_code == 404
    for url in (
        f"/api/v1/chat/sessions/{session_id}",
        f"/api/v1/chat/sessions/{session_id}/messages",
        f"/api/v1/chat/sessions/{session_id}/export?format=json",
    ):
        assert api.get(url).status_code == 404, url
    assert (
        api.delete(f"/api/v1/chat/sessions/{session_id}", HTTP_X_CSRFTOKEN=_csrf(api)).status_code
        == 404
    )
    assert ChatSession.objects.filter(pk=session_id).exists()


def test_sessions_list_search_rename_messages_export_delete(api, lib):
    first = _post(api, {"message": QUESTION}).json()["session_id"]
    second = _post(api, {"message": "Where was the paraffin wax obtained from?"}).json()[
        "session_id"
    ]
    listing = api.get("/api/v1/chat/sessions").json()
    assert [s["id"] for s in listing["results"]] == [second, first]
    # Search finds message text as well as titles.
    found = api.get("/api/v1/chat/sessions", {"q": "paraffin"}).json()["results"]
    assert [s["id"] for s in found] == [second]
    found = api.get("/api/v1/chat/sessions", {"q": "put out"}).json()["results"]
    assert [s["id"] for s in found] == [first]  # words of the answer, not the title
    renamed = api.patch(
        f"/api/v1/chat/sessions/{first}",
        data=json.dumps({"title": "  Candles upside down "}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=_csrf(api),
    )
    assert renamed.status_code == 200 and renamed.json()["title"] == "Candles upside down"
    empty = api.patch(
        f"/api/v1/chat/sessions/{first}",
        data=json.dumps({"title": " "}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=_csrf(api),
    )
    assert empty.status_code == 400 and "title" in empty.json()["fields"]
    messages = api.get(f"/api/v1/chat/sessions/{first}/messages").json()["results"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["citations"][0]["start_label"]
    md = api.get(f"/api/v1/chat/sessions/{first}/export", {"format": "md"})
    assert md.status_code == 200 and md["Content-Type"].startswith("text/markdown")
    body = md.content.decode()
    assert body.startswith("# Candles upside down") and QUESTION in body and "Sources:" in body
    js = api.get(f"/api/v1/chat/sessions/{first}/export", {"format": "json"})
    exported = json.loads(js.content)
    assert exported["session"]["id"] == first and len(exported["messages"]) == 2
    assert api.get(f"/api/v1/chat/sessions/{first}/export", {"format": "pdf"}).status_code == 400
    deleted = api.delete(f"/api/v1/chat/sessions/{first}", HTTP_X_CSRFTOKEN=_csrf(api))
    assert deleted.status_code == 204
    assert not ChatSession.objects.filter(pk=first).exists()
    assert not ChatMessage.objects.filter(session_id=first).exists()


def test_non_member_cannot_chat_with_a_creator(db, lib):
    outsider = UserFactory()
    client = Client()
    client.force_login(outsider)
    response = client.post(
        "/api/v1/chat",
        data=json.dumps({"message": QUESTION, "creator": lib.creator.handle}),
        content_type="application/json",
    )
    assert response.status_code == 404
    listing = client.get("/api/v1/chat/sessions", {"creator": lib.creator.handle})
    assert listing.status_code == 404
