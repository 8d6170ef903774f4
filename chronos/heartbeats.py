"""The heartbeat fast lane: the lesson player's ordinary batch (POST /api/v1/watch-events/,
a signed-in browser session, JSON, valid events) answered without Django's full request
cycle; any other request on that route goes the full way.

A student's player sends one batch every 10 s while playing (README, "Watch events"), so
this is the busiest route by far. Through the full stack a batch cost ~15 ms of server CPU,
about half of it outside the watch service: 18 middlewares, URL resolving, DRF's request
wrapping and authentication, the a2wsgi bridge. Here the same pieces run, and only those
(all Django's or the project's own, none re-implemented):

- the request is Django's `ASGIRequest`; the response goes through the middlewares that
  shape this route's responses (`RESPONSE_MIDDLEWARE`: security headers, the session's
  Vary/cookie, X-Frame-Options, frame-ancestors, CSP, Permissions-Policy), so it carries the
  same headers as the full path's (a test compares them);
- the user comes from the player's watch ticket (courses/watch_tickets.py: signed by the
  server, bound to the session cookie, trusted 300 s, then renewed by a batch on the full
  path) or else from `django.contrib.auth.get_user` (session hash verified, inactive
  users refused); the CSRF check is DRF's own (`SessionAuthentication.enforce_csrf`'s
  `CSRFCheck`), as for the API's session authentication;
- the body is parsed by the input guard's bounded JSON parser (`chronos.input`); a steady
  heartbeat batch is stored and queued by `courses.services.watch_heartbeats_append`
  (folded later, in bulk), any other by `courses.services.watch_events_record`, the
  view's own service.

A Whop user token (inside Whop's iframe) is verified as WhopUserTokenMiddleware does and
must name the session's own user. Anything else falls back (`answer` returns None and the
full stack answers): HTTP Basic, a token for someone else or one that fails, no session,
a signed-out or CSRF-failing request, a query string, a form post (the page-hide
`sendBeacon`), bad JSON or unstorable text, a refused batch
(DomainError: the full path gives the 400 with each event's index; nothing was stored, as
recording is all or nothing). The fallback re-reads the same body, so the answer is the
full path's in every case but the ordinary one; a database with no free connection gets
the same 503 as on the full path.
"""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user
from django.core.handlers.asgi import ASGIRequest
from django.db import OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_vary_headers
from django.utils.module_loading import import_string
from rest_framework.authentication import CSRFCheck

from chronos.errors import DomainError
from chronos.input import BadInput, json_loads_bounded
from chronos.middleware import DatabaseBusyMiddleware, database_unavailable
from courses.api import watch_events
from courses.services import watch_events_record, watch_heartbeats_append
from courses.watch_tickets import WATCH_TICKET_HEADER, watch_ticket_holder, watch_ticket_issue
from creators.whop import USER_TOKEN_HEADER, WhopAuthError, whop_user_token_verify

PATH = "/api/v1/watch-events/"
# The middlewares of settings.MIDDLEWARE that shape this route's 202 (in that order); the
# others only act on pages, sign-in or other routes, or decide things the fast lane
# leaves to the full path (tests/test_heartbeat_fast_lane.py compares the headers).
RESPONSE_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "creators.middleware.FrameAncestorsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
)
_POOLED = "pool" in settings.DATABASES["default"].get("OPTIONS", {})
_ALLOW = ", ".join(watch_events.cls().allowed_methods)  # type: ignore[attr-defined]
# Headers that send a request the full way (its authentication is the full path's).
_FULL_PATH_HEADERS = (b"authorization",)


class _FullPath(Exception):
    """This request is not the ordinary batch: let the full stack answer it."""


def ordinary(scope: dict[str, Any]) -> bool:
    """True when the ASGI `scope` may be the ordinary batch: a POST of JSON to PATH with no
    query string and no other authentication (cheap checks, before the body is read)."""
    if scope["method"] != "POST" or scope.get("query_string"):
        return False
    json_body = False
    for name, value in scope.get("headers", ()):
        if name in _FULL_PATH_HEADERS:
            return False
        if name == b"content-type":
            json_body = value.split(b";")[0].strip().lower() == b"application/json"
    return json_body


def _record(request: HttpRequest) -> HttpResponse:
    """The route's work for a signed-in session: who speaks (a watch ticket, else the
    session and the user), CSRF, the bounded body, the service. Raises _FullPath for
    anything but an accepted batch (and DisallowedHost for a Host outside ALLOWED_HOSTS,
    which the full path answers 400, as CommonMiddleware does)."""
    request.get_host()
    holder = watch_ticket_holder(
        request.headers.get(WATCH_TICKET_HEADER),
        session_key=request.COOKIES.get(settings.SESSION_COOKIE_NAME),
    )
    user: Any = None
    if holder is not None:
        user_id, whop_user_id = holder.user_id, holder.whop_user_id
        # The full path reads the session, so its answers vary by the cookie: say so too.
        request.session.accessed = True  # type: ignore[attr-defined]
    else:
        user = _session_user(request)
        user_id, whop_user_id = user.pk, user.whop_user_id
    token = request.headers.get(USER_TOKEN_HEADER)
    if token is not None:
        # Inside Whop's iframe every request carries the user token: the lane takes it when
        # it verifies and names the session's own user (WhopUserTokenMiddleware would do
        # nothing more); a refused token or another Whop user is the middleware's to answer.
        try:
            if whop_user_token_verify(token) != whop_user_id:
                raise _FullPath
        except WhopAuthError as error:
            raise _FullPath from error
    check = CSRFCheck(lambda _request: None)
    check.process_request(request)
    if check.process_view(request, None, (), {}) is not None:
        raise _FullPath
    try:
        body = json_loads_bounded(request.body)
        if not isinstance(body, dict):
            raise _FullPath
        events = body.get("events")
        result = watch_heartbeats_append(user_id=user_id, events=events)
        if result is None:  # not a steady batch: the whole service, for the session's user
            user = user or _session_user(request)
            if user.pk != user_id:  # a ticket never outlives its session's sign-in
                raise _FullPath
            result = watch_events_record(user=user, events=events)
    except (BadInput, DomainError) as error:
        raise _FullPath from error
    except OperationalError as error:
        if not database_unavailable(error):
            raise
        busy = DatabaseBusyMiddleware(lambda _request: HttpResponse())
        response = busy.process_exception(request, error)
        assert response is not None  # database_unavailable(error) holds
        return response
    response = JsonResponse(
        {"accepted": result.accepted, "duplicates": result.duplicates}, status=202
    )
    # What DRF's APIView adds to the route's answers (finalize_response, content negotiation).
    response["Allow"] = _ALLOW
    patch_vary_headers(response, ("Accept",))
    if holder is None:  # signed in by the session: a new ticket, as the full path gives
        response[WATCH_TICKET_HEADER] = watch_ticket_issue(
            user_id=user_id,
            whop_user_id=whop_user_id,
            session_key=request.session.session_key or "",
        )
    return response


def _session_user(request: HttpRequest) -> Any:
    """The session's user, as Django's auth middleware finds it; _FullPath when signed out
    or inactive (the full path answers those)."""
    user = get_user(request)
    if not user.is_authenticated or not user.is_active:
        raise _FullPath
    return user


def _chain():
    """The view wrapped in RESPONSE_MIDDLEWARE, outermost first (as Django builds it)."""
    handler = _record
    for path in reversed(RESPONSE_MIDDLEWARE):
        handler = import_string(path)(handler)
    return handler


_answer_with_headers = _chain()


def answer(scope: dict[str, Any], body: bytes) -> HttpResponse | None:
    """Answer an ordinary batch: `scope` is the ASGI HTTP scope, `body` the whole request
    body. Returns the 202 (or the 503 when no database connection can be had), or None when
    the full stack must answer (module docstring). Runs in one of the lane's own threads
    (chronos.asgi). With the connection pool on (the web server's default), the thread keeps
    its connection from one batch to the next: the lane serves nothing else, and handing
    the connection back to the pool and taking it again cost ~0.6 ms of a ~3 ms batch. A
    connection that failed or was left outside autocommit is closed, as Django does after
    any request, and the next batch takes a fresh one from the pool. Without the pool it is
    closed after each batch, as after any request."""
    try:
        return _answer_with_headers(_request(scope, body))
    except Exception:  # _FullPath, or a failure the full stack answers and reports its way
        return None
    finally:
        if _POOLED:
            connection.close_at = None  # never too old: only unusable ones are closed
        connection.close_if_unusable_or_obsolete()


def _request(scope: dict[str, Any], body: bytes) -> HttpRequest:
    """Django's request for `scope`, as the ASGI handler builds it."""
    return ASGIRequest(scope, io.BytesIO(body))
