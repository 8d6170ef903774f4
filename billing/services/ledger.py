"""Writes to the usage ledger: one row per paid provider call (what Chronos spent on AI)."""

from __future__ import annotations

import re
from decimal import Decimal

from billing.models import UsageLedgerEntry
from creators.models import Creator, User

_VIDEO_SUBJECT = re.compile(r"^video:(\d+)$")


def usage_record(
    *,
    creator: Creator,
    operation: str,
    provider: str,
    model: str,
    units: float | int | Decimal,
    unit: str,
    usd: Decimal,
    subject: str = "",
    metadata: dict | None = None,
    user: User | None = None,
    video_id: int | None = None,
    course_id: int | None = None,
) -> UsageLedgerEntry:
    """Append one ledger row for a paid call. `usd` (Decimal USD) comes from billing.prices.

    `user` is the student whose question caused the call (chat), `video_id` the video
    processed (read from a "video:<id>" subject when not given), `course_id` the course the
    question was asked in; all optional, they feed the Costs page's breakdowns.
    """
    if video_id is None and (match := _VIDEO_SUBJECT.match(subject or "")):
        video_id = int(match.group(1))
    return UsageLedgerEntry.objects.create(
        creator=creator,
        operation=operation,
        provider=provider,
        model=model,
        units=Decimal(str(units)),
        unit=unit,
        usd=usd,
        subject=subject,
        metadata=metadata or {},
        user=user,
        video_id=video_id,
        course_id=course_id,
    )
