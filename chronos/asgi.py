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
in README ("Watch events"). Questions asked for a JSON answer (POST /api/v1/chat without
"stream") go to the same WSGI handler on their own pool of CHAT_THREADS threads: the
router reads the (small) body first and replays it; a streamed answer, a body it cannot
read as a JSON object or one over CHAT_PEEK_BYTES stays on the ASGI handler, which answers
every kind of ask the same way (README, "Chat under load"). The analytics CSV exports,
whose bodies are synchronous iterators of any length that the ASGI handler would read
whole before sending, go to a third pool of FILE_THREADS threads (streams_sync).
Everything else (pages, the API, streamed answers, video ranges: an async body; static
files) stays on the ASGI handler.
"""

import asyncio
import gc
import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

from a2wsgi import WSGIMiddleware
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronos.settings")
os.environ.setdefault("DB_POOL", "1")
# Threads serving heartbeats per process: at most DB_POOL_SIZE can hold a connection
# anyway, and fewer runnable threads contend less for the GIL.
HEARTBEAT_THREADS = int(os.environ.get("HEARTBEAT_THREADS", "4"))
HEARTBEAT_PATHS = frozenset({"/api/v1/watch-events/"})

# Threads answering JSON asks per process (each holds a pooled connection while it works).
CHAT_THREADS = int(os.environ.get("CHAT_THREADS", "4"))
CHAT_PATH = "/api/v1/chat"
# An ask's body is a question of <= 4,000 characters and a few ids: larger ones are not
# read ahead (the ASGI handler takes them as they come).
CHAT_PEEK_BYTES = 64 * 1024

# Threads serving CSV exports per process (see `streams_sync`).
FILE_THREADS = int(os.environ.get("FILE_THREADS", "4"))

django_asgi = get_asgi_application()
django_wsgi = get_wsgi_application()
heartbeats = WSGIMiddleware(django_wsgi, workers=HEARTBEAT_THREADS)
chat_json = WSGIMiddleware(django_wsgi, workers=CHAT_THREADS)
files = WSGIMiddleware(django_wsgi, workers=FILE_THREADS)

from django.urls import reverse  # noqa: E402

from chat.api import wants_stream  # noqa: E402 (after Django is set up)
from chronos import heartbeats as heartbeat_lane  # noqa: E402

EXPORT_API_PATH = reverse("api-analytics-export")  # /api/v1/analytics/export/
EXPORT_STUDIO_SUFFIX = "/analytics/export.csv"  # /studio/<handle>/analytics/export.csv

# The heartbeat fast lane's threads (chronos/heartbeats.py); a batch it does not take goes
# on to `heartbeats` (the full stack on its own pool).
heartbeat_lane_threads = ThreadPoolExecutor(HEARTBEAT_THREADS, thread_name_prefix="heartbeat")


def streams_sync(path: str) -> bool:
    """True for the analytics CSV exports, whose body is a synchronous iterator of any
    length (rows from server-side cursors). Django's ASGI handler reads such a body whole
    before sending any of it: a 1M-row export held ~120 MB of text and sent its first byte
    after 33 s. The WSGI handler on the `files` pool sends it as it is made, a2wsgi's
    bounded queue (10 messages) holding back a slow client."""
    return path == EXPORT_API_PATH or (
        path.startswith("/studio/") and path.endswith(EXPORT_STUDIO_SUFFIX)
    )


# WhiteNoise's static files (it has no ASGI support) are synchronous bodies too, but bounded
# and read from disk at once: the ASGI handler reads the largest (plotly.min.js, 4.8 MB) whole
# in 14 ms, against 292 ms sent in FileResponse's 4 KB pieces through the pool. So they stay
# here, and Django's warning about reading a body whole, which only they now meet (the
# exports are tested not to: tests/test_asgi_files.py), is not printed for every process.
warnings.filterwarnings(
    "ignore",
    message="StreamingHttpResponse must consume synchronous iterators",
    module=r"django\.core\.handlers\.asgi",
)


def json_ask(body: bytes) -> bool:
    """True when `body` is a JSON object that does not ask for a stream (chat.api's own
    rule), i.e. an ask the WSGI pool may answer; False for anything else (a stream, a form,
    bad or too deeply nested JSON: the ASGI handler answers those, errors included)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return False
    return isinstance(data, dict) and not wants_stream(data)


async def _read_ahead(receive) -> tuple[list[dict], bytes | None]:
    """The request's first ASGI messages and its whole body, or None for the body when it
    is larger than CHAT_PEEK_BYTES or the client went away (the messages are replayed
    either way)."""
    messages, body = [], b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        body += message.get("body", b"")
        if len(body) > CHAT_PEEK_BYTES:
            return messages, None
        if not message.get("more_body"):
            return messages, body


def _replay(messages: list[dict], receive):
    """A receive callable giving `messages` first, then the rest from `receive`."""
    pending = list(messages)

    async def replayed():
        return pending.pop(0) if pending else await receive()

    return replayed


async def heartbeat(scope, receive, send):
    """An ordinary player batch through the fast lane (chronos/heartbeats.py), anything
    else on the route (or what the lane hands back) through the full stack."""
    if heartbeat_lane.ordinary(scope):
        messages, body = await _read_ahead(receive)
        if body is not None:
            loop = asyncio.get_running_loop()
            response = await loop.run_in_executor(
                heartbeat_lane_threads, heartbeat_lane.answer, scope, body
            )
            if response is not None:
                await django_asgi.send_response(response, send)
                return
        receive = _replay(messages, receive)
    await heartbeats(scope, receive, send)


async def application(scope, receive, send):
    """Heartbeats, JSON asks and CSV exports to the WSGI handler's thread pools, every
    other request to Django's ASGI handler."""
    if scope["type"] == "http" and scope["path"] in HEARTBEAT_PATHS:
        await heartbeat(scope, receive, send)
    elif scope["type"] == "http" and scope["path"] == CHAT_PATH and scope["method"] == "POST":
        messages, body = await _read_ahead(receive)
        app = chat_json if body is not None and json_ask(body) else django_asgi
        await app(scope, _replay(messages, receive), send)
    elif scope["type"] == "http" and streams_sync(scope["path"]):
        await files(scope, receive, send)
    else:
        await django_asgi(scope, receive, send)


def _freeze_startup_objects() -> None:
    """Move what the process loaded at start (modules, settings, every view module, models,
    URL patterns: ~120k objects) out of the cyclic garbage collector's sight (gc.freeze), so
    its full collections walk only what requests made since: a full collection over them
    took 60-80 ms, stalling whichever requests held the GIL (a heartbeat's whole answer is
    ~2 ms). Frozen objects are still freed by reference counting; only cycles among them stay,
    and those startup objects live as long as the process anyway."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports every view module now)
    gc.collect()
    gc.freeze()


_freeze_startup_objects()
