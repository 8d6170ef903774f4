"""Creator FAQ: the creator's own answers to questions the videos did not cover.

The analytics page's "Answer this" calls `faq_create_from_message`; the tutor's answer path
calls `faq_answer` (one call, before retrieval): when a new question is similar enough to
a FAQ entry's question, the tutor answers with the creator's words, labelled as the
creator's answer, and cites the entry.

Similarity: both questions are reduced to their English lexemes by Postgres
(`to_tsvector('english', ...)`: stemmed, stop words dropped — the same configuration the
transcript search uses); the Jaccard similarity of the two lexeme sets must reach
FAQ_SIMILARITY and they must share at least FAQ_MIN_SHARED lexemes (or all of a shorter
question's). "How does the wick draw up wax?" and "how do wicks draw wax up" are equal sets.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.http import Http404

from chat.models import ChatMessage, CreatorFAQ
from chronos.db import prepared_cursor
from chronos.errors import DomainError
from creators.models import Creator, User

# Jaccard similarity of lexeme sets at or above which a FAQ entry answers a question.
FAQ_SIMILARITY = 0.5
# Shared lexemes required (questions of one or two lexemes must match all of them).
FAQ_MIN_SHARED = 2
MAX_ANSWER_CHARS = 4000
# What a FAQ citation is called wherever citations are shown.
FAQ_LABEL = "Creator's answer"


def lexemes_of(text: str) -> list[str]:
    """The English lexemes of `text`, sorted (Postgres tsvector_to_array(to_tsvector))."""
    with connection.cursor() as cur:
        cur.execute("SELECT tsvector_to_array(to_tsvector('english', %s))", [text or ""])
        return list(cur.fetchone()[0] or [])


def similarity(a: set[str], b: set[str]) -> float:
    """Jaccard similarity of two lexeme sets, 0.0 when they share too little to count."""
    shared = len(a & b)
    if not shared or shared < min(FAQ_MIN_SHARED, len(a), len(b)):
        return 0.0
    return shared / len(a | b)


@transaction.atomic
def faq_create(
    *,
    creator: Creator,
    user: User | None,
    question: str,
    answer: str,
    source_message: ChatMessage | None = None,
) -> CreatorFAQ:
    """Store the creator's answer to `question`. Raises DomainError with fields {"answer": [...]}
    for an empty or too long answer, {"question": [...]} for an empty question."""
    question = " ".join((question or "").split())
    answer = (answer or "").strip()
    if not question:
        raise DomainError.for_field("question", "The question is empty.")
    if not answer:
        raise DomainError.for_field("answer", "Write an answer first.")
    if len(answer) > MAX_ANSWER_CHARS:
        raise DomainError.for_field(
            "answer", f"Answers are limited to {MAX_ANSWER_CHARS} characters."
        )
    return CreatorFAQ.objects.create(
        creator=creator,
        question=question[:2000],
        answer=answer,
        lexemes=" ".join(lexemes_of(question)),
        created_by=user,
        source_message=source_message,
    )


def faq_create_from_message(
    *, creator: Creator, user: User, message_id: int, answer: str
) -> CreatorFAQ:
    """ "Answer this" on a student's question (a user ChatMessage of `creator`).

    Raises Http404 when the message is not one of the creator's student questions,
    DomainError as faq_create does. The caller has checked that `user` manages
    `creator`.
    """
    message = ChatMessage.objects.filter(
        creator=creator, pk=message_id, role=ChatMessage.Role.USER
    ).first()
    if message is None:
        raise Http404("No such question.")
    return faq_create(
        creator=creator, user=user, question=message.content, answer=answer, source_message=message
    )


def faq_match(*, creator: Creator, question: str) -> tuple[CreatorFAQ, float] | None:
    """The creator's FAQ entry most similar to `question` and its similarity (0..1), or
    None when none reaches FAQ_SIMILARITY. Newer entries win ties."""
    # Raw: this runs on every question, most creators have no entries, and the ORM's
    # compiling cost ~1 ms of CPU each time. Newest first (CreatorFAQ.Meta.ordering).
    with prepared_cursor() as cur:
        cur.execute(
            f"SELECT id, lexemes FROM {CreatorFAQ._meta.db_table} WHERE creator_id = %s "
            "ORDER BY created_at DESC, id DESC",
            [creator.pk],
        )
        entries = cur.fetchall()
    if not entries:
        return None
    asked = set(lexemes_of(question))
    best: tuple[int, float] | None = None
    for pk, lexemes in entries:
        score = similarity(asked, set(lexemes.split()))
        if score >= FAQ_SIMILARITY and (best is None or score > best[1]):
            best = (pk, score)
    if best is None:
        return None
    return CreatorFAQ.objects.get(pk=best[0]), best[1]


def faq_citation(faq: CreatorFAQ, score: float, creator: Creator) -> dict:
    """The citation dict of a FAQ entry: kind "faq", no video, labelled FAQ_LABEL."""
    return {
        "kind": "faq",
        "faq_id": faq.pk,
        "label": FAQ_LABEL,
        "video_id": None,
        "video_title": f"{FAQ_LABEL} — {creator.company_name}",
        "start": None,
        "end": None,
        "quote": faq.answer[:300],
        "score": round(score, 3),
        "n": 1,
    }


def faq_answer(*, creator: Creator, question: str) -> dict | None:
    """The answer path's hook: {"answer": Markdown, "citations": [faq citation],
    "covered": True, "faq_id"} when a FAQ entry answers `question`, else None."""
    found = faq_match(creator=creator, question=question)
    if found is None:
        return None
    faq, score = found
    text = (
        f"**{FAQ_LABEL}** — {creator.company_name} answered a similar question "
        f"(“{faq.question}”):\n\n{faq.answer}"
    )
    return {
        "answer": text,
        "citations": [faq_citation(faq, score, creator)],
        "covered": True,
        "faq_id": faq.pk,
    }
