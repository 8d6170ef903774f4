"""Answer quality on the development set (tests/data/qa/*.json), through the chat service.

    .venv/bin/python bench/qa.py [--embedder local|none|openai] [--answerer extractive|...]
                                 [--details FILE] [--questions DIR|FILE] [--captions DIR]

Seeds its own embedded PostgreSQL (/tmp/chronos-benchqa): one creator with every lecture of
the set (their caption cues as transcripts, chunked and windowed by the pipeline; kept
between runs), embedded with --embedder, and a student who asks every question through
chat.services.chat_ask (each in a new session; follow-ups in the session of the question
they follow). Prints moment
hit@5 / hit@1, start within 15 s @5, out-of-scope refused, invented citations, follow-ups
answered and p50/p95 ms per question (see tests/qa_eval.py for the definitions), then
hit@5 and start@5 per kind of question: "paraphrase" alone is what the held-out set of
issue 12 is made of.

Other lectures and questions: --questions reads a set from DIR/*.json (or one file) in
the same shape as tests/data/qa, and --captions DIR holds its lectures' caption files,
named after the questions' "video" (`mylecture.vtt` or `.srt` for "video": "mylecture");
such a set gets a creator of its own in the bench database, so only its lectures are in
scope. tests/data/qa_heldout is one (`--questions tests/data/qa_heldout --captions
tests/data`): questions written after the parameters were fitted, for measuring only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--embedder", default="local", help="local | none | openai | auto")
    parser.add_argument("--answerer", default="extractive", help="extractive | auto | ...")
    parser.add_argument("--details", default=None, help="write per-question outcomes (JSON)")
    parser.add_argument(
        "--questions", default=None, help="a question set: a directory of *.json or one file"
    )
    parser.add_argument(
        "--captions", default=None, help="a directory of caption files (<video>.vtt or .srt)"
    )
    args = parser.parse_args()
    os.environ.setdefault("CHRONOS_DATA_DIR", "/tmp/chronos-benchqa")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronos.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["CHRONOS_EMBEDDER"] = args.embedder
    os.environ["CHRONOS_ANSWERER"] = args.answerer
    import django

    django.setup()
    from django.core.management import call_command

    from chat.models import AnswerCacheEntry
    from chat.retrieval import calibration_ensure
    from tests.chat_library import caption_lectures_add, qa_questions
    from tests.qa_eval import ask_all, library_for_bench
    from videos.embedders import get_embedder

    call_command("migrate", verbosity=0, interactive=False)
    items = qa_questions(Path(args.questions) if args.questions else None)
    names = sorted({i["video"] for i in items if i["video"]})
    if args.captions:
        caption_lectures_add(Path(args.captions), set(names))
    started = time.perf_counter()
    # Another set gets a creator of its own: only its lectures are in scope.
    handle = "bench-qa"
    if args.questions or args.captions:
        digest = hashlib.sha256(" ".join(names).encode()).hexdigest()[:10]
        handle = f"bench-qa-{digest}"
    creator, student, videos = library_for_bench(items, handle=handle)
    embed_s = time.perf_counter() - started
    embedder = get_embedder()
    calibration_ensure(creator=creator)
    AnswerCacheEntry.objects.filter(creator=creator).delete()
    report = ask_all(user=student, creator=creator, videos=videos, items=items)
    f = report.figures()
    model = embedder.model_name if embedder else "none (full text only)"
    print(f"embedder: {model}; answerer: {args.answerer}; lectures: {', '.join(names)}")
    if embedder is not None:
        print(f"building/embedding the library took {embed_s:.1f} s (reused when present)")
    print(
        f"questions: {f['n']} in scope, {f['followups_total']} follow-ups, "
        f"{f['oos_total']} out of scope"
    )
    print(f"moment hit@5          {f['hit5']:.3f}")
    print(f"moment hit@1          {f['hit1']:.3f}")
    print(f"start within 15 s @5  {f['start5']:.3f}")
    print(f"out-of-scope refused  {f['oos_refused']}/{f['oos_total']}")
    print(f"invented citations    {f['invented']}")
    print(f"follow-ups answered   {f['followups']}/{f['followups_total']}")
    print(
        f"refused in scope      {f['refused_in_scope']}/{f['n']}, their moment among the "
        f"closest offered: {f['refused_nearest_hit']}"
    )
    print(f"out of scope offered closest moments  {f['oos_nearest']}/{f['oos_total']}")
    print(f"ms per question       p50 {f['p50_ms']:.0f}  p95 {f['p95_ms']:.0f}")
    for kind, k in f["by_kind"].items():
        name = kind or "no kind"
        print(f"  {name:<11} {k['n']:3} q: hit@5 {k['hit5']:.3f}, start@5 {k['start5']:.3f}")
    if args.details:
        rows = [
            {"id": o.item["id"], "covered": o.covered, "ms": round(o.ms),
             "citations": [{k: c.get(k) for k in ("video_id", "start", "end", "quote")}
                           for c in o.citations],
             "nearest": [{k: c.get(k) for k in ("video_id", "start", "end")}
                         for c in o.nearest],
             "answer": o.answer}
            for o in report.outcomes
        ]  # fmt: skip
        Path(args.details).write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
