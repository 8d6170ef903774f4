"""The one tier table (billing.limits), starter -> basic, and Creator.timezone."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import pytest
from django.apps import apps
from django.urls import reverse

from billing.format import human_bytes
from billing.limits import GB, TIER_LIMITS, limits_for, tiers_above
from billing.models import PlanTierMapping
from creators.models import Creator
from creators.timezones import local_day_bounds, local_month_bounds


def test_table_is_the_issue_table():
    rows = {
        tier: (
            lim.videos,
            lim.storage_bytes,
            lim.file_bytes,
            lim.ai_questions_per_month,
            lim.students,
            lim.questions_per_student,
            lim.questions_per_student_period,
            int(lim.price_usd_per_month),
        )
        for tier, lim in TIER_LIMITS.items()
    }
    assert rows == {
        "free": (5, 10**9, 10**9, 100, 10, 3, "total", 0),
        "basic": (50, 10 * 10**9, 2 * 10**9, 1_000, 100, 100, "day", 29),
        "pro": (500, 100 * 10**9, 5 * 10**9, 10_000, 1_000, 500, "day", 79),
        "enterprise": (None, None, 10 * 10**9, None, None, None, "day", 299),
    }
    assert GB == 1_000_000_000
    assert limits_for("starter") == TIER_LIMITS["free"]  # unknown -> free
    assert tiers_above("free") == ["basic", "pro", "enterprise"]
    assert tiers_above("enterprise") == []


def test_decimal_byte_format():
    assert human_bytes(10**9) == "1 GB"
    assert human_bytes(2_500_000_000) == "2.5 GB"
    assert human_bytes(999) == "999 bytes"


@pytest.mark.django_db
def test_starter_becomes_basic(creator):
    Creator.objects.filter(pk=creator.pk).update(tier="starter")
    PlanTierMapping.objects.create(whop_plan_id="plan_S", tier="starter")
    for app, name in (
        ("creators", "0004_creator_timezone_basic_tier"),
        ("billing", "0004_basic_tier"),
    ):
        importlib.import_module(f"{app}.migrations.{name}").starter_to_basic(apps, None)
    creator.refresh_from_db()
    assert creator.tier == "basic"
    assert PlanTierMapping.objects.get(whop_plan_id="plan_S").tier == "basic"


@pytest.mark.django_db
def test_timezone_defaults_to_utc_and_is_editable(owner_client, creator):
    assert creator.timezone == "UTC"
    page = owner_client.get(reverse("billing:studio", kwargs={"handle": creator.handle}))
    assert b'value="Europe/Paris"' in page.content
    url = reverse("creators:timezone_set", kwargs={"handle": creator.handle})
    response = owner_client.post(url, {"timezone": "Europe/Paris"}, follow=True)
    creator.refresh_from_db()
    assert creator.timezone == "Europe/Paris"
    assert b"Time zone set to Europe/Paris" in response.content
    response = owner_client.post(url, {"timezone": "Mars/Olympus"}, follow=True)
    creator.refresh_from_db()
    assert creator.timezone == "Europe/Paris"
    assert b"Mars/Olympus is not a time zone we know" in response.content


@pytest.mark.django_db
def test_timezone_of_another_tenant_is_404(client, creator, other_creator):
    client.force_login(other_creator.owner)
    url = reverse("creators:timezone_set", kwargs={"handle": creator.handle})
    assert client.post(url, {"timezone": "Asia/Tokyo"}).status_code == 404


def test_local_day_and_month_follow_the_zone():
    c = Creator(timezone="America/New_York")
    # 03:00 UTC on 30 Nov is still 29 Nov (22:00) in New York.
    start, end = local_day_bounds(creator=c, at=datetime(2026, 11, 30, 3, tzinfo=UTC))
    assert start == datetime(2026, 11, 29, 5, tzinfo=UTC)
    assert end == datetime(2026, 11, 30, 5, tzinfo=UTC)
    # DST ends 1 Nov 2026 in New York: that local day lasts 25 hours.
    start, end = local_day_bounds(creator=c, at=datetime(2026, 11, 1, 12, tzinfo=UTC))
    assert (end - start).total_seconds() == 25 * 3600
    start, end = local_month_bounds(creator=c, at=datetime(2026, 12, 31, 12, tzinfo=UTC))
    assert start == datetime(2026, 12, 1, 5, tzinfo=UTC)
    assert end == datetime(2027, 1, 1, 5, tzinfo=UTC)
    bogus = local_day_bounds(creator=Creator(timezone="Bogus/Zone"), at=start)[0]
    assert bogus.utcoffset().total_seconds() == 0  # unknown name -> UTC
