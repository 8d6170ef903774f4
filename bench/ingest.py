"""Ingest benchmark (issue 2). Prints figures; not a test.

    .venv/bin/python bench/ingest.py [--runs 3] [--minutes 60] [--skip-asr]

(a) A ~1-hour caption-backed lecture end to end with no provider latency: the Faraday
    lectures (videos/demo + tests/data) are remuxed back to back with PyAV into one MP4
    (no re-encoding) and their exact captions concatenated with offset times. A separate
    worker process (fresh Python, like a qcluster worker) runs video_create + every stage
    (probe, thumbnail, caption transcript, chunks + windows, embedding skipped: no key)
    against its own embedded PostgreSQL; we report wall seconds of the pipeline and the
    worker's peak RSS (ru_maxrss). Target: <= 20 s and <= 300 MB on 2 cores.
(b) Local ASR real-time factor (pocketsphinx) on real speech: tests/data/jfk.flac (11 s)
    and p001.mp3 (53 s, with its reference text for a word error rate).
Medians over --runs runs where cheap.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PARTS = [
    (ROOT / "videos/demo/faraday-candle-1.mp4", ROOT / "videos/demo/faraday-candle-1.vtt"),
    (ROOT / "tests/data/faraday-candle-2.mp4", ROOT / "tests/data/faraday-candle-2.vtt"),
    (
        ROOT / "tests/data/faraday-candle-1-excerpt.mp4",
        ROOT / "tests/data/faraday-candle-1-excerpt.vtt",
    ),
]
DATA_DIR = "/tmp/chronos-bench-ingest"


def build_lecture(dest_dir: Path, minutes: float) -> tuple[Path, Path, float]:
    """Concatenate the Faraday lectures (looping) until >= `minutes`; returns the MP4, the
    VTT and the duration in seconds."""
    import av

    from videos.captions import parse_captions

    out_path, vtt_path = dest_dir / "lecture-1h.mp4", dest_dir / "lecture-1h.vtt"
    out = av.open(str(out_path), "w")
    ostreams = None
    offset = 0.0
    cues_out: list[str] = []
    n = 0
    i = 0
    while offset < minutes * 60:
        media, vtt = PARTS[i % len(PARTS)]
        i += 1
        inp = av.open(str(media))
        ins = [inp.streams.video[0], inp.streams.audio[0]]
        if ostreams is None:
            ostreams = [out.add_stream_from_template(s) for s in ins]
        for packet in inp.demux(ins):
            if packet.dts is None:
                continue
            k = ins.index(packet.stream)
            shift = round(offset / packet.stream.time_base)
            packet.pts = (packet.pts or 0) + shift
            packet.dts = packet.dts + shift
            packet.stream = ostreams[k]
            out.mux(packet)
        part = inp.duration / av.time_base
        inp.close()
        for cue in parse_captions(vtt.read_bytes()):
            n += 1
            cues_out.append(
                f"{n}\n{_ts(cue.start + offset)} --> {_ts(cue.end + offset)}\n{cue.text}\n"
            )
        offset += part
    out.close()
    vtt_path.write_text("WEBVTT\n\n" + "\n".join(cues_out), encoding="utf-8")
    return out_path, vtt_path, offset


def _ts(seconds: float) -> str:
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _django(data_dir: str) -> None:
    if not os.environ.get("DATABASE_URL"):
        os.environ["CHRONOS_DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronos.settings")
    os.environ["CHRONOS_EMBEDDER"] = "none"
    os.environ["CHRONOS_Q_SYNC"] = "1"
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        os.environ.pop(key, None)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    import logging

    logging.disable(logging.INFO)


def worker(media: str, vtt: str, media_root: str) -> None:
    """Child process: ingest one lecture through every stage; print JSON figures."""
    import resource

    _django(DATA_DIR)
    from django.conf import settings
    from django.core.files import File

    settings.MEDIA_ROOT = media_root
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": media_root},
        },
    }
    from creators.models import Creator
    from videos.models import SegmentWindow, VideoChunk
    from videos.pipeline import run_all
    from videos.services import video_create

    creator, _ = Creator.objects.get_or_create(
        handle="bench", defaults={"company_name": "Bench", "tier": "enterprise"}
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    with open(media, "rb") as fh, open(vtt, "rb") as cap:
        video = video_create(
            creator=creator,
            file=File(fh, name="lecture-1h.mp4"),
            filename="lecture-1h.mp4",
            captions=File(cap, name="lecture-1h.vtt"),
            captions_filename="lecture-1h.vtt",
            enqueue=False,
        )
    t_create = time.perf_counter() - t0
    video = run_all(video.pk)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stages = {}
    for name in ("probe", "transcribing", "chunking", "embedding"):
        a, b = getattr(video, f"{name}_started_at"), getattr(video, f"{name}_ended_at")
        stages[name] = round((b - a).total_seconds(), 3) if a and b else None
    print(
        json.dumps(
            {
                "status": video.status,
                "error": video.error,
                "duration_s": video.duration_seconds,
                "segments": video.segments.count(),
                "chunks": VideoChunk.objects.filter(video=video).count(),
                "windows": SegmentWindow.objects.filter(video=video).count(),
                "create_s": round(t_create, 3),
                "wall_s": round(wall, 3),
                "stages_s": stages,
                "rss_after_setup_mb": round(rss_before, 1),
                "peak_rss_mb": round(peak, 1),
            }
        )
    )


def asr_rtf(runs: int) -> list[dict]:
    import re

    from videos.media import extract_audio_wav
    from videos.transcribers import local_transcribe

    results = []
    for name, reps, ref in (
        ("jfk.flac", runs, None),
        ("p001.mp3", max(1, runs // 2), ROOT / "tests/data/p001.txt"),
    ):
        times, text, dur = [], "", 0.0
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "a.wav"
            for _ in range(reps):
                t0 = time.perf_counter()
                dur = extract_audio_wav(ROOT / "tests/data" / name, wav)
                segs = local_transcribe(wav)
                times.append(time.perf_counter() - t0)
                text = " ".join(s.text for s in segs)
        row = {"file": name, "audio_s": round(dur, 2), "rtf_median": statistics.median(times) / dur}
        if ref is not None:
            words = lambda s: re.findall(r"[a-z']+", s.lower())  # noqa: E731
            row["wer"] = _wer(words(ref.read_text()), words(text))
        results.append(row)
    return results


def _wer(ref: list[str], hyp: list[str]) -> float:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1] / max(1, len(ref))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--skip-asr", action="store_true")
    parser.add_argument("--worker", nargs=3, metavar=("MEDIA", "VTT", "MEDIA_ROOT"))
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    _django(DATA_DIR)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # once, outside the measured worker
    from django.db import connections

    connections.close_all()

    with tempfile.TemporaryDirectory(prefix="chronos-bench-") as tmp:
        t0 = time.perf_counter()
        media, vtt, dur = build_lecture(Path(tmp), args.minutes)
        print(
            f"Built a {dur / 60:.1f}-minute lecture ({media.stat().st_size / 1e6:.0f} MB, "
            f"{vtt.read_text().count('-->')} cues) in {time.perf_counter() - t0:.1f} s"
        )
        figures = []
        for run in range(args.runs):
            media_root = Path(tmp) / f"media-{run}"
            proc = subprocess.run(
                [sys.executable, __file__, "--worker", str(media), str(vtt), str(media_root)],
                capture_output=True,
                text=True,
                check=False,
            )
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            if proc.returncode or not line:
                print(proc.stdout[-2000:], proc.stderr[-4000:])
                raise SystemExit("worker failed")
            fig = json.loads(line[-1])
            figures.append(fig)
            print(
                f"  run {run + 1}: {fig['status']}, wall {fig['wall_s']:.2f} s "
                f"(create {fig['create_s']:.2f} s, stages {fig['stages_s']}), "
                f"peak RSS {fig['peak_rss_mb']:.0f} MB; {fig['segments']} segments, "
                f"{fig['chunks']} chunks, {fig['windows']} windows"
            )
        wall = statistics.median(f["wall_s"] for f in figures)
        rss = statistics.median(f["peak_rss_mb"] for f in figures)
        print(
            f"(a) 1-hour caption-backed lecture: median wall {wall:.2f} s (target <= 20 s), "
            f"median peak worker RSS {rss:.0f} MB (target <= 300 MB), {os.cpu_count()} CPUs"
        )
    if not args.skip_asr:
        for row in asr_rtf(args.runs):
            extra = f", WER {row['wer']:.0%} vs reference text" if "wer" in row else ""
            print(
                f"(b) local ASR {row['file']} ({row['audio_s']} s): real-time factor "
                f"{row['rtf_median']:.2f} (median){extra}"
            )


if __name__ == "__main__":
    main()
