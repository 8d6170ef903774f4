"""Helpers for the pipeline tests: building real media with PyAV, creating videos through
the real service, and OpenAI wire-format handlers for tests.loopback servers."""

from __future__ import annotations

import array
import base64
import io
import wave
from fractions import Fraction
from pathlib import Path

import av
from django.core.files import File

from tests.loopback import Request, Response

FARADAY_MP4 = "faraday-candle-1-excerpt.mp4"
FARADAY_VTT = "faraday-candle-1-excerpt.vtt"


def create(creator, path: Path, *, captions: Path | None = None, filename: str | None = None, **kw):
    """video_create with real files, not queued (tests run the stages explicitly)."""
    from videos.services import video_create

    kw.setdefault("enqueue", False)
    with open(path, "rb") as fh:
        cap = open(captions, "rb") if captions else None  # noqa: SIM115
        try:
            return video_create(
                creator=creator,
                file=File(fh, name=filename or path.name),
                filename=filename or path.name,
                captions=File(cap, name=captions.name) if cap else None,
                captions_filename=captions.name if captions else None,
                **kw,
            )
        finally:
            if cap:
                cap.close()


def process(video):
    """Run every stage in-process; returns the refreshed video."""
    from videos.pipeline import run_all

    return run_all(video.pk)


def stored_files(media_root: Path) -> list[str]:
    root = Path(media_root)
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def transcode(
    src: Path,
    dest: Path,
    *,
    vcodec: str | None,
    acodec: str | None,
    seconds: float = 3.0,
    fmt: str | None = None,
) -> Path:
    """Re-encode the first `seconds` of `src` into `dest` with the given codecs (None drops
    that stream). Small frames keep it fast."""
    inp = av.open(str(src))
    out = av.open(str(dest), "w", format=fmt)
    vin = inp.streams.video[0] if (vcodec and inp.streams.video) else None
    ain = inp.streams.audio[0] if (acodec and inp.streams.audio) else None
    vout = aout = None
    if vin is not None:
        vout = out.add_stream(vcodec, rate=Fraction(10, 1))
        vout.width, vout.height = 320, 180
        vout.pix_fmt = "yuv420p"
    if ain is not None:
        rate = 48000 if acodec in ("opus", "libopus") else 16000
        aout = out.add_stream(acodec, rate=rate, layout="mono")
    vpts = 0
    if vin is not None:
        for frame in inp.decode(vin):
            if frame.time is not None and frame.time > seconds:
                break
            img = frame.reformat(width=320, height=180, format="yuv420p")
            for _ in range(10):  # 1 fps source -> 10 fps
                img.pts = vpts
                img.time_base = Fraction(1, 10)
                vpts += 1
                for p in vout.encode(img):
                    out.mux(p)
        for p in vout.encode(None):
            out.mux(p)
    if ain is not None:
        inp.seek(0)
        resampler = av.AudioResampler(
            format=aout.codec_context.format.name, layout="mono", rate=aout.codec_context.rate
        )
        for frame in inp.decode(ain):
            if frame.time is not None and frame.time > seconds:
                break
            frame.pts = None
            for f in resampler.resample(frame):
                for p in aout.encode(f):
                    out.mux(p)
        for f in resampler.resample(None):
            for p in aout.encode(f):
                out.mux(p)
        for p in aout.encode(None):
            out.mux(p)
    out.close()
    inp.close()
    return dest


def pcm_of(path: Path, *, rate: int, layout: str = "mono") -> bytes:
    """The audio of `path` as s16 PCM at `rate` Hz."""
    inp = av.open(str(path))
    resampler = av.AudioResampler(format="s16", layout=layout, rate=rate)
    chans = 2 if layout == "stereo" else 1
    out = bytearray()
    for frame in inp.decode(audio=0):
        for f in resampler.resample(frame):
            out += bytes(f.planes[0])[: f.samples * 2 * chans]
    for f in resampler.resample(None):
        out += bytes(f.planes[0])[: f.samples * 2 * chans]
    inp.close()
    return bytes(out)


def looped_wav(src: Path, dest: Path, *, min_bytes: int, rate: int = 48000) -> float:
    """A stereo 16-bit WAV at `rate` Hz made by looping the real speech in `src` until the
    file is over `min_bytes`. Returns its duration in seconds."""
    pcm = pcm_of(src, rate=rate, layout="stereo")
    with wave.open(str(dest), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        written = 0
        while written + 44 <= min_bytes:
            w.writeframes(pcm)
            written += len(pcm)
    return written / (rate * 4)


def media_duration(data: bytes) -> float:
    c = av.open(io.BytesIO(data))
    try:
        if c.duration:
            return c.duration / av.time_base
        s = c.streams.audio[0]
        return float(s.duration * s.time_base)
    finally:
        c.close()


# ------------------------------------------------------------- OpenAI wire formats -----


def openai_error(status: int, message: str, type_: str = "invalid_request_error") -> Response:
    return Response.json(
        {"error": {"message": message, "type": type_, "param": None, "code": None}},
        status=status,
    )


def whisper_verbose_json(
    segments: list[tuple[float, float, str]], *, duration: float, language: str = "english"
) -> dict:
    """A /v1/audio/transcriptions response with response_format=verbose_json."""
    return {
        "task": "transcribe",
        "language": language,
        "duration": duration,
        "text": " ".join(t for _, _, t in segments),
        "segments": [
            {
                "id": i,
                "seek": 0,
                "start": s,
                "end": e,
                "text": " " + t,
                "tokens": [50364, 1000 + i],
                "temperature": 0.0,
                "avg_logprob": -0.25,
                "compression_ratio": 1.3,
                "no_speech_prob": 0.01,
            }
            for i, (s, e, t) in enumerate(segments)
        ],
    }


def fake_vector(text: str, dims: int = 1536) -> list[float]:
    """A deterministic vector per text (so tests can check what was stored)."""
    seed = sum(text.encode()) % 997
    return [((seed + i) % 13) / 13.0 for i in range(dims)]


def encode_vector(vector: list[float], encoding_format: str | None) -> list[float] | str:
    """As the API sends it: base64 of little-endian float32 when asked, else floats."""
    if encoding_format == "base64":
        return base64.b64encode(array.array("f", vector).tobytes()).decode()
    return vector


def embeddings_handler(req: Request) -> Response:
    body = req.json()
    inputs = body["input"]
    fmt = body.get("encoding_format")
    data = [
        {"object": "embedding", "index": i, "embedding": encode_vector(fake_vector(t), fmt)}
        for i, t in enumerate(inputs)
    ]
    return Response.json(
        {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": 0, "total_tokens": 0},
        }
    )


def use_openai(settings, server) -> None:
    settings.CHRONOS_EMBEDDER = "auto"  # the key picks OpenAI (tests default to "none")
    settings.OPENAI_API_KEY = "sk-test-loopback"
    settings.OPENAI_BASE_URL = server.base_url + "/v1"
