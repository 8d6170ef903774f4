"""Chat writes: ask (blocking or streamed), rename, delete, export.

Signatures are the contract the chat UI and the REST API build on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chat.models import ChatSession
from creators.models import Creator, User

# Same normalised question + same scope within this many seconds -> served from the cache.
CACHE_TTL_SECONDS = 600


@dataclass
class ChatResult:
    """The outcome of one question.

    answer: Markdown text; answer_html: the same rendered and sanitised (safe to insert).
    citations: [{video_id, video_title, start, end (seconds), quote, score, start_label
    ("5:42"), stream_url}]; covered: False when the videos do not cover the question.
    usage: {model, input_tokens, output_tokens, cost_usd (str, USD), latency_ms, cached}.
    """

    session_id: int
    message_id: int
    title: str
    answer: str
    answer_html: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    covered: bool = True
    usage: dict[str, Any] = field(default_factory=dict)


def chat_ask(
    *,
    user: User,
    creator: Creator,
    message: str,
    session_id: int | None = None,
    course_id: int | None = None,
    video_ids: list[int] | None = None,
) -> ChatResult:
    """Answer `message` from `creator`'s library for `user`; see chat_ask_stream."""
    raise NotImplementedError


def chat_ask_stream(
    *,
    user: User,
    creator: Creator,
    message: str,
    session_id: int | None = None,
    course_id: int | None = None,
    video_ids: list[int] | None = None,
) -> Iterator[dict[str, Any]]:
    """Answer `message`, yielding events in order:

    {"event": "session", "session_id", "title"}; {"event": "delta", "text"}*;
    {"event": "citations", "citations": [...]};
    {"event": "done", "message_id", "answer_html", "covered", "usage"};
    or {"event": "error", "message"} (provider outage: the question is kept).
    Raises ValidationError for bad input (empty message, foreign course/videos),
    Http404 for a session that is not the user's.
    """
    raise NotImplementedError
    yield {}


def session_rename(*, user: User, creator: Creator, session_id: int, title: str) -> ChatSession:
    """Rename the user's session (title trimmed, 1..200 chars); Http404 if not theirs."""
    raise NotImplementedError


def session_delete(*, user: User, creator: Creator, session_id: int) -> None:
    """Delete the user's session and its messages; Http404 if not theirs."""
    raise NotImplementedError


def session_export(
    *, user: User, creator: Creator, session_id: int, fmt: str = "markdown"
) -> tuple[str, str]:
    """(content, content_type) of the session as "markdown" or "json"."""
    raise NotImplementedError


_ = Decimal
