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
from datetime import timedelta

import requests
from allauth.socialaccount.models import SocialToken
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from whop_sdk.lib.verify_user_token import verify_user_token

from creators.models import User

logger = logging.getLogger(__name__)

WHOP_PROVIDER_ID = "whop"
USER_TOKEN_HEADER = "x-whop-user-token"
# Timeout for calls to Whop's OAuth endpoints (seconds): sign-out must never hang on them.
OAUTH_HTTP_TIMEOUT_SECONDS = 5
# Refresh an access token this long before it expires.
REFRESH_MARGIN = timedelta(seconds=60)
DISCOVERY_CACHE_SECONDS = 3600


class WhopAuthError(Exception):
    """A Whop token could not be verified, refreshed or used."""


# --- Iframe user token (x-whop-user-token) ---------------------------------------------------


def whop_user_token_verify(token: str) -> str:
    """The Whop user id ("user_...") in a valid iframe token.

    Verified by whop-sdk (`whop_sdk.lib.verify_user_token`): ES256 against the key set at
    settings.WHOP_JWKS_URL (cached 12 h by the SDK), iss "urn:whopcom:exp-proxy", aud ==
    settings.WHOP_APP_ID, exp/nbf when present. Tokens without `kid` (older ones Whop still
    issues) are tried against every key. Raises WhopAuthError when anything is wrong
    (including no app id configured or the key set being unreachable).
    """
    app_id = settings.WHOP_APP_ID
    if not app_id:
        raise WhopAuthError("WHOP_APP_ID is not configured.")
    try:
        payload = verify_user_token(token, app_id=app_id, jwks_url=settings.WHOP_JWKS_URL)
    except (ValueError, RuntimeError) as exc:
        raise WhopAuthError(f"Invalid Whop user token: {type(exc).__name__}") from exc
    return payload.user_id


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


# --- Whop's REST API (whop-sdk, the app's WHOP_API_KEY) ---------------------------------------

# Whop's access levels (GET /users/{id}/access/{resource}, whop_sdk CheckAccessUsersResponse).
ACCESS_ADMIN, ACCESS_CUSTOMER, ACCESS_NONE = "admin", "customer", "no_access"
# Seconds a retrieved experience (its company and products) is cached: they rarely change.
EXPERIENCE_CACHE_SECONDS = 3600
# Timeout for one Whop API call (seconds); a page inside Whop must not hang on it.
API_TIMEOUT_SECONDS = 8


def whop_client():
    """A whop_sdk.Whop client for settings.WHOP_API_BASE (+"/api/v1") with the app API key.

    Raises WhopAuthError when WHOP_API_KEY is not configured."""
    from whop_sdk import Whop
    from whop_sdk.environment import WhopEnvironment

    if not settings.WHOP_API_KEY:
        raise WhopAuthError("WHOP_API_KEY is not configured.")
    base = settings.WHOP_API_BASE.rstrip("/")
    return Whop(
        environment=WhopEnvironment(api=f"{base}/api/v1", vault=f"{base}/api/v1"),
        token=settings.WHOP_API_KEY,
        timeout=API_TIMEOUT_SECONDS,
        max_retries=1,
    )


def _api_call(fn, *args):
    from whop_sdk.core.api_error import ApiError

    try:
        return fn(*args)
    except ApiError as exc:
        raise WhopAuthError(f"Whop API answered HTTP {exc.status_code}.") from exc
    except Exception as exc:  # httpx transport errors, bad payloads
        raise WhopAuthError(f"Whop API call failed: {type(exc).__name__}") from exc


def whop_experience_get(*, experience_id: str) -> dict:
    """An experience as {"id", "name", "company": {"id", "title", "route"}, "products":
    [{"id", "title", "route"}]}, from Whop's API (cached EXPERIENCE_CACHE_SECONDS).

    Raises WhopAuthError when Whop does not know it or cannot be reached."""
    key = f"whop:experience:{experience_id}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    experience = _api_call(whop_client().experiences.retrieve, experience_id)
    value = {
        "id": experience.id,
        "name": experience.name,
        "company": {
            "id": experience.company.id,
            "title": experience.company.title,
            "route": experience.company.route,
        },
        "products": [{"id": p.id, "title": p.title, "route": p.route} for p in experience.products],
    }
    cache.set(key, value, EXPERIENCE_CACHE_SECONDS)
    return value


def whop_access_level(*, whop_user_id: str, resource_id: str, fresh: bool = False) -> str:
    """Who `whop_user_id` is to `resource_id` (an "exp_...", "biz_..." or "prod_..."):
    "admin", "customer" or "no_access", per Whop's access check (`users.check_access`).

    Cached settings.WHOP_ACCESS_CACHE_SECONDS (at most 300 s) so a role or membership change
    at Whop shows within five minutes even without a webhook; `fresh` skips the cache.
    Raises WhopAuthError when Whop cannot be asked."""
    key = f"whop:access:{whop_user_id}:{resource_id}"
    level = None if fresh else cache.get(key)
    if level is None:
        answer = _api_call(whop_client().users.check_access, whop_user_id, resource_id)
        level = str(answer.access_level)
        if level not in (ACCESS_ADMIN, ACCESS_CUSTOMER):
            level = ACCESS_NONE
        cache.set(key, level, settings.WHOP_ACCESS_CACHE_SECONDS)
    return level


def whop_purchase_url(experience: dict) -> str:
    """Where a visitor without access can buy it: the first product's store page on whop.com
    ("https://whop.com/<company route>/<product route>/"), else the company's page."""
    company = experience.get("company") or {}
    products = experience.get("products") or []
    parts = [company.get("route") or ""]
    if products and products[0].get("route"):
        parts.append(products[0]["route"])
    path = "/".join(p for p in parts if p)
    return f"https://whop.com/{path}/" if path else "https://whop.com/"
