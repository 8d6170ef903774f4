"""Sign-in throttling hooks for django-axes (settings AXES_USERNAME_CALLABLE and
AXES_LOCKOUT_CALLABLE).

Every sign-in path calls django.contrib.auth.authenticate(): the admin form (`username`),
allauth's e-mail form (`email`/`login`) and HTTP Basic on the API (`username`, then
`email`). Axes counts failures per user and per IP; once either reaches
settings.AXES_FAILURE_LIMIT the attempt is refused with `lockout_response` for
settings.AXES_COOLOFF_TIME hours, even with the right password.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication


def attempted_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """The account name a sign-in attempt named, lower-cased, whichever form sent it."""
    credentials = credentials or {}
    name = credentials.get("username") or credentials.get("email")
    if not name and request is not None and request.method == "POST":
        post = getattr(request, "POST", {})
        name = post.get("login") or post.get("username") or post.get("email")
    return name.strip().lower() if isinstance(name, str) and name.strip() else None


def lockout_message() -> str:
    """'Too many failed sign-ins ... Try again in N minutes.' (N from AXES_COOLOFF_TIME)."""
    minutes = max(1, math.ceil(float(settings.AXES_COOLOFF_TIME) * 60))
    return (
        "Too many failed sign-in attempts for this account or from this network. "
        f"Sign-in is paused for {minutes} minutes; try again later or reset your password."
    )


def lockout_response(request: HttpRequest, original_response=None, credentials=None):
    """429 with Retry-After: the API error shape for /api/ and JSON clients, else a page."""
    retry_after = str(max(60, math.ceil(float(settings.AXES_COOLOFF_TIME) * 3600)))
    message = lockout_message()
    wants_json = request.path.startswith("/api/") or "json" in request.headers.get("Accept", "")
    if wants_json:
        response: HttpResponse = JsonResponse(
            {"error": message, "code": "locked_out", "fields": {}}, status=429
        )
    else:
        html = render_to_string("errors/locked_out.html", {"message": message}, request=request)
        response = HttpResponse(html, status=429)
    response["Retry-After"] = retry_after
    return response


class BasicAuthentication(authentication.BasicAuthentication):
    """DRF's HTTP Basic, made visible to django-axes' middleware.

    DRF hands its own Request to authenticate(), so axes marks the lockout on that wrapper;
    copying the mark to the Django request lets AxesMiddleware answer with
    `lockout_response` (429) like every other sign-in path."""

    def authenticate_credentials(self, userid, password, request=None):
        try:
            return super().authenticate_credentials(userid, password, request)
        finally:
            inner = getattr(request, "_request", None)
            if inner is not None and getattr(request, "axes_locked_out", False):
                inner.axes_locked_out = True
                inner.axes_credentials = getattr(request, "axes_credentials", None)


class BasicAuthenticationScheme(OpenApiAuthenticationExtension):
    """/api/schema/ documents our BasicAuthentication as HTTP Basic (drf-spectacular knows
    only DRF's own class by default)."""

    target_class = "chronos.signin.BasicAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic"}
