"""Retrieval latency at 10k / 50k / 200k chunks for one creator, beside the raw SQL floor.

    .venv/bin/python bench/retrieval.py [--sizes 10000 50000 200000] [--repeat 5]

Uses its own embedded PostgreSQL under /tmp/chronos-bench (CHRONOS_DATA_DIR; or set
DATABASE_URL). For each size it bulk-loads (COPY) videos whose segments are the real
Faraday lecture cues, chunks of ~35 consecutive cues (real text, ~750 words), one
SegmentWindow per chunk with a random unit 1536-d vector (model "bench-random"), builds the
GIN/HNSW indexes' contents, calibrates, then times per question (p50/p95, ms):

  full-text  chat.retrieval._lexical_rank   vs  its candidate SQL alone (same parameters)
  vector     chat.retrieval.vector_search   vs  its window SQL alone
  hybrid     both + RRF fusion              vs  the sum of the two floors
  retrieve   chat.retrieval.retrieve (hybrid + pinpoint + floor), for reference

Targets (issue 3): hybrid p95 <= 25 ms at 50k chunks and <= 1.3x the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if not os.environ.get("DATABASE_URL"):
    os.environ.setdefault("CHRONOS_DATA_DIR", "/tmp/chronos-bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronos.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

QUESTIONS = [
    "What safety equipment took over from candles down in the coal pits?",
    "Where was the paraffin wax obtained from?",
    "What keeps the outside edge of the cup cool so the melted fuel does not run over?",
    "Why do flames rise upwards?",
    "Which children's party game did he use to illustrate flames?",
    "Why does a candle go out when you turn it upside down?",
    "Is fresh air needed for something to burn?",
    "What happens when lime is heated in a hydrogen flame?",
    "What gives a coal gas flame its brightness?",
    "How is the heat arranged inside a candle flame?",
    "Why do larger wicks need more air supply?",
    "How does the liquid fuel travel up the wick to the flame?",
]
LECTURES = [ROOT / "videos/demo/faraday-candle-1.json", ROOT / "tests/data/faraday-candle-2.json"]
MODEL = "bench-random"
CHUNKS_PER_VIDEO = 100
CUES_PER_CHUNK = 35
DIM = 1536


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, round(p * (len(v) - 1)))]


def unit_vector(rng: random.Random) -> list[float]:
    v = [rng.gauss(0, 1) for _ in range(DIM)]
    n = sum(x * x for x in v) ** 0.5
    return [x / n for x in v]


def vec_text(v: list[float]) -> str:
    return "[" + ",".join(f"{x:.6f}" for x in v) + "]"


def load(creator, n_chunks: int, rng: random.Random) -> None:
    """COPY n_chunks chunks (+ their videos, segments, one window each) for `creator`."""
    from videos.models import Video

    lectures = [json.loads(p.read_text())["cues"] for p in LECTURES]
    n_videos = (n_chunks + CHUNKS_PER_VIDEO - 1) // CHUNKS_PER_VIDEO
    videos = Video.objects.bulk_create(
        [
            Video(creator=creator, title=f"Bench lecture {i}", status=Video.Status.COMPLETED)
            for i in range(n_videos)
        ]
    )
    # Build the HNSW index once after loading (inserting row by row into it is far slower).
    with connection.cursor() as cur:
        cur.execute("DROP INDEX IF EXISTS window_embedding_hnsw")
    raw = connection.connection  # psycopg connection
    with raw.cursor() as cur:
        with cur.copy(
            'COPY videos_transcriptsegment (creator_id, video_id, index, start, "end", text, '
            "speaker) FROM STDIN"
        ) as copy:
            for vi, video in enumerate(videos):
                for c in lectures[vi % 2]:
                    copy.write_row(
                        (creator.pk, video.pk, c["index"], c["start"], c["end"], c["text"], "")
                    )
        made = 0
        chunk_rows = []
        for vi, video in enumerate(videos):
            cues = lectures[vi % 2]
            for ci in range(min(CHUNKS_PER_VIDEO, n_chunks - made)):
                a = rng.randrange(0, len(cues) - CUES_PER_CHUNK)
                part = cues[a : a + CUES_PER_CHUNK]
                text = " ".join(c["text"] for c in part)
                chunk_rows.append(
                    (creator.pk, video.pk, ci, text, part[0]["start"], part[-1]["end"],
                     len(text.split()), part[0]["index"], part[-1]["index"], MODEL)
                )  # fmt: skip
                made += 1
        with cur.copy(
            'COPY videos_videochunk (creator_id, video_id, chunk_index, text, start, "end", '
            "word_count, first_segment_index, last_segment_index, embedding_model) FROM STDIN"
        ) as copy:
            for row in chunk_rows:
                copy.write_row(row)
        cur.execute(
            'SELECT id, video_id, first_segment_index, last_segment_index, start, "end" '
            "FROM videos_videochunk WHERE creator_id = %s",
            [creator.pk],
        )
        chunks = cur.fetchall()
        with cur.copy(
            "COPY videos_segmentwindow (creator_id, video_id, chunk_id, first_segment_index, "
            'last_segment_index, start, "end", text, embedding, embedding_model) FROM STDIN'
        ) as copy:
            for cid, vid, first, _last, start, _end in chunks:
                copy.write_row(
                    (creator.pk, vid, cid, first, first + 2, start, start + 20, "",
                     vec_text(unit_vector(rng)), MODEL)
                )  # fmt: skip
    with connection.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '2GB'")
        cur.execute(
            "CREATE INDEX window_embedding_hnsw ON videos_segmentwindow USING hnsw "
            "(embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
        )
        cur.execute("ANALYZE videos_videochunk; ANALYZE videos_segmentwindow;")


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def run_size(n_chunks: int, repeat: int) -> dict:
    from chat.retrieval import (
        CANDIDATES,
        VECTOR_CANDIDATES,
        _lexeme_ndoc,
        _lexical_rank,
        _selective,
        _tsquery_text,
        calibration_compute,
        question_lexemes,
        retrieve,
        rrf_fuse,
        scope_resolve,
        vector_search,
    )
    from creators.models import Creator

    rng = random.Random(n_chunks)
    Creator.objects.filter(handle=f"bench-{n_chunks}").delete()
    creator = Creator.objects.create(handle=f"bench-{n_chunks}", company_name="Bench")
    t0 = time.perf_counter()
    load(creator, n_chunks, rng)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    calib = calibration_compute(creator=creator)
    t_calib = time.perf_counter() - t0
    scope = scope_resolve(creator=creator)
    total = max(calib.doc_count, 1)

    class Embedder:  # random query vectors of the bench model (no provider in a benchmark)
        model_name = MODEL

        def embed(self, texts, creator=None, subject=""):
            return [unit_vector(rng) for _ in texts]

    embedder = Embedder()
    rows = {k: [] for k in ("ft", "ft_floor", "vec", "vec_floor", "hyb", "hyb_floor", "retrieve")}
    for q in QUESTIONS:
        lexemes = question_lexemes(q)
        ndoc = _lexeme_ndoc(creator.pk, lexemes)
        present = [lx for lx in lexemes if ndoc.get(lx, 0) > 0]
        selective = _selective(present, ndoc, total)
        qvec = vec_text(unit_vector(rng))
        ft_sql = (
            "WITH cand AS (SELECT c.id, c.video_id, c.word_count, c.search_vector AS sv, "
            "ts_rank(c.search_vector, q) AS r FROM videos_videochunk c, CAST(%s AS tsquery) AS q "
            "WHERE c.creator_id = %s AND c.video_id = ANY(%s) AND c.search_vector @@ q "
            "ORDER BY r DESC LIMIT %s) SELECT cand.id, cand.video_id, cand.word_count, cand.r, "
            "u.lexeme, coalesce(array_length(u.positions, 1), 1) FROM cand LEFT JOIN LATERAL "
            "unnest(ts_filter(setweight(cand.sv, 'A', %s), '{a}')) AS u ON true"
        )
        ft_params = [
            _tsquery_text(selective),
            creator.pk,
            list(scope.video_ids),
            CANDIDATES,
            lexemes,
        ]
        vec_sql = (
            "SELECT w.chunk_id, w.video_id, w.first_segment_index, w.last_segment_index, "
            "1 - (w.embedding <=> %s::vector) AS sim FROM videos_segmentwindow w "
            "WHERE w.creator_id = %s AND w.embedding_model = %s AND w.video_id = ANY(%s) "
            "ORDER BY w.embedding <=> %s::vector LIMIT %s"
        )
        vec_params = [qvec, creator.pk, MODEL, list(scope.video_ids), qvec, VECTOR_CANDIDATES]

        def ft_floor(ft_sql=ft_sql, ft_params=ft_params):
            with connection.cursor() as cur:
                cur.execute(ft_sql, ft_params)
                cur.fetchall()

        def vec_floor(vec_sql=vec_sql, vec_params=vec_params):
            with connection.cursor() as cur:
                cur.execute(vec_sql, vec_params)
                cur.fetchall()

        def ft(lexemes=lexemes):
            return _lexical_rank(scope, calib, lexemes)

        def vec(qvec=qvec):
            return vector_search(scope, MODEL, json.loads(qvec))

        def hyb(lexemes=lexemes, qvec=qvec):
            return rrf_fuse(
                _lexical_rank(scope, calib, lexemes), vector_search(scope, MODEL, json.loads(qvec))
            )

        with connection.cursor() as cur:
            cur.execute(f"SET hnsw.ef_search = {VECTOR_CANDIDATES}")
        for fn in (ft, ft_floor, vec, vec_floor):  # warm caches
            fn()
        ftf = timed(ft_floor, repeat)
        vef = timed(vec_floor, repeat)
        rows["ft_floor"] += ftf
        rows["vec_floor"] += vef
        rows["hyb_floor"] += [a + b for a, b in zip(ftf, vef, strict=True)]
        rows["ft"] += timed(ft, repeat)
        rows["vec"] += timed(vec, repeat)
        rows["hyb"] += timed(hyb, repeat)
        rows["retrieve"] += timed(
            lambda q=q: retrieve(creator=creator, scope=scope, question=q, embedder=embedder),
            repeat,
        )
    summary = {k: (round(pct(v, 0.5), 2), round(pct(v, 0.95), 2)) for k, v in rows.items()}
    summary["load_s"] = round(t_load, 1)
    summary["calibrate_s"] = round(t_calib, 1)
    summary["floor"] = calib.floor
    Creator.objects.filter(pk=creator.pk).delete()
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    call_command("migrate", verbosity=0, interactive=False)
    with connection.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '1GB'")
    head = ("chunks", "kind", "p50 ms", "p95 ms", "floor p50", "floor p95", "p95/floor")
    print("{:>8} {:>10} {:>8} {:>8} {:>10} {:>10} {:>9}".format(*head))
    for n in args.sizes:
        s = run_size(n, args.repeat)
        for kind, floor in (("ft", "ft_floor"), ("vec", "vec_floor"), ("hyb", "hyb_floor")):
            p50, p95 = s[kind]
            f50, f95 = s[floor]
            name = {"ft": "full-text", "vec": "vector", "hyb": "hybrid"}[kind]
            ratio = p95 / f95
            print(
                f"{n:>8} {name:>10} {p50:>8.2f} {p95:>8.2f} {f50:>10.2f} {f95:>10.2f} {ratio:>9.2f}"
            )
        r50, r95 = s["retrieve"]
        print(f"{n:>8} {'retrieve':>10} {r50:>8.2f} {r95:>8.2f}   (hybrid + pinpoint + floor)")
        print(f"{n:>8} load {s['load_s']} s, calibration {s['calibrate_s']} s, floor {s['floor']}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
