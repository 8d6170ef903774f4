"""Whop webhooks end to end: signed deliveries in, state out (Standard Webhooks, ws_ secret).

Payloads follow Whop's documented v1 shapes: installs carry data.account {id, title} and no
user; memberships carry the Membership object (status, user, company, plan, product...).
"""

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


def install_data(biz: str, title: str = "") -> dict:
    """app_installation.* data as documented: no installing user."""
    return {
        "id": f"aag_{biz[4:]}",
        "account": {"id": biz, "title": title},
        "app": {"id": "app_chronos_test"},
        "created_at": iso(timezone.now()),
        "external_id": None,
        "metadata": {},
    }


def test_install_provisions_creator_named_after_the_account(client):
    payload = envelope(
        "app_installation.created",
        install_data("biz_New1", "Faraday's Lectures"),
        company_id="biz_New1",
    )
    response = deliver(client, payload)
    assert response.status_code == 200, response.content
    creator = Creator.objects.get(whop_company_id="biz_New1")
    assert creator.handle == "faradays-lectures"
    assert creator.company_name == "Faraday's Lectures"
    assert creator.tier == "free" and creator.is_active
    assert creator.owner is None  # the first admin opening /dashboard/biz_New1/ becomes it
    event = WebhookEvent.objects.get(webhook_id=payload["id"])
    assert event.status == WebhookEvent.Status.PROCESSED and event.company_id == "biz_New1"


def test_handles_stay_unique(client):
    CreatorFactory(handle="acme-academy", company_name="Acme Academy")
    deliver(client, envelope("app_installation.created", install_data("biz_2", "Acme Academy")))
    assert Creator.objects.get(whop_company_id="biz_2").handle == "acme-academy-2"


def test_install_repairs_a_creator_made_from_the_biz_id(client):
    """Creators provisioned by the old parser are named/handled after the biz id."""
    broken = CreatorFactory(handle="biz_old1", company_name="biz_Old1", whop_company_id="biz_Old1")
    deliver(client, envelope("app_installation.created", install_data("biz_Old1", "Volta Labs")))
    broken.refresh_from_db()
    assert broken.company_name == "Volta Labs" and broken.handle == "volta-labs"


def test_repair_keeps_the_handle_of_a_creator_with_media(client):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    broken = CreatorFactory(handle="biz_old2", company_name="biz_Old2", whop_company_id="biz_Old2")
    default_storage.save("biz_old2/videos/1.mp4", ContentFile(b"data"))
    deliver(client, envelope("app_installation.created", install_data("biz_Old2", "Volta Labs")))
    broken.refresh_from_db()
    assert broken.company_name == "Volta Labs"
    assert broken.handle == "biz_old2"  # the storage prefix of its media: kept
    assert default_storage.exists("biz_old2/videos/1.mp4")


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


def unknown_company_membership(**extra) -> dict:
    return envelope(
        "membership.activated",
        {
            "id": "mem_Z",
            "status": "active",
            "user": {"id": "user_Z"},
            "company": {"id": "biz_Later", "title": "Later Co"},
        },
        **extra,
    )


def test_membership_before_its_install_is_applied_when_the_install_arrives(client):
    """Whop does not order deliveries: the member arrives first, then the install."""
    assert deliver(client, unknown_company_membership()).status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == "pending" and event.next_attempt_at is not None
    assert Membership.objects.count() == 0
    deliver(client, envelope("app_installation.created", install_data("biz_Later", "Later Co")))
    event.refresh_from_db()
    assert event.status == "processed"
    creator = Creator.objects.get(whop_company_id="biz_Later")
    student = User.objects.get(whop_user_id="user_Z")
    assert creator in creators_learnable_by(user=student)


@pytest.mark.parametrize("order", ["member_first", "install_first"])
def test_install_membership_race_converges(client, order):
    member = unknown_company_membership()
    install = envelope("app_installation.created", install_data("biz_Later", "Later Co"))
    for payload in (member, install) if order == "member_first" else (install, member):
        deliver(client, payload)
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert Membership.objects.active().filter(user__whop_user_id="user_Z").count() == 1


def test_pending_event_backs_off_then_fails_after_72_hours(client, admin_client):
    from creators.services import pending_retry_delay, webhook_events_retry_due

    deliver(client, unknown_company_membership())
    event = WebhookEvent.objects.get()
    first_due = event.next_attempt_at
    assert timedelta(seconds=50) < first_due - timezone.now() <= timedelta(minutes=1)
    assert pending_retry_delay(2) == timedelta(minutes=2)
    assert pending_retry_delay(30) == timedelta(hours=6)
    assert webhook_events_retry_due() == []  # not due yet
    with _capture(execute=True):
        assert webhook_events_retry_due(now=first_due) == [event.pk]
    event.refresh_from_db()
    assert event.status == "pending" and event.attempts == 2
    assert event.next_attempt_at - timezone.now() > timedelta(minutes=1)
    # 72 hours after receipt, the next try gives up: failed, with the reason.
    WebhookEvent.objects.filter(pk=event.pk).update(
        received=timezone.now() - timedelta(hours=72, minutes=1)
    )
    with _capture(execute=True):
        webhook_events_retry_due(now=timezone.now() + timedelta(days=1))
    event.refresh_from_db()
    assert event.status == "failed" and "biz_Later" in event.error
    assert event.next_attempt_at is None
    # Visible in the admin, and replayable once the company is known.
    page = admin_client.get("/admin/creators/webhookevent/?status__exact=failed")
    assert event.webhook_id.encode() in page.content
    CreatorFactory(handle="later", whop_company_id="biz_Later")
    admin_client.post(
        "/admin/creators/webhookevent/",
        {"action": "replay", "_selected_action": [event.pk]},
        follow=True,
    )
    event.refresh_from_db()
    assert event.status == "processed"
    assert Membership.objects.active().filter(user__whop_user_id="user_Z").exists()


def test_membership_of_chronos_own_company_is_not_a_student(client, settings):
    settings.WHOP_COMPANY_ID = "biz_Later"
    deliver(client, unknown_company_membership())
    assert WebhookEvent.objects.get().status == "processed"
    assert Membership.objects.count() == 0


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
            "app_installation.deleted", install_data("biz_Acme", "Acme"), company_id="biz_Acme"
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
    deliver(client, envelope("app_installation.deleted", install_data("biz_Acme", "Acme"), at=t0))
    deliver(
        client,
        envelope(
            "app_installation.created",
            install_data("biz_Acme", "Acme"),
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
            install_data("biz_Late", "Late Co"),
            at=t0 + timedelta(minutes=1),
        ),
    )
    deliver(
        client,
        envelope("app_installation.created", install_data("biz_Late", "Late Co"), at=t0),
    )
    creator = Creator.objects.get(whop_company_id="biz_Late")
    assert not creator.is_active and creator.deletion_scheduled_at is not None
    assert creator.company_name == "Late Co"


def test_unknown_type_is_stored_and_ignored(client):
    payload = envelope("membership.trial_ending_soon", {"id": "mem_1"})
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


# --- Access by event type and documented status ------------------------------------------------


@pytest.mark.parametrize(
    ("whop_status", "access"),
    [
        ("active", True),
        ("trialing", True),
        ("completed", True),  # paid in full (lifetime / one-time)
        ("canceling", True),  # until renewal_period_end
        ("past_due", False),
        ("canceled", False),
        ("expired", False),
        ("unresolved", False),
        ("drafted", False),
    ],
)
@pytest.mark.parametrize(
    "event_type",
    ["membership.activated", "membership.updated", "membership.cancel_at_period_end_changed"],
)
def test_status_decides_access(client, whop_creator, whop_status, access, event_type):
    data = membership_data(whop_creator, status=whop_status)
    data["renewal_period_end"] = iso(timezone.now() + timedelta(days=9))
    deliver(client, envelope(event_type, data))
    assert WebhookEvent.objects.get().status == "processed"
    student = User.objects.get(whop_user_id="user_Stu1")
    assert (whop_creator in creators_learnable_by(user=student)) is access
    assert Membership.objects.get().status == (
        whop_status if whop_status in Membership.Status.values else "inactive"
    )


@pytest.mark.parametrize("whop_status", ["active", "canceling", "completed", "canceled"])
def test_deactivated_never_grants(client, whop_creator, whop_status):
    deliver(
        client,
        envelope("membership.deactivated", membership_data(whop_creator, status=whop_status)),
    )
    student = User.objects.get(whop_user_id="user_Stu1")
    assert whop_creator not in creators_learnable_by(user=student)


def test_canceling_grants_until_the_period_end_only(client, whop_creator):
    data = membership_data(whop_creator, status="canceling")
    data["cancel_at_period_end"] = True
    data["renewal_period_end"] = iso(timezone.now() + timedelta(days=3))
    deliver(client, envelope("membership.cancel_at_period_end_changed", data))
    membership = Membership.objects.get()
    assert membership.valid_until is not None
    assert Membership.objects.active().filter(pk=membership.pk).exists()
    Membership.objects.filter(pk=membership.pk).update(
        valid_until=timezone.now() - timedelta(seconds=1)
    )
    assert not Membership.objects.active().filter(pk=membership.pk).exists()


def test_cancel_at_period_end_undone_restores_open_access(client, whop_creator):
    t0 = timezone.now() - timedelta(minutes=3)
    canceling = membership_data(whop_creator, status="canceling", updated=t0)
    canceling["renewal_period_end"] = iso(timezone.now() + timedelta(days=3))
    deliver(client, envelope("membership.cancel_at_period_end_changed", canceling, at=t0))
    active = membership_data(whop_creator, status="active", updated=t0 + timedelta(minutes=1))
    deliver(
        client,
        envelope("membership.cancel_at_period_end_changed", active, at=t0 + timedelta(minutes=1)),
    )
    membership = Membership.objects.get()
    assert membership.status == "active" and membership.valid_until is None


def payment_child(whop_creator, *, kind: str, status: str, membership_status: str, at=None):
    """refund.* / dispute.* data as documented (v1): the payment with its membership."""
    return envelope(
        f"{kind}.updated" if status not in ("pending", "needs_response") else f"{kind}.created",
        {
            "id": f"{'rfnd' if kind == 'refund' else 'dspt'}_1",
            "status": status,
            "amount": 49.0,
            "currency": "usd",
            "company": {"id": whop_creator.whop_company_id},
            "payment": {
                "id": "pay_S1",
                "membership": {"id": "mem_A1", "status": membership_status},
                "user": {"id": "user_Stu1", "username": "stu"},
            },
        },
        at=at,
    )


@pytest.mark.parametrize(
    ("kind", "status", "membership_status", "access"),
    [
        ("refund", "pending", "active", True),
        ("refund", "succeeded", "active", False),  # refunded: access ends
        ("refund", "failed", "active", True),
        ("dispute", "needs_response", "active", True),  # open dispute: access stays
        ("dispute", "lost", "active", False),
        ("dispute", "won", "active", True),
        ("dispute", "under_review", "canceled", False),  # the membership itself ended
    ],
)
def test_refunds_and_disputes_of_a_creators_product(
    client, whop_creator, kind, status, membership_status, access
):
    t0 = timezone.now() - timedelta(minutes=5)
    deliver(
        client, envelope("membership.activated", membership_data(whop_creator, updated=t0), at=t0)
    )
    deliver(
        client,
        payment_child(whop_creator, kind=kind, status=status, membership_status=membership_status),
    )
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
    student = User.objects.get(whop_user_id="user_Stu1")
    assert (whop_creator in creators_learnable_by(user=student)) is access


def test_refund_of_unknown_membership_changes_nothing(client, whop_creator):
    payload = payment_child(whop_creator, kind="refund", status="succeeded", membership_status="x")
    payload["data"]["payment"].pop("membership")
    deliver(client, payload)
    assert WebhookEvent.objects.get().status == "processed"
    assert Membership.objects.count() == 0


def test_refund_of_chronos_own_plan_is_left_to_billing(client, whop_creator, settings):
    settings.WHOP_COMPANY_ID = whop_creator.whop_company_id
    deliver(
        client,
        payment_child(whop_creator, kind="refund", status="succeeded", membership_status="active"),
    )
    assert WebhookEvent.objects.get().status == "processed"
    assert Membership.objects.count() == 0


# --- Secrets, verification through whop-sdk, and hostile input ---------------------------------


def test_two_secrets_each_verify_their_webhook(client, whop_creator, settings):
    """The app webhook and the company webhook have their own secrets; both are accepted."""
    company_secret = "ws_company_webhook_secret_value_42"
    settings.WHOP_WEBHOOK_SECRETS = [company_secret]
    settings.WHOP_WEBHOOK_SECRET = SECRET  # the older single setting still counts
    first = envelope("membership.activated", membership_data(whop_creator), msg_id="msg_app1")
    second = envelope("membership.updated", membership_data(whop_creator), msg_id="msg_co1")
    assert deliver(client, first).status_code == 200
    assert deliver(client, second, secret=company_secret).status_code == 200
    third = envelope("membership.updated", membership_data(whop_creator), msg_id="msg_x1")
    assert deliver(client, third, secret="ws_neither_of_them").status_code == 400
    assert WebhookEvent.objects.count() == 2


def test_secrets_are_every_configured_one_once(settings):
    from creators.webhooks import webhook_secrets

    settings.WHOP_WEBHOOK_SECRETS = ["ws_one", " whsec_two ", ""]
    settings.WHOP_WEBHOOK_SECRET = "ws_one"
    assert webhook_secrets() == ["ws_one", "whsec_two"]


def test_whsec_secret_is_used_as_literal_bytes(client, whop_creator, settings):
    """Like whop-sdk: the whole secret, prefix included, is the HMAC key (no base64)."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    settings.WHOP_WEBHOOK_SECRETS, settings.WHOP_WEBHOOK_SECRET = [secret], ""
    payload = envelope("membership.activated", membership_data(whop_creator))
    body, ts = json.dumps(payload), str(int(time.time()))
    mac = hmac.new(secret.encode(), f"{payload['id']}.{ts}.{body}".encode(), hashlib.sha256)
    headers = {
        "webhook-id": payload["id"],
        "webhook-timestamp": ts,
        "webhook-signature": "v1," + base64.b64encode(mac.digest()).decode(),
    }
    with _capture(execute=True):
        response = client.post(URL, data=body, content_type="application/json", headers=headers)
    assert response.status_code == 200
    assert Membership.objects.filter(creator=whop_creator).exists()


@pytest.mark.parametrize(
    "body",
    [
        '{"id": "msg_nul", "type": "membership.activated", "data": {"id": "mem_\\u0000"}}',
        '{"id": "msg_nul", "type": "membership.\\u0000", "data": {}}',
        '{"id": "msg_sur", "type": "membership.activated", "data": {"id": "\\ud800"}}',
        '["not", "an", "object"]',
        "not json at all",
        '{"id": "msg_deep", "type": "x", "data": ' + '{"a": ' * 50_000 + "1" + "}" * 50_001,
    ],
    ids=["nul-value", "nul-type", "lone-surrogate", "array", "garbage", "deep"],
)
def test_signed_but_unstorable_bodies_are_400_never_500(client, whop_creator, body):
    headers = signed_headers(body, "msg_nul")
    response = client.post(URL, data=body, content_type="application/json", headers=headers)
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0


@pytest.mark.parametrize("length", [128, 129, 4000])
def test_webhook_id_longer_than_128_is_400(client, whop_creator, length):
    msg_id = "msg_" + "x" * (length - 4)
    payload = envelope("membership.activated", membership_data(whop_creator), msg_id=msg_id)
    response = deliver(client, payload)
    assert response.status_code == (200 if length <= 128 else 400)
    assert WebhookEvent.objects.count() == (1 if length <= 128 else 0)


def test_webhook_tasks_go_to_their_own_queue(client, whop_creator):
    """Not the pipeline's queue: queued on the `whop` cluster's broker list."""
    from django_q.conf import Conf
    from django_q.models import OrmQ

    sync, Conf.SYNC = Conf.SYNC, False
    try:
        deliver(client, envelope("membership.activated", membership_data(whop_creator)))
    finally:
        Conf.SYNC = sync
    queued = OrmQ.objects.get()
    assert queued.key == "whop"
    assert queued.task["func"] == "creators.tasks.webhook_process_task"
