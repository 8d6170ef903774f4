"""Captions are validated at upload with messages a creator can act on (line numbers):
encoding, NUL, cue length (a one-cue file is split instead), cues past the media's end,
inverted cues. Built from the real caption files in tests/data."""

from __future__ import annotations

import io
import itertools

import pytest

from videos.captions import (
    MAX_CUE_CHARS,
    MAX_CUE_SECONDS,
    CaptionError,
    decode_text,
    parse_captions,
)
from videos.models import Video

REAL = "faraday-candle-1-excerpt.vtt"
MEDIA = "faraday-candle-1-excerpt.mp4"


def _real_lines(data_dir) -> list[str]:
    return (data_dir / REAL).read_text().splitlines()


def _timing_line(lines: list[str], n: int) -> int:
    """Index of the n-th cue timing line."""
    return [i for i, line in enumerate(lines) if "-->" in line][n]


def test_real_files_still_pass(data_dir):
    for name in ("faraday-candle-2.vtt", "mit1690-session-1.vtt", "test_transcripts.srt"):
        assert parse_captions((data_dir / name).read_bytes(), filename=name, media_duration=None)


def test_nul_in_utf8_vtt_is_refused_with_its_line(data_dir):
    lines = _real_lines(data_dir)
    at = _timing_line(lines, 3) + 1
    lines[at] = lines[at][:10] + "\x00" + lines[at][10:]
    with pytest.raises(CaptionError) as err:
        parse_captions("\n".join(lines).encode(), filename="lecture.vtt")
    assert f"line {at + 1} contains a NUL character" in str(err.value)
    assert str(err.value).startswith("lecture.vtt:")


def test_utf16_without_bom_is_read_not_refused(data_dir):
    text = (data_dir / REAL).read_text()
    assert decode_text(text.encode("utf-16-le")) == text
    assert len(parse_captions(text.encode("utf-16-be"))) == len(parse_captions(text))


def test_undecodable_byte_names_its_line():
    data = b"WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nHello\n\n"
    data += b"00:00:04.000 --> 00:00:05.000\nbad \x81\n"
    with pytest.raises(CaptionError, match=r"line 7: byte 0x81 is not text in UTF-8"):
        parse_captions(data, filename="c.vtt")


def test_inverted_cue_is_refused_with_its_line(data_dir):
    lines = _real_lines(data_dir)
    at = _timing_line(lines, 2)
    start, _, end = lines[at].partition(" --> ")
    lines[at] = f"{end.split()[0]} --> {start}"
    with pytest.raises(CaptionError, match=rf"line {at + 1}: the cue ends \(.*\) before it starts"):
        parse_captions("\n".join(lines))


def test_overlong_cues_are_refused_with_their_lines(data_dir):
    lines = _real_lines(data_dir)
    at = _timing_line(lines, 1)
    lines[at] = "00:00:10.000 --> 00:00:55.000"
    lines[at + 1] = "word " * (MAX_CUE_CHARS // 4)
    with pytest.raises(CaptionError) as err:
        parse_captions("\n".join(lines))
    message = str(err.value)
    assert f"line {at + 1}: the cue lasts 45.0 s; a cue may last at most 30 s" in message
    assert f"line {at + 1}: the cue has 1,249 characters" in message


def test_single_long_cue_file_is_split_into_timed_pieces():
    words = [f"word{i}" for i in range(600_000)]  # ~4.4 MB, like the reported 3.5 MB file
    data = ("WEBVTT\n\n00:00:00.000 --> 00:10:00.000\n" + " ".join(words) + "\n").encode()
    cues = parse_captions(data)
    assert len(cues) > 1
    assert all(len(c.text) <= MAX_CUE_CHARS for c in cues)
    assert all(c.end - c.start <= MAX_CUE_SECONDS for c in cues)
    assert cues[0].start == 0 and cues[-1].end == 600
    assert all(a.end == b.start for a, b in itertools.pairwise(cues))
    assert " ".join(c.text for c in cues) == " ".join(words)


def test_cue_past_the_media_end_is_refused(data_dir):
    lines = [*_real_lines(data_dir), "", "99:00:00.000 --> 99:00:04.000", "Far too late."]
    with pytest.raises(CaptionError) as err:
        parse_captions("\n".join(lines), media_duration=188.0)
    assert f"line {len(lines) - 1}: the cue (99:00:00.000 --> 99:00:04.000) is past the end" in (
        str(err.value)
    )
    assert "(3:08.000)" in str(err.value)
    # Within the 2-second tolerance it is fine.
    cues = parse_captions((data_dir / REAL).read_bytes())
    assert parse_captions((data_dir / REAL).read_bytes(), media_duration=cues[-1].end - 1.5)


def test_upload_with_captions_past_the_end_is_a_400_naming_the_line(owner_client, data_dir):
    late = (data_dir / REAL).read_text() + "\n\n99:00:00.000 --> 99:00:04.000\nFar too late.\n"
    with open(data_dir / MEDIA, "rb") as media:
        response = owner_client.post(
            "/api/v1/videos/",
            {"file": media, "captions": io.BytesIO(late.encode()), "title": "late captions"},
        )
    assert response.status_code == 400
    assert "is past the end of the media" in str(response.json())
    assert not Video.objects.filter(title="late captions").exists()
