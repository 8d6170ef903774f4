"""Citations per video, for the course builder's heat meter (registered with
courses.heat in ChatConfig.ready; courses cannot import chat)."""

from __future__ import annotations

from django.db import connection


def citations_per_video(creator_id: int) -> dict[int, int]:
    """{video_id: how many assistant answers cited it} for one creator (one query)."""
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT (c->>'video_id')::bigint, count(*)
            FROM chat_chatmessage m, jsonb_array_elements(m.citations) AS c
            WHERE m.creator_id = %s AND m.role = 'assistant'
              AND jsonb_typeof(m.citations) = 'array' AND c ? 'video_id'
            GROUP BY 1
            """,
            [creator_id],
        )
        return {int(vid): n for vid, n in cur.fetchall() if vid is not None}
