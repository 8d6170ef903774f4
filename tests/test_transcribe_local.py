"""Offline speech recognition (pocketsphinx, model in the wheel) on real speech."""

import itertools

import pytest

from tests.pipeline_support import create, process
from videos.media import extract_audio_wav
from videos.models import TranscriptSegment, Video
from videos.transcribers import local_transcribe


@pytest.mark.slow
def test_jfk_clip_gives_its_key_words_with_real_times(data_dir, tmp_path):
    wav = tmp_path / "jfk.wav"
    extract_audio_wav(data_dir / "jfk.flac", wav)
    segments = local_transcribe(wav)
    words = " ".join(s.text for s in segments).lower()
    for key in ("fellow", "america", "country", "what your country can do for you"):
        assert key in words, words
    assert segments[0].start < 1.0 and 10.0 < segments[-1].end <= 11.05
    for a, b in itertools.pairwise(segments):
        assert a.start < a.end <= b.start
    assert all(s.text[0].isupper() and s.text.endswith(".") for s in segments)


@pytest.mark.slow
@pytest.mark.django_db
def test_pipeline_uses_local_asr_without_key_or_captions(creator, data_dir, settings):
    settings.OPENAI_API_KEY = ""
    video = process(create(creator, data_dir / "jfk.flac"))
    assert video.status == Video.Status.COMPLETED, video.error
    assert video.transcript_source == Video.TranscriptSource.LOCAL
    assert video.language == "en" and video.processing_cost_usd == 0
    text = " ".join(TranscriptSegment.objects.filter(video=video).values_list("text", flat=True))
    assert "country" in text.lower()
    assert video.chunks.count() == 1
