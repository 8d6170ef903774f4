"""Asking inside a session, in two steps: chat_question_save (validate -> allowance ->
session, created on the first message and titled from it -> the user's message and a
pending answer are saved) and chat.services.reply.chat_answer_stream (answer cache ->
retrieval -> below the relevance floor: "The videos don't cover this.", no LLM call ->
else the answerer streams -> citations = passages the answer cites -> the answer is saved
with usage, ledger row for paid calls, cache entry). chat_ask_stream / chat_ask chain the
two for REST and the CLI; the chat page calls them separately (POST, then SSE)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from billing.models import QuestionUsage
from billing.services.allowances import (
    QuestionAllowance,
    question_allowance_consume,
    question_allowance_status,
    question_burst_check,
)
from chat.answerers import AnswererError, heuristic_title
from chat.followups import dangling_reference
from chat.models import ChatMessage, ChatSession
from chat.retrieval import Scope
from chat.selectors import session_get
from chat.services.answer import chat_scope, clean_position, learner_check, question_clean
from chat.services.reply import answer_events
from chat.smalltalk import NEW_CHAT_TITLE, SMALL_TALK_MODEL, small_talk_kind
from chronos.db import prepared_cursor
from creators.models import Creator, User
from creators.selectors import CreatorAccess

logger = logging.getLogger(__name__)


@dataclass
class ChatResult:
    """The outcome of one question.

    answer: Markdown text; answer_html: the same rendered and sanitised (safe to insert).
    citations: [{video_id, video_title, start, end (seconds), quote, score, n, start_label
    ("5:42"), end_label, stream_url}]; covered: False when the videos do not cover it.
    nearest: with covered False, the closest moments the videos come to it (same keys as
    citations; chat.services.answer.nearest_moments), offered, not cited; else [].
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
    nearest: list[dict[str, Any]] = field(default_factory=list)
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
    access: CreatorAccess | None = None,
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
        answering=True,  # consumed right here: no other stream may claim the turn
        access=access,
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
                nearest=event.get("nearest") or [],
                usage=event["usage"],
                allowance=event.get("allowance") or {},
            )
    raise RuntimeError("chat_ask_stream ended without a result")


@dataclass
class PendingAnswer:
    """What chat_question_save wrote: the session (created on the first question), the
    user's turn and the assistant's turn, saved with status "pending" and empty content."""

    session: ChatSession
    question: ChatMessage
    answer: ChatMessage
    new_session: bool
    allowance: QuestionAllowance | None = None
    # The scope resolved while saving: answering in the same request reuses it (resolving
    # a student's unlocked lessons is the costliest step of a question before retrieval).
    scope: Scope | None = None


def _answered_before(session: ChatSession | None) -> bool:
    """True when `session` holds an answer from the videos (not small talk) that a question
    leaning on an earlier exchange can refer to (chat.services.reply's history)."""
    if session is None:
        return False
    return (
        ChatMessage.objects.filter(session=session, role=ChatMessage.Role.ASSISTANT, covered=True)
        .exclude(model=SMALL_TALK_MODEL)
        .exists()
    )


def chat_question_save(
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
    answering: bool = False,
    access: CreatorAccess | None = None,
) -> PendingAnswer:
    """Save a question and its pending answer (nothing is answered yet: see
    chat_answer_stream). The allowance is consumed here: the student asked. answering:
    the caller answers the turn right away in this thread (chat_ask), so it is saved already
    claimed ("answering") instead of "pending" for a stream to claim.

    Raises DomainError (empty or too long message, foreign course/videos, bad video_id /
    position), EmptyLibraryError (no processed video in scope: "This creator has no
    processed videos yet."), NotFound (creator not learnable by the user, or a session that
    is not theirs), RateLimited (429, retry_after) past the burst limit,
    QuestionLimitReached (429, resets_at) when none are left (`source`: where the question
    came from, billing.models.QuestionUsage.Source). An
    existing session keeps its scope unless course_id/video_ids are given (then the session
    takes that scope). video_id / position (seconds >= 0): asked from a lesson, the
    player's video and second; retrieval leans toward that moment and the question records
    them (ChatMessage.video / video_position). access: `user`'s creators.selectors.
    creator_access on `creator` when the caller read it in this request (else read here)."""
    text = question_clean(message)
    if access is None or not access.learns:
        access = learner_check(user, creator)
    session = None
    rescoped = False
    if session_id is not None:
        session = session_get(user=user, creator=creator, session_id=session_id)
        rescoped = course_id not in (None, "") or bool(video_ids)
        if not rescoped:
            course_id = session.course_id
            video_ids = session.video_ids or None
    scope = chat_scope(
        creator=creator,
        course_id=course_id,
        video_ids=video_ids,
        user=user,
        manager=access.manages,
    )
    video_id, position = clean_position(creator, video_id, position)
    # The plan's question allowances, before answering (cached answers count too); small
    # talk ("hi", "thanks") and a question with nothing to refer to ("What is it used
    # for?" opening a chat) are answered in the tutor's own words and cost none.
    own_words = small_talk_kind(text) is not None or (
        position is None and dangling_reference(text) and not _answered_before(session)
    )
    if not own_words:
        allowance = question_allowance_consume(
            creator=creator, user=user, source=source, student=not access.manages
        )
    else:
        if not access.manages and settings.RATELIMIT_ENABLE:
            question_burst_check(user=user)
        allowance = question_allowance_status(creator=creator, user=user)
    status = ChatMessage.Status.ANSWERING if answering else ChatMessage.Status.PENDING
    if session is None:  # the session and both turns: one statement
        title = NEW_CHAT_TITLE if own_words else heuristic_title(text)
        session, question, answer = _session_open(
            creator, user, title, scope, text, video_id, position, status
        )
        return PendingAnswer(
            session=session,
            question=question,
            answer=answer,
            new_session=True,
            allowance=allowance,
            scope=scope,
        )
    with transaction.atomic():
        new_session = False
        fields = ["updated_at"]
        if rescoped:
            session.course_id = scope.course_id
            session.video_ids = list(scope.requested_video_ids or [])
            fields += ["course", "video_ids"]
        if session.title == NEW_CHAT_TITLE and not own_words:
            session.title = heuristic_title(text)  # opened with "hi": named by its question
            fields.append("title")
        # The question and its pending answer in one INSERT (ids in this order).
        question, answer = ChatMessage.objects.bulk_create(
            [
                ChatMessage(
                    creator=creator,
                    session=session,
                    role=ChatMessage.Role.USER,
                    content=text,
                    video_id=video_id,
                    video_position=position,
                ),
                ChatMessage(
                    creator=creator,
                    session=session,
                    role=ChatMessage.Role.ASSISTANT,
                    content="",
                    status=status,
                ),
            ]
        )
        session.save(update_fields=fields)
    return PendingAnswer(
        session=session,
        question=question,
        answer=answer,
        new_session=new_session,
        allowance=allowance,
        scope=scope,
    )


# A new session and its first two turns (the question, then its pending answer: ids in
# that order) in one statement, as ChatSession.objects.create and ChatMessage.objects.
# bulk_create would write them (the ORM's compiling cost ~3 ms of CPU per question, and the
# transaction around them two more round trips).
_OPEN_SQL = f"""
WITH s AS (
    INSERT INTO {ChatSession._meta.db_table}
        (creator_id, user_id, title, course_id, video_ids, created_at, updated_at)
    VALUES (%(creator)s, %(user)s, %(title)s, %(course)s, %(video_ids)s, %(now)s, %(now)s)
    RETURNING id
), m AS (
    INSERT INTO {ChatMessage._meta.db_table}
        (creator_id, session_id, role, content, citations, covered, model, input_tokens,
         output_tokens, cost_usd, latency_ms, cached, video_id, video_position, status,
         created_at)
    SELECT %(creator)s, s.id, t.role, t.content, %(citations)s, true, '', 0, 0, 0, 0, false,
           t.video_id, t.position, t.status, %(now)s
    FROM s, (VALUES (1, %(user_role)s, %(text)s, %(video)s::bigint,
                     %(position)s::double precision, %(done)s),
                    (2, %(assistant_role)s, '', NULL, NULL, %(status)s))
            AS t(n, role, content, video_id, position, status)
    ORDER BY t.n
    RETURNING id, role
)
SELECT (SELECT id FROM s), (SELECT id FROM m WHERE role = %(user_role)s),
       (SELECT id FROM m WHERE role = %(assistant_role)s)
"""


def _session_open(
    creator: Creator,
    user: User,
    title: str,
    scope: Scope,
    text: str,
    video_id: int | None,
    position: float | None,
    status: str,
) -> tuple[ChatSession, ChatMessage, ChatMessage]:
    """Create a session with the user's question and the assistant's turn (`status`):
    (session, question, answer) instances as the ORM would return them (_OPEN_SQL)."""
    now = timezone.now()
    video_ids = list(scope.requested_video_ids or [])
    json_field = ChatSession._meta.get_field("video_ids")
    with prepared_cursor() as cur:
        cur.execute(
            _OPEN_SQL,
            {
                "creator": creator.pk,
                "user": user.pk,
                "title": title,
                "course": scope.course_id,
                "video_ids": json_field.get_db_prep_save(video_ids, connection),
                "now": now,
                "citations": json_field.get_db_prep_save([], connection),
                "user_role": ChatMessage.Role.USER.value,
                "assistant_role": ChatMessage.Role.ASSISTANT.value,
                "text": text,
                "video": video_id,
                "position": position,
                "done": ChatMessage.Status.DONE.value,
                "status": str(status),
            },
        )
        session_id, question_id, answer_id = cur.fetchone()
    session = _saved(ChatSession(
        id=session_id, creator=creator, user=user, title=title, course_id=scope.course_id,
        video_ids=video_ids, created_at=now, updated_at=now,
    ))  # fmt: skip
    question = _saved(ChatMessage(
        id=question_id, creator=creator, session=session, role=ChatMessage.Role.USER,
        content=text, video_id=video_id, video_position=position, created_at=now,
    ))  # fmt: skip
    answer = _saved(ChatMessage(
        id=answer_id, creator=creator, session=session, role=ChatMessage.Role.ASSISTANT,
        content="", status=status, created_at=now,
    ))  # fmt: skip
    return session, question, answer


def _saved(instance: Any) -> Any:
    """`instance` marked as a row loaded from the default database (not to be inserted)."""
    instance._state.adding = False
    instance._state.db = "default"
    return instance


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
    answering: bool = False,
    access: CreatorAccess | None = None,
) -> Iterator[dict[str, Any]]:
    """chat_question_save then chat_answer_stream, as one stream (REST and CLI): yields
    {"event": "session", "session_id", "title"} first, then chat_answer_stream's events,
    the "done" one with "allowance" (allowance_payload: what the asker may still ask).
    Validation happens when this is called, before any event (see chat_question_save for
    what it raises). answering: the caller consumes the events at once in this thread
    (chat_ask), so the turn is saved already claimed (chat_question_save)."""
    pending = chat_question_save(
        user=user,
        creator=creator,
        message=message,
        session_id=session_id,
        course_id=course_id,
        video_ids=video_ids,
        video_id=video_id,
        position=position,
        source=source,
        answering=answering,
        access=access,
    )
    return _ask_events(user, creator, pending)


def _ask_events(user: User, creator: Creator, pending: PendingAnswer) -> Iterator[dict[str, Any]]:
    session = pending.session
    yield {"event": "session", "session_id": session.pk, "title": session.title}
    for event in answer_events(
        user=user,
        creator=creator,
        answer=pending.answer,
        scope=pending.scope,
        question=pending.question,
        new_session=pending.new_session,
        claimed=pending.answer.status == ChatMessage.Status.ANSWERING,
    ):
        if event["event"] == "done" and pending.allowance is not None:
            event["allowance"] = allowance_payload(pending.allowance)
        yield event
