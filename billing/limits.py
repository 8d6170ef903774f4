"""The one tier table: what each Chronos plan may do. Change limits here only.

Source: issue #10 ("Plans: one tier table, enforced everywhere"). The seeds' build (the
project this one was rebuilt from, see issue #2's "names from the seeds' schema") carried
eight tier tables that disagreed with each other and enforced none; its latest plan named
the free tier's limits the top monetisation priority. This table replaces all of them and
the earlier free/starter/pro/enterprise numbers of this module (starter became basic by
data migration creators 0004 / billing 0004):

| tier       | videos | storage | 1 file | AI q./month | students | per student | USD/mo |
|------------|--------|---------|--------|-------------|----------|-------------|--------|
| free       | 5      | 1 GB    | 1 GB   | 100         | 10       | 3 in total  | 0      |
| basic      | 50     | 10 GB   | 2 GB   | 1,000       | 100      | 100 / day   | 29     |
| pro        | 500    | 100 GB  | 5 GB   | 10,000      | 1,000    | 500 / day   | 79     |
| enterprise | -      | -       | 10 GB  | -           | -        | -           | 299    |

"-" (None below) means unlimited. GB = 10**9 bytes (decimal, as storage vendors and Whop's
pricing copy count), not GiB. "AI questions / month" counts every question the creator's
students ask in the creator's calendar month (answers served from the cache count too: the
student asked). "Per student" is a day (reset at midnight in Creator.timezone) or the
student's whole life with this creator ("total"). Failed videos count until deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from creators.models import Tier

GB = 10**9  # bytes; decimal gigabyte


@dataclass(frozen=True)
class TierLimits:
    """One row of the table. Counts are ints; sizes are bytes; None = unlimited."""

    tier: str
    videos: int | None  # videos in the library (failed ones count until deleted)
    storage_bytes: int | None  # all media files together
    file_bytes: int  # one upload
    ai_questions_per_month: int | None  # all students together, per calendar month
    students: int | None  # active student memberships (over it: warned, never locked out)
    questions_per_student: int | None  # per `questions_per_student_period`
    questions_per_student_period: Literal["day", "total"]
    price_usd_per_month: Decimal

    @property
    def label(self) -> str:
        return Tier(self.tier).label

    def as_contract(self) -> dict:
        """The `limits` object of GET /api/v1/usage/ (null = unlimited)."""
        return {
            "videos": self.videos,
            "storage_bytes": self.storage_bytes,
            "file_bytes": self.file_bytes,
            "ai_questions_per_month": self.ai_questions_per_month,
            "students": self.students,
            "questions_per_student": self.questions_per_student,
            "questions_per_student_period": self.questions_per_student_period,
        }


TIER_LIMITS: dict[str, TierLimits] = {
    Tier.FREE: TierLimits(Tier.FREE, 5, 1 * GB, 1 * GB, 100, 10, 3, "total", Decimal("0")),
    Tier.BASIC: TierLimits(Tier.BASIC, 50, 10 * GB, 2 * GB, 1_000, 100, 100, "day", Decimal("29")),
    Tier.PRO: TierLimits(Tier.PRO, 500, 100 * GB, 5 * GB, 10_000, 1_000, 500, "day", Decimal("79")),
    Tier.ENTERPRISE: TierLimits(
        Tier.ENTERPRISE, None, None, 10 * GB, None, None, None, "day", Decimal("299")
    ),
}

# Cheapest first: "higher" tiers are the ones after the current one.
TIER_ORDER: tuple[str, ...] = (Tier.FREE, Tier.BASIC, Tier.PRO, Tier.ENTERPRISE)


def limits_for(tier: str) -> TierLimits:
    """The limits of `tier`; an unknown tier gets the free tier's."""
    return TIER_LIMITS.get(tier, TIER_LIMITS[Tier.FREE])


def tiers_above(tier: str) -> list[str]:
    """The tiers more generous than `tier`, cheapest first ([] for enterprise)."""
    index = TIER_ORDER.index(tier) if tier in TIER_ORDER else 0
    return list(TIER_ORDER[index + 1 :])
