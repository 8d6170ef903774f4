"""Creator FAQ: the creator's own answers to questions the videos did not cover.

The analytics page's "Answer this" calls `faq_create_from_message`, with the creator's
words, or with one of the closest moments the refusal offered that the creator confirms
answers it ("This moment answers it"), or both; the tutor's answer path calls `faq_answer`
(one call, before retrieval): when a new question is similar enough to a FAQ entry's
question, the tutor answers with the creator's words and/or cites that moment, labelled as
the creator's answer.

Similarity: both questions are reduced to their English lexemes by Postgres
(`to_tsvector('english', ...)`: stemmed, stop words dropped — the same configuration the
transcript search uses); the Jaccard similarity of the two lexeme sets must reach
FAQ_SIMILARITY and they must share at least FAQ_MIN_SHARED lexemes (or all of a shorter
question's). "How does the wick draw up wax?" and "how do wicks draw wax up" are equal sets.
"""

from __future__ import annotations

from collections.abc import Collection

from django.db import connection, transaction
from django.http import Http404

from chat.models import ChatMessage, CreatorFAQ
from chat.selectors import nearest_offered
from chronos.db import prepared_cursor
from chronos.errors import DomainError
from creators.models import Creator, User
from videos.models import Video

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
    moment: dict | None = None,
) -> CreatorFAQ:
    """Store the creator's answer to `question`: their words (`answer`) and/or a `moment`
    of their videos ({video_id, start, end (seconds), quote}, a citation dict). Raises
    DomainError with fields {"answer": [...]} for neither, or too long an answer,
    {"question": [...]} for an empty question, {"moment": [...]} for a moment whose video
    is not one of the creator's processed videos."""
    question = " ".join((question or "").split())
    answer = (answer or "").strip()
    if not question:
        raise DomainError.for_field("question", "The question is empty.")
    video = None
    if moment is not None:
        video = Video.objects.filter(
            creator=creator, pk=moment.get("video_id"), status=Video.Status.COMPLETED
        ).first()
        if video is None:
            raise DomainError.for_field("moment", "That video is no longer in your library.")
    if not answer and video is None:
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
        video=video,
        start=float(moment["start"]) if video else None,
        end=float(moment["end"]) if video else None,
        quote=str(moment.get("quote") or "")[:2000] if video else "",
    )


def faq_create_from_message(
    *, creator: Creator, user: User, message_id: int, answer: str, moment: int | None = None
) -> CreatorFAQ:
    """ "Answer this" on a student's question (a user ChatMessage of `creator`): `answer`,
    the creator's words, and/or `moment`, the index (0-based) of one of the closest moments
    the tutor's reply to it offered (ChatMessage.nearest) that the creator confirms.

    Raises Http404 when the message is not one of the creator's student questions,
    DomainError ({"moment": [...]}) for a moment the reply did not offer, and as faq_create
    does. The caller has checked that `user` manages `creator`.
    """
    message = ChatMessage.objects.filter(
        creator=creator, pk=message_id, role=ChatMessage.Role.USER
    ).first()
    if message is None:
        raise Http404("No such question.")
    chosen = None
    if moment is not None:
        offered = nearest_offered(creator=creator, question_ids=[message.pk]).get(message.pk, [])
        if not 0 <= moment < len(offered):
            raise DomainError.for_field("moment", "That moment is no longer offered.")
        chosen = offered[moment]
    return faq_create(
        creator=creator,
        user=user,
        question=message.content,
        answer=answer,
        source_message=message,
        moment=chosen,
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
    return CreatorFAQ.objects.select_related("video").get(pk=best[0]), best[1]


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


def faq_answer(
    *, creator: Creator, question: str, video_ids: Collection[int] | None = None
) -> dict | None:
    """The answer path's hook: {"answer": Markdown, "citations": [...], "covered": True,
    "faq_id"} when a FAQ entry answers `question`, else None. Citations: the confirmed
    moment first (a video citation, marker [1]) when the entry has one and its video is in
    `video_ids` (the question's scope: a locked lesson's or another course's video is not
    cited; None: any), then the creator's words (faq_citation) when it has them. An entry
    left with neither answers nothing (the question goes to retrieval)."""
    found = faq_match(creator=creator, question=question)
    if found is None:
        return None
    faq, score = found
    citations: list[dict] = []
    said = (
        f"**{FAQ_LABEL}** — {creator.company_name} answered a similar question (“{faq.question}”)"
    )
    in_scope = video_ids is None or faq.video_id in video_ids
    if faq.video is not None and faq.start is not None and in_scope:
        citations.append(
            {
                "video_id": faq.video_id,
                "video_title": faq.video.title,
                "start": faq.start,
                "end": faq.end if faq.end is not None else faq.start,
                "quote": faq.quote,
                "score": round(score, 3),
                "n": 1,
            }
        )
        said += ": this moment of the videos answers it [1]."
    else:
        said += ":"
    if faq.answer:
        citations.append({**faq_citation(faq, score, creator), "n": len(citations) + 1})
        said += f"\n\n{faq.answer}"
    if not citations:
        return None
    return {"answer": said, "citations": citations, "covered": True, "faq_id": faq.pk}
