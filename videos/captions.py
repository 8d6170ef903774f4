"""Parse uploaded caption files (.vtt via webvtt-py, .srt via `srt`) into timed cues.

Handles: byte-order marks and UTF-16/cp1252 files, cue numbering from 0 or missing,
`<v Speaker>` voice tags (moved into `speaker`), other cue tags and entities, youtube-dl
style files (no numbers, rolling duplicate lines), curly quotes (kept as written).
The format is decided by content ("WEBVTT" header or SRT timing lines); the extension is a
hint only. Anything we cannot read raises CaptionError with a message for the creator.

Validated before use (at upload and again in the pipeline), each problem named by its line:
text that is not UTF-8/UTF-16/Windows-1252, NUL characters, cues ending before they start,
cues longer than MAX_CUE_SECONDS or MAX_CUE_CHARS (split them; a file that is one single
long cue is split for the creator instead), and cues past the media's end by more than
PAST_END_TOLERANCE seconds (when the media's duration is known).
"""

from __future__ import annotations

import html
import io
import math
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
# Limits of one cue. 30 s / 1,000 characters are far above real captions (our test lectures
# peak at 25 s and 430 characters; broadcast guidelines ask for ~7 s and 2 lines of 42-ish
# characters), so a cue past them is a broken file, not a style choice.
MAX_CUE_SECONDS = 30.0
MAX_CUE_CHARS = 1000
# How far past the media's end a cue may reach (players and encoders disagree by ~1 s).
PAST_END_TOLERANCE = 2.0
# When the whole file is one long cue, it is split into pieces of about this many characters.
SPLIT_PIECE_CHARS = 250
MAX_PROBLEMS_SHOWN = 5


def decode_text(data: bytes, *, name: str = "The caption file") -> str:
    """Bytes of a caption file -> str: UTF-8 (BOM or not), UTF-16 (with a BOM, or detected by
    its zero bytes), else Windows-1252. Raises CaptionError naming the line of a byte that
    is text in none of these."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    head = data[:2000]
    if len(head) >= 8 and head.count(b"\x00") * 3 >= len(head):  # UTF-16 without a BOM
        odd_zeros = head[1::2].count(b"\x00") > head[0::2].count(b"\x00")
        try:
            return data.decode("utf-16-le" if odd_zeros else "utf-16-be")
        except UnicodeDecodeError:
            raise CaptionError(
                f"This is not a text caption file (it contains binary data). {HELP}"
            ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if b"\x00" in head:
        raise CaptionError(f"This is not a text caption file (it contains binary data). {HELP}")
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CaptionError(
            f"{name}, line {line}: byte 0x{data[exc.start]:02X} is not text in UTF-8 or "
            f"Windows-1252. Save the file as UTF-8 and upload it again."
        ) from None


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


def parse_captions(
    data: bytes | str, *, filename: str = "", media_duration: float | None = None
) -> list[Cue]:
    """Parse a .vtt or .srt file's content into cues sorted by start time, indexed from 0.

    `media_duration`: seconds of the media the captions belong to, when known; cues reaching
    more than PAST_END_TOLERANCE seconds past it are refused. Empty cues are dropped; a cue
    repeating the previous cue's last line (youtube-dl rolling captions) keeps only its new
    words; a file that is one long cue is split into timed pieces. Raises CaptionError when
    the content is not a caption file, a timing line is malformed, cues are inverted, too
    long or past the media's end (each naming its line), there are no cues, or the file
    looks like a chapters track (a few short titles over long spans).
    """
    name = filename or "The caption file"
    text = decode_text(data, name=name) if isinstance(data, bytes) else data.lstrip("\ufeff")
    if not text.strip():
        raise CaptionError(f"{name} is empty. {HELP}")
    _check_timing_lines(text, name)
    _check_cues(text, name, media_duration)
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
    if len(cues) == 1 and _too_long(cues[0].end - cues[0].start, len(cues[0].text)):
        return split_long_cue(cues[0])
    _reject_chapters(cues, name)
    return cues


def _too_long(seconds: float, chars: int) -> bool:
    return seconds > MAX_CUE_SECONDS or chars > MAX_CUE_CHARS


def _clock(seconds: float) -> str:
    """H:MM:SS.mmm (or M:SS.mmm under an hour), as caption files write times."""
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    sec = rest / 1000
    return f"{h}:{m:02d}:{sec:06.3f}" if h else f"{m}:{sec:06.3f}"


def _check_cues(text: str, name: str, media_duration: float | None) -> None:
    """Refuse NUL characters and inverted, overlong or past-the-end cues, naming lines."""
    lines = text.splitlines()
    problems: list[str] = []
    timed: list[tuple[int, float, float, int]] = []  # (line number, start, end, characters)
    for i, line in enumerate(lines):
        if "\x00" in line:
            problems.append(
                f"line {i + 1} contains a NUL character (the file is damaged or not plain "
                f"text); remove it or re-export the captions as UTF-8"
            )
        m = _TIMING_LINE.match(line)
        if m:
            body = 0
            for follow in lines[i + 1 :]:
                if not follow.strip():
                    break
                body += len(follow.strip()) + 1
            timed.append((i + 1, _seconds(m.group(1)), _seconds(m.group(2)), max(0, body - 1)))
    single = len(timed) == 1
    for lineno, start, end, chars in timed:
        if end < start:
            problems.append(
                f"line {lineno}: the cue ends ({_clock(end)}) before it starts ({_clock(start)})"
            )
        elif not single and end - start > MAX_CUE_SECONDS:
            problems.append(
                f"line {lineno}: the cue lasts {end - start:.1f} s; a cue may last at most "
                f"{MAX_CUE_SECONDS:.0f} s, split it"
            )
        if not single and chars > MAX_CUE_CHARS:
            problems.append(
                f"line {lineno}: the cue has {chars:,} characters; a cue may have at most "
                f"{MAX_CUE_CHARS:,}, split it"
            )
        if media_duration and end > media_duration + PAST_END_TOLERANCE:
            problems.append(
                f"line {lineno}: the cue ({_clock(start)} --> {_clock(end)}) is past the end of "
                f"the media ({_clock(media_duration)}); are these the captions of this file?"
            )
    if problems:
        shown = "; ".join(problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        tail = f"; and {more} more problem{'s' if more != 1 else ''}" if more > 0 else ""
        raise CaptionError(f"{name}: {shown}{tail}. Fix the file and upload it again.")


def split_long_cue(cue: Cue) -> list[Cue]:
    """One overlong cue -> consecutive cues of about SPLIT_PIECE_CHARS characters (and at
    most MAX_CUE_SECONDS each), timed in proportion to their share of the text."""
    words = cue.text.split()
    span = max(0.0, cue.end - cue.start)
    pieces = max(math.ceil(len(cue.text) / SPLIT_PIECE_CHARS), math.ceil(span / MAX_CUE_SECONDS), 1)
    pieces = min(pieces, len(words))
    target = len(cue.text) / pieces
    groups: list[list[str]] = [[]]
    size = 0
    for word in words:
        if size >= target and len(groups) < pieces:
            groups.append([])
            size = 0
        groups[-1].append(word)
        size += len(word) + 1
    total = sum(len(" ".join(g)) + 1 for g in groups)
    out: list[Cue] = []
    offset = 0
    for i, group in enumerate(groups):
        piece = " ".join(group)
        start = cue.start + span * offset / total
        offset += len(piece) + 1
        end = cue.end if i == len(groups) - 1 else cue.start + span * offset / total
        out.append(Cue(i, round(start, 3), round(end, 3), piece, cue.speaker))
    return out


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
