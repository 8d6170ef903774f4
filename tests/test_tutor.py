"""The tutor's conversation: follow-ups (offline carry; the LLM's standalone rewrite
through the real anthropic and openai SDKs against loopback servers), the player's
position, lecture outlines, `manage.py ask --session`, the REST fields."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from chat.answerers import heuristic_title
from chat.models import ChatMessage, ChatSession
from chat.services import chat_ask
from tests.chat_library import library_fixture
from tests.loopback import Response, loopback_server
from tests.test_answerers import (
    _use_anthropic,
    _use_openai,
    anthropic_message,
    anthropic_stream,
    openai_stream,
)

lib = library_fixture("faraday-tutor")


@pytest.fixture(autouse=True)
def _offline(settings):
    settings.CHRONOS_ANSWERER = "extractive"
    settings.CHRONOS_EMBEDDER = "none"
    settings.ANTHROPIC_API_KEY = ""
    settings.OPENAI_API_KEY = ""


def _cue(lib, name, index):
    return lib.cue(name, index)


def test_offline_follow_up_carries_the_previous_question(db, lib):
    first = chat_ask(
        user=lib.student,
        creator=lib.creator,
        message="Why does a candle turned upside down go out?",
    )
    assert first.covered
    follow = chat_ask(
        user=lib.student,
        creator=lib.creator,
        message="Can you explain that in simpler terms?",
        session_id=first.session_id,
    )
    assert follow.covered, follow.answer
    video = lib.videos["faraday-1"]
    # The moment: the fuel running onto the wick puts the flame out (cues 157-158).
    lo, hi = _cue(lib, "faraday-1", 157)["start"], _cue(lib, "faraday-1", 158)["end"]
    assert any(
        c["video_id"] == video.pk and c["start"] <= hi + 5 and c["end"] >= lo - 5
        for c in follow.citations
    ), follow.citations
    # Alone, with no conversation, "that" refers to nothing: the tutor asks what it means
    # instead of citing passages matched on "explain" and "terms".
    alone = chat_ask(
        user=lib.student, creator=lib.creator, message="Can you explain that in simpler terms?"
    )
    assert not alone.citations and "What does “that” refer to?" in alone.answer


def test_a_refused_exchange_carries_nothing_into_the_next_question(db, lib):
    refused = chat_ask(user=lib.student, creator=lib.creator, message="Who won the 2018 cup?")
    assert not refused.covered
    # Three content words make it look like a follow-up; there is nothing to follow.
    named = chat_ask(
        user=lib.student,
        creator=lib.creator,
        message="What does Faraday say about the wick?",
        session_id=refused.session_id,
    )
    alone = chat_ask(
        user=lib.student, creator=lib.creator, message="What does Faraday say about the wick?"
    )
    assert named.covered and [c["start"] for c in named.citations] == [
        c["start"] for c in alone.citations
    ]


def test_moments_near_the_previous_answer_rank_first_but_are_not_cited_for_nearness(db, lib):
    """A follow-up's search is biased toward the moments the previous answer cited
    (retrieve's `near`): of the moments that answer, the one next to them comes before the
    others that answer as well. The
    bias orders; it is no evidence: near a passage that says nothing of the question (the
    opening of lecture 2), what is cited and whether it is covered do not change."""
    from chat.retrieval import retrieve, scope_resolve

    scope = scope_resolve(creator=lib.creator)
    question = "Why does a candle turned upside down go out?"
    alone = retrieve(creator=lib.creator, scope=scope, question=question)
    # Fewer than five moments answer: a free place a moment owed to nearness could take.
    assert alone.covered and 3 <= len(alone.passages) < 5
    later = alone.passages[2]
    near = retrieve(
        creator=lib.creator,
        scope=scope,
        question=question,
        near=[(later.video_id, later.start, later.end)],
    )
    # The third moment (tied with the second) comes second; the first, better by more than
    # the bias (0.93 against 0.33 for both), stays first.
    order = [(p.video_id, p.start) for p in near.passages]
    assert order[:2] == [(alone.passages[0].video_id, alone.passages[0].start),
                         (later.video_id, later.start)], order  # fmt: skip
    opening = (lib.videos["faraday-2"].pk, 0.0, 20.0)
    beside = retrieve(creator=lib.creator, scope=scope, question=question, near=[opening])
    assert beside.covered == alone.covered
    assert {(p.video_id, p.start) for p in beside.passages} == {
        (p.video_id, p.start) for p in alone.passages
    }
    # Nor does nearness answer what the videos do not cover.
    cup = "Who won the 2018 cup?"
    assert not retrieve(creator=lib.creator, scope=scope, question=cup).covered
    assert not retrieve(creator=lib.creator, scope=scope, question=cup, near=[opening]).covered


def _rewrite_handler_anthropic(standalone: str, seen: list):
    def handler(req):
        body = req.json()
        if body.get("stream"):
            return anthropic_stream(["Capillary attraction carries it up [1]."])
        seen.append(body)
        return anthropic_message(standalone)

    return handler


def test_llm_rewrites_a_follow_up_as_a_standalone_question_anthropic(db, lib, settings):
    seen: list = []
    standalone = "How does capillary attraction bring the melted fuel up the wick?"
    with loopback_server(_rewrite_handler_anthropic(standalone, seen)) as server:
        _use_anthropic(settings, server)
        settings.CHRONOS_ANSWERER = "anthropic"
        first = chat_ask(
            user=lib.student,
            creator=lib.creator,
            message="How does the melted fuel get up the wick to the flame?",
        )
        seen.clear()
        follow = chat_ask(
            user=lib.student, creator=lib.creator, message="Why?", session_id=first.session_id
        )
        assert not server.errors
    rewrites = [b for b in seen if "Rewrite" in (b.get("system") or "")]
    assert len(rewrites) == 1
    sent = rewrites[0]["messages"][0]["content"]
    assert "How does the melted fuel get up the wick" in sent and "<question>Why?" in sent
    # The answer was retrieved with the standalone question: it cites capillary attraction.
    assert follow.covered
    assert any("capillary" in c["quote"].lower() for c in follow.citations), follow.citations


def test_llm_rewrites_a_follow_up_as_a_standalone_question_openai(db, lib, settings):
    seen: list = []
    standalone = "Why does a candle go out when it is turned upside down?"

    def handler(req):
        body = req.json()
        if body.get("stream"):
            return openai_stream(["The melted fuel puts it out [1]."])
        seen.append(body)
        return Response.json(
            {
                "id": "chatcmpl-9",
                "object": "chat.completion",
                "created": 1700000000,
                "model": "gpt-4o-mini",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": standalone},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 50, "completion_tokens": 12, "total_tokens": 62},
            }
        )

    with loopback_server(handler) as server:
        _use_openai(settings, server)
        settings.CHRONOS_ANSWERER = "openai"
        first = chat_ask(
            user=lib.student, creator=lib.creator, message="What happens to a candle upside down?"
        )
        seen.clear()
        follow = chat_ask(
            user=lib.student,
            creator=lib.creator,
            message="And why is that?",
            session_id=first.session_id,
        )
        assert not server.errors
    rewrites = [b for b in seen if "Rewrite" in b["messages"][0]["content"]]
    assert (
        len(rewrites) == 1 and "<question>And why is that?" in rewrites[0]["messages"][1]["content"]
    )
    lo = _cue(lib, "faraday-1", 157)["start"]
    assert follow.covered and any(abs(c["start"] - lo) < 15 for c in follow.citations)


def test_the_players_position_biases_retrieval_and_is_recorded(db, lib):
    video = lib.videos["faraday-2"]
    cue = _cue(lib, "faraday-2", 133)  # the piece of charcoal, ~1012 s
    result = chat_ask(
        user=lib.student,
        creator=lib.creator,
        message="What did he just say about that?",
        video_id=video.pk,
        position=cue["end"] + 3,
    )
    assert result.covered
    first = result.citations[0]
    assert first["video_id"] == video.pk and abs(first["start"] - cue["start"]) < 60
    asked = ChatMessage.objects.filter(role="user").latest("id")
    assert asked.video_id == video.pk and asked.video_position == pytest.approx(cue["end"] + 3)


@pytest.mark.parametrize(
    ("video_id", "position", "field"),
    [("x", 3, "video_id"), (999999, 3, "video_id"), (None, 3, None), ("own", -1, "position")],
)
def test_bad_position_is_a_clear_error(db, lib, video_id, position, field):
    from chronos.errors import DomainError

    vid = lib.videos["faraday-1"].pk if video_id == "own" else video_id
    if field is None:  # a position without a video is ignored
        assert chat_ask(user=lib.student, creator=lib.creator, message="Why do flames rise?",
                        video_id=vid, position=position)  # fmt: skip
        return
    with pytest.raises(DomainError) as exc:
        chat_ask(user=lib.student, creator=lib.creator, message="Why do flames rise?",
                 video_id=vid, position=position)  # fmt: skip
    assert field in exc.value.fields


def test_what_is_this_lecture_about_answers_with_its_outline(db, lib):
    video = lib.videos["faraday-2"]
    result = chat_ask(
        user=lib.student,
        creator=lib.creator,
        message="What is this lecture about?",
        video_id=video.pk,
        position=10,
    )
    assert result.covered and video.title in result.answer
    starts = [c["start"] for c in result.citations]
    assert len(starts) >= 4 and starts == sorted(starts)
    assert all(c["video_id"] == video.pk for c in result.citations)


def test_a_question_naming_a_lecture_by_title_gets_that_lectures_outline(db, lib):
    # The chat page's starter questions are phrased this way, across a two-lecture library.
    video = lib.videos["faraday-2"]
    question = f"What are the main ideas in “{video.title}”?"
    result = chat_ask(user=lib.student, creator=lib.creator, message=question)
    assert result.covered
    assert result.citations and all(c["video_id"] == video.pk for c in result.citations)


@pytest.mark.parametrize(
    ("question", "lecture"),
    [
        ("summarize lecture 2", "faraday-2"),
        ("What's the main point of lecture 1?", "faraday-1"),
        ("What is lecture II about?", "faraday-2"),
        ("Give me an overview of the second lecture", "faraday-2"),
    ],
)
def test_a_lecture_named_by_its_number_gets_its_outline(db, lib, question, lecture):
    # Titles end "... - Lecture 1 (excerpt)" and "... - Lecture 2": students say "lecture 2".
    video = lib.videos[lecture]
    result = chat_ask(user=lib.student, creator=lib.creator, message=question)
    assert result.covered, result.answer
    assert len(result.citations) >= 2
    assert all(c["video_id"] == video.pk for c in result.citations)


def test_a_numbered_lecture_outside_the_scope_is_not_outlined_from_another(db, lib):
    one, two = lib.videos["faraday-1"], lib.videos["faraday-2"]
    # From lecture 1's lesson, lecture 2 named: its outline, not the lesson's.
    asked = chat_ask(
        user=lib.student, creator=lib.creator, message="summarize lecture 2", video_id=one.pk
    )
    assert asked.citations and {c["video_id"] for c in asked.citations} == {two.pk}
    # Lecture 2 out of scope (a locked lesson's video is left out the same way): said so.
    only_one = chat_ask(
        user=lib.student, creator=lib.creator, message="summarize lecture 2", video_ids=[one.pk]
    )
    assert not only_one.covered and not only_one.citations
    assert only_one.answer.startswith(f"\u201c{two.title}\u201d isn't open to you yet")
    after = chat_ask(  # three content words: a follow-up, of an exchange with nothing to follow
        user=lib.student,
        creator=lib.creator,
        message="What does Faraday say about the wick?",
        session_id=only_one.session_id,
    )
    assert after.covered and after.citations, after.answer
    # A number no video carries is an ordinary question (refused here, not "locked").
    none = chat_ask(
        user=lib.student, creator=lib.creator, message="summarize lecture 7", video_ids=[one.pk]
    )
    assert "isn't open to you" not in none.answer


@pytest.mark.parametrize(
    "question", ["Can you give me a summary?", "What is the topic of the course?"]
)
def test_a_summary_of_several_lectures_outlines_each_in_turn(db, lib, question):
    result = chat_ask(user=lib.student, creator=lib.creator, message=question)
    assert result.covered, result.answer
    one, two = lib.videos["faraday-1"], lib.videos["faraday-2"]
    assert one.title in result.answer and two.title in result.answer
    cited = [c["video_id"] for c in result.citations]
    assert set(cited) == {one.pk, two.pk} and cited == sorted(cited, key=[one.pk, two.pk].index)


def test_lecture_numbers_and_summary_requests_are_read_from_the_words():
    from chat.retrieval.outline import is_outline_question, lecture_number

    assert is_outline_question("Can you summarise?") and is_outline_question("Summary please")
    # The word alone is not a request: this asks about flames (a development-set question).
    assert not is_outline_question("Is the outline of a large fire ever really there at once?")

    assert lecture_number("The Chemical History of a Candle — Lecture II: the Flame") == 2
    assert lecture_number("what is in the 3rd video?") == 3
    assert lecture_number("part xiv") == 14
    assert lecture_number("compare lecture 1 and lecture 2") is None  # names two
    assert lecture_number("I mix it in a civil way") is None


def test_small_talk_gets_the_tutors_own_reply_free_and_out_of_analytics(db, lib):
    from analytics.models import QuestionFact
    from analytics.rollups import rollup_update
    from billing.models import QuestionUsage

    used = QuestionUsage.objects.filter(creator=lib.creator).count()
    hello = chat_ask(user=lib.student, creator=lib.creator, message="Hi there!")
    assert hello.covered and not hello.citations
    assert ChatSession.objects.get(pk=hello.session_id).title == "New chat"
    assert "tutor" in hello.answer and "don't cover" not in hello.answer
    asked_text = "Why does a candle turned upside down go out?"
    asked = chat_ask(
        user=lib.student, creator=lib.creator, message=asked_text, session_id=hello.session_id
    )
    assert asked.covered and asked.citations
    # A chat opened with "hi" is named by its first question.
    assert ChatSession.objects.get(pk=hello.session_id).title == heuristic_title(asked_text)
    thanks = chat_ask(
        user=lib.student, creator=lib.creator, message="thanks!", session_id=hello.session_id
    )
    assert thanks.answer.startswith("You're welcome") and not thanks.citations
    # "thanks!" does not end the subject: a follow-up still carries the question before it.
    follow = chat_ask(
        user=lib.student,
        creator=lib.creator,
        message="Can you explain that in simpler terms?",
        session_id=hello.session_id,
    )
    assert follow.covered and follow.citations, follow.answer
    mixed = chat_ask(  # small talk with a question in it is a question
        user=lib.student, creator=lib.creator, message="hi, why does a candle point upwards?"
    )
    assert mixed.citations
    assert QuestionUsage.objects.filter(creator=lib.creator).count() == used + 3  # 3 questions
    rollup_update(creator=lib.creator)
    facts = QuestionFact.objects.filter(
        creator=lib.creator, message__session=asked.session_id
    ).order_by("message_id")
    assert [f.text for f in facts] == [
        "Why does a candle turned upside down go out?",
        "Can you explain that in simpler terms?",
    ]


def test_a_question_with_nothing_to_refer_to_asks_for_its_subject(db, lib):
    from analytics.models import QuestionFact
    from analytics.rollups import rollup_update
    from billing.models import QuestionUsage
    from chat.followups import dangling_reference

    for leaning in [
        "What is it used for?",
        "Why does that happen?",
        "Why?",
        "What does he mean by that?",
        "What is this about?",
        "Give me an example",
    ]:
        assert dangling_reference(leaning), leaning
    for named in [
        "How bright is it?",
        "What is the gas that burns?",
        "Why is it that wax melts?",
        "Why does a flame point upwards?",
        "Explain combustion",
        "What is this lecture about?",
        "What does Faraday say?",
    ]:
        assert not dangling_reference(named), named

    used = QuestionUsage.objects.filter(creator=lib.creator).count()
    first = chat_ask(user=lib.student, creator=lib.creator, message="What is it used for?")
    assert not first.citations and first.answer.startswith("What does “it” refer to?")
    assert ChatSession.objects.get(pk=first.session_id).title == "New chat"
    again = chat_ask(user=lib.student, creator=lib.creator, message="Why does that happen?",
                     session_id=first.session_id)  # fmt: skip
    assert not again.citations and "“that”" in again.answer
    named = "Why does a candle turned upside down go out?"
    asked = chat_ask(user=lib.student, creator=lib.creator, message=named,
                     session_id=first.session_id)  # fmt: skip
    assert asked.citations
    assert ChatSession.objects.get(pk=first.session_id).title == heuristic_title(named)
    # Now "that" has an answer to refer to: a follow-up, cited like the question before it.
    follow = chat_ask(user=lib.student, creator=lib.creator, message="Why does that happen?",
                      session_id=first.session_id)  # fmt: skip
    assert follow.citations and {c["video_id"] for c in follow.citations} & {
        c["video_id"] for c in asked.citations
    }
    # From a lesson the player's moment is the subject: answered from around it.
    video = lib.videos["faraday-2"]
    cue = _cue(lib, "faraday-2", 133)
    lesson = chat_ask(user=lib.student, creator=lib.creator, message="What is it used for?",
                      video_id=video.pk, position=cue["end"] + 3)  # fmt: skip
    assert lesson.citations and lesson.citations[0]["video_id"] == video.pk
    # The two requests for a subject cost nothing and stay out of the creator's analytics.
    assert QuestionUsage.objects.filter(creator=lib.creator).count() == used + 3
    rollup_update(creator=lib.creator)
    facts = QuestionFact.objects.filter(creator=lib.creator, message__session=first.session_id)
    assert sorted(f.text for f in facts) == sorted([named, "Why does that happen?"])


def test_ask_command_continues_a_session(db, lib):
    out = StringIO()
    call_command(
        "ask", "Why does a candle turned upside down go out?", "--creator",
        lib.creator.handle, "--json", stdout=out,
    )  # fmt: skip
    first = json.loads(out.getvalue())
    assert first["covered"] and isinstance(first["session_id"], int)
    out = StringIO()
    call_command(
        "ask", "Can you explain that in simpler terms?", "--creator", lib.creator.handle,
        "--session", str(first["session_id"]), "--json", stdout=out,
    )  # fmt: skip
    follow = json.loads(out.getvalue())
    assert follow["session_id"] == first["session_id"] and follow["covered"]


def test_rest_api_accepts_video_and_position(db, lib, client):
    client.force_login(lib.student)
    video = lib.videos["faraday-1"]
    response = client.post(
        "/api/v1/chat",
        data=json.dumps(
            {
                "message": "What did he just say?",
                "creator": lib.creator.handle,
                "video_id": video.pk,
                "position": 1250.0,
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    asked = ChatMessage.objects.filter(role="user").latest("id")
    assert asked.video_id == video.pk and asked.video_position == 1250.0
    bad = client.post(
        "/api/v1/chat",
        data=json.dumps(
            {
                "message": "Why?",
                "creator": lib.creator.handle,
                "video_id": video.pk,
                "position": "soon",
            }
        ),
        content_type="application/json",
    )
    assert bad.status_code == 400 and "position" in bad.content.decode()
