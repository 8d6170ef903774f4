"""How far students get: the course funnel, the progress spread, cohort retention."""

from __future__ import annotations

from analytics.figures.base import OK, PRIMARY, Chart, layout


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
        "layout": layout(title, hovermode="closest", margin={"l": 96, "r": 12, "t": 44, "b": 24}),
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
        "layout": layout(title, hovermode="closest"),
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
        "layout": layout(
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
