"""URL-safe unique names (creator handles, usernames, course slugs), written once."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.text import slugify


def unique_slug(
    text: str, *, queryset: QuerySet, field: str, max_length: int, fallback: str
) -> str:
    """slugify(`text`) cut to `max_length` characters (`fallback` when nothing is left), then
    "-2", "-3"... until no row of `queryset` holds it in `field` ("Acme Academy" ->
    "acme-academy", then "acme-academy-2"). One query. Not a lock: a unique constraint on
    `field` still decides a race."""
    base = slugify(text)[:max_length].strip("-") or fallback
    taken = set(queryset.filter(**{f"{field}__startswith": base}).values_list(field, flat=True))
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate
