"""The postings' primary key index also carries the weight (INCLUDE), so re-scoring a
candidate chunk from its postings is an index-only scan (no heap visit per posting)."""

from django.db import migrations

FORWARD = """
ALTER TABLE videos_chunkposting
    DROP CONSTRAINT videos_chunkposting_pkey,
    ADD CONSTRAINT videos_chunkposting_pkey PRIMARY KEY (video_id, lexeme, chunk_id)
        INCLUDE (weight);
"""
BACKWARD = """
ALTER TABLE videos_chunkposting
    DROP CONSTRAINT videos_chunkposting_pkey,
    ADD CONSTRAINT videos_chunkposting_pkey PRIMARY KEY (video_id, lexeme, chunk_id);
"""


class Migration(migrations.Migration):
    dependencies = [("videos", "0004_chunk_postings")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
