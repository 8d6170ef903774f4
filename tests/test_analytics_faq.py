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
