"""Streaming the pending answer: the second half of a question (chat.services.ask saves
the question and its pending answer). Reconnect-safe: each turn is claimed under a row lock
(pending -> answering -> done), so a stream that reconnects gets the finished answer, waits
for the stream already answering, or takes over a turn whose answerer died."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from billing.models import UsageLedgerEntry
from billing.prices import chat_cost
from chat import answerers as answerers_mod
from chat.answerers import AnswererError
from chat.citations import enrich_all
from chat.formatting import markdown_to_safe_html
from chat.models import ChatMessage, ChatSession
from chat.retrieval import Scope
from chat.selectors import answer_question_get, answer_turn_get, messages_for_session
from chat.services.answer import (
    Answer,
    answer_cost_record,
    answer_stream,
    chat_scope,
    ledger_record,
)
from chat.smalltalk import SMALL_TALK_MODEL
from chronos.db import prepared_cursor
from chronos.errors import DomainError
from creators.models import Creator, User

logger = logging.getLogger(__name__)

# An "answering" turn older than this (seconds since the question) is taken over by the
# next stream that asks for it: the process that was answering it has died.
STALE_ANSWER_SECONDS = 300
# How long a second stream of the same turn waits for the first one to finish (seconds).
ANSWER_WAIT_SECONDS = 180
# Gone: the turn was deleted (with its session) or failed before this stream saw it.
ANSWER_GONE = "This answer is no longer available. Please ask again."


def chat_answer_stream(
    *, user: User, creator: Creator, message_id: int, session_id: int | None = None
) -> Iterator[dict[str, Any]]:
    """Answer the pending assistant turn `message_id` (saved by chat_question_save),
    yielding {"event": "delta", "text"}*, {"event": "citations", "citations": [...]},
    then {"event": "done", "message_id", "answer", "answer_html", "covered", "nearest"
    (chat.services.answer.nearest_moments, enriched like citations), "usage", "title"} or
    {"event": "error", "message"} (provider outage: the question is kept, the pending turn
    is deleted).

    Reconnect-safe: a turn already answered yields its "done" at once; a turn another
    stream is answering is waited for (ANSWER_WAIT_SECONDS), or taken over once stale
    (STALE_ANSWER_SECONDS); a stream closed mid-answer puts the turn back to pending.
    The first answer of a session titles it with a paid answerer. Raises NotFound
    (eagerly, before any event) for a turn not the user's own (or not in session_id)."""
    answer = answer_turn_get(
        user=user, creator=creator, message_id=message_id, session_id=session_id
    )
    return answer_events(user=user, creator=creator, answer=answer)


def _claim(answer: ChatMessage) -> ChatMessage | bool | None:
    """Take the turn: True once this stream owns it (it was pending, or answering but
    stale), else the done row (nothing to answer), False while another stream answers it,
    None when it is gone. The take is one conditional UPDATE (atomic on its own: two
    streams cannot both win it); only a turn not taken is read."""
    stale_before = timezone.now() - timedelta(seconds=STALE_ANSWER_SECONDS)
    taken = (
        ChatMessage.objects.filter(pk=answer.pk)
        .exclude(status=ChatMessage.Status.DONE)
        .filter(Q(status=ChatMessage.Status.PENDING) | Q(created_at__lt=stale_before))
        .update(status=ChatMessage.Status.ANSWERING)
    )
    if taken:
        answer.status = ChatMessage.Status.ANSWERING
        return True
    row = ChatMessage.objects.filter(pk=answer.pk).first()
    if row is None or row.status == ChatMessage.Status.DONE:
        return row
    return False


def _done_event(msg: ChatMessage, title: str) -> dict[str, Any]:
    return {
        "event": "done",
        "message_id": msg.pk,
        "answer": msg.content,
        "answer_html": markdown_to_safe_html(msg.content),
        "covered": msg.covered,
        "nearest": enrich_all(msg.nearest or []),
        "usage": {
            "model": msg.model,
            "input_tokens": msg.input_tokens,
            "output_tokens": msg.output_tokens,
            "cost_usd": str(msg.cost_usd),
            "latency_ms": msg.latency_ms,
            "cached": msg.cached,
        },
        "title": title,
    }


def answer_events(
    *,
    user: User,
    creator: Creator,
    answer: ChatMessage,
    scope: Scope | None = None,
    question: ChatMessage | None = None,
    new_session: bool | None = None,
    claimed: bool = False,
) -> Iterator[dict[str, Any]]:
    """The events of chat_answer_stream for a turn already fetched (chat_ask_stream's).
    scope: the session's scope when the caller resolved it in this request (for this user,
    from the session's course and videos), else resolved here; question / new_session:
    the user's turn this answers and whether it opened the session, when the caller just
    saved them (else read here; a new session has no history to read); claimed: the caller
    saved the turn already "answering" in this request (chat_question_save(answering=True)),
    so it is not claimed again."""
    session = answer.session
    deadline = time.monotonic() + ANSWER_WAIT_SECONDS
    turn: ChatMessage | bool | None = claimed  # what _claim says of the turn
    while not turn and (turn := _claim(answer)) is False and time.monotonic() < deadline:
        time.sleep(0.5)
    if turn is None or turn is False:
        yield {"event": "error", "message": ANSWER_GONE}
        return
    if isinstance(turn, ChatMessage):
        yield _done_event(turn, session.title)
        return
    finished = False
    try:
        question = question or answer_question_get(answer=answer)
        assert question is not None
        if new_session is None:
            new_session = not ChatMessage.objects.filter(
                session=session, id__lt=question.pk
            ).exists()
        answerer = answerers_mod.get_answerer()
        scope = scope or chat_scope(
            creator=creator,
            course_id=session.course_id,
            video_ids=session.video_ids or None,
            user=user,
        )
        final: Answer | None = None
        for event in answer_stream(
            creator=creator,
            scope=scope,
            question=question.content,
            history=[] if new_session else _history(session, before=question.pk),
            answerer=answerer,
            cited_moments=[] if new_session else _last_cited_moments(session, before=question.pk),
            video_id=question.video_id,
            position=question.video_position,
        ):
            if event["event"] == "answer":
                final = event["answer"]
            else:
                yield event
        assert final is not None
        finished = True
    except Exception as exc:
        finished = True
        answer.delete()
        if isinstance(exc, AnswererError | DomainError):
            yield {"event": "error", "message": str(exc)}
        else:
            logger.exception("chat answer failed (session %s)", session.pk)
            yield {"event": "error", "message": answerers_mod.PROVIDER_ERROR}
        return
    finally:
        if not finished:  # closed mid-answer (the client went away): answer it next time
            ChatMessage.objects.filter(pk=answer.pk, status=ChatMessage.Status.ANSWERING).update(
                status=ChatMessage.Status.PENDING
            )
    # The answer and the session's activity are one statement; a paid answer's ledger row
    # (answer_cost_record) joins them in one transaction.
    with transaction.atomic() if final.paid and not final.cached else nullcontext():
        _answer_store(answer, session, final)
        answer_cost_record(
            creator=creator,
            answer=final,
            subject=f"chat_message:{answer.pk}",
            user=user,
            course_id=scope.course_id,
            video_id=question.video_id,
        )
    title = session.title
    if new_session and getattr(answerer, "paid", False) and answer.model != SMALL_TALK_MODEL:
        title = _llm_title(answerer, creator, session, question.content, user=user)
    yield _done_event(answer, title)


# The finished answer and its session's activity in one statement (two ORM saves cost ~2 ms
# of CPU per question).
_STORE_SQL = f"""
WITH done AS (
    UPDATE {ChatMessage._meta.db_table}
    SET content = %(content)s, citations = %(citations)s, covered = %(covered)s,
        nearest = %(nearest)s,
        model = %(model)s, input_tokens = %(input_tokens)s, output_tokens = %(output_tokens)s,
        cost_usd = %(cost_usd)s, latency_ms = %(latency_ms)s, cached = %(cached)s,
        status = %(status)s
    WHERE id = %(answer)s
    RETURNING id
)
UPDATE {ChatSession._meta.db_table} SET updated_at = %(now)s WHERE id = %(session)s
"""


def _answer_store(answer: ChatMessage, session: ChatSession, final: Answer) -> None:
    """Save `final` on the answer turn (status "done") and touch the session's updated_at,
    on the rows and on the instances."""
    answer.content = final.answer
    answer.citations = final.citations
    answer.covered = final.covered
    answer.nearest = final.nearest
    answer.model = final.model
    answer.input_tokens = final.input_tokens
    answer.output_tokens = final.output_tokens
    answer.cost_usd = final.cost_usd
    answer.latency_ms = final.latency_ms
    answer.cached = final.cached
    answer.status = ChatMessage.Status.DONE
    session.updated_at = timezone.now()
    citations = ChatMessage._meta.get_field("citations")
    with prepared_cursor() as cur:
        cur.execute(
            _STORE_SQL,
            {
                "content": answer.content,
                "citations": citations.get_db_prep_save(answer.citations, connection),
                "covered": answer.covered,
                "nearest": citations.get_db_prep_save(answer.nearest, connection),
                "model": answer.model,
                "input_tokens": answer.input_tokens,
                "output_tokens": answer.output_tokens,
                "cost_usd": answer.cost_usd,
                "latency_ms": answer.latency_ms,
                "cached": answer.cached,
                "status": answer.status,
                "answer": answer.pk,
                "now": session.updated_at,
                "session": session.pk,
            },
        )


def _llm_title(
    answerer: Any, creator: Creator, session: ChatSession, text: str, *, user: User
) -> str:
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


def _last_cited_moments(session: ChatSession, *, before: int) -> list[tuple[int, float, float]]:
    """The moments cited by the session's last answer before message `before` (small talk
    skipped: "thanks!" does not end the subject): [(video_id, start, end)] in seconds, in
    citation order."""
    last = (
        messages_for_session(session=session)
        .filter(role=ChatMessage.Role.ASSISTANT, id__lt=before)
        .exclude(model=SMALL_TALK_MODEL)
        .order_by("-created_at", "-id")
        .only("citations")
        .first()
    )
    return [
        (c["video_id"], float(c.get("start") or 0.0), float(c.get("end") or c.get("start") or 0.0))
        for c in (last.citations if last else [])
        if c.get("video_id")
    ]


def _history(session: ChatSession, *, before: int) -> list[tuple[str, str]]:
    """(question, answer) pairs of the session before message `before`, oldest first (the
    prompt takes the last 5); small talk ("hi", "thanks!") and exchanges the videos did not
    cover (nothing to follow up on) are left out."""
    pairs: list[tuple[str, str]] = []
    pending: str | None = None
    turns = messages_for_session(session=session).filter(id__lt=before)
    for m in turns.only("role", "content", "model", "covered"):
        if m.role == ChatMessage.Role.USER:
            pending = m.content
        elif pending is not None:
            if m.covered and m.model != SMALL_TALK_MODEL:
                pairs.append((pending, m.content))
            pending = None
    return pairs
