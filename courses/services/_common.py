"""Input cleaning shared by the courses services: DomainError with field messages, titles,
non-negative numbers."""

from __future__ import annotations

import math
from typing import Any

from chronos.errors import DomainError

TITLE_MAX = 200


def _invalid(fields: dict[str, list[str]]) -> DomainError:
    """Bad input: a DomainError naming its fields (the message repeats the first one)."""
    first = next((m for msgs in fields.values() for m in msgs), "Invalid input.")
    return DomainError(first, fields=fields)


def _clean_title(title: Any, field: str = "title") -> str:
    text = (title or "").strip() if isinstance(title, str) else ""
    if not text:
        raise _invalid({field: ["A title is required."]})
    if len(text) > TITLE_MAX:
        raise _invalid({field: [f"Titles are limited to {TITLE_MAX} characters."]})
    return text


def _num(value: Any, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError
    return number
