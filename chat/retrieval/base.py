"""What retrieval works with: the Scope of a question, its hits and passages, the library
version, the question's lexemes, and the answer-cache key. Constants used across modules."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from chronos.db import prepared_cursor
from chronos.errors import DomainError
from creators.models import Creator
from videos.models import SEARCH_CONFIG, Video

# Top-k passages by default (issue 3).
TOP_K = 5
# Reciprocal rank fusion constant: Cormack, Clarke & Buettcher, "Reciprocal Rank Fusion
# outperforms Condorcet and individual Rank Learning Methods", SIGIR 2009 (k = 60).
RRF_K = 60


@dataclass(frozen=True)
class Scope:
    """What a question searches: one creator's completed videos, maybe narrowed.

    video_ids: the completed video ids searched (sorted); course_id / requested_video_ids
    record how the scope was asked for (for the session and the cache key);
    library_videos: how many completed videos the creator has (0 = unknown), which tells
    the lexical search whether the scope is a small part of the library;
    excluded_video_ids: the creator's other videos (outside the scope, or not completed),
    or None when unknown. When that list is the shorter one, searches filter with "not
    one of these" (a whole-library scope excludes only the few videos still processing).
    """

    creator_id: int
    video_ids: tuple[int, ...]
    course_id: int | None = None
    requested_video_ids: tuple[int, ...] | None = None
    library_videos: int = 0
    excluded_video_ids: tuple[int, ...] | None = None
    # When a drip lock that left a video out opens by itself (None: no lock waits on a
    # date): a remembered scope is not used past it (chat.services.answer.chat_scope).
    valid_until: datetime | None = field(default=None, compare=False)

    def video_filter(self, column: str) -> tuple[str, dict]:
        """SQL restricting `column` (a video id column of a row already restricted to this
        creator) to the scope, with its parameter: ("col = ANY(%(videos)s)", ...) or, when
        shorter, ("NOT (col = ANY(%(excluded)s))", ...)."""
        if self.excluded_video_ids is not None and len(self.excluded_video_ids) < len(
            self.video_ids
        ):
            return f"NOT ({column} = ANY(%(excluded)s))", {
                "excluded": list(self.excluded_video_ids)
            }
        return f"{column} = ANY(%(videos)s)", {"videos": list(self.video_ids)}

    @property
    def key(self) -> str:
        """A stable string naming the searched videos (part of the answer-cache key)."""
        return ",".join(str(v) for v in self.video_ids)


@dataclass
class ChunkHit:
    """One chunk found by a search. bm25: sum of IDF x posting weight over the question's
    lexemes; coverage: IDF-weighted share (0-1) of the question's lexemes in the chunk;
    vector: cosine similarity of its best window (None: not found by vector search);
    best_window: that window's (first, last) segment index; fused: the RRF score."""

    chunk_id: int
    video_id: int
    bm25: float = 0.0
    coverage: float = 0.0
    vector: float | None = None
    best_window: tuple[int, int] | None = None
    fused: float = 0.0


@dataclass
class Passage:
    """One pinpointed citation candidate. Times in seconds; scores in [0, 1].

    quote: the supporting segment text(s); context: the quote with up to two neighbouring
    segments each side (what an LLM reads); coverage: IDF-weighted share of the question's
    lexemes found in the span; relevance: the chunk's coverage (what the floor is tested on).
    """

    video_id: int
    video_title: str
    chunk_id: int
    first_segment_index: int
    last_segment_index: int
    start: float
    end: float
    quote: str
    context: str
    score: float
    coverage: float
    relevance: float
    fused: float = 0.0
    # Whole sentences of the quote from the answering one on: [{text, start, end, coverage}]
    # (moment-level retrieval; the offline answerer explains from them).
    sentences: list[dict] = field(default_factory=list)
    # "moment" (retrieved) or "outline" (a part of a lecture's outline).
    kind: str = "moment"

    def as_citation(self) -> dict:
        return {
            "video_id": self.video_id,
            "video_title": self.video_title,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "quote": self.quote,
            "score": round(self.score, 4),
        }


@dataclass
class RetrievalResult:
    """passages: best first (merged, pinpointed); covered: best relevance >= floor;
    borderline: not covered only because words the videos never say raised this question's
    floor (the best moment reaches the configuration's own floor): a reader of the passages
    (an LLM answerer) decides instead (chat.services.answer)."""

    passages: list[Passage] = field(default_factory=list)
    covered: bool = False
    best_relevance: float = 0.0
    floor: float = 0.0
    empty_library: bool = False
    used_vectors: bool = False
    borderline: bool = False


def scope_resolve(
    *,
    creator: Creator,
    course_id: int | None = None,
    video_ids: list[int] | None = None,
    user=None,
    manager: bool | None = None,
) -> Scope:
    """The Scope for a question. Only `creator`'s completed videos are ever searched.

    course_id: a course of this creator (its lessons' videos); video_ids: videos of this
    creator. Both given -> their intersection. user: the student asking; their locked
    lessons' videos are left out (courses.selectors.unlocked_video_ids; the creator's team
    is not restricted; `manager`: whether `user` is on it, when the caller knows). Raises
    chronos.errors.DomainError (clear message, fields) for a course or video that
    is not this creator's, or ids that are not integers.
    """
    videos = Video.objects.filter(creator=creator)
    statuses = dict(videos.values_list("id", "status"))
    completed = {vid for vid, status in statuses.items() if status == Video.Status.COMPLETED}
    selected = completed
    requested: tuple[int, ...] | None = None
    cid = None
    if course_id not in (None, ""):
        from courses.models import Course, Lesson

        try:
            cid = int(course_id)
        except (TypeError, ValueError):
            raise DomainError.for_field("course_id", "course_id must be an integer.") from None
        if not Course.objects.filter(creator=creator, pk=cid).exists():
            raise DomainError.for_field("course_id", "No such course for this creator.")
        lesson_videos = set(
            Lesson.objects.filter(
                creator=creator, module__course_id=cid, video__isnull=False
            ).values_list("video_id", flat=True)
        )
        selected = selected & lesson_videos
    if video_ids:
        if not isinstance(video_ids, (list, tuple)):
            raise DomainError.for_field("video_ids", "video_ids must be a list of integers.")
        try:
            wanted = {int(v) for v in video_ids}
        except (TypeError, ValueError):
            raise DomainError.for_field("video_ids", "video_ids must be integers.") from None
        known = set(videos.filter(pk__in=wanted).values_list("id", flat=True))
        if known != wanted:
            raise DomainError.for_field("video_ids", "No such video for this creator.")
        requested = tuple(sorted(wanted))
        selected = selected & wanted
    until = None
    if user is not None and not manager:
        from courses.models import Course
        from courses.selectors import unlocked_video_ids_until

        course = Course.objects.filter(creator=creator, pk=cid).first() if cid else None
        allowed, until = unlocked_video_ids_until(
            user=user, creator=creator, course=course, manager=manager
        )
        if allowed is not None:
            selected = selected & allowed
    return Scope(
        creator_id=creator.pk,
        video_ids=tuple(sorted(selected)),
        course_id=cid,
        requested_video_ids=requested,
        library_videos=len(completed),
        excluded_video_ids=tuple(sorted(statuses.keys() - selected)),
        valid_until=until,
    )


def library_version(*, creator: Creator) -> str:
    """A digest of the creator's completed videos (ids and updated_at): it changes whenever
    a video completes, is re-processed, edited or deleted. 32 hex chars."""
    with prepared_cursor() as cur:
        cur.execute(
            """
            SELECT md5(coalesce(string_agg(id::text || ':' || extract(epoch FROM updated_at)::text,
                                           ',' ORDER BY id), ''))
            FROM videos_video WHERE creator_id = %s AND status = %s
            """,
            [creator.pk, Video.Status.COMPLETED],
        )
        return cur.fetchone()[0]


def question_lexemes(question: str) -> list[str]:
    """The question's lexemes as PostgreSQL normalises them (stop words removed), in the
    same configuration as the chunks' search vectors."""
    with prepared_cursor() as cur:
        cur.execute(
            "SELECT tsvector_to_array(to_tsvector(%s::regconfig, %s))",
            [SEARCH_CONFIG, question or ""],
        )
        row = cur.fetchone()
    return [lx for lx in (row[0] or []) if "\\" not in lx]


# Sentences whose lexemes each process remembers (text_lexemes): ~1 KB each, so ~10 MB.
TEXT_LEXEMES_MAX = 10_000
_text_lexemes: dict[str, frozenset[str]] = {}


def text_lexemes(texts: list[str]) -> list[frozenset[str]]:
    """The lexemes of each text (as question_lexemes: PostgreSQL's SEARCH_CONFIG, stop
    words and lexemes with a backslash left out), in order. A text's lexemes depend on
    nothing but the text, so each process remembers them (TEXT_LEXEMES_MAX texts, the
    older half dropped when full) and asks PostgreSQL, in one statement, only for texts it
    has not seen: the sentences around a question's moments (chat.retrieval.moments) are
    mostly the same from one question to the next, and tokenising ~40 of them cost ~2.5
    ms of PostgreSQL CPU per question."""
    known = _text_lexemes
    # Read once: another thread may drop entries meanwhile.
    found: dict[str, frozenset[str] | None] = {t: known.get(t) for t in texts}
    missing = [t for t, lexemes in found.items() if lexemes is None]
    if missing:
        with prepared_cursor() as cur:
            cur.execute(
                "SELECT tsvector_to_array(to_tsvector(%s::regconfig, t)) "
                "FROM unnest(%s::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n",
                [SEARCH_CONFIG, missing],
            )
            new = {
                t: frozenset(lx for lx in (row[0] or []) if "\\" not in lx)
                for t, row in zip(missing, cur.fetchall(), strict=True)
            }
        if len(known) + len(new) > TEXT_LEXEMES_MAX:
            for old in list(known)[: len(known) // 2 + len(new)]:
                known.pop(old, None)
        known.update(new)
        found.update(new)
    return [found[t] or frozenset() for t in texts]


def question_fingerprint(question: str) -> str:
    """Normalised question text for the answer cache: lower case, single spaces, no
    trailing punctuation."""
    text = re.sub(r"\s+", " ", (question or "").strip().lower())
    return text.rstrip(" ?!.")


def cache_key(*, scope: Scope, version: str, question: str, answerer: str) -> str:
    """sha256 hex of (scope, library version, normalised question, answerer)."""
    raw = "\x1f".join(
        [str(scope.creator_id), version, scope.key, question_fingerprint(question), answerer]
    )
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()
