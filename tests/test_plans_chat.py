"""The question allowance on the real ask path: a free student's fourth question through
POST /api/v1/chat is a 429 {"code": "question_limit"}; the chat page says how many are left."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from billing.models import QuestionUsage
from tests.chat_library import library_fixture

lib = library_fixture("plans-chat")
QUESTION = "What is the flame of a candle made of?"


@pytest.fixture(autouse=True)
def _offline(settings):
    settings.CHRONOS_ANSWERER = "extractive"
    settings.CHRONOS_EMBEDDER = "none"


def ask(client, creator):
    return client.post(
        "/api/v1/chat",
        data=json.dumps({"message": QUESTION, "creator": creator.handle}),
        content_type="application/json",
    )


@pytest.mark.django_db
def test_free_students_fourth_question_is_a_429_and_the_page_says_so(lib):
    creator = lib.creator
    creator.tier = "free"
    creator.save()
    QuestionUsage.objects.filter(creator=creator).delete()
    client = Client()
    client.force_login(lib.student)
    assert [ask(client, creator).status_code for _ in range(3)] == [200, 200, 200]
    refused = ask(client, creator)
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "question_limit" and body["resets_at"] is None
    assert "all 3 of your questions" in body["error"]
    page = client.get(f"/learn/{creator.handle}/chat/")
    assert "You've used all your questions" in page.content.decode()
