"""POST /api/v1/chat through the web server's app (chronos.asgi): JSON asks are answered by
Django's WSGI handler on a thread pool, streamed ones by the ASGI handler; both keep every
check of the endpoint (session auth, CSRF, input guard, error shape) and give the same
answer."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from chat.models import ChatMessage
from tests.chat_library import build_rows
from tests.factories import CreatorFactory, MembershipFactory

QUESTION = "Why does a candle go out when you turn it upside down?"


@pytest.fixture
def app(monkeypatch, settings):
    settings.CHRONOS_ANSWERER = "extractive"
    settings.CHRONOS_EMBEDDER = "none"
    monkeypatch.setenv("DB_POOL", "0")  # importing chronos.asgi must not change os.environ
    from chronos.asgi import application

    return application


def test_json_asks_go_to_the_pool_and_everything_else_to_asgi():
    from chronos.asgi import json_ask

    assert json_ask(json.dumps({"message": QUESTION}).encode())
    assert json_ask(b'{"message": "x", "stream": false}')
    assert json_ask(b'{"message": "x", "stream": "off"}')
    assert not json_ask(b'{"message": "x", "stream": true}')
    assert not json_ask(b'{"message": "x", "stream": "Yes"}')
    assert not json_ask(b"message=x&stream=1")  # a form post
    assert not json_ask(b'["message"]')
    assert not json_ask(b"{")
    assert not json_ask(b"[" * 100_000 + b"]" * 100_000)  # RecursionError: the guard's 400


@pytest.mark.django_db(transaction=True)
def test_asks_through_the_web_servers_app_keep_every_check(client, app):
    creator = CreatorFactory()
    student = MembershipFactory(creator=creator).user
    build_rows(creator, "faraday-1")
    client.force_login(student)
    cookies = {"sessionid": client.cookies["sessionid"].value, "csrftoken": "a" * 32}
    csrf = {"X-CSRFToken": "a" * 32}

    async def post(content: bytes, headers: dict) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as web:
            return await web.post("/api/v1/chat", content=content, headers=headers)

    def send(body, content_type="application/json", **headers) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        return asyncio.run(
            post(content, {"Content-Type": content_type, "Cookie": cookie, **headers})
        )

    ask = {"message": QUESTION, "creator": creator.handle}
    assert send(ask).status_code == 403  # no CSRF token
    answer = send(ask, **csrf)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["covered"] is True and data["citations"]
    assert data["allowance"]["period"] in ("day", "total", "month")
    streamed = send({**ask, "stream": True}, **csrf)
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = [
        json.loads(line.removeprefix("data: "))
        for line in streamed.text.splitlines()
        if line.startswith("data: ")
    ]
    assert [e["event"] for e in events][-2:] == ["citations", "done"]
    done = events[-1]
    # The same answer and citations either way.
    assert done["answer"] == data["answer"]
    assert [c["start"] for c in events[-2]["citations"]] == [c["start"] for c in data["citations"]]
    nul = send({**ask, "message": "candle\u0000"}, **csrf)
    assert nul.status_code == 400 and nul.json()["code"] == "invalid_input"
    deep = send(b'{"message": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", **csrf)
    assert deep.status_code == 400 and set(deep.json()) == {"error", "code", "fields"}
    form = send(f"message=candle&creator={creator.handle}".encode(),
                "application/x-www-form-urlencoded", **csrf)  # fmt: skip
    assert form.status_code == 200 and form.json()["covered"] is not None
    cookies.pop("sessionid")
    signed_out = send(ask, **csrf)
    assert signed_out.status_code == 401 and signed_out.headers["WWW-Authenticate"]
    assert ChatMessage.objects.filter(session__user=student, role="user").count() == 3
