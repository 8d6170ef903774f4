"""Upgrades and downgrades through Whop: "Upgrade" creates a checkout configuration through
the real whop-sdk against a loopback server speaking Whop's REST shapes and 303s to its
purchase_url; signed webhooks (payment.succeeded, membership.deactivated, refund.created,
dispute.created) move the tier, in any order, each change recorded and shown."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import PlanTierMapping, TierChange
from billing.services.payments import tier_changes_apply_due
from creators.models import Creator
from tests.factories import CreatorFactory
from tests.loopback import Request, Response, loopback_server
from tests.test_webhooks import (  # noqa: F401 - fixtures: the secret, on-commit capture
    _run_on_commit,
    _secret,
    deliver,
    envelope,
    iso,
)

PLAN_PRO, PLAN_BASIC = "plan_ChronosPro", "plan_ChronosBasic"


@pytest.fixture
def plans(settings):
    settings.WHOP_COMPANY_ID = "biz_Chronos"  # Chronos's own company: its plan sales
    settings.WHOP_PLAN_PRO = PLAN_PRO
    settings.WHOP_PLAN_BASIC = PLAN_BASIC
    from billing.services.checkout import plan_mappings_seed

    plan_mappings_seed()
    return settings


@pytest.fixture
def buyer(db):
    """A creator buying Chronos: a standalone studio (no Whop company of its own needed)."""
    return CreatorFactory(handle="acme", company_name="Acme Academy", whop_company_id="biz_Acme")


def checkout_response(req: Request) -> Response:
    body = req.json()
    return Response.json(
        {
            "id": "ch_123",
            "account_id": "biz_Chronos",
            "created_at": "2026-11-30T01:00:00Z",
            "updated_at": "2026-11-30T01:00:00Z",
            "mode": "payment",
            "metadata": body.get("metadata"),
            "redirect_url": body.get("redirect_url"),
            "purchase_url": f"https://whop.com/checkout/{body['plan_id']}/?session=ch_123",
        }
    )


@pytest.mark.django_db
def test_upgrade_creates_a_checkout_and_303s_to_whop(client, buyer, plans):
    def handler(req: Request) -> Response:
        assert req.method == "POST" and req.path == "/api/v1/checkout_configurations"
        return checkout_response(req)

    client.force_login(buyer.owner)
    with loopback_server(handler) as server:
        plans.WHOP_API_KEY = "apik_test"
        plans.WHOP_API_BASE = server.base_url
        response = client.post(
            reverse("billing:upgrade", kwargs={"handle": buyer.handle}), {"tier": "pro"}
        )
    assert response.status_code == 303
    assert response["Location"] == f"https://whop.com/checkout/{PLAN_PRO}/?session=ch_123"
    sent = server.requests[0]
    assert sent.headers["authorization"] == "Bearer apik_test"
    body = sent.json()
    assert body["plan_id"] == PLAN_PRO and body["metadata"] == {"chronos_creator": "acme"}
    assert body["redirect_url"].endswith("/studio/acme/plan/")


@pytest.mark.django_db
def test_upgrade_without_whop_says_what_to_set(client, buyer, settings):
    settings.WHOP_API_KEY = ""
    client.force_login(buyer.owner)
    url = reverse("billing:upgrade", kwargs={"handle": buyer.handle})
    page = client.post(url, {"tier": "pro"}, follow=True)
    assert page.redirect_chain[-1][0].endswith("/studio/acme/plan/")
    html = page.content.decode()
    assert "set WHOP_API_KEY and WHOP_PLAN_PRO" in html
    # Not an upgrade: explained too, nothing sent anywhere.
    page = client.post(url, {"tier": "free"}, follow=True)
    assert "is not an upgrade" in page.content.decode()


@pytest.mark.django_db
def test_whop_outage_on_upgrade_is_explained(client, buyer, plans):
    client.force_login(buyer.owner)
    with loopback_server(lambda req: Response(status=500, body=b'{"error": "boom"}')) as server:
        plans.WHOP_API_KEY = "apik_test"
        plans.WHOP_API_BASE = server.base_url
        page = client.post(
            reverse("billing:upgrade", kwargs={"handle": buyer.handle}),
            {"tier": "basic"},
            follow=True,
        )
    assert "Whop did not answer; nothing was charged" in page.content.decode()


def payment(pid: str, plan: str, *, mem: str, at, handle: str = "acme") -> dict:
    return {
        "id": pid,
        "status": "paid",
        "total": 79.0,
        "currency": "usd",
        "plan": {"id": plan},
        "product": {"id": "prod_Chronos"},
        "user": {"id": "user_Owner"},
        "membership": {"id": mem, "status": "active"},
        "company": {"id": "biz_Chronos"},
        "metadata": {"chronos_creator": handle},
        "paid_at": iso(at),
        "created_at": iso(at),
    }


def pay(client, pid: str, plan: str, *, mem: str, at, handle: str = "acme"):
    """Deliver a signed payment.succeeded for `plan`, happened at `at`."""
    return deliver(
        client,
        envelope("payment.succeeded", payment(pid, plan, mem=mem, at=at, handle=handle), at=at),
    )


def tier_membership(mem: str, plan: str, *, status: str, at, ends, handle: str = "acme") -> dict:
    return {
        "id": mem,
        "status": status,
        "updated_at": iso(at),
        "user": {"id": "user_Owner", "username": "owner", "name": "Owner"},
        "company": {"id": "biz_Chronos", "title": "Chronos"},
        "plan": {"id": plan},
        "product": {"id": "prod_Chronos"},
        "renewal_period_end": iso(ends),
        "cancel_at_period_end": False,
        "metadata": {"chronos_creator": handle},
    }


def tier_of(creator: Creator) -> str:
    creator.refresh_from_db()
    return creator.tier


@pytest.mark.django_db
def test_payment_sets_the_tier_and_the_change_is_shown(client, buyer, plans):
    t0 = timezone.now() - timedelta(minutes=5)
    ev = envelope("payment.succeeded", payment("pay_1", PLAN_PRO, mem="mem_1", at=t0), at=t0)
    assert deliver(client, ev).status_code == 200
    assert tier_of(buyer) == "pro"
    change = TierChange.objects.get(creator=buyer)
    assert (change.from_tier, change.to_tier, change.reason) == ("free", "pro", "payment.succeeded")
    assert change.webhook_id == ev["id"] and change.whop_payment_id == "pay_1"
    client.force_login(buyer.owner)
    html = client.get(reverse("billing:plan", kwargs={"handle": buyer.handle})).content.decode()
    assert "Free → Pro" in html and ev["id"] in html


@pytest.mark.django_db
def test_deactivation_arriving_before_the_payment_converges_to_free(client, buyer, plans):
    t1 = timezone.now() - timedelta(minutes=10)
    t2 = t1 + timedelta(minutes=5)
    deactivated = envelope(
        "membership.deactivated",
        tier_membership("mem_1", PLAN_PRO, status="canceled", at=t2, ends=t2),
        at=t2,
    )
    paid = envelope("payment.succeeded", payment("pay_1", PLAN_PRO, mem="mem_1", at=t1), at=t1)
    deliver(client, paid)
    assert tier_of(buyer) == "pro"
    deliver(client, deactivated)
    assert tier_of(buyer) == "free"
    # The same two, the other way round, for another creator: the same end state.
    other = CreatorFactory(handle="globex", whop_company_id="biz_Globex")
    deactivated2 = envelope(
        "membership.deactivated",
        tier_membership("mem_2", PLAN_PRO, status="canceled", at=t2, ends=t2, handle="globex"),
        at=t2,
    )
    deliver(client, deactivated2)
    paid2 = envelope(
        "payment.succeeded", payment("pay_2", PLAN_PRO, mem="mem_2", at=t1, handle="globex"), at=t1
    )
    deliver(client, paid2)
    assert tier_of(other) == "free"


@pytest.mark.django_db
def test_old_plan_cancelled_after_an_upgrade_keeps_the_new_plan(client, buyer, plans):
    t1 = timezone.now() - timedelta(minutes=30)
    pay(client, "pay_b", PLAN_BASIC, mem="mem_b", at=t1)
    t2 = t1 + timedelta(minutes=10)
    pay(client, "pay_p", PLAN_PRO, mem="mem_p", at=t2)
    assert tier_of(buyer) == "pro"
    t3 = t2 + timedelta(minutes=10)
    gone = tier_membership("mem_b", PLAN_BASIC, status="canceled", at=t3, ends=t3)
    deliver(client, envelope("membership.deactivated", gone, at=t3))
    assert tier_of(buyer) == "pro"  # the basic membership no longer grants the tier


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["refund.created", "dispute.created"])
def test_refund_or_dispute_returns_to_free_at_the_end_of_what_was_paid(client, buyer, plans, kind):
    t1 = timezone.now() - timedelta(minutes=10)
    ends = timezone.now() + timedelta(days=20)
    pay(client, "pay_1", PLAN_PRO, mem="mem_1", at=t1)
    active = tier_membership("mem_1", PLAN_PRO, status="active", at=t1, ends=ends)
    deliver(client, envelope("membership.activated", active, at=t1))
    t2 = t1 + timedelta(minutes=5)
    reversal = {
        "id": "re_1" if kind.startswith("refund") else "dp_1",
        "status": "pending",
        "payment": {"id": "pay_1", "membership": {"id": "mem_1", "status": "active"}},
        "company": {"id": "biz_Chronos"},
        "created_at": iso(t2),
    }
    deliver(client, envelope(kind, reversal, at=t2))
    assert tier_of(buyer) == "pro"  # paid for until `ends`
    scheduled = TierChange.objects.get(creator=buyer, status="scheduled")
    assert scheduled.reason == kind and scheduled.effective_at == ends
    assert tier_changes_apply_due(now=ends - timedelta(seconds=1)) == 0
    assert tier_changes_apply_due(now=ends + timedelta(seconds=1)) == 1
    assert tier_of(buyer) == "free"


@pytest.mark.django_db
def test_payment_for_an_unmapped_plan_changes_no_tier(client, buyer, plans):
    t = timezone.now()
    pay(client, "pay_x", "plan_Other", mem="m", at=t)
    assert tier_of(buyer) == "free" and not TierChange.objects.exists()
    assert PlanTierMapping.objects.filter(tier="pro", whop_plan_id=PLAN_PRO).exists()
