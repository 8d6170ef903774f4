"""What a file is, by content (PyAV, bundled FFmpeg): kind, container, duration, codecs;
a clear message naming what a rejected file looks like."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

import av

ACCEPTED_TEXT = (
    "Upload an MP4, MOV, AVI, WebM, MKV or M4V video, or an MP3, M4A, WAV, FLAC or OGG audio file."
)


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


# A file is cut off when what decodes ends this much before what its container claims:
# max(CUT_OFF_MIN_GAP seconds, CUT_OFF_MIN_FRACTION of the claim). Below that, streams
# legitimately differ (a last frame's duration, audio priming, bitrate-estimated MP3s).
CUT_OFF_MIN_GAP = 2.0
CUT_OFF_MIN_FRACTION = 0.03


def readable_duration(
    source: str | os.PathLike, *, progress: Callable[[float], None] | None = None
) -> float | None:
    """Seconds of `source` that can actually be read: the latest packet end over its audio
    and video streams, demuxing the whole file and decoding its audio (video packets are
    only demuxed: decoding them would cost minutes per hour of video). Stops at the first
    read error, where a cut-off file ends; an audio packet that does not decode does not
    count. `progress(fraction)` is called now and then (fraction of the claimed duration).
    None when no packet carries a time. Raises MediaError when the file cannot be opened."""
    try:
        container = _open(source)
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(_not_media_message(source, "", _short(exc))) from exc
    try:
        claimed = (container.duration / av.time_base) if container.duration else None
        streams = [*container.streams.audio, *container.streams.video]
        end: float | None = None
        seen = 0
        try:
            for packet in container.demux(streams):
                if not packet.size or packet.pts is None or packet.time_base is None:
                    continue
                if packet.stream.type == "audio":
                    try:
                        packet.decode()
                    except av.error.FFmpegError:
                        continue
                packet_end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                end = packet_end if end is None else max(end, packet_end)
                seen += 1
                if progress and claimed and seen % 500 == 0:
                    progress(min(1.0, end / claimed))
        except av.error.FFmpegError:
            pass  # the data stops here
        return end
    finally:
        container.close()


def is_cut_off(readable: float | None, claimed: float | None) -> bool:
    """True when `readable` seconds (readable_duration) fall short of the `claimed`
    duration by more than max(CUT_OFF_MIN_GAP, CUT_OFF_MIN_FRACTION x claimed)."""
    if readable is None or not claimed:
        return False
    return claimed - readable > max(CUT_OFF_MIN_GAP, CUT_OFF_MIN_FRACTION * claimed)


def clock(seconds: float) -> str:
    """Seconds as "m:ss" (under an hour) or "h:mm:ss", floored: 41.9 -> "0:41"."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def cut_off_message(*, filename: str, readable: float, claimed: float) -> str:
    """The creator-facing failure for a cut-off file (issue 13's wording)."""
    name = filename or "The file"
    return (
        f"{name}: this file is cut off at {clock(readable)} of {clock(claimed)} — re-export "
        f"or re-upload, or choose “Use the readable part” to process its first "
        f"{clock(readable)}."
    )
