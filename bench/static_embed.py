"""A static (model2vec-style) embedding distilled from the shipped MiniLM: speed and quality.

    .venv/bin/python bench/static_embed.py [--dims N] [--sif A] [--cache F]

Issue 12 asks for >= 200 windows/s embedded on 2 cores; all-MiniLM-L6-v2 runs ~16 whole
windows per CPU-second (README, "The tutor"). A static embedding costs a table look-up and
a mean per token. This bench builds one the way model2vec distils a sentence transformer
(Tulkens & van Dongen, "Model2Vec: Fast State-of-the-Art Static Embeddings", 2024): every
token of the model's own WordPiece vocabulary is run through OUR int8 ONNX model once, alone
("[CLS] token [SEP]", mean-pooled as the model pools a sentence), the 30k vectors are
reduced by PCA to --dims dimensions, and each is weighted by SIF (Arora, Liang & Ma, 2017)
a / (a + p(token)) with p from Zipf's law over the vocabulary's rank (model2vec's
assumption that a WordPiece vocabulary is roughly frequency-ordered). A text's vector is
the mean of its tokens' vectors, L2-normalised. Nothing is downloaded: the distillation
takes ~1-2 CPU-minutes and is cached in --cache.

Prints the distillation's CPU time, windows per CPU-second for both embedders (the set's
~750 three-cue windows, whole), and dense-only moment hit@5 / hit@1 over the development
set's in-scope questions (cosine alone over every window of the question's lecture, the
best 5 distinct windows, a hit overlapping the truth span +-5 s as in bench/qa.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# model2vec's default SIF coefficient and output dimensions (model2vec.distill defaults).
SIF_COEFFICIENT = 1e-4
DIMS = 256
DISTILL_BATCH = 512


def distill(session, tokenizer):
    """float32[vocab, 384]: the raw static vector of every WordPiece token, before PCA and
    SIF (reweight); special and [unused] tokens get zeros."""
    import numpy as np

    vocab = tokenizer.get_vocab()
    size = max(vocab.values()) + 1
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    skip = {i for t, i in vocab.items() if t.startswith("[") and t.endswith("]")}
    ids = [i for i in range(size) if i not in skip]
    out = np.zeros((size, 384), dtype=np.float32)
    for k in range(0, len(ids), DISTILL_BATCH):
        batch = ids[k : k + DISTILL_BATCH]
        x = np.array([[cls, i, sep] for i in batch], dtype=np.int64)
        hidden = session.run(
            None,
            {"input_ids": x, "attention_mask": np.ones_like(x), "token_type_ids": np.zeros_like(x)},
        )[0]
        out[batch] = hidden.mean(axis=1)
    return out


class StaticEmbedder:
    """Mean of the tokens' static vectors, L2-normalised (model2vec's StaticModel.encode)."""

    def __init__(self, tokenizer, table):
        self.tokenizer = tokenizer
        self.table = table

    def embed(self, texts: list[str]):
        import numpy as np

        out = np.zeros((len(texts), self.table.shape[1]), dtype=np.float32)
        for n, enc in enumerate(self.tokenizer.encode_batch(texts, add_special_tokens=False)):
            if enc.ids:
                v = self.table[enc.ids].mean(axis=0)
                out[n] = v / max(float(np.linalg.norm(v)), 1e-12)
        return out


def dense_only(items, windows, qvec, wvec):
    """(hit@5, hit@1): per question, cosine over every window of its lecture."""
    from tests.qa_eval import HIT_SLACK

    hit5 = hit1 = 0
    for n, item in enumerate(items):
        ws = windows[item["video"]]
        sims = wvec[item["video"]] @ qvec[n]
        chosen = []
        for i in sims.argsort()[::-1]:
            w = ws[i]
            if any(w["first"] <= c["last"] + 1 and w["last"] >= c["first"] - 1 for c in chosen):
                continue
            chosen.append(w)
            if len(chosen) == 5:
                break
        lo, hi = item["start"] - HIT_SLACK, item["end"] + HIT_SLACK
        hits = [c["start"] <= hi and c["end"] >= lo for c in chosen]
        hit5 += any(hits)
        hit1 += bool(hits and hits[0])
    return hit5 / len(items), hit1 / len(items)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dims", type=int, default=DIMS)
    parser.add_argument("--sif", type=float, default=SIF_COEFFICIENT)
    parser.add_argument("--cache", default="/tmp/chronos-static-minilm.npy")
    parser.add_argument("--static-only", action="store_true", help="skip MiniLM's figures")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronos.settings")
    os.environ.setdefault("CHRONOS_DATA_DIR", "/tmp/chronos-benchembed")
    import django

    django.setup()
    import numpy as np

    from tests.chat_library import cues, qa_questions
    from videos import embedders
    from videos.chunking import WINDOW_SEGMENTS

    session, tokenizer = embedders._load_local_model()
    raw = Path(args.cache)
    started = time.process_time()
    if raw.exists():
        table = np.load(raw)
        print(f"static table read from {raw}")
    else:
        table = distill(session, tokenizer)
        np.save(raw, table)
        print(f"distilled {table.shape[0]} tokens in {time.process_time() - started:.1f} CPU-s")
    if args.dims < table.shape[1] or args.sif != float("inf"):
        table = reweight(table, dims=args.dims, sif=args.sif)
    plain = tokenizer.from_str(tokenizer.to_str())
    plain.no_padding()
    plain.no_truncation()
    static = StaticEmbedder(plain, table)

    items = [i for i in qa_questions() if i["video"]]
    windows, texts = {}, {}
    for name in sorted({i["video"] for i in items}):
        c = cues(name)
        windows[name] = [
            {"first": i, "last": i + WINDOW_SEGMENTS - 1, "start": c[i]["start"],
             "end": c[i + WINDOW_SEGMENTS - 1]["end"]}
            for i in range(len(c) - WINDOW_SEGMENTS + 1)
        ]  # fmt: skip
        texts[name] = [
            " ".join(x["text"] for x in c[i : i + WINDOW_SEGMENTS])
            for i in range(len(c) - WINDOW_SEGMENTS + 1)
        ]
    every = [t for name in sorted(texts) for t in texts[name]]
    questions = [i["question"] for i in items]

    embedders_run = [("static", static.embed)]
    if not args.static_only:
        minilm = embedders.LocalEmbedder()
        embedders_run.append(("MiniLM", lambda ts: np.array(minilm.embed(ts))[:, :384]))
    for label, embed in embedders_run:
        embedders._LOCAL_CACHE.clear()
        t0 = time.process_time()
        wall = time.perf_counter()
        vectors = np.asarray(embed(every), dtype=np.float32)
        cpu = time.process_time() - t0
        wall = time.perf_counter() - wall
        per, k = {}, 0
        for name in sorted(texts):
            per[name] = vectors[k : k + len(texts[name])]
            k += len(texts[name])
        qvec = np.asarray(embed(questions), dtype=np.float32)
        h5, h1 = dense_only(items, windows, qvec, per)
        print(
            f"{label:7} {len(every)} windows: {len(every) / max(cpu, 1e-9):8.0f} per CPU-s, "
            f"{len(every) / max(wall, 1e-9):8.0f}/s wall; dense-only hit@5 {h5:.3f} hit@1 "
            f"{h1:.3f} ({len(items)} q)"
        )
    return 0


def reweight(table, *, dims: int, sif: float):
    """PCA to `dims` and SIF by Zipf rank over the non-zero rows of a raw distilled table."""
    import numpy as np

    rows = np.flatnonzero(np.abs(table).sum(axis=1) > 0)
    kept = table[rows].astype(np.float64)
    if dims < kept.shape[1]:
        centred = kept - kept.mean(axis=0)
        _u, _s, vt = np.linalg.svd(centred, full_matrices=False)
        kept = centred @ vt[:dims].T
    if sif != float("inf"):
        rank = np.arange(1, len(rows) + 1, dtype=np.float64)
        p = (1.0 / rank) / (1.0 / rank).sum()
        kept = kept * (sif / (sif + p))[:, None]
    out = np.zeros((table.shape[0], kept.shape[1]), dtype=np.float32)
    out[rows] = kept
    return out


if __name__ == "__main__":
    raise SystemExit(main())
