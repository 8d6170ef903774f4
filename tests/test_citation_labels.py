"""Citation card labels (issue 13, first use): lectures of one series cited together are
told apart by their own part of the title, not cut to the same shared beginning."""

from chat.citations import enrich_all, video_labels

LECTURE_ONE = "The Chemical History of a Candle — Lecture I: A Candle: the Flame"
LECTURE_TWO = "The Chemical History of a Candle — Lecture II: Brightness of the Flame"


def test_a_shared_series_prefix_is_dropped_up_to_its_separator():
    assert video_labels([LECTURE_ONE, LECTURE_TWO, LECTURE_ONE]) == [
        "Lecture I: A Candle: the Flame",
        "Lecture II: Brightness of the Flame",
        "Lecture I: A Candle: the Flame",
    ]
    assert video_labels(["Faraday - Candle - Lecture 1", "Faraday - Candle - Lecture 2"]) == [
        "Lecture 1",
        "Lecture 2",
    ]


def test_titles_without_a_shared_series_stay_whole():
    assert video_labels(["Intro to Wax", "Intro to Wicks"]) == ["Intro to Wax", "Intro to Wicks"]
    assert video_labels([LECTURE_ONE]) == [LECTURE_ONE]
    assert video_labels([LECTURE_ONE, LECTURE_ONE]) == [LECTURE_ONE, LECTURE_ONE]


def test_enriched_citations_carry_the_label_and_the_full_title():
    stored = [
        {"video_id": None, "video_title": LECTURE_ONE, "start": 1.0, "end": 2.0, "quote": "a"},
        {"video_id": None, "video_title": LECTURE_TWO, "start": 3.0, "end": 4.0, "quote": "b"},
    ]
    one, two = enrich_all(stored)
    assert one["video_title"] == LECTURE_ONE
    assert one["video_label"] == "Lecture I: A Candle: the Flame"
    assert two["video_label"] == "Lecture II: Brightness of the Flame"
