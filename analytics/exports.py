"""CSV exports of one creator's analytics for a date range, streamed in constant memory.

Reports: videos (one row per video), students (one per student), questions (one per
question), watch (one per watch session). Rows come from server-side cursors
(QuerySet.iterator), so a million-row export holds one chunk at a time. Encoding: UTF-8
with a byte-order mark, which Excel needs to read UTF-8 (without it, it guesses the ANSI
code page and mangles non-ASCII names). Times are ISO 8601 in the creator's time zone.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import CharField, Count, Max, Min, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, NullIf
from django.http import StreamingHttpResponse

from analytics import selectors
from analytics.models import QuestionFact, StudentDay, WatchSession
from analytics.ranges import DateRange, zone_for
from chronos.errors import DomainError
from creators.models import Creator

REPORTS = ("videos", "students", "questions", "watch")
BOM = "\ufeff"
CHUNK = 2000
# Characters of CSV per piece sent (~64 KB): memory stays one piece and one cursor chunk.
STREAM_PIECE_CHARS = 64 * 1024


class _Echo:
    """A file-like object whose write() returns the line (Django's streaming-CSV recipe)."""

    def write(self, value: str) -> str:
        return value


def filename(*, handle: str, report: str, rng: DateRange) -> str:
    """`<handle>-<report>-<from>-<to>.csv` with ISO dates."""
    return f"{handle}-{report}-{rng.start.isoformat()}-{rng.end.isoformat()}.csv"


def stream_csv(rows: Iterable[list]) -> Iterator[str]:
    """The BOM, then the rows as CSV lines (RFC 4180 quoting, CRLF line ends), joined into
    pieces of about STREAM_PIECE_CHARS characters: one piece per write to the client
    instead of one per row (a million rows were a million sends)."""
    writer = csv.writer(_Echo())
    piece, size = [BOM], len(BOM)
    for row in rows:
        line = writer.writerow(row)
        piece.append(line)
        size += len(line)
        if size >= STREAM_PIECE_CHARS:
            yield "".join(piece)
            piece, size = [], 0
    if piece:
        yield "".join(piece)


def csv_download(*, creator: Creator, report: str, rng: DateRange) -> StreamingHttpResponse:
    """The report as a streamed CSV attachment (filename(): <handle>-<report>-<from>-<to>.csv),
    for the studio's download and the API's. DomainError (field "report") for an unknown
    report, raised before anything is streamed."""
    rows = report_rows(creator=creator, report=report, rng=rng)
    response = StreamingHttpResponse(stream_csv(rows), content_type="text/csv; charset=utf-8")
    name = filename(handle=creator.handle, report=report, rng=rng)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def report_rows(*, creator: Creator, report: str, rng: DateRange) -> Iterator[list]:
    """Header row then data rows of `report`; DomainError (field "report") for an unknown one."""
    builders = {
        "videos": _videos,
        "students": _students,
        "questions": _questions,
        "watch": _watch,
    }
    if report not in builders:
        raise DomainError.for_field("report", f"report must be one of: {', '.join(REPORTS)}.")
    return builders[report](creator, rng)


def _local(dt, zone) -> str:
    return dt.astimezone(zone).isoformat(timespec="seconds") if dt else ""


def _videos(creator: Creator, rng: DateRange) -> Iterator[list]:
    from videos.models import Video

    yield [
        "video_id",
        "title",
        "duration_seconds",
        "viewers",
        "watch_seconds",
        "completions",
        "completion_rate",
        "questions",
        "questions_not_covered",
    ]
    stats = {v["video_id"]: v for v in selectors.top_videos(creator=creator, rng=rng)}
    qs = (
        QuestionFact.objects.filter(creator=creator, day__gte=rng.start, day__lte=rng.end)
        .exclude(video=None)
        .values_list("video_id")
        .annotate(n=Count("id"), nc=Count("id", filter=Q(covered=False)))
        .order_by()
    )
    questions = {v: (n, nc) for v, n, nc in qs}
    for vid, title, duration in (
        Video.objects.filter(creator=creator)
        .order_by("title", "pk")
        .values_list("pk", "title", "duration_seconds")
        .iterator(chunk_size=CHUNK)
    ):
        s = stats.get(vid, {})
        n, nc = questions.get(vid, (0, 0))
        yield [
            vid,
            title,
            duration if duration is not None else "",
            s.get("viewers", 0),
            s.get("watch_seconds", 0.0),
            s.get("completions", 0),
            s.get("completion_rate", 0.0),
            n,
            nc,
        ]


def _students(creator: Creator, rng: DateRange) -> Iterator[list]:
    from creators.models import User

    yield [
        "user_id",
        "name",
        "email",
        "sessions",
        "watch_seconds",
        "completions",
        "questions",
        "questions_not_covered",
        "first_active",
        "last_active",
    ]
    rows = (
        StudentDay.objects.filter(creator=creator, day__gte=rng.start, day__lte=rng.end)
        .values("user_id")
        .annotate(
            s=Sum("sessions"),
            w=Sum("watch_seconds"),
            c=Sum("completions"),
            q=Sum("questions"),
            nc=Sum("questions_not_covered"),
            first=Min("day"),
            last=Max("day"),
        )
        .order_by("user_id")
    )
    batch: list[dict] = []
    for row in rows.iterator(chunk_size=CHUNK):
        batch.append(row)
        if len(batch) >= CHUNK:
            yield from _student_lines(batch, User)
            batch = []
    yield from _student_lines(batch, User)


def _student_lines(batch: list[dict], user_model) -> Iterator[list]:
    people = {
        u.pk: u
        for u in user_model.objects.filter(pk__in=[r["user_id"] for r in batch]).only(
            "display_name", "email", "username"
        )
    }
    for r in batch:
        person = people.get(r["user_id"])
        yield [
            r["user_id"],
            str(person) if person else "",
            person.email if person else "",
            r["s"],
            round(r["w"] or 0.0, 1),
            r["c"],
            r["q"],
            r["nc"],
            r["first"].isoformat(),
            r["last"].isoformat(),
        ]


@dataclass(frozen=True)
class Col:
    """One CSV column of a fact table: its header, the queryset field (or annotation) it
    reads and how a value is written (default: as is)."""

    header: str
    field: str
    fmt: Callable[[Any], Any] | None = None


def _blank(value: Any) -> Any:
    return "" if value is None else value


def _tenth(value: float | None) -> Any:
    return "" if value is None else round(value, 1)


def _fact_rows(qs: QuerySet, columns: list[Col], order: tuple[str, ...]) -> Iterator[list]:
    """Header row, then one row per object of `qs` in `order`, read in CHUNK-sized pieces
    from a server-side cursor (constant memory)."""
    yield [c.header for c in columns]
    rows = qs.order_by(*order).values_list(*[c.field for c in columns])
    for row in rows.iterator(chunk_size=CHUNK):
        yield [c.fmt(v) if c.fmt else v for c, v in zip(columns, row, strict=True)]


def _questions(creator: Creator, rng: DateRange) -> Iterator[list]:
    zone = zone_for(rng.tz)
    qs = QuestionFact.objects.filter(
        creator=creator, day__gte=rng.start, day__lte=rng.end
    ).annotate(
        student=Coalesce(
            NullIf("user__display_name", Value("")), "user__email", output_field=CharField()
        )
    )
    columns = [
        Col("asked_at", "asked_at", lambda at: _local(at, zone)),
        Col("user_id", "user_id"),
        Col("student", "student", _blank),
        Col("question", "text"),
        Col("covered", "covered", lambda c: "" if c is None else ("yes" if c else "no")),
        Col("course_id", "course_id", _blank),
        Col("video_id", "video_id", _blank),
        Col("video_title", "video__title", _blank),
        Col("position_seconds", "position", _tenth),
        Col("placed_by", "placed_by"),
    ]
    return _fact_rows(qs, columns, ("asked_at", "pk"))


def _watch(creator: Creator, rng: DateRange) -> Iterator[list]:
    zone = zone_for(rng.tz)
    qs = WatchSession.objects.filter(creator=creator, day__gte=rng.start, day__lte=rng.end)
    columns = [
        Col("session_id", "session_id", str),
        Col("user_id", "user_id"),
        Col("video_id", "video_id", _blank),
        Col("lesson_id", "lesson_id", _blank),
        Col("course_id", "course_id", _blank),
        Col("day", "day", lambda d: d.isoformat()),
        Col("started_at", "started_at", lambda at: _local(at, zone)),
        Col("ended_at", "ended_at", lambda at: _local(at, zone)),
        Col("events", "events"),
        Col("watch_seconds", "watch_seconds", _tenth),
        Col("furthest_seconds", "furthest", _tenth),
    ]
    return _fact_rows(qs, columns, ("started_at", "pk"))
