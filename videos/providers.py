"""Talking to paid providers (OpenAI): one client factory, one bounded-backoff policy, and
error messages a creator can act on.

Backoff: transient errors (HTTP 429, 5xx, timeouts, connection errors) are retried after
1 s, 2 s, 4 s (exponential, base settings.CHRONOS_PROVIDER_BACKOFF_SECONDS = 1.0) for at most
settings.CHRONOS_PROVIDER_MAX_RETRIES (3) retries, using tenacity. The OpenAI SDK's own
retries are off (max_retries=0) so this is the only retry policy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")


class PipelineError(Exception):
    """A failure whose message is shown to the creator as-is (it says what to do)."""


def openai_client():
    """An `openai.OpenAI` client from settings (OPENAI_API_KEY, OPENAI_BASE_URL,
    CHRONOS_PROVIDER_TIMEOUT seconds), with the SDK's own retries disabled."""
    from openai import OpenAI

    return OpenAI(
        api_key=settings.OPENAI_API_KEY,
        base_url=settings.OPENAI_BASE_URL or None,
        timeout=settings.CHRONOS_PROVIDER_TIMEOUT,
        max_retries=0,
    )


def is_transient(exc: BaseException) -> bool:
    """True for errors worth retrying: 429, 5xx, 408/409, timeouts, connection errors."""
    import openai

    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError)):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


def backoff_seconds() -> float:
    return float(getattr(settings, "CHRONOS_PROVIDER_BACKOFF_SECONDS", 1.0))


def call_with_backoff(fn: Callable[[], T], *, what: str) -> T:
    """Run `fn()`; on a transient error wait 1 s, 2 s, 4 s (x backoff base) and try again,
    at most CHRONOS_PROVIDER_MAX_RETRIES times. The last error is re-raised. `what` names
    the call in logs (never secrets)."""
    base = backoff_seconds()
    retries = int(settings.CHRONOS_PROVIDER_MAX_RETRIES)

    def _log(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        logger.warning(
            "%s: transient error (%s), retry %d/%d in %.1fs",
            what,
            type(exc).__name__,
            state.attempt_number,
            retries,
            state.next_action.sleep if state.next_action else 0,
        )

    retrying = Retrying(
        retry=retry_if_exception(is_transient),
        wait=wait_exponential(multiplier=base, min=base, max=4 * base),
        stop=stop_after_attempt(retries + 1),
        before_sleep=_log,
        reraise=True,
    )
    return retrying(fn)


def describe_provider_error(exc: BaseException, *, service: str) -> str:
    """A creator-facing message for a provider failure (`service` e.g. "OpenAI Whisper")."""
    import openai

    if isinstance(exc, openai.AuthenticationError):
        return (
            f"{service} rejected the API key (401). Check OPENAI_API_KEY in the server "
            "settings, then retry."
        )
    if isinstance(exc, openai.PermissionDeniedError):
        return f"{service} refused access (403): the API key lacks permission for this model."
    if isinstance(exc, openai.RateLimitError):
        return (
            f"{service} is rate-limiting us (429) and did not recover after several tries. "
            "Retry in a few minutes, or check the account's quota."
        )
    if isinstance(exc, openai.BadRequestError):
        detail = _short_message(exc)
        return f"{service} could not process the request (400): {detail}"
    if isinstance(exc, openai.APIStatusError):
        return (
            f"{service} answered with an error ({exc.status_code}) and did not recover after "
            "several tries. Retry later."
        )
    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError)):
        return f"Could not reach {service} (network error or timeout). Retry later."
    return f"{service} failed: {type(exc).__name__}."


def _short_message(exc) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        msg = body.get("message") or (body.get("error") or {}).get("message")
        if msg:
            return str(msg)[:300]
    return str(getattr(exc, "message", "") or exc)[:300]
