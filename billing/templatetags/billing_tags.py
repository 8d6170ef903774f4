"""Template filters for plan pages: decimal byte sizes (GB = 10**9 bytes) and limits."""

from __future__ import annotations

from django import template

from billing.format import human_bytes, human_limit

register = template.Library()


@register.filter
def bytes_decimal(value: int | None) -> str:
    """12_300_000_000 -> "12.3 GB" (decimal units, as billing.limits); None -> "Unlimited"."""
    if value is None:
        return "Unlimited"
    return human_bytes(int(value))


@register.filter
def count_or_unlimited(value: int | None) -> str:
    """1000 -> "1,000"; None -> "Unlimited"."""
    return "Unlimited" if value is None else human_limit(int(value))
