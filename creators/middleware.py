"""Middleware for running inside Whop's iframe.

WhopUserTokenMiddleware: when a request carries `x-whop-user-token`, verify it
(creators.whop.whop_user_token_verify) and sign that Whop user in, creating the User on
first sight. A token that fails verification signs nobody in: API requests (/api/) answer
401, pages see an anonymous user. Place it after AuthenticationMiddleware.

FrameAncestorsMiddleware: pages may be framed by whop.com only
(Content-Security-Policy: frame-ancestors 'self' https://whop.com https://*.whop.com, from
settings.WHOP_FRAME_ANCESTORS). X-Frame-Options cannot express "whop.com only", so it is
dropped for those responses (browsers honour frame-ancestors over it; Django's
XFrameOptionsMiddleware would otherwise send DENY). The admin keeps X-Frame-Options DENY and
frame-ancestors 'none'. Place it after XFrameOptionsMiddleware (it sees the response first).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.models import AnonymousUser

from chronos.api import error_json
from chronos.errors import DomainError
from creators.services import user_get_or_create_for_whop
from creators.whop import USER_TOKEN_HEADER, WhopAuthError, whop_user_token_verify

logger = logging.getLogger(__name__)

MODEL_BACKEND = "creators.auth.ModelBackend"


class WhopUserTokenMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = request.headers.get(USER_TOKEN_HEADER)
        if token:
            try:
                whop_user_id = whop_user_token_verify(token)
            except WhopAuthError as exc:
                logger.info("Refused Whop user token: %s", exc)
                if request.path.startswith("/api/"):
                    return error_json(
                        DomainError(
                            "Invalid Whop user token.", code="not_authenticated", status=401
                        )
                    )
                request.user = AnonymousUser()
            else:
                current = request.user
                if not (current.is_authenticated and current.whop_user_id == whop_user_id):
                    user = user_get_or_create_for_whop(whop_user_id=whop_user_id)
                    if user.is_active:
                        login(request, user, backend=MODEL_BACKEND)
                    else:
                        request.user = AnonymousUser()
        return self.get_response(request)


class FrameAncestorsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith("/admin/"):
            ancestors = "'none'"
        else:
            ancestors = " ".join(["'self'", *settings.WHOP_FRAME_ANCESTORS])
            response.xframe_options_exempt = True
            if "X-Frame-Options" in response:
                del response["X-Frame-Options"]
        directive = f"frame-ancestors {ancestors}"
        existing = response.get("Content-Security-Policy", "")
        if "frame-ancestors" not in existing:
            response["Content-Security-Policy"] = (
                f"{existing.rstrip('; ')}; {directive}" if existing else directive
            )
        return response
