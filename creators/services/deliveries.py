"""Webhook deliveries: receive (verify + store once), process (dispatch by type; events of a
company not installed yet wait as pending with backoff), release, retry, replay."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from creators.models import WebhookEvent
from creators.webhooks import (
    CompanyNotInstalled,
    WebhookRejected,
    envelope_from_payload,
    handler_for,
    webhook_verify,
)

logger = logging.getLogger(__name__)


# Longest stored error text on a WebhookEvent (characters).
MAX_ERROR_CHARS = 2000
# How long an event of a not-yet-installed company is retried before it fails (Chronos's
# policy: Whop itself retries only ~1 minute; installs can lag behind their first members).
PENDING_RETRY_WINDOW = timedelta(hours=72)
PENDING_MAX_DELAY = timedelta(hours=6)


def webhook_receive(*, body: bytes, headers: dict[str, str]) -> tuple[WebhookEvent, bool]:
    """Verify and store one delivery, then queue its processing (after commit).

    Returns (event, created); a repeated webhook-id returns the stored event and is queued
    again only if it has not been applied yet (received or failed). Raises WebhookRejected
    (nothing stored) when the signature check fails.
    """
    payload = webhook_verify(body=body, headers=headers)
    lowered = {k.lower(): v for k, v in headers.items()}
    webhook_id = lowered.get("webhook-id", "")
    envelope = envelope_from_payload(payload, webhook_id=webhook_id)
    if not envelope.type:
        raise WebhookRejected("Webhook has no type.")
    event, created = WebhookEvent.objects.get_or_create(
        webhook_id=webhook_id,
        defaults={
            "type": envelope.type[:100],
            "payload": payload,
            "event_timestamp": envelope.timestamp,
            "company_id": envelope.company_id[:64],
        },
    )
    retry = event.status in (
        WebhookEvent.Status.RECEIVED,
        WebhookEvent.Status.PENDING,
        WebhookEvent.Status.FAILED,
    )
    if created or retry:  # a redelivery of an unfinished event runs it again
        from creators.tasks import webhook_enqueue

        transaction.on_commit(lambda: webhook_enqueue(event_id=event.pk))
    return event, created


def pending_retry_delay(attempts: int) -> timedelta:
    """Backoff before retry `attempts`+1 of a pending event: 1 min doubling, at most 6 h
    (1, 2, 4 ... 256 min, then every 6 h: ~20 tries over PENDING_RETRY_WINDOW)."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), PENDING_MAX_DELAY)


def webhook_process(*, event_id: int, force: bool = False) -> str:
    """Apply one stored delivery through its registered handlers; returns the final status.

    Already processed/ignored events are skipped unless `force` (admin replay). Unknown types
    become "ignored". An event of a company that has not installed Chronos yet
    (CompanyNotInstalled) becomes "pending" with `next_attempt_at` set by
    pending_retry_delay(), and "failed" once PENDING_RETRY_WINDOW (72 h) after receipt has
    passed. Any other handler error marks it "failed" with the error text; nothing is
    re-raised: a failed event can be replayed from the admin.
    """
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event_id)
        done = {WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED}
        if event.status in done and not force:
            return event.status
        event.attempts += 1
        event.next_attempt_at = None
        envelope = envelope_from_payload(
            event.payload, webhook_id=event.webhook_id, received=event.received
        )
        handler = handler_for(event.type)
        now = timezone.now()
        if handler is None:
            event.status, event.error = WebhookEvent.Status.IGNORED, ""
        else:
            try:
                with transaction.atomic():
                    handler(envelope)
            except CompanyNotInstalled as exc:
                event.company_id = exc.company_id[:64]  # what webhook_events_release finds
                if now - event.received >= PENDING_RETRY_WINDOW:
                    event.status = WebhookEvent.Status.FAILED
                    event.error = f"{exc} Gave up after {PENDING_RETRY_WINDOW}."
                else:
                    event.status, event.error = WebhookEvent.Status.PENDING, str(exc)
                    event.next_attempt_at = now + pending_retry_delay(event.attempts)
            except Exception as exc:
                logger.exception("Webhook %s (%s) failed.", event.webhook_id, event.type)
                event.status = WebhookEvent.Status.FAILED
                event.error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
            else:
                event.status, event.error = WebhookEvent.Status.PROCESSED, ""
        event.processed = now
        event.save(
            update_fields=[
                *("status", "error", "processed", "attempts", "next_attempt_at", "company_id")
            ]
        )
        return event.status


def _enqueue_after_commit(event_ids: list[int]) -> None:
    from creators.tasks import webhook_enqueue

    def run() -> None:
        for event_id in event_ids:
            webhook_enqueue(event_id=event_id)

    if event_ids:
        transaction.on_commit(run)


def webhook_events_release(*, company_id: str) -> list[int]:
    """The company's install arrived: queue its pending events now (after commit), oldest
    first. Returns their ids."""
    ids = list(
        WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING, company_id=company_id)
        .order_by("event_timestamp", "received")
        .values_list("pk", flat=True)
    )
    WebhookEvent.objects.filter(pk__in=ids).update(next_attempt_at=timezone.now())
    _enqueue_after_commit(ids)
    return ids


def webhook_events_retry_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Queue pending events whose next attempt is due (scheduled every minute on the whop
    queue). Returns their ids."""
    now = now or timezone.now()
    ids = list(
        WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    _enqueue_after_commit(ids)
    return ids


def webhook_replay(*, event: WebhookEvent) -> str:
    """Process a stored delivery again (handlers are convergent, so this is safe)."""
    return webhook_process(event_id=event.pk, force=True)
