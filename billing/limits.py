"""What each tier may do. The numbers are Chronos's own plan limits (see the pricing page
copy in README.md); change them here only."""

from __future__ import annotations

from dataclasses import dataclass

from creators.models import Tier


@dataclass(frozen=True)
class TierLimits:
    max_upload_bytes: int  # one file, bytes
    max_videos: int  # videos in the library (failed ones count until deleted)
    max_storage_bytes: int  # all media, bytes
    monthly_chat_messages: int  # student questions per calendar month


GIB = 1024**3
TIER_LIMITS: dict[str, TierLimits] = {
    Tier.FREE: TierLimits(1 * GIB, 10, 5 * GIB, 1_000),
    Tier.STARTER: TierLimits(2 * GIB, 100, 50 * GIB, 10_000),
    Tier.PRO: TierLimits(5 * GIB, 1_000, 500 * GIB, 100_000),
    Tier.ENTERPRISE: TierLimits(10 * GIB, 100_000, 10_000 * GIB, 10_000_000),
}


def limits_for(tier: str) -> TierLimits:
    """The limits of `tier`; unknown tiers get the free tier's."""
    return TIER_LIMITS.get(tier, TIER_LIMITS[Tier.FREE])
