"""Media handling with PyAV (bundled FFmpeg; no system ffmpeg): probe, thumbnail, audio
extraction to 16 kHz mono PCM, and compact audio pieces for Whisper.

Modules: probe (what a file is, by content), thumbnail (a JPEG frame), audio (PCM, WAV,
Whisper pieces). The names below are the package's public surface.
"""

from videos.media.audio import (
    ASR_SAMPLE_RATE,
    encode_wav_piece,
    extract_audio_wav,
    iter_pcm16,
    silence_cut_points,
    wav_duration,
)
from videos.media.probe import (
    ACCEPTED_TEXT,
    MediaError,
    MediaInfo,
    clock,
    cut_off_message,
    is_cut_off,
    probe,
    readable_duration,
    sniff,
)
from videos.media.thumbnail import THUMBNAIL_MAX_WIDTH, THUMBNAIL_POSITIONS, thumbnail_jpeg

__all__ = [
    "ACCEPTED_TEXT",
    "ASR_SAMPLE_RATE",
    "THUMBNAIL_MAX_WIDTH",
    "THUMBNAIL_POSITIONS",
    "MediaError",
    "MediaInfo",
    "clock",
    "cut_off_message",
    "encode_wav_piece",
    "extract_audio_wav",
    "is_cut_off",
    "iter_pcm16",
    "probe",
    "readable_duration",
    "silence_cut_points",
    "sniff",
    "thumbnail_jpeg",
    "wav_duration",
]
