"""Speech to timed text: OpenAI Whisper (online) or pocketsphinx (offline, model in wheel).

Both take a 16 kHz mono 16-bit WAV (videos.media.extract_audio_wav) or, for Whisper, the
original file when it is small and in a format Whisper accepts, and return TimedText
segments in seconds from the start of the media.
"""

from __future__ import annotations

import functools
import logging
import re
import tempfile
import threading
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from videos.media import ASR_SAMPLE_RATE, encode_wav_piece, silence_cut_points, wav_duration
from videos.providers import PipelineError, call_with_backoff

logger = logging.getLogger(__name__)

# OpenAI's upload limit for /v1/audio/transcriptions: 25 MB per file
# (https://platform.openai.com/docs/guides/speech-to-text). We compare against 25 MiB - 1 KB
# of slack for the multipart envelope.
WHISPER_MAX_BYTES = 25 * 1024 * 1024 - 1024
WHISPER_MODEL = "whisper-1"
# Containers Whisper accepts as-is (same page): flac mp3 mp4 mpeg mpga m4a ogg wav webm.
WHISPER_EXTENSIONS = ("flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm")
# Length of each piece when a long recording is split (FLAC 16 kHz mono: ~1 MB/min, so a
# 10-minute piece is ~10 MB, far below the limit). settings.CHRONOS_WHISPER_PIECE_SECONDS
# overrides it.
WHISPER_PIECE_SECONDS = 600.0

Progress = Callable[[float], None]


@dataclass(frozen=True)
class TimedText:
    """A transcript segment: seconds from the media start, text, optional speaker."""

    start: float
    end: float
    text: str
    speaker: str = ""


# ---------------------------------------------------------------- Whisper (OpenAI) ------


def whisper_piece_seconds() -> float:
    return float(getattr(settings, "CHRONOS_WHISPER_PIECE_SECONDS", WHISPER_PIECE_SECONDS))


_LANGUAGE_CODES = {
    "english": "en",
    "spanish": "es",
    "french": "fr",
    "german": "de",
    "italian": "it",
    "portuguese": "pt",
    "dutch": "nl",
    "russian": "ru",
    "chinese": "zh",
    "japanese": "ja",
    "korean": "ko",
    "arabic": "ar",
    "hindi": "hi",
    "polish": "pl",
    "turkish": "tr",
}


def language_code(name: str | None) -> str:
    """Whisper's language name ("english") -> ISO 639-1 ("en"); unknown names as given."""
    if not name:
        return ""
    n = name.strip().lower()
    return _LANGUAGE_CODES.get(n, n)[:16]


def _field(obj, name, default=None):
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def whisper_transcribe_file(
    client, path: Path, *, offset: float = 0.0
) -> tuple[list[TimedText], str, float]:
    """One Whisper request for `path` (<= 25 MB). Returns (segments shifted by `offset`
    seconds, language name, duration seconds reported by the API). Transient errors are
    retried with backoff (videos.providers.call_with_backoff)."""
    data = path.read_bytes()
    if len(data) > WHISPER_MAX_BYTES:
        raise PipelineError(f"internal: audio piece {path.name} is over 25 MB")

    def _call():
        return client.audio.transcriptions.create(
            model=WHISPER_MODEL,
            file=(path.name, data),
            response_format="verbose_json",
            timestamp_granularities=["segment"],
        )

    resp = call_with_backoff(_call, what=f"whisper ({path.name})")
    segments = []
    for seg in _field(resp, "segments", None) or []:
        text = (_field(seg, "text", "") or "").strip()
        if not text:
            continue
        start = float(_field(seg, "start", 0.0)) + offset
        end = float(_field(seg, "end", 0.0)) + offset
        segments.append(TimedText(round(start, 3), round(max(end, start), 3), text))
    if not segments and (_field(resp, "text", "") or "").strip():
        # verbose_json without segments (some compatible servers): one segment for the piece.
        dur = float(_field(resp, "duration", 0.0) or 0.0)
        segments.append(TimedText(round(offset, 3), round(offset + dur, 3), resp.text.strip()))
    return segments, _field(resp, "language", "") or "", float(_field(resp, "duration", 0) or 0)


def whisper_transcribe(
    source: Path,
    *,
    wav_path: Path | None,
    creator=None,
    subject: str = "",
    progress: Progress | None = None,
    client=None,
    workdir: Path | None = None,
) -> tuple[list[TimedText], str, float]:
    """Transcribe with whisper-1. Returns (segments, ISO language code, billed seconds).

    `source` is the original media file; it is sent as-is when it is <= 25 MB and in a
    Whisper container. Otherwise `wav_path` (16 kHz mono WAV of the audio) is cut into
    pieces of whisper_piece_seconds() at the quietest moment near each limit, each piece
    is encoded as FLAC and sent, and its segments are shifted by the piece's start.
    Writes one usage-ledger row per request (billing.prices.whisper_cost: $0.006/min).
    Raises openai errors (after bounded backoff) and PipelineError.
    """
    from billing.prices import whisper_cost
    from billing.services import usage_record
    from videos.providers import openai_client

    client = client or openai_client()
    ext = source.suffix.lower().lstrip(".")
    small = source.stat().st_size <= WHISPER_MAX_BYTES and ext in WHISPER_EXTENSIONS
    if small or wav_path is None:
        if not small:
            raise PipelineError("internal: no extracted audio to split for Whisper")
        pieces = [(0.0, None, source)]
    else:
        total = wav_duration(wav_path)
        cuts = silence_cut_points(wav_path, piece_seconds=whisper_piece_seconds())
        bounds = [0.0, *cuts, total]
        pieces = [(bounds[i], bounds[i + 1], None) for i in range(len(bounds) - 1)]

    all_segments: list[TimedText] = []
    language = ""
    billed = 0.0
    tmp = Path(workdir or tempfile.mkdtemp(prefix="chronos-whisper-"))
    for i, (start, end, path) in enumerate(pieces):
        if path is None:
            path = encode_wav_piece(wav_path, tmp / f"piece-{i:03d}.flac", start=start, end=end)
        segs, lang, dur = whisper_transcribe_file(client, path, offset=start)
        if path.parent == tmp:
            path.unlink(missing_ok=True)
        seconds = (end - start) if end is not None else (dur or 0.0)
        if not seconds and segs:
            seconds = segs[-1].end
        billed += seconds
        language = language or lang
        if creator is not None:
            usage_record(
                creator=creator,
                operation="transcription",
                provider="openai",
                model=WHISPER_MODEL,
                units=round(seconds, 3),
                unit="seconds",
                usd=whisper_cost(seconds),
                subject=subject,
                metadata={"piece": i, "pieces": len(pieces), "offset": start},
            )
        all_segments.extend(segs)
        if progress:
            progress((i + 1) / len(pieces))
    return _continuous(all_segments), language_code(language), billed


def _continuous(segments: list[TimedText]) -> list[TimedText]:
    """Sort by start and remove overlaps at piece joins (end clipped to next start)."""
    segments = sorted(segments, key=lambda s: s.start)
    out: list[TimedText] = []
    for i, s in enumerate(segments):
        end = s.end
        if i + 1 < len(segments) and end > segments[i + 1].start:
            end = max(s.start, segments[i + 1].start)
        out.append(TimedText(s.start, end, s.text, s.speaker))
    return out


# ---------------------------------------------------------------- local (pocketsphinx) --

# pocketsphinx frames are 10 ms (frate 100).
_FRAME = 0.01
# A pause this long inside an utterance ends a segment; segments are also capped in words.
_PAUSE_SPLIT = 0.35
_MAX_SEGMENT_WORDS = 25
_FILLERS = re.compile(r"^(<s>|</s>|<sil>|\[.*\]|\+\+.*\+\+|\(.*\))$")


def _clean_word(word: str) -> str | None:
    if _FILLERS.match(word):
        return None
    return re.sub(r"\(\d+\)$", "", word)


@dataclass
class _Word:
    text: str
    start: float
    end: float


def local_transcribe(wav_path: Path, *, progress: Progress | None = None) -> list[TimedText]:
    """Offline speech recognition with pocketsphinx's bundled US-English model.

    The WAV (16 kHz mono 16-bit) is cut into utterances by pocketsphinx's voice-activity
    Segmenter, each utterance decoded, and its words (10 ms frame timings) grouped into
    sentence-ish segments at pauses >= 0.35 s or 25 words, capitalised and closed with a
    period so the chunker can break there. Streams the file; memory stays flat.
    """
    from pocketsphinx import Segmenter

    decoder = _decoder()
    total = max(wav_duration(wav_path), 0.001)
    segments: list[TimedText] = []
    with _DECODER_LOCK, wave.open(str(wav_path), "rb") as w:
        if w.getframerate() != ASR_SAMPLE_RATE or w.getnchannels() != 1:
            raise PipelineError("internal: local ASR needs 16 kHz mono audio")
        segmenter = Segmenter(sample_rate=ASR_SAMPLE_RATE)
        for utt in segmenter.segment(w.getfp()):
            decoder.start_utt()
            decoder.process_raw(utt.pcm, full_utt=True)
            decoder.end_utt()
            words = []
            for s in decoder.seg():
                text = _clean_word(s.word)
                if text:
                    words.append(
                        _Word(
                            text,
                            utt.start_time + s.start_frame * _FRAME,
                            utt.start_time + (s.end_frame + 1) * _FRAME,
                        )
                    )
            segments.extend(_group_words(words))
            if progress:
                progress(min(1.0, utt.end_time / total))
    return segments


_DECODER_LOCK = threading.Lock()


@functools.cache
def _decoder():
    """One pocketsphinx Decoder per process (loading the model takes ~0.5 s); calls are
    serialised by _DECODER_LOCK because a Decoder is not thread-safe."""
    from pocketsphinx import Decoder

    return Decoder(samprate=ASR_SAMPLE_RATE, loglevel="FATAL")


def _group_words(words: list[_Word]) -> list[TimedText]:
    out: list[TimedText] = []
    cur: list[_Word] = []

    def flush():
        if not cur:
            return
        text = " ".join(w.text for w in cur)
        text = text[:1].upper() + text[1:] + "."
        text = re.sub(r"\bi\b", "I", text)
        out.append(TimedText(round(cur[0].start, 3), round(cur[-1].end, 3), text))
        cur.clear()

    for w in words:
        if cur and (w.start - cur[-1].end >= _PAUSE_SPLIT or len(cur) >= _MAX_SEGMENT_WORDS):
            flush()
        cur.append(w)
    flush()
    return out


def transcriber_choice() -> str:
    """ "whisper" or "local" from settings.CHRONOS_TRANSCRIBER (auto|whisper|local):
    auto = whisper when OPENAI_API_KEY is set. Raises PipelineError for whisper without a key."""
    choice = (getattr(settings, "CHRONOS_TRANSCRIBER", "auto") or "auto").lower()
    if choice == "auto":
        return "whisper" if settings.OPENAI_API_KEY else "local"
    if choice == "whisper" and not settings.OPENAI_API_KEY:
        raise PipelineError(
            "Transcription is set to OpenAI Whisper but no OPENAI_API_KEY is configured. "
            "Set the key, or upload captions with the video, then retry."
        )
    if choice not in ("whisper", "local"):
        raise PipelineError(f"Unknown CHRONOS_TRANSCRIBER={choice!r} (auto, whisper or local).")
    return choice
