"""Seeing the plan: GET /api/v1/usage/, the Plan & usage page (meters equal the ledgers),
the 80% banner and its one e-mail per limit per period, students over the limit, the Costs
page and its CSV."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from billing.models import QuestionUsage, UsageAlert, UsageLedgerEntry
from billing.selectors import Meter, usage_summary
from billing.services.alerts import usage_alerts_check
from billing.services.ledger import usage_record
from tests.factories import MembershipFactory
from videos.models import Video


def add_videos(creator, n: int, size: int = 100_000_000) -> None:
    for i in range(n):
        Video.objects.create(creator=creator, title=f"V{i}", size_bytes=size)


def test_meter_levels_follow_the_issue():
    assert [Meter("x", "X", used, 100).level for used in (0, 74, 75, 89, 90, 130)] == [
        "green",
        "green",
        "amber",
        "amber",
        "red",
        "red",
    ]
    assert Meter("x", "X", 5, None).level == "green" and Meter("x", "X", 5, None).percent is None


@pytest.mark.django_db
def test_usage_api_contract(owner_client, creator, student):
    add_videos(creator, 2, size=250_000_000)
    QuestionUsage.objects.create(creator=creator, user=student)
    body = owner_client.get("/api/v1/usage/").json()
    assert body["tier"] == "free"
    assert body["limits"] == {
        "videos": 5,
        "storage_bytes": 10**9,
        "file_bytes": 10**9,
        "ai_questions_per_month": 100,
        "students": 10,
        "questions_per_student": 3,
        "questions_per_student_period": "total",
    }
    assert body["used"] == {
        "videos": 2,
        "storage_bytes": 500_000_000,
        "ai_questions": 1,
        "students": 1,
    }
    assert body["period_start"] < body["period_end"]
    creator.tier = "enterprise"
    creator.save()
    limits = owner_client.get("/api/v1/usage/").json()["limits"]
    assert limits["videos"] is None and limits["ai_questions_per_month"] is None
    assert limits["file_bytes"] == 10 * 10**9


@pytest.mark.django_db
def test_usage_api_is_the_managers_only(client, creator, student):
    client.force_login(student)
    assert client.get(f"/api/v1/usage/?creator={creator.handle}").status_code == 404


@pytest.mark.django_db
def test_plan_page_meters_equal_the_ledgers(owner_client, creator, student):
    add_videos(creator, 4)  # 80% of videos: red? no — 80% is amber
    for _ in range(3):
        QuestionUsage.objects.create(creator=creator, user=student)
    QuestionUsage.objects.create(
        creator=creator, user=student, asked_at=timezone.now() - timedelta(days=40)
    )  # last period: not counted
    page = owner_client.get(reverse("billing:plan", kwargs={"handle": creator.handle}))
    html = page.content.decode()
    assert page.status_code == 200 and "Plan &amp; usage" in html
    summary = usage_summary(creator=creator)
    assert summary.meter("videos").used == Video.objects.filter(creator=creator).count() == 4
    assert summary.meter("ai_questions").used == 3
    assert summary.meter("storage_bytes").used == 400_000_000
    assert "plan-amber" in html and "80%" in html  # videos 4/5
    assert "<strong>400 MB</strong> of 1 GB" in html
    assert 'class="plan-current"' in html and html.count(">Upgrade</button>") == 3
    assert "set WHOP_API_KEY, WHOP_PLAN_BASIC" in html  # without Whop the page says what to set
    # The 80% banner shows across the studio.
    library = owner_client.get(reverse("videos:library", kwargs={"handle": creator.handle}))
    assert "Plan limits:" in library.content.decode()


@pytest.mark.django_db
def test_one_email_per_limit_per_period(creator, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    creator.owner.email = "owner@example.com"
    creator.owner.save()
    add_videos(creator, 4)
    assert [a.limit for a in usage_alerts_check(creator=creator)] == ["videos"]
    assert usage_alerts_check(creator=creator) == []  # once per period
    assert len(mail.outbox) == 1 and "80% of your videos" in mail.outbox[0].subject
    assert "/studio/acme/plan/" in mail.outbox[0].body
    next_month = timezone.now() + timedelta(days=32)
    assert [a.limit for a in usage_alerts_check(creator=creator, now=next_month)] == ["videos"]
    assert UsageAlert.objects.count() == 2 and len(mail.outbox) == 2


@pytest.mark.django_db
def test_students_over_the_limit_keep_access_and_the_creator_is_warned(owner_client, creator):
    students = [MembershipFactory(creator=creator).user for _ in range(11)]
    page = owner_client.get(reverse("billing:plan", kwargs={"handle": creator.handle}))
    assert "You have 11 students; the Free plan includes 10" in page.content.decode()
    from creators.selectors import creators_learnable_by

    assert all(creators_learnable_by(user=s).filter(pk=creator.pk).exists() for s in students)


@pytest.mark.django_db
def test_costs_page_and_csv_from_the_ledger(owner_client, creator, student):
    usage_record(
        creator=creator,
        operation="transcription",
        provider="openai",
        model="whisper-1",
        units=600,
        unit="seconds",
        usd=Decimal("0.060000"),
        subject="video:7",
    )
    usage_record(
        creator=creator,
        operation="chat",
        provider="anthropic",
        model="claude-haiku-4-5",
        units=1200,
        unit="tokens",
        usd=Decimal("0.004000"),
        subject="chat_message:1",
        user=student,
        course_id=3,
    )
    page = owner_client.get(reverse("billing:costs", kwargs={"handle": creator.handle}))
    html = page.content.decode()
    assert page.status_code == 200 and "$0.06" in html  # month to date: 0.064 -> $0.06
    assert 'id="cost-by-day"' in html and "vendor/plotly.min.js" in html
    assert str(student) in html
    csv_response = owner_client.get(reverse("billing:costs_csv", kwargs={"handle": creator.handle}))
    lines = csv_response.content.decode().strip().splitlines()
    assert csv_response["Content-Type"].startswith("text/csv")
    assert lines[0].startswith("created_at,operation") and len(lines) == 3
    total = sum(Decimal(line.split(",")[6]) for line in lines[1:])
    assert total == sum(e.usd for e in UsageLedgerEntry.objects.filter(creator=creator))


@pytest.mark.django_db
def test_pages_of_another_tenant_are_404(client, creator, other_creator):
    client.force_login(other_creator.owner)
    for name in ("billing:plan", "billing:costs", "billing:costs_csv"):
        assert client.get(reverse(name, kwargs={"handle": creator.handle})).status_code == 404
    url = reverse("billing:upgrade", kwargs={"handle": creator.handle})
    assert client.post(url, {"tier": "pro"}).status_code == 404
