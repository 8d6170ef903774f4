"""QuestionFact rows refolded from chat messages: placed on a video, classified."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction

from analytics.buckets import closed_months_refold
from analytics.models import (
    QuestionFact,
)
from analytics.ranges import month_sql, tz_of, zone_for
from analytics.rollups.fold import BATCH
from chat.smalltalk import SMALL_TALK_MODEL
from creators.models import Creator

# Chat answers saved but not yet written (chat.models.ChatMessage.Status), and how long one
# may hold back the questions watermark (seconds).
IN_FLIGHT = ("pending", "answering")


def _place(user_msg: dict, answer: dict | None) -> tuple[int | None, float | None, str]:
    video, position = user_msg.get("video_id"), user_msg.get("video_position")
    if video and position is not None:
        return video, float(position), QuestionFact.PlacedBy.PLAYER
    citations = (answer or {}).get("citations") or []
    top = next((c for c in citations if isinstance(c, dict) and c.get("video_id")), None)
    if top is not None:
        try:
            return int(top["video_id"]), float(top.get("start") or 0.0), "citation"
        except (TypeError, ValueError):
            pass
    if video:
        return video, None, QuestionFact.PlacedBy.PLAYER
    return None, None, QuestionFact.PlacedBy.NONE


def _message_fields() -> list[str]:
    from chat.models import ChatMessage

    names = {f.name for f in ChatMessage._meta.get_fields()}
    extra = [n for n in ("video_id", "video_position") if n.removesuffix("_id") in names]
    fields = ["id", "session_id", "role", "content", "citations", "covered", "model"]
    return [*fields, "created_at", *extra]


def questions_refold(*, creator: Creator, chat_session_ids: Iterable[int]) -> set[int]:
    """Recompute QuestionFact rows for every user question in the given chat sessions.

    Returns the (user id, day) pairs whose questions changed (before or after).
    """
    from chat.models import ChatMessage, ChatSession
    from courses.models import Lesson

    zone = zone_for(tz_of(creator))
    ids = list(chat_session_ids)
    touched: set[tuple] = set()
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        sessions = dict(
            ChatSession.objects.filter(creator=creator, pk__in=batch).values_list("pk", "user_id")
        )
        session_course = dict(
            ChatSession.objects.filter(creator=creator, pk__in=batch).values_list("pk", "course_id")
        )
        msgs = list(
            ChatMessage.objects.filter(creator=creator, session_id__in=batch)
            .exclude(role="assistant", status__in=IN_FLIGHT)  # not answered yet
            .order_by("session_id", "created_at", "id")
            .values(*_message_fields())
        )
        touched |= set(
            QuestionFact.objects.filter(creator=creator, message__session_id__in=batch)
            .values_list("user_id", "day")
            .distinct()
        )
        pending: list[tuple[dict, dict | None]] = []
        for i, m in enumerate(msgs):
            if m["role"] != "user":
                continue
            nxt = msgs[i + 1] if i + 1 < len(msgs) else None
            answer = (
                nxt
                if nxt and nxt["role"] == "assistant" and nxt["session_id"] == m["session_id"]
                else None
            )
            if answer is not None and answer["model"] == SMALL_TALK_MODEL:
                continue  # "hi", "thanks": not a question about the videos
            pending.append((m, answer))
        placed = [(m, a, *_place(m, a)) for m, a in pending]
        video_course = dict(
            Lesson.objects.filter(creator=creator, video_id__in={p[2] for p in placed if p[2]})
            .order_by("-id")
            .values_list("video_id", "module__course_id")
        )
        objs = [
            QuestionFact(
                creator=creator,
                message_id=m["id"],
                user_id=sessions[m["session_id"]],
                course_id=session_course.get(m["session_id"]) or video_course.get(video),
                video_id=video,
                position=position,
                placed_by=placed_by,
                asked_at=m["created_at"],
                day=m["created_at"].astimezone(zone).date(),
                covered=None if a is None else bool(a["covered"]),
                text=m["content"][:2000],
            )
            for m, a, video, position, placed_by in placed
        ]
        touched |= {(o.user_id, o.day) for o in objs}
        with transaction.atomic():
            QuestionFact.objects.filter(creator=creator, message__session_id__in=batch).delete()
            QuestionFact.objects.bulk_create(objs, batch_size=1000)
            _set_lexemes(creator.pk, [o.message_id for o in objs])
    return touched


def _set_lexemes(creator_id: int, message_ids: list[int]) -> None:
    if not message_ids:
        return
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE analytics_questionfact SET lexemes = "
            "array_to_string(tsvector_to_array(to_tsvector('english', text)), ' ') "
            "WHERE creator_id = %s AND message_id = ANY(%s)",
            [creator_id, message_ids],
        )


_QUESTION_MONTHS = f"""
    INSERT INTO analytics_questionmonth (creator_id, video_id, course_id, month, questions)
    SELECT %(creator)s, video_id, course_id, {month_sql("day")}, COUNT(*)
    FROM analytics_questionfact
    WHERE creator_id = %(creator)s AND day >= %(lo)s AND day < %(hi)s
      AND video_id IS NOT NULL AND position IS NOT NULL
      AND {month_sql("day")} = ANY(%(months)s::date[])
    GROUP BY 1, 2, 3, 4
"""


def _months_missing(month_table: str, where: str = "") -> str:
    """SQL for the closed months with questions (`where`: more conditions on the facts)
    after the newest month `month_table` holds (months close while nothing touches them; an
    older month is refolded when its days are): closed_months_refold's `missing_sql`."""
    return f"""
    SELECT DISTINCT {month_sql("day")} FROM analytics_questionfact
    WHERE creator_id = %(creator)s AND day < %(current)s {where}
      AND day >= COALESCE((
          SELECT (MAX(month) + interval '1 month')::date FROM {month_table}
          WHERE creator_id = %(creator)s
      ), DATE '0001-01-01')
"""


# Closed months with placed questions (a video and a second) not materialised yet.
_MONTHS_MISSING = _months_missing(
    "analytics_questionmonth", "AND video_id IS NOT NULL AND position IS NOT NULL"
)


def question_months_refold(*, creator: Creator, days: Iterable) -> list:
    """Recompute QuestionMonth for the closed months among `days` (whose questions just
    changed) and for closed months not materialised yet. Returns the months written."""
    return closed_months_refold(
        creator=creator, days=days, missing_sql=_MONTHS_MISSING,
        table="analytics_questionmonth", fill_sql=_QUESTION_MONTHS,
    )  # fmt: skip


# The question lists' groups of closed months (QuestionGroupMonth), one row per course and
# lexeme set: the aggregates questions_summary would compute from the month's facts.
_GROUP_MONTHS = f"""
    INSERT INTO analytics_questiongroupmonth (
        creator_id, course_id, month, lexemes, questions, not_covered, text,
        not_covered_text, last_not_covered_at, last_not_covered_message_id
    )
    SELECT %(creator)s, course_id, {month_sql("day")}, lexemes, COUNT(*),
           COUNT(*) FILTER (WHERE NOT covered), MAX(text), MAX(text) FILTER (WHERE NOT covered),
           MAX(asked_at) FILTER (WHERE NOT covered), MAX(message_id) FILTER (WHERE NOT covered)
    FROM analytics_questionfact
    WHERE creator_id = %(creator)s AND day >= %(lo)s AND day < %(hi)s
      AND {month_sql("day")} = ANY(%(months)s::date[])
    GROUP BY 2, 3, 4
"""

# Closed months with questions not materialised yet.
_GROUP_MONTHS_MISSING = _months_missing("analytics_questiongroupmonth")


def question_group_months_refold(*, creator: Creator, days: Iterable) -> list:
    """Recompute QuestionGroupMonth for the closed months among `days` (whose questions just
    changed) and for closed months not materialised yet. Returns the months written."""
    return closed_months_refold(
        creator=creator, days=days, missing_sql=_GROUP_MONTHS_MISSING,
        table="analytics_questiongroupmonth", fill_sql=_GROUP_MONTHS,
    )  # fmt: skip
