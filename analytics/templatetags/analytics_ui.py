"""Template filters for the analytics pages (durations, timestamps, deltas)."""

import html

from django import template
from django.conf import settings
from django.template.base import render_value_in_context
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from analytics.figures import fmt_clock, fmt_duration

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """Seconds -> "1h 2m" / "1m 35s" / "7s"."""
    try:
        return fmt_duration(float(seconds))
    except (TypeError, ValueError):
        return ""


@register.filter
def clock(seconds) -> str:
    """Seconds -> "1:05" (player timestamp); "" for None."""
    if seconds is None or seconds == "":
        return ""
    return fmt_clock(float(seconds))


@register.filter
def percent(share) -> str:
    """0.423 -> "42%"."""
    try:
        return f"{round(100 * float(share))}%"
    except (TypeError, ValueError):
        return ""


@register.filter
def card_value(card: dict) -> str:
    """A card's value for display (watch time as a duration)."""
    if card["key"] == "watch_seconds":
        return fmt_duration(card["value"])
    return f"{card['value']:,}"


@register.filter
def card_delta(card: dict) -> str:
    """ "+12% vs previous period" / "-3 vs previous period" / "no change"."""
    delta = card["delta"]
    if not delta:
        return "no change vs previous period"
    sign = "+" if delta > 0 else "\u2212"
    if card["delta_pct"] is not None:
        amount = f"{abs(card['delta_pct'])}%"
    elif card["key"] == "watch_seconds":
        amount = fmt_duration(abs(delta))
    else:
        amount = f"{abs(delta):,}"
    return f"{sign}{amount} vs previous period"


@register.simple_tag(takes_context=True)
def table_rows(context, rows: list[list], columns: int) -> str:
    """A chart's data-table body: one <tr> of <td> cells per row, each cell rendered exactly
    as {{ cell }} would be (localised, escaped); "No rows." spanning `columns` when empty.
    In Python because a year of daily points is thousands of cells, which as template loops
    were most of a cold dashboard's rendering time."""
    if not rows:
        return format_html('<tr><td colspan="{}" class="muted">No rows.</td></tr>', columns)

    plain_ints = not settings.USE_THOUSAND_SEPARATOR

    def cell(value) -> str:  # what localisation leaves unchanged skips it (most cells)
        if type(value) is str:  # django.utils.html.escape's own escaping, without its
            return html.escape(value)  # lazy-string wrapper (thousands of cells a page)
        if type(value) is int and plain_ints:
            return str(value)
        return render_value_in_context(value, context)

    cells = ("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return mark_safe("".join(cells))  # every cell escaped above
