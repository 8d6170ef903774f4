"""Media handling with PyAV (bundled FFmpeg; no system ffmpeg): probe, thumbnail, audio
extraction to 16 kHz mono PCM, and compact audio pieces for Whisper.

Everything streams frame by frame; an hour of audio is never held in memory.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import av

logger = logging.getLogger(__name__)

# Sample rate and layout for transcription (what pocketsphinx and Whisper expect best).
ASR_SAMPLE_RATE = 16_000
ACCEPTED_TEXT = (
    "Upload an MP4, MOV, AVI, WebM, MKV or M4V video, or an MP3, M4A, WAV, FLAC or OGG audio file."
)
# How far into a video the thumbnail frame is taken (fraction of the duration), and the
# fallbacks tried when that frame is (nearly) black.
THUMBNAIL_POSITIONS = (0.10, 0.25, 0.5, 0.0)
THUMBNAIL_MAX_WIDTH = 640
_BLACK_LUMA = 16  # mean 8-bit luma below this counts as a black frame


class MediaError(Exception):
    """The file is not media we can read; the message is shown to the creator."""


@dataclass(frozen=True)
class MediaInfo:
    """What probe() found. duration in seconds (None if unknown)."""

    media_kind: str  # "video" | "audio"
    container: str  # FFmpeg demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    duration: float | None
    has_audio: bool
    has_video: bool
    video_codec: str = ""
    audio_codec: str = ""
    width: int = 0
    height: int = 0

    @property
    def suggested_extension(self) -> str:
        """An extension naming the stored file when the upload's own is unusable."""
        c = self.container
        table = [
            ("mp4", "mp4" if self.has_video else "m4a"),
            ("matroska", "mkv"),
            ("webm", "webm"),
            ("avi", "avi"),
            ("mp3", "mp3"),
            ("wav", "wav"),
            ("flac", "flac"),
            ("ogg", "ogg"),
        ]
        for key, ext in table:
            if key in c:
                return ext
        return "mp4" if self.has_video else "m4a"


# Well-known signatures, only to name what a rejected file is ("detected: PNG image").
_SIGNATURES: list[tuple[bytes, int, str]] = [
    (b"\x89PNG\r\n\x1a\n", 0, "PNG image"),
    (b"\xff\xd8\xff", 0, "JPEG image"),
    (b"GIF87a", 0, "GIF image"),
    (b"GIF89a", 0, "GIF image"),
    (b"%PDF", 0, "PDF document"),
    (b"PK\x03\x04", 0, "ZIP archive or Office document"),
    (b"\x1f\x8b", 0, "gzip archive"),
    (b"Rar!", 0, "RAR archive"),
    (b"7z\xbc\xaf", 0, "7-Zip archive"),
    (b"WEBP", 8, "WebP image"),
    (b"MZ", 0, "Windows program"),
    (b"\x7fELF", 0, "program file"),
    (b"WEBVTT", 0, "WebVTT caption file"),
    (b"\xef\xbb\xbfWEBVTT", 0, "WebVTT caption file"),
]


def sniff(head: bytes) -> str | None:
    """Name the kind of a non-media file from its first bytes, or None when unknown."""
    for sig, offset, name in _SIGNATURES:
        if head[offset : offset + len(sig)] == sig:
            return name
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] == b"<":
        low = stripped[:200].lower()
        if b"<html" in low or b"<!doctype html" in low:
            return "HTML page"
        return "XML/HTML text"
    if stripped[:1] in (b"{", b"["):
        return "JSON text"
    if head:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError:
            text = None
            # a multibyte sequence cut at the end of the sample is still text
            with contextlib.suppress(UnicodeDecodeError):
                text = head[:-3].decode("utf-8")
        if text is not None and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
            if "-->" in text:
                return "caption file"
            return "text file"
    return None


def _read_head(source) -> bytes:
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            return fh.read(512)
    pos = source.tell()
    source.seek(0)
    head = source.read(512)
    source.seek(pos)
    return head


def _not_media_message(source, filename: str, reason: str = "") -> str:
    what = sniff(_read_head(source))
    name = filename or "The file"
    if what:
        return (
            f"{name} is not a video or audio file we can read (detected: {what}). {ACCEPTED_TEXT}"
        )
    if reason:
        return (
            f"{name} could not be read as video or audio: it looks damaged or incomplete "
            f"({reason}). Re-export or re-download it, then upload again. {ACCEPTED_TEXT}"
        )
    return f"{name} is not a video or audio file we can read. {ACCEPTED_TEXT}"


def _open(source) -> av.container.InputContainer:
    if isinstance(source, (str, os.PathLike)):
        return av.open(str(source), mode="r", metadata_errors="ignore")
    return av.open(source, mode="r", metadata_errors="ignore")


def probe(source: str | os.PathLike | IO[bytes], *, filename: str = "") -> MediaInfo:
    """Open `source` (a path or a seekable binary file) with PyAV and describe it.

    Decodes a few packets of the main stream so a file with a valid header but garbage data
    is caught. Raises MediaError with a creator-facing message when the content is not
    audio/video (naming what it is when recognisable, e.g. "detected: PNG image"), has no
    audio or video stream, or cannot be decoded. Only a cover-art picture (an attached
    picture stream, e.g. in MP3s) does not make a file a video.
    """
    try:
        container = _open(source)
    except av.error.InvalidDataError as exc:
        # FFmpeg recognised no container at all: not media (or unrecognisably damaged).
        raise MediaError(_not_media_message(source, filename)) from exc
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise MediaError(_not_media_message(source, filename, _short(exc))) from exc
    try:
        fmt = container.format.name if container.format else ""
        if fmt in ("image2", "png_pipe", "jpeg_pipe", "gif", "webp_pipe", "tty", "srt", "webvtt"):
            raise MediaError(_not_media_message(source, filename))
        vstreams = [
            s
            for s in container.streams.video
            if not (s.disposition & av.stream.Disposition.attached_pic)
        ]
        astreams = list(container.streams.audio)
        if not vstreams and not astreams:
            raise MediaError(_not_media_message(source, filename))
        duration = _duration(container, vstreams + astreams)
        main = (vstreams or astreams)[0]
        _check_decodes(container, main, source, filename)
        v = vstreams[0] if vstreams else None
        a = astreams[0] if astreams else None
        return MediaInfo(
            media_kind="video" if v is not None else "audio",
            container=fmt,
            duration=duration,
            has_audio=a is not None,
            has_video=v is not None,
            video_codec=(v.codec_context.name if v is not None else "") or "",
            audio_codec=(a.codec_context.name if a is not None else "") or "",
            width=(v.codec_context.width if v is not None else 0) or 0,
            height=(v.codec_context.height if v is not None else 0) or 0,
        )
    finally:
        container.close()


def _short(exc: BaseException) -> str:
    msg = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
    # FFmpeg messages carry "[Errno N]" and the path; keep only the reason.
    msg = re.sub(r"^\[Errno -?\d+\]\s*", "", str(msg))
    msg = msg.split(": '")[0].strip()
    return msg[:120]


def _duration(container, streams) -> float | None:
    if container.duration and container.duration > 0:
        return container.duration / av.time_base
    best = None
    for s in streams:
        if s.duration and s.time_base:
            d = float(s.duration * s.time_base)
            best = d if best is None else max(best, d)
    return best


def _check_decodes(container, stream, source, filename: str, packets: int = 12) -> None:
    """Decode up to `packets` packets of `stream`; MediaError if none yields a frame."""
    got_frame = False
    errors = 0
    seen = 0
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            seen += 1
            try:
                if packet.decode():
                    got_frame = True
                    break
            except av.error.FFmpegError:
                errors += 1
            if seen >= packets:
                break
    except av.error.FFmpegError as exc:
        raise MediaError(_not_media_message(source, filename, _short(exc))) from exc
    if not got_frame:
        reason = "no decodable frames" if seen else "no data in the media stream"
        raise MediaError(_not_media_message(source, filename, reason))


def thumbnail_jpeg(path: str | os.PathLike, *, duration: float | None = None) -> bytes | None:
    """A JPEG (bytes, at most THUMBNAIL_MAX_WIDTH px wide) of a representative frame, taken
    ~10% into the video (later positions tried when that frame is black). None for audio
    or when no frame can be decoded (a missing thumbnail never fails the pipeline)."""
    from PIL import Image, ImageStat

    try:
        container = _open(path)
    except av.error.FFmpegError:
        return None
    try:
        streams = [
            s
            for s in container.streams.video
            if not (s.disposition & av.stream.Disposition.attached_pic)
        ]
        if not streams:
            return None
        stream = streams[0]
        stream.thread_type = "AUTO"
        dur = duration or _duration(container, [stream]) or 0.0
        fallback = None
        for frac in THUMBNAIL_POSITIONS:
            image = _frame_at(container, stream, dur * frac)
            if image is None:
                continue
            luma = ImageStat.Stat(image.convert("L")).mean[0]
            if fallback is None:
                fallback = image
            if luma >= _BLACK_LUMA:
                fallback = image
                break
        if fallback is None:
            return None
        img = fallback.convert("RGB")
        if img.width > THUMBNAIL_MAX_WIDTH:
            h = round(img.height * THUMBNAIL_MAX_WIDTH / img.width)
            img = img.resize((THUMBNAIL_MAX_WIDTH, max(1, h)), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=82, optimize=True)
        return buf.getvalue()
    except av.error.FFmpegError:
        logger.info("thumbnail: could not decode a frame of %s", path, exc_info=True)
        return None
    finally:
        container.close()


def _frame_at(container, stream, seconds: float):
    """The first decodable frame at or after `seconds` as a PIL image, or None."""
    try:
        if seconds > 0 and stream.time_base:
            container.seek(int(seconds / stream.time_base), stream=stream, backward=True)
        elif seconds <= 0:
            container.seek(0, stream=stream, backward=True)
    except av.error.FFmpegError:
        return None
    target = seconds
    last = None
    try:
        for i, frame in enumerate(container.decode(stream)):
            last = frame
            t = frame.time if frame.time is not None else 0.0
            if t >= target - 0.05 or i > 300:
                return frame.to_image()
    except av.error.FFmpegError:
        pass
    return last.to_image() if last is not None else None


def iter_pcm16(path: str | os.PathLike, *, sample_rate: int = ASR_SAMPLE_RATE) -> Iterator[bytes]:
    """Yield the first audio stream of `path` decoded to signed 16-bit little-endian mono
    PCM at `sample_rate` Hz, in blocks (a few KB each). Raises MediaError when the file has
    no audio stream or its audio cannot be decoded at all; a few bad packets are skipped."""
    try:
        container = _open(path)
    except av.error.FFmpegError as exc:
        raise MediaError(f"The media file could not be opened ({_short(exc)}).") from exc
    try:
        if not container.streams.audio:
            raise MediaError(
                "This file has no audio track, so there is nothing to transcribe. "
                "Upload captions (.vtt or .srt) with it, or a file with sound."
            )
        stream = container.streams.audio[0]
        stream.thread_type = "AUTO"
        resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
        yielded = 0
        bad = 0
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                bad += 1
                if bad > 50 and yielded == 0:
                    raise MediaError(
                        "The audio track could not be decoded: the file looks damaged. "
                        "Re-export it and upload again."
                    ) from None
                continue
            for frame in frames:
                for out in resampler.resample(frame):
                    data = bytes(out.planes[0])[: out.samples * 2]
                    yielded += len(data)
                    yield data
        for out in resampler.resample(None):
            data = bytes(out.planes[0])[: out.samples * 2]
            yielded += len(data)
            yield data
        if yielded == 0:
            raise MediaError(
                "The audio track could not be decoded: the file looks damaged or empty. "
                "Re-export it and upload again."
            )
    finally:
        container.close()


def extract_audio_wav(
    path: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    sample_rate: int = ASR_SAMPLE_RATE,
    progress: Callable[[float], None] | None = None,
    duration: float | None = None,
) -> float:
    """Stream the audio of `path` into a 16-bit mono WAV at `dest` (written incrementally).
    Returns the audio duration in seconds. `progress(fraction)` is called now and then
    when `duration` is known. Raises MediaError (see iter_pcm16)."""
    samples = 0
    next_report = 0.0
    with wave.open(str(dest), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        for block in iter_pcm16(path, sample_rate=sample_rate):
            wav.writeframesraw(block)
            samples += len(block) // 2
            if progress and duration:
                frac = min(1.0, samples / sample_rate / duration)
                if frac >= next_report:
                    progress(frac)
                    next_report = frac + 0.05
    return samples / sample_rate


def wav_duration(path: str | os.PathLike) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def encode_wav_piece(
    wav_path: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    start: float,
    end: float,
    codec: str = "flac",
) -> Path:
    """Encode seconds [start, end) of a 16-bit mono WAV into a compact file at `dest`
    (FLAC by default: lossless, ~half the size of WAV; "mp3" for smaller pieces).
    Returns `dest`. Reads the WAV in blocks; never loads it whole."""
    dest = Path(dest)
    with wave.open(str(wav_path), "rb") as w:
        rate = w.getframerate()
        w.setpos(int(start * rate))
        remaining = int((end - start) * rate)
        fmt = {"flac": "flac", "mp3": "mp3"}[codec]
        out = av.open(str(dest), mode="w", format=fmt)
        try:
            enc_name = "libmp3lame" if codec == "mp3" else "flac"
            ostream = out.add_stream(enc_name, rate=rate, layout="mono")
            if codec == "mp3":
                ostream.bit_rate = 48_000
            fmt_name = ostream.codec_context.format.name
            resampler = av.AudioResampler(format=fmt_name, layout="mono", rate=rate)
            pts = 0
            block = 4096 * 4
            while remaining > 0:
                n = min(block, remaining)
                data = w.readframes(n)
                if not data:
                    break
                got = len(data) // 2
                remaining -= got
                frame = av.AudioFrame(format="s16", layout="mono", samples=got)
                frame.planes[0].update(data)
                frame.sample_rate = rate
                frame.pts = pts
                pts += got
                for f in resampler.resample(frame):
                    for packet in ostream.encode(f):
                        out.mux(packet)
            for f in resampler.resample(None):
                for packet in ostream.encode(f):
                    out.mux(packet)
            for packet in ostream.encode(None):
                out.mux(packet)
        finally:
            out.close()
    return dest


def silence_cut_points(
    wav_path: str | os.PathLike,
    *,
    piece_seconds: float,
    search_seconds: float = 20.0,
    window_seconds: float = 0.25,
) -> list[float]:
    """Cut times (seconds) splitting the WAV into pieces of at most `piece_seconds`, each
    cut placed at the quietest `window_seconds` window within the last `search_seconds`
    before the limit (so words are not cut in half). Returns interior cut points only."""
    import array

    total = wav_duration(wav_path)
    cuts: list[float] = []
    pos = 0.0
    with wave.open(str(wav_path), "rb") as w:
        rate = w.getframerate()
        win = max(1, int(window_seconds * rate))
        while total - pos > piece_seconds:
            limit = pos + piece_seconds
            lo = max(pos + piece_seconds / 2, limit - search_seconds)
            w.setpos(int(lo * rate))
            data = w.readframes(int((limit - lo) * rate))
            samples = array.array("h")
            samples.frombytes(data[: len(data) // 2 * 2])
            best_t, best_e = limit, None
            for k in range(0, max(1, len(samples) - win + 1), win):
                seg = samples[k : k + win]
                if not seg:
                    break
                energy = sum(abs(x) for x in seg[::4]) / len(seg[::4])
                if best_e is None or energy < best_e:
                    best_e, best_t = energy, lo + (k + win / 2) / rate
            cut = min(best_t, limit)
            if cut <= pos:
                cut = limit
            cuts.append(cut)
            pos = cut
    return cuts
