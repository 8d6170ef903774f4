"""The one error type services raise, and how every API renders it.

Services and selectors raise `DomainError` (or a subclass); views and API functions never
catch an error just to format it. The DRF exception handler (`chronos.api.exception_handler`,
set as REST_FRAMEWORK["EXCEPTION_HANDLER"]) turns any of them into

    HTTP <status>  {"error": message, "code": machine_code, "fields": {field: [msg, ...]},
                    ...extra keys the error carries (e.g. "limit", "resets_at")}

HTML views catch `DomainError` where they show the message on the page (a form error, a
flash message). `NotFound` and `PermissionDenied` also derive from Django's Http404 /
PermissionDenied, so an HTML view that lets them through answers Django's 404 / 403 page.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404


class DomainError(Exception):
    """A request the domain refuses, with a message fit for the person who made it.

    message: one sentence for a human. code: a stable machine code (snake_case).
    fields: {field name: [messages]} when the error belongs to input fields (the message
    then repeats the first one). status: the HTTP status an API answers with.
    extra: more JSON-safe keys for the API body (e.g. limit=5, resets_at="2026-...").
    """

    status: int = 400
    code: str = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
        status: int | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.fields: dict[str, list[str]] = dict(fields or {})
        self.extra: dict[str, Any] = extra

    @classmethod
    def for_field(cls, field: str, message: str, **kwargs: Any) -> DomainError:
        """An error about one input field: fields={field: [message]}."""
        return cls(message, fields={field: [message]}, **kwargs)

    @property
    def messages(self) -> list[str]:
        """Every message: the field messages, else the main message (as ValidationError)."""
        found = [m for msgs in self.fields.values() for m in msgs]
        return found or [self.message]

    def as_dict(self) -> dict[str, Any]:
        """The API body: {"error", "code", "fields", **extra}."""
        return {"error": self.message, "code": self.code, "fields": self.fields, **self.extra}

    def __str__(self) -> str:
        return self.message


class NotFound(DomainError, Http404):
    """The object does not exist for this user (another tenant's object is also this)."""

    status = 404
    code = "not_found"


class PermissionDenied(DomainError, DjangoPermissionDenied):
    """The user is known and may see the object, but may not do this to it."""

    status = 403
    code = "permission_denied"


class LimitExceeded(DomainError):
    """A tier limit would be exceeded; carries e.g. limit=..., used=... as extra keys."""

    status = 403
    code = "limit_exceeded"


class RateLimited(DomainError):
    """Too many requests; carries e.g. retry_after seconds or resets_at as extra keys."""

    status = 429
    code = "rate_limited"


class Conflict(DomainError):
    """The object's state does not allow this now (e.g. a video still processing)."""

    status = 409
    code = "conflict"


class ProviderUnavailable(DomainError):
    """An outside provider (LLM, transcription) did not answer; the input is kept."""

    status = 503
    code = "provider_unavailable"
