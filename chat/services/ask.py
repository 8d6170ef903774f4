"""Asking inside a session (blocking or streamed): validate -> session (created on the first
message, titled from it) -> the user's message is saved -> answer cache (same normalised
question + scope + library version, < 10 min) -> retrieval (chat.retrieval) -> below the
relevance floor: "The videos don't cover this.", no LLM call -> else the answerer streams
-> citations = passages the answer cites -> assistant message with usage, ledger row for
paid calls, cache entry."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from billing.models import QuestionUsage, UsageLedgerEntry
from billing.prices import chat_cost
from billing.services.allowances import QuestionAllowance, question_allowance_consume
from chat import answerers as answerers_mod
from chat.answerers import AnswererError, AnswerUsage, heuristic_title
from chat.formatting import markdown_to_safe_html
from chat.models import ChatMessage, ChatSession
from chat.retrieval import Scope
from chat.selectors import messages_for_session, session_get
from chat.services.answer import (
    Answer,
    answer_stream,
    chat_scope,
    clean_position,
    learner_check,
    ledger_record,
    question_clean,
)
from creators.models import Creator, User

logger = logging.getLogger(__name__)


@dataclass
class ChatResult:
    """The outcome of one question.

    answer: Markdown text; answer_html: the same rendered and sanitised (safe to insert).
    citations: [{video_id, video_title, start, end (seconds), quote, score, n, start_label
    ("5:42"), end_label, stream_url}]; covered: False when the videos do not cover it.
    usage: {model, input_tokens, output_tokens, cost_usd (str, USD), latency_ms, cached}.
    allowance: what the asker may still ask (allowance_payload): {remaining, allowed,
    period, resets_at, few_left, text}.
    """

    session_id: int
    message_id: int
    title: str
    answer: str
    answer_html: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    covered: bool = True
    usage: dict[str, Any] = field(default_factory=dict)
    allowance: dict[str, Any] = field(default_factory=dict)


def allowance_payload(allowance: QuestionAllowance) -> dict[str, Any]:
    """The asker's question allowance after this question, for the chat UI and the API:
    {"remaining": int | None (None: unlimited), "allowed": int | None, "period": "day" |
    "total" | "month", "resets_at": ISO 8601 | None (never), "few_left": bool (show the
    count), "text": "2 questions left today" ("" when unlimited)}."""
    return {
        "remaining": allowance.remaining,
        "allowed": allowance.allowed,
        "period": allowance.period,
        "resets_at": allowance.resets_at.isoformat() if allowance.resets_at else None,
        "few_left": allowance.few_left,
        "text": allowance.text,
    }


def chat_ask(
    *,
    user: User,
    creator: Creator,
    message: str,
    session_id: int | None = None,
    course_id: int | None = None,
    video_ids: list[int] | None = None,
    video_id: int | None = None,
    position: float | None = None,
    source: str = QuestionUsage.Source.BROWSER,
) -> ChatResult:
    """Answer `message` and return the whole result (see chat_ask_stream for the rules).

    Raises DomainError / EmptyLibraryError (bad input, nothing to search), NotFound
    (creator or session not the user's), AnswererError (provider outage; the question is
    saved in the session)."""
    events = chat_ask_stream(
        user=user,
        creator=creator,
        message=message,
        session_id=session_id,
        course_id=course_id,
        video_ids=video_ids,
        video_id=video_id,
        position=position,
        source=source,
    )
    session_event: dict = {}
    citations: list[dict] = []
    parts: list[str] = []
    for event in events:
        kind = event["event"]
        if kind == "session":
            session_event = event
        elif kind == "delta":
            parts.append(event["text"])
        elif kind == "citations":
            citations = event["citations"]
        elif kind == "error":
            raise AnswererError(event["message"])
        elif kind == "done":
            return ChatResult(
                session_id=session_event["session_id"],
                message_id=event["message_id"],
                title=event.get("title") or session_event.get("title", ""),
                answer=event["answer"],
                answer_html=event["answer_html"],
                citations=citations,
                covered=event["covered"],
                usage=event["usage"],
                allowance=event.get("allowance") or {},
            )
    raise RuntimeError("chat_ask_stream ended without a result")


def chat_ask_stream(
    *,
    user: User,
    creator: Creator,
    message: str,
    session_id: int | None = None,
    course_id: int | None = None,
    video_ids: list[int] | None = None,
    video_id: int | None = None,
    position: float | None = None,
    source: str = QuestionUsage.Source.BROWSER,
) -> Iterator[dict[str, Any]]:
    """Answer `message`, yielding events in order:

    {"event": "session", "session_id", "title"}; {"event": "delta", "text"}*;
    {"event": "citations", "citations": [...]};
    {"event": "done", "message_id", "answer", "answer_html", "covered", "usage", "title",
    "allowance" (allowance_payload: what the asker may still ask)};
    or {"event": "error", "message"} (provider outage: the question is kept).

    Validation happens when this is called, before any event: raises DomainError (empty
    or too long message, foreign course/videos), EmptyLibraryError (no processed video in
    scope: "This creator has no processed videos yet."), NotFound (creator not learnable by
    the user, or a session that is not theirs). An existing session keeps its scope unless
    course_id/video_ids are given. video_id / position (seconds >= 0): asked from a lesson,
    the player's video and second; retrieval leans toward that moment and the user's
    message records them (ChatMessage.video / video_position). DomainError (fields
    video_id / position) for a video that is not the creator's or a bad position.
    The question counts against the plan's allowances before any event (`source`: where it
    came from, billing.models.QuestionUsage.Source): RateLimited (429, retry_after) past the
    burst limit, QuestionLimitReached (429, resets_at) when none are left.
    """
    text = question_clean(message)
    learner_check(user, creator)
    session = None
    if session_id not in (None, ""):
        session = session_get(user=user, creator=creator, session_id=session_id)
        if course_id in (None, "") and not video_ids:
            course_id = session.course_id
            video_ids = session.video_ids or None
    scope = chat_scope(creator=creator, course_id=course_id, video_ids=video_ids, user=user)
    video_id, position = clean_position(creator, video_id, position)
    # The plan's question allowances, before answering (cached answers count too): raises
    # RateLimited / QuestionLimitReached (429) before any event.
    allowance = question_allowance_consume(creator=creator, user=user, source=source)
    return _ask_events(user, creator, session, scope, text, video_id, position, allowance)


def _ask_events(
    user: User,
    creator: Creator,
    session: ChatSession | None,
    scope: Scope,
    text: str,
    video_id: int | None = None,
    position: float | None = None,
    allowance: QuestionAllowance | None = None,
) -> Iterator[dict[str, Any]]:
    answerer = answerers_mod.get_answerer()
    new_session = session is None
    history: list[tuple[str, str]] = []
    with transaction.atomic():
        if session is None:
            session = ChatSession.objects.create(
                creator=creator,
                user=user,
                title=heuristic_title(text),
                course_id=scope.course_id,
                video_ids=list(scope.requested_video_ids or []),
            )
        else:
            history = _history(session)
        cited = _last_cited_videos(session) if history else []
        ChatMessage.objects.create(
            creator=creator,
            session=session,
            role=ChatMessage.Role.USER,
            content=text,
            video_id=video_id,
            video_position=position,
        )
        session.save(update_fields=["updated_at"])
    yield {"event": "session", "session_id": session.pk, "title": session.title}

    final: Answer | None = None
    try:
        for event in answer_stream(
            creator=creator,
            scope=scope,
            question=text,
            history=history,
            answerer=answerer,
            cited_video_ids=cited,
            video_id=video_id,
            position=position,
        ):
            if event["event"] == "answer":
                final = event["answer"]
            else:
                yield event
    except AnswererError as exc:
        yield {"event": "error", "message": str(exc)}
        return
    except Exception:
        logger.exception("chat answer failed (session %s)", session.pk)
        yield {"event": "error", "message": answerers_mod.PROVIDER_ERROR}
        return
    assert final is not None
    msg = ChatMessage.objects.create(
        creator=creator,
        session=session,
        role=ChatMessage.Role.ASSISTANT,
        content=final.answer,
        citations=final.citations,
        covered=final.covered,
        model=final.model,
        input_tokens=final.input_tokens,
        output_tokens=final.output_tokens,
        cost_usd=final.cost_usd,
        latency_ms=final.latency_ms,
        cached=final.cached,
    )
    if final.paid and not final.cached:
        ledger_record(
            creator=creator,
            answer_usage=AnswerUsage(
                final.provider, final.model, final.input_tokens, final.output_tokens, True
            ),
            cost=final.cost_usd,
            subject=f"chat_message:{msg.pk}",
            user=user,
            course_id=scope.course_id,
            video_id=video_id,
        )
    title = session.title
    if new_session and getattr(answerer, "paid", False):
        title = _llm_title(answerer, creator, session, text, user=user)
    session.save(update_fields=["updated_at"])
    yield {
        "event": "done",
        "message_id": msg.pk,
        "answer": final.answer,
        "answer_html": markdown_to_safe_html(final.answer),
        "covered": final.covered,
        "usage": final.usage_dict(),
        "title": title,
        "allowance": allowance_payload(allowance) if allowance is not None else {},
    }


def _llm_title(answerer, creator: Creator, session: ChatSession, text: str, *, user: User) -> str:
    try:
        title, usage = answerer.title(text)
    except Exception:
        logger.exception("session title generation failed")
        return session.title
    if usage is not None:
        ledger_record(
            creator=creator,
            answer_usage=usage,
            cost=chat_cost(usage.model, usage.input_tokens, usage.output_tokens),
            subject=f"chat_session:{session.pk}",
            operation=UsageLedgerEntry.Operation.TITLE,
            user=user,
            course_id=session.course_id,
        )
    if title and title != session.title:
        session.title = title[:200]
        session.save(update_fields=["title", "updated_at"])
    return session.title


def _last_cited_videos(session: ChatSession) -> list[int]:
    """The video ids the session's last assistant answer cited, in citation order."""
    last = (
        ChatMessage.objects.filter(session=session, role=ChatMessage.Role.ASSISTANT)
        .order_by("-created_at", "-id")
        .only("citations")
        .first()
    )
    ids = [c.get("video_id") for c in (last.citations if last else []) if c.get("video_id")]
    return list(dict.fromkeys(ids))


def _history(session: ChatSession) -> list[tuple[str, str]]:
    """(question, answer) pairs of the session, oldest first (the prompt takes the last 5)."""
    pairs: list[tuple[str, str]] = []
    pending: str | None = None
    for m in messages_for_session(session=session).only("role", "content"):
        if m.role == ChatMessage.Role.USER:
            pending = m.content
        elif pending is not None:
            pairs.append((pending, m.content))
            pending = None
    return pairs
