"""Whop webhooks: signature check, the envelope, and the dispatch table.

Whop signs deliveries with Standard Webhooks (https://www.standardwebhooks.com/): headers
`webhook-id`, `webhook-timestamp` (Unix seconds), `webhook-signature` ("v1,<base64>"
entries, space separated), HMAC-SHA256 over "{id}.{timestamp}.{raw body}", and a ±5 minute
tolerance (the `standardwebhooks` library's own). Whop's secret starts with `ws_` and its
literal UTF-8 bytes are the HMAC key (it is NOT base64 like a `whsec_` secret), so the
library is given bytes: `Webhook(str)` would base64-decode it.

Handlers live in the app that owns the change and register here, e.g. billing registers
`payment.succeeded` from its AppConfig.ready(); this module imports no app above creators.
A handler takes a `WebhookEnvelope` and returns nothing; it must be idempotent and
convergent (compare `envelope.timestamp` or `data.updated_at` with what is stored).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = [
    "WebhookEnvelope",
    "WebhookRejected",
    "envelope_from_payload",
    "handler_for",
    "parse_whop_datetime",
    "register",
    "registered_types",
    "webhook_verify",
]


class WebhookRejected(Exception):
    """The delivery is not from Whop (bad/missing signature, stale or future timestamp,
    no secret configured) or is not a JSON object. The view answers 4xx and stores nothing."""


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
_HANDLERS: dict[str, Handler] = {}


def register(*event_types: str) -> Callable[[Handler], Handler]:
    """Decorator: route `event_types` to the decorated handler (one handler per type)."""

    def decorate(fn: Handler) -> Handler:
        for event_type in event_types:
            existing = _HANDLERS.get(event_type)
            if existing is not None and existing is not fn:
                raise RuntimeError(f"Two handlers for webhook type {event_type!r}.")
            _HANDLERS[event_type] = fn
        return fn

    return decorate


def handler_for(event_type: str) -> Handler | None:
    """The handler registered for `event_type`, or None (the event is then "ignored")."""
    return _HANDLERS.get(event_type)


def registered_types() -> list[str]:
    return sorted(_HANDLERS)


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


def webhook_verify(*, body: bytes, headers: dict[str, str], secret: str | None = None) -> dict:
    """Check a delivery's Standard Webhooks signature and return its parsed JSON object.

    `secret` defaults to settings.WHOP_WEBHOOK_SECRET. A `whsec_` secret is base64 (the
    Standard Webhooks convention); any other (Whop's `ws_...`) is used as literal bytes.
    Raises WebhookRejected on any failure.
    """
    secret = settings.WHOP_WEBHOOK_SECRET if secret is None else secret
    if not secret:
        raise WebhookRejected("Webhook secret is not configured.")
    key: str | bytes = secret if secret.startswith("whsec_") else secret.encode()
    try:
        payload = Webhook(key).verify(body, headers)
    except WebhookVerificationError as exc:
        raise WebhookRejected(str(exc)) from exc
    except (ValueError, UnicodeDecodeError) as exc:  # malformed signature header or body
        raise WebhookRejected("Malformed webhook.") from exc
    if not isinstance(payload, dict):
        raise WebhookRejected("Webhook body is not a JSON object.")
    return payload


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


def payload_summary(payload: dict) -> str:
    """A short, secret-free description for logs: type and ids only."""
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    return json.dumps(
        {"type": payload.get("type"), "id": payload.get("id"), "data.id": data.get("id")}
    )
