"""Template filters for plan pages: decimal byte sizes (GB = 10**9 bytes) and limits."""

from __future__ import annotations

from django import template

from billing.format import human_bytes

register = template.Library()


@register.filter
def bytes_decimal(value: int | None) -> str:
    """12_300_000_000 -> "12.3 GB" (decimal units, as billing.limits); None -> "Unlimited"."""
    if value is None:
        return "Unlimited"
    return human_bytes(int(value))
