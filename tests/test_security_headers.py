"""Security headers (django-csp, django-permissions-policy, Django's HSTS) and sign-in
throttling (django-axes) for the admin form, e-mail sign-in and HTTP Basic."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*application/(?:ld\+)?json)[^>]*>")
INLINE_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE)
PASSWORD = "correct horse battery staple"


def _directives(header: str) -> dict[str, list[str]]:
    parts = [p.strip().split() for p in header.split(";") if p.strip()]
    return {p[0]: p[1:] for p in parts}


def test_pages_send_csp_permissions_policy_and_keep_whop_framing(client, db):
    response = client.get("/")
    csp = _directives(response["Content-Security-Policy"])
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
    assert csp["object-src"] == ["'none'"]
    assert "https://whop.com" in csp["frame-ancestors"]
    assert "X-Frame-Options" not in response
    policy = response["Permissions-Policy"]
    assert "camera=()" in policy and "microphone=()" in policy
    assert "fullscreen=(self)" in policy


def test_admin_may_not_be_framed(client, db):
    response = client.get("/admin/login/")
    csp = _directives(response["Content-Security-Policy"])
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["default-src"] == ["'self'"]


def test_hsts_over_https_when_not_debug(client, db):
    assert not django_settings.DEBUG
    response = client.get("/", secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Strict-Transport-Security" not in client.get("/")  # never over plain HTTP


def test_no_template_has_inline_script_or_event_handler():
    offenders = []
    for folder in [ROOT / "templates", *ROOT.glob("*/templates")]:
        for path in folder.rglob("*.html"):
            text = path.read_text()
            for pattern in (INLINE_SCRIPT, INLINE_HANDLER):
                offenders += [f"{path.relative_to(ROOT)}: {m}" for m in pattern.findall(text)]
    assert not offenders, "inline script breaks the CSP; use static/js:\n" + "\n".join(offenders)


@pytest.fixture
def staff(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast
    user = UserFactory(username="boss", email="boss@example.com", is_staff=True)
    user.set_password(PASSWORD)
    user.save()
    return user


def test_admin_sign_in_locks_out_by_user_with_a_clear_message(client, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        page = client.post("/admin/login/", {"username": "boss", "password": "wrong"})
        assert page.status_code == 200  # the admin's own "please enter the correct..."
    assert client.post("/admin/login/", {"username": "boss", "password": "x"}).status_code == 429
    page = client.post(
        "/admin/login/?next=/admin/", {"username": "boss", "password": PASSWORD}
    )  # the right password no longer helps
    assert page.status_code == 429
    assert b"Too many failed sign-in attempts" in page.content
    assert int(page["Retry-After"]) >= 60
    assert "_auth_user_id" not in client.session


def test_http_basic_locks_out_by_ip_across_usernames(client, staff, settings):
    def basic(user: str, password: str) -> dict:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"HTTP_AUTHORIZATION": f"Basic {token}"}

    assert client.get("/api/v1/videos/", **basic("boss", PASSWORD)).status_code != 401
    statuses = [
        client.get("/api/v1/videos/", **basic(f"guess{i}@example.com", "nope")).status_code
        for i in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert statuses == [401] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    locked = client.get("/api/v1/videos/", **basic("boss", PASSWORD))
    assert locked.status_code == 429
    body = locked.json()
    assert body["code"] == "locked_out" and "Too many failed sign-in" in body["error"]
    # The async chat endpoint reads HTTP Basic itself: the same lockout applies.
    ask = client.post(
        "/api/v1/chat", {"message": "hi"}, content_type="application/json", **basic("boss", "x")
    )
    assert ask.status_code == 429


def test_email_sign_in_is_throttled_too(client, staff, settings):
    """allauth's own limit (5 failures per account) answers first; axes backs it up."""
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"login": "boss@example.com", "password": "wrong"})
    page = client.post("/accounts/login/", {"login": "boss@example.com", "password": PASSWORD})
    assert page.status_code in (200, 429)
    assert b"Too many failed" in page.content
    assert "_auth_user_id" not in client.session
