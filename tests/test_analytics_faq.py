""" "Answer this": a creator's answer to a question the videos did not cover becomes a FAQ
entry, and the tutor gives it — labelled and cited as the creator's — for later similar
questions (through the real chat service, REST API and chat page)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.rollups import rollup_update
from chat.faq import FAQ_LABEL, faq_match
from chat.models import ChatMessage, CreatorFAQ
from chat.services import chat_ask
from tests.analytics_support import ask
from tests.chat_library import build_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def uncovered(creator, student):
    build_rows(creator, "faraday-1")  # a processed lecture, so the chat has a library
    question = ask(
        creator=creator,
        user=student,
        text="Will the candle lectures be on the final exam?",
        at=timezone.now() - timedelta(hours=2),
        covered=False,
    )
    rollup_update(creator=creator)
    return question


def test_answer_this_creates_faq_and_the_tutor_cites_it(
    owner_client, client, creator, student, uncovered
):
    page = owner_client.get("/studio/acme/analytics/?range=7d").content.decode()
    assert f"/studio/acme/analytics/questions/{uncovered.pk}/answer/" in page
    response = owner_client.post(
        f"/studio/acme/analytics/questions/{uncovered.pk}/answer/",
        {"answer": "No exam: the course has a short quiz at the end instead."},
    )
    assert response.status_code == 302
    faq = CreatorFAQ.objects.get(creator=creator)
    assert faq.source_message_id == uncovered.pk and faq.created_by == creator.owner

    # A later, differently worded but similar question gets the creator's answer, cited.
    result = chat_ask(
        user=student, creator=creator, message="is there a final exam on the lectures?"
    )
    assert result.covered is True
    assert "No exam: the course has a short quiz" in result.answer
    assert result.answer.startswith(f"**{FAQ_LABEL}**")
    assert result.citations == [
        {**result.citations[0], "kind": "faq", "faq_id": faq.pk, "label": FAQ_LABEL}
    ]
    stored = ChatMessage.objects.get(pk=result.message_id)
    assert stored.covered and stored.citations[0]["kind"] == "faq"

    # The chat page renders the FAQ citation as a labelled card, not a play button.
    client.force_login(student)
    chat_page = client.get(f"/learn/acme/chat/{result.session_id}/")
    assert chat_page.status_code == 200
    assert 'class="cite-card cite-faq"' in chat_page.content.decode()
    assert (
        client.get(f"/api/v1/chat/sessions/{result.session_id}/messages").json()["results"][-1][
            "citations"
        ][0]["stream_url"]
        == ""
    )

    # An unrelated question is not answered from the FAQ.
    assert faq_match(creator=creator, question="Why does the flame point upwards?") is None


def test_answer_this_validates_and_stays_in_tenant(
    owner_client, client, creator, other_creator, uncovered
):
    owner_client.post(f"/studio/acme/analytics/questions/{uncovered.pk}/answer/", {"answer": " "})
    assert not CreatorFAQ.objects.exists()  # empty answer: a message, nothing saved
    client.force_login(other_creator.owner)
    response = client.post(
        f"/studio/globex/analytics/questions/{uncovered.pk}/answer/", {"answer": "Mine now"}
    )
    assert response.status_code == 404
    assert not CreatorFAQ.objects.exists()


def test_a_closest_moment_the_creator_confirms_answers_later_similar_questions(
    owner_client, client, creator, other_creator, student
):
    """A refusal that offered closest moments lists them under the question on the
    dashboard; "This moment answers it" stores that moment (no words needed), and a later
    similar question is answered citing it, playable; only in scopes that hold its video,
    and not once the video is deleted."""
    from courses.models import Course, Lesson, Module

    video = build_rows(creator, "faraday-1")
    question = ask(
        creator=creator,
        user=student,
        text="Where did coal miners get their candles from?",
        at=timezone.now() - timedelta(hours=2),
        covered=False,
    )
    moments = [
        {"video_id": video.pk, "video_title": video.title, "start": 181.315, "end": 214.375,
         "quote": "They are, or were, the candles used by the miners in coal mines.",
         "score": 1.84},
        {"video_id": video.pk, "video_title": video.title, "start": 627.0, "end": 649.0,
         "quote": "the flame of a candle", "score": 1.6},
    ]  # fmt: skip
    reply = ChatMessage.objects.get(session=question.session, role="assistant")
    reply.nearest = moments
    reply.save(update_fields=["nearest"])
    rollup_update(creator=creator)
    answer_url = f"/studio/acme/analytics/questions/{question.pk}/answer/"

    page = owner_client.get("/studio/acme/analytics/?range=7d").content.decode()
    assert page.count("This moment answers it") == 2
    assert f"/media/videos/{video.pk}/file/#t=181.3" in page

    # A moment the reply did not offer: a message, nothing saved.
    owner_client.post(answer_url, {"moment": "2"})
    assert not CreatorFAQ.objects.exists()
    owner_client.post(answer_url, {"moment": "0"})
    faq = CreatorFAQ.objects.get(creator=creator)
    assert (faq.video_id, faq.start, faq.end, faq.answer) == (video.pk, 181.315, 214.375, "")

    result = chat_ask(
        user=student, creator=creator, message="where did the coal miners get candles?"
    )
    assert result.covered and "[1]" in result.answer
    assert result.answer.startswith(f"**{FAQ_LABEL}**")
    (cited,) = result.citations  # the moment; no card for words the creator did not write
    assert (cited["video_id"], cited["start"], cited["n"]) == (video.pk, 181.315, 1)
    assert cited["stream_url"] == f"/media/videos/{video.pk}/file/"
    client.force_login(student)
    chat_page = client.get(f"/learn/acme/chat/{result.session_id}/").content.decode()
    assert 'class="cite-card" data-n="1"' in chat_page and 'data-start="181.315000"' in chat_page

    # Asked inside a course that does not hold the video: the moment is not cited there.
    course = Course.objects.create(
        creator=creator, title="Lecture II", slug="lecture-ii", status=Course.Status.PUBLISHED
    )
    module = Module.objects.create(creator=creator, course=course, title="Module 1")
    Lesson.objects.create(
        creator=creator, module=module, video=build_rows(creator, "faraday-2"), title="II"
    )
    in_course = chat_ask(
        user=student,
        creator=creator,
        message="where did the coal miners get candles?",
        course_id=course.pk,
    )
    assert all(c.get("video_id") != video.pk for c in in_course.citations)
    assert not in_course.answer.startswith(f"**{FAQ_LABEL}**")

    # Another creator cannot confirm a moment of this question.
    intruder = client
    intruder.force_login(other_creator.owner)
    assert (
        intruder.post(
            f"/studio/globex/analytics/questions/{question.pk}/answer/", {"moment": "1"}
        ).status_code
        == 404
    )
    assert CreatorFAQ.objects.count() == 1

    # The video deleted: the entry has nothing left to say, so retrieval answers instead.
    video.delete()
    later = chat_ask(
        user=student, creator=creator, message="where did the coal miners get candles?"
    )
    assert not later.answer.startswith(f"**{FAQ_LABEL}**")
