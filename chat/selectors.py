"""Reads of chat sessions and messages, always scoped to the acting user and creator.

Sessions are private to their user: another user's session (even of the same creator)
raises NotFound (an Http404), never discloses its existence.
"""

from __future__ import annotations

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


def messages_for_session(*, session: ChatSession) -> QuerySet[ChatMessage]:
    """The session's messages in order (oldest first). The caller got `session` from
    session_get, which already checked ownership."""
    return ChatMessage.objects.filter(session=session, creator_id=session.creator_id).order_by(
        "created_at", "id"
    )
