"""Inside Whop's iframe: the x-whop-user-token header signs the user in; framing headers."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from creators.models import User
from tests.oidc_server import OIDCServer

APP_ID = "app_chronos_test"
SUB = "user_Iframe0001"


@pytest.fixture
def whop(settings):
    server = OIDCServer().start()
    settings.WHOP_APP_ID = APP_ID
    settings.WHOP_JWKS_URL = f"{server.base_url}/.well-known/jwks.json"
    yield server
    server.stop()


def signed_in_user(response):
    user = response.wsgi_request.user
    return user if user.is_authenticated else None


def test_valid_token_signs_the_whop_user_in(client, whop, db):
    token = whop.user_token(sub=SUB, aud=APP_ID)
    response = client.get("/", headers={"x-whop-user-token": token})
    assert response.status_code == 200
    user = signed_in_user(response)
    assert user is not None and user.whop_user_id == SUB
    assert int(client.session["_auth_user_id"]) == user.pk
    # The next request (same token or a fresh one) is the same person, not a new account.
    client.get("/", headers={"x-whop-user-token": whop.user_token(sub=SUB, aud=APP_ID)})
    assert User.objects.filter(whop_user_id=SUB).count() == 1


def test_token_without_kid_is_accepted(client, whop, db):
    """Older tokens Whop still issues carry no `kid`: verified against every key."""
    token = whop.user_token(sub=SUB, aud=APP_ID, kid=None)
    assert signed_in_user(client.get("/", headers={"x-whop-user-token": token})).whop_user_id == SUB


def test_token_without_kid_from_a_foreign_key_is_refused(client, whop, db):
    foreign = ec.generate_private_key(ec.SECP256R1())
    token = whop.user_token(sub=SUB, aud=APP_ID, kid=None, key=foreign)
    assert signed_in_user(client.get("/", headers={"x-whop-user-token": token})) is None


def test_token_switches_user_when_a_different_whop_user_arrives(client, whop, db):
    client.get("/", headers={"x-whop-user-token": whop.user_token(sub=SUB, aud=APP_ID)})
    response = client.get(
        "/", headers={"x-whop-user-token": whop.user_token(sub="user_Other", aud=APP_ID)}
    )
    assert signed_in_user(response).whop_user_id == "user_Other"


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "user_Attacker"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize(
    "case", ["tampered", "expired", "wrong_audience", "wrong_issuer", "foreign_key", "garbage"]
)
def test_bad_tokens_sign_nobody_in(client, whop, db, case):
    make = {
        "tampered": lambda: _tampered(whop.user_token(sub=SUB, aud=APP_ID)),
        "expired": lambda: whop.user_token(sub=SUB, aud=APP_ID, expires_in=-120),
        "wrong_audience": lambda: whop.user_token(sub=SUB, aud="app_someone_else"),
        "wrong_issuer": lambda: whop.user_token(sub=SUB, aud=APP_ID, iss="https://evil.example"),
        # Same kid, different private key: the signature does not match Whop's JWKS.
        "foreign_key": lambda: whop.user_token(
            sub=SUB, aud=APP_ID, key=ec.generate_private_key(ec.SECP256R1())
        ),
        "garbage": lambda: "not-a-jwt",
    }
    token = make[case]()
    page = client.get("/", headers={"x-whop-user-token": token})
    assert page.status_code == 200 and signed_in_user(page) is None
    api = client.get("/api/v1/videos/", headers={"x-whop-user-token": token})
    assert api.status_code == 401
    assert not User.objects.filter(whop_user_id__in=[SUB, "user_Attacker"]).exists()


def test_bad_token_does_not_ride_on_an_existing_session(client, whop, db):
    client.get("/", headers={"x-whop-user-token": whop.user_token(sub=SUB, aud=APP_ID)})
    bad = whop.user_token(sub=SUB, aud="app_someone_else")
    assert signed_in_user(client.get("/", headers={"x-whop-user-token": bad})) is None


def test_no_app_id_configured_refuses_tokens(client, whop, settings, db):
    settings.WHOP_APP_ID = ""
    response = client.get("/", headers={"x-whop-user-token": whop.user_token(sub=SUB, aud=APP_ID)})
    assert signed_in_user(response) is None


def test_pages_may_be_framed_by_whop_only(client, db):
    response = client.get("/")
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://whop.com https://*.whop.com" in csp
    assert "X-Frame-Options" not in response


def test_admin_is_never_framed(client, db):
    response = client.get("/admin/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
