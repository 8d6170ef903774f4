"""Shared REST plumbing: one error shape for every API endpoint.

Every API error body is {"error": message, "code": machine_code, "fields": {...}} plus any
extra keys a `chronos.errors.DomainError` carries. `exception_handler` is DRF's
EXCEPTION_HANDLER; `error_body` serves the two plain Django views of the API (the async
chat endpoint and the export download) so they answer in the same shape.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from drf_spectacular.utils import inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.response import Response

from chronos.errors import DomainError


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _flatten(value)]
    if isinstance(detail, list):
        return [m for value in detail for m in _flatten(value)]
    return [str(detail)]


def _fields(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items() if k != "non_field_errors"}
    return {}


def error_body(exc: BaseException) -> tuple[int, dict[str, Any]] | None:
    """(HTTP status, {"error", "code", "fields", ...extra}) for an error the API answers,
    or None for an unexpected one (a 500, logged by Django)."""
    if isinstance(exc, DomainError):
        return exc.status, exc.as_dict()
    if isinstance(exc, DjangoValidationError):
        fields = (
            {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
            if hasattr(exc, "error_dict")
            else {}
        )
        messages = [str(m) for m in exc.messages] or ["Invalid input."]
        return 400, {"error": messages[0], "code": "invalid", "fields": fields}
    if isinstance(exc, Http404):
        return 404, {"error": str(exc) or "Not found.", "code": "not_found", "fields": {}}
    if isinstance(exc, DjangoPermissionDenied):
        message = str(exc) or "You do not have permission to perform this action."
        return 403, {"error": message, "code": "permission_denied", "fields": {}}
    if isinstance(exc, exceptions.APIException):
        detail = exc.detail
        messages = _flatten(detail) or [str(exc.default_detail)]
        if isinstance(exc, exceptions.ValidationError):
            fields = _fields(detail)
            code = "invalid"
        else:
            fields = {}
            code = getattr(detail, "code", None) or exc.default_code
        return exc.status_code, {"error": messages[0], "code": code, "fields": fields}
    return None


def _headers(exc: BaseException) -> dict[str, str]:
    """The headers DRF's own handler would add: WWW-Authenticate (DRF's view sets
    `auth_header` on a 401) and Retry-After (a throttle's `wait`, or a DomainError's
    retry_after, seconds)."""
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = str(exc.auth_header)  # type: ignore[attr-defined]
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        headers["Retry-After"] = str(int(wait))
    if isinstance(exc, DomainError) and exc.extra.get("retry_after") is not None:
        headers["Retry-After"] = str(int(exc.extra["retry_after"]))  # e.g. the burst limit
    return headers


def exception_handler(exc, context) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every known error as {"error", "code", "fields", ...}, with
    DRF's headers (WWW-Authenticate, Retry-After); None (a 500) for anything else."""
    found = error_body(exc)
    if found is None:
        return None
    status, body = found
    return Response(body, status=status, headers=_headers(exc) or None)


def error_json(exc: BaseException, *, headers: dict[str, str] | None = None) -> JsonResponse:
    """The same body for a plain Django view; re-raises an unexpected error."""
    found = error_body(exc)
    if found is None:
        raise exc
    status, body = found
    return JsonResponse(body, status=status, headers={**_headers(exc), **(headers or {})})


class ErrorSerializer(serializers.Serializer):
    """The one API error shape (for /api/schema/): {"error", "code", "fields"}; limits add
    keys such as "limit" or "resets_at"."""

    error = serializers.CharField()
    code = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


# Error responses every authenticated API operation may give, for @extend_schema.
ERROR_RESPONSES = {
    400: ErrorSerializer,
    401: ErrorSerializer,
    403: ErrorSerializer,
    404: ErrorSerializer,
}


def page_of(name: str, item: serializers.Serializer) -> serializers.Serializer:
    """For @extend_schema: a PageNumberPagination page {"count", "next", "previous",
    "results": [item]} named `name` in /api/schema/ (`item` built with many=True)."""
    return inline_serializer(
        name,
        {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item,
        },
    )
