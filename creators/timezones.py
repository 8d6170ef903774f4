"""The creator's time zone (Creator.timezone, an IANA name such as "Europe/Paris").

Per-day question allowances reset at midnight in this zone (billing) and analytics buckets
days in it. Names come from the system/`tzdata` IANA database through `zoneinfo`.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.db import transaction

from chronos.errors import DomainError
from creators.models import Creator

DEFAULT_TIMEZONE = "UTC"


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    """Every IANA zone name this machine knows, sorted (for the settings <select>)."""
    return tuple(sorted(available_timezones()))


def creator_zone(creator: Creator) -> ZoneInfo:
    """The creator's ZoneInfo; UTC when the stored name is unknown to this machine."""
    try:
        return ZoneInfo(creator.timezone or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def local_day_bounds(*, creator: Creator, at: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the creator's local calendar day containing `at` (aware datetimes).

    Midnight to midnight in Creator.timezone, so a DST day lasts 23 or 25 hours. Returned
    in UTC: Python subtracts two datetimes of the same zone by wall clock, which would make
    every local day 24 hours long.
    """
    zone = creator_zone(creator)
    local = at.astimezone(zone)
    start = datetime.combine(local.date(), time.min, tzinfo=zone)
    end = datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def local_month_bounds(*, creator: Creator, at: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the creator's local calendar month containing `at` (aware, UTC)."""
    zone = creator_zone(creator)
    local = at.astimezone(zone)
    start = datetime(local.year, local.month, 1, tzinfo=zone)
    end = datetime(local.year + local.month // 12, local.month % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


@transaction.atomic
def creator_timezone_set(*, creator: Creator, timezone: str) -> Creator:
    """Set Creator.timezone to the IANA name `timezone` (surrounding spaces ignored).

    Raises chronos.errors.DomainError (code "invalid_timezone", field "timezone") when the
    name is not an IANA zone known to this machine.
    """
    name = (timezone or "").strip()
    if name not in timezone_names():
        raise DomainError.for_field(
            "timezone",
            f"{name or 'An empty name'} is not a time zone we know. Pick one such as "
            "Europe/London or America/New_York.",
            code="invalid_timezone",
        )
    creator.timezone = name
    creator.save(update_fields=["timezone", "updated_at"])
    return creator
