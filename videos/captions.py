"""Parse uploaded caption files (.vtt via webvtt-py, .srt via `srt`) into timed cues.

Handles: byte-order marks and UTF-16/cp1252 files, cue numbering from 0 or missing,
`<v Speaker>` voice tags (moved into `speaker`), other cue tags and entities, youtube-dl
style files (no numbers, rolling duplicate lines), curly quotes (kept as written).
The format is decided by content ("WEBVTT" header or SRT timing lines); the extension is a
hint only. Anything we cannot read raises CaptionError with a message for the creator.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass

import srt
import webvtt


class CaptionError(Exception):
    """A caption file we cannot use; the message says why and what to upload instead."""


@dataclass(frozen=True)
class Cue:
    """One caption cue: index (0-based, in time order), start/end seconds, text, speaker."""

    index: int
    start: float
    end: float
    text: str
    speaker: str = ""


_VTT_TIME = r"(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3}"
_TIMING_LINE = re.compile(rf"^\s*({_VTT_TIME})\s*-->\s*({_VTT_TIME})(?:\s+.*)?$")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>|<\d{1,2}:\d{2}(?::\d{2})?[.,]\d{3}>")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]+)>")
# An all-caps "NAME:" prefix (e.g. "LILA FISHER: Hi") names the speaker in many SRTs.
_CAPS_SPEAKER = re.compile(r"^([A-Z][A-Z.'\- ]{1,40}[A-Z.]):\s+(?=\S)")
HELP = "Upload a WebVTT (.vtt) or SubRip (.srt) caption file."


def decode_text(data: bytes) -> str:
    """Bytes of a caption file -> str: UTF-8 (BOM or not), UTF-16 with BOM, else cp1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:2000]:
        raise CaptionError(f"This is not a text caption file (it contains binary data). {HELP}")
    return data.decode("cp1252", errors="replace")


def _seconds(ts: str) -> float:
    ts = ts.strip().replace(",", ".")
    parts = ts.split(":")
    secs = float(parts[-1])
    mins = int(parts[-2]) if len(parts) >= 2 else 0
    hours = int(parts[-3]) if len(parts) >= 3 else 0
    return round(hours * 3600 + mins * 60 + secs, 3)


def clean_cue_text(raw: str) -> tuple[str, str]:
    """(text, speaker) from a cue's raw text: voice tag -> speaker, tags stripped,
    entities decoded, lines joined with single spaces."""
    speaker = ""
    m = _VOICE.search(raw)
    if m:
        speaker = m.group(1).strip()
    text = _TAG.sub("", raw)
    text = html.unescape(text)
    text = " ".join(text.split())
    if not speaker:
        m2 = _CAPS_SPEAKER.match(text)
        if m2 and len(m2.group(1).split()) <= 4:
            speaker = m2.group(1).strip().title()
            text = text[m2.end() :]
    return text.strip(), speaker[:100]


def parse_captions(data: bytes | str, *, filename: str = "") -> list[Cue]:
    """Parse a .vtt or .srt file's content into cues sorted by start time, indexed from 0.

    Empty cues are dropped; a cue repeating the previous cue's last line (youtube-dl
    rolling captions) keeps only its new words. Raises CaptionError when the content is not
    a caption file, a timing line is malformed (naming the line), there are no cues, or the
    file looks like a chapters track (a few short titles over long spans).
    """
    text = decode_text(data) if isinstance(data, bytes) else data.lstrip("\ufeff")
    name = filename or "The caption file"
    if not text.strip():
        raise CaptionError(f"{name} is empty. {HELP}")
    _check_timing_lines(text, name)
    head = text.lstrip()[:6].upper()
    if head.startswith("WEBVTT"):
        raw = _parse_vtt(text, name)
    elif "-->" in text:
        raw = _parse_srt(text, name)
    else:
        raise CaptionError(f"{name} is not a caption file (no cue timings found). {HELP}")

    raw.sort(key=lambda c: (c[0], c[1]))
    cues: list[Cue] = []
    prev_lines: list[str] = []
    for start, end, body in raw:
        lines = [ln for ln in body.splitlines() if ln.strip()]
        # youtube-dl rolling captions repeat the previous cue's lines at the top.
        while lines and prev_lines and _norm(lines[0]) in {_norm(p) for p in prev_lines}:
            lines = lines[1:]
        prev_lines = [ln for ln in body.splitlines() if ln.strip()]
        cleaned, speaker = clean_cue_text("\n".join(lines))
        if not cleaned:
            continue
        if end < start:
            end = start
        cues.append(Cue(index=len(cues), start=start, end=end, text=cleaned, speaker=speaker))
    if not cues:
        raise CaptionError(f"{name} has no captions with text in it. {HELP}")
    _reject_chapters(cues, name)
    return cues


def _norm(line: str) -> str:
    return " ".join(_TAG.sub("", line).split()).lower()


def _check_timing_lines(text: str, name: str) -> None:
    for lineno, line in enumerate(text.splitlines(), start=1):
        if "-->" in line and not _TIMING_LINE.match(line):
            shown = line.strip()[:60]
            raise CaptionError(
                f"{name}, line {lineno}: “{shown}” is not a valid cue timing "
                f"(expected like 00:01:02.500 --> 00:01:05.000). {HELP}"
            )


def _parse_vtt(text: str, name: str) -> list[tuple[float, float, str]]:
    try:
        vtt = webvtt.from_buffer(io.StringIO(text))
    except (webvtt.errors.MalformedFileError, webvtt.errors.MalformedCaptionError) as exc:
        raise CaptionError(f"{name} is not a valid WebVTT file ({exc}). {HELP}") from exc
    return [(_seconds(c.start), _seconds(c.end), c.raw_text) for c in vtt.captions]


def _parse_srt(text: str, name: str) -> list[tuple[float, float, str]]:
    try:
        subs = list(srt.parse(text))
    except srt.SRTParseError:
        # Some SRTs lack cue numbers or have stray lines; webvtt-py's SRT reader is laxer.
        try:
            vtt = webvtt.from_srt(io.StringIO(text))
        except Exception as exc:
            raise CaptionError(f"{name} is not a valid SubRip (.srt) file. {HELP}") from exc
        return [(_seconds(c.start), _seconds(c.end), c.raw_text) for c in vtt.captions]
    return [
        (round(s.start.total_seconds(), 3), round(s.end.total_seconds(), 3), s.content)
        for s in subs
    ]


def _reject_chapters(cues: list[Cue], name: str) -> None:
    if len(cues) < 2:
        return
    words = [len(c.text.split()) for c in cues]
    spans = [c.end - c.start for c in cues]
    if max(words) <= 6 and sum(spans) / len(spans) >= 15:
        raise CaptionError(
            f"{name} looks like a chapters track (a few short titles over long spans), not "
            f"captions of what is said. {HELP}"
        )
