"""Activity over time: active students, watch time, questions, one student's days."""

from __future__ import annotations

from analytics.figures.base import BAD, OK, PRIMARY, Chart, fmt_duration, iso_dates, layout


def active_students(series: dict) -> Chart:
    unit = series["unit"]
    title = f"Active students per {unit}"
    fig = {
        "data": [
            {
                "type": "bar",
                "x": iso_dates(series["x"]),
                "y": series["active_students"],
                "name": "Active students",
                "marker": {"color": PRIMARY},
            }
        ],
        "layout": layout(title),
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
                "x": iso_dates(series["x"]),
                "y": hours,
                "name": "Hours watched",
                "line": {"color": OK, "width": 2},
            }
        ],
        "layout": layout(title),
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


def questions(series: dict) -> Chart:
    unit = series["unit"]
    title = f"Questions per {unit}: covered vs not covered"
    covered = [q - nc for q, nc in zip(series["questions"], series["not_covered"], strict=True)]
    fig = {
        "data": [
            {
                "type": "bar",
                "x": iso_dates(series["x"]),
                "y": covered,
                "name": "Covered",
                "marker": {"color": OK},
            },
            {
                "type": "bar",
                "x": iso_dates(series["x"]),
                "y": series["not_covered"],
                "name": "Not covered",
                "marker": {"color": BAD},
            },
        ],
        "layout": layout(title, barmode="stack"),
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


def student_activity(detail: dict) -> Chart:
    title = "Watch time per day (minutes) and questions"
    fig = {
        "data": [
            {
                "type": "bar",
                "x": iso_dates(detail["x"]),
                "y": [round(s / 60, 1) for s in detail["watch_seconds"]],
                "name": "Minutes watched",
                "marker": {"color": OK},
            },
            {
                "type": "scatter",
                "mode": "markers",
                "x": iso_dates(detail["x"]),
                "y": detail["questions_per_day"],
                "name": "Questions",
                "yaxis": "y2",
                "marker": {"color": BAD, "size": 8},
            },
        ],
        "layout": layout(
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
