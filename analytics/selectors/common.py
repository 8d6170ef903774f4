"""What every analytics read shares: the range and course filters, the first day."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Min

from analytics.models import CourseDay
from analytics.ranges import DateRange
from creators.models import Creator


def first_day(*, creator: Creator) -> date | None:
    """The earliest local day with any rollup row (what "all time" starts at)."""
    return CourseDay.objects.filter(creator=creator).aggregate(d=Min("day"))["d"]


def in_range(qs: Any, rng: DateRange) -> Any:
    """qs narrowed to rows whose local `day` lies in the range (inclusive)."""
    return qs.filter(day__gte=rng.start, day__lte=rng.end)


def of_course(qs: Any, course_id: int | None, field: str = "course_id") -> Any:
    """qs narrowed to one course (`field` names the course column), or unchanged for None."""
    return qs.filter(**{field: course_id}) if course_id else qs


def monday_sql(column: str) -> str:
    """SQL for the ISO week's Monday of a date `column`, in integer date arithmetic: days
    since a Monday (2000-01-03) modulo 7. extract(isodow) returns numeric, whose arithmetic
    made the year-long weekly count ~40% slower (197 -> 124 ms at 137k StudentDay rows)."""
    return f"({column} - ({column} - DATE '2000-01-03') %% 7)"
