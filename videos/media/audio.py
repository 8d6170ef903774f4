"""Audio for transcription: streamed 16 kHz mono PCM, WAV extraction, compact pieces for
Whisper cut at silences. Everything streams frame by frame; an hour of audio is never held
in memory."""

from __future__ import annotations

import os
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import av

from videos.media.probe import MediaError, _open, _short

# Sample rate and layout for transcription (what pocketsphinx and Whisper expect best).
ASR_SAMPLE_RATE = 16_000


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
        for packet in _packets_until_unreadable(container, stream):
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


def _packets_until_unreadable(container, stream) -> Iterator:
    """`stream`'s packets until the data ends or cannot be read (a cut-off file processed
    on its readable part ends there instead of failing)."""
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except (StopIteration, av.error.FFmpegError):
            return
        yield packet


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
