"""Timestamped lesson notes."""

from __future__ import annotations

from typing import Any

from courses.models import Lesson, LessonNote
from courses.services._common import _invalid, _num
from creators.models import User

NOTE_MAX = 5_000


def _clean_note(text: Any, position: Any) -> tuple[str, float]:
    body = text.strip() if isinstance(text, str) else ""
    if not body:
        raise _invalid({"text": ["Write something first."]})
    if len(body) > NOTE_MAX:
        raise _invalid({"text": [f"Notes are limited to {NOTE_MAX} characters."]})
    try:
        seconds = _num(position)
    except (TypeError, ValueError):
        raise _invalid({"position": ["position must be seconds (>= 0)."]}) from None
    return body, round(float(seconds or 0.0), 3)


def note_create(*, user: User, lesson: Lesson, text: str, position: float) -> LessonNote:
    """A note at `position` seconds of a lesson the caller may open."""
    body, seconds = _clean_note(text, position)
    return LessonNote.objects.create(
        creator_id=lesson.creator_id, lesson=lesson, user=user, position=seconds, text=body
    )


def note_update(*, note: LessonNote, text: str, position: float | None = None) -> LessonNote:
    body, seconds = _clean_note(text, note.position if position is None else position)
    note.text, note.position = body, seconds
    note.save(update_fields=["text", "position", "updated_at"])
    return note


def note_delete(*, note: LessonNote) -> None:
    note.delete()
