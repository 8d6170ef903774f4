"""Per-video figures: top videos, the engagement graph, confusion (one video; all videos)."""

from __future__ import annotations

import math

from analytics.figures.base import (
    BAD,
    MUTED,
    OK,
    PRIMARY,
    WARN,
    Chart,
    fmt_clock,
    fmt_duration,
    layout,
    shorten,
)
from analytics.models import BUCKET_SECONDS


def top_videos(videos: list[dict], limit: int = 10) -> Chart:
    title = "Top videos: watch time and completion rate"
    top = videos[:limit][::-1]  # horizontal bars read top-down
    # Ranks on the axis, titles inside the bars: long titles never squeeze a 375 px plot.
    ranks = [f"#{len(top) - i}" for i in range(len(top))]
    names = [shorten(v["title"], 40) for v in top]

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
        "layout": layout(
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
        "layout": layout(
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
        "layout": layout(
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
    ys = [f"{i + 1}. {shorten(v['title'], 14)}" for i, v in enumerate(data["videos"])]
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
        "layout": layout(
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
