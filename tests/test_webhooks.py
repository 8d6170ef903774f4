"""Whop webhooks end to end: signed deliveries in, state out (Standard Webhooks, ws_ secret)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from billing.models import BillingAccount, Payment, PlanTierMapping
from creators.models import Creator, Membership, User, WebhookEvent
from creators.selectors import creators_learnable_by
from creators.services import creators_purge_due
from tests.factories import CreatorFactory

SECRET = "ws_3f9c2a7be1d84c0f9a6e5b4d3c2b1a09"
URL = "/webhooks/whop/"
pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.WHOP_WEBHOOK_SECRET = SECRET


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def envelope(event_type: str, data: dict, *, at: datetime | None = None, msg_id: str = "", **extra):
    at = at or timezone.now()
    return {
        "id": msg_id or f"msg_{int(time.time() * 1e6)}",
        "api_version": "v1",
        "timestamp": iso(at),
        "type": event_type,
        "data": data,
        **extra,
    }


def signed_headers(body: str, msg_id: str, *, ts: int | None = None, secret: str = SECRET) -> dict:
    """Signed with the standardwebhooks library, the ws_ secret's literal bytes as the key."""
    ts = int(time.time()) if ts is None else ts
    sig = Webhook(secret.encode()).sign(msg_id, datetime.fromtimestamp(ts, tz=UTC), body)
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": sig}


_capture = None


@pytest.fixture(autouse=True)
def _run_on_commit(django_capture_on_commit_callbacks):
    """Tests run inside a transaction; run the queued processing as a commit would."""
    global _capture
    _capture = django_capture_on_commit_callbacks
    yield
    _capture = None


def deliver(client, payload: dict, *, msg_id: str | None = None, **sign_kwargs):
    body = json.dumps(payload)
    msg_id = msg_id or payload["id"]
    headers = signed_headers(body, msg_id, **sign_kwargs)
    with _capture(execute=True):
        return client.post(URL, data=body, content_type="application/json", headers=headers)


def membership_data(
    creator: Creator, *, mem="mem_A1", status="active", user="user_Stu1", updated=None
):
    return {
        "id": mem,
        "status": status,
        "updated_at": iso(updated or timezone.now()),
        "user": {"id": user, "username": "stu", "name": "Stu Dent", "email": "stu@example.com"},
        "company": {"id": creator.whop_company_id, "title": creator.company_name},
        "plan": {"id": "plan_P1"},
        "product": {"id": "prod_X1"},
        "cancel_at_period_end": False,
    }


@pytest.fixture
def whop_creator(db):
    return CreatorFactory(handle="acme", company_name="Acme Academy", whop_company_id="biz_Acme")


def test_install_provisions_creator_with_owner(client):
    payload = envelope(
        "app_installation.created",
        {
            "id": "apins_1",
            "company": {"id": "biz_New1", "title": "Faraday's Lectures"},
            "user": {
                "id": "user_Own1",
                "username": "mf",
                "name": "M. Faraday",
                "email": "mf@example.com",
            },
        },
        company_id="biz_New1",
    )
    response = deliver(client, payload)
    assert response.status_code == 200, response.content
    creator = Creator.objects.get(whop_company_id="biz_New1")
    assert creator.handle == "faradays-lectures"
    assert creator.tier == "free" and creator.is_active
    assert creator.owner.whop_user_id == "user_Own1"
    assert creator.owner.display_name == "M. Faraday"
    event = WebhookEvent.objects.get(webhook_id=payload["id"])
    assert event.status == WebhookEvent.Status.PROCESSED and event.company_id == "biz_New1"


def test_handles_stay_unique(client):
    CreatorFactory(handle="acme-academy", company_name="Acme Academy")
    deliver(
        client,
        envelope("app_installation.created", {"company": {"id": "biz_2", "title": "Acme Academy"}}),
    )
    assert Creator.objects.get(whop_company_id="biz_2").handle == "acme-academy-2"


def test_signature_is_hmac_over_literal_secret_bytes(client, whop_creator):
    """Computed per the spec by hand (not the library): the ws_ secret is NOT base64."""
    payload = envelope("membership.activated", membership_data(whop_creator))
    body, ts = json.dumps(payload), str(int(time.time()))
    mac = hmac.new(SECRET.encode(), f"{payload['id']}.{ts}.{body}".encode(), hashlib.sha256)
    headers = {
        "webhook-id": payload["id"],
        "webhook-timestamp": ts,
        "webhook-signature": "v0,bogus v1," + base64.b64encode(mac.digest()).decode(),
    }
    with _capture(execute=True):
        response = client.post(URL, data=body, content_type="application/json", headers=headers)
    assert response.status_code == 200
    assert Membership.objects.filter(creator=whop_creator, status="active").exists()


@pytest.mark.parametrize(
    "tamper",
    [
        "forged",
        "wrong_secret",
        "body_changed",
        "stale",
        "future",
        "no_id",
        "no_ts",
        "no_sig",
        "garbled",
    ],
)
def test_bad_deliveries_are_refused_and_change_nothing(client, whop_creator, tamper):
    payload = envelope("membership.activated", membership_data(whop_creator))
    body = json.dumps(payload)
    now = int(time.time())
    kwargs = {
        "stale": {"ts": now - 6 * 60},
        "future": {"ts": now + 6 * 60},
        "wrong_secret": {"secret": "ws_another_secret_entirely"},
    }.get(tamper, {})
    headers = signed_headers(body, payload["id"], **kwargs)
    if tamper == "forged":
        headers["webhook-signature"] = "v1," + base64.b64encode(b"x" * 32).decode()
    elif tamper == "body_changed":
        body = body.replace('"active"', '"trialing"')
    elif tamper == "garbled":
        headers["webhook-signature"] = "nonsense"
    elif tamper.startswith("no_"):
        headers.pop(
            {"no_id": "webhook-id", "no_ts": "webhook-timestamp", "no_sig": "webhook-signature"}[
                tamper
            ]
        )
    with _capture(execute=True):
        response = client.post(URL, data=body, content_type="application/json", headers=headers)
    assert 400 <= response.status_code < 500
    assert WebhookEvent.objects.count() == 0
    assert Membership.objects.count() == 0


def test_unconfigured_secret_refuses(client, settings, whop_creator):
    settings.WHOP_WEBHOOK_SECRET = ""
    response = deliver(client, envelope("membership.activated", membership_data(whop_creator)))
    assert response.status_code == 400 and WebhookEvent.objects.count() == 0


def test_get_is_not_allowed(client):
    assert client.get(URL).status_code == 405


def test_same_delivery_twice_is_applied_once(client, whop_creator):
    PlanTierMapping.objects.create(whop_plan_id="plan_Pro", tier="pro")
    payload = envelope(
        "payment.succeeded",
        {
            "id": "pay_1",
            "total": 49.0,
            "currency": "usd",
            "plan": {"id": "plan_Pro"},
            "company": {"id": "biz_Acme"},
            "user": {"id": "user_Own"},
        },
    )
    first = deliver(client, payload)
    second = deliver(client, payload)
    assert first.json()["status"] == "received" and second.json()["status"] == "duplicate"
    event = WebhookEvent.objects.get()
    assert event.attempts == 1 and event.status == "processed"
    assert Payment.objects.count() == 1


def test_deactivated_before_activated_converges_to_deactivated(client, whop_creator):
    t0 = timezone.now() - timedelta(minutes=2)
    activated = envelope("membership.activated", membership_data(whop_creator, updated=t0), at=t0)
    deactivated = envelope(
        "membership.deactivated",
        membership_data(whop_creator, status="canceled", updated=t0 + timedelta(minutes=1)),
        at=t0 + timedelta(minutes=1),
    )
    assert deliver(client, deactivated).status_code == 200
    assert deliver(client, activated).status_code == 200  # older: arrives late
    membership = Membership.objects.get()
    assert membership.status == Membership.Status.CANCELED
    student = User.objects.get(whop_user_id="user_Stu1")
    assert whop_creator not in creators_learnable_by(user=student)
    assert WebhookEvent.objects.filter(status="processed").count() == 2


def test_membership_lifecycle_grants_and_revokes_keeping_history(client, whop_creator):
    t0 = timezone.now() - timedelta(minutes=5)
    deliver(
        client, envelope("membership.activated", membership_data(whop_creator, updated=t0), at=t0)
    )
    student = User.objects.get(whop_user_id="user_Stu1")
    assert whop_creator in creators_learnable_by(user=student)
    t1 = t0 + timedelta(minutes=1)
    deliver(
        client,
        envelope("membership.deactivated", membership_data(whop_creator, updated=t1), at=t1),
    )
    membership = Membership.objects.get()
    assert membership.status == Membership.Status.INACTIVE  # data.status said active: revoked
    assert whop_creator not in creators_learnable_by(user=student)
    t2 = t1 + timedelta(minutes=1)
    deliver(
        client,
        envelope(
            "membership.updated",
            membership_data(whop_creator, status="trialing", updated=t2),
            at=t2,
        ),
    )
    assert Membership.objects.get().status == Membership.Status.TRIALING
    assert (
        Membership.objects.count() == 1
        and User.objects.filter(whop_user_id="user_Stu1").count() == 1
    )


def test_membership_for_unknown_company_is_noop(client):
    payload = envelope(
        "membership.activated",
        {
            "id": "mem_Z",
            "status": "active",
            "user": {"id": "user_Z"},
            "company": {"id": "biz_Nobody"},
        },
    )
    assert deliver(client, payload).status_code == 200
    assert Membership.objects.count() == 0
    assert WebhookEvent.objects.get().status == "processed"


def test_payment_sets_tier_through_mapping(client, whop_creator):
    PlanTierMapping.objects.create(whop_plan_id="plan_Basic", tier="basic")
    deliver(
        client,
        envelope(
            "payment.succeeded",
            {
                "id": "pay_2",
                "total": 19.0,
                "currency": "usd",
                "plan": {"id": "plan_Basic"},
                "company": {"id": "biz_Acme"},
            },
        ),
    )
    whop_creator.refresh_from_db()
    assert whop_creator.tier == "basic"
    payment = Payment.objects.get(whop_payment_id="pay_2")
    assert payment.amount == Decimal("19.00") and payment.currency == "usd"
    assert payment.creator == whop_creator and payment.tier_applied == "basic"


def test_payment_new_api_shape_and_unmapped_plan(client, whop_creator):
    """api_version_date 2026 shape: amount_charged + line_items, account_id envelope."""
    payload = envelope(
        "payment.succeeded",
        {
            "id": "pay_3",
            "account_id": "biz_Acme",
            "amount_charged": {"amount": "50.00", "currency": "usd", "decimals": 2},
            "currency": "usd",
            "line_items": [{"product_id": "prod_9", "variant_id": "plan_Unmapped", "quantity": 1}],
        },
        account_id="biz_Acme",
    )
    deliver(client, payload)
    payment = Payment.objects.get(whop_payment_id="pay_3")
    assert payment.amount == Decimal("50.00") and payment.whop_plan_id == "plan_Unmapped"
    whop_creator.refresh_from_db()
    assert whop_creator.tier == "free" and payment.tier_applied == ""


def test_newest_payment_wins_the_tier(client, whop_creator):
    PlanTierMapping.objects.create(whop_plan_id="plan_Pro", tier="pro")
    PlanTierMapping.objects.create(whop_plan_id="plan_Basic", tier="basic")
    t0 = timezone.now() - timedelta(minutes=3)
    newer = envelope(
        "payment.succeeded",
        {
            "id": "pay_new",
            "total": 99,
            "currency": "usd",
            "plan": {"id": "plan_Pro"},
            "company": {"id": "biz_Acme"},
        },
        at=t0 + timedelta(minutes=1),
    )
    older = envelope(
        "payment.succeeded",
        {
            "id": "pay_old",
            "total": 19,
            "currency": "usd",
            "plan": {"id": "plan_Basic"},
            "company": {"id": "biz_Acme"},
        },
        at=t0,
    )
    deliver(client, newer)
    deliver(client, older)
    whop_creator.refresh_from_db()
    assert whop_creator.tier == "pro"
    assert Payment.objects.count() == 2


def test_payment_failed_flags_billing_then_success_clears(client, whop_creator):
    t0 = timezone.now() - timedelta(minutes=3)
    deliver(
        client,
        envelope(
            "payment.failed",
            {
                "id": "pay_f",
                "total": 19,
                "currency": "usd",
                "failure_message": "Card declined",
                "company": {"id": "biz_Acme"},
            },
            at=t0,
        ),
    )
    account = BillingAccount.objects.get(creator=whop_creator)
    assert account.status == "payment_failed" and "declined" in account.last_failure_message
    assert Payment.objects.get(whop_payment_id="pay_f").status == "failed"
    deliver(
        client,
        envelope(
            "payment.succeeded",
            {"id": "pay_f", "total": 19, "currency": "usd", "company": {"id": "biz_Acme"}},
            at=t0 + timedelta(minutes=1),
        ),
    )
    account.refresh_from_db()
    assert account.status == "ok"
    assert Payment.objects.get(whop_payment_id="pay_f").status == "succeeded"


def test_uninstall_keeps_data_schedules_deletion_and_sweeper_deletes(
    client, whop_creator, settings
):
    settings.CHRONOS_DELETION_GRACE_DAYS = 30
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    default_storage.save("acme/videos/1.mp4", ContentFile(b"data"))
    deliver(
        client,
        envelope(
            "app_installation.deleted", {"company": {"id": "biz_Acme"}}, company_id="biz_Acme"
        ),
    )
    whop_creator.refresh_from_db()
    assert not whop_creator.is_active
    due = whop_creator.deletion_scheduled_at - timezone.now()
    assert timedelta(days=29, hours=23) < due <= timedelta(days=30)
    assert creators_purge_due() == []  # grace period not over: kept
    assert Creator.objects.filter(pk=whop_creator.pk).exists()
    assert creators_purge_due(now=timezone.now() + timedelta(days=31)) == ["acme"]
    assert not Creator.objects.filter(pk=whop_creator.pk).exists()
    assert not default_storage.exists("acme/videos/1.mp4")


def test_reinstall_reactivates_and_cancels_deletion(client, whop_creator):
    t0 = timezone.now() - timedelta(minutes=2)
    deliver(client, envelope("app_installation.deleted", {"company": {"id": "biz_Acme"}}, at=t0))
    deliver(
        client,
        envelope(
            "app_installation.created",
            {"company": {"id": "biz_Acme", "title": "Acme"}},
            at=t0 + timedelta(minutes=1),
        ),
    )
    whop_creator.refresh_from_db()
    assert whop_creator.is_active and whop_creator.deletion_scheduled_at is None
    assert whop_creator.handle == "acme"  # storage prefix never changes


def test_uninstall_before_install_stays_uninstalled(client):
    t0 = timezone.now() - timedelta(minutes=2)
    deliver(
        client,
        envelope(
            "app_installation.deleted",
            {"company": {"id": "biz_Late"}},
            at=t0 + timedelta(minutes=1),
        ),
    )
    deliver(
        client,
        envelope(
            "app_installation.created",
            {"company": {"id": "biz_Late", "title": "Late Co"}, "user": {"id": "user_L"}},
            at=t0,
        ),
    )
    creator = Creator.objects.get(whop_company_id="biz_Late")
    assert not creator.is_active and creator.deletion_scheduled_at is not None
    assert creator.company_name == "Late Co" and creator.owner.whop_user_id == "user_L"


def test_unknown_type_is_stored_and_ignored(client):
    payload = envelope("dispute.created", {"id": "dsp_1"})
    response = deliver(client, payload)
    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED


def test_handler_error_is_recorded_and_replayable(client, whop_creator, admin_client):
    data = membership_data(whop_creator)
    del data["user"]
    payload = envelope("membership.activated", data)
    assert deliver(client, payload).status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == "failed" and "data.user.id" in event.error
    # Fix the stored payload (as an operator would after a Whop-side fix) and replay from admin.
    event.payload["data"]["user"] = {"id": "user_Fixed"}
    event.save(update_fields=["payload"])
    response = admin_client.post(
        "/admin/creators/webhookevent/",
        {"action": "replay", "_selected_action": [event.pk]},
        follow=True,
    )
    assert response.status_code == 200
    event.refresh_from_db()
    assert event.status == "processed" and event.attempts == 2
    assert Membership.objects.filter(user__whop_user_id="user_Fixed").exists()


def test_redelivery_of_failed_event_runs_again(client, whop_creator):
    data = membership_data(whop_creator)
    payload = envelope("membership.activated", {**data, "user": {}})
    deliver(client, payload)
    assert WebhookEvent.objects.get().status == "failed"
    response = deliver(client, payload)  # Whop retries the same webhook-id
    assert response.json()["status"] == "duplicate"
    assert WebhookEvent.objects.get().attempts == 2
