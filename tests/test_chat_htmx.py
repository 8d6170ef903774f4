"""The chat page's two halves on htmx (issue 7): POST /learn/<h>/chat/ask/ saves the question
and a pending answer (htmx gets the bubbles back; without JS the page answers in full and
redirects), and GET .../answers/<id>/stream/ streams that answer as htmx SSE events (escaped
text deltas, then the final message rendered by the one message partial). Reconnect-safety
and the plan's allowances (issue 10: "N questions left", a friendly at-limit bubble)."""

from __future__ import annotations

import re

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django.urls import reverse

from chat.models import ChatMessage, ChatSession
from chat.services import chat_answer_stream, chat_question_save
from tests.chat_library import build_rows
from tests.factories import CreatorFactory, MembershipFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
QUESTION = "Which bogs did the candle-wood come from?"


@pytest.fixture(autouse=True)
def _offline(settings):
    settings.CHRONOS_EMBEDDER = "none"
    settings.CHRONOS_ANSWERER = "extractive"


@pytest.fixture
def library():
    """A free-tier creator with one lecture (rows built from its real captions) and a
    student who may ask 3 questions in total (billing.limits)."""
    creator = CreatorFactory(handle="faraday", company_name="Royal Institution", tier="free")
    build_rows(creator, "faraday-1")
    student = MembershipFactory(creator=creator).user
    client = Client()
    client.force_login(student)
    return creator, student, client


def ask_url(creator) -> str:
    return reverse("chat:ask", kwargs={"handle": creator.handle})


def events(response) -> list[tuple[str, str]]:
    """(name, data) of each server-sent event of a streamed response."""

    async def collect():
        return [chunk async for chunk in response.streaming_content]

    body = b"".join(async_to_sync(collect)()).decode()
    out = []
    for block in body.strip().split("\n\n"):
        lines = block.split("\n")
        name = lines[0].removeprefix("event: ")
        out.append((name, "\n".join(line.removeprefix("data: ") for line in lines[1:])))
    return out


def test_htmx_question_gives_bubble_and_a_pending_answer_that_streams(library):
    creator, student, client = library
    response = client.post(ask_url(creator), {"message": QUESTION}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    session = ChatSession.objects.get(user=student, creator=creator)
    answer = ChatMessage.objects.get(session=session, role="assistant")
    assert answer.status == ChatMessage.Status.PENDING
    stream_url = reverse(
        "chat:stream",
        kwargs={"handle": "faraday", "session_id": session.pk, "message_id": answer.pk},
    )
    assert f'sse-connect="{stream_url}"' in html
    assert 'class="msg msg-user"' in html and QUESTION in html
    # The page's chrome follows out of band: URL, title, export, drawer, questions left.
    assert response["HX-Replace-Url"] == f"/learn/faraday/chat/{session.pk}/"
    assert 'id="chat-title" class="chat-title" hx-swap-oob="true"' in html
    assert f"/learn/faraday/chat/{session.pk}/export/?format=md" in html
    assert f'id="session-{session.pk}"' in html
    assert "2 questions left." in html  # the free tier's 3 in total, one used
    # Pending answers are not history yet for the API or the export.
    api = client.get(f"/api/v1/chat/sessions/{session.pk}/messages?creator=faraday").json()
    assert [m["role"] for m in api["results"]] == ["user"]

    streamed = events(client.get(stream_url))
    names = [name for name, _ in streamed]
    assert names[0] == "delta" and names[-1] == "done" and names.count("done") == 1
    text = "".join(data for name, data in streamed if name == "delta")
    assert "Ireland" in text
    final = streamed[-1][1]
    assert 'class="msg msg-assistant"' in final and 'class="cite-card"' in final
    assert "Ireland" in final
    assert 'hx-swap-oob="true"' in final  # the drawer and title refreshed
    answer.refresh_from_db()
    assert answer.status == ChatMessage.Status.DONE and "Ireland" in answer.content

    # Reconnecting after the answer: the finished message at once, nothing answered twice.
    again = events(client.get(stream_url))
    assert [name for name, _ in again] == ["done"]
    assert again[0][1].split("<title>")[0] == final.split("<title>")[0]
    assert ChatMessage.objects.filter(session=session, role="assistant").count() == 1
    # The history page renders the same message partial.
    page = client.get(f"/learn/faraday/chat/{session.pk}/").content.decode()
    assert final.split("<title>")[0].strip() in page


def test_deltas_are_escaped_text(library):
    creator, student, client = library
    markup = "What is <b>bold</b> & <script>x</script> candle-wood from Ireland?"
    client.post(ask_url(creator), {"message": markup}, **HTMX)
    answer = ChatMessage.objects.get(session__user=student, role="assistant")
    stream_url = reverse(
        "chat:stream",
        kwargs={"handle": "faraday", "session_id": answer.session_id, "message_id": answer.pk},
    )
    for name, data in events(client.get(stream_url)):
        if name == "delta":
            assert "<" not in data and ">" not in data
        else:
            assert "<script>" not in data


def test_stream_closed_mid_answer_is_answered_on_reconnect(library):
    creator, student, _client = library
    pending = chat_question_save(user=student, creator=creator, message=QUESTION)
    stream = chat_answer_stream(user=student, creator=creator, message_id=pending.answer.pk)
    first = next(stream)
    assert first["event"] == "delta"
    pending.answer.refresh_from_db()
    assert pending.answer.status == ChatMessage.Status.ANSWERING
    stream.close()  # the client went away
    pending.answer.refresh_from_db()
    assert pending.answer.status == ChatMessage.Status.PENDING
    retried = list(chat_answer_stream(user=student, creator=creator, message_id=pending.answer.pk))
    assert retried[-1]["event"] == "done" and "Ireland" in retried[-1]["answer"]


def test_another_students_answer_stream_is_404(library):
    creator, student, _client = library
    pending = chat_question_save(user=student, creator=creator, message=QUESTION)
    intruder = Client()
    intruder.force_login(MembershipFactory(creator=creator).user)
    stream_url = reverse(
        "chat:stream",
        kwargs={
            "handle": "faraday",
            "session_id": pending.session.pk,
            "message_id": pending.answer.pk,
        },
    )
    assert intruder.get(stream_url).status_code == 404
    pending.answer.refresh_from_db()
    assert pending.answer.status == ChatMessage.Status.PENDING


def test_without_js_the_form_post_answers_and_redirects(library):
    creator, student, client = library
    response = client.post(ask_url(creator), {"message": QUESTION})
    session = ChatSession.objects.get(user=student, creator=creator)
    assert response.status_code == 302
    assert response["Location"] == f"/learn/faraday/chat/{session.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "Ireland" in page and 'class="cite-card"' in page
    assert "sse-connect" not in page
    # A starter question (a submit button of the same form) is a question too.
    response = client.post(
        ask_url(creator),
        {"message": "", "starter": "What is the candle-wood?", "session_id": session.pk},
    )
    assert response.status_code == 302
    assert ChatMessage.objects.filter(session=session, role="user").count() == 2


def test_refused_question_comes_back_and_the_limit_is_a_friendly_bubble(library):
    creator, _student, client = library
    response = client.post(ask_url(creator), {"message": "x" * 4001}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "msg-error" in html and "limited to 4000 characters" in html
    assert 'data-retry="xxxx' in html  # chat.js puts it back in the box
    for _ in range(3):
        assert (
            "sse-connect"
            in client.post(ask_url(creator), {"message": QUESTION}, **HTMX).content.decode()
        )
    response = client.post(ask_url(creator), {"message": QUESTION}, **HTMX)
    html = response.content.decode()
    assert "msg-assistant msg-limit" in html and "msg-assistant msg-error" not in html
    assert "No more questions for now" in html
    assert re.search(r"asked all 3 of your questions", html)
    # Without JS the same refusal is a message on the page the form came from.
    response = client.post(ask_url(creator), {"message": QUESTION}, follow=True)
    assert "asked all 3 of your questions" in response.content.decode()


def test_the_lesson_panel_asks_within_its_course_without_the_chat_chrome(library):
    """The lesson page's "Ask about this lesson" form (panel=lesson): the question is scoped
    to the course and records the lesson's video and second; htmx gets the bubbles and only
    the panel's session id out of band, and the final event carries no chat-page chrome.
    The citation cards show the lecture's own label (video_label), the full title kept."""
    from courses import services as course_services

    creator, student, client = library
    from videos.models import Video

    video = Video.objects.get(creator=creator)
    course = course_services.course_create(creator=creator, title="Candles")
    course_services.course_update(course=course, status="published")
    module = course_services.module_create(course=course, title="One")
    course_services.lesson_create(module=module, video_id=video.pk)
    form = {
        "message": QUESTION, "panel": "lesson", "course_id": course.pk,
        "video_id": video.pk, "position": "108.5", "session_id": "",
    }  # fmt: skip
    response = client.post(ask_url(creator), form, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    session = ChatSession.objects.get(user=student, creator=creator)
    assert session.course_id == course.pk
    question = ChatMessage.objects.get(session=session, role="user")
    assert (question.video_id, question.video_position) == (video.pk, 108.5)
    assert "?panel=lesson" in html and 'class="msg msg-user"' in html
    assert f'id="ask-session-id" name="session_id" value="{session.pk}" hx-swap-oob' in html
    assert "chat-title" not in html and "session-list" not in html
    assert "HX-Replace-Url" not in response
    stream_url = re.search(r'sse-connect="([^"]+)"', html).group(1).replace("&amp;", "&")
    done = [data for name, data in events(client.get(stream_url)) if name == "done"]
    assert len(done) == 1 and "cite-card" in done[0], done
    assert "hx-swap-oob" not in done[0] and "chat-title" not in done[0]
    assert f'title="{video.title}"' in done[0]  # the card's full title; its label is shown


def test_the_lesson_panel_without_js_answers_and_keeps_next_on_this_site(library):
    creator, student, client = library
    response = client.post(ask_url(creator), {"message": QUESTION, "panel": "lesson"})
    session = ChatSession.objects.get(user=student, creator=creator)
    assert response.status_code == 302 and response["Location"].endswith(f"/{session.pk}/")
    refused = client.post(ask_url(creator), {"message": "", "next": "https://evil.example/"})
    assert refused.status_code == 302 and refused["Location"] == "/learn/faraday/chat/"
    back = client.post(ask_url(creator), {"message": "", "next": "/learn/faraday/"})
    assert back["Location"] == "/learn/faraday/"
