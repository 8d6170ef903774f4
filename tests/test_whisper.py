"""OpenAI Whisper through the real openai SDK against a loopback server speaking its wire
format: verbose_json segments, backoff on 429/5xx, clear failures on 401, > 25 MB audio
split into offset pieces, and ledger rows at $0.006/min."""

import itertools
import time
from decimal import Decimal

import pytest

from billing.models import UsageLedgerEntry
from billing.prices import whisper_cost
from tests.loopback import Response, loopback_server
from tests.pipeline_support import (
    create,
    looped_wav,
    media_duration,
    openai_error,
    process,
    use_openai,
    whisper_verbose_json,
)
from videos.models import TranscriptSegment, Video
from videos.transcribers import WHISPER_MAX_BYTES

pytestmark = pytest.mark.django_db

JFK_SEGMENTS = [
    (0.0, 4.2, "And so, my fellow Americans,"),
    (4.2, 7.9, "ask not what your country can do for you,"),
    (8.1, 11.0, "ask what you can do for your country."),
]


def jfk_reply(req):
    assert req.path == "/v1/audio/transcriptions"
    form = req.multipart()
    assert form["model"] == "whisper-1"
    assert form["response_format"] == "verbose_json"
    assert form["timestamp_granularities[]"] == "segment"
    return Response.json(whisper_verbose_json(JFK_SEGMENTS, duration=11.0))


def test_429_then_200_is_retried_after_a_second_and_the_video_completes(
    creator,
    data_dir,
    settings,
):
    replies = iter([openai_error(429, "Rate limit reached", "requests")])
    with loopback_server(lambda req: next(replies, None) or jfk_reply(req)) as server:
        use_openai(settings, server)
        settings.CHRONOS_EMBEDDER = "none"

        video = process(create(creator, data_dir / "jfk.flac"))

    assert video.status == Video.Status.COMPLETED, video.error
    assert video.transcript_source == Video.TranscriptSource.WHISPER
    assert video.language == "en"
    calls = server.requests_to("/v1/audio/transcriptions")
    assert len(calls) == 2  # one 429, one success: our backoff, not the SDK's
    assert calls[0].multipart()["file"]["data"] == (data_dir / "jfk.flac").read_bytes()
    segs = list(TranscriptSegment.objects.filter(video=video).order_by("index"))
    assert [(s.start, s.end, s.text) for s in segs] == JFK_SEGMENTS
    (entry,) = UsageLedgerEntry.objects.filter(subject=f"video:{video.pk}")
    assert (entry.operation, entry.model, entry.unit) == ("transcription", "whisper-1", "seconds")
    assert entry.units == Decimal("11.000")
    assert entry.usd == Decimal("0.001100") == whisper_cost(11.0)  # 11 s at $0.006/min
    assert video.processing_cost_usd == Decimal("0.001100")
    assert not server.errors


def test_backoff_waits_1_2_4_units_then_gives_up_on_5xx(creator, data_dir, settings):
    stamps = []

    def handler(req):
        stamps.append(time.monotonic())
        return openai_error(503, "The server is overloaded", "server_error")

    with loopback_server(handler) as server:
        use_openai(settings, server)
        settings.CHRONOS_PROVIDER_BACKOFF_SECONDS = 0.05  # same 1-2-4 schedule, scaled down

        video = process(create(creator, data_dir / "jfk.flac"))

    assert len(stamps) == 4  # first try + 3 retries
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    for gap, expected in zip(gaps, (0.05, 0.10, 0.20), strict=True):
        assert gap >= expected * 0.95
    assert video.status == Video.Status.FAILED
    assert "503" in video.error and "Retry later" in video.error
    assert not UsageLedgerEntry.objects.exists()


def test_401_fails_at_once_with_an_actionable_message(creator, data_dir, settings):
    with loopback_server(lambda req: openai_error(401, "Incorrect API key provided")) as server:
        use_openai(settings, server)

        video = process(create(creator, data_dir / "jfk.flac"))

    assert len(server.requests) == 1  # not transient: no retry
    assert video.status == Video.Status.FAILED
    assert "rejected the API key" in video.error and "OPENAI_API_KEY" in video.error
    assert "sk-test" not in video.error


def test_audio_over_25mb_is_split_into_offset_pieces(creator, data_dir, settings, tmp_path):
    """A 48 kHz stereo WAV of looped real speech (> 25 MB) is cut into <= 60 s FLAC pieces;
    the loopback answers each piece with 5-second segments relative to the piece, and the
    stored segments come out continuous and correctly offset."""
    big = tmp_path / "lecture.wav"
    total = looped_wav(data_dir / "jfk.flac", big, min_bytes=26 * 1024 * 1024)
    assert big.stat().st_size > 25 * 1024 * 1024
    settings.CHRONOS_WHISPER_PIECE_SECONDS = 60
    settings.CHRONOS_MAX_UPLOAD_BYTES = 100 * 1024 * 1024
    pieces = []

    def handler(req):
        upload = req.multipart()["file"]
        assert len(upload["data"]) <= WHISPER_MAX_BYTES
        assert upload["filename"].endswith(".flac")
        dur = media_duration(upload["data"])
        n = len(pieces)
        pieces.append(dur)
        segs, t = [], 0.0
        while t < dur - 1e-6:
            end = min(dur, t + 5.0)
            segs.append((round(t, 3), round(end, 3), f"piece {n} at {t:.0f}"))
            t = end
        return Response.json(whisper_verbose_json(segs, duration=dur))

    with loopback_server(handler) as server:
        use_openai(settings, server)
        settings.CHRONOS_EMBEDDER = "none"  # transcription only: the loopback serves no embeddings
        video = process(create(creator, big))

    assert video.status == Video.Status.COMPLETED, video.error
    assert len(pieces) == 3 and all(p <= 60.0 + 0.05 for p in pieces)
    assert sum(pieces) == pytest.approx(total, abs=0.1)
    segs = list(TranscriptSegment.objects.filter(video=video).order_by("index"))
    assert segs[0].start == 0.0
    assert segs[-1].end == pytest.approx(total, abs=0.1)
    for a, b in itertools.pairwise(segs):
        assert b.start == pytest.approx(a.end, abs=0.002)  # continuous across piece joins
    # the first segment of each piece sits at that piece's offset
    offsets = list(itertools.accumulate([0.0, *pieces[:-1]]))
    for n, offset in enumerate(offsets):
        first = next(s for s in segs if s.text.startswith(f"piece {n} "))
        assert first.start == pytest.approx(offset, abs=0.01)
    entries = UsageLedgerEntry.objects.filter(subject=f"video:{video.pk}").order_by("id")
    assert len(entries) == 3
    for entry, seconds in zip(entries, pieces, strict=True):
        assert float(entry.units) == pytest.approx(seconds, abs=0.01)
        assert entry.usd == whisper_cost(float(entry.units))
    assert video.processing_cost_usd == sum(e.usd for e in entries)
