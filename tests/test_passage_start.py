"""A citation starts where the passage that answers begins (chat.retrieval.moments.
moment_passage): real captions in real PostgreSQL, and the rule itself on sentences."""

from __future__ import annotations

import pytest

from chat.retrieval import retrieve, scope_resolve
from chat.retrieval.moments import Sentence, Window, fusion_params, moment_passage
from tests.chat_library import build_rows, cues
from tests.qa_eval import sentence_starts_at


@pytest.fixture(autouse=True)
def _offline(settings):
    settings.CHRONOS_ANSWERER = "extractive"
    settings.CHRONOS_EMBEDDER = "none"


def test_citation_starts_where_the_demonstration_begins(db, creator):
    # Lecture 1, cues 150-175: the vapour of a blown-out candle. The demonstration starts at
    # cue 161 ("If you blow a candle out cleverly, you will see the vapour rise from it.");
    # the sentence holding most of the question's words (the taper) comes two cues later.
    video = build_rows(creator, "faraday-1", cue_list=cues("faraday-1")[150:176])
    question = "What do you see if you blow a candle out and hold a lit taper above the wick?"
    result = retrieve(creator=creator, scope=scope_resolve(creator=creator), question=question)
    assert result.covered
    first = result.passages[0]
    assert first.video_id == video.pk
    assert first.first_segment_index == 161, (first.first_segment_index, first.quote[:80])
    assert first.quote.startswith("If you blow a candle out cleverly")
    assert sentence_starts_at("faraday-1", first.as_citation())
    # The quote runs on, in whole sentences, through the taper.
    assert "lighted taper" in first.quote
    assert fusion_params(vectors=False)["passage_share"] is not None  # learned, not unset


def _sentence(n: int, lexemes: set[str]) -> Sentence:
    return Sentence(f"Sentence {n}.", start=10.0 * n, end=10.0 * n + 9, first_segment=n,
                    last_segment=n, lexemes=lexemes)  # fmt: skip


def _window(first: int, last: int) -> Window:
    return Window(id=first, video_id=1, chunk_id=1, first=first, last=last, start=10.0 * first,
                  end=10.0 * last + 9, lexemes=set())  # fmt: skip


WEIGHTS = {"taper": 3.0, "vapour": 1.0, "candl": 1.0}


def test_the_passage_reaches_back_over_sentences_holding_the_question():
    sentences = [
        _sentence(0, {"candl"}),  # shares a word, but the sentence after it shares none
        _sentence(1, set()),
        _sentence(2, {"vapour", "candl"}),  # 2/5 of the question: 0.4 of the best's 1.0
        _sentence(3, {"vapour"}),  # 0.2: a fifth of the best
        _sentence(4, {"taper", "vapour", "candl"}),  # the answering sentence (all of it)
        _sentence(5, {"taper"}),
    ]
    moment = _window(4, 5)
    at = {share: moment_passage(moment, sentences, WEIGHTS, passage_share=share).start
          for share in (None, 1.0, 0.4, 0.2, 0.1)}  # fmt: skip
    # No share: the answering sentence; a share keeps the contiguous sentences above it.
    assert at == {None: 40.0, 1.0: 40.0, 0.4: 40.0, 0.2: 20.0, 0.1: 20.0}
    passage = moment_passage(moment, sentences, WEIGHTS, passage_share=0.2)
    assert passage.first_segment_index == 2 and passage.quote.startswith("Sentence 2.")
    assert passage.coverage == pytest.approx(1.0)  # the answering sentence's, not the head's
    assert [s["start"] for s in passage.sentences] == [20.0, 30.0, 40.0, 50.0]


def test_the_passage_never_reaches_into_another_moment():
    sentences = [_sentence(n, {"taper", "vapour", "candl"}) for n in range(8)]
    moment = _window(6, 7)
    assert moment_passage(moment, sentences, WEIGHTS, passage_share=0.5).start == 0.0
    earlier = _window(1, 3)  # another cited moment of the same video ends at cue 3
    passage = moment_passage(moment, sentences, WEIGHTS, others=[earlier], passage_share=0.5)
    assert passage.start == 40.0 and passage.first_segment_index == 4
    other_video = Window(**{**earlier.__dict__, "video_id": 2})
    assert moment_passage(moment, sentences, WEIGHTS, others=[other_video],
                          passage_share=0.5).start == 0.0  # fmt: skip
