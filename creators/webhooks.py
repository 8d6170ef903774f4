"""Whop webhooks: signature check, the envelope, and the dispatch table.

Whop signs deliveries with Standard Webhooks (https://www.standardwebhooks.com/): headers
`webhook-id`, `webhook-timestamp` (Unix seconds), `webhook-signature` ("v1,<base64>"
entries, space separated), HMAC-SHA256 over "{id}.{timestamp}.{raw body}", ±5 minutes of
tolerance. Verification is whop-sdk's own (`whop_sdk.lib.verify_webhook.unwrap`): the HMAC
key is the LITERAL bytes of the secret Whop shows, prefix (`ws_`, `whsec_`) included.
An app has two webhooks (the app webhook: installs and members of every installed company;
the company webhook: Chronos's own plan sales), each with its own secret, so every secret in
settings.WHOP_WEBHOOK_SECRETS (plus WHOP_WEBHOOK_SECRET) is tried in turn.

Handlers live in the app that owns the change and register here, e.g. billing registers
`payment.succeeded` from its AppConfig.ready(); this module imports no app above creators.
Several handlers may register for one type (creators handles a refund of a creator's
product, billing one of a Chronos plan); each returns quietly when the event is not its
business. A handler takes a `WebhookEnvelope` and returns nothing; it must be idempotent and
convergent (compare `envelope.timestamp` or `data.updated_at` with what is stored).

Accepted payload shape: API v1 (docs.whop.com webhooks; `data.company {id, title}`,
`data.user {id, ...}`, `data.account {id, title}` on installs). Dated API pins that send
`user_id`/`account_id`/`plan_id` flat are read too, where a field is named both ways.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime
from whop_sdk.lib.verify_webhook import WebhookVerificationError, unwrap

__all__ = [
    "CompanyNotInstalled",
    "WebhookEnvelope",
    "WebhookRejected",
    "envelope_from_payload",
    "handler_for",
    "handlers_for",
    "parse_whop_datetime",
    "register",
    "webhook_secrets",
    "webhook_verify",
]


# Longest `webhook-id` stored (characters; WebhookEvent.webhook_id's max_length). Whop's
# ids are "msg_" + 24-32 characters; anything longer is refused, not truncated.
MAX_WEBHOOK_ID_CHARS = 128


class CompanyNotInstalled(Exception):
    """The event concerns a Whop company that has not installed Chronos (yet). The delivery
    is kept "pending" and retried with backoff until the install arrives (or 72 hours)."""

    def __init__(self, company_id: str):
        super().__init__(f"Company {company_id or '?'} has not installed Chronos yet.")
        self.company_id = company_id


class WebhookRejected(Exception):
    """The delivery is not from Whop (bad/missing signature, stale or future timestamp,
    no secret configured), is not a JSON object, carries characters PostgreSQL cannot store
    (\\u0000) or an over-long webhook-id. The view answers 400 and stores nothing."""


@dataclass(frozen=True)
class WebhookEnvelope:
    """The parts of a Whop event every handler needs.

    `timestamp` is when Whop says the event happened (aware UTC datetime); `company_id` is
    the envelope's `company_id` or, on newer API pins, `account_id` ("biz_..." or "").
    """

    webhook_id: str
    type: str
    timestamp: datetime
    api_version: str
    data: dict[str, Any]
    company_id: str


Handler = Callable[[WebhookEnvelope], None]
_HANDLERS: dict[str, list[Handler]] = {}


def register(*event_types: str) -> Callable[[Handler], Handler]:
    """Decorator: route `event_types` to the decorated handler (several apps may handle one
    type; they run in registration order, in one transaction)."""

    def decorate(fn: Handler) -> Handler:
        for event_type in event_types:
            handlers = _HANDLERS.setdefault(event_type, [])
            if fn not in handlers:
                handlers.append(fn)
        return fn

    return decorate


def handlers_for(event_type: str) -> list[Handler]:
    """Every handler registered for `event_type` ([]: the event is then "ignored")."""
    return list(_HANDLERS.get(event_type, ()))


def handler_for(event_type: str) -> Handler | None:
    """One callable running every handler of `event_type`, or None when there is none."""
    handlers = handlers_for(event_type)
    if not handlers:
        return None

    def run_all(envelope: WebhookEnvelope) -> None:
        for handler in handlers:
            handler(envelope)

    return run_all


def payload_object(data: dict, key: str) -> dict[str, Any]:
    """`data[key]` when it is an object (Whop nests related objects: {"user": {"id": ...}}),
    else {}."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def payload_id(data: dict, key: str) -> str:
    """The id of the related Whop object `key`, nested ({"plan": {"id": "plan_..."}}) or flat
    ({"plan_id": "plan_..."}), as Whop's payloads use both; "" when absent."""
    return str(payload_object(data, key).get("id") or data.get(f"{key}_id") or "")


def occurred_at(envelope: WebhookEnvelope, data: dict | None = None) -> datetime:
    """When the change happened: `data` (default: the envelope's) updated_at when later than
    the envelope's timestamp, so events delivered out of order apply in order."""
    updated = parse_whop_datetime((envelope.data if data is None else data).get("updated_at"))
    return max(updated, envelope.timestamp) if updated else envelope.timestamp


def parse_whop_datetime(value: Any) -> datetime | None:
    """ISO 8601 strings ("2025-01-01T00:00:00.000Z") or Unix seconds -> aware UTC datetime."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        if value.isdigit():
            return datetime.fromtimestamp(int(value), tz=UTC)
        parsed = parse_datetime(value.replace("Z", "+00:00"))
        if parsed is not None and parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed
    return None


def _unstorable(value: Any) -> bool:
    """True when any string (key or value) of parsed JSON holds what PostgreSQL's jsonb
    refuses: a NUL character ("\\u0000") or a lone surrogate ("\\ud800")."""
    if isinstance(value, str):
        if "\x00" in value:
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unstorable(v) for v in value)
    return False


def webhook_secrets() -> list[str]:
    """The configured signing secrets: WHOP_WEBHOOK_SECRETS (comma-separated in the
    environment) then WHOP_WEBHOOK_SECRET, blanks and repeats dropped, order kept."""
    configured: Iterable[str] = [
        *getattr(settings, "WHOP_WEBHOOK_SECRETS", []),
        settings.WHOP_WEBHOOK_SECRET,
    ]
    out: list[str] = []
    for secret in configured:
        secret = (secret or "").strip()
        if secret and secret not in out:
            out.append(secret)
    return out


def webhook_verify(
    *, body: bytes, headers: dict[str, str], secrets: list[str] | None = None
) -> dict:
    """Check a delivery's Standard Webhooks signature and return its parsed JSON object.

    Each secret (default: webhook_secrets()) is tried with whop-sdk's `unwrap` (literal
    secret bytes as the HMAC key). Raises WebhookRejected when no secret verifies it, the
    webhook-id is longer than MAX_WEBHOOK_ID_CHARS, or the body is not a JSON object
    PostgreSQL can store (NUL characters and lone surrogates are refused).
    """
    secrets = webhook_secrets() if secrets is None else secrets
    if not secrets:
        raise WebhookRejected("Webhook secret is not configured.")
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    if len(lowered.get("webhook-id", "")) > MAX_WEBHOOK_ID_CHARS:
        raise WebhookRejected(f"webhook-id longer than {MAX_WEBHOOK_ID_CHARS} characters.")
    error = "No signature matched."
    for secret in secrets:
        try:
            payload = unwrap(body, headers=lowered, key=secret)
        except WebhookVerificationError as exc:
            error = str(exc)
            continue
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # signed, not JSON
            raise WebhookRejected("Webhook body is not a JSON object.") from exc
        try:
            unstorable = _unstorable(payload)
        except RecursionError as exc:
            raise WebhookRejected("Webhook body is nested too deeply.") from exc
        if unstorable:
            raise WebhookRejected("Webhook body contains characters that cannot be stored.")
        return payload
    raise WebhookRejected(error)


def envelope_from_payload(
    payload: dict, *, webhook_id: str = "", received: datetime | None = None
) -> WebhookEnvelope:
    """Read the envelope fields: id, type, timestamp, api_version, data, company/account id.

    A missing/invalid `timestamp` falls back to `received` (when the delivery arrived).
    """
    data = payload.get("data")
    if not isinstance(data, dict):
        data = {}
    timestamp = parse_whop_datetime(payload.get("timestamp")) or received or datetime.now(UTC)
    company_id = payload.get("company_id") or payload.get("account_id") or ""
    return WebhookEnvelope(
        webhook_id=str(payload.get("id") or webhook_id),
        type=str(payload.get("type") or ""),
        timestamp=timestamp,
        api_version=str(payload.get("api_version") or ""),
        data=data,
        company_id=str(company_id),
    )
