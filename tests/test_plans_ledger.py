"""The chat's ledger rows carry who asked and in which course (the Costs page's per-course
and per-student breakdowns come from them); the answer payload says how many questions are
left; `manage.py ask` counts against the creator's monthly AI questions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.cache import caches
from django.core.management import CommandError, call_command
from django.test import Client

from billing.costs import cost_report
from billing.models import QuestionUsage, UsageLedgerEntry
from chat.services import chat_ask_stream
from tests.chat_library import library_fixture
from tests.loopback import loopback_server
from tests.test_answerers import _use_anthropic, anthropic_handler
from tests.test_chat_api import _sse_events

lib = library_fixture("plans-ledger")
QUESTION = "Is fresh air needed for something to burn?"


@pytest.fixture(autouse=True)
def _settings(settings, db, lib):
    settings.CHRONOS_EMBEDDER = "none"
    settings.CHRONOS_ANSWERER = "auto"
    settings.CHRONOS_PROVIDER_MAX_RETRIES = 0
    settings.ANTHROPIC_API_KEY = ""
    settings.OPENAI_API_KEY = ""
    caches["ratelimit"].clear()
    QuestionUsage.objects.filter(creator=lib.creator).delete()  # rolled back after the test
    return settings


def _course_with(creator, video, title="Candles, lecture two"):
    from courses.models import Course, Lesson, Module

    course = Course.objects.create(
        creator=creator, title=title, slug="candles-two", status="published"
    )
    module = Module.objects.create(creator=creator, course=course, title="M")
    Lesson.objects.create(creator=creator, module=module, video=video, title="L")
    return course


def test_a_paid_answer_records_the_student_course_and_video(lib, settings):
    creator, student = lib.creator, lib.student
    video = lib.videos["faraday-2"]
    course = _course_with(creator, video)
    with loopback_server(anthropic_handler(["Fresh air is necessary [1]."])) as server:
        _use_anthropic(settings, server)
        events = list(
            chat_ask_stream(
                user=student,
                creator=creator,
                message=QUESTION,
                course_id=course.pk,
                video_id=video.pk,
                position=30,
            )
        )
        assert not server.errors
    done = events[-1]
    assert done["event"] == "done"
    rows = UsageLedgerEntry.objects.filter(creator=creator, operation__in=["chat", "title"])
    assert {r.operation for r in rows} == {"chat", "title"}
    for row in rows:
        assert (row.user_id, row.course_id) == (student.pk, course.pk), row.operation
    chat_row = rows.get(operation="chat")
    assert chat_row.video_id == video.pk and chat_row.usd > 0
    # The Costs page's breakdowns name the course and the student, with the ledger's sums.
    report = cost_report(creator=creator)
    by_course = {r["label"]: r for r in report.by_course}
    assert by_course[course.title]["usd"] == sum(r.usd for r in rows)
    top = {r["label"]: r for r in report.top_students}
    assert top[str(student)]["usd"] == sum(r.usd for r in rows)
    assert top[str(student)]["questions"] == 1


def test_the_answer_says_how_many_questions_are_left(lib):
    creator, student = lib.creator, lib.student
    creator.tier = "free"
    creator.save(update_fields=["tier"])
    try:
        client = Client()
        client.force_login(student)
        body = {"message": QUESTION, "creator": creator.handle}
        first = client.post("/api/v1/chat", json.dumps(body), content_type="application/json")
        assert first.status_code == 200, first.content
        assert first.json()["allowance"] == {
            "remaining": 2,
            "allowed": 3,
            "period": "total",
            "resets_at": None,
            "few_left": True,
            "text": "2 questions left",
        }
        streamed = client.post(
            "/api/v1/chat", json.dumps({**body, "stream": True}), content_type="application/json"
        )
        events = dict(_sse_events(streamed))
        assert events["done"]["allowance"]["text"] == "1 question left"
    finally:
        creator.tier = "pro"
        creator.save(update_fields=["tier"])


def _ask(*args) -> str:
    out = StringIO()
    call_command("ask", *args, stdout=out)
    return out.getvalue()


def test_the_ask_command_counts_against_the_month_and_is_refused_at_the_limit(lib, settings):
    settings.CHRONOS_ANSWERER = "extractive"
    creator = lib.creator
    creator.tier = "free"  # 100 AI questions a month, all students together
    creator.save(update_fields=["tier"])
    try:
        _ask("--creator", creator.handle, QUESTION, "--json")
        counted = QuestionUsage.objects.get(creator=creator)
        assert counted.source == "cli" and counted.user_id == creator.owner_id
        now = datetime.now(UTC)
        QuestionUsage.objects.bulk_create(
            [QuestionUsage(creator=creator, asked_at=now) for _ in range(99)]
        )
        with pytest.raises(CommandError, match="all 100 AI questions of this month"):
            _ask("--creator", creator.handle, QUESTION, "--json")
        assert QuestionUsage.objects.filter(creator=creator).count() == 100
    finally:
        creator.tier = "pro"
        creator.save(update_fields=["tier"])
