"""The development question set (tests/data/qa) asked through the chat service, offline.

The library (four caption-backed lectures) is built and embedded with the local model once
for this module; each configuration asks all 118 questions. Floors sit a little under the
figures measured with bench/qa.py (README, "Tutor"): a drop fails the build.
"""

from __future__ import annotations

import re

import pytest

from chat.answerers import is_sentence
from chat.models import AnswerCacheEntry
from tests.chat_library import qa_questions
from tests.qa_eval import ask_all, build_library, embed_library, sentence_starts_at

# Floors per configuration (measured figures in the README minus a small margin).
# The paraphrases alone (38 of the 84, what issue 12's held-out set is made of) have their
# own floors: a change that keeps the overall figures by trading paraphrases for direct
# questions fails too.
FLOORS = {
    # measured (bench/qa.py, the integer model since session 10): hit@5 0.857, start@5
    # 0.774, follow-ups 7/10 (6 before session 12's bias toward the previous answer's
    # moments), refused 24/24; paraphrases hit@5 0.711, start@5 0.605; in-scope questions
    # refused 8, each with its moment among the closest offered (session 13)
    "local": {
        "hit5": 0.83,
        "start5": 0.75,
        "followups": 6,
        "oos_refused": 23,
        "refused_nearest_hit": 7,
        "paraphrase": {"hit5": 0.68, "start5": 0.57},
    },
    # measured: hit@5 0.690, start@5 0.679, follow-ups 5/10, refused 19/24 (target: 0.60);
    # paraphrases hit@5 0.342, start@5 0.342
    "none": {
        "hit5": 0.65,
        "start5": 0.64,
        "followups": 3,
        "oos_refused": 17,
        "refused_nearest_hit": 0,  # full text's floor has no band (no unsaid-word term)
        "paraphrase": {"hit5": 0.31, "start5": 0.31},
    },
}


@pytest.fixture(scope="module")
def qa_library(django_db_setup, django_db_blocker):
    from django.test import override_settings

    from chat.retrieval import calibration_ensure
    from tests.factories import CreatorFactory, MembershipFactory
    from videos.embedders import get_embedder

    with django_db_blocker.unblock(), override_settings(CHRONOS_EMBEDDER="local"):
        # Enterprise: one student asks the whole set (the free tier allows 3 questions).
        creator = CreatorFactory(handle="qa-set", company_name="QA Set", tier="enterprise")
        student = MembershipFactory(creator=creator).user
        names = sorted({i["video"] for i in qa_questions() if i["video"]})
        videos = build_library(creator, names)
        embed_library(videos, get_embedder())
        calibration_ensure(creator=creator)
    yield creator, student, videos
    with django_db_blocker.unblock():
        owner = creator.owner
        creator.delete()
        student.delete()
        if owner is not None:
            owner.delete()


@pytest.mark.parametrize("embedder", ["local", "none"])
def test_development_set_holds_its_floors(db, settings, qa_library, embedder):
    creator, student, videos = qa_library
    settings.CHRONOS_EMBEDDER = embedder
    settings.CHRONOS_ANSWERER = "extractive"
    AnswerCacheEntry.objects.filter(creator=creator).delete()
    report = ask_all(user=student, creator=creator, videos=videos)
    f = report.figures()
    floors = FLOORS[embedder]
    summary = {k: round(v, 3) if isinstance(v, float) else v for k, v in f.items()}
    assert f["hit5"] >= floors["hit5"], summary
    assert f["start5"] >= floors["start5"], summary
    assert f["followups"] >= floors["followups"], summary
    assert f["oos_refused"] >= floors["oos_refused"], summary
    assert f["refused_nearest_hit"] >= floors["refused_nearest_hit"], summary
    paraphrases = f["by_kind"]["paraphrase"]
    assert paraphrases["hit5"] >= floors["paraphrase"]["hit5"], summary
    assert paraphrases["start5"] >= floors["paraphrase"]["start5"], summary

    lectures = {v.pk: name for name, v in videos.items()}
    for outcome in report.outcomes:
        assert not (outcome.covered and outcome.nearest), outcome.item["id"]
        # Every citation starts where a sentence of its lecture starts.
        for c in outcome.citations:
            assert sentence_starts_at(lectures[c["video_id"]], c), (outcome.item["id"], c)
        # The offline answer: a sentence naming the lecture(s), then whole sentences only
        # (a reply with no citation is the tutor's own words: "What does “it” refer to?").
        if outcome.covered and outcome.citations:
            intro, _, body = outcome.answer.partition("\n\n")
            assert is_sentence(intro.replace("\\", "")) or intro.endswith(":"), intro
            quote = re.sub(r"^>[ ]?", "", body, flags=re.MULTILINE)
            fragments = [x.strip() for x in re.split(r"\[\d+\]", quote) if x.strip()]
            assert fragments and all(is_sentence(x.replace("\\", "")) for x in fragments), (
                outcome.item["id"],
                fragments,
            )


@pytest.mark.parametrize("embedder", ["local", "none"])
def test_a_short_question_on_a_subject_the_videos_never_mention_is_not_a_follow_up(
    db, settings, qa_library, embedder
):
    from chat.services import chat_ask

    creator, student, _videos = qa_library
    settings.CHRONOS_EMBEDDER = embedder
    settings.CHRONOS_ANSWERER = "extractive"
    first = chat_ask(
        user=student, creator=creator, message="What's the difference between a candle and a lamp?"
    )
    assert first.covered
    # Two content words look like a follow-up; carried, the lamp question answered it (with
    # the local embedder: four citations about lamps for a question about pasta).
    pasta = chat_ask(
        user=student, creator=creator, message="How do I cook pasta?", session_id=first.session_id
    )
    assert not pasta.covered and not pasta.citations, pasta.citations
    # A short question in the videos' own words still follows the conversation.
    wick = chat_ask(
        user=student, creator=creator, message="And the wick?", session_id=first.session_id
    )
    assert wick.covered and wick.citations


def test_a_question_about_a_thing_the_videos_never_name_is_refused(db, settings, qa_library):
    """Near the lectures' subject, about a thing they never name (the local embedder, the
    offline default): the words no chunk holds raise the question's floor
    (chat.retrieval.moments.question_floor), so the flame and candle passages matching its
    other words are not cited (under the single floor both were, with 5 citations each).
    Asked in the lectures' own words, the same question is answered."""
    from chat.services import question_answer

    creator, _student, _videos = qa_library
    settings.CHRONOS_EMBEDDER = "local"
    settings.CHRONOS_ANSWERER = "extractive"
    AnswerCacheEntry.objects.filter(creator=creator).delete()
    for question in (
        "How do fireworks get their different colours?",
        "How long does a tea light burn?",
    ):
        answer = question_answer(creator=creator, question=question)
        assert not answer.covered and answer.citations == [], (question, answer.citations)
    answer = question_answer(
        creator=creator, question="How do candles get their different colours?"
    )
    assert answer.covered and answer.citations


def test_a_follow_up_lands_next_to_the_moment_just_answered(db, settings, qa_library):
    """A follow-up: "How bright is it?" after "How can a very hot but dim flame be made to glow
    brilliantly?" (the development set's fu-06): the carried query alone cites the first
    answer's passages again; biased toward the moments that answer cited (chat.context,
    chat.retrieval.moments.NEAR_SECONDS), one of the five runs on to where Faraday shows
    how bright the lime light glows (faraday-2, 1005.7-1011.8 s)."""
    from chat.services import chat_ask

    creator, student, videos = qa_library
    settings.CHRONOS_EMBEDDER = "local"
    settings.CHRONOS_ANSWERER = "extractive"
    AnswerCacheEntry.objects.filter(creator=creator).delete()
    first = chat_ask(
        user=student,
        creator=creator,
        message="How can a very hot but dim flame be made to glow brilliantly?",
    )
    assert first.covered and first.citations
    follow = chat_ask(
        user=student, creator=creator, message="How bright is it?", session_id=first.session_id
    )
    lecture = videos["faraday-2"].pk
    assert any(
        c["video_id"] == lecture and c["start"] <= 1011.79 + 5 and c["end"] >= 1005.685 - 5
        for c in follow.citations
    ), follow.citations


def test_a_paraphrase_refused_for_its_unsaid_words_alone_is_read_by_an_llm(
    db, settings, qa_library
):
    """ "What job were the earliest electronic machines originally built to do?" (m-04: the
    lecture says "the first real computer ... for computational simulation to help engineers
    solve problems in ballistics"): its best moment reaches the learned floor, but words
    the videos never say raise its own, so offline it is refused. With an LLM answerer the
    passages go to the model (real anthropic SDK, loopback server), which answers citing the
    moment, or says they don't cover it (not covered, no citation, the call billed); a
    question far from every passage never reaches the model."""
    from billing.models import UsageLedgerEntry
    from chat.services import question_answer
    from tests.loopback import loopback_server
    from tests.test_answerers import _use_anthropic, anthropic_handler

    creator, _student, videos = qa_library
    settings.CHRONOS_EMBEDDER = "local"
    settings.CHRONOS_ANSWERER = "extractive"
    settings.CHRONOS_PROVIDER_MAX_RETRIES = 0
    AnswerCacheEntry.objects.filter(creator=creator).delete()
    question = "What job were the earliest electronic machines originally built to do?"
    offline = question_answer(creator=creator, question=question)
    assert not offline.covered and offline.citations == []

    settings.CHRONOS_ANSWERER = "auto"
    reply = ["They were built for computational simulation, for ballistics [1]."]
    with loopback_server(anthropic_handler(reply)) as server:
        _use_anthropic(settings, server)
        answer = question_answer(creator=creator, question=question)
        streamed = [r.json() for r in server.requests if r.json().get("stream")]
    assert len(streamed) == 1
    assert "problems in ballistics" in streamed[0]["messages"][-1]["content"]
    lecture = videos["mit1690"].pk
    assert answer.covered and answer.citations, answer
    first = answer.citations[0]
    assert first["video_id"] == lecture and first["start"] <= 148.44 + 5
    assert first["end"] >= 134.063 - 5, first

    near_topic = "How do fireflies produce their light?"  # its best moment reaches the floor
    billed = UsageLedgerEntry.objects.filter(creator=creator).count()
    with loopback_server(anthropic_handler(["The videos don't cover this."])) as server:
        _use_anthropic(settings, server)
        declined = question_answer(creator=creator, question=near_topic)
        asked = [r for r in server.requests if r.json().get("stream")]
        far = question_answer(creator=creator, question="How do I renew my passport?")
        after_far = [r for r in server.requests if r.json().get("stream")]
    assert len(asked) == 1 and not declined.covered and declined.citations == []
    assert declined.nearest == []  # the model read them and declined: nothing offered
    assert declined.paid and UsageLedgerEntry.objects.filter(creator=creator).count() == billed + 1
    assert len(after_far) == 1 and not far.covered and far.citations == []


def test_a_refusal_for_words_the_videos_never_say_offers_the_closest_moments_not_as_citations(
    db, settings, client, qa_library
):
    """m-04 ("What job were the earliest electronic machines originally built to do?") is
    refused offline only because of words the lecture never says; the reply stays "not
    covered" with no citation, and offers its closest moments, the lecture's answer among
    them (mit1690 134-148 s), stored on the turn, returned by the API and `ask --json`,
    shown on the chat page as cards that play the moment (not as numbered sources). A
    question far from every passage, and a covered one, offer none."""
    import json
    from io import StringIO

    from django.core.management import call_command
    from django.urls import reverse

    from chat.models import ChatMessage
    from chat.services import chat_ask

    creator, student, videos = qa_library
    settings.CHRONOS_EMBEDDER = "local"
    settings.CHRONOS_ANSWERER = "extractive"
    AnswerCacheEntry.objects.filter(creator=creator).delete()
    lecture = videos["mit1690"].pk
    question = "What job were the earliest electronic machines originally built to do?"

    def lands(moments):
        return any(
            c["video_id"] == lecture and c["start"] <= 148.44 + 5 and c["end"] >= 134.063 - 5
            for c in moments
        )

    refused = chat_ask(user=student, creator=creator, message=question)
    assert not refused.covered and refused.citations == [], refused.citations
    assert 1 <= len(refused.nearest) <= 3 and lands(refused.nearest), refused.nearest
    assert all(c["stream_url"] and c["start_label"] for c in refused.nearest)
    turn = ChatMessage.objects.get(pk=refused.message_id)
    assert not turn.covered and turn.citations == [] and lands(turn.nearest)
    # Asked again: not served from the answer cache without its closest moments.
    again = chat_ask(user=student, creator=creator, message=question)
    assert [c["start"] for c in again.nearest] == [c["start"] for c in refused.nearest]

    client.force_login(student)
    url = reverse("chat-session-messages", args=[refused.session_id])
    api = client.get(url, {"creator": creator.handle}).json()
    reply = api["results"][-1] if "results" in api else api[-1]
    assert reply["citations"] == [] and lands(reply["nearest"]), reply

    page = client.get(
        reverse("chat:session", kwargs={"handle": creator.handle, "session_id": refused.session_id})
    ).content.decode()
    uncovered = page[page.index('class="msg msg-assistant msg-uncovered"') :]
    uncovered = uncovered[: uncovered.index("</article>")]
    assert "cite-card" not in uncovered and "data-n=" not in uncovered
    starts = re.findall(r'class="near-card"[^>]*data-start="([\d.]+)"', uncovered)
    assert [float(s) for s in starts] == [float(c["start"]) for c in refused.nearest], starts
    assert f'data-video-id="{lecture}"' in uncovered

    md = client.get(
        reverse("chat-session-export", args=[refused.session_id]),
        {"creator": creator.handle, "format": "md"},
    ).content.decode()
    assert "Closest moments:" in md and "Sources:" not in md, md
    exported = client.get(
        reverse("chat-session-export", args=[refused.session_id]),
        {"creator": creator.handle, "format": "json"},
    ).json()["messages"][-1]
    assert exported["citations"] == [] and lands(exported["nearest"]), exported

    out = StringIO()
    call_command("ask", question, creator=creator.handle, json=True, stdout=out)
    printed = json.loads(out.getvalue())
    assert printed["citations"] == [] and lands(printed["nearest"]), printed

    far = chat_ask(user=student, creator=creator, message="How do I renew my passport?")
    assert not far.covered and far.nearest == [] and far.citations == []
    covered = chat_ask(
        user=student, creator=creator, message="What's the difference between a candle and a lamp?"
    )
    assert covered.covered and covered.citations and covered.nearest == []
