"""Upgrades through Whop: each paid tier maps to a Whop plan (PlanTierMapping, editable in
the admin, seeded from settings WHOP_PLAN_BASIC / WHOP_PLAN_PRO / WHOP_PLAN_ENTERPRISE);
"Upgrade" creates a checkout configuration with whop-sdk
(`checkout_configurations.create(plan_id, metadata, redirect_url)` -> purchase_url,
RESEARCH.md) whose metadata {chronos_creator: handle} comes back on the payment, so
payment.succeeded finds the creator (billing.handlers)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError
from django.urls import reverse

from billing.limits import limits_for, tiers_above
from billing.models import PlanTierMapping
from chronos.errors import DomainError, ProviderUnavailable
from creators.models import Creator, Tier

logger = logging.getLogger(__name__)

# Settings that seed PlanTierMapping, per paid tier.
PLAN_SETTINGS: dict[str, str] = {
    Tier.BASIC: "WHOP_PLAN_BASIC",
    Tier.PRO: "WHOP_PLAN_PRO",
    Tier.ENTERPRISE: "WHOP_PLAN_ENTERPRISE",
}


class UpgradeUnavailable(DomainError):
    """Upgrades cannot go through Whop here: the message says what to set (HTTP 503)."""

    status = 503
    code = "whop_not_configured"


def plan_mappings_seed() -> int:
    """Create a PlanTierMapping for each WHOP_PLAN_<TIER> setting not yet mapped (never
    changes a row an admin edited). Returns how many were created. Run after migrate and
    before a checkout."""
    created = 0
    for tier, name in PLAN_SETTINGS.items():
        plan_id = (getattr(settings, name, "") or "").strip()
        if not plan_id or PlanTierMapping.objects.filter(whop_plan_id=plan_id).exists():
            continue
        try:
            PlanTierMapping.objects.create(
                whop_plan_id=plan_id, tier=tier, label=f"{limits_for(tier).label} ({name})"
            )
            created += 1
        except IntegrityError:  # another process seeded it first
            continue
    return created


def upgrade_blocker(*, tiers: list[str]) -> str:
    """Why "Upgrade" to any of `tiers` cannot work here ("" when all can): what to set."""
    missing = [] if settings.WHOP_API_KEY else ["WHOP_API_KEY"]
    mapped = set(PlanTierMapping.objects.values_list("tier", flat=True))
    unmapped = [
        PLAN_SETTINGS[t]
        for t in tiers
        if t in PLAN_SETTINGS and t not in mapped and not getattr(settings, PLAN_SETTINGS[t], "")
    ]
    parts = missing + unmapped
    if not parts:
        return ""
    names = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    text = f"Upgrades are bought on Whop, which is not set up here: set {names}"
    if unmapped:
        text += " (Whop plan ids; or map the plans in the admin, Billing > Plan tier mappings)"
    return text + ", then restart Chronos."


def checkout_url_create(*, creator: Creator, tier: str) -> str:
    """A Whop purchase URL for `creator` to buy `tier` (which must be above its current
    tier). Creates a checkout configuration with plan_id = the tier's Whop plan, metadata
    {"chronos_creator": handle} and redirect_url = the Plan page (absolute, settings.SITE_URL).

    Raises DomainError (code "invalid_tier") for a tier that is not an upgrade,
    UpgradeUnavailable (503, code "whop_not_configured") when Whop is not configured, and
    chronos.errors.ProviderUnavailable (503) when Whop's API fails.
    """
    if tier not in tiers_above(creator.tier):
        raise DomainError(
            f"{limits_for(tier).label if tier in PLAN_SETTINGS else tier!r} is not an upgrade "
            f"from your {limits_for(creator.tier).label} plan.",
            code="invalid_tier",
            fields={"tier": ["Pick a tier above your current one."]},
        )
    plan_mappings_seed()
    blocker = upgrade_blocker(tiers=[tier])
    if blocker:
        raise UpgradeUnavailable(blocker)
    mapping = PlanTierMapping.objects.filter(tier=tier).order_by("pk").first()
    if mapping is None:  # upgrade_blocker found a plan id in settings: seeded above
        raise UpgradeUnavailable(f"No Whop plan is mapped to the {tier} tier.")
    redirect_url = settings.SITE_URL.rstrip("/") + reverse(
        "billing:plan", kwargs={"handle": creator.handle}
    )
    from creators.whop import whop_client

    try:
        result = whop_client().checkout_configurations.create(
            plan_id=mapping.whop_plan_id,
            metadata={"chronos_creator": creator.handle},
            redirect_url=redirect_url,
        )
    except Exception as exc:
        logger.warning("Whop checkout for %s (%s) failed: %s", creator.handle, tier, exc)
        raise ProviderUnavailable(
            "Whop did not answer; nothing was charged. Try the upgrade again in a minute."
        ) from exc
    url = getattr(result, "purchase_url", None)
    if not url:
        raise ProviderUnavailable("Whop's answer had no purchase link; try again in a minute.")
    return url
