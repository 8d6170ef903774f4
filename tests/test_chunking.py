"""Chunker rules from issue 2: target 750 / min 500 / max 1000 words, a hard max without
punctuation, 100-word overlap, sentence-end breaks, times from the covered segments."""

import itertools
import json
from dataclasses import dataclass

import pytest

from videos.chunking import chunk_segments, is_sentence_end, windows_for_chunks


@dataclass
class Seg:
    index: int
    start: float
    end: float
    text: str


def numbered_segments(n_words: int, *, per_segment: int = 10, sentence_every: int | None = 12):
    """Segments of `per_segment` words w0 w1 ...; every `sentence_every`-th word ends a
    sentence (None: no punctuation at all). Segment i spans [2i, 2i+1.5] seconds."""
    words = []
    for i in range(n_words):
        w = f"w{i}"
        if sentence_every and (i + 1) % sentence_every == 0:
            w += "."
        words.append(w)
    segs = []
    for k in range(0, n_words, per_segment):
        i = k // per_segment
        segs.append(Seg(i, 2.0 * i, 2.0 * i + 1.5, " ".join(words[k : k + per_segment])))
    return segs


def word_ids(chunk) -> list[int]:
    return [int(w.rstrip(".").lstrip("w")) for w in chunk.text.split()]


def test_sizes_stay_within_min_and_max_and_near_target():
    chunks = chunk_segments(numbered_segments(5000))
    assert len(chunks) >= 6
    for c in chunks[:-1]:
        assert 500 <= c.word_count <= 1000
        assert abs(c.word_count - 750) <= 12  # nearest sentence end to the target
    assert chunks[-1].word_count <= 1000


def test_chunks_end_at_sentence_ends_when_there_are_some():
    chunks = chunk_segments(numbered_segments(4000, sentence_every=17))
    for c in chunks[:-1]:
        assert c.text.split()[-1].endswith("."), c.text[-40:]


def test_next_chunk_starts_at_a_sentence_start_inside_the_overlap():
    chunks = chunk_segments(numbered_segments(4000, sentence_every=17))
    for prev, nxt in itertools.pairwise(chunks):
        overlap = word_ids(prev)[-1] - word_ids(nxt)[0] + 1
        assert 0 < overlap <= 100
        # the word before the next chunk's first word ends a sentence
        assert (word_ids(nxt)[0]) % 17 == 0


def test_overlap_is_exactly_100_words_without_punctuation():
    chunks = chunk_segments(numbered_segments(3000, sentence_every=None))
    for prev, nxt in itertools.pairwise(chunks):
        assert word_ids(nxt)[0] == word_ids(prev)[-1] - 99
    # every word is covered, in order
    covered = sorted({i for c in chunks for i in word_ids(c)})
    assert covered == list(range(3000))


def test_hard_max_holds_for_one_giant_unpunctuated_segment():
    seg = Seg(0, 0.0, 600.0, " ".join(f"w{i}" for i in range(5000)))
    chunks = chunk_segments([seg])
    assert all(c.word_count <= 1000 for c in chunks)
    assert all(c.start == 0.0 and c.end == 600.0 for c in chunks)  # times of the segment
    assert sum(c.word_count for c in chunks) - 100 * (len(chunks) - 1) == 5000


def test_short_remainder_merges_into_previous_chunk_within_max():
    # 800 words: one 750-word chunk would leave 150 (<500) -> all in one chunk (800 <= 1000)
    chunks = chunk_segments(numbered_segments(800, sentence_every=None))
    assert len(chunks) == 1
    assert chunks[0].word_count == 800


def test_remainder_not_merged_when_it_would_exceed_max():
    chunks = chunk_segments(numbered_segments(1700, sentence_every=None))
    assert all(c.word_count <= 1000 for c in chunks)
    assert word_ids(chunks[-1])[-1] == 1699


def test_chunk_times_come_from_first_and_last_covered_segments():
    segs = numbered_segments(3000)
    for c in chunk_segments(segs):
        first, last = word_ids(c)[0] // 10, word_ids(c)[-1] // 10
        assert (c.first_segment_index, c.last_segment_index) == (first, last)
        assert c.start == segs[first].start and c.end == segs[last].end
        assert c.end > c.start > 0 or first == 0


def test_small_transcript_is_one_chunk_and_empty_is_none():
    segs = [Seg(0, 1.0, 2.0, "Hello there."), Seg(1, 2.5, 4.0, "General Kenobi.")]
    (c,) = chunk_segments(segs)
    assert (c.text, c.start, c.end, c.word_count) == ("Hello there. General Kenobi.", 1.0, 4.0, 4)
    assert chunk_segments([]) == []
    assert chunk_segments([Seg(0, 0, 1, "   ")]) == []


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError):
        chunk_segments([], min_words=800, target_words=750)
    with pytest.raises(ValueError):
        chunk_segments([], overlap_words=600)


def test_sentence_end_detection():
    assert is_sentence_end("candle.") and is_sentence_end("why?") and is_sentence_end('so."')
    assert not is_sentence_end("Mr.") and not is_sentence_end("e.g.")
    assert not is_sentence_end("J.") and not is_sentence_end("word,")


def test_faraday_lecture_chunks_line_up_with_caption_cues(data_dir):
    """Real lecture, exact caption cues: every chunk starts at a cue start and ends at a cue
    end, and chunks end on sentence ends."""
    cues = json.loads((data_dir / "faraday-candle-2.json").read_text())["cues"]
    segs = [Seg(c["index"], c["start"], c["end"], c["text"]) for c in cues]
    chunks = chunk_segments(segs)
    assert len(chunks) >= 4
    starts = {c["start"] for c in cues}
    ends = {c["end"] for c in cues}
    for ch in chunks:
        assert ch.start in starts and ch.end in ends
        assert ch.start == cues[ch.first_segment_index]["start"]
        assert ch.end == cues[ch.last_segment_index]["end"]
        assert ch.word_count <= 1000
    for ch in chunks[:-1]:
        assert ch.word_count >= 500 and is_sentence_end(ch.text.split()[-1])


def test_windows_are_three_segments_stride_one_inside_each_chunk():
    segs = numbered_segments(2000)
    chunks = chunk_segments(segs)
    windows = windows_for_chunks(segs, chunks)
    for pos, ch in enumerate(chunks):
        mine = [w for w in windows if w.chunk_position == pos]
        firsts = [w.first_segment_index for w in mine]
        assert firsts == list(range(ch.first_segment_index, ch.last_segment_index + 1))
        for w in mine:
            assert w.last_segment_index == min(w.first_segment_index + 2, ch.last_segment_index)
            assert w.start == segs[w.first_segment_index].start
            assert w.end == segs[w.last_segment_index].end
