"""ASGI entry point (Procfile `web`): streamed chat answers do not hold a worker thread.

The web server pools its database connections by default (DB_POOL, chronos/settings.py):
under ASGI every request in flight runs its sync code in its own thread with its own
connection, so without a bound 100 concurrent requests exhausted PostgreSQL's
max_connections ("too many clients", 500s; bench/watch.py). Workers and commands do not
pool (django-q2 forks its workers; a forked pool would share sockets).

Player heartbeats (POST /api/v1/watch-events/, ~one a student every 10 s) are the
busiest route and plain sync Django: they go to Django's WSGI handler on a fixed pool of
HEARTBEAT_THREADS threads (a2wsgi: uvicorn uses it for WSGI apps and deprecates its own)
instead of Django's ASGI handler, which starts a new thread per request and hops between it
and the event loop several times; the middleware, the view and their checks are the same. Measured
in README ("Watch events"). Everything else (pages, the API, streamed answers, video
ranges) stays on the ASGI handler.
"""

import os

from a2wsgi import WSGIMiddleware
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronos.settings")
os.environ.setdefault("DB_POOL", "1")
# Threads serving heartbeats per process: at most DB_POOL_SIZE can hold a connection
# anyway, and fewer runnable threads contend less for the GIL.
HEARTBEAT_THREADS = int(os.environ.get("HEARTBEAT_THREADS", "4"))
HEARTBEAT_PATHS = frozenset({"/api/v1/watch-events/"})

django_asgi = get_asgi_application()
heartbeats = WSGIMiddleware(get_wsgi_application(), workers=HEARTBEAT_THREADS)


async def application(scope, receive, send):
    """Heartbeats to the WSGI handler's thread pool, every other request to Django's ASGI
    handler."""
    if scope["type"] == "http" and scope["path"] in HEARTBEAT_PATHS:
        await heartbeats(scope, receive, send)
    else:
        await django_asgi(scope, receive, send)
