"""The student chat pages (/learn/<handle>/...): access rules, history rendering, and the
session list actions (search, rename, delete, export), all scoped to the acting user."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from chat.models import ChatMessage, ChatSession
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def make_session(*, creator, user, title="Candle flames", question="Why does a candle burn?"):
    """A stored conversation: one question and one cited answer."""
    session = ChatSession.objects.create(creator=creator, user=user, title=title)
    ChatMessage.objects.create(creator=creator, session=session, role="user", content=question)
    ChatMessage.objects.create(
        creator=creator,
        session=session,
        role="assistant",
        content="Quoted from the videos:\n\n> The wax melts and rises up the wick [1].",
        citations=[
            {
                "video_id": 7,
                "video_title": "The Chemical History of a Candle",
                "start": 342.4,
                "end": 351.0,
                "quote": "The wax melts and rises up the wick.",
                "score": 0.8,
            }
        ],
        covered=True,
    )
    return session


def url(name, creator, **kwargs):
    return reverse(f"chat:{name}", kwargs={"handle": creator.handle, **kwargs})


# ---- access --------------------------------------------------------------------------


def test_signed_out_is_sent_to_login(client, creator):
    response = client.get(url("home", creator))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_non_member_gets_404(client, creator):
    client.force_login(UserFactory())
    assert client.get(url("home", creator)).status_code == 404
    assert client.get(url("sessions", creator)).status_code == 404


def test_lapsed_membership_gets_404(client, creator):
    membership = MembershipFactory(creator=creator, status="canceled")
    client.force_login(membership.user)
    assert client.get(url("home", creator)).status_code == 404


def test_member_of_another_creator_gets_404(client, creator, other_creator):
    client.force_login(MembershipFactory(creator=other_creator).user)
    assert client.get(url("home", creator)).status_code == 404


def test_member_sees_chat_page(student_client, creator):
    response = student_client.get(url("home", creator))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="chat-composer"' in html
    # The question is a plain form POST (htmx enhances it; it works without JS).
    assert 'action="/learn/acme/chat/ask/"' in html
    # Nothing processed yet: a clear empty state and a disabled composer.
    assert "No videos to ask about yet" in html
    assert "disabled" in html.split('id="chat-input"')[1].split(">")[0]


def test_other_users_session_is_404_on_every_route(client, creator, student):
    mine = make_session(creator=creator, user=student)
    intruder = MembershipFactory(creator=creator).user  # same creator, different student
    client.force_login(intruder)
    sid = {"session_id": mine.pk}
    assert client.get(url("session", creator, **sid)).status_code == 404
    assert client.get(url("rename", creator, **sid), **HTMX).status_code == 404
    assert client.post(url("rename", creator, **sid), {"title": "x"}, **HTMX).status_code == 404
    assert client.post(url("delete", creator, **sid), **HTMX).status_code == 404
    assert client.get(url("export", creator, **sid) + "?format=json").status_code == 404
    mine.refresh_from_db()
    assert mine.title == "Candle flames"
    # and it never shows up in the intruder's list or search
    body = client.get(url("sessions", creator) + "?q=Candle", **HTMX).content.decode()
    assert "Candle flames" not in body


def test_session_of_another_creator_is_404(client, creator, other_creator):
    user = MembershipFactory(creator=creator).user
    MembershipFactory(creator=other_creator, user=user)
    theirs = make_session(creator=other_creator, user=user, title="Globex talk")
    client.force_login(user)
    # The right user, but reached through the wrong creator's URL.
    response = client.get(url("session", creator, session_id=theirs.pk))
    assert response.status_code == 404


# ---- rendering -----------------------------------------------------------------------


def test_history_renders_escaped_question_and_sanitised_answer(student_client, creator, student):
    session = make_session(
        creator=creator,
        user=student,
        title="<script>alert('title')</script>",
        question="Is <script>alert('q')</script> a candle?",
    )
    html = student_client.get(url("session", creator, session_id=session.pk)).content.decode()
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(&#x27;title&#x27;)&lt;/script&gt;" in html
    assert "Is &lt;script&gt;alert(&#x27;q&#x27;)&lt;/script&gt; a candle?" in html
    # The stored Markdown answer is rendered (blockquote) and its citation is a card
    # that plays video 7 from 342.4 s, labelled 5:42.
    assert "<blockquote>" in html
    assert 'data-video-id="7"' in html
    assert 'data-start="342.400000"' in html
    assert "▶ 5:42" in html
    assert "The wax melts and rises up the wick." in html


def _page_with_answer(client, creator, student, content: str, covered: bool = True) -> str:
    """The chat page of a new session of `student` holding one stored answer."""
    session = make_session(creator=creator, user=student)
    ChatMessage.objects.create(
        creator=creator, session=session, role="assistant", content=content, covered=covered
    )
    return client.get(url("session", creator, session_id=session.pk)).content.decode()


def test_script_in_stored_answer_is_not_rendered(student_client, creator, student):
    html = _page_with_answer(
        student_client,
        creator,
        student,
        'Hi <img src=x onerror="alert(1)"> <script>alert(2)</script>',
    )
    assert "<img src=x" not in html
    assert "<script>alert(2)" not in html


def test_uncovered_answer_shows_friendly_bubble_without_cards(student_client, creator, student):
    html = _page_with_answer(
        student_client, creator, student, "The videos don't cover this.", covered=False
    )
    assert "msg-uncovered" in html
    uncovered = html.split('msg-uncovered"')[1].split("</article>")[0]
    assert "cite-card" not in uncovered
    assert "Try asking in other words" in uncovered


def test_an_uncovered_answer_that_says_why_is_shown_without_the_generic_heading(
    student_client, creator, student
):
    """ "Lecture II isn't open to you yet" is not "the videos don't cover this": the
    bubble shows the reason alone, not a heading and a tip that contradict it."""
    html = _page_with_answer(
        student_client,
        creator,
        student,
        "\u201cLecture II\u201d isn't open to you yet, so I can't go through it.",
        covered=False,
    )
    uncovered = html.split('msg-uncovered"')[1].split("</article>")[0]
    assert "open to you yet" in uncovered
    assert "don't cover this" not in uncovered and "Try asking in other words" not in uncovered


# ---- session list actions --------------------------------------------------------------


def test_search_filters_own_sessions_by_title_and_text(student_client, creator, student):
    make_session(creator=creator, user=student, title="Candle flames")
    make_session(
        creator=creator, user=student, title="Gas jars", question="What is in the chimney?"
    )
    body = student_client.get(url("sessions", creator) + "?q=chimney", **HTMX).content.decode()
    assert "Gas jars" in body and "Candle flames" not in body
    body = student_client.get(url("sessions", creator) + "?q=zebra", **HTMX).content.decode()
    assert "No conversation matches" in body
    body = student_client.get(url("sessions", creator), **HTMX).content.decode()
    assert "Gas jars" in body and "Candle flames" in body


def test_rename_inline(student_client, creator, student):
    session = make_session(creator=creator, user=student)
    rename_url = url("rename", creator, session_id=session.pk)
    form = student_client.get(rename_url, **HTMX).content.decode()
    assert 'name="title"' in form and 'value="Candle flames"' in form
    response = student_client.post(
        rename_url, {"title": "  Wax and   wicks ", "current": session.pk}, **HTMX
    )
    assert response.status_code == 200
    session.refresh_from_db()
    assert session.title == "Wax and wicks"
    body = response.content.decode()
    assert "Wax and wicks" in body and 'hx-swap-oob="true"' in body


def test_rename_rejects_blank_title(student_client, creator, student):
    session = make_session(creator=creator, user=student)
    response = student_client.post(
        url("rename", creator, session_id=session.pk), {"title": "   "}, **HTMX
    )
    assert "Give the conversation a name." in response.content.decode()
    session.refresh_from_db()
    assert session.title == "Candle flames"


def test_rename_without_htmx_redirects(student_client, creator, student):
    session = make_session(creator=creator, user=student)
    response = student_client.post(
        url("rename", creator, session_id=session.pk), {"title": "Plain form"}
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.title == "Plain form"


def test_delete(student_client, creator, student):
    keep = make_session(creator=creator, user=student, title="Keep me")
    gone = make_session(creator=creator, user=student, title="Delete me")
    response = student_client.post(url("delete", creator, session_id=gone.pk), **HTMX)
    assert response.status_code == 200
    assert "HX-Redirect" not in response  # deleted from another page: the item just goes
    assert not ChatSession.objects.filter(pk=gone.pk).exists()
    assert not ChatMessage.objects.filter(session_id=gone.pk).exists()
    assert ChatSession.objects.filter(pk=keep.pk).exists()


def test_delete_open_session_redirects_to_new_chat(student_client, creator, student):
    session = make_session(creator=creator, user=student)
    session_url = url("session", creator, session_id=session.pk)
    response = student_client.post(
        url("delete", creator, session_id=session.pk),
        HTTP_HX_CURRENT_URL=f"http://testserver{session_url}",
        **HTMX,
    )
    assert response["HX-Redirect"] == url("home", creator)


def test_delete_requires_post(student_client, creator, student):
    session = make_session(creator=creator, user=student)
    assert student_client.get(url("delete", creator, session_id=session.pk)).status_code == 405
    assert ChatSession.objects.filter(pk=session.pk).exists()


def test_export_markdown_and_json(student_client, creator, student):
    session = make_session(creator=creator, user=student)
    export_url = url("export", creator, session_id=session.pk)

    md = student_client.get(export_url + "?format=md")
    assert md.status_code == 200
    assert md["Content-Type"].startswith("text/markdown")
    assert "attachment" in md["Content-Disposition"]
    assert f"candle-flames-{session.pk}.md" in md["Content-Disposition"]
    assert "Why does a candle burn?" in md.content.decode()

    js = student_client.get(export_url + "?format=json")
    assert js.status_code == 200
    assert js["Content-Type"].startswith("application/json")
    data = json.loads(js.content)
    assert "Why does a candle burn?" in json.dumps(data)
    for key in ("input_tokens", "output_tokens", "cost_usd", "latency_ms"):  # creator's data
        assert all(key not in m for m in data["messages"]), key

    assert student_client.get(export_url + "?format=pdf").status_code == 400


def test_rename_error_without_htmx_is_flashed_on_the_session_page(student_client, creator, student):
    session = make_session(creator=creator, user=student)
    response = student_client.post(
        url("rename", creator, session_id=session.pk), {"title": ""}, follow=True
    )
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == url("session", creator, session_id=session.pk)
    assert 'class="message message-error">Give the conversation a name.</div>' in html
    # The page's own history is not confused with Django's flash messages.
    assert "&#x27;role&#x27;" not in html and "'role'" not in html


def test_session_page_queries_do_not_grow_with_history(
    student_client, creator, student, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    session = make_session(creator=creator, user=student)
    page = url("session", creator, session_id=session.pk)
    with CaptureQueriesContext(connection) as short:
        assert student_client.get(page).status_code == 200
    for i in range(10):
        make_session(creator=creator, user=student, title=f"Other {i}")
        ChatMessage.objects.create(
            creator=creator, session=session, role="user", content=f"Follow-up {i}"
        )
    with django_assert_max_num_queries(len(short.captured_queries)):
        response = student_client.get(page)
    assert response.content.decode().count("Follow-up") == 10
