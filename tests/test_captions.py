"""Caption parsing on every real caption file in tests/data, plus malformed input."""

import itertools
import json

import pytest

from videos.captions import CaptionError, parse_captions


def parse(data_dir, name):
    return parse_captions((data_dir / name).read_bytes(), filename=name)


def test_faraday_excerpt_matches_its_exact_json(data_dir):
    cues = parse(data_dir, "faraday-candle-1-excerpt.vtt")
    ref = json.loads((data_dir / "faraday-candle-1-excerpt.json").read_text())["cues"]
    assert [(c.index, c.start, c.end, c.text) for c in cues] == [
        (r["index"], r["start"], r["end"], r["text"]) for r in ref
    ]


def test_faraday_lecture_2_matches_its_json(data_dir):
    cues = parse(data_dir, "faraday-candle-2.vtt")
    ref = json.loads((data_dir / "faraday-candle-2.json").read_text())["cues"]
    assert len(cues) == len(ref) == 203
    assert all(
        (c.start, c.end, c.text) == (r["start"], r["end"], r["text"])
        for c, r in zip(cues, ref, strict=True)
    )


def test_voice_tags_become_speakers(data_dir):
    cues = parse(data_dir, "itaccess_captions_en.vtt")
    assert cues[0].speaker == "Michael Young"
    assert cues[0].text == "We are committed to the notion that everyone should have an opportunity"
    assert not any("<v" in c.text or "</v>" in c.text for c in cues)
    assert {c.speaker for c in cues if c.speaker} >= {"Michael Young"}


def test_youtube_dl_style_without_numbers_and_curly_quotes(data_dir):
    cues = parse(data_dir, "crashcourse-youtube-dl-style.vtt")
    assert cues[0].text == "Hi I\u2019m John Green and this is Crash Course European History."
    assert cues[0].start == 0.16 and cues[0].end == 3.54
    assert [c.index for c in cues] == list(range(len(cues)))


def test_srt_numbered_from_zero_with_caps_speaker(data_dir):
    cues = parse(data_dir, "test_transcripts.srt")
    assert len(cues) == 45
    assert (cues[0].start, cues[0].end) == (0.27, 2.72)
    assert cues[0].text == "Hi, welcome to Edx." and cues[0].speaker == "Lila Fisher"
    assert cues[1].text.startswith("I'm Lila Fisher")


@pytest.mark.parametrize(
    ("name", "count", "first_start", "last_end"),
    [
        ("coursera-infovis-intro.vtt", 92, 10.52, 416.25),
        ("mit1690-session-1.vtt", 228, 0.03, 1368.86),
        ("sonnet001.srt", 15, 0.0, 53.24),
        ("sonnet001.vtt", 15, 0.0, 53.24),
    ],
)
def test_other_real_files(data_dir, name, count, first_start, last_end):
    cues = parse(data_dir, name)
    assert len(cues) == count
    assert cues[0].start == first_start and cues[-1].end == last_end
    assert all(c.end >= c.start for c in cues)
    assert all(a.start <= b.start for a, b in itertools.pairwise(cues))
    assert all(c.text.strip() == c.text and "\n" not in c.text for c in cues)


def test_srt_and_vtt_of_the_same_captions_agree(data_dir):
    a = parse(data_dir, "sonnet001.srt")
    b = parse(data_dir, "sonnet001.vtt")
    assert [(c.start, c.end, c.text) for c in a] == [(c.start, c.end, c.text) for c in b]


def test_chapters_track_is_rejected_with_a_reason(data_dir):
    with pytest.raises(CaptionError, match="chapters"):
        parse(data_dir, "itaccess_chapters_en.vtt")


def test_bom_and_utf16_and_missing_numbers():
    body = (
        "WEBVTT\n\n00:01.000 --> 00:02.500\n<v Ann>Caf\u00e9 &amp; tea</v>\n\n"
        "7\n00:03.000 --> 00:04.000\nNext\n"
    )
    for data in (b"\xef\xbb\xbf" + body.encode(), body.encode("utf-16")):
        cues = parse_captions(data, filename="x.vtt")
        assert [(c.index, c.start, c.end, c.text, c.speaker) for c in cues] == [
            (0, 1.0, 2.5, "Café & tea", "Ann"),
            (1, 3.0, 4.0, "Next", ""),
        ]


def test_srt_without_cue_numbers():
    data = b"1\n00:00:01,000 --> 00:00:02,000\nhello\n\n00:00:03,000 --> 00:00:04,000\nworld\n"
    cues = parse_captions(data, filename="x.srt")
    assert [(c.start, c.text) for c in cues] == [(1.0, "hello"), (3.0, "world")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"just some notes\nnothing timed", "no cue timings"),
        (b"WEBVTT\n\n00:01.000 --> soon\nhi\n", "line 3"),
        (b"WEBVTT\n\n", "no captions"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"1\n00:00:01,000 --> 00:00:02,000\n\n", "no captions"),
    ],
)
def test_malformed_caption_files_raise_clear_errors(data, message):
    with pytest.raises(CaptionError, match=message):
        parse_captions(data, filename="bad.vtt")
