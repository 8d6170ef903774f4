"""Misspelt question words: "how does capilary atraction work?" finds capillary attraction.

A word of the question that is in no chunk of the library, is not an English word and is
one edit away from a word the lectures use (two for words of 8+ letters) is read as that
word. Only such words are touched, so an English word the videos never say keeps counting
against them ("fireflies", "frame" next to "flame": signs of an out-of-scope question),
and so do names and words of the conversation (chat.retrieval.lexical.unsaid_lexemes).
English words: pyspellchecker's frequency list. Edit distance: rapidfuzz (Levenshtein)
over the creator's lexemes (videos.LexemeFrequency), which are stems as PostgreSQL's English
configuration makes them, so the question's word is stemmed the same way first.
"""

from __future__ import annotations

import functools
import re
import threading

from django.db import connection

from videos.models import SEARCH_CONFIG, LexemeFrequency

# Shortest word corrected: under 5 letters one edit turns most words into another word.
MIN_LETTERS = 5
# Edits allowed: one, two from this many letters of the stem on (Peter Norvig's corrector
# and pyspellchecker allow 2 for every word; between short stems two edits reach unrelated
# words too easily).
TWO_EDITS_FROM = 8

_WORD = re.compile(r"[A-Za-z]+")
_english_lock = threading.Lock()


@functools.cache
def _english():
    """pyspellchecker's English word list, loaded once per process, on the first word no
    chunk has (~0.4 s, ~40 MB)."""
    from spellchecker import SpellChecker

    return SpellChecker(language="en", distance=1)


def _english_unknown(words: list[str]) -> set[str]:
    with _english_lock:  # the checker keeps per-call state
        return set(_english().unknown(words))


@functools.lru_cache(maxsize=16)
def _lexicon(creator_id: int, version: str) -> tuple[list[str], dict[str, int]]:
    """([lexeme], {lexeme: ndoc}) of the creator's library at `version` (ndoc > 0)."""
    rows = dict(
        LexemeFrequency.objects.filter(creator_id=creator_id, ndoc__gt=0)
        .exclude(lexeme=LexemeFrequency.TOTAL)
        .values_list("lexeme", "ndoc")
    )
    return list(rows), rows


def spelling_fixes(
    *, creator_id: int, version: str, question: str, unknown: set[str]
) -> dict[str, tuple[str, int]]:
    """{misspelt lexeme: (library lexeme, its ndoc)} for the question's `unknown` lexemes
    (in no chunk, not names or conversation) that come from a word that is not English and
    is within one edit (two from TWO_EDITS_FROM letters) of a lexeme of the creator's
    library at `version` (library_version); the most frequent lexeme wins a tie. {} when
    nothing qualifies. One query (the words' stems) when some word is not English."""
    if not unknown:
        return {}
    words = sorted({w.lower() for w in _WORD.findall(question or "") if len(w) >= MIN_LETTERS})
    foreign = sorted(_english_unknown(words)) if words else []
    if not foreign:
        return {}
    with connection.cursor() as cur:
        cur.execute(
            "SELECT w, tsvector_to_array(to_tsvector(%s::regconfig, w)) "
            "FROM unnest(%s::text[]) AS w",
            [SEARCH_CONFIG, foreign],
        )
        stems = {stem for _w, arr in cur.fetchall() for stem in (arr or []) if stem in unknown}
    if not stems:
        return {}
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    lexemes, ndoc = _lexicon(creator_id, version)
    fixes: dict[str, tuple[str, int]] = {}
    for stem in sorted(stems):
        allowed = 2 if len(stem) >= TWO_EDITS_FROM else 1
        near = process.extract(
            stem, lexemes, scorer=Levenshtein.distance, score_cutoff=allowed, limit=20
        )
        if near:
            best = min(near, key=lambda m: (m[1], -ndoc[m[0]], m[0]))
            fixes[stem] = (best[0], ndoc[best[0]])
    return fixes
