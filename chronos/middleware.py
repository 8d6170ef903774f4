"""SyncChainMiddleware: keeps Django's middleware chain in one thread under ASGI.

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
/api/v1/watch-events/ (README, "Watch events"). Async views (the streamed chat answer) are
unaffected: the chain already had a sync-only middleware, and Django awaits async views in
_get_response_async below this one.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class SyncChainMiddleware:
    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)
