"""Template filters of the course pages."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from courses.formatting import description_html

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    """A course description rendered and sanitised (courses.formatting)."""
    return mark_safe(description_html(text))  # sanitised by nh3 in description_html


@register.filter
def percent(fraction) -> int:
    """0-1 -> whole percent 0-100."""
    try:
        return max(0, min(100, round(float(fraction) * 100)))
    except (TypeError, ValueError):
        return 0
