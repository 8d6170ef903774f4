"""A lean HTTP/1.1 load client for the benches: a fixed pool of keep-alive connections on
asyncio, responses parsed by httptools (the C parser uvicorn itself uses).

The load generator shares the two cores with the server it measures, so its own cost
counts against the server's figures: aiohttp spent ~0.8 ms of CPU per request here (httpx
~11), this ~0.1-0.2 (bench/watch.py prints it). It speaks only what the benches send:
requests with a Content-Length body; responses with Content-Length, chunked or
connection-delimited bodies (a streamed answer).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httptools


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request in flight at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future | None = None
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.started = False  # the response's headers have arrived
        self.closed = False

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(error)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if exc is None and self.started:  # a body delimited by the connection's end
            self.on_message_complete()
        self._fail(exc or ConnectionResetError("the server closed the connection"))

    def _fail(self, error: BaseException) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)

    # httptools callbacks
    def on_headers_complete(self) -> None:
        self.started = True

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            status = self.parser.get_status_code()
            self.waiter.set_result((status, self.headers, b"".join(self.body)))

    async def send(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.headers, self.body, self.started = {}, [], False
        self.transport.write(request)
        return await self.waiter


class KeepAliveClient:
    """`connections` keep-alive connections to `url`'s host; `post` waits for a free one
    (so at most `connections` requests are in flight) and reconnects a closed one."""

    def __init__(self, url: str, connections: int) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.host_header = parts.netloc
        self.free: asyncio.Queue[_Connection | None] = asyncio.Queue()
        for _ in range(connections):
            self.free.put_nowait(None)  # opened on first use

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _transport, connection = await loop.create_connection(_Connection, self.host, self.port)
        return connection

    async def post(
        self, path: str, body: bytes, headers: dict[str, str], timeout: float = 120.0
    ) -> tuple[int, dict[str, str], bytes]:
        """POST `body` (bytes) with `headers`; returns (status, headers lower-cased, body).
        Raises OSError/ConnectionError/TimeoutError/httptools.HttpParserError on failure
        (the connection is then dropped and reopened for the next request)."""
        lines = [f"POST {path} HTTP/1.1", f"Host: {self.host_header}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        connection = await self.free.get()
        try:
            if connection is None or connection.closed:
                connection = await self._open()
            answer = await asyncio.wait_for(connection.send(request), timeout)
        except BaseException:
            if connection is not None and connection.transport is not None:
                connection.transport.close()
            self.free.put_nowait(None)
            raise
        self.free.put_nowait(connection)
        return answer

    def close(self) -> None:
        while not self.free.empty():
            connection = self.free.get_nowait()
            if connection is not None and connection.transport is not None:
                connection.transport.close()
