"""Reads of chat sessions and messages, always scoped to the acting user and creator.

Sessions are private to their user: another user's session (even of the same creator)
raises NotFound (an Http404), never discloses its existence.
"""

from __future__ import annotations

import json

from django.db import connection
from django.db.models import Q, QuerySet

from chat.models import ChatMessage, ChatSession
from chronos.errors import NotFound
from creators.models import Creator, User


def sessions_for_user(*, user: User, creator: Creator, query: str = "") -> QuerySet[ChatSession]:
    """The user's sessions with `creator`, newest activity first.

    `query` (optional, case-insensitive) keeps sessions whose title or any message text
    contains it.
    """
    qs = ChatSession.objects.for_user(user=user, creator=creator)
    query = (query or "").strip()
    if query:
        matching = ChatMessage.objects.filter(
            creator=creator, session__user=user, content__icontains=query
        ).values("session_id")
        qs = qs.filter(Q(title__icontains=query) | Q(pk__in=matching))
    return qs.order_by("-updated_at", "-id")


def session_get(*, user: User, creator: Creator, session_id: int) -> ChatSession:
    """The session `session_id` if it is the user's own with `creator`; NotFound otherwise."""
    try:
        pk = int(session_id)
    except (TypeError, ValueError):
        raise NotFound("No such chat session.") from None
    session = (
        ChatSession.objects.for_user(user=user, creator=creator)
        .select_related("course")
        .filter(pk=pk)
        .first()
    )
    if session is None:
        raise NotFound("No such chat session.")
    return session


def messages_for_session(
    *, session: ChatSession, include_pending: bool = False
) -> QuerySet[ChatMessage]:
    """The session's messages in order (oldest first). The caller got `session` from
    session_get, which already checked ownership. Answers not yet written (status pending
    or answering) are left out unless include_pending (the chat page shows them as a
    placeholder that reconnects to their stream)."""
    qs = ChatMessage.objects.filter(session=session, creator_id=session.creator_id)
    if not include_pending:
        qs = qs.filter(status=ChatMessage.Status.DONE)
    return qs.order_by("created_at", "id")


def answer_turn_get(
    *, user: User, creator: Creator, message_id: int, session_id: int | None = None
) -> ChatMessage:
    """The assistant turn `message_id` (any status) of one of the user's own sessions with
    `creator` (and of session `session_id` when given), with its session; NotFound
    otherwise."""
    try:
        pk = int(message_id)
    except (TypeError, ValueError):
        raise NotFound("No such answer.") from None
    qs = ChatMessage.objects.select_related("session").filter(
        pk=pk,
        creator=creator,
        role=ChatMessage.Role.ASSISTANT,
        session__user=user,
        session__creator=creator,
    )
    if session_id is not None:
        qs = qs.filter(session_id=session_id)
    turn = qs.first()
    if turn is None:
        raise NotFound("No such answer.")
    return turn


def answer_question_get(*, answer: ChatMessage) -> ChatMessage | None:
    """The question an assistant turn answers: the user's last message before it."""
    return (
        ChatMessage.objects.filter(
            session_id=answer.session_id,
            creator_id=answer.creator_id,
            role=ChatMessage.Role.USER,
            id__lt=answer.pk,
        )
        .order_by("id")
        .last()
    )


def nearest_offered(*, creator: Creator, question_ids: list[int]) -> dict[int, list[dict]]:
    """{question id: the closest moments the tutor's reply to it offered (ChatMessage.
    nearest: citation dicts, seconds)} for `creator`'s student questions `question_ids`
    whose reply was not covered and offered some; one query. The reply is the first
    assistant turn after the question in its session."""
    ids = [int(i) for i in question_ids if i is not None]
    if not ids:
        return {}
    with connection.cursor() as cur:
        cur.execute(
            f"""
            SELECT q.id, r.nearest
            FROM {ChatMessage._meta.db_table} q
            CROSS JOIN LATERAL (
                SELECT a.nearest, a.covered FROM {ChatMessage._meta.db_table} a
                WHERE a.session_id = q.session_id AND a.creator_id = q.creator_id
                  AND a.role = %s AND a.id > q.id
                ORDER BY a.id LIMIT 1
            ) r
            WHERE q.creator_id = %s AND q.role = %s AND q.id = ANY(%s)
              AND NOT r.covered AND r.nearest <> '[]'::jsonb
            """,
            [ChatMessage.Role.ASSISTANT, creator.pk, ChatMessage.Role.USER, ids],
        )
        rows = cur.fetchall()
    return {pk: json.loads(n) if isinstance(n, str) else n for pk, n in rows}
