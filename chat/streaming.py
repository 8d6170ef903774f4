"""Server-sent events for the chat: one relay from a blocking event generator to the ASGI
event loop, shared by POST /api/v1/chat (JSON events) and the chat page's answer stream
(HTML fragments for htmx's SSE extension).

Under ASGI the event loop relays the events while the DB and provider work runs in the
request's own thread-sensitive executor thread (Django gives each request one), so a stream
is served without blocking the loop and is never buffered. A client that goes away closes
the generator (no further provider reads; the pending answer goes back to "pending").
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse

logger = logging.getLogger(__name__)

_END = object()


def _next(items: Iterator[Any]) -> Any:
    try:
        return next(items)
    except StopIteration:
        return _END


async def relay(items: Iterator[bytes], *, on_error: bytes) -> AsyncIterator[bytes]:
    """Yield `items` (a blocking generator of encoded events) one hop at a time from the
    request's thread; an exception is logged and ends the stream with `on_error`."""
    try:
        while True:
            try:
                item = await sync_to_async(_next)(items)
            except Exception:
                logger.exception("chat stream failed")
                yield on_error
                return
            if item is _END:
                return
            yield item
    finally:
        await sync_to_async(items.close)()  # type: ignore[attr-defined]


def sse_event(name: str, data: str) -> bytes:
    """One server-sent event: `event: <name>` and one `data:` line per line of `data`
    (EventSource joins them back with newlines)."""
    lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return (f"event: {name}\n" + "".join(f"data: {line}\n" for line in lines) + "\n").encode()


def sse_response(chunks: AsyncIterator[bytes]) -> StreamingHttpResponse:
    """A text/event-stream response that proxies must not buffer or cache."""
    response = StreamingHttpResponse(chunks, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
