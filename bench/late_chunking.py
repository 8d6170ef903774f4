"""Late chunking for the local embedder: speed and dense-only quality against whole windows.

    .venv/bin/python bench/late_chunking.py [--budgets 128 192 256] [--margins 0 1] [--threads N]

Issue 12 asks for >= 200 windows/s embedded on 2 cores; whole 3-cue windows (the default)
make the model read every cue three times. Late chunking (Günther et al., "Late Chunking:
Contextual Chunk Embeddings Using Long-Context Embedding Models", Jina AI, 2024) runs the
model once over a longer span of consecutive cues (up to --budgets WordPiece tokens with
[CLS]/[SEP]) and pools each 3-cue window from its cues' token states inside that span, so
a cue is read ~1.3-2 times and each window's tokens see the cues around it. Spans overlap
by the window's length minus one cue (plus --margins cues) so every window lies whole in
some span; a window takes its vector from the span where it sits most centrally.

Texts: the 3-cue windows (stride 1) of the development set's four caption-backed lectures.
Prints, per configuration, windows per CPU-second and per wall second, WordPiece tokens
run per window, and dense-only moment hit@5 / hit@1 over the set's in-scope questions
(bench/static_embed.dense_only: cosine alone over every window of the question's lecture).
Whole windows and cue pooling (CHRONOS_EMBEDDER_WINDOWS=cues) are measured first, the same
way. Nothing here is used by the app (README, "The tutor", session 11).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def late_vectors(run, cue_ids: list[list[int]], *, budget: int, margin: int, cls: int, sep: int):
    """(float32[windows, 384] unit vectors, tokens run) for the stride-1 windows of
    WINDOW_SEGMENTS cues over `cue_ids` (each cue's WordPiece ids, no special tokens),
    encoded by `run(ids) -> float32[tokens, 384]` in spans of at most `budget` tokens."""
    import numpy as np

    from videos.chunking import WINDOW_SEGMENTS as width

    n_windows = len(cue_ids) - width + 1
    best: list[tuple[int, object] | None] = [None] * n_windows
    tokens = start = 0
    while True:
        end, used = start, 0
        while end < len(cue_ids) and used + len(cue_ids[end]) <= budget - 2:
            used += len(cue_ids[end])
            end += 1
        end = max(end, min(start + width, len(cue_ids)))  # a span holds at least one window
        ids, offsets = [cls], []
        for k in range(start, end):
            offsets.append(len(ids))
            ids.extend(cue_ids[k][: budget - 2])
        offsets.append(len(ids))
        ids.append(sep)
        states = run(ids)
        tokens += len(ids)
        for i in range(start, end - width + 1):
            context = min(i - start, end - (i + width))  # cues of the span on its thinner side
            current = best[i]
            if current is None or context > current[0]:
                pooled = states[offsets[i - start] : offsets[i - start + width]].mean(axis=0)
                best[i] = (context, pooled / max(float(np.linalg.norm(pooled)), 1e-12))
        if end >= len(cue_ids):
            break
        start = max(end - width + 1 - margin, start + 1)
    return np.array([b[1] for b in best if b is not None], dtype=np.float32), tokens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budgets", type=int, nargs="+", default=[128, 192, 256])
    parser.add_argument("--margins", type=int, nargs="+", default=[0])
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        # Since session 12 every ONNX run uses one core, the late-chunking spans too.
        help="CHRONOS_EMBEDDER_THREADS: texts the app's embedder encodes at once",
    )
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronos.settings")
    os.environ.setdefault("CHRONOS_DATA_DIR", "/tmp/chronos-benchembed")
    os.environ["CHRONOS_EMBEDDER_THREADS"] = str(args.threads)
    import django

    django.setup()
    import numpy as np

    from bench.static_embed import dense_only
    from tests.chat_library import cues, qa_questions
    from videos import embedders
    from videos.chunking import WINDOW_SEGMENTS as width

    session, tokenizer = embedders._load_local_model()
    plain = tokenizer.from_str(tokenizer.to_str())
    plain.no_padding()
    plain.no_truncation()
    vocab = plain.get_vocab()
    items = [i for i in qa_questions() if i["video"]]
    names = sorted({i["video"] for i in items})
    lecture_cues = {name: cues(name) for name in names}
    windows = {
        name: [
            {"first": i, "last": i + width - 1, "start": c[i]["start"],
             "end": c[i + width - 1]["end"]}
            for i in range(len(c) - width + 1)
        ]
        for name, c in lecture_cues.items()
    }  # fmt: skip
    n_windows = sum(len(w) for w in windows.values())
    embedder = embedders.LocalEmbedder()
    embedder.embed(["warm up"])
    questions = np.array(embedder.embed([i["question"] for i in items]), dtype=np.float32)
    questions = questions[:, : embedders.LOCAL_EMBEDDING_DIMENSIONS]

    def report(label: str, per: dict, cpu: float, wall: float, tokens: int) -> None:
        hit5, hit1 = dense_only(items, windows, questions, per)
        print(
            f"{label:30} {n_windows / cpu:5.0f} per CPU-s {n_windows / wall:5.0f}/s wall  "
            f"tokens run per window {tokens / n_windows:5.1f}  "
            f"dense-only hit@5 {hit5:.3f} hit@1 {hit1:.3f}",
            flush=True,
        )

    for mode in ("whole", "cues"):
        embedders._LOCAL_CACHE.clear()
        cpu, wall = time.process_time(), time.perf_counter()
        per = {}
        for name, c in lecture_cues.items():
            parts = [[x["text"] for x in c[i : i + width]] for i in range(len(c) - width + 1)]
            if mode == "whole":
                parts = [[" ".join(p)] for p in parts]
            vectors = np.array(embedder.embed_passages(parts), dtype=np.float32)
            per[name] = vectors[:, : embedders.LOCAL_EMBEDDING_DIMENSIONS]
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        texts = list(embedders._LOCAL_CACHE)  # every distinct text the model ran on
        tokens = sum(len(e.ids) + 2 for e in plain.encode_batch(texts, add_special_tokens=False))
        report(mode, per, cpu, wall, tokens)

    def run(ids: list[int]):
        x = np.array([ids], dtype=np.int64)
        feeds = {"input_ids": x, "attention_mask": np.ones_like(x), "token_type_ids": 0 * x}
        return session.run(None, feeds)[0][0]

    for budget in args.budgets:
        for margin in args.margins:
            cpu, wall = time.process_time(), time.perf_counter()
            per, tokens = {}, 0
            for name, c in lecture_cues.items():
                ids = [
                    e.ids
                    for e in plain.encode_batch([x["text"] for x in c], add_special_tokens=False)
                ]
                per[name], used = late_vectors(
                    run, ids, budget=budget, margin=margin, cls=vocab["[CLS]"], sep=vocab["[SEP]"]
                )
                tokens += used
            label = f"late, {budget} tokens, margin {margin}"
            report(label, per, time.process_time() - cpu, time.perf_counter() - wall, tokens)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
