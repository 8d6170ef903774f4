"""What Chronos spent on AI for one creator, from the usage ledger: the Costs page's data,
its Plotly figures (built in Python with plotly.graph_objects; the page renders them with
the plotly.js that the plotly package ships, served at static "vendor/plotly.min.js") and
the CSV export. All amounts are Decimal USD; days are the creator's local days
(Creator.timezone); the period is the creator's calendar month so far.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import plotly.graph_objects as go
from django.db.models import Count, F, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from billing.meters import labels_for
from billing.models import QuestionUsage, UsageLedgerEntry
from creators.models import Creator
from creators.timezones import creator_zone, local_month_bounds

ZERO = Decimal("0")
TOP = 10  # rows in the per-video, per-course and per-student breakdowns
# The app's palette (static/css/app.css) per operation.
OPERATION_COLOURS = {
    "transcription": "#4f46e5",
    "embedding": "#059669",
    "chat": "#b45309",
    "title": "#6b6f85",
}


@dataclass(frozen=True)
class CostReport:
    """Month-to-date spend and its breakdowns; `projected_usd` extends the daily average
    so far to the whole month."""

    creator: Creator
    period_start: datetime
    period_end: datetime
    now: datetime
    total_usd: Decimal
    projected_usd: Decimal
    calls: int
    by_day: list[dict]  # {"day": date, "operation": str, "usd": Decimal}
    by_operation: list[dict]  # {"operation", "calls", "usd"}
    by_video: list[dict]  # {"label", "usd", "calls"}
    by_course: list[dict]  # {"label", "usd", "calls"}
    top_students: list[dict]  # {"label", "usd", "questions"}

    @property
    def days_in_period(self) -> int:
        return max(1, round((self.period_end - self.period_start).total_seconds() / 86400))


def cost_report(*, creator: Creator, now: datetime | None = None) -> CostReport:
    """The creator's ledger for its current calendar month (Creator.timezone), so far."""
    now = now or timezone.now()
    start, end = local_month_bounds(creator=creator, at=now)
    ledger = UsageLedgerEntry.objects.filter(
        creator=creator, created_at__gte=start, created_at__lt=end
    )
    totals = ledger.aggregate(usd=Sum("usd"), calls=Count("id"))
    total = totals["usd"] or ZERO
    elapsed = max((now - start).total_seconds(), 3600.0)
    projected = (total * Decimal((end - start).total_seconds()) / Decimal(elapsed)).quantize(
        Decimal("0.01")
    )
    zone = creator_zone(creator)
    by_day = [
        {"day": r["day"], "operation": r["operation"], "usd": r["usd"] or ZERO}
        for r in ledger.annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day", "operation")
        .annotate(usd=Sum("usd"))
        .order_by("day", "operation")
    ]
    by_operation = [
        dict(r)
        for r in ledger.values("operation")
        .annotate(calls=Count("id"), usd=Sum("usd"))
        .order_by("-usd", "operation")
    ]

    def grouped(field: str, kind: str) -> list[dict]:
        rows = list(
            ledger.exclude(**{f"{field}__isnull": True})
            .values(field)
            .annotate(calls=Count("id"), usd=Sum("usd"))
            .order_by("-usd", field)[:TOP]
        )
        labels = labels_for(kind, creator, [r[field] for r in rows])
        return [
            {"label": labels[r[field]], "usd": r["usd"] or ZERO, "calls": r["calls"]} for r in rows
        ]

    questions = dict(
        QuestionUsage.objects.filter(
            creator=creator, asked_at__gte=start, asked_at__lt=end, user__isnull=False
        )
        .values_list("user")
        .annotate(n=Count("id"))
    )
    spend = {
        r["user"]: r
        for r in ledger.exclude(user__isnull=True)
        .values("user")
        .annotate(usd=Sum("usd"), name=F("user__display_name"), email=F("user__email"))
    }
    people = set(questions) | set(spend)
    names = {}
    if people:
        from creators.models import User

        names = {u.pk: str(u) for u in User.objects.filter(pk__in=people)}
    top_students = sorted(
        (
            {
                "label": names.get(pk, f"Student #{pk}"),
                "usd": (spend.get(pk) or {}).get("usd") or ZERO,
                "questions": questions.get(pk, 0),
            }
            for pk in people
        ),
        key=lambda r: (-r["usd"], -r["questions"], r["label"]),
    )[:TOP]
    return CostReport(
        creator=creator,
        period_start=start,
        period_end=end,
        now=now,
        total_usd=total,
        projected_usd=projected,
        calls=totals["calls"] or 0,
        by_day=by_day,
        by_operation=by_operation,
        by_video=grouped("video_id", "video"),
        by_course=grouped("course_id", "course"),
        top_students=top_students,
    )


# --- Figures ---------------------------------------------------------------------------------


def _layout(fig: go.Figure, *, height: int = 280, **extra) -> dict:
    """The Costs page's common look (the app's font and colours), `extra` overriding it."""
    layout = {
        "height": height,
        "autosize": True,
        "margin": {"l": 48, "r": 12, "t": 12, "b": 36},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif"},
        "legend": {"orientation": "h", "y": -0.18, "x": 0},
        "yaxis": {"gridcolor": "#eef0f6", "rangemode": "tozero", "tickprefix": "$"},
        "xaxis": {"gridcolor": "#eef0f6"},
    }
    layout.update(extra)
    fig.update_layout(**layout)
    return fig.to_plotly_json()


def _days(report: CostReport) -> list[date]:
    zone = creator_zone(report.creator)
    first = report.period_start.astimezone(zone).date()
    last = report.now.astimezone(zone).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def figure_by_day(report: CostReport) -> dict:
    """Stacked bars: USD per local day of the month so far, one colour per operation."""
    days = _days(report)
    fig = go.Figure()
    operations = sorted({r["operation"] for r in report.by_day})
    for op in operations:
        per_day = {r["day"]: r["usd"] for r in report.by_day if r["operation"] == op}
        fig.add_bar(
            x=[d.isoformat() for d in days],
            y=[float(per_day.get(d, ZERO)) for d in days],
            name=op.capitalize(),
            marker_color=OPERATION_COLOURS.get(op, "#6b6f85"),
        )
    return _layout(fig, barmode="stack")


def figure_bars(rows: list[dict], *, colour: str = "#4f46e5") -> dict:
    """Horizontal bars of USD per label (largest on top)."""
    rows = list(reversed(rows))
    fig = go.Figure(
        go.Bar(
            x=[float(r["usd"]) for r in rows],
            y=[r["label"] for r in rows],
            orientation="h",
            marker_color=colour,
        )
    )
    return _layout(
        fig,
        height=max(160, 44 + 30 * len(rows)),
        xaxis={"gridcolor": "#eef0f6", "tickprefix": "$", "rangemode": "tozero"},
        yaxis={"automargin": True},
    )


def figure_by_operation(report: CostReport) -> dict:
    rows = [
        {"label": r["operation"].capitalize(), "usd": r["usd"] or ZERO} for r in report.by_operation
    ]
    return figure_bars(rows, colour="#059669")


# --- CSV ------------------------------------------------------------------------------------

CSV_HEADER = [
    "created_at",
    "operation",
    "provider",
    "model",
    "units",
    "unit",
    "usd",
    "subject",
    "video_id",
    "course_id",
    "student",
]


def cost_csv(*, creator: Creator, now: datetime | None = None) -> str:
    """Every ledger row of the creator's current month as CSV (UTF-8 text, USD as decimal
    strings, created_at ISO 8601 in Creator.timezone)."""
    now = now or timezone.now()
    start, end = local_month_bounds(creator=creator, at=now)
    zone = creator_zone(creator)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    rows = (
        UsageLedgerEntry.objects.filter(creator=creator, created_at__gte=start, created_at__lt=end)
        .select_related("user")
        .order_by("created_at", "pk")
    )
    for e in rows.iterator():
        writer.writerow(
            [
                e.created_at.astimezone(zone).isoformat(),
                e.operation,
                e.provider,
                e.model,
                e.units,
                e.unit,
                e.usd,
                _csv_safe(e.subject),
                e.video_id or "",
                e.course_id or "",
                _csv_safe(str(e.user)) if e.user_id else "",
            ]
        )
    return out.getvalue()


def _csv_safe(text: str) -> str:
    """Defuse spreadsheet formulas (a cell starting with = + - @ is read as one)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
