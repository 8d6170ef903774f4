"""`manage.py ask`: answers on stdout; --json prints exactly one JSON object."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.chat_library import library_fixture

lib = library_fixture("faraday-cli")


@pytest.fixture(autouse=True)
def _offline(settings):
    settings.CHRONOS_ANSWERER = "extractive"
    settings.CHRONOS_EMBEDDER = "none"


def _ask(*args) -> str:
    out = StringIO()
    call_command("ask", *args, stdout=out)
    return out.getvalue()


def test_json_prints_exactly_one_object(db, lib):
    out = _ask(
        "--creator", lib.creator.handle, "Where was the paraffin wax obtained from?", "--json"
    )
    data = json.loads(out)  # raises if anything else is on stdout
    assert set(data) == {"answer", "citations", "covered", "nearest", "session_id"}
    assert data["covered"] is True
    citation = data["citations"][0]
    assert set(citation) == {"video_id", "video_title", "start", "end", "quote", "score"}
    assert citation["video_id"] == lib.videos["faraday-1"].pk
    assert "paraffin" in citation["quote"]


def test_json_out_of_scope(db, lib):
    data = json.loads(
        _ask("--creator", lib.creator.handle, "Who won the football world cup in 2018?", "--json")
    )
    session_id = data.pop("session_id")
    assert isinstance(session_id, int)
    # far from every passage: not even a closest moment to offer
    assert data == {
        "answer": "The videos don't cover this.",
        "citations": [],
        "covered": False,
        "nearest": [],
    }


def test_course_option_limits_the_scope(db, lib):
    from courses.models import Course, Lesson, Module

    course = Course.objects.create(creator=lib.creator, title="Two", slug="two")
    module = Module.objects.create(creator=lib.creator, course=course, title="M")
    Lesson.objects.create(
        creator=lib.creator, module=module, video=lib.videos["faraday-2"], title="L"
    )
    data = json.loads(
        _ask(
            "--creator",
            lib.creator.handle,
            "Why do flames rise upwards?",
            "--course",
            str(course.pk),
            "--json",
        )
    )
    assert {c["video_id"] for c in data["citations"]} == {lib.videos["faraday-2"].pk}


def test_plain_output_lists_timestamps(db, lib):
    out = _ask(
        "--creator", lib.creator.handle, "Why does a candle go out when you turn it upside down?"
    )
    assert out.startswith("\u201cFaraday - The Chemical History of a Candle - Lecture 1\u201d")
    from chat.formatting import format_timestamp

    assert "[1] " in out and format_timestamp(lib.cue("faraday-1", 157)["start"]) in out


def test_errors_are_clear(db, lib, creator):
    with pytest.raises(CommandError, match="No creator"):
        _ask("--creator", "nobody", "hello?")
    with pytest.raises(CommandError, match="no processed videos"):
        _ask("--creator", creator.handle, "hello?")
    with pytest.raises(CommandError, match="Type a question"):
        _ask("--creator", lib.creator.handle, "   ")
