"""Plan & usage and Costs in a real browser (Debian's chromium through Playwright) against
the live server, at 375 px and 1440 px: meters coloured by level, the tier table with the
current tier marked, the studio banner at 80%, and the Costs page's Plotly charts drawn by
plotly.js. Screenshots go to /tmp/shots/plans-*.png."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client

from billing.models import QuestionUsage
from billing.services.ledger import usage_record
from tests.factories import CreatorFactory, MembershipFactory
from videos.models import Video

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path("/tmp/shots")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SIZES = {"1440": (1440, 900), "375": (375, 812)}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def busy_studio(transactional_db):
    """A free-tier studio near its limits, with a month of AI spend in the ledger."""
    creator = CreatorFactory(handle="faraday", company_name="Royal Institution")
    students = [MembershipFactory(creator=creator).user for _ in range(6)]
    for i in range(4):
        Video.objects.create(
            creator=creator, title=f"Lecture {i + 1}", size_bytes=230_000_000, status="completed"
        )
    for i in range(93):
        QuestionUsage.objects.create(creator=creator, user=students[i % len(students)])
    for i, (op, usd) in enumerate(
        [("transcription", "0.186"), ("embedding", "0.004"), ("chat", "0.021")] * 4
    ):
        usage_record(
            creator=creator,
            operation=op,
            provider="openai" if op != "chat" else "anthropic",
            model={"transcription": "whisper-1", "embedding": "text-embedding-3-small"}.get(
                op, "claude-haiku-4-5"
            ),
            units=100 * (i + 1),
            unit="seconds" if op == "transcription" else "tokens",
            usd=Decimal(usd),
            subject=f"video:{Video.objects.filter(creator=creator)[i % 4].pk}"
            if op != "chat"
            else f"chat_message:{i}",
            user=students[i % 3] if op == "chat" else None,
            course_id=1 if op == "chat" else None,
        )
    return creator


@pytest.fixture
def browser():
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def signed_in_page(browser, live_server, user, size: str):
    client = Client()
    client.force_login(user)
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "response",
        lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    return page, errors


@pytest.mark.parametrize("size", ["1440", "375"])
def test_plan_page_in_the_browser(busy_studio, live_server, browser, size):
    page, errors = signed_in_page(browser, live_server, busy_studio.owner, size)
    page.goto(f"{live_server.url}/studio/faraday/plan/")
    page.screenshot(path=str(SHOTS / f"plans-plan-{size}.png"), full_page=True)
    assert page.locator("h1").inner_text() == "Plan & usage"
    assert page.locator(".plan-meter.plan-red").count() == 2  # storage 92%, questions 93%
    assert page.locator(".plan-meter.plan-amber").count() == 1  # videos 80%
    assert page.locator("tr.plan-current").inner_text().startswith("Free")
    assert page.locator(".plan-banner").is_visible()
    # Nothing overflows the viewport sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert errors == []


@pytest.mark.parametrize("size", ["1440", "375"])
def test_costs_page_in_the_browser(busy_studio, live_server, browser, size):
    page, errors = signed_in_page(browser, live_server, busy_studio.owner, size)
    page.goto(f"{live_server.url}/studio/faraday/costs/")
    page.wait_for_selector("[data-figure='cost-by-day'] .main-svg", timeout=15_000)
    page.screenshot(path=str(SHOTS / f"plans-costs-{size}.png"), full_page=True)
    assert page.locator(".plotly-figure .main-svg").count() >= 4
    assert "$0.84" in page.locator(".cost-totals").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert errors == []
