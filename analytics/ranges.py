"""The one time range a dashboard page, API call or export obeys.

`?range=7d|30d|90d|all` or `?from=YYYY-MM-DD&to=YYYY-MM-DD` (inclusive local dates in the
creator's time zone). The previous period is the same number of days ending the day before
`from`. Bad input raises chronos.errors.DomainError with a field message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from chronos.errors import DomainError

PRESETS = {"7d": 7, "30d": 30, "90d": 90}
DEFAULT_RANGE = "30d"
# Longest custom range accepted, in days (ten years; keeps charts and queries bounded).
MAX_DAYS = 3660


@dataclass(frozen=True)
class DateRange:
    """Inclusive local dates [start, end]; key is "7d"|"30d"|"90d"|"all"|"custom"."""

    key: str
    start: date
    end: date
    tz: str = "UTC"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> DateRange:
        """The period of equal length just before this one."""
        end = self.start - timedelta(days=1)
        return DateRange("previous", end - timedelta(days=self.days - 1), end, self.tz)

    def bounds_utc(self) -> tuple[datetime, datetime]:
        """[start 00:00 local, day after end 00:00 local) as aware datetimes."""
        zone = zone_for(self.tz)
        lo = datetime.combine(self.start, time.min, tzinfo=zone)
        hi = datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=zone)
        return lo, hi

    def whole_months(self) -> tuple[date, date]:
        """(first, last): the first days of the months the range wholly covers (none when
        first > last) — what month rollups (VideoMonth, QuestionMonth) can answer."""
        first = self.start if self.start.day == 1 else month_after(self.start)
        last = self.end.replace(day=1)
        if (self.end + timedelta(days=1)).day != 1:  # the end's month is not whole
            last = (last - timedelta(days=1)).replace(day=1)
        return first, last

    def query(self) -> str:
        """The URL query that reproduces this range."""
        if self.key in PRESETS or self.key == "all":
            return f"range={self.key}"
        return f"from={self.start.isoformat()}&to={self.end.isoformat()}"

    def label(self) -> str:
        if self.key in PRESETS:
            return f"Last {PRESETS[self.key]} days"
        if self.key == "all":
            return "All time"
        return f"{self.start:%d %b %Y} \u2013 {self.end:%d %b %Y}"


def month_after(month: date) -> date:
    """The first day of the month after `month`'s."""
    return (month.replace(day=1) + timedelta(days=32)).replace(day=1)


def month_sql(column: str) -> str:
    """SQL for the first day of a date column's month (date arithmetic, no time zone)."""
    return f"({column} - (extract(day FROM {column})::int - 1))"


def month_split_ctes(month_table: str) -> str:
    """SQL for two CTEs splitting a range between a monthly rollup and its daily facts:
    `present` (the months from %(first)s to %(last)s that `month_table` holds for
    %(creator)s, one index probe a month) and `other` (the days from %(start)s to %(end)s
    outside those months). Readers sum `present`'s month rows and `other`'s day rows."""
    return f"""
    present AS (
        SELECT m::date AS month
        FROM generate_series(%(first)s::timestamp, %(last)s::timestamp, interval '1 month') m
        WHERE (  -- one index probe a month: the first materialised month from m on (the
                 -- ORDER BY keeps it an index probe; "= m LIMIT 1" was planned as a scan
                 -- of the table, the creator's months being stored in order)
            SELECT month FROM {month_table}
            WHERE creator_id = %(creator)s AND month >= m::date ORDER BY month LIMIT 1
        ) = m::date
    ), other AS (
        SELECT d::date AS day FROM generate_series(%(start)s::date, %(end)s::date, '1 day') d
        WHERE {month_sql("d::date")} NOT IN (SELECT month FROM present)
    )"""


def zone_for(name: str | None) -> ZoneInfo:
    """ZoneInfo for an IANA name; UTC when the name is empty or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_today(tz: str) -> date:
    return timezone.now().astimezone(zone_for(tz)).date()


def _parse_date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise DomainError.for_field(field, f"Use a date like 2026-01-31 (got {value!r}).") from None


def range_parse(params, *, tz: str = "UTC", first_day: date | None = None) -> DateRange:
    """The DateRange asked for by query `params` (a QueryDict or dict).

    `first_day`: the earliest day with data, which "all" starts at (today if None).
    Raises DomainError with fields {"range": [...]} / {"from": [...]} / {"to": [...]}.
    """
    today = local_today(tz)
    raw_from, raw_to = params.get("from") or "", params.get("to") or ""
    if raw_from or raw_to:
        if not (raw_from and raw_to):
            raise DomainError.for_field("from", "Give both from and to dates.")
        start, end = _parse_date(raw_from, "from"), _parse_date(raw_to, "to")
        if end < start:
            raise DomainError.for_field("to", "The end date is before the start date.")
        if (end - start).days + 1 > MAX_DAYS:
            raise DomainError.for_field("from", f"Ranges are limited to {MAX_DAYS} days.")
        return DateRange("custom", start, end, tz)
    key = (params.get("range") or DEFAULT_RANGE).strip().lower()
    if key == "all":
        start = min(first_day or today, today)
        return DateRange("all", start, today, tz)
    if key not in PRESETS:
        raise DomainError.for_field("range", "Range must be 7d, 30d, 90d or all.")
    return DateRange(key, today - timedelta(days=PRESETS[key] - 1), today, tz)


def tz_of(creator) -> str:
    """The creator's IANA time zone (Creator.timezone), "UTC" when unset or unknown."""
    name = getattr(creator, "timezone", "") or "UTC"
    return zone_for(name).key
