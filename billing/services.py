"""Writes to the usage ledger."""

from __future__ import annotations

from decimal import Decimal

from billing.models import UsageLedgerEntry
from creators.models import Creator


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
) -> UsageLedgerEntry:
    """Append one ledger row for a paid call. `usd` comes from billing.prices."""
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
    )
