"""Follow-up questions: what a question means after the previous exchanges.

"Can you explain that in simpler terms?" or "why?" cannot be searched on its own. Before
retrieving:
- with an LLM answerer, the model rewrites the question as a standalone one from the
  recent exchanges (answerer.rewrite; one short call, billed like a title);
- offline, when the question is short or refers back (REFERS_BACK words, or at most
  SHORT_LEXEMES content words), the previous question (and the one before it when that
  was a follow-up too) is carried into the search query, and the search first looks in
  the videos the previous answer cited (the whole scope when that finds nothing); an
  exchange the videos did not cover carries nothing, and neither does a question that
  names a subject of its own the videos never mention ("how do I cook pasta?" after a
  question about candles: carrying the candles would answer it with them).

A question that leans wholly on an earlier exchange ("What is it used for?", "Why does that
happen?") with none to lean on (the first of a chat, or after answers the videos did not
cover) and outside a lesson (where "it" is the moment playing) gets the tutor's request for
its subject instead of quotes matched on "used" (dangling_reference, clarification_reply).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Words by which a question leans on the previous exchange (pronouns, "why?", requests to
# re-explain); with any of them, or with few content words, the question is a follow-up.
REFERS_BACK = re.compile(
    r"\b(that|this|it|its|they|them|those|these|he|she|him|her|there|then|why|how come|"
    r"simpler|simply|again|more|elaborate|example|mean|meant|explain)\b",
    re.IGNORECASE,
)
# A question with at most SHORT_LEXEMES content words (PostgreSQL lexemes) is a follow-up
# when there is a previous exchange; one with a REFERS_BACK word is one up to
# REFERRING_LEXEMES content words (a longer question names its own subject).
SHORT_LEXEMES = 3
REFERRING_LEXEMES = 6
# Content words (PostgreSQL lexemes) of asking about something already named: what it is for,
# is called, means, is made of, why it happens or matters, "explain that in simpler terms".
# A question of these alone and a word that refers back names no subject of its own.
ASKING_LEXEMES = frozenset(
    {
        "call", "caus", "clarifi", "come", "could", "describ", "detail", "differ", "easi",
        "easier", "elabor", "exampl", "explain", "give", "happen", "import", "like", "look",
        "made", "make", "matter", "mean", "meant", "mention", "name", "purpos", "reason",
        "repeat", "said", "say", "show", "simpl", "simpler", "stand", "talk", "tell", "term",
        "understand", "use", "word", "work", "would",
    }
)  # fmt: skip
# Words a clarification quotes back ("What does “it” refer to?").
_REFERRING = re.compile(
    r"\b(it|its|that|this|they|them|those|these|he|she|him|her)\b", re.IGNORECASE
)
# Longer messages name their subject (or are not questions this rule is for).
DANGLING_MAX_CHARS = 80
# Exchanges the LLM rewrite reads (the prompt keeps the last 5 for the answer itself).
REWRITE_EXCHANGES = 3


@dataclass
class Resolved:
    """What to search for a question: query (the text retrieval uses), prefer_video_ids
    (search these first; () = no preference), rewritten (True when it differs from the
    question) and usage (the LLM rewrite's AnswerUsage, or None)."""

    query: str
    prefer_video_ids: tuple[int, ...] = ()
    rewritten: bool = False
    usage: object | None = None
    history_questions: list[str] = field(default_factory=list)


def is_follow_up(question: str, lexemes: list[str]) -> bool:
    """True when `question` (with its content lexemes) leans on the previous exchange."""
    n = len(set(lexemes))
    return n <= SHORT_LEXEMES or (n <= REFERRING_LEXEMES and bool(REFERS_BACK.search(question)))


def dangling_reference(question: str) -> bool:
    """True when `question` names no subject of its own and leans wholly on an earlier
    exchange: it refers back (REFERS_BACK) and every content word is one of ASKING_LEXEMES
    ("What is it used for?", "Why does that happen?", "Can you explain that in simpler
    terms?", "Why?"); "Why does a flame point up?" or "How bright is it?" name one. The
    caller decides whether an earlier answered exchange or a lesson's moment gives it a
    subject. At most one lexeme look-up (chat.retrieval.base.text_lexemes, cached), only
    for a short question with a referring word."""
    if len(question) > DANGLING_MAX_CHARS or not REFERS_BACK.search(question):
        return False
    from chat.retrieval.base import text_lexemes

    return text_lexemes([question])[0] <= ASKING_LEXEMES


def clarification_reply(question: str) -> str:
    """The tutor's own reply to a dangling_reference question with nothing to refer to:
    which word it cannot resolve, and the two ways to ask (name the subject, or ask from a
    lesson, where the player's moment is the subject)."""
    word = _REFERRING.search(question)
    if word:
        asks = f"What does “{word.group(1).lower()}” refer to? "
    else:
        asks = "What would you like explained? "
    return (
        asks + "This chat has no earlier answer to go on, so ask again naming the subject, "
        "or ask from a lesson: there “it” and “that” mean the moment you are watching."
    )


def new_subject(question: str, lexemes: list[str], scope) -> bool:
    """True when `question` (with its content `lexemes`) names a subject of its own that
    no chunk of `scope`'s library mentions, and has no REFERS_BACK word: "how do I cook
    pasta?" or "and LED bulbs?" after a question about candles. Such a question is searched
    as asked (and refused when nothing answers it) instead of inheriting the previous
    subject. Names of the library and words of the conversation do not count ("what does
    Faraday say?": chat.retrieval.lexical.unsaid_lexemes), nor does a misspelt word of the
    lectures (chat.retrieval.spelling). One query, more only when a word is unknown."""
    from chat.retrieval.base import library_version
    from chat.retrieval.lexical import lexeme_frequencies, unsaid_lexemes
    from chat.retrieval.spelling import spelling_fixes
    from creators.models import Creator

    if not lexemes or REFERS_BACK.search(question):
        return False
    ndoc, _total = lexeme_frequencies(scope.creator_id, lexemes)
    unknown = {lx for lx, n in ndoc.items() if n == 0}
    if not unknown:
        return False
    unknown -= unsaid_lexemes(scope, ndoc)
    if unknown:  # a misspelt word of the lectures ("and the candel?") is not a new subject
        version = library_version(creator=Creator(pk=scope.creator_id))
        unknown -= set(
            spelling_fixes(
                creator_id=scope.creator_id, version=version, question=question, unknown=unknown
            )
        )
    return bool(unknown)


def resolve_question(
    *,
    question: str,
    history: list[tuple[str, str]],
    cited_video_ids: list[int] | None = None,
    answerer=None,
    scope=None,
) -> Resolved:
    """The query to retrieve with for `question` after `history` [(question, answer)],
    oldest first. cited_video_ids: the videos the previous answer cited. answerer: when it
    has .rewrite (an LLM), the rewrite is asked of it; a failed rewrite falls back to the
    offline rule. scope: the chat's chat.retrieval.Scope, for the offline rule's
    new_subject check (skipped when None). Never raises."""
    if not history:
        return Resolved(query=question)
    rewrite = getattr(answerer, "rewrite", None)
    if rewrite is not None:
        try:
            text, usage = rewrite(question, history[-REWRITE_EXCHANGES:])
        except Exception:  # the rewrite is an aid: an outage falls back to the offline rule
            text, usage = "", None
        if text:
            return Resolved(query=text, rewritten=text != question, usage=usage)
    from chat.answerers import NOT_COVERED
    from chat.retrieval import question_lexemes

    # A refused exchange has no subject to carry: after "summarize lecture 2" (refused),
    # "What does Faraday say about the wick?" is searched as asked.
    history = [(q, a) for q, a in history if a.strip() != NOT_COVERED]
    lexemes = question_lexemes(question)
    if not history or not is_follow_up(question, lexemes):
        return Resolved(query=question)
    if scope is not None and new_subject(question, lexemes, scope):
        return Resolved(query=question)
    carried: list[str] = []
    for previous, _answer in reversed(history[-2:]):
        carried.insert(0, previous)
        if not is_follow_up(previous, question_lexemes(previous)):
            break
    return Resolved(
        query=" ".join([*carried, question]),
        prefer_video_ids=tuple(dict.fromkeys(cited_video_ids or [])),
        rewritten=True,
        history_questions=carried,
    )
