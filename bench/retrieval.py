"""Retrieval latency at 10k / 50k / 200k chunks for one creator, beside the raw SQL floor.

    .venv/bin/python bench/retrieval.py [--sizes 10000 50000 200000] [--repeat 5]

Uses its own embedded PostgreSQL under /tmp/chronos-bench (CHRONOS_DATA_DIR; or set
DATABASE_URL). For each size it bulk-loads with COPY videos whose segments are the real
Faraday lecture cues, chunks of ~35 consecutive cues (real text, ~750 words), one
SegmentWindow per chunk with a random unit 1536-d vector (model "bench-random"); the chunk
triggers are disabled during the COPY and the postings/frequencies are built afterwards
with one INSERT ... SELECT each (the triggers' own SQL), then the indexes are built and
the tables vacuumed. Then it calibrates and times per question (p50/p95, ms):

  full-text  chat.retrieval.lexical_rank   vs  its one SQL statement alone (lexical_query)
  vector     chat.retrieval.vector_search  vs  its one SQL statement alone (vector_query)
  hybrid     both + RRF fusion             vs  the sum of the two statements' times
  retrieve   chat.retrieval.retrieve (moments: candidates + fusion + pinpoint + floor),
             per configuration: "full text" (no embedder), "vectors" (a random query vector
             of the bench model) and "local" (the question embedded by the local ONNX model
             each time, its per-process cache cleared, then searched like "vectors"), with
             the mean CPU per call of this process and its PostgreSQL backend (/proc)

and checks the wide plan's top 5 against the exact plan's (every posting read).
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

from bench.support import backend_cpu_seconds, pct  # noqa: E402

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


def unit_vector(rng: random.Random) -> list[float]:
    v = [rng.gauss(0, 1) for _ in range(DIM)]
    n = sum(x * x for x in v) ** 0.5
    return [x / n for x in v]


def vec_text(v: list[float]) -> str:
    return "[" + ",".join(f"{x:.6f}" for x in v) + "]"


def _window_vectors(n: int, seed: int):
    """n random unit vectors in pgvector's text form (numpy when present: 200k x 1536
    Gaussians in pure Python take minutes)."""
    try:
        import numpy as np
    except ImportError:
        rng = random.Random(seed)
        for _ in range(n):
            yield vec_text(unit_vector(rng))
        return
    gen = np.random.default_rng(seed)
    for start in range(0, n, 1000):
        block = gen.standard_normal((min(1000, n - start), DIM), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        for row in block:
            yield "[" + ",".join(np.char.mod("%.6f", row)) + "]"


def _migration_sql():
    import importlib

    return importlib.import_module("videos.migrations.0004_chunk_postings")


def load(creator, n_chunks: int, rng: random.Random) -> None:
    """COPY n_chunks chunks (+ their videos, segments, one window each) for `creator`, then
    build postings, frequencies and indexes in bulk."""
    from videos.models import Video

    lectures = [json.loads(p.read_text())["cues"] for p in LECTURES]
    n_videos = (n_chunks + CHUNKS_PER_VIDEO - 1) // CHUNKS_PER_VIDEO
    videos = Video.objects.bulk_create(
        [
            Video(creator=creator, title=f"Bench lecture {i}", status=Video.Status.COMPLETED)
            for i in range(n_videos)
        ]
    )
    # Indexes are built once after loading (maintaining them row by row is far slower).
    with connection.cursor() as cur:
        cur.execute("DROP INDEX IF EXISTS window_embedding_hnsw")
        cur.execute("DROP INDEX IF EXISTS posting_impact")
        cur.execute(
            "ALTER TABLE videos_chunkposting DROP CONSTRAINT IF EXISTS videos_chunkposting_pkey"
        )
        cur.execute("ALTER TABLE videos_videochunk DISABLE TRIGGER videochunk_postings_add")
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
            vectors = _window_vectors(len(chunks), n_chunks)
            for (cid, vid, first, _last, start, _end), vec in zip(chunks, vectors, strict=False):
                copy.write_row(
                    (creator.pk, vid, cid, first, first + 2, start, start + 20, "", vec, MODEL)
                )  # fmt: skip
    m = _migration_sql()
    mine = f"(SELECT * FROM videos_videochunk WHERE creator_id = {int(creator.pk)})"
    with connection.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '2GB'")
        cur.execute(
            "INSERT INTO videos_chunkposting (creator_id, video_id, chunk_id, lexeme, weight) "
            + m.POSTINGS_OF.format(rows=mine)
        )
        cur.execute(
            "INSERT INTO videos_lexemefrequency (creator_id, lexeme, ndoc) "
            "SELECT x.creator_id, x.lexeme, count(*) FROM ("
            "  SELECT n.creator_id, u.lexeme FROM " + mine + " n"
            "  CROSS JOIN LATERAL unnest(n.search_vector) AS u"
            "  UNION ALL SELECT n.creator_id, '' FROM " + mine + " n"
            ") AS x GROUP BY 1, 2"
        )
        cur.execute("ALTER TABLE videos_videochunk ENABLE TRIGGER videochunk_postings_add")
        cur.execute(
            "ALTER TABLE videos_chunkposting ADD CONSTRAINT videos_chunkposting_pkey "
            "PRIMARY KEY (video_id, lexeme, chunk_id) INCLUDE (weight)"
        )
        indexes_ensure(cur)
        # Sets the visibility map, so the posting reads are index-only as in production
        # (where autovacuum does it for insert-mostly tables).
        for table in (
            "videos_videochunk",
            "videos_segmentwindow",
            "videos_chunkposting",
            "videos_lexemefrequency",
            "videos_transcriptsegment",
            "videos_video",
        ):
            cur.execute(f"VACUUM ANALYZE {table}")  # fmt: skip


def indexes_ensure(cur) -> bool:
    """Create the indexes load() drops, when missing (a load interrupted after dropping them
    leaves rows that --reuse would otherwise time without their indexes). True when one was
    missing."""
    cur.execute(
        "SELECT count(*) FROM pg_indexes WHERE indexname IN "
        "('posting_impact', 'window_embedding_hnsw')"
    )
    missing = cur.fetchone()[0] < 2
    cur.execute(
        "CREATE INDEX IF NOT EXISTS posting_impact ON videos_chunkposting "
        "(creator_id, lexeme, weight DESC) INCLUDE (video_id, chunk_id)"
    )
    cur.execute(
        "CREATE INDEX IF NOT EXISTS window_embedding_hnsw ON videos_segmentwindow USING hnsw "
        "(embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
    )
    return missing


def unload(creator) -> None:
    """Delete the bench creator's rows in bulk (triggers off: postings go with one DELETE)."""
    with connection.cursor() as cur:
        cur.execute("ALTER TABLE videos_videochunk DISABLE TRIGGER videochunk_postings_remove")
        for table in (
            "videos_chunkposting",
            "videos_lexemefrequency",
            "videos_segmentwindow",
            "videos_videochunk",
            "videos_transcriptsegment",
            "videos_video",
        ):
            cur.execute(f"DELETE FROM {table} WHERE creator_id = %s", [creator.pk])  # fmt: skip
        cur.execute("ALTER TABLE videos_videochunk ENABLE TRIGGER videochunk_postings_remove")
    creator.delete()


def local_available() -> bool:
    from videos.embedders import local_available as available

    return available()


class LocalTimed:
    """The local ONNX model embeds each question afresh (its cache cleared), then the vector
    is searched as the bench model's: the cost of a real question embedding, against the
    bench's random stored vectors."""

    model_name = MODEL

    def __init__(self):
        from videos.embedders import LocalEmbedder

        self.inner = LocalEmbedder()

    def embed(self, texts, creator=None, subject=""):
        from videos import embedders

        embedders._LOCAL_CACHE.clear()
        return self.inner.embed(texts)


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def run_size(n_chunks: int, repeat: int, *, reuse: bool = False, keep: bool = False) -> dict:
    from chat.retrieval import (
        calibration_compute,
        lexical_query,
        lexical_rank,
        question_lexemes,
        retrieve,
        rrf_fuse,
        scope_resolve,
        vector_query,
        vector_search,
    )
    from chat.retrieval.vector import VECTOR_CANDIDATES
    from creators.models import Creator
    from videos.models import LexemeFrequency

    rng = random.Random(n_chunks)
    handle = f"bench-{n_chunks}"
    loaded = LexemeFrequency.objects.filter(
        creator__handle=handle, lexeme=LexemeFrequency.TOTAL, ndoc=n_chunks
    ).exists()
    t_load = 0.0
    if reuse and loaded:
        creator = Creator.objects.get(handle=handle)
        with connection.cursor() as cur:
            if indexes_ensure(cur):
                cur.execute("VACUUM ANALYZE videos_segmentwindow")
                cur.execute("VACUUM ANALYZE videos_chunkposting")
    else:
        for old in Creator.objects.filter(handle=handle):
            unload(old)
        creator = Creator.objects.create(handle=handle, company_name="Bench")
        t0 = time.perf_counter()
        load(creator, n_chunks, rng)
        t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    calib = calibration_compute(creator=creator)
    t_calib = time.perf_counter() - t0
    scope = scope_resolve(creator=creator)
    docs = calib.doc_count

    class Embedder:  # random query vectors of the bench model (no provider in a benchmark)
        model_name = MODEL

        def embed(self, texts, creator=None, subject=""):
            return [unit_vector(rng) for _ in texts]

    embedder = Embedder()
    local = LocalTimed() if local_available() else None
    rows = {
        k: []
        for k in ("ft", "ft_floor", "vec", "vec_floor", "hyb", "hyb_floor", "retrieve",
                  "retrieve_ft", "retrieve_local")
    }  # fmt: skip
    agree = []
    cpu_ms = {k: 0.0 for k in ("retrieve", "retrieve_ft", "retrieve_local")}
    with connection.cursor() as cur:
        cur.execute(f"SET hnsw.ef_search = {VECTOR_CANDIDATES}")
    for q in QUESTIONS:
        lexemes = question_lexemes(q)
        qvec = unit_vector(rng)
        ft_sql, ft_params = lexical_query(scope, lexemes, doc_count=docs)
        vec_sql, vec_params = vector_query(scope, MODEL, qvec)

        def ft_floor(ft_sql=ft_sql, ft_params=ft_params):
            with connection.cursor() as cur:
                cur.execute(ft_sql, ft_params)
                cur.fetchall()

        def vec_floor(vec_sql=vec_sql, vec_params=vec_params):
            with connection.cursor() as cur:
                cur.execute(vec_sql, vec_params)
                cur.fetchall()

        def ft(lexemes=lexemes):
            return lexical_rank(scope, lexemes, doc_count=docs)

        def vec(qvec=qvec):
            return vector_search(scope, MODEL, qvec)

        def hyb(lexemes=lexemes, qvec=qvec):
            return rrf_fuse(
                lexical_rank(scope, lexemes, doc_count=docs), vector_search(scope, MODEL, qvec)
            )

        for fn in (ft, ft_floor, vec, vec_floor):  # warm caches
            fn()
        # Interleave the measured calls so drifting machine load hits all of them alike.
        for _ in range(repeat):
            for key, fn in (("ft_floor", ft_floor), ("vec_floor", vec_floor), ("ft", ft),
                            ("vec", vec), ("hyb", hyb)):  # fmt: skip
                rows[key] += timed(fn, 1)
            rows["hyb_floor"].append(rows["ft_floor"][-1] + rows["vec_floor"][-1])
            for key, emb in (("retrieve", embedder), ("retrieve_ft", None),
                             ("retrieve_local", local)):  # fmt: skip
                if key == "retrieve_local" and emb is None:
                    continue
                cpu, db_cpu = time.process_time(), backend_cpu_seconds()
                rows[key] += timed(
                    lambda q=q, emb=emb: retrieve(
                        creator=creator, scope=scope, question=q, embedder=emb
                    ),
                    1,
                )
                cpu_ms[key] += (time.process_time() - cpu + backend_cpu_seconds() - db_cpu) * 1000
        # Quality of the wide plan against reading every posting: the benchmark corpus
        # repeats two lectures, so many chunks tie; compare scores, not chunk ids.
        wide = [h.bm25 for h in lexical_rank(scope, lexemes, doc_count=docs)[:5]]
        exact = [h.bm25 for h in lexical_rank(scope, lexemes, doc_count=docs, plan="exact")[:5]]
        agree.append(
            (
                all(abs(a - b) <= 1e-6 * b for a, b in zip(wide, exact, strict=False)),
                wide[0] / exact[0] if exact and wide else 1.0,
            )
        )
    summary = {k: (round(pct(v, 0.5), 2), round(pct(v, 0.95), 2)) for k, v in rows.items() if v}
    for key, total in cpu_ms.items():
        if rows[key]:
            summary[f"{key}_cpu"] = round(total / len(rows[key]), 1)
    summary["load_s"] = round(t_load, 1)
    summary["calibrate_s"] = round(t_calib, 2)
    summary["floor"] = calib.floor
    summary["agree"] = sum(a for a, _ in agree) / len(agree)
    summary["top1_ratio"] = min(r for _, r in agree)
    with connection.cursor() as cur:
        cur.execute("SELECT pg_size_pretty(pg_total_relation_size('videos_chunkposting'))")
        summary["postings_size"] = cur.fetchone()[0]
    if not keep:
        unload(creator)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the loaded rows")
    parser.add_argument("--reuse", action="store_true", help="reuse rows kept by --keep")
    parser.add_argument("--load-only", action="store_true", help="load (and keep) only")
    args = parser.parse_args()
    call_command("migrate", verbosity=0, interactive=False)
    with connection.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '1GB'")
    head = ("chunks", "kind", "p50 ms", "p95 ms", "floor p50", "floor p95", "p95/floor")
    print("{:>8} {:>10} {:>8} {:>8} {:>10} {:>10} {:>9}".format(*head))
    for n in args.sizes:
        if args.load_only:
            from creators.models import Creator

            for old in Creator.objects.filter(handle=f"bench-{n}"):
                unload(old)
            t0 = time.perf_counter()
            load(
                Creator.objects.create(handle=f"bench-{n}", company_name="Bench"),
                n,
                random.Random(n),
            )
            print(f"{n:>8} loaded in {time.perf_counter() - t0:.0f} s")
            continue
        s = run_size(n, args.repeat, reuse=args.reuse, keep=args.keep)
        for kind, floor in (("ft", "ft_floor"), ("vec", "vec_floor"), ("hyb", "hyb_floor")):
            p50, p95 = s[kind]
            f50, f95 = s[floor]
            name = {"ft": "full-text", "vec": "vector", "hyb": "hybrid"}[kind]
            ratio = p95 / f95
            print(
                f"{n:>8} {name:>10} {p50:>8.2f} {p95:>8.2f} {f50:>10.2f} {f95:>10.2f} {ratio:>9.2f}"
            )
        for key, what in (("retrieve_ft", "full text"), ("retrieve", "random query vector"),
                          ("retrieve_local", "local embedder")):  # fmt: skip
            if key in s:
                r50, r95 = s[key]
                print(
                    f"{n:>8} {'retrieve':>10} {r50:>8.2f} {r95:>8.2f}   (moments, {what}; "
                    f"CPU {s[key + '_cpu']} ms per call, Python + PostgreSQL backend)"
                )
        print(f"{n:>8} load average {os.getloadavg()[0]:.1f} at the end of this size")
        print(
            f"{n:>8} load {s['load_s']} s, calibration {s['calibrate_s']} s, floor {s['floor']}, "
            f"postings {s['postings_size']}; wide plan: top-5 scores exact for "
            f"{s['agree']:.0%} of questions, worst top-1 score {s['top1_ratio']:.0%} of exact"
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
