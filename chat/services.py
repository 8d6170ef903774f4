"""Chat writes: ask (blocking or streamed), rename, delete, export.

Signatures are the contract the chat UI and the REST API build on. Flow of one question:
validate -> session (created on the first message, titled from it) -> the user's message is
saved -> answer cache (same normalised question + scope + library version, < 10 min) ->
retrieval (chat.retrieval) -> below the relevance floor: "The videos don't cover this.",
no LLM call -> else the answerer streams -> citations = passages the answer cites ->
assistant message with usage, ledger row for paid calls, cache entry.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing.models import UsageLedgerEntry
from billing.prices import chat_cost
from billing.services import usage_record
from chat import answerers as answerers_mod
from chat.answerers import NOT_COVERED, AnswererError, AnswerUsage, heuristic_title
from chat.citations import citations_for_answer, enrich
from chat.faq import faq_answer
from chat.formatting import format_timestamp, markdown_to_safe_html
from chat.models import AnswerCacheEntry, ChatMessage, ChatSession
from chat.retrieval import (
    Scope,
    cache_key,
    library_version,
    retrieve,
    scope_resolve,
)
from chat.selectors import messages_for_session, session_get
from chronos.errors import DomainError, NotFound
from creators.models import Creator, User
from creators.selectors import creators_learnable_by

logger = logging.getLogger(__name__)

# Same normalised question + same scope within this many seconds -> served from the cache
# (issue 3: "within 10 minutes").
CACHE_TTL_SECONDS = 600
# Longest question accepted, in characters.
MAX_MESSAGE_CHARS = 4000
EMPTY_LIBRARY = "This creator has no processed videos yet."
EMPTY_SCOPE = "None of the selected videos has been processed yet."


class EmptyLibraryError(DomainError):
    """The scope holds no processed video; the message says so plainly."""

    code = "empty_library"


@dataclass
class ChatResult:
    """The outcome of one question.

    answer: Markdown text; answer_html: the same rendered and sanitised (safe to insert).
    citations: [{video_id, video_title, start, end (seconds), quote, score, n, start_label
    ("5:42"), end_label, stream_url}]; covered: False when the videos do not cover it.
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


@dataclass
class Answer:
    """A finished answer without a session (what `answer_stream` ends with)."""

    answer: str
    citations: list[dict]
    covered: bool
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    latency_ms: int = 0
    cached: bool = False
    provider: str = ""
    paid: bool = False

    def usage_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": str(self.cost_usd),
            "latency_ms": self.latency_ms,
            "cached": self.cached,
        }


# --- validation ----------------------------------------------------------------------------


def _clean_message(message: str) -> str:
    text = (message or "").strip() if isinstance(message, str) else ""
    if not text:
        raise DomainError.for_field("message", "Type a question first.")
    if len(text) > MAX_MESSAGE_CHARS:
        raise DomainError.for_field(
            "message", f"Questions are limited to {MAX_MESSAGE_CHARS} characters."
        )
    return text


def _check_learner(user: User, creator: Creator) -> None:
    if not creators_learnable_by(user=user).filter(pk=creator.pk).exists():
        raise NotFound("No such creator.")


def chat_scope(
    *, creator: Creator, course_id: int | None = None, video_ids: list[int] | None = None
) -> Scope:
    """The Scope to search; raises EmptyLibraryError when it holds no processed video,
    DomainError for a foreign course/video."""
    scope = scope_resolve(creator=creator, course_id=course_id, video_ids=video_ids)
    if not scope.video_ids:
        if course_id or video_ids:
            has_any = scope_resolve(creator=creator).video_ids
            raise EmptyLibraryError(EMPTY_SCOPE if has_any else EMPTY_LIBRARY)
        raise EmptyLibraryError(EMPTY_LIBRARY)
    return scope


# --- answering (no session) ------------------------------------------------------------------


def answer_stream(
    *,
    creator: Creator,
    scope: Scope,
    question: str,
    history: list[tuple[str, str]] | None = None,
    answerer=None,
    subject: str = "",
) -> Iterator[dict]:
    """Answer `question` inside `scope` without touching sessions.

    Yields {"event": "delta", "text"}* then {"event": "citations", "citations"} then
    {"event": "answer", "answer": Answer}. Raises AnswererError if the provider fails
    (after deltas may already have been yielded). Writes the ledger row for a paid call
    (subject e.g. "chat_message:12"; filled in by the caller via `ledger_subject`) and the
    cache entry.
    """
    started = time.monotonic()
    answerer = answerer or answerers_mod.get_answerer()
    faq = faq_answer(creator=creator, question=question)
    if faq is not None:  # the creator answered a similar question: their words, cited
        yield {"event": "delta", "text": faq["answer"]}
        yield {"event": "citations", "citations": faq["citations"]}
        answer = Answer(faq["answer"], faq["citations"], True, "creator-faq", provider="faq")
        yield {"event": "answer", "answer": answer}
        return
    version = library_version(creator=creator)
    key = cache_key(
        scope=scope,
        version=version,
        question=question,
        answerer=f"{answerer.name}:{answerer.model}",
    )
    fresh_after = timezone.now() - timedelta(seconds=CACHE_TTL_SECONDS)
    hit = AnswerCacheEntry.objects.filter(
        creator=creator, key=key, created_at__gte=fresh_after
    ).first()
    if hit is not None:
        yield {"event": "delta", "text": hit.answer}
        yield {"event": "citations", "citations": [enrich(c) for c in hit.citations]}
        yield {
            "event": "answer",
            "answer": Answer(
                answer=hit.answer,
                citations=hit.citations,
                covered=hit.covered,
                model=hit.model,
                cached=True,
                latency_ms=_ms(started),
                provider=answerer.provider,
            ),
        }
        return

    from videos.embedders import get_embedder

    try:
        embedder = get_embedder()
    except Exception:  # a misconfigured embedder must not stop answers: full-text only
        logger.exception("embedder unavailable; answering with full-text search only")
        embedder = None
    result = retrieve(creator=creator, scope=scope, question=question, embedder=embedder)
    usage = AnswerUsage(provider=answerer.provider, model=answerer.model, paid=False)
    if not result.covered:
        text, citations, covered = NOT_COVERED, [], False
        model = answerer.model
        yield {"event": "delta", "text": text}
    else:
        parts: list[str] = []
        for delta in answerer.stream(
            question=question, passages=result.passages, history=history or []
        ):
            parts.append(delta)
            yield {"event": "delta", "text": delta}
        text = "".join(parts).strip()
        usage = answerer.usage
        model = usage.model
        citations = citations_for_answer(text, result.passages)
        covered = bool(citations)
    cost = chat_cost(model, usage.input_tokens, usage.output_tokens) if usage.paid else Decimal(0)
    yield {"event": "citations", "citations": [enrich(c) for c in citations]}
    answer = Answer(
        answer=text,
        citations=citations,
        covered=covered,
        model=model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cost_usd=cost,
        latency_ms=_ms(started),
        provider=usage.provider,
        paid=usage.paid,
    )
    _cache_store(creator, key, answer)
    yield {"event": "answer", "answer": answer}


def _cache_store(creator: Creator, key: str, answer: Answer) -> None:
    now = timezone.now()
    AnswerCacheEntry.objects.filter(
        creator=creator, created_at__lt=now - timedelta(seconds=CACHE_TTL_SECONDS)
    ).delete()
    AnswerCacheEntry.objects.update_or_create(
        key=key,
        defaults={
            "creator": creator,
            "answer": answer.answer,
            "citations": answer.citations,
            "covered": answer.covered,
            "model": answer.model,
            "created_at": now,
        },
    )


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def ledger_record(*, creator: Creator, answer_usage: AnswerUsage, cost: Decimal, subject: str,
                  operation: str = UsageLedgerEntry.Operation.CHAT) -> None:  # fmt: skip
    """One ledger row for a paid LLM call: units = input + output tokens (both also in
    metadata), usd = billing.prices.chat_cost."""
    if not answer_usage.paid:
        return
    usage_record(
        creator=creator,
        operation=operation,
        provider=answer_usage.provider,
        model=answer_usage.model,
        units=answer_usage.input_tokens + answer_usage.output_tokens,
        unit="tokens",
        usd=cost,
        subject=subject,
        metadata={
            "input_tokens": answer_usage.input_tokens,
            "output_tokens": answer_usage.output_tokens,
        },
    )


def question_answer(
    *,
    creator: Creator,
    question: str,
    course_id: int | None = None,
    video_ids: list[int] | None = None,
) -> Answer:
    """Answer one question with no session (the `ask` command). Raises DomainError /
    EmptyLibraryError for bad input, AnswererError on a provider outage."""
    question = _clean_message(question)
    scope = chat_scope(creator=creator, course_id=course_id, video_ids=video_ids)
    final = None
    for event in answer_stream(creator=creator, scope=scope, question=question):
        if event["event"] == "answer":
            final = event["answer"]
    assert final is not None
    if final.paid and not final.cached:
        ledger_record(
            creator=creator,
            answer_usage=AnswerUsage(
                final.provider, final.model, final.input_tokens, final.output_tokens, True
            ),
            cost=final.cost_usd,
            subject="cli",
        )
    return final


# --- sessions --------------------------------------------------------------------------------


def chat_ask(
    *,
    user: User,
    creator: Creator,
    message: str,
    session_id: int | None = None,
    course_id: int | None = None,
    video_ids: list[int] | None = None,
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
) -> Iterator[dict[str, Any]]:
    """Answer `message`, yielding events in order:

    {"event": "session", "session_id", "title"}; {"event": "delta", "text"}*;
    {"event": "citations", "citations": [...]};
    {"event": "done", "message_id", "answer", "answer_html", "covered", "usage", "title"};
    or {"event": "error", "message"} (provider outage: the question is kept).

    Validation happens when this is called, before any event: raises DomainError (empty
    or too long message, foreign course/videos), EmptyLibraryError (no processed video in
    scope: "This creator has no processed videos yet."), NotFound (creator not learnable by
    the user, or a session that is not theirs). An existing session keeps its scope unless
    course_id/video_ids are given.
    """
    text = _clean_message(message)
    _check_learner(user, creator)
    session = None
    if session_id not in (None, ""):
        session = session_get(user=user, creator=creator, session_id=session_id)
        if course_id in (None, "") and not video_ids:
            course_id = session.course_id
            video_ids = session.video_ids or None
    scope = chat_scope(creator=creator, course_id=course_id, video_ids=video_ids)
    return _ask_events(user, creator, session, scope, text)


def _ask_events(
    user: User, creator: Creator, session: ChatSession | None, scope: Scope, text: str
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
        ChatMessage.objects.create(
            creator=creator, session=session, role=ChatMessage.Role.USER, content=text
        )
        session.save(update_fields=["updated_at"])
    yield {"event": "session", "session_id": session.pk, "title": session.title}

    final: Answer | None = None
    try:
        for event in answer_stream(
            creator=creator, scope=scope, question=text, history=history, answerer=answerer
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
        )
    title = session.title
    if new_session and getattr(answerer, "paid", False):
        title = _llm_title(answerer, creator, session, text)
    session.save(update_fields=["updated_at"])
    yield {
        "event": "done",
        "message_id": msg.pk,
        "answer": final.answer,
        "answer_html": markdown_to_safe_html(final.answer),
        "covered": final.covered,
        "usage": final.usage_dict(),
        "title": title,
    }


def _llm_title(answerer, creator: Creator, session: ChatSession, text: str) -> str:
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
        )
    if title and title != session.title:
        session.title = title[:200]
        session.save(update_fields=["title", "updated_at"])
    return session.title


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


def session_export(
    *, user: User, creator: Creator, session_id: int, fmt: str = "markdown"
) -> tuple[str, str]:
    """(content, content_type) of the user's session.

    fmt: "markdown"/"md" -> text/markdown; "json" -> application/json with
    {"session": {...}, "messages": [{role, content, citations, covered, model, tokens,
    cost_usd, latency_ms, cached, created_at}]}. DomainError for another format;
    NotFound if the session is not theirs."""
    fmt = (fmt or "markdown").lower()
    if fmt not in ("markdown", "md", "json"):
        raise DomainError.for_field("format", "Export format must be 'md' or 'json'.")
    session = session_get(user=user, creator=creator, session_id=session_id)
    messages = list(messages_for_session(session=session))
    if fmt == "json":
        data = {
            "session": {
                "id": session.pk,
                "title": session.title,
                "creator": creator.handle,
                "course_id": session.course_id,
                "video_ids": session.video_ids,
                "created_at": session.created_at.isoformat(),
                "updated_at": session.updated_at.isoformat(),
            },
            "messages": [
                {
                    "id": m.pk,
                    "role": m.role,
                    "content": m.content,
                    "citations": m.citations,
                    "covered": m.covered,
                    "model": m.model,
                    "input_tokens": m.input_tokens,
                    "output_tokens": m.output_tokens,
                    "cost_usd": str(m.cost_usd),
                    "latency_ms": m.latency_ms,
                    "cached": m.cached,
                    "created_at": m.created_at.isoformat(),
                }
                for m in messages
            ],
        }
        return json.dumps(data, indent=2, ensure_ascii=False), "application/json"
    lines = [
        f"# {session.title or 'Chat'}",
        "",
        f"{creator.company_name} · exported {timezone.now():%Y-%m-%d %H:%M} UTC",
        "",
    ]
    for m in messages:
        who = "You" if m.role == ChatMessage.Role.USER else "Tutor"
        lines += [f"## {who} ({m.created_at:%Y-%m-%d %H:%M})", "", m.content, ""]
        if m.citations:
            lines.append("Sources:")
            for c in m.citations:
                marker = f"[{c['n']}] " if c.get("n") else ""
                quote = " ".join(str(c.get("quote", "")).split())
                lines.append(
                    f"- {marker}{c.get('video_title', '')} at {format_timestamp(c.get('start'))}"
                    f" — \u201c{quote}\u201d"
                )
            lines.append("")
    return "\n".join(lines), "text/markdown; charset=utf-8"
