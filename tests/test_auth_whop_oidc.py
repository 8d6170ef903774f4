"""'Sign in with Whop' through allauth's OpenID Connect provider, against a loopback Whop.

The real allauth flow runs: discovery, redirect to /oauth/authorize with PKCE S256, the
callback, the token exchange (the server checks the code_verifier), userinfo. Then refresh
token rotation and revocation on sign-out.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.utils import timezone

from creators.models import User
from creators.services import user_get_or_create_for_whop
from creators.whop import WhopAuthError, whop_access_token, whop_token_refresh
from tests.oidc_server import OIDCServer, pkce_challenge

LOGIN_URL = "/accounts/oidc/whop/login/"


def provider_settings(server: OIDCServer, *, pkce: bool = True) -> dict:
    return {
        "openid_connect": {
            "OAUTH_PKCE_ENABLED": pkce,
            "APPS": [
                {
                    "provider_id": "whop",
                    "name": "Whop",
                    "client_id": server.client_id,
                    "secret": server.client_secret,
                    "settings": {
                        "server_url": server.base_url,
                        "oauth_pkce_enabled": pkce,
                        "token_auth_method": "client_secret_post",
                        "scope": ["openid", "profile", "email"],
                    },
                }
            ],
        }
    }


@pytest.fixture
def whop(settings):
    server = OIDCServer().start()
    settings.WHOP_API_BASE = server.base_url
    settings.WHOP_CLIENT_ID = server.client_id
    settings.WHOP_CLIENT_SECRET = server.client_secret
    settings.SOCIALACCOUNT_PROVIDERS = provider_settings(server)
    yield server
    server.stop()


def sign_in(client, server: OIDCServer):
    """Start at our login URL, let the loopback 'user' approve, follow back to the callback."""
    start = client.post(LOGIN_URL)
    assert start.status_code == 302, start.content[:500]
    authorize = start["Location"]
    assert authorize.startswith(f"{server.base_url}/oauth/authorize?")
    approved = requests.get(authorize, allow_redirects=False, timeout=5)
    assert approved.status_code == 302
    back = urlsplit(approved.headers["Location"])
    assert back.path == "/accounts/oidc/whop/login/callback/"
    return client.get(f"{back.path}?{back.query}"), parse_qs(urlsplit(authorize).query)


def test_sign_in_with_whop_end_to_end(client, whop, db):
    response, params = sign_in(client, whop)
    assert response.status_code == 302 and response["Location"] == "/"
    assert params["code_challenge_method"] == ["S256"]
    assert set(params["scope"][0].split()) == {"openid", "profile", "email"}
    # The server checked the verifier against the challenge it saw.
    token_call = next(form for method, path, form in whop.requests if path == "/oauth/token")
    assert pkce_challenge(token_call["code_verifier"]) == params["code_challenge"][0]

    user = User.objects.get(whop_user_id="user_Loop1234567")
    assert int(client.session["_auth_user_id"]) == user.pk
    assert user.display_name == "Ada Lovelace"
    assert user.avatar_url == "https://cdn.example.com/ada.png"
    assert user.email == "ada@example.com"
    assert not user.has_usable_password()
    account = SocialAccount.objects.get(user=user)
    assert (account.provider, account.uid) == ("whop", "user_Loop1234567")
    token = SocialToken.objects.get(account=account)
    assert token.token in whop.access_tokens and token.token_secret in whop.refresh_tokens


def test_server_refuses_a_flow_without_pkce(client, whop, settings, db):
    settings.SOCIALACCOUNT_PROVIDERS = provider_settings(whop, pkce=False)
    response, params = sign_in(client, whop)
    assert "code_challenge" not in params
    assert response.status_code == 401  # allauth's authentication error page
    assert b"Whop" in response.content
    assert "_auth_user_id" not in client.session
    assert not User.objects.filter(whop_user_id="user_Loop1234567").exists()


def test_user_known_from_iframe_is_connected_not_duplicated(client, whop, db):
    existing = user_get_or_create_for_whop(whop_user_id="user_Loop1234567")
    sign_in(client, whop)
    assert User.objects.filter(whop_user_id="user_Loop1234567").count() == 1
    assert int(client.session["_auth_user_id"]) == existing.pk
    existing.refresh_from_db()
    assert existing.display_name == "Ada Lovelace"


def test_profile_changes_at_whop_are_picked_up(client, whop, db):
    sign_in(client, whop)
    client.post("/accounts/logout/")
    whop.user.name = "Ada King"
    sign_in(client, whop)
    assert User.objects.get(whop_user_id="user_Loop1234567").display_name == "Ada King"


def test_refresh_rotates_and_stores_the_newest_token(client, whop, db):
    sign_in(client, whop)
    user = User.objects.get(whop_user_id="user_Loop1234567")
    token = SocialToken.objects.get(account__user=user)
    old_access, old_refresh = token.token, token.token_secret
    assert whop_access_token(user=user) == old_access  # still fresh: no refresh
    token.expires_at = timezone.now() - timedelta(seconds=1)
    token.save()
    new_access = whop_access_token(user=user)
    token.refresh_from_db()
    assert new_access != old_access and token.token == new_access
    assert token.token_secret != old_refresh and token.token_secret in whop.refresh_tokens
    assert token.expires_at > timezone.now() + timedelta(minutes=59)
    # The old refresh token was used up: Whop refuses it now.
    token.token_secret = old_refresh
    with pytest.raises(WhopAuthError):
        whop_token_refresh(token=token)


def test_sign_out_revokes_the_refresh_token(client, whop, db):
    sign_in(client, whop)
    refresh = SocialToken.objects.get().token_secret
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert whop.revoked == [refresh]
    assert refresh not in whop.refresh_tokens
    assert not SocialToken.objects.exists()


def test_sign_out_works_when_whop_revoke_fails(client, whop, db, caplog):
    sign_in(client, whop)
    refresh = SocialToken.objects.get().token_secret
    whop.fail_revoke = True
    with caplog.at_level(logging.WARNING):
        response = client.post("/accounts/logout/")
    assert response.status_code == 302 and "_auth_user_id" not in client.session
    assert not SocialToken.objects.exists()
    assert "revocation" in caplog.text and refresh not in caplog.text


def test_signing_in_again_does_not_revoke_the_new_token(client, whop, db):
    sign_in(client, whop)
    sign_in(client, whop)  # allauth logs the current session out before logging in again
    token = SocialToken.objects.get()
    assert token.token_secret in whop.refresh_tokens
    assert token.token_secret not in whop.revoked


def test_login_page_offers_whop_only_when_configured(client, whop, settings, db):
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b"Sign in with Whop" in page.content
    settings.SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"APPS": []}}
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b"Sign in with Whop" not in page.content
