"""Template filters for the analytics pages (durations, timestamps, deltas)."""

from django import template

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
