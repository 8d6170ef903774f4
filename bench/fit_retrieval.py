"""Learn the moment fusion weights and the "not covered" floor from the development set.

    .venv/bin/python bench/fit_retrieval.py [--write] [--keep-weights] [--dump F | --rows F]

Builds the set's library like bench/qa.py (reusing /tmp/chronos-benchqa's embedded vectors
when present), retrieves candidate windows for every question with the local embedder and
without it, then per configuration:
- weights: score = lex + r * cos, plus ctx times the mean score of the neighbouring windows
  (chat.retrieval.moments.fuse), with r and ctx (scale does not change a ranking) chosen on
  a grid to maximise the mean of moment hit@1, hit@5 and start@5 over the in-scope
  questions (a window "hits" when it overlaps the truth cue span; it "starts" on the
  moment when its first cue starts within 15 s of the truth's start);
- floor and w_unknown (Neyman-Pearson; chat.retrieval.moments.question_floor): a question
  is answered when its best moment's score reaches floor + w_unknown x the IDF share of
  its words that no chunk holds; among the thresholds that answer at most
  MAX_OOS_ANSWERED[configuration] of the out-of-scope questions, the one keeping the most in-scope
  questions answered at their moment (then the most answered; the highest threshold on a
  tie), placed midway between the two scores it separates, and w_unknown on the grid
  UNKNOWN_WEIGHTS by the same count (the smallest on a tie);
- passage_share (chat.retrieval.moments.moment_passage): with those weights and floor, the
  share of PASSAGE_SHARES whose pinpointed citations (the real pinpointing, sentences read
  from the database) start within 15 s of the truth for the most in-scope questions
  (start@5 as bench/qa.py counts it); split-half and leave-one-lecture-out figures beside.
--keep-weights keeps learned.json's ranking weights (w_cos, w_ctx; the refit is printed) and
fits the floor, w_unknown and passage_share on them. Also prints leave-one-lecture-out
figures (weights fitted without the lecture, scored on it) and split-half figures (weights,
floor and w_unknown fitted on every other question, hit@5 and out-of-scope answered on the
rest) as honest estimates for unseen questions. --write stores the values with their
provenance in chat/retrieval/learned.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import hashlib
import itertools
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Neyman-Pearson floor: the share of out-of-scope questions allowed through, per
# configuration. Issue 12 asks for at least 7 of 8 refused AND 0 invented citations, so
# none with vectors (the offline default): an answered out-of-scope question always carries
# citations (session 8: 1/8 let 7 of 12 near-topic questions written afterwards through,
# tests/data/qa/out_of_scope_near.json). Full text alone keeps 1/8: none there refuses
# plain paraphrases ("What safety equipment took over from candles down in the coal
# pits?", tests/test_retrieval.py) whose only evidence is two of six words.
MAX_OOS_ANSWERED = {"hybrid": 0.0, "fulltext": 1 / 8}
# Grid of w_unknown (chat.retrieval.moments.question_floor): how much higher the floor is
# for a question all of whose words the library never says.
UNKNOWN_WEIGHTS = [round(0.25 * i, 2) for i in range(0, 13)]
RATIOS = [round(0.25 * i, 2) for i in range(0, 25)]
# Grid of the neighbour-support weight w_ctx (chat.retrieval.moments.fuse).
CONTEXT_WEIGHTS = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5]
# Grid of passage_share (chat.retrieval.moments.moment_passage): None keeps the citation on
# the answering sentence; a share extends it back over the sentences before it that hold
# at least that share of its question-word coverage.
PASSAGE_SHARES = [None, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]


def collect(creator, scope, items, videos, embedder) -> list[dict]:
    """Per question: {item, windows: [(video_id, first, last, lex, cos, start, end,
    chunk_id)], truth, weights: {lexeme: IDF}, unknown_share}."""
    from chat.retrieval import retrieve

    rows = []
    for item in items:
        explain: dict = {}
        retrieve(creator=creator, scope=scope, question=item["question"], embedder=embedder,
                 explain=explain)  # fmt: skip
        wins = [
            (w.video_id, w.first, w.last, w.lex, w.cos, w.start, w.end, w.chunk_id)
            for w in explain.get("windows", [])
        ]
        truth = None
        if item["video"]:
            truth = (videos[item["video"]].pk, item["cues"][0], item["cues"][1])
        rows.append(
            {"item": item, "windows": wins, "truth": truth, "weights": explain.get("weights", {}),
             "unknown_share": explain.get("unknown_share", 0.0)}
        )  # fmt: skip
    return rows


def scored(windows, r, ctx) -> list[tuple[float, tuple]]:
    """(score, window) best first under w_lex 1, w_cos r, w_ctx ctx: the service's own fuse."""
    from chat.retrieval.moments import Window, fuse

    objs = [
        Window(id=i, video_id=w[0], chunk_id=0, first=w[1], last=w[2], start=0.0, end=0.0,
               lexemes=set(), lex=w[3], cos=w[4])
        for i, w in enumerate(windows)
    ]  # fmt: skip
    fuse(objs, {"w_lex": 1.0, "w_cos": r, "w_ctx": ctx})
    pairs = [(o.score, windows[o.id]) for o in objs]
    return sorted(pairs, key=lambda p: (-p[0], p[1][0], p[1][1]))


def rank(windows, r, ctx=0.0):
    chosen, scores = [], []
    for score, w in scored(windows, r, ctx):
        if len(chosen) >= 5:
            break
        if any(c[0] == w[0] and w[1] <= c[2] + 1 and w[2] >= c[1] - 1 for c in chosen):
            continue
        chosen.append(w)
        scores.append(score)
    return chosen, scores


@functools.cache
def _cue_starts(lecture: str) -> dict[int, float]:
    from tests.chat_library import cues

    return {c["index"]: c["start"] for c in cues(lecture)}


def quality(rows, p, *, k: int | None = None) -> float:
    """The objective over in-scope rows, p = (r, ctx): the mean of moment hit@1, hit@5 and
    start@5 (a top-5 window of the right video whose first cue starts within START_SLACK s
    of the truth's start: the pinpointed sentence starts inside the window, so this is a
    proxy); or hit@k alone when k is given."""
    from tests.qa_eval import START_SLACK

    total = 0.0
    n = 0
    for row in rows:
        if not row["truth"]:
            continue
        vid, a, b = row["truth"]
        chosen, _ = rank(row["windows"], *p)
        hits = [c[0] == vid and c[1] <= b and c[2] >= a for c in chosen]
        if k:
            total += float(any(hits[:k]))
        else:
            starts = _cue_starts(row["item"]["video"])
            on_time = any(
                c[0] == vid and abs(starts.get(c[1], -1e9) - row["item"]["start"]) <= START_SLACK
                for c in chosen
            )
            total += (float(any(hits[:1])) + float(any(hits)) + float(on_time)) / 3
        n += 1
    return total / max(n, 1)


def best_params(rows, grid) -> tuple[float, float]:
    """The (r, ctx) of the grid with the best quality; the smallest on a tie."""
    return max(grid, key=lambda p: (round(quality(rows, p), 6), -p[1], -p[0]))


def _gate_values(rows, p, w_unknown) -> tuple[list[tuple[float, bool]], list[float]]:
    """([(in-scope question's gate value, its top 5 hit the truth)], [out-of-scope
    question's gate value]): the best moment's score less w_unknown x unknown_share."""
    pos, neg = [], []
    for row in rows:
        chosen, scores = rank(row["windows"], *p)
        value = (scores[0] if scores else 0.0) - w_unknown * row.get("unknown_share", 0.0)
        if row["truth"]:
            vid, a, b = row["truth"]
            pos.append((value, any(c[0] == vid and c[1] <= b and c[2] >= a for c in chosen)))
        else:
            neg.append(value)
    return pos, neg


def floor_for(rows, p, w_unknown: float = 0.0, max_oos: float = 0.0) -> tuple[float, dict]:
    """The Neyman-Pearson floor under weights p and w_unknown, answering at most a share
    max_oos of the out-of-scope questions (see the module doc), and what it separates."""
    pos, neg = _gate_values(rows, p, w_unknown)
    values = sorted({v for v, _ in pos} | set(neg))
    best = ((-1, -1), max(values, default=0.0) + 1.0)
    for lo, hi in itertools.pairwise(values):
        t = (lo + hi) / 2
        answered_oos = sum(q >= t for q in neg) / max(len(neg), 1)
        kept = (sum(v >= t and h for v, h in pos), sum(v >= t for v, _ in pos))
        if answered_oos <= max_oos and kept >= best[0]:
            best = (kept, t)
    t = best[1]
    return round(t, 4), {
        "in_scope_kept": sum(v >= t for v, _ in pos), "in_scope": len(pos),
        "in_scope_kept_at_moment": sum(v >= t and h for v, h in pos),
        "out_of_scope_refused": sum(q < t for q in neg), "out_of_scope": len(neg),
    }  # fmt: skip


def gate_for(rows, p, max_oos: float = 0.0) -> tuple[float, float, dict]:
    """(w_unknown, floor, what it separates): w_unknown of UNKNOWN_WEIGHTS whose floor
    keeps the most in-scope questions answered at their moment (then the most answered;
    the smallest w_unknown on a tie)."""
    fits = [(w, *floor_for(rows, p, w, max_oos)) for w in UNKNOWN_WEIGHTS]
    return max(fits, key=lambda f: (f[2]["in_scope_kept_at_moment"], f[2]["in_scope_kept"], -f[0]))


def passage_inputs(rows, p, floor, scope, w_unknown: float = 0.0) -> list[dict]:
    """Per in-scope row: the moments the service would cite under weights p, `floor` and
    w_unknown (none when the best is under the question's floor; the others need `floor`),
    with the whole sentences around each (read once; chat.retrieval.moments.moment_sentences)."""
    from chat.retrieval.moments import Window, moment_sentences

    out = []
    for row in rows:
        if not row["truth"] or "weights" not in row:  # out of scope, or an old --dump's row
            continue
        chosen, scores = rank(row["windows"], *p)
        row_floor = floor + w_unknown * row.get("unknown_share", 0.0)
        if not scores or scores[0] < row_floor:
            chosen = []
        moments = [
            Window(id=i, video_id=w[0], chunk_id=w[7], first=w[1], last=w[2], start=w[5],
                   end=w[6], lexemes=set(), lex=w[3], cos=w[4], score=sc)
            for i, (w, sc) in enumerate(zip(chosen, scores, strict=False))
            if i == 0 or sc >= floor
        ]  # fmt: skip
        sentences, _ = moment_sentences(moments, scope)
        out.append({"row": row, "moments": moments, "sentences": sentences})
    return out


def passage_start5(inputs, share) -> float:
    """start@5 by the pinpointed citation start (chat.retrieval.moments.moment_passage with
    passage_share `share`) over the inputs of passage_inputs."""
    from chat.retrieval.moments import moment_passage
    from tests.qa_eval import START_SLACK

    on_time = 0
    for x in inputs:
        vid = x["row"]["truth"][0]
        truth_start = x["row"]["item"]["start"]
        for n, m in enumerate(x["moments"]):
            others = [o for o in x["moments"] if o is not m]
            passage = moment_passage(m, x["sentences"].get(n) or [], x["row"]["weights"],
                                     others=others, passage_share=share)  # fmt: skip
            if passage and m.video_id == vid and abs(passage.start - truth_start) <= START_SLACK:
                on_time += 1
                break
    return on_time / max(len(inputs), 1)


def best_share(inputs):
    """The passage_share of PASSAGE_SHARES with the best pinpointed start@5; on a tie the
    one that moves citations least (None, then the highest share)."""
    return max(
        PASSAGE_SHARES,
        key=lambda v: (round(passage_start5(inputs, v), 6), v is None, v or 0.0),
    )


def passage_held_out(inputs, lectures) -> list[str]:
    """Split-half and leave-one-lecture-out figures for passage_share (fitted on the rest,
    start@5 on the held-out part, beside the answering sentence's own start)."""
    lines = []
    parts = [("even", inputs[0::2], inputs[1::2]), ("odd", inputs[1::2], inputs[0::2])]
    parts += [
        (f"all but {lec}", [x for x in inputs if x["row"]["item"]["video"] != lec],
         [x for x in inputs if x["row"]["item"]["video"] == lec])
        for lec in lectures
    ]  # fmt: skip
    for name, train, test in parts:
        v = best_share(train)
        lines.append(
            f"   passage_share fitted on {name}: {v}; held out start@5 "
            f"{passage_start5(test, v):.3f} (answering sentence: "
            f"{passage_start5(test, None):.3f}, {len(test)} q)"
        )
    return lines


def held_out(rows, grid, max_oos: float = 0.0) -> list[str]:
    """Split-half figures: parameters and floor fitted on every other question (each half in
    turn), scored on the other half: moment hit@5 among answered-or-not in-scope questions
    (a refused one is a miss; and among the paraphrases alone, what issue 12's held-out set
    is made of) and out-of-scope questions answered."""
    lines = []
    for name, train, test in (("even", rows[0::2], rows[1::2]), ("odd", rows[1::2], rows[0::2])):
        p = best_params(train, grid)
        w_unknown, floor, _ = gate_for(train, p, max_oos)
        hit5 = n = answered_oos = n_oos = para_hit5 = n_para = 0
        for row in test:
            chosen, scores = rank(row["windows"], *p)
            row_floor = floor + w_unknown * row.get("unknown_share", 0.0)
            answered = bool(scores) and scores[0] >= row_floor
            if not row["truth"]:
                n_oos += 1
                answered_oos += answered
                continue
            vid, a, b = row["truth"]
            n += 1
            hit = answered and any(c[0] == vid and c[1] <= b and c[2] >= a for c in chosen)
            hit5 += hit
            if row["item"].get("kind") == "paraphrase":
                n_para += 1
                para_hit5 += hit
        lines.append(
            f"   fit on {name} half (w_cos {p[0]}, w_ctx {p[1]}, floor {floor}, w_unknown "
            f"{w_unknown}): other half "
            f"hit@5 {hit5 / max(n, 1):.3f} ({n} q; paraphrases {para_hit5}/{n_para}), "
            f"out of scope answered {answered_oos}/{n_oos}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--dump", default=None, help="write the collected features (JSON)")
    parser.add_argument("--rows", default=None, help="fit on features written by --dump")
    parser.add_argument(
        "--keep-weights",
        action="store_true",
        help="keep learned.json's weights and floor (print the refit), fit passage_share on them",
    )
    args = parser.parse_args()
    os.environ.setdefault("CHRONOS_DATA_DIR", "/tmp/chronos-benchqa")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronos.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["CHRONOS_EMBEDDER"] = "local"
    import django

    django.setup()
    from django.core.management import call_command

    from chat.retrieval import scope_resolve
    from tests.chat_library import QA_DIR, qa_questions
    from tests.qa_eval import library_for_bench
    from videos.embedders import get_embedder

    call_command("migrate", verbosity=0, interactive=False)
    items = [i for i in qa_questions() if not i.get("follows")]
    creator, _student, videos = library_for_bench(items)
    embedder = get_embedder()
    scope = scope_resolve(creator=creator)
    out: dict = {}
    for config, emb in (("hybrid", embedder), ("fulltext", None)):
        if args.rows:
            rows = json.loads(Path(f"{args.rows}.{config}.json").read_text())
        else:
            rows = collect(creator, scope, items, videos, emb)
        if args.dump:
            Path(f"{args.dump}.{config}.json").write_text(json.dumps(rows))
        ratios = RATIOS if emb is not None else [0.0]
        grid = [(r, c) for r in ratios for c in CONTEXT_WEIGHTS]
        p = best_params(rows, grid)
        w_unknown, floor, sep = gate_for(rows, p, MAX_OOS_ANSWERED[config])
        q = quality(rows, p)
        print(f"{config}: w_cos/w_lex = {p[0]}, w_ctx = {p[1]}, floor = {floor}, "
              f"w_unknown = {w_unknown}, objective {q:.3f}, {sep}")  # fmt: skip
        for lecture in sorted(videos):
            train = [x for x in rows if x["item"]["video"] != lecture]
            test = [x for x in rows if x["item"]["video"] == lecture]
            pp = best_params(train, grid)
            print(f"   leave out {lecture}: w_cos {pp[0]}, w_ctx {pp[1]}, "
                  f"objective on it {quality(test, pp):.3f}")  # fmt: skip
        print("\n".join(held_out(rows, grid, MAX_OOS_ANSWERED[config])))
        kept = None
        if args.keep_weights:
            from chat.retrieval.moments import learned

            kept = {
                k: v
                for k, v in learned()[config].items()
                if k not in ("passage_share", "floor", "w_unknown")
            }
            p = (kept["w_cos"], kept["w_ctx"])
            w_unknown, floor, sep = gate_for(rows, p, MAX_OOS_ANSWERED[config])
            print(f"   kept from learned.json: w_cos {p[0]}, w_ctx {p[1]}; on them floor "
                  f"{floor}, w_unknown {w_unknown}, {sep}")  # fmt: skip
        inputs = passage_inputs(rows, p, floor, scope, w_unknown)
        share = best_share(inputs)
        start5 = passage_start5(inputs, share)
        print(f"   passage_share = {share}: pinpointed start@5 {start5:.3f} "
              f"(answering sentence {passage_start5(inputs, None):.3f})")  # fmt: skip
        print("\n".join(passage_held_out(inputs, sorted(videos))))
        out[config] = {
            "w_lex": 1.0,
            "w_cos": p[0],
            "w_ctx": p[1],
            "floor": floor,
            "w_unknown": w_unknown,
            "passage_share": share,
            "fit": {"objective": round(q, 4), **sep, "start5_pinpointed": round(start5, 4)},
        }
        if kept is not None:
            out[config] = {**kept, "floor": floor, "w_unknown": w_unknown, "passage_share": share}
            out[config]["fit"] = {**kept["fit"], **sep, "start5_pinpointed": round(start5, 4)}
    digest = hashlib.sha256(
        b"".join(p.read_bytes() for p in sorted(QA_DIR.glob("*.json")))
    ).hexdigest()[:16]
    previous = None
    if args.keep_weights:
        from chat.retrieval.moments import learned

        prov = learned()["provenance"]
        previous = prov.get("weights_fitted_at") or prov["fitted_at"]
    from chat.retrieval.base import library_version
    from chat.retrieval.lexical import vocabulary_size

    out["provenance"] = {
        "fitted_by": "bench/fit_retrieval.py" + (" --keep-weights" if previous else ""),
        **({"weights_fitted_at": previous} if previous else {}),
        "fitted_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%MZ"),
        "dataset": f"tests/data/qa/*.json (sha256 {digest}), {len(items)} questions",
        "embedder": embedder.model_name if embedder else None,
        # the library's distinct lexemes (chat.retrieval.moments.vocabulary_scale)
        "library_lexemes": vocabulary_size(creator.pk, library_version(creator=creator)),
        "objective": (
            "weights (w_cos, w_ctx): mean of moment hit@1, hit@5 and start@5 (window start); "
            "floor and w_unknown: most in-scope answered at their moment with no "
            "out-of-scope question answered (full text: at most 1/8); passage_share: "
            "start@5 of the pinpointed citations"
        ),
    }
    text = json.dumps(out, indent=2) + "\n"
    if args.write:
        (ROOT / "chat" / "retrieval" / "learned.json").write_text(text)
        print("written chat/retrieval/learned.json")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
