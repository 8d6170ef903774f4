"""What one question retrieves, given its conversation and where it was asked.

`context_retrieve` is the one place the ask path turns a question into passages:
- "what is this lecture about?" -> the lecture's outline (chat.retrieval.outline), for the
  lesson's video, the video whose title the question names, the scope's only video, or
  the video the previous answer cited;
- a follow-up -> the standalone query of chat.followups (an LLM rewrite, or offline the
  previous question carried in), searched first in the videos the previous answer cited,
  biased toward the moments it cited (what a follow-up asks is most often said next to
  what was just answered);
- asked from a lesson -> the player's (video, second) biases retrieval toward that moment;
  a question that names no subject of its own ("what did he just say?") is answered from
  the moments around the player's position.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from chat.followups import resolve_question
from chat.retrieval import RetrievalResult, Scope, retrieve
from chat.retrieval.outline import (
    is_outline_question,
    lecture_number,
    lecture_outline,
    scope_outline,
    titled_video_id,
    video_named_outside,
)
from creators.models import Creator

logger = logging.getLogger(__name__)


@dataclass
class Retrieved:
    """result: the RetrievalResult; query: the text searched; rewrite_usage: the LLM
    rewrite's AnswerUsage (a paid call to record) or None; outline: True for an outline."""

    result: RetrievalResult
    query: str
    rewrite_usage: object | None = None
    outline: bool = False
    note: str = ""  # said instead of "The videos don't cover this." when not covered


# The previous answer's moments a follow-up is biased toward (its first citations).
MAX_NEAR = 5
# A lecture asked for by name or number that this chat cannot see.
OUTSIDE_SCOPE = (
    "\u201c{title}\u201d isn't open to you yet (a lesson still locked, or a video outside "
    "this chat), so I can't go through it. Ask about the lectures you have open, or come "
    "back once it unlocks."
)


def context_retrieve(
    *,
    creator: Creator,
    scope: Scope,
    question: str,
    history: list[tuple[str, str]] | None = None,
    cited_moments: list[tuple[int, float, float]] | None = None,
    answerer=None,
    embedder=None,
    video_id: int | None = None,
    position: float | None = None,
    version: str | None = None,
) -> Retrieved:
    """Retrieve for `question` in `scope` (see module doc). history: earlier (question,
    answer) pairs of the session, oldest first; cited_moments: the previous answer's
    citations [(video_id, start, end)] in seconds, in citation order; video_id/position:
    the lesson's video and the player's second; version: the library_version the caller
    already read (else read by retrieval)."""
    history = history or []
    cited_video_ids = list(dict.fromkeys(v for v, _start, _end in cited_moments or []))
    if is_outline_question(question):
        named = titled_video_id(scope=scope, question=question)  # before the lesson's own
        if named is None and lecture_number(question) is not None:
            # "summarize lecture 2", lecture 2 not in scope (locked): not another's outline
            outside = video_named_outside(scope=scope, question=question)
            if outside is not None:
                note = OUTSIDE_SCOPE.format(title=outside)
                return Retrieved(RetrievalResult(covered=False), question, note=note)
            passages = []
        else:
            target = named or video_id
            target = target or (scope.video_ids[0] if len(scope.video_ids) == 1 else None)
            target = target or next(iter(cited_video_ids or []), None)
            if target is not None:
                passages = lecture_outline(scope=scope, video_id=target)
            else:  # "give me a summary" over a few lectures: each of them, in turn
                passages = scope_outline(scope=scope)
        if passages:
            return Retrieved(
                RetrievalResult(passages=passages, covered=True), question, outline=True
            )
    where = (video_id, float(position)) if video_id and position is not None else None
    if where is not None and where[0] in scope.video_ids and not history:
        from chat.followups import is_follow_up
        from chat.retrieval import question_lexemes

        if is_follow_up(question, question_lexemes(question)):
            # "What did he just say?" from a lesson: the moment is where the player is.
            narrowed = replace(scope, video_ids=(where[0],), excluded_video_ids=None)
            result = retrieve(
                creator=creator, scope=narrowed, question="", position=where, version=version
            )
            if result.passages:
                result.covered = True
                return Retrieved(result, question)
    resolved = resolve_question(
        question=question,
        history=history,
        cited_video_ids=cited_video_ids,
        answerer=answerer,
        scope=scope,
    )
    # A follow-up outside a lesson is asked where the previous answer was (in a lesson the
    # player's moment is where it is asked).
    near = (cited_moments or [])[:MAX_NEAR] if resolved.rewritten and where is None else []
    preferred = tuple(v for v in resolved.prefer_video_ids if v in scope.video_ids)
    if preferred and set(preferred) != set(scope.video_ids):
        narrowed = replace(scope, video_ids=tuple(sorted(preferred)), excluded_video_ids=None)
        result = retrieve(
            creator=creator,
            scope=narrowed,
            question=resolved.query,
            embedder=embedder,
            position=where,
            near=near,
            version=version,
        )
        if result.covered:
            return Retrieved(result, resolved.query, resolved.usage)
    result = retrieve(
        creator=creator,
        scope=scope,
        question=resolved.query,
        embedder=embedder,
        position=where,
        near=near,
        version=version,
    )
    return Retrieved(result, resolved.query, resolved.usage)
