"""Plotly figures for the analytics pages, built in Python from the selectors' data.

Each builder returns a Chart: a Plotly figure spec ({"data": [...], "layout": {...}}, the
JSON schema plotly.js reads; tests validate every one with plotly.graph_objects.Figure),
its title, and a data-table fallback (headers + rows) for screen readers, no-JS and print.
Figures are plain dicts rather than graph_objects so a page of nine costs microseconds, not
the ~10 ms per figure graph_objects' validation takes. The page loads plotly.js once
(analytics.staticfiles serves the plotly package's own plotly.min.js).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from analytics.models import BUCKET_SECONDS
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

    @property
    def data_id(self) -> str:
        """DOM id of the json_script element holding the figure."""
        return f"{self.id}-data"


def _layout(title: str, **extra) -> dict:
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


def _iso(xs: list[date]) -> list[str]:
    return [x.isoformat() for x in xs]


def active_students(series: dict) -> Chart:
    unit = series["unit"]
    title = f"Active students per {unit}"
    fig = {
        "data": [
            {
                "type": "bar",
                "x": _iso(series["x"]),
                "y": series["active_students"],
                "name": "Active students",
                "marker": {"color": PRIMARY},
            }
        ],
        "layout": _layout(title),
    }
    rows = [[x.isoformat(), n] for x, n in zip(series["x"], series["active_students"], strict=True)]
    empty = (
        ""
        if any(series["active_students"])
        else (
            "Students who watch, complete lessons or ask questions appear here, per "
            f"{unit}. Nobody was active in this period yet."
        )
    )
    return Chart("chart-active", title, fig, [unit.capitalize(), "Active students"], rows, empty)


def watch_time(series: dict) -> Chart:
    unit = series["unit"]
    title = f"Watch time per {unit} (hours)"
    hours = [round(s / 3600, 2) for s in series["watch_seconds"]]
    fig = {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "fill": "tozeroy",
                "x": _iso(series["x"]),
                "y": hours,
                "name": "Hours watched",
                "line": {"color": OK, "width": 2},
            }
        ],
        "layout": _layout(title),
    }
    rows = [
        [x.isoformat(), fmt_duration(s)]
        for x, s in zip(series["x"], series["watch_seconds"], strict=True)
    ]
    empty = (
        ""
        if any(series["watch_seconds"])
        else ("Hours of video your students played appear here. No playback in this period yet.")
    )
    return Chart("chart-watch", title, fig, [unit.capitalize(), "Watch time"], rows, empty)


def top_videos(videos: list[dict], limit: int = 10) -> Chart:
    title = "Top videos: watch time and completion rate"
    top = videos[:limit][::-1]  # horizontal bars read top-down
    # Ranks on the axis, titles inside the bars: long titles never squeeze a 375 px plot.
    ranks = [f"#{len(top) - i}" for i in range(len(top))]
    names = [_short(v["title"], 40) for v in top]

    def bars(values, name, color, axis):
        return {
            "type": "bar",
            "orientation": "h",
            "y": ranks,
            "x": values,
            "name": name,
            "text": names,
            "textposition": "inside",
            "insidetextanchor": "start",
            "textfont": {"color": "#ffffff", "size": 11},
            "hovertext": [v["title"] for v in top],
            "marker": {"color": color},
            "xaxis": f"x{axis}",
            "yaxis": f"y{axis}",
        }

    fig = {
        "data": [
            bars([round(v["watch_seconds"] / 3600, 2) for v in top], "Watch time (h)", OK, ""),
            bars(
                [round(100 * v["completion_rate"]) for v in top],
                "Completion rate (%)",
                PRIMARY,
                "2",
            ),
        ],
        "layout": _layout(
            title,
            height=max(340, 120 + 44 * len(top)),
            hovermode="closest",
            xaxis={
                "title": {"text": "hours watched"},
                "rangemode": "tozero",
                "gridcolor": "#eef0f6",
                "anchor": "y",
            },
            yaxis={"domain": [0.6, 1], "automargin": True, "type": "category"},
            xaxis2={
                "title": {"text": "% of viewers who completed"},
                "range": [0, 100],
                "gridcolor": "#eef0f6",
                "anchor": "y2",
            },
            yaxis2={"domain": [0, 0.34], "automargin": True, "type": "category"},
            margin={"l": 36, "r": 12, "t": 44, "b": 40},
        ),
    }
    rows = [
        [
            v["title"],
            fmt_duration(v["watch_seconds"]),
            v["viewers"],
            v["completions"],
            f"{round(100 * v['completion_rate'])}%",
        ]
        for v in videos[:limit]
    ]
    empty = (
        ""
        if videos
        else (
            "Your most watched videos and how many viewers finish them appear here once "
            "students play lessons in this period."
        )
    )
    headers = ["Video", "Watch time", "Viewers", "Completions", "Completion rate"]
    return Chart("chart-top-videos", title, fig, headers, rows, empty)


def _short(text: str, n: int = 28) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def engagement(data: dict, title_suffix: str = "", chart_id: str = "chart-engagement") -> Chart:
    """Unique viewers and replays (plays - unique) per 5-second bucket."""
    title = "Engagement: viewers and replays per 5 s" + (
        f" — {title_suffix}" if title_suffix else ""
    )
    b = data["buckets"]
    xs = [x["start"] for x in b]
    viewers = [x["unique_viewers"] for x in b]
    replays = [x["plays"] - x["unique_viewers"] for x in b]
    fig = {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "fill": "tozeroy",
                "x": xs,
                "y": viewers,
                "name": "Unique viewers",
                "line": {"color": PRIMARY, "width": 2, "shape": "hv"},
            },
            {
                "type": "bar",
                "x": xs,
                "y": replays,
                "name": "Replays",
                "marker": {"color": WARN},
                "opacity": 0.7,
                "width": BUCKET_SECONDS * 0.9,
            },
        ],
        "layout": _layout(
            title,
            xaxis={"title": {"text": "position in the video (s)"}, "gridcolor": "#eef0f6"},
            bargap=0,
        ),
    }
    rows = [
        [fmt_clock(x["start"]), x["unique_viewers"], x["plays"] - x["unique_viewers"]]
        for x in b
        if x["plays"]
    ]
    empty = (
        ""
        if any(viewers)
        else (
            "Where students drop off and what they rewatch, in 5-second steps, appears here once "
            "the video has been played in this period."
        )
    )
    return Chart(chart_id, title, fig, ["Position", "Unique viewers", "Replays"], rows, empty)


def funnel(data: dict) -> Chart:
    title = "Course funnel (students who enrolled in this period)"
    labels = ["Enrolled", "Started", "Reached 50%", "Completed"]
    values = [data["enrolled"], data["started"], data["half"], data["completed"]]
    fig = {
        "data": [
            {
                "type": "funnel",
                "y": labels,
                "x": values,
                "textinfo": "value+percent initial",
                "marker": {"color": [PRIMARY, "#6366f1", "#818cf8", OK]},
            }
        ],
        "layout": _layout(title, hovermode="closest", margin={"l": 96, "r": 12, "t": 44, "b": 24}),
    }
    base = values[0] or 1
    rows = [[lbl, v, f"{round(100 * v / base)}%"] for lbl, v in zip(labels, values, strict=True)]
    empty = (
        ""
        if values[0]
        else (
            "How far students who enrolled in this period got — started, halfway, finished — "
            "appears here. Nobody enrolled in this period."
        )
    )
    return Chart("chart-funnel", title, fig, ["Stage", "Students", "Of enrolled"], rows, empty)


def cohorts(data: dict) -> Chart:
    title = "Retention by weekly enrolment cohort (% active in week N)"
    ys = [f"{c:%d %b} (n={n})" for c, n in zip(data["cohorts"], data["size"], strict=True)]
    z = [[None if v is None else round(100 * v) for v in row] for row in data["retention"]]
    fig = {
        "data": [
            {
                "type": "heatmap",
                "z": z,
                "x": [f"W{w}" for w in data["weeks"]],
                "y": ys,
                "colorscale": [[0, "#eef2ff"], [1, PRIMARY]],
                "zmin": 0,
                "zmax": 100,
                "texttemplate": "%{z}",
                "hoverongaps": False,
                "colorbar": {"title": {"text": "%"}, "thickness": 10},
            }
        ],
        "layout": _layout(
            title,
            height=max(300, 90 + 28 * len(ys)),
            hovermode="closest",
            yaxis={"autorange": "reversed", "automargin": True},
            xaxis={"side": "top", "title": {"text": "weeks since enrolment"}},
            margin={"l": 8, "r": 12, "t": 80, "b": 16},
        ),
    }
    headers = ["Cohort (week of)", "Students", *[f"W{w}" for w in data["weeks"]]]
    rows = [
        [c.isoformat(), n, *["" if v is None else f"{v}%" for v in row]]
        for c, n, row in zip(data["cohorts"], data["size"], z, strict=True)
    ]
    empty = (
        ""
        if ys
        else (
            "Each week's new students and the share still active 1, 2, 3… weeks later appear "
            "here. Nobody enrolled in this period."
        )
    )
    return Chart("chart-cohorts", title, fig, headers, rows, empty)


def questions(series: dict) -> Chart:
    unit = series["unit"]
    title = f"Questions per {unit}: covered vs not covered"
    covered = [q - nc for q, nc in zip(series["questions"], series["not_covered"], strict=True)]
    fig = {
        "data": [
            {
                "type": "bar",
                "x": _iso(series["x"]),
                "y": covered,
                "name": "Covered",
                "marker": {"color": OK},
            },
            {
                "type": "bar",
                "x": _iso(series["x"]),
                "y": series["not_covered"],
                "name": "Not covered",
                "marker": {"color": BAD},
            },
        ],
        "layout": _layout(title, barmode="stack"),
    }
    rows = [
        [x.isoformat(), c, nc]
        for x, c, nc in zip(series["x"], covered, series["not_covered"], strict=True)
        if c or nc
    ]
    empty = (
        ""
        if any(series["questions"])
        else (
            "Questions students ask the tutor appear here, split by whether the videos answered "
            "them. No questions in this period yet."
        )
    )
    return Chart(
        "chart-questions", title, fig, [unit.capitalize(), "Covered", "Not covered"], rows, empty
    )


def confusion(eng: dict, title_suffix: str = "", chart_id: str = "chart-confusion") -> Chart:
    """Questions placed on one video's timeline (heat strip) over its engagement graph."""
    title = "Confusion: questions on the timeline over engagement" + (
        f" — {title_suffix}" if title_suffix else ""
    )
    xs = [b["start"] for b in eng["buckets"]]
    q = {x["start"]: x["count"] for x in eng["questions"]}
    qz = [q.get(x, 0) for x in xs]
    fig = {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "x": xs,
                "y": [b["unique_viewers"] for b in eng["buckets"]],
                "name": "Unique viewers",
                "line": {"color": MUTED, "width": 1.5, "shape": "hv"},
                "yaxis": "y",
            },
            {
                "type": "heatmap",
                "x": xs,
                "y": ["questions"],
                "z": [qz],
                "yaxis": "y2",
                "colorscale": [[0, "#fff7ed"], [0.001, "#fed7aa"], [1, BAD]],
                "showscale": False,
                "name": "Questions",
                "hovertemplate": "%{x}s: %{z} question(s)<extra></extra>",
            },
            {
                "type": "bar",
                "x": xs,
                "y": qz,
                "name": "Questions",
                "yaxis": "y3",
                "marker": {"color": BAD},
                "opacity": 0.55,
                "width": BUCKET_SECONDS * 0.9,
            },
        ],
        "layout": _layout(
            title,
            height=320,
            xaxis={"title": {"text": "position in the video (s)"}, "gridcolor": "#eef0f6"},
            yaxis={
                "domain": [0, 0.82],
                "title": {"text": "viewers"},
                "rangemode": "tozero",
                "gridcolor": "#eef0f6",
            },
            yaxis2={"domain": [0.86, 1], "showticklabels": False},
            yaxis3={
                "dtick": max(1, math.ceil(max(qz, default=0) / 4)),
                "overlaying": "y",
                "side": "right",
                "showgrid": False,
                "rangemode": "tozero",
                "title": {"text": "questions"},
            },
            margin={"l": 48, "r": 40, "t": 44, "b": 40},
        ),
    }
    rows = [[fmt_clock(x), n] for x, n in zip(xs, qz, strict=True) if n]
    empty = (
        ""
        if any(qz)
        else (
            "Questions asked while watching (or answered from this video) are placed on its "
            "timeline here, so you can see where students get confused. None in this period."
        )
    )
    return Chart(chart_id, title, fig, ["Position", "Questions"], rows, empty)


def confusion_overview(data: dict) -> Chart:
    """Videos x timeline heatmap of placed questions (the most asked-about videos)."""
    title = "Where questions come from: videos \u00d7 timeline"
    step = data["bin_seconds"]
    width = max((len(r) for r in data["z"]), default=0)
    ys = [f"{i + 1}. {_short(v['title'], 14)}" for i, v in enumerate(data["videos"])]
    fig = {
        "data": [
            {
                "type": "heatmap",
                "z": data["z"],
                "x": [i * step for i in range(width)],
                "y": ys,
                "colorscale": [[0, "#fff7ed"], [0.001, "#fed7aa"], [1, BAD]],
                "hovertemplate": "%{y} at %{x}s: %{z}<extra></extra>",
                "colorbar": {"thickness": 10},
            }
        ],
        "layout": _layout(
            title,
            height=max(260, 90 + 30 * len(ys)),
            hovermode="closest",
            xaxis={
                "title": {"text": f"position (s, {step}-second bins)"},
                "nticks": 6,
                "tickangle": 0,
            },
            yaxis={"autorange": "reversed", "automargin": True},
            margin={"l": 8, "r": 12, "t": 44, "b": 40},
        ),
    }
    rows = []
    for v, row in zip(data["videos"], data["z"], strict=True):
        for i, n in enumerate(row):
            if n:
                rows.append([v["title"], fmt_clock(i * step), n])
    empty = "" if ys else "No question in this period could be placed on a video yet."
    return Chart("chart-confusion-map", title, fig, ["Video", "From", "Questions"], rows, empty)


def progress(data: list[dict]) -> Chart:
    title = "Progress of active students (share of course lessons completed)"
    fig = {
        "data": [
            {
                "type": "bar",
                "x": [d["label"] for d in data],
                "y": [d["students"] for d in data],
                "marker": {"color": ["#c7d2fe", "#818cf8", PRIMARY, OK]},
                "name": "Students",
            }
        ],
        "layout": _layout(title, hovermode="closest"),
    }
    rows = [[d["label"], d["students"]] for d in data]
    empty = (
        ""
        if any(d["students"] for d in data)
        else (
            "How far through their courses this period's active students are (0-30%, 30-60%, "
            "60-99%, 100%) appears here."
        )
    )
    return Chart("chart-progress", title, fig, ["Progress", "Students"], rows, empty)


def student_activity(detail: dict) -> Chart:
    title = "Watch time per day (minutes) and questions"
    fig = {
        "data": [
            {
                "type": "bar",
                "x": _iso(detail["x"]),
                "y": [round(s / 60, 1) for s in detail["watch_seconds"]],
                "name": "Minutes watched",
                "marker": {"color": OK},
            },
            {
                "type": "scatter",
                "mode": "markers",
                "x": _iso(detail["x"]),
                "y": detail["questions_per_day"],
                "name": "Questions",
                "yaxis": "y2",
                "marker": {"color": BAD, "size": 8},
            },
        ],
        "layout": _layout(
            title,
            yaxis2={"overlaying": "y", "side": "right", "showgrid": False, "rangemode": "tozero"},
        ),
    }
    rows = [
        [x.isoformat(), fmt_duration(w), q]
        for x, w, q in zip(
            detail["x"], detail["watch_seconds"], detail["questions_per_day"], strict=True
        )
        if w or q
    ]
    empty = "" if rows else "This student was not active in this period."
    return Chart("chart-student", title, fig, ["Day", "Watch time", "Questions"], rows, empty)
