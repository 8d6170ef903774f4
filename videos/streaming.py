"""Serving stored media with HTTP Range (RFC 9110 section 14) so players can seek:
single ranges, 206/416, blocks read off the event loop under ASGI, a presigned redirect
on S3. Access is checked by the calling view (videos.views.stream / thumbnail)."""

from __future__ import annotations

import asyncio
import mimetypes
import os
from collections.abc import AsyncIterator, Iterator
from typing import BinaryIO

from django.core.handlers.asgi import ASGIRequest
from django.db.models.fields.files import FieldFile
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.utils.http import http_date
from werkzeug.http import parse_range_header

# Bytes read per block when streaming media (large enough to keep syscalls and, under
# ASGI, thread hops rare; small enough to keep memory flat).
STREAM_BLOCK_BYTES = 256 * 1024

# Containers the stdlib `mimetypes` table may not know (it varies by OS).
MEDIA_TYPES = {
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "avi": "video/x-msvideo",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "opus": "audio/ogg",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
}


def media_content_type(name: str) -> str:
    """MIME type for a stored media file name, by its extension (we stored the file, and
    the pipeline accepted it by content, so the extension is ours to trust)."""
    ext = os.path.splitext(name)[1].lower().lstrip(".")
    return MEDIA_TYPES.get(ext) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def byte_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """Which bytes a `Range` header asks for, of a representation `size` bytes long.

    Returns (start, stop) with `stop` exclusive for one satisfiable byte range; None when
    the whole file should be sent (no header, another unit, or several ranges, which
    RFC 9110 §14.2 lets a server ignore); False when the request must get 416 (a malformed
    or unsatisfiable byte range). Parsing is werkzeug's (suffix "-500", open "500-", and
    ends past the size, which are clipped); a suffix longer than the file is all of it."""
    if not header:
        return None
    parsed = parse_range_header(header)
    if parsed is None:
        return False if header.strip().lower().startswith("bytes") else None
    if parsed.units != "bytes" or len(parsed.ranges) != 1:
        return None
    first, last = parsed.ranges[0]
    if first < 0 and last is None and -first > size > 0:
        # A suffix longer than the file means all of it (RFC 9110 §14.1.3); werkzeug's
        # range_for_length calls it unsatisfiable.
        return (0, size)
    return parsed.range_for_length(size) or False


def serve_media(
    request: HttpRequest, field: FieldFile, *, content_type: str | None = None
) -> HttpResponseBase:
    """Stream a stored file with Range support (200 / 206 / 416), never from MEDIA_URL.

    Headers: Accept-Ranges, Content-Length, Content-Range (206/416), ETag, Last-Modified,
    Cache-Control private (access is per user). If-Range with a stale validator gets the
    whole file. Storage without a local path (S3): 302 to storage.url(), presigned.
    Under ASGI the body is an async iterator, so a long file is never held in memory."""
    storage = field.storage
    try:
        path = storage.path(field.name)
    except NotImplementedError:
        return HttpResponseRedirect(storage.url(field.name))
    try:
        handle: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by the response
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise Http404("The media file is missing.") from exc
    stat = os.fstat(handle.fileno())
    size = stat.st_size
    etag = f'"{size:x}-{stat.st_mtime_ns:x}"'
    last_modified = http_date(stat.st_mtime)
    common = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Last-Modified": last_modified,
        "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff",
    }
    content_type = content_type or media_content_type(field.name)

    wanted = byte_range(request.headers.get("Range"), size)
    if_range = request.headers.get("If-Range")
    if wanted is not None and if_range and if_range not in (etag, last_modified):
        wanted = None  # the client's copy is stale: send it all
    if wanted is False:
        handle.close()
        response = HttpResponse(status=416, content_type="text/plain")
        response["Content-Range"] = f"bytes */{size}"
        for key, value in common.items():
            response[key] = value
        return response
    start, stop = wanted if wanted else (0, size)
    length = stop - start

    if request.method == "HEAD":
        handle.close()
        response = HttpResponse(status=206 if wanted else 200, content_type=content_type)
    else:
        if isinstance(request, ASGIRequest):
            body: Iterator[bytes] | AsyncIterator[bytes] = _aread(handle, start, length)
        else:
            body = _read(handle, start, length)
        response = StreamingHttpResponse(
            body, status=206 if wanted else 200, content_type=content_type
        )
        # The handle is closed when the response is, even if the client goes away early
        # (the same hook Django's FileResponse uses).
        response._resource_closers.append(handle.close)
    response["Content-Length"] = str(length)
    if wanted:
        response["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    for key, value in common.items():
        response[key] = value
    return response


def _read(handle: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    try:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            block = handle.read(min(STREAM_BLOCK_BYTES, remaining))
            if not block:
                break
            remaining -= len(block)
            yield block
    finally:
        handle.close()


async def _aread(handle: BinaryIO, start: int, length: int) -> AsyncIterator[bytes]:
    try:
        await asyncio.to_thread(handle.seek, start)
        remaining = length
        while remaining > 0:
            block = await asyncio.to_thread(handle.read, min(STREAM_BLOCK_BYTES, remaining))
            if not block:
                break
            remaining -= len(block)
            yield block
    finally:
        handle.close()
