"""SyncChainMiddleware: keeps Django's middleware chain in one thread under ASGI.
DatabaseBusyMiddleware: no database connection to be had -> 503 + Retry-After, not a 500.

Under ASGI (uvicorn, Procfile `web`) Django builds the chain from the inside out: a
middleware that can run async does so when everything below it is async. For the
`MiddlewareMixin` ones (django-csp's CSPMiddleware, Django's own) "async" means each
process_request/process_response is sent to a worker thread and back (asgiref
sync_to_async), and the first sync-only middleware above them (creators'
FrameAncestorsMiddleware) hops back to the event loop (async_to_sync). Django's docs
("Asynchronous support", Performance) put each such context switch at around a millisecond.

This middleware is sync-only and goes LAST in settings.MIDDLEWARE, so every middleware
above it runs synchronously in the one thread Django already uses for the request; the
hops left are Django's own (the top of the chain, process_view, the view). Measured on POST
/api/v1/watch-events/ (README, "Watch events"). Async views (the chat page's answer stream)
are unaffected: the chain already had a sync-only middleware, and Django awaits async views
in _get_response_async below this one.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from psycopg_pool import PoolTimeout

# Seconds a client is asked to wait before it retries (Retry-After, RFC 9110 §10.2.3); the
# lesson player and the upload page retry 5xx answers on their next flush / poll anyway.
BUSY_RETRY_AFTER_SECONDS = 5
# SQLSTATEs that mean "no connection now", not "this statement is wrong" (PostgreSQL
# Appendix A): class 08 connection exception, class 53 insufficient resources (53300
# too_many_connections), 57P01 admin_shutdown, 57P03 cannot_connect_now.
_UNAVAILABLE_STATES = ("08", "53", "57P01", "57P03")


class _SyncPassThrough:
    """A sync-only middleware that passes every request on unchanged."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)


class SyncChainMiddleware(_SyncPassThrough):
    """See the module docstring: last in MIDDLEWARE, it keeps the chain above in one thread."""


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` is Django's OperationalError for a connection that could not be had:
    the pool's wait ran out (psycopg_pool.PoolTimeout), the server refused or is unreachable
    (a psycopg error with no SQLSTATE: the client failed to connect), or PostgreSQL answered
    with one of _UNAVAILABLE_STATES. A failing statement on a live connection is False."""
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    if isinstance(cause, PoolTimeout):
        return True
    if not isinstance(cause, psycopg.OperationalError):
        return False
    state = cause.sqlstate
    return state is None or state.startswith(_UNAVAILABLE_STATES)


class DatabaseBusyMiddleware(_SyncPassThrough):
    """Answers 503 with Retry-After when a view could not get a database connection (every
    pooled connection busy past DB_POOL_TIMEOUT, PostgreSQL full or restarting): the API in
    its error shape {"error", "code": "database_busy", "fields": {}}, pages with a
    self-contained page (no context processors: they would need the database too). Every
    other error goes on to Django's handling unchanged."""

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not database_unavailable(exc):
            return None
        headers = {"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)}
        message = "Chronos is busy right now. Please try again in a few seconds."
        if request.path.startswith("/api/"):
            body = {"error": message, "code": "database_busy", "fields": {}}
            return JsonResponse(body, status=503, headers=headers)
        html = render_to_string("errors/busy.html", {"message": message})
        return HttpResponse(html, status=503, headers=headers)
