"""The foundation: the embedded database really is PostgreSQL with pgvector."""

from django.db import connection


def test_database_is_postgres_with_pgvector(db):
    with connection.cursor() as cursor:
        cursor.execute("select extversion from pg_extension where extname = 'vector'")
        (version,) = cursor.fetchone()
    assert connection.vendor == "postgresql"
    assert tuple(int(x) for x in version.split(".")[:2]) >= (0, 5)  # HNSW needs 0.5+


def test_chunk_search_vector_is_generated(creator):
    from videos.models import Video, VideoChunk

    video = Video.objects.create(creator=creator, title="t")
    chunk = VideoChunk.objects.create(
        creator=creator,
        video=video,
        chunk_index=0,
        text="Candles burning brightly",
        start=0,
        end=1,
        word_count=3,
        first_segment_index=0,
        last_segment_index=0,
    )
    chunk.refresh_from_db()
    assert "candl" in str(chunk.search_vector)
