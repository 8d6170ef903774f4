"""A lecture's outline: "what is this lecture about?" answered from its own chunks.

Each chunk (a few minutes of the lecture, in order) contributes its most representative
whole sentence: the one whose words are most characteristic of the chunk, scored as the
sum over its distinct lexemes of (occurrences in the chunk x the creator-wide IDF) divided
by the square root of its lexeme count (Luhn's significant-words idea with TF-IDF weights,
length-normalised so long sentences do not win by size alone).
"""

from __future__ import annotations

import math
import re
from collections import Counter

from django.db import connection

from chat.retrieval.base import Passage, Scope
from chat.retrieval.lexical import lexeme_weights
from chat.retrieval.moments import _sentence_lexemes, split_sentences
from videos.models import VideoChunk

OUTLINE_QUESTION = re.compile(
    r"\b(what(?:'s| is| was)?\s+(?:this|the|that)\s+(?:lecture|video|lesson|talk|session|"
    r"class|course)\s+(?:about|on|covering)|"
    # A summary asked for, not the word: "summarise lecture 2", "give me an overview",
    # "outline of this video" (but "the outline of a large fire" is about flames).
    r"summari[sz]e\b|^\W*(?:please\s+)?(?:summary|outline|overview|recap)\b|"
    r"\b(?:give|show|get|want|need|write|make)\b[^?.]{0,20}\b(?:summary|outline|overview|recap)\b|"
    r"(?:summary|outline|overview|recap)\s+(?:of\s+)?(?:this|the|that|each|both|all)\s+"
    r"(?:lectures?|videos?|lessons?|talks?|sessions?|class(?:es)?|course|series)|"
    r"what does (?:this|the|that) (?:lecture|video|lesson|talk) (?:cover|explain)|"
    r"(?:main|key) (?:ideas|points|topics|takeaways)\b|"
    r"(?:topic|subject)s? of (?:this|the|that) (?:lecture|video|lesson|talk|session|class|course)|"
    r"(?:main|key) (?:idea|point|topic|takeaway) (?:of|in) (?:this |the |that )?"
    r"(?:lecture|video|lesson|talk|part|session|class|episode|chapter)\b)",
    re.IGNORECASE,
)
# "Lecture 2", "lecture II", "part 3" (in a question or a title) and "the second lecture".
_KINDS = r"(?:lecture|video|lesson|talk|part|session|class|episode|chapter)"
_NUMBERED = re.compile(rf"\b{_KINDS}\s+(\d{{1,2}}|[ivxl]{{1,6}})\b", re.IGNORECASE)
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
             "ninth", "tenth")  # fmt: skip
_ORDINAL = re.compile(
    rf"\b({'|'.join(_ORDINALS)}|\d{{1,2}}(?:st|nd|rd|th))\s+{_KINDS}\b", re.IGNORECASE
)
# "What is lecture 2 about?", "what does part 3 cover?"
NUMBERED_ABOUT = re.compile(
    rf"\bwhat(?:'s| is| was| does)?\s+(?:the\s+)?{_NUMBERED.pattern[2:-2]}\s+(?:about|cover)",
    re.IGNORECASE,
)
_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50}
# "What is “<title>” about?": a quoted title followed by "about" asks for that outline.
TITLED_ABOUT = re.compile(
    "[\u201c\"'\u2018][^\u201d\"'\u2019]{3,}[\u201d\"'\u2019]\\s+(?:about|cover)\\b", re.IGNORECASE
)
# Parts listed at most (chunks beyond are merged by taking every n-th).
OUTLINE_MAX_PARTS = 8
# An outline asked of a scope of several videos (no lecture named) covers each of them
# when there are at most this many, with OUTLINE_MAX_PARTS parts shared between them.
OUTLINE_MAX_VIDEOS = 4
# A sentence shorter than this many words does not represent a part.
OUTLINE_MIN_WORDS = 6


def is_outline_question(question: str) -> bool:
    """True for "what is this lecture about?", "summarise this video", "outline", "what is
    lecture 2 about?"..."""
    text = question or ""
    return bool(
        OUTLINE_QUESTION.search(text) or TITLED_ABOUT.search(text) or NUMBERED_ABOUT.search(text)
    )


def _number(token: str) -> int | None:
    """ "2" -> 2, "II" -> 2, "xiv" -> 14, "second" -> 2, "3rd" -> 3; None if not a number."""
    token = token.casefold()
    if token in _ORDINALS:
        return _ORDINALS.index(token) + 1
    digits = token.rstrip("stndrh")
    if digits.isdigit():
        return int(digits)
    if not token or any(c not in _ROMAN for c in token):
        return None
    values = [_ROMAN[c] for c in token]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def lecture_number(text: str) -> int | None:
    """The lecture a text numbers ("Lecture 2", "lecture II", "the second lecture",
    "part 3"), or None when it names none or several."""
    found = {_number(m.group(1)) for m in _NUMBERED.finditer(text or "")}
    found |= {_number(m.group(1)) for m in _ORDINAL.finditer(text or "")}
    found.discard(None)
    return found.pop() if len(found) == 1 else None


def titled_video_id(*, scope: Scope, question: str) -> int | None:
    """The id of the scope's video the question names: by its whole title (case-insensitive;
    the longest title wins, so "Lecture II" beats "Lecture I"), else by number ("lecture
    2", "the second lecture") when exactly one title carries that number; or None."""
    from videos.models import Video

    titles = Video.objects.filter(creator_id=scope.creator_id, pk__in=scope.video_ids)
    return _named(list(titles.values_list("pk", "title")), question)


def video_named_outside(*, scope: Scope, question: str) -> str | None:
    """The title of the creator's processed video that the question names (as
    titled_video_id does) when it is outside the scope (a lesson still locked for the
    student, or a video outside the chat's course), or None."""
    from videos.models import Video

    others = Video.objects.filter(
        creator_id=scope.creator_id, status=Video.Status.COMPLETED
    ).exclude(pk__in=scope.video_ids)
    titles = dict(others.values_list("pk", "title"))
    pk = _named(list(titles.items()), question)
    return titles[pk] if pk is not None else None


def _named(titles: list[tuple[int, str]], question: str) -> int | None:
    """The id among (id, title) pairs that the question names: by whole title (the longest
    wins), else by lecture number when exactly one title carries it."""
    text = (question or "").casefold()
    named = [(len(t), pk) for pk, t in titles if t and t.casefold() in text]
    if named:
        return max(named)[1]
    number = lecture_number(question)
    numbered = [pk for pk, t in titles if number is not None and lecture_number(t) == number]
    return numbered[0] if len(numbered) == 1 else None


def scope_outline(*, scope: Scope) -> list[Passage]:
    """The outline of every video of a scope of 2..OUTLINE_MAX_VIDEOS videos ("give me a
    summary" with no lecture named), video after video, OUTLINE_MAX_PARTS parts in all (at
    least two each); [] for other scopes."""
    videos = scope.video_ids
    if not 2 <= len(videos) <= OUTLINE_MAX_VIDEOS:
        return []
    parts = max(2, OUTLINE_MAX_PARTS // len(videos))
    return [p for v in videos for p in lecture_outline(scope=scope, video_id=v, max_parts=parts)]


def lecture_outline(
    *, scope: Scope, video_id: int, max_parts: int = OUTLINE_MAX_PARTS
) -> list[Passage]:
    """The outline of one video of the scope: one Passage (kind "outline") per chunk, in
    order, at most `max_parts`. [] when the video is not in scope or has no text."""
    if video_id not in scope.video_ids:
        return []
    chunks = list(
        VideoChunk.objects.filter(creator_id=scope.creator_id, video_id=video_id)
        .order_by("chunk_index")
        .values("id", "first_segment_index", "last_segment_index", "video__title")
    )
    if len(chunks) > max_parts:
        step = len(chunks) / max_parts
        chunks = [chunks[int(i * step)] for i in range(max_parts)]
    with connection.cursor() as cur:
        cur.execute(
            'SELECT index, start, "end", text FROM videos_transcriptsegment '
            "WHERE creator_id = %s AND video_id = %s ORDER BY index",
            [scope.creator_id, video_id],
        )
        segments = cur.fetchall()
    passages = []
    parts = []
    for chunk in chunks:
        segs = [
            (i, float(a), float(b), t)
            for i, a, b, t in segments
            if chunk["first_segment_index"] <= i <= chunk["last_segment_index"]
        ]
        sentences = [s for s in split_sentences(segs) if len(s.text.split()) >= OUTLINE_MIN_WORDS]
        if sentences:
            parts.append((chunk, sentences))
    all_sentences = [s for _, ss in parts for s in ss]
    _sentence_lexemes(all_sentences)
    idf = lexeme_weights(scope.creator_id, sorted({lx for s in all_sentences for lx in s.lexemes}))
    used: set[int] = set()
    for chunk, sentences in parts:
        tf = Counter(lx for s in sentences for lx in s.lexemes)

        def weight(s, tf=tf):
            return sum(tf[lx] * idf.get(lx, 0.0) for lx in s.lexemes) / math.sqrt(
                max(len(s.lexemes), 1)
            )

        best = max((s for s in sentences if s.first_segment not in used), key=weight, default=None)
        if best is None:
            continue
        used.add(best.first_segment)
        passages.append(
            Passage(
                video_id=video_id,
                video_title=chunk["video__title"],
                chunk_id=chunk["id"],
                first_segment_index=best.first_segment,
                last_segment_index=best.last_segment,
                start=best.start,
                end=best.end,
                quote=best.text,
                context=" ".join(s.text for s in sentences)[:2000],
                score=1.0,
                coverage=1.0,
                relevance=1.0,
                sentences=[{"text": best.text, "start": best.start, "end": best.end}],
                kind="outline",
            )
        )
    return passages
