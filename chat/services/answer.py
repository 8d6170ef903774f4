"""Answering one question inside a scope, without sessions: validation of the question and
the scope, the answer cache, retrieval, the answerer's stream, the ledger row. Used by the
session flow (chat.services.ask) and by `manage.py ask`."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from billing.models import UsageLedgerEntry
from billing.prices import chat_cost
from billing.services import usage_record
from chat import answerers as answerers_mod
from chat.answerers import NOT_COVERED, AnswerUsage
from chat.citations import citations_for_answer, enrich_all
from chat.context import context_retrieve
from chat.faq import faq_answer
from chat.followups import clarification_reply, dangling_reference
from chat.models import AnswerCacheEntry, ScopeMemo
from chat.retrieval import (
    RetrievalResult,
    Scope,
    cache_key,
    library_version,
    scope_resolve,
)
from chat.smalltalk import SMALL_TALK_MODEL, small_talk_kind, small_talk_reply
from chronos.db import prepared_cursor
from chronos.errors import DomainError, NotFound
from courses.selectors import lock_inputs_digest
from creators.models import Creator, User
from creators.selectors import CreatorAccess, creator_access

logger = logging.getLogger(__name__)


# Same normalised question + same scope within this many seconds -> served from the cache
# (issue 3: "within 10 minutes").
CACHE_TTL_SECONDS = 600
# Longest question accepted, in characters.
MAX_MESSAGE_CHARS = 4000
EMPTY_LIBRARY = "This creator has no processed videos yet."
EMPTY_SCOPE = "None of the selected videos has been processed yet."
# Closest moments offered with a "not covered" reply (nearest_moments): a few to scan, not a
# second list of answers.
NEAREST_MOMENTS = 3


class EmptyLibraryError(DomainError):
    """The scope holds no processed video; the message says so plainly."""

    code = "empty_library"


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
    # Not covered, but its best moments came close: offered as such, not cited (nearest_moments).
    nearest: list[dict] = field(default_factory=list)

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


def question_clean(message: object) -> str:
    """The question as asked, stripped; DomainError (field "message") when it is empty, not
    text, or longer than MAX_MESSAGE_CHARS. The one rule every way of asking shares."""
    text = (message or "").strip() if isinstance(message, str) else ""
    if not text:
        raise DomainError.for_field("message", "Type a question first.")
    if len(text) > MAX_MESSAGE_CHARS:
        raise DomainError.for_field(
            "message", f"Questions are limited to {MAX_MESSAGE_CHARS} characters."
        )
    return text


def learner_check(user: User, creator: Creator) -> CreatorAccess:
    """NotFound unless `user` may study `creator`'s content; returns the user's access
    (creators.selectors.creator_access: manages, learns), checked in one statement."""
    access = creator_access(user=user, creator=creator)
    if not access.learns:
        raise NotFound("No such creator.")
    return access


# How long a student's resolved scope is remembered (seconds) in the default cache, at most.
# It is keyed by courses.selectors.lock_inputs_digest (every row the lock rules read), so a
# lock the creator adds, a lesson completed or a membership change is seen at the next
# question; drip dates end an entry when they pass (Scope.valid_until). The bound only
# keeps the per-process cache small.
SCOPE_CACHE_SECONDS = 300


def chat_scope(
    *,
    creator: Creator,
    course_id: int | None = None,
    video_ids: list[int] | None = None,
    user: User | None = None,
    manager: bool | None = None,
) -> Scope:
    """The Scope to search; raises EmptyLibraryError when it holds no processed video,
    DomainError for a foreign course/video. With `user` (a student), videos of lessons
    they have not unlocked are left out (issue 8); `manager`: whether `user` manages the
    creator, when the caller already checked.

    A user's scope is resolved once and remembered (SCOPE_CACHE_SECONDS) under the digest
    of its inputs: one statement per question instead of the lock rules' dozen. It is
    remembered by this process and in chat.ScopeMemo for the others (one more statement
    on a process's first question of that scope)."""
    if user is None:
        scope = scope_resolve(creator=creator, course_id=course_id, video_ids=video_ids)
    else:
        scope = _scope_remembered(creator, course_id, video_ids, user, manager)
    if not scope.video_ids:
        if course_id or video_ids:
            has_any = scope_resolve(creator=creator).video_ids
            raise EmptyLibraryError(EMPTY_SCOPE if has_any else EMPTY_LIBRARY)
        raise EmptyLibraryError(EMPTY_LIBRARY)
    return scope


def _scope_remembered(
    creator: Creator,
    course_id: Any,
    video_ids: list[int] | None,
    user: User,
    manager: bool | None,
) -> Scope:
    digest = lock_inputs_digest(user=user, creator=creator)
    asked = ",".join(sorted(str(v) for v in video_ids or []))
    key = f"chat:scope:{creator.pk}:{user.pk}:{course_id}:{asked}:{digest}"
    now = timezone.now()
    scope = cache.get(key)  # this process's memory
    if scope is None:  # another process may have resolved it (ScopeMemo)
        scope, expires = _scope_shared(key, creator, now)
        if scope is not None:
            cache.set(key, scope, max(1, int((expires - now).total_seconds())))
    if scope is None or (scope.valid_until is not None and scope.valid_until <= now):
        scope = scope_resolve(
            creator=creator, course_id=course_id, video_ids=video_ids, user=user, manager=manager
        )
        ttl = SCOPE_CACHE_SECONDS
        if scope.valid_until is not None:
            ttl = min(ttl, max(1, int((scope.valid_until - now).total_seconds())))
        cache.set(key, scope, ttl)
        _scope_share(key, creator, scope, now + timedelta(seconds=ttl))
    return scope


# Expired ScopeMemo rows are deleted on roughly one store in this many.
SCOPE_PRUNE_EVERY = 50


def _scope_shared(key: str, creator: Creator, now: datetime) -> tuple[Scope | None, datetime]:
    """(the Scope another process stored under `key` and when it expires), or (None, now)."""
    with prepared_cursor() as cur:
        cur.execute(
            f"SELECT scope, expires FROM {ScopeMemo._meta.db_table} "
            "WHERE key = %s AND expires > %s",
            [_memo_key(key), now],
        )
        row = cur.fetchone()
    if row is None:
        return None, now
    data = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    until = data["valid_until"]
    scope = Scope(
        creator_id=creator.pk,
        video_ids=tuple(data["video_ids"]),
        course_id=data["course_id"],
        requested_video_ids=_tuple_or_none(data["requested_video_ids"]),
        library_videos=data["library_videos"],
        excluded_video_ids=_tuple_or_none(data["excluded_video_ids"]),
        valid_until=datetime.fromisoformat(until) if until else None,
    )
    return scope, row[1]


def _memo_key(key: str) -> str:
    """ScopeMemo.key: sha256 hex of the process cache's key (which lists the videos asked
    for, so may be long)."""
    return hashlib.sha256(key.encode()).hexdigest()


def _tuple_or_none(values: list | None) -> tuple | None:
    return tuple(values) if values is not None else None


def _scope_share(key: str, creator: Creator, scope: Scope, expires: datetime) -> None:
    """Store `scope` under `key` for the other processes until `expires` (one upsert)."""
    if random.randrange(SCOPE_PRUNE_EVERY) == 0:
        ScopeMemo.objects.filter(expires__lt=timezone.now()).delete()
    data = {
        "video_ids": list(scope.video_ids),
        "course_id": scope.course_id,
        "requested_video_ids": _list_or_none(scope.requested_video_ids),
        "library_videos": scope.library_videos,
        "excluded_video_ids": _list_or_none(scope.excluded_video_ids),
        "valid_until": scope.valid_until.isoformat() if scope.valid_until else None,
    }
    field = ScopeMemo._meta.get_field("scope")
    with prepared_cursor() as cur:
        cur.execute(
            f"INSERT INTO {ScopeMemo._meta.db_table} (key, creator_id, scope, expires) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET "
            "creator_id = EXCLUDED.creator_id, scope = EXCLUDED.scope, expires = EXCLUDED.expires",
            [_memo_key(key), creator.pk, field.get_db_prep_save(data, connection), expires],
        )


def _list_or_none(values: tuple | None) -> list | None:
    return list(values) if values is not None else None


# --- answering (no session) ------------------------------------------------------------------


def answer_stream(
    *,
    creator: Creator,
    scope: Scope,
    question: str,
    history: list[tuple[str, str]] | None = None,
    answerer: Any = None,
    subject: str = "",
    cited_moments: list[tuple[int, float, float]] | None = None,
    video_id: int | None = None,
    position: float | None = None,
) -> Iterator[dict]:
    """Answer `question` inside `scope` without touching sessions.

    history / cited_moments: the session's earlier (question, answer) pairs and its last
    answer's citations [(video_id, start, end)] in seconds (follow-ups, chat.context);
    video_id / position: the lesson's video
    and the player's second (seconds) when asked from a lesson. A question with history or
    a player position depends on its context, so it is neither served from nor stored in
    the answer cache.

    Yields {"event": "delta", "text"}* then {"event": "citations", "citations"} then
    {"event": "answer", "answer": Answer}. Raises AnswererError if the provider fails
    (after deltas may already have been yielded). Writes the ledger row for a paid call
    (subject e.g. "chat_message:12"; filled in by the caller via `ledger_subject`) and the
    cache entry.
    """
    started = time.monotonic()
    talk = small_talk_kind(question)
    if talk is not None:  # "hi", "thanks": the tutor's own words, nothing to cite
        text = small_talk_reply(talk, creator_name=creator.company_name or creator.handle)
        yield from _own_words(text, started)
        return
    if position is None and not history and dangling_reference(question):
        # "What is it used for?" with no earlier answer: ask for the subject (free like small
        # talk: chat.services.ask) rather than quote passages matched on "used".
        yield from _own_words(clarification_reply(question), started)
        return
    answerer = answerer or answerers_mod.get_answerer()
    faq = faq_answer(creator=creator, question=question, video_ids=scope.video_ids)
    if faq is not None:  # the creator answered a similar question: their words, cited
        yield {"event": "delta", "text": faq["answer"]}
        yield {"event": "citations", "citations": enrich_all(faq["citations"])}
        answer = Answer(faq["answer"], faq["citations"], True, "creator-faq", provider="faq")
        yield {"event": "answer", "answer": answer}
        return
    from videos.embedders import get_embedder

    try:
        embedder = get_embedder()
    except Exception:  # a misconfigured embedder must not stop answers: full-text only
        logger.exception("embedder unavailable; answering with full-text search only")
        embedder = None
    version = library_version(creator=creator)
    contextual = bool(history) or position is not None
    key = cache_key(
        scope=scope,
        version=version,
        question=question,
        # Another embedder retrieves other passages: it is part of the key.
        answerer=f"{answerer.name}:{answerer.model}:{getattr(embedder, 'model_name', '-')}",
    )
    fresh_after = timezone.now() - timedelta(seconds=CACHE_TTL_SECONDS)
    hit = None if contextual else _cache_get(creator, key, fresh_after)
    if hit is not None:
        yield {"event": "delta", "text": hit.answer}
        yield {"event": "citations", "citations": enrich_all(hit.citations)}
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

    found = context_retrieve(
        creator=creator,
        scope=scope,
        version=version,
        question=question,
        history=history,
        cited_moments=cited_moments,
        answerer=answerer if getattr(answerer, "paid", False) else None,
        embedder=embedder,
        video_id=video_id,
        position=position,
    )
    result = found.result
    if isinstance(found.rewrite_usage, AnswerUsage):
        u = found.rewrite_usage
        ledger_record(
            creator=creator,
            answer_usage=u,
            cost=chat_cost(u.model, u.input_tokens, u.output_tokens),
            subject=f"{subject or 'chat'}:rewrite",
        )
    usage = AnswerUsage(provider=answerer.provider, model=answerer.model, paid=False)
    # Refused by words the videos never say alone (paraphrases are): an LLM reads the
    # passages and decides, answering or saying they don't cover it (no citation, covered
    # false). Offline the refusal stands: no reader can tell a paraphrase from a near-topic
    # question (README, "The tutor").
    reader = result.borderline and getattr(answerer, "paid", False)
    nearest: list[dict] = []
    if not result.covered and not reader:
        text, citations, covered = found.note or NOT_COVERED, [], False
        model = answerer.model
        nearest = [] if found.note else nearest_moments(result)
        yield {"event": "delta", "text": text}
    else:
        parts: list[str] = []
        passages = result.passages
        quoted = getattr(answerer, "quoted_passages", None)
        if quoted is not None:  # the offline answer's markers numbered without gaps
            passages = quoted(passages)
        for delta in answerer.stream(question=question, passages=passages, history=history or []):
            parts.append(delta)
            yield {"event": "delta", "text": delta}
        text = "".join(parts).strip()
        usage = answerer.usage
        model = usage.model
        citations = citations_for_answer(text, passages)
        covered = bool(citations)
    cost = chat_cost(model, usage.input_tokens, usage.output_tokens) if usage.paid else Decimal(0)
    yield {"event": "citations", "citations": enrich_all(citations)}
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
        nearest=nearest,
    )
    # A refusal with nearest moments is not cached (the cache keeps no nearest moments; a
    # refusal costs no model call to make again).
    if not contextual and not nearest:
        _cache_store(creator, key, answer)
    yield {"event": "answer", "answer": answer}


def nearest_moments(result: RetrievalResult) -> list[dict]:
    """The moments to offer with a "not covered" reply: when the question was refused only
    because words the videos never say raised its floor (result.borderline: its best moment
    reaches the configuration's own floor, chat.retrieval), its best NEAREST_MOMENTS
    passages as citation dicts {video_id, video_title, start, end (seconds), quote, score};
    else []. Shown as the closest the videos come, never as the answer's citations: such
    questions are in-scope paraphrases and near-topic questions alike (README, "The tutor":
    on the development set all 8 in-scope questions refused this way have their moment
    among them, and 14 of the 24 out-of-scope questions get some; bench/qa.py)."""
    if result.covered or not result.borderline:
        return []
    return [p.as_citation() for p in result.passages[:NEAREST_MOMENTS]]


def _own_words(text: str, started: float) -> Iterator[dict]:
    """answer_stream's events for a reply in the tutor's own words (no passage, no
    citation; model SMALL_TALK_MODEL, which history and analytics leave out)."""
    yield {"event": "delta", "text": text}
    yield {"event": "citations", "citations": []}
    answer = Answer(text, [], True, SMALL_TALK_MODEL, latency_ms=_ms(started))
    yield {"event": "answer", "answer": answer}


# Expired cache entries of the creator are deleted on roughly one store in this many (the
# lookup ignores them anyway; pruning on every store cost a statement per question).
CACHE_PRUNE_EVERY = 50


def _cache_get(creator: Creator, key: str, fresh_after: datetime) -> AnswerCacheEntry | None:
    """The entry `key` of `creator` stored since `fresh_after`, or None: one raw SELECT (the
    ORM's compiling cost ~1 ms of CPU per question); the fields an answer reads."""
    with prepared_cursor() as cur:
        cur.execute(
            f"SELECT answer, citations, covered, model FROM {AnswerCacheEntry._meta.db_table} "
            "WHERE creator_id = %s AND key = %s AND created_at >= %s ORDER BY id LIMIT 1",
            [creator.pk, key, fresh_after],
        )
        row = cur.fetchone()
    if row is None:
        return None
    return AnswerCacheEntry(
        creator=creator,
        key=key,
        answer=row[0],
        citations=json.loads(row[1]) if isinstance(row[1], str) else row[1],
        covered=row[2],
        model=row[3],
    )


def _cache_store(creator: Creator, key: str, answer: Answer) -> None:
    """Store (or refresh) the entry `key`: one INSERT ... ON CONFLICT (key) DO UPDATE, raw
    (the ORM's bulk upsert cost ~2 ms of CPU per question and a transaction around it)."""
    now = timezone.now()
    if random.randrange(CACHE_PRUNE_EVERY) == 0:
        AnswerCacheEntry.objects.filter(
            creator=creator, created_at__lt=now - timedelta(seconds=CACHE_TTL_SECONDS)
        ).delete()
    citations = AnswerCacheEntry._meta.get_field("citations")
    with prepared_cursor() as cur:
        cur.execute(
            f"""
            INSERT INTO {AnswerCacheEntry._meta.db_table}
                (creator_id, key, answer, citations, covered, model, created_at)
            VALUES (%(creator)s, %(key)s, %(answer)s, %(citations)s, %(covered)s, %(model)s,
                    %(now)s)
            ON CONFLICT (key) DO UPDATE SET
                creator_id = EXCLUDED.creator_id, answer = EXCLUDED.answer,
                citations = EXCLUDED.citations, covered = EXCLUDED.covered,
                model = EXCLUDED.model, created_at = EXCLUDED.created_at
            """,
            {
                "creator": creator.pk,
                "key": key,
                "answer": answer.answer,
                "citations": citations.get_db_prep_save(answer.citations, connection),
                "covered": answer.covered,
                "model": answer.model,
                "now": now,
            },
        )


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def ledger_record(*, creator: Creator, answer_usage: AnswerUsage, cost: Decimal, subject: str,
                  operation: str = UsageLedgerEntry.Operation.CHAT, user: User | None = None,
                  course_id: int | None = None, video_id: int | None = None) -> None:  # fmt: skip
    """One ledger row for a paid LLM call: units = input + output tokens (both also in
    metadata), usd = billing.prices.chat_cost. `user` (the student who asked), `course_id`
    (the course the question was scoped to) and `video_id` (the video it was asked from)
    feed the Costs page's per-student, per-course and per-video breakdowns."""
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
        user=user if getattr(user, "pk", None) else None,
        course_id=course_id,
        video_id=video_id,
    )


def answer_cost_record(
    *,
    creator: Creator,
    answer: Answer,
    subject: str,
    user: User | None = None,
    course_id: int | None = None,
    video_id: int | None = None,
) -> None:
    """The ledger row of a finished answer (ledger_record), when a paid provider wrote it
    now: offline and cached answers cost nothing."""
    if not answer.paid or answer.cached:
        return
    ledger_record(
        creator=creator,
        answer_usage=AnswerUsage(
            answer.provider, answer.model, answer.input_tokens, answer.output_tokens, True
        ),
        cost=answer.cost_usd,
        subject=subject,
        user=user,
        course_id=course_id,
        video_id=video_id,
    )


def question_answer(
    *,
    creator: Creator,
    question: str,
    course_id: int | None = None,
    video_ids: list[int] | None = None,
    video_id: int | None = None,
    position: float | None = None,
) -> Answer:
    """Answer one question with no session (the `ask` command). Raises DomainError /
    EmptyLibraryError for bad input, AnswererError on a provider outage."""
    question = question_clean(question)
    scope = chat_scope(creator=creator, course_id=course_id, video_ids=video_ids)
    video_id, position = clean_position(creator, video_id, position)
    from billing.services.allowances import question_allowance_consume

    question_allowance_consume(creator=creator, user=None, source="cli")  # the month's count
    final = None
    for event in answer_stream(
        creator=creator, scope=scope, question=question, video_id=video_id, position=position
    ):
        if event["event"] == "answer":
            final = event["answer"]
    assert final is not None
    answer_cost_record(
        creator=creator, answer=final, subject="cli", course_id=scope.course_id, video_id=video_id
    )
    return final


def clean_position(
    creator: Creator, video_id: Any, position: Any
) -> tuple[int | None, float | None]:
    """(video id, seconds) validated: the video must be the creator's; the position a
    finite number >= 0 (ignored without a video). DomainError (fields video_id/position)."""
    if video_id in (None, ""):
        return None, None
    try:
        if isinstance(video_id, bool):
            raise TypeError(video_id)
        vid = int(video_id)
    except (TypeError, ValueError):
        raise DomainError.for_field("video_id", "video_id must be an integer.") from None
    from videos.models import Video

    if not Video.objects.filter(creator=creator, pk=vid).exists():
        raise DomainError.for_field("video_id", "No such video for this creator.")
    if position in (None, ""):
        return vid, None
    message = "position must be seconds (a number >= 0)."
    try:
        if isinstance(position, bool):
            raise TypeError(position)
        seconds = float(position)
    except (TypeError, ValueError):
        raise DomainError.for_field("position", message) from None
    if not (0 <= seconds < float("inf")):
        raise DomainError.for_field("position", message)
    return vid, seconds
