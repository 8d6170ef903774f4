"""Moment-level retrieval: candidate windows of a few cues, scored by a learned fusion of
full text and vector similarity, pinpointed to the sentence that answers.

1. Candidates: the SegmentWindows (3 consecutive cues, stride 1) inside the best
   LEXICAL_CHUNKS chunks of the full-text ranking, plus the windows the vector index
   returned, plus (asked from a lesson) the windows around the player's position, plus
   (a follow-up) the windows around the moments the previous answer cited.
2. Features per window: `lex`, the IDF-weighted share (0-1) of the question's lexemes the
   window contains; `cos`, its cosine similarity to the question (0 without vectors).
3. Score z = w_lex * lex + w_cos * cos, plus w_ctx times the mean z of the neighbouring
   candidate windows (an answer is a passage: support from the cues around a window),
   plus a position prior near the player or the previous answer's moments; weights and the
   "not covered" floor LEARNED on the development set by bench/fit_retrieval.py and stored
   with their provenance in chat/retrieval/learned.json (one set per configuration: with
   vectors, full text only). A convex/linear fusion of normalised scores, tuned, beats
   reciprocal rank fusion (Bruch, Gai & Ingber, "An Analysis of Fusion Functions for Hybrid
   Retrieval", ACM TOIS 2023) and keeps an absolute score to test the floor on.
4. Distinct moments: best first, a window overlapping or touching an already chosen one in
   the same video is skipped; at most top_k, each above the floor (the first is kept for
   inspection even under it).
5. Pinpoint: the window's transcript (with two cues of context each side) is split into
   sentences; the answering sentence is the one inside the window holding most of the
   question's (IDF-weighted) lexemes, the earliest on a tie. An answer is a passage: the
   citation starts at the first of the contiguous sentences before it that still hold a
   learned share of its coverage (moment_passage), where that sentence starts
   (interpolated inside its cue by character offset), and runs, in whole sentences, to
   the end of the window.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection

from chat.retrieval.base import ChunkHit, Passage, Scope, text_lexemes
from chronos.db import prepared_cursor

LEARNED_FILE = Path(__file__).resolve().parent / "learned.json"
# Chunks of the full-text ranking whose windows become candidates (a chunk holds ~35).
LEXICAL_CHUNKS = 8
# Asked from a lesson: windows up to this many seconds before the player's position (and
# POSITION_AHEAD after it) are candidates, with a prior that decays with distance in
# seconds (e-folding POSITION_DECAY). The prior's weight is not learned (the set has no
# player positions): it is the score of a window holding half the question's lexemes, so
# "what did he just say?" lands near the player while a specific question still wins.
POSITION_BEFORE = 60.0
POSITION_AHEAD = 5.0
POSITION_DECAY = 30.0
# A follow-up: windows up to NEAR_SECONDS before or after a moment the previous answer cited
# are candidates, with the player's prior (decaying with the gap in seconds, e-folding
# POSITION_DECAY). What a follow-up asks about ("How bright is it?", "Why is it there?") is
# most often said next to what was just answered: the conversation is at that moment the
# way a lesson's chat is at the player's.
NEAR_SECONDS = 60.0
# Neighbouring windows (cue offsets each side) whose scores support a window (the learned
# w_ctx weighs their mean; bench/fit_retrieval.py fits it).
CONTEXT_WINDOWS = 2
# Cues of context fetched each side of a window (whole sentences, LLM context).
CONTEXT_SEGMENTS = 2
# Extra cues fetched before that context so the first sentence found there can be dropped
# (a fetched range that starts mid-sentence must not make a clause look like a sentence
# start) and a cited passage can begin a few sentences before its window (moment_passage:
# on the development set the passage's first sentence starts at most 7 cues before it).
LOOKBACK_SEGMENTS = 6
_ABBREVIATIONS = ("Mr.", "Mrs.", "Dr.", "St.", "Prof.", "vs.", "e.g.", "i.e.", "fig.")


@functools.cache
def learned() -> dict:
    """The learned fusion parameters: {"hybrid": {...}, "fulltext": {...}, "provenance"}."""
    return json.loads(LEARNED_FILE.read_text())


def fusion_params(*, vectors: bool) -> dict:
    """{w_lex, w_cos, w_ctx, floor} for a configuration (with vectors or full text only)."""
    return learned()["hybrid" if vectors else "fulltext"]


def question_floor(params: dict, *, unknown_share: float, vocabulary: int | None = None) -> float:
    """The "not covered" floor for one question: the learned floor plus w_unknown times
    the IDF-weighted share (0-1) of the question's lexemes that no chunk of the library
    holds (names of the library and misspellings of its words already set aside). A word
    the videos never say is evidence that the question is about something else ("How do
    fireflies produce their light?" over lectures on candle flames), so such a question
    needs a stronger match to be answered. It decides coverage (the best moment); the
    other moments cited beside it need the learned floor alone (on the development set
    holding them to this one too cut start@5 from 0.774 to 0.750 in sample).
    vocabulary: the library's distinct lexemes (lexical.vocabulary_size). A small library
    leaves more words unsaid by chance, so the term is scaled by vocabulary_scale.
    params: a fusion_params() dict (w_unknown 0 when absent); bench/fit_retrieval.py
    learns floor and w_unknown together (most in-scope questions answered at their moment
    with no out-of-scope question answered)."""
    scale = vocabulary_scale(vocabulary) if vocabulary is not None else 1.0
    return params["floor"] + params.get("w_unknown", 0.0) * unknown_share * scale


def vocabulary_scale(vocabulary: int) -> float:
    """0-1: how far an unsaid word counts in a library of `vocabulary` distinct lexemes,
    against the library w_unknown was learned on (learned.json provenance
    "library_lexemes"; 1.0 at or above it, or when unknown). By Zipf's law the share of
    running English text that a vocabulary of its V commonest words covers grows as
    H(V) ~ ln V + 0.5772 (Euler-Mascheroni), so the chance that a question's word is one a
    library says grows that way too: the scale is H(V) / H(reference). A 61-cue excerpt
    (~380 lexemes) weighs an unsaid word 0.83 of the set's 4 lectures (1,332)."""
    reference = learned()["provenance"].get("library_lexemes")
    if not reference or vocabulary >= reference:
        return 1.0
    euler = 0.5772156649
    return max(0.0, math.log(max(vocabulary, 1)) + euler) / (math.log(reference) + euler)


@dataclass
class Window:
    """A candidate moment: a SegmentWindow with its features and score."""

    id: int
    video_id: int
    chunk_id: int
    first: int
    last: int
    start: float
    end: float
    lexemes: set[str]
    cos: float = 0.0
    lex: float = 0.0
    score: float = 0.0
    # The part of score owed to the previous answer's moments (score_windows' `near`): it
    # orders, but a moment must reach the floor without it (evidence, not proximity).
    near_prior: float = 0.0

    @property
    def evidence(self) -> float:
        """The score without the follow-up's proximity prior."""
        return self.score - self.near_prior


@dataclass
class Sentence:
    """A whole sentence of a transcript: text, start/end in seconds, the segment indices it
    starts and ends in, and the IDF-weighted share of the question's lexemes it holds."""

    text: str
    start: float
    end: float
    first_segment: int
    last_segment: int
    coverage: float = 0.0
    lexemes: set[str] = field(default_factory=set)


def candidate_windows(
    scope: Scope,
    lexical: list[ChunkHit],
    vector_windows: list[tuple[int, float | None]],
    *,
    vector=None,
    model: str = "",
    position: tuple[int, float] | None = None,
    near: Sequence[tuple[int, float, float]] = (),
    lexemes: list[str] | None = None,
    version: str | None = None,
) -> list[Window]:
    """The candidate windows with their lexemes and (when `vector` is given) their cosine
    similarity under `model`. position: (video_id, seconds) of the player, or None. near:
    the previous answer's cited moments [(video_id, start, end)] in seconds (a follow-up),
    whose surroundings (NEAR_SECONDS each side) are candidates too.
    lexemes: the question's; when given, a window carries only those of them it contains
    (all that scoring reads; PostgreSQL tests each with ts_delete, a binary search, instead
    of ~240 windows' ~30 lexemes each being sent and made into sets in Python), else all
    of its own. version: the creator's library_version; with it and lexemes, a question
    with neither vector windows nor a player position nor moments near reads the windows of
    its chunks from this process's memory (_chunk_windows: the same windows and lexemes)."""
    chunk_ids = [h.chunk_id for h in lexical[:LEXICAL_CHUNKS]]
    window_ids = [w for w, _ in vector_windows]
    spans = anchor_spans(scope, position, near)
    if not chunk_ids and not window_ids and not spans:
        return []
    if version is not None and lexemes is not None and not window_ids and not spans:
        wanted = {lx for lx in lexemes if "\\" not in lx}
        allowed = set(scope.video_ids)
        return [
            Window(id=r[0], video_id=r[1], chunk_id=r[2], first=r[3], last=r[4], start=r[5],
                   end=r[6], lexemes=set(r[7] & wanted))
            for r in _chunk_windows(scope.creator_id, version, chunk_ids)
            if r[1] in allowed
        ]  # fmt: skip
    from chat.retrieval.vector import vector_literal

    # One range test per span (at most 1 + 5), each the index-friendly shape of a player's.
    around = "".join(
        f' OR (w.video_id = %(v{i})s AND w.start <= %(hi{i})s AND w."end" >= %(lo{i})s)'
        for i in range(len(spans))
    )
    ranges = {}
    for i, (video, lo, hi) in enumerate(spans):
        ranges |= {f"v{i}": video, f"lo{i}": lo, f"hi{i}": hi}
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT w.id, w.video_id, w.chunk_id, w.first_segment_index, w.last_segment_index,
                   w.start, w."end",
                   CASE WHEN %(lexemes)s::text[] IS NULL THEN tsvector_to_array(w.search_vector)
                        ELSE ARRAY(SELECT lx FROM unnest(%(lexemes)s::text[]) lx
                                   WHERE length(ts_delete(w.search_vector, lx))
                                         < length(w.search_vector)) END,
                   CASE WHEN %(vec)s::text IS NOT NULL AND w.embedding_model = %(model)s
                        THEN 1 - (w.embedding <=> %(vec)s::vector) END
            FROM videos_segmentwindow w
            WHERE w.creator_id = %(creator)s
              AND (w.chunk_id = ANY(%(chunks)s) OR w.id = ANY(%(ids)s)"""
            + around
            + ")",
            {
                **ranges,
                "vec": vector_literal(vector) if vector is not None else None,
                "model": model,
                "creator": scope.creator_id,
                "chunks": chunk_ids,
                "ids": window_ids,
                "lexemes": lexemes,
            },
        )
        rows = cur.fetchall()
    allowed = set(scope.video_ids)
    return [
        Window(
            id=r[0],
            video_id=r[1],
            chunk_id=r[2],
            first=r[3],
            last=r[4],
            start=float(r[5]),
            end=float(r[6]),
            lexemes={lx for lx in (r[7] or []) if "\\" not in lx},
            cos=float(r[8]) if r[8] is not None else 0.0,
        )
        for r in rows
        if r[1] in allowed
    ]


# Chunks whose windows (with all their lexemes) each process remembers: a chunk holds ~35
# windows of ~30 lexemes, ~40 KB, so ~16 MB.
WINDOW_CACHE_CHUNKS = 400
_windows_by_chunk: dict[tuple[int, str, int], list[tuple]] = {}


def _chunk_windows(creator_id: int, version: str, chunk_ids: list[int]) -> list[tuple]:
    """The windows of `chunk_ids` as (id, video_id, chunk_id, first, last, start, end,
    frozenset of all its lexemes), chunk by chunk. A library version's windows never change
    (a processed video's new windows come with a new version), so each process reads a
    chunk's windows once per version, in one statement for the chunks it has not seen,
    instead of testing ~240 windows against the question's lexemes in PostgreSQL on every
    question (~1.5 ms of PostgreSQL CPU)."""
    known = _windows_by_chunk
    found = {c: known.get((creator_id, version, c)) for c in chunk_ids}
    missing = [c for c, rows in found.items() if rows is None]
    if missing:
        new: dict[int, list[tuple]] = {c: [] for c in missing}
        with prepared_cursor() as cur:
            cur.execute(
                """
                SELECT w.id, w.video_id, w.chunk_id, w.first_segment_index,
                       w.last_segment_index, w.start, w."end", tsvector_to_array(w.search_vector)
                FROM videos_segmentwindow w
                WHERE w.creator_id = %s AND w.chunk_id = ANY(%s::bigint[])
                ORDER BY w.id
                """,
                [creator_id, missing],
            )
            for r in cur.fetchall():
                lexemes = frozenset(sys.intern(lx) for lx in (r[7] or []) if "\\" not in lx)
                new[r[2]].append((*r[:5], float(r[5]), float(r[6]), lexemes))
        if len(known) + len(new) > WINDOW_CACHE_CHUNKS:
            for old in list(known)[: len(known) // 2 + len(new)]:
                known.pop(old, None)
        for c, rows in new.items():
            known[(creator_id, version, c)] = rows
        found.update(new)
    return [r for c in chunk_ids for r in found[c] or ()]


def anchor_spans(
    scope: Scope,
    position: tuple[int, float] | None,
    near: Sequence[tuple[int, float, float]] = (),
) -> list[tuple[int, float, float]]:
    """[(video_id, from, to)] in seconds: where candidate windows are added around the
    player's position (POSITION_BEFORE before it to POSITION_AHEAD after) and around each
    of the previous answer's moments `near` (NEAR_SECONDS each side), videos of `scope` only."""
    spans = []
    if position is not None and position[0] in scope.video_ids:
        spans.append((position[0], position[1] - POSITION_BEFORE, position[1] + POSITION_AHEAD))
    spans += [
        (video, start - NEAR_SECONDS, end + NEAR_SECONDS)
        for video, start, end in near
        if video in scope.video_ids
    ]
    return spans


def score_windows(
    windows: list[Window],
    weights: dict[str, float],
    params: dict,
    *,
    position: tuple[int, float] | None = None,
    near: Sequence[tuple[int, float, float]] = (),
) -> list[Window]:
    """Set each window's lex and score (see module doc); return them best first (ties: the
    earlier moment). weights: {lexeme: IDF} of the question's lexemes. position: the
    player's (video_id, seconds); near: the previous answer's moments [(video_id, start,
    end)]; each adds position_prior decaying with a window's distance in seconds (e-folding
    POSITION_DECAY; the nearest of `near` counts, kept apart in Window.near_prior)."""
    total = sum(weights.values()) or 1.0
    for w in windows:
        w.lex = sum(v for lx, v in weights.items() if lx in w.lexemes) / total
    fuse(windows, params)
    prior = position_prior(params)
    for w in windows:
        if position is not None and w.video_id == position[0]:
            gap = _gap(w, position[1], position[1])
            w.score += prior * math.exp(-gap / POSITION_DECAY)
        gaps = [_gap(w, start, end) for video, start, end in near if video == w.video_id]
        if gaps:
            w.near_prior = prior * math.exp(-min(gaps) / POSITION_DECAY)
            w.score += w.near_prior
    return sorted(windows, key=lambda w: (-w.score, w.video_id, w.first))


def fuse(windows: list[Window], params: dict) -> None:
    """Set each window's score from its lex and cos: w_lex * lex + w_cos * cos, plus w_ctx
    times the mean of that base score over the candidate windows starting up to
    CONTEXT_WINDOWS cues before or after it in the same video. An answer is a passage, so
    a window whose neighbours also match the question is likelier the moment than an
    isolated match (a window with no candidate neighbour gets nothing). params: a
    fusion_params() dict (w_ctx 0 when absent)."""
    for w in windows:
        w.score = params["w_lex"] * w.lex + params["w_cos"] * w.cos
    w_ctx = params.get("w_ctx", 0.0)
    if not w_ctx:
        return
    base = {(w.video_id, w.first): w.score for w in windows}
    for w in windows:
        near = [
            base[(w.video_id, w.first + d)]
            for d in range(-CONTEXT_WINDOWS, CONTEXT_WINDOWS + 1)
            if d and (w.video_id, w.first + d) in base
        ]
        if near:
            w.score += w_ctx * sum(near) / len(near)


def _gap(w: Window, start: float, end: float) -> float:
    """Seconds between window `w` and the span start..end of its video (0 when they meet)."""
    return max(0.0, start - w.end, w.start - end)


def position_prior(params: dict) -> float:
    """The weight of the position prior (the player's, or the previous answer's moments):
    the score of half the lexemes matched."""
    return 0.5 * params["w_lex"]


def distinct_moments(ranked: list[Window], *, top_k: int, floor: float) -> list[Window]:
    """Best-first windows that neither overlap nor touch a better one in the same video; at
    most top_k; all but the first must reach `floor` by their evidence (Window.evidence:
    a follow-up's proximity prior orders moments but cites none on its own), and the first
    too when any does (else it alone is returned, for inspection)."""
    chosen: list[Window] = []
    for w in ranked:
        if len(chosen) >= top_k:
            break
        if chosen and w.evidence < floor:
            if w.score < floor:
                break
            continue
        if any(
            c.video_id == w.video_id and w.first <= c.last + 1 and w.last >= c.first - 1
            for c in chosen
        ):
            continue
        chosen.append(w)
    # A first moment owed to proximity alone is dropped when any moment has the evidence.
    return [c for c in chosen if c.evidence >= floor] or chosen[:1]


def split_sentences(segments: list[tuple[int, float, float, str]]) -> list[Sentence]:
    """Whole sentences of consecutive segments [(index, start, end, text)]. A sentence ends
    at . ! or ? followed by a space (not after a common abbreviation); its start time is
    interpolated inside its cue by character offset."""
    text = ""
    spans: list[tuple[int, int, tuple]] = []  # (char from, char to, segment)
    for seg in segments:
        piece = " ".join((seg[3] or "").split())
        if not piece:
            continue
        if text:
            text += " "
        spans.append((len(text), len(text) + len(piece), seg))
        text += piece
    if not text:
        return []
    bounds = [0]
    for m in re.finditer(r"[.!?][\"'\u201d\u2019)]*\s+", text):
        before = text[: m.start() + 1]
        if before.endswith(_ABBREVIATIONS):
            continue
        bounds.append(m.end())
    bounds.append(len(text))

    def at(offset: int, *, end: bool = False) -> tuple[float, int]:
        for lo, hi, seg in spans:
            if lo <= offset <= hi:
                frac = (offset - lo) / max(hi - lo, 1)
                return seg[1] + frac * (seg[2] - seg[1]), seg[0]
        last = spans[-1][2]
        return (last[2] if end else last[1]), last[0]

    out = []
    for a, b in itertools.pairwise(bounds):
        sentence = text[a:b].strip()
        if not sentence:
            continue
        start, first = at(a)
        end, last = at(b, end=True)
        out.append(Sentence(sentence, round(start, 3), round(end, 3), first, last))
    return out


def _whole_sentences(segments: list[tuple[int, float, float, str]]) -> list[Sentence]:
    """split_sentences, less the first sentence when the segments do not start the
    transcript (it may be the tail of a sentence begun before them) and others remain."""
    sentences = split_sentences(segments)
    if segments and segments[0][0] > 0 and len(sentences) > 1:
        return sentences[1:]
    return sentences


def pinpoint_moments(
    moments: list[Window],
    weights: dict[str, float],
    scope: Scope,
    *,
    passage_share: float | None = None,
) -> list[Passage]:
    """One Passage per moment (see module doc, step 5), in the moments' order.
    passage_share: see moment_passage (None: the citation starts at the answering
    sentence)."""
    sentences, titles = moment_sentences(moments, scope)
    passages = []
    for n, m in enumerate(moments):
        others = [o for o in moments if o is not m]
        p = moment_passage(
            m, sentences.get(n) or [], weights, others=others, passage_share=passage_share
        )
        if p is not None:
            p.video_title = titles.get(n, "")
            passages.append(p)
    return passages


def moment_sentences(
    moments: list[Window], scope: Scope
) -> tuple[dict[int, list[Sentence]], dict[int, str]]:
    """({moment number: the whole sentences around it, with their lexemes}, {moment
    number: its video's title}), read in two queries: the cues from CONTEXT_SEGMENTS +
    LOOKBACK_SEGMENTS before each moment's window to CONTEXT_SEGMENTS after it."""
    if not moments:
        return {}, {}
    ranges = [
        (
            m.video_id,
            max(0, m.first - CONTEXT_SEGMENTS - LOOKBACK_SEGMENTS),
            m.last + CONTEXT_SEGMENTS,
        )
        for m in moments
    ]
    with prepared_cursor() as cur:
        cur.execute(
            """
            SELECT r.n, s.index, s.start, s."end", s.text, v.title
            FROM unnest(%s::int[], %s::bigint[], %s::int[], %s::int[]) AS r(n, vid, lo, hi)
            JOIN videos_transcriptsegment s
                 ON s.video_id = r.vid AND s.index BETWEEN r.lo AND r.hi
            JOIN videos_video v ON v.id = s.video_id AND v.creator_id = %s
            ORDER BY r.n, s.index
            """,
            [
                list(range(len(ranges))),
                [r[0] for r in ranges],
                [r[1] for r in ranges],
                [r[2] for r in ranges],
                scope.creator_id,
            ],
        )
        rows = cur.fetchall()
    segs: dict[int, list[tuple]] = {}
    titles: dict[int, str] = {}
    for n, index, start, end, text, title in rows:
        segs.setdefault(n, []).append((index, float(start), float(end), text))
        titles[n] = title
    per_moment = {n: _whole_sentences(s) for n, s in segs.items()}
    _sentence_lexemes([s for ss in per_moment.values() for s in ss])
    return per_moment, titles


def moment_passage(
    m: Window,
    sentences: list[Sentence],
    weights: dict[str, float],
    *,
    others: Sequence[Window] = (),
    passage_share: float | None = None,
) -> Passage | None:
    """The Passage of moment `m` from the whole sentences around it (moment_sentences);
    None when no sentence reaches into its window. The answering sentence is the one inside
    the window holding most of the question's lexemes (IDF-weighted coverage), the earliest
    on a tie. An answer is a passage: with passage_share (0-1, learned by
    bench/fit_retrieval.py), the citation starts at the first of the contiguous sentences
    just before the answering one that each hold at least that share of its coverage (and
    some of the question's words), so the student lands where the explanation begins;
    it never reaches back into another moment (`others`) of the same video, nor further
    than the sentences read (LOOKBACK_SEGMENTS). The citation runs, in whole sentences, to
    the end of the window. video_title is left empty."""
    total = sum(weights.values()) or 1.0
    for s in sentences:
        s.coverage = sum(v for lx, v in weights.items() if lx in s.lexemes) / total
    inside = [s for s in sentences if s.last_segment >= m.first and s.first_segment <= m.last]
    if not inside:
        return None
    best = max(inside, key=lambda s: (s.coverage, -inside.index(s)))
    first = sentences.index(best)
    if passage_share is not None:
        taken = max(
            (o.last for o in others if o.video_id == m.video_id and o.last < m.first),
            default=-1,
        )
        while first > 0:
            before = sentences[first - 1]
            if before.first_segment <= taken or not (
                before.coverage > 0 and before.coverage >= passage_share * best.coverage
            ):
                break
            first -= 1
    head = sentences[first]
    quoted = [s for s in sentences if s.start >= head.start and s.first_segment <= m.last]
    context = [s for s in sentences if s.end >= head.start - 20 and s.start <= m.end + 20]
    return Passage(
        video_id=m.video_id,
        video_title="",
        chunk_id=m.chunk_id,
        first_segment_index=head.first_segment,
        last_segment_index=max(s.last_segment for s in quoted),
        start=head.start,
        end=max(m.end, quoted[-1].end),
        quote=" ".join(s.text for s in quoted),
        context=" ".join(s.text for s in context),
        score=round(m.score, 4),
        coverage=best.coverage,
        relevance=m.lex,
        fused=m.score,
        sentences=[
            {"text": s.text, "start": s.start, "end": s.end, "coverage": s.coverage} for s in quoted
        ],
    )


def _sentence_lexemes(sentences: list[Sentence]) -> None:
    for s, lexemes in zip(sentences, text_lexemes([s.text for s in sentences]), strict=True):
        s.lexemes = set(lexemes)
