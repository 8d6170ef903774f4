"""Vector search: cosine similarity of the question to the scope's SegmentWindows (or, for
vectors made before windows existed, to whole chunks), through pgvector's HNSW indexes.
Only vectors of the active embedder's model are compared."""

from __future__ import annotations

import weakref

from django.db import connection

from chat.retrieval.base import ChunkHit, Scope
from creators.models import Creator

# Windows fetched from the HNSW index per question (and hnsw.ef_search for that query).
# Fusion only needs the leaders: a chunk ranked 64th adds 1/124 to a score, under half a
# first rank's 1/61, and the answer uses the top 5. 64 (pgvector's default ef_search is
# 40) costs ~8 ms at 50k 1536-d windows where 200 cost ~20 ms (bench/retrieval.py).
VECTOR_CANDIDATES = 64
# Rows (best first) whose similarity is computed: only the leaders need a value (the
# "covered" test reads the best, pinpointing the top-k); the rest are ranked by the index
# alone, which spares reading (detoasting) ~200 stored 6 KB vectors per question.
SCORED_ROWS = 20

_SQL = """
SELECT chunk_id, video_id, first_segment_index, last_segment_index,
       CASE WHEN row_number() OVER () <= %(scored)s THEN 1 - (embedding <=> %(vec)s::vector) END,
       window_id
FROM (
    SELECT w.chunk_id, w.video_id, w.first_segment_index, w.last_segment_index, w.embedding,
           w.window_id
    FROM {table} w
    WHERE w.creator_id = %(creator)s AND w.embedding_model = %(model)s AND {video_filter}
    ORDER BY w.embedding <=> %(vec)s::vector
    LIMIT %(limit)s
) AS best
"""
_WINDOWS = (
    "(SELECT id AS window_id, chunk_id, video_id, first_segment_index, last_segment_index, "
    "embedding, embedding_model, creator_id FROM videos_segmentwindow)"
)
_CHUNKS = (
    "(SELECT NULL::bigint AS window_id, id AS chunk_id, video_id, first_segment_index, "
    "last_segment_index, embedding, embedding_model, creator_id FROM videos_videochunk)"
)


# Database connections (psycopg) whose session already has hnsw.ef_search set.
_EF_SET: weakref.WeakSet = weakref.WeakSet()


def _ef_search(cur) -> None:
    """hnsw.ef_search = VECTOR_CANDIDATES for the coming query: once per connection when in
    autocommit (a session setting, saving two round trips per question), else SET LOCAL
    (a session SET inside a transaction would be undone by its rollback)."""
    raw = connection.connection
    if connection.in_atomic_block or raw is None:
        cur.execute(f"SET LOCAL hnsw.ef_search = {int(VECTOR_CANDIDATES)}")
    elif raw not in _EF_SET:
        cur.execute(f"SET hnsw.ef_search = {int(VECTOR_CANDIDATES)}")
        _EF_SET.add(raw)


def vector_literal(vector) -> str:
    """pgvector's text form of a vector: '[x1,x2,...]'."""
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


def vector_query(scope: Scope, model: str, vector, *, windows: bool = True) -> tuple[str, dict]:
    """The SQL statement of a vector search and its parameters (see vector_search)."""
    video_filter, extra = scope.video_filter("w.video_id")
    params = {
        "vec": vector_literal(vector),
        "creator": scope.creator_id,
        "model": model,
        "limit": VECTOR_CANDIDATES,
        "scored": SCORED_ROWS,
        **extra,
    }
    sql = _SQL.format(table=_WINDOWS if windows else _CHUNKS, video_filter=video_filter)
    return sql, params


def vector_rank(
    scope: Scope, embedder, question: str, creator: Creator, *, windows_out: dict | None = None
) -> list[ChunkHit]:
    """Chunks by their best window's cosine similarity (windows of the embedder's model;
    chunk embeddings when no window has one). [] when nothing in scope has that model.
    windows_out: when a dict, receives "windows": [(window_id, similarity or None)] best
    first and "vector": the question's vector (moment-level retrieval reads both)."""
    model = embedder.model_name
    video_filter, extra = scope.video_filter("video_id")
    params = {"creator": scope.creator_id, "model": model, **extra}
    with connection.cursor() as cur:
        cur.execute(
            "SELECT EXISTS (SELECT 1 FROM videos_segmentwindow WHERE creator_id = %(creator)s "
            f"AND embedding_model = %(model)s AND {video_filter} AND embedding IS NOT NULL)",
            params,
        )
        has_windows = cur.fetchone()[0]
        if not has_windows:
            cur.execute(
                "SELECT EXISTS (SELECT 1 FROM videos_videochunk WHERE creator_id = %(creator)s "
                f"AND embedding_model = %(model)s AND {video_filter} AND embedding IS NOT NULL)",
                params,
            )
            if not cur.fetchone()[0]:
                return []
    vector = embedder.embed([question], creator=creator, subject="chat:question")[0]
    return vector_search(scope, model, vector, windows=has_windows, windows_out=windows_out)


def vector_search(
    scope: Scope, model: str, vector, *, windows: bool = True, windows_out: dict | None = None
) -> list[ChunkHit]:
    """Chunks ranked by cosine similarity of `vector` to their best window (or the chunk
    embedding when windows=False), inside `scope`, vectors of `model` only. A hit's
    .vector is the similarity (-1..1) for the first SCORED_ROWS windows, else None is
    replaced by the last computed value (ranks, not values, feed fusion)."""
    sql, params = vector_query(scope, model, vector, windows=windows)
    with connection.cursor() as cur:
        _ef_search(cur)
        cur.execute(sql, params)
        rows = cur.fetchall()
    hits: dict[int, ChunkHit] = {}
    last = 0.0
    for chunk_id, video_id, first, last_index, sim, window_id in rows:
        if windows_out is not None and window_id is not None:
            windows_out.setdefault("windows", []).append(
                (window_id, None if sim is None else float(sim))
            )
        if sim is not None:
            last = float(sim)
        if chunk_id not in hits:  # rows come best first: the first is the best window
            hits[chunk_id] = ChunkHit(
                chunk_id=chunk_id, video_id=video_id, vector=last, best_window=(first, last_index)
            )
    if windows_out is not None:
        windows_out["vector"] = vector
    return list(hits.values())
