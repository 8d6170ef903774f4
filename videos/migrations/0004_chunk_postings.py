"""Impact-ordered postings and document frequencies for full-text retrieval.

Triggers on videos_videochunk keep videos_chunkposting and videos_lexemefrequency in step
with the chunks (statement-level, with transition tables: one INSERT ... SELECT per
bulk_create/COPY, whatever the number of rows). Weight constants: see
videos.models.POSTING_BM25_K1 / POSTING_BM25_B / POSTING_AVG_WORDS (1.2, 0.75, 750).
Existing chunks are indexed at the end of the migration.
"""

import django.db.models.deletion
from django.db import migrations, models

# weight = tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)), k1 = 1.2, b = 0.75,
# avgdl = 750 (see videos.models.POSTING_*); tf = number of positions of the lexeme.
POSTINGS_OF = """
    SELECT n.creator_id, n.video_id, n.id AS chunk_id, u.lexeme,
           tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * greatest(n.word_count, 1) / 750.0)) AS weight
    FROM {rows} n
    CROSS JOIN LATERAL unnest(n.search_vector) AS u
    CROSS JOIN LATERAL coalesce(array_length(u.positions, 1), 1) AS tf
"""

FORWARD = f"""
CREATE FUNCTION videos_postings_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO videos_chunkposting (creator_id, video_id, chunk_id, lexeme, weight)
    {POSTINGS_OF.format(rows="new_chunks")};
    -- Sorted input: concurrent writers for one creator lock lexeme rows in the same order.
    -- The '' row (never a lexeme) counts the creator's chunks: N of the IDF.
    INSERT INTO videos_lexemefrequency (creator_id, lexeme, ndoc)
    SELECT x.creator_id, x.lexeme, count(*) FROM (
        SELECT n.creator_id, u.lexeme
        FROM new_chunks n CROSS JOIN LATERAL unnest(n.search_vector) AS u
        UNION ALL
        SELECT n.creator_id, '' FROM new_chunks n
    ) AS x
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (creator_id, lexeme)
    DO UPDATE SET ndoc = videos_lexemefrequency.ndoc + EXCLUDED.ndoc;
    RETURN NULL;
END $$;

CREATE FUNCTION videos_postings_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Only UPDATE frequencies (never insert): a creator being deleted has none left.
    WITH gone AS (
        DELETE FROM videos_chunkposting p
        WHERE p.video_id = ANY (ARRAY(SELECT DISTINCT video_id FROM old_chunks))
          AND p.chunk_id = ANY (ARRAY(SELECT id FROM old_chunks))
        RETURNING p.creator_id, p.lexeme
    ), counts AS (
        SELECT creator_id, lexeme, count(*) AS n FROM gone GROUP BY 1, 2
        UNION ALL
        SELECT creator_id, '', count(*) FROM old_chunks GROUP BY 1
    )
    UPDATE videos_lexemefrequency f SET ndoc = f.ndoc - c.n
    FROM counts c WHERE f.creator_id = c.creator_id AND f.lexeme = c.lexeme;
    RETURN NULL;
END $$;

-- A chunk whose text or length changed gets fresh postings (embedding updates do not).
CREATE FUNCTION videos_postings_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed bigint[];
BEGIN
    SELECT array_agg(n.id) INTO changed
    FROM new_chunks n JOIN old_chunks o ON o.id = n.id
    WHERE (n.search_vector, n.word_count, n.video_id, n.creator_id)
          IS DISTINCT FROM (o.search_vector, o.word_count, o.video_id, o.creator_id);
    IF changed IS NULL THEN
        RETURN NULL;
    END IF;
    WITH gone AS (
        DELETE FROM videos_chunkposting p
        WHERE p.video_id = ANY (ARRAY(SELECT DISTINCT video_id FROM old_chunks))
          AND p.chunk_id = ANY (changed)
        RETURNING p.creator_id, p.lexeme
    ), counts AS (
        SELECT creator_id, lexeme, count(*) AS n FROM gone GROUP BY 1, 2
    )
    UPDATE videos_lexemefrequency f SET ndoc = f.ndoc - c.n
    FROM counts c WHERE f.creator_id = c.creator_id AND f.lexeme = c.lexeme;
    INSERT INTO videos_chunkposting (creator_id, video_id, chunk_id, lexeme, weight)
    {POSTINGS_OF.format(rows="(SELECT * FROM new_chunks WHERE id = ANY (changed))")};
    INSERT INTO videos_lexemefrequency (creator_id, lexeme, ndoc)
    SELECT n.creator_id, u.lexeme, count(*)
    FROM new_chunks n CROSS JOIN LATERAL unnest(n.search_vector) AS u
    WHERE n.id = ANY (changed)
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (creator_id, lexeme)
    DO UPDATE SET ndoc = videos_lexemefrequency.ndoc + EXCLUDED.ndoc;
    RETURN NULL;
END $$;

CREATE TRIGGER videochunk_postings_add AFTER INSERT ON videos_videochunk
    REFERENCING NEW TABLE AS new_chunks
    FOR EACH STATEMENT EXECUTE FUNCTION videos_postings_add();
CREATE TRIGGER videochunk_postings_remove AFTER DELETE ON videos_videochunk
    REFERENCING OLD TABLE AS old_chunks
    FOR EACH STATEMENT EXECUTE FUNCTION videos_postings_remove();
CREATE TRIGGER videochunk_postings_change AFTER UPDATE ON videos_videochunk
    REFERENCING OLD TABLE AS old_chunks NEW TABLE AS new_chunks
    FOR EACH STATEMENT EXECUTE FUNCTION videos_postings_change();

-- Index the chunks that already exist.
INSERT INTO videos_chunkposting (creator_id, video_id, chunk_id, lexeme, weight)
{POSTINGS_OF.format(rows="videos_videochunk")};
INSERT INTO videos_lexemefrequency (creator_id, lexeme, ndoc)
SELECT x.creator_id, x.lexeme, count(*) FROM (
    SELECT n.creator_id, u.lexeme
    FROM videos_videochunk n CROSS JOIN LATERAL unnest(n.search_vector) AS u
    UNION ALL
    SELECT n.creator_id, '' FROM videos_videochunk n
) AS x
GROUP BY 1, 2;
"""

BACKWARD = """
DROP TRIGGER IF EXISTS videochunk_postings_add ON videos_videochunk;
DROP TRIGGER IF EXISTS videochunk_postings_remove ON videos_videochunk;
DROP TRIGGER IF EXISTS videochunk_postings_change ON videos_videochunk;
DROP FUNCTION IF EXISTS videos_postings_add();
DROP FUNCTION IF EXISTS videos_postings_remove();
DROP FUNCTION IF EXISTS videos_postings_change();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("creators", "0003_purge_schedule"),
        ("videos", "0003_sweeper_schedule"),
    ]

    operations = [
        migrations.CreateModel(
            name="ChunkPosting",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "video_id",
                        "lexeme",
                        "chunk_id",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("lexeme", models.TextField()),
                ("weight", models.FloatField()),
                (
                    "chunk",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="videos.videochunk",
                    ),
                ),
                (
                    "creator",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="creators.creator",
                    ),
                ),
                (
                    "video",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="videos.video",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["creator", "lexeme", "-weight"],
                        include=("video", "chunk"),
                        name="posting_impact",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="LexemeFrequency",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("lexeme", models.TextField()),
                ("ndoc", models.IntegerField()),
                (
                    "creator",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="creators.creator",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("creator", "lexeme"), name="lexemefrequency_unique"
                    )
                ],
            },
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
