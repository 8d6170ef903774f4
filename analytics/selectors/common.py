"""What every analytics read shares: the range and course filters, the first day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import psycopg
from django.db import connection

from analytics.models import CourseDay
from analytics.ranges import DateRange
from creators.models import Creator


def first_day(*, creator: Creator) -> date | None:
    """The earliest local day with any rollup row (what "all time" starts at). One raw
    statement (every analytics page reads it; the ORM's aggregate cost ~1 ms of Python)."""
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT MIN(day) FROM {CourseDay._meta.db_table} WHERE creator_id = %s", [creator.pk]
        )
        return cur.fetchone()[0]


def in_range(qs: Any, rng: DateRange) -> Any:
    """qs narrowed to rows whose local `day` lies in the range (inclusive)."""
    return qs.filter(day__gte=rng.start, day__lte=rng.end)


def of_course(qs: Any, course_id: int | None, field: str = "course_id") -> Any:
    """qs narrowed to one course (`field` names the course column), or unchanged for None."""
    return qs.filter(**{field: course_id}) if course_id else qs


class ActiveSets:
    """The students active per (course, day) over a span, as bitmasks (ints: bit
    StudentBit.bit per student, from CourseDay.students), and the same CourseDay rows'
    totals. Distinct students over any part of the span and any of its courses are the
    popcount of a union: no read counts distinct StudentDay rows. course_id: the one course
    the masks were read for (None: every course, including activity outside any course
    under the key None). totals: {(course, day): (watch_seconds, questions,
    questions_not_covered, completions)} — what the cards and the daily series sum."""

    def __init__(
        self, start: date, end: date, course_id: int | None, masks: dict, totals: dict
    ) -> None:
        self.start, self.end, self.course_id = start, end, course_id
        self.masks: dict[tuple[int | None, date], int] = masks
        self.totals: dict[tuple[int | None, date], tuple[float, int, int, int]] = totals
        self._days: dict[date, int] | None = None
        self._day_totals: dict[date, list] | None = None

    def days(self) -> dict[date, int]:
        """{day: everyone active that day, any course} (computed once)."""
        if self._days is None:
            self._days = {}
            for (_course, day), mask in self.masks.items():
                self._days[day] = self._days.get(day, 0) | mask
        return self._days

    def day_totals(self) -> dict[date, list]:
        """{day: [watch_seconds, questions, questions_not_covered, completions]}: the totals
        of that day's rows summed over courses (computed once; the cards and the series sum
        these per range or period instead of every (course, day) row each)."""
        if self._day_totals is None:
            out: dict[date, list] = {}
            for (_course, day), (w, q, nc, c) in self.totals.items():
                a = out.get(day)
                if a is None:
                    out[day] = [w, q, nc, c]
                else:
                    a[0] += w
                    a[1] += q
                    a[2] += nc
                    a[3] += c
            self._day_totals = out
        return self._day_totals

    def covers(self, rng: DateRange, course_id: int | None) -> bool:
        """Whether these sets hold every row a read of `rng` and `course_id` needs."""
        return self.start <= rng.start and rng.end <= self.end and self.course_id == course_id

    def union(self, start: date, end: date) -> int:
        """Everyone active on a day in [start, end] (any course), as one mask."""
        out = 0
        for day, mask in self.days().items():
            if start <= day <= end:
                out |= mask
        return out

    def by_day(self, key: Callable[[date], Any], start: date, end: date) -> dict:
        """{key(day): everyone active on the days in [start, end] with that key, any course}."""
        out: dict[Any, int] = {}
        for day, mask in self.days().items():
            if start <= day <= end:
                k = key(day)
                out[k] = out.get(k, 0) | mask
        return out

    def by_course(self, start: date, end: date) -> dict[int | None, int]:
        """{course: everyone active in it on a day in [start, end]} (None: outside courses)."""
        out: dict[int | None, int] = {}
        for (course, day), mask in self.masks.items():
            if start <= day <= end:
                out[course] = out.get(course, 0) | mask
        return out


class _BinaryResults(psycopg.Cursor):
    """A psycopg cursor (server-side binding) whose results come in PostgreSQL's binary
    format: a CourseDay bitmap arrives as its bytes instead of ~500 characters of hex that
    the server encodes and the client decodes (the year's 3,870 rows: ~19 -> ~13 ms of
    Python, less server time). The values are the same Python objects as in text format."""

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None,
                binary: bool | None = None) -> Any:  # fmt: skip
        return super().execute(query, params, prepare=prepare, binary=True)


def binary_cursor() -> Any:
    """A Django cursor (execute wrappers and query logging as for any cursor) on the
    default connection that fetches rows in binary format."""
    connection.ensure_connection()
    connection.validate_thread_sharing()
    # django-stubs type make_cursor's argument as Django's own wrapper; Django passes it the
    # driver's cursor, as here.
    return connection.make_cursor(_BinaryResults(connection.connection))  # type: ignore[arg-type]


def active_sets(*, creator: Creator, rng: DateRange, course_id: int | None = None) -> ActiveSets:
    """ActiveSets of the range (one query: one CourseDay row per course and day)."""
    with binary_cursor() as cur:
        cur.execute(
            "SELECT course_id, day, students, watch_seconds, questions, questions_not_covered, "
            f"completions FROM {CourseDay._meta.db_table} "
            "WHERE creator_id = %s AND day >= %s AND day <= %s"
            + (" AND course_id = %s" if course_id else ""),
            [creator.pk, rng.start, rng.end, *([course_id] if course_id else [])],
        )
        rows = cur.fetchall()
    masks, totals = {}, {}
    for c, d, students, *t in rows:
        masks[c, d] = int.from_bytes(students, "little")
        totals[c, d] = tuple(t)
    return ActiveSets(rng.start, rng.end, course_id, masks, totals)


def active_sets_for(
    active: ActiveSets | None, *, creator: Creator, rng: DateRange, course_id: int | None
) -> ActiveSets:
    """`active` when it covers the read (the dashboard reads them once for every chart),
    else a fresh read of the range."""
    if active is not None and active.covers(rng, course_id):
        return active
    return active_sets(creator=creator, rng=rng, course_id=course_id)
