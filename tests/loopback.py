"""A tiny reusable loopback HTTP server for tests that exercise real SDKs (openai, anthropic,
Whop...) against their wire format without the internet.

Usage::

    from tests.loopback import loopback_server, Request, Response

    def handler(req: Request) -> Response:
        assert req.path == "/v1/embeddings"
        return Response.json({"data": [...]})

    with loopback_server(handler) as server:
        client = OpenAI(base_url=server.base_url + "/v1", api_key="sk-test")
        ...
        assert len(server.requests) == 1

The handler gets a :class:`Request` and returns a :class:`Response` (or a ``(status, body)``
tuple, or a ``dict``/``list`` which is sent as JSON with status 200). If the handler raises,
the server answers 500 with the exception text and records it in ``server.errors`` so the
test can fail loudly. Every request is recorded in ``server.requests`` (thread-safe list).
Servers bind 127.0.0.1 on a free port (port 0) and are shut down on exit.

Also usable as a pytest fixture via :func:`loopback` (``loopback(handler)`` returns the
running server and registers its shutdown).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest


@dataclass
class Request:
    """One HTTP request as received. ``body`` is raw bytes; helpers decode JSON/forms."""

    method: str
    path: str  # path without the query string, e.g. "/v1/embeddings"
    query: dict[str, list[str]]
    headers: dict[str, str]  # header names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def multipart(self) -> dict[str, Any]:
        """Parse a multipart/form-data body: field name -> str value, or for file parts a
        dict {"filename", "content_type", "data": bytes}."""
        from email.parser import BytesParser
        from email.policy import HTTP

        raw = b"Content-Type: " + self.content_type.encode() + b"\r\n\r\n" + self.body
        msg = BytesParser(policy=HTTP).parsebytes(raw)
        out: dict[str, Any] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            filename = part.get_filename()
            payload = part.get_payload(decode=True) or b""
            if filename is not None:
                out[name] = {
                    "filename": filename,
                    "content_type": part.get_content_type(),
                    "data": payload,
                }
            else:
                out[name] = payload.decode("utf-8")
        return out


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Optional iterable of byte chunks sent one after another (e.g. SSE streams).
    chunks: Iterable[bytes] | None = None

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None):
        return cls(
            status=status,
            body=json.dumps(data).encode("utf-8"),
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain"):
        return cls(status=status, body=text.encode("utf-8"), headers={"Content-Type": content_type})

    @classmethod
    def sse(cls, events: Iterable[str | tuple[str, str]], status: int = 200):
        """Server-sent events. Each item is a data string, or (event, data)."""

        def gen():
            for item in events:
                if isinstance(item, tuple):
                    event, data = item
                    yield f"event: {event}\ndata: {data}\n\n".encode()
                else:
                    yield f"data: {item}\n\n".encode()

        return cls(status=status, headers={"Content-Type": "text/event-stream"}, chunks=gen())


Handler = Callable[[Request], "Response | tuple[int, Any] | dict | list"]


class LoopbackServer:
    """A running server. ``base_url`` is like "http://127.0.0.1:54321" (no trailing slash)."""

    def __init__(self, handler: Handler):
        self.handler = handler
        self.requests: list[Request] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        outer = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    body = self.rfile.read(length)
                elif "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    body = self._read_chunked()
                else:
                    body = b""
                parts = urlsplit(self.path)
                req = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with outer._lock:
                    outer.requests.append(req)
                try:
                    resp = _coerce(outer.handler(req))
                except Exception as exc:  # surfaced to the test through server.errors
                    with outer._lock:
                        outer.errors.append(exc)
                    resp = Response.json(
                        {"error": {"message": f"loopback handler error: {exc!r}"}}, status=500
                    )
                self._send(resp)

            def _read_chunked(self) -> bytes:
                data = b""
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()

            def _send(self, resp: Response):
                self.send_response(resp.status)
                headers = {k.lower(): v for k, v in resp.headers.items()}
                for k, v in resp.headers.items():
                    self.send_header(k, v)
                if resp.chunks is not None:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for chunk in resp.chunks:
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    self.close_connection = True
                    return
                if "content-length" not in headers:
                    self.send_header("Content-Length", str(len(resp.body)))
                self.end_headers()
                self.wfile.write(resp.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.httpd.daemon_threads = True
        host, port = self.httpd.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def requests_to(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]


def _coerce(result) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, tuple):
        status, body = result
        if isinstance(body, (dict, list)):
            return Response.json(body, status=status)
        if isinstance(body, str):
            body = body.encode()
        return Response(status=status, body=body)
    if isinstance(result, (dict, list)):
        return Response.json(result)
    if result is None:
        return Response(status=204)
    raise TypeError(f"loopback handler returned unsupported {type(result)!r}")


@contextlib.contextmanager
def loopback_server(handler: Handler) -> Iterator[LoopbackServer]:
    """Run ``handler`` behind a ThreadingHTTPServer on 127.0.0.1:0; yields the server
    (``server.base_url`` is the URL to point an SDK at)."""
    server = LoopbackServer(handler).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def loopback():
    """Fixture factory: ``server = loopback(handler)``; stopped at test teardown."""
    servers: list[LoopbackServer] = []

    def start(handler: Handler) -> LoopbackServer:
        server = LoopbackServer(handler).start()
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()
