"""Whop identity: the iframe user token, and the OAuth tokens "Sign in with Whop" stores.

Sources: Whop's authentication guide (docs.whop.com/developer/guides/authentication) for the
`x-whop-user-token` JWT (ES256, JWKS at {WHOP_API_BASE}/.well-known/jwks.json, iss
"urn:whopcom:exp-proxy", aud = the app id, sub = the user id), and its OAuth guide
(docs.whop.com/developer/guides/oauth) for the endpoints under {WHOP_API_BASE}/oauth/:
access tokens last one hour, refresh tokens rotate on every use (always store the newest),
and refresh tokens are revoked on sign-out. Secrets and tokens never reach logs.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import jwt
import requests
from allauth.socialaccount.models import SocialToken
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from creators.models import User

logger = logging.getLogger(__name__)

WHOP_PROVIDER_ID = "whop"
USER_TOKEN_HEADER = "x-whop-user-token"
USER_TOKEN_ISSUER = "urn:whopcom:exp-proxy"
USER_TOKEN_ALGORITHMS = ["ES256"]
# Seconds of clock skew accepted on exp/iat/nbf of the iframe token.
USER_TOKEN_LEEWAY_SECONDS = 10
# Timeout for calls to Whop's OAuth endpoints (seconds): sign-out must never hang on them.
OAUTH_HTTP_TIMEOUT_SECONDS = 5
# Refresh an access token this long before it expires.
REFRESH_MARGIN = timedelta(seconds=60)
DISCOVERY_CACHE_SECONDS = 3600


class WhopAuthError(Exception):
    """A Whop token could not be verified, refreshed or used."""


# --- Iframe user token (x-whop-user-token) ---------------------------------------------------

_jwk_clients: dict[str, jwt.PyJWKClient] = {}
_jwk_lock = threading.Lock()


def _jwk_client(url: str) -> jwt.PyJWKClient:
    with _jwk_lock:
        client = _jwk_clients.get(url)
        if client is None:
            # PyJWKClient caches the key set (refetching on an unknown kid).
            client = jwt.PyJWKClient(url, cache_keys=True, lifespan=12 * 3600, timeout=10)
            _jwk_clients[url] = client
        return client


def whop_user_token_verify(token: str) -> str:
    """The Whop user id ("user_...") in a valid iframe token.

    Checks the ES256 signature against settings.WHOP_JWKS_URL, iss, aud ==
    settings.WHOP_APP_ID, exp. Raises WhopAuthError when anything is wrong (including no
    app id configured or the key set being unreachable).
    """
    app_id = settings.WHOP_APP_ID
    if not app_id:
        raise WhopAuthError("WHOP_APP_ID is not configured.")
    try:
        signing_key = _jwk_client(settings.WHOP_JWKS_URL).get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            signing_key.key,
            algorithms=USER_TOKEN_ALGORITHMS,
            audience=app_id,
            issuer=USER_TOKEN_ISSUER,
            leeway=USER_TOKEN_LEEWAY_SECONDS,
            options={"require": ["exp", "sub", "aud", "iss"]},
        )
    except (jwt.PyJWTError, jwt.PyJWKClientError) as exc:
        raise WhopAuthError(f"Invalid Whop user token: {type(exc).__name__}") from exc
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise WhopAuthError("Whop user token has no subject.")
    return sub


# --- OAuth tokens stored by allauth ------------------------------------------------------------


def whop_openid_config() -> dict:
    """Whop's OpenID discovery document (cached for an hour); endpoints under /oauth/ as a
    fallback when it cannot be fetched."""
    base = settings.WHOP_API_BASE.rstrip("/")
    key = f"whop-openid-config:{base}"
    config = cache.get(key)
    if config is None:
        try:
            response = requests.get(
                f"{base}/.well-known/openid-configuration", timeout=OAUTH_HTTP_TIMEOUT_SECONDS
            )
            response.raise_for_status()
            config = response.json()
            cache.set(key, config, DISCOVERY_CACHE_SECONDS)
        except (requests.RequestException, ValueError):
            logger.warning("Whop OpenID discovery failed; using default endpoints.")
            config = {}
    return {
        "token_endpoint": f"{base}/oauth/token",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "userinfo_endpoint": f"{base}/oauth/userinfo",
        **config,
    }


def _client_credentials() -> dict[str, str]:
    return {"client_id": settings.WHOP_CLIENT_ID, "client_secret": settings.WHOP_CLIENT_SECRET}


def whop_social_tokens(*, user: User):
    """The user's stored Whop OAuth tokens (normally one)."""
    return SocialToken.objects.filter(account__user=user, account__provider=WHOP_PROVIDER_ID)


def whop_access_token(*, user: User) -> str:
    """A valid Whop access token for `user`, refreshing (and storing the rotated refresh
    token) when it expires within a minute. Raises WhopAuthError when the user has no Whop
    token or the refresh is refused."""
    token = whop_social_tokens(user=user).select_related("account").first()
    if token is None:
        raise WhopAuthError("This user has not signed in with Whop.")
    if token.expires_at is None or token.expires_at - REFRESH_MARGIN > timezone.now():
        return token.token
    return whop_token_refresh(token=token).token


def whop_token_refresh(*, token: SocialToken) -> SocialToken:
    """Exchange the stored refresh token; store the new access token, the NEW refresh token
    (Whop rotates them: the old one stops working) and the expiry. Raises WhopAuthError."""
    if not token.token_secret:
        raise WhopAuthError("No refresh token stored.")
    try:
        response = requests.post(
            whop_openid_config()["token_endpoint"],
            data={
                "grant_type": "refresh_token",
                "refresh_token": token.token_secret,
                **_client_credentials(),
            },
            timeout=OAUTH_HTTP_TIMEOUT_SECONDS,
        )
    except requests.RequestException as exc:
        raise WhopAuthError(f"Whop token refresh failed: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise WhopAuthError(f"Whop token refresh refused (HTTP {response.status_code}).")
    data = response.json()
    if "access_token" not in data:
        raise WhopAuthError("Whop token refresh returned no access token.")
    token.token = data["access_token"]
    if data.get("refresh_token"):
        token.token_secret = data["refresh_token"]
    if data.get("expires_in"):
        token.expires_at = timezone.now() + timedelta(seconds=int(data["expires_in"]))
    token.save(update_fields=["token", "token_secret", "expires_at"])
    return token


def whop_tokens_revoke(*, user: User) -> int:
    """Revoke the user's Whop refresh tokens at Whop and forget them locally.

    Called on sign-out. Never raises: a failure is logged (without the token) and the local
    copy is deleted anyway. Returns how many tokens Whop confirmed revoked.
    """
    revoked = 0
    for token in list(whop_social_tokens(user=user)):
        secret = token.token_secret or token.token
        hint = "refresh_token" if token.token_secret else "access_token"
        try:
            response = requests.post(
                whop_openid_config()["revocation_endpoint"],
                data={"token": secret, "token_type_hint": hint, **_client_credentials()},
                timeout=OAUTH_HTTP_TIMEOUT_SECONDS,
            )
            if response.status_code == 200:
                revoked += 1
            else:
                logger.warning(
                    "Whop token revocation for user %s answered HTTP %s.",
                    user.pk,
                    response.status_code,
                )
        except requests.RequestException as exc:
            logger.warning(
                "Whop token revocation for user %s failed: %s", user.pk, type(exc).__name__
            )
        token.delete()
    return revoked
