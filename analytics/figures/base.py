"""What every analytics figure shares: the Chart record, the palette, the layout, formats."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from videos.timecodes import format_timestamp

# The app's palette (static/css/app.css :root).
PRIMARY, OK, BAD, MUTED, WARN = "#4f46e5", "#059669", "#dc2626", "#6b6f85", "#b45309"
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif'


@dataclass
class Chart:
    """One chart of a page: id (DOM id), title, figure spec, table fallback, empty text."""

    id: str
    title: str
    figure: dict
    headers: list[str] = field(default_factory=list)
    rows: list[list] = field(default_factory=list)
    empty: str = ""  # non-empty: nothing to draw yet, and why

    @property
    def is_empty(self) -> bool:
        return bool(self.empty)


def layout(title: str, **extra) -> dict:
    layout = {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        "autosize": True,
        "height": 300,
        "margin": {"l": 48, "r": 12, "t": 44, "b": 40},
        "font": {"family": FONT, "size": 12, "color": "#1c1d2b"},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "legend": {"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
        "hovermode": "x unified",
        "xaxis": {"gridcolor": "#eef0f6", "automargin": True},
        "yaxis": {"gridcolor": "#eef0f6", "rangemode": "tozero", "automargin": True},
    }
    layout.update(extra)
    return layout


def fmt_duration(seconds: float) -> str:
    """3725 -> "1h 2m", 95 -> "1m 35s", 7 -> "7s"."""
    s = round(seconds or 0)
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60}m"
    if s >= 60:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s}s"


def fmt_clock(seconds: float) -> str:
    """65 -> "1:05", 3725 -> "1:02:05" (player-style timestamps, videos.timecodes)."""
    return format_timestamp(seconds)


def iso_dates(xs: list[date]) -> list[str]:
    return [x.isoformat() for x in xs]


def shorten(text: str, n: int = 28) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
