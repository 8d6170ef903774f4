"""The user's own sessions: rename, delete."""

from __future__ import annotations

from chat.models import ChatSession
from chat.selectors import session_get
from chronos.errors import DomainError
from creators.models import Creator, User

# Longest session title, characters (ChatSession.title's max_length).
TITLE_MAX_LENGTH = 200


def session_title_clean(title: object) -> str:
    """The title a session may take: whitespace runs collapsed, 1..TITLE_MAX_LENGTH chars.
    Raises DomainError (field "title") for an empty or too long one. The one rule the chat
    page's rename form and PATCH /api/v1/chat/sessions/<id> share."""
    clean = " ".join(title.split()) if isinstance(title, str) else ""
    if not clean:
        raise DomainError.for_field("title", "Give the conversation a name.")
    if len(clean) > TITLE_MAX_LENGTH:
        raise DomainError.for_field("title", f"Keep the name under {TITLE_MAX_LENGTH} characters.")
    return clean


def session_rename(*, user: User, creator: Creator, session_id: int, title: object) -> ChatSession:
    """Rename the user's session to session_title_clean(title); NotFound if not theirs;
    DomainError (field "title") for an empty or too long title."""
    session = session_get(user=user, creator=creator, session_id=session_id)
    clean = session_title_clean(title)
    session.title = clean
    session.save(update_fields=["title", "updated_at"])
    return session


def session_delete(*, user: User, creator: Creator, session_id: int) -> None:
    """Delete the user's session and its messages; NotFound if not theirs."""
    session = session_get(user=user, creator=creator, session_id=session_id)
    session.delete()
