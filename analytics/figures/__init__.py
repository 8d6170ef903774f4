"""Plotly figures for the analytics pages, built in Python from the selectors' data.

Each builder returns a Chart: a Plotly figure spec ({"data": [...], "layout": {...}}, the
JSON schema plotly.js reads; tests validate every one with plotly.graph_objects.Figure),
its title, and a data-table fallback (headers + rows) for screen readers, no-JS and print.
Figures are plain dicts rather than graph_objects so a page of nine costs microseconds, not
the ~10 ms per figure graph_objects' validation takes. The page loads plotly.js once
(analytics.staticfiles serves the plotly package's own plotly.min.js).

One module per job: base (Chart, palette, layout, formats), activity (per-day series),
videos (top videos, engagement, confusion), progress (funnel, progress spread, cohorts).
"""

from analytics.figures.activity import active_students, questions, student_activity, watch_time
from analytics.figures.base import Chart, fmt_clock, fmt_duration
from analytics.figures.progress import cohorts, funnel, progress
from analytics.figures.videos import confusion, confusion_overview, engagement, top_videos

__all__ = [
    "Chart",
    "active_students",
    "cohorts",
    "confusion",
    "confusion_overview",
    "engagement",
    "fmt_clock",
    "fmt_duration",
    "funnel",
    "progress",
    "questions",
    "student_activity",
    "top_videos",
    "watch_time",
]
