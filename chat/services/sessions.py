"""The user's own sessions: rename, delete."""

from __future__ import annotations

from chat.models import ChatSession
from chat.selectors import session_get
from chronos.errors import DomainError
from creators.models import Creator, User


def session_rename(*, user: User, creator: Creator, session_id: int, title: str) -> ChatSession:
    """Rename the user's session (title trimmed, 1..200 chars); NotFound if not theirs;
    DomainError for an empty or too long title."""
    session = session_get(user=user, creator=creator, session_id=session_id)
    clean = " ".join((title or "").split()) if isinstance(title, str) else ""
    if not clean:
        raise DomainError.for_field("title", "A title cannot be empty.")
    if len(clean) > 200:
        raise DomainError.for_field("title", "Titles are limited to 200 characters.")
    session.title = clean
    session.save(update_fields=["title", "updated_at"])
    return session


def session_delete(*, user: User, creator: Creator, session_id: int) -> None:
    """Delete the user's session and its messages; NotFound if not theirs."""
    session = session_get(user=user, creator=creator, session_id=session_id)
    session.delete()
