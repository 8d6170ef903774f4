"""CSV exports through the web server's app (chronos.asgi): their bodies are synchronous
iterators of any length, which Django's ASGI handler reads whole before sending
("StreamingHttpResponse must consume synchronous iterators"); the app sends them from the
WSGI handler's file pool instead, as they are made. Static files (bounded) stay on the ASGI
handler and are served whole."""

from __future__ import annotations

import asyncio
import csv
import io
import warnings
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from analytics.exports import BOM, STREAM_PIECE_CHARS, stream_csv
from tests.factories import CreatorFactory

BUFFERED = "must consume synchronous iterators"


@pytest.fixture
def app(monkeypatch):
    monkeypatch.setenv("DB_POOL", "0")  # importing chronos.asgi must not change os.environ
    from chronos.asgi import application

    return application


def _get(app, path: str, **kwargs) -> tuple[httpx.Response, list[str]]:
    """The response to GET `path` through `app`, and the warnings Django raised meanwhile."""

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as web:
            return await web.get(path, **kwargs)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = asyncio.run(get())
    return response, [str(w.message) for w in caught]


def test_the_router_sends_exports_to_the_file_pool():
    from chronos.asgi import streams_sync

    assert not streams_sync(settings.STATIC_URL + "css/app.css")  # bounded: read at once
    assert streams_sync("/studio/acme/analytics/export.csv")
    assert streams_sync("/api/v1/analytics/export/")
    assert not streams_sync("/studio/acme/analytics/")
    assert not streams_sync("/media/videos/1/file/")  # video ranges: an async body already
    assert not streams_sync("/learn/acme/chat/")


@pytest.mark.django_db(transaction=True)
def test_a_static_file_is_served_whole_through_the_app(app):
    response, _caught = _get(app, settings.STATIC_URL + "css/app.css")
    assert response.status_code == 200
    source = Path(settings.BASE_DIR) / "static" / "css" / "app.css"
    assert response.content == source.read_bytes()


@pytest.mark.django_db(transaction=True)
def test_a_csv_export_is_streamed_from_the_file_pool(app, client):
    creator = CreatorFactory(handle="acme")
    client.force_login(creator.owner)
    cookies = {"sessionid": client.cookies["sessionid"].value}
    response, caught = _get(app, "/studio/acme/analytics/export.csv?report=videos", cookies=cookies)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-disposition"].startswith('attachment; filename="acme-videos-')
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "video_id"
    assert not [w for w in caught if BUFFERED in w], caught


def test_csv_pieces_hold_many_rows_and_add_up_to_the_csv():
    rows = [[n, f"Ana Ñúñez {n}", 'a, "quoted" field'] for n in range(5000)]
    pieces = list(stream_csv(iter(rows)))
    assert len(pieces) > 2
    assert all(len(p) >= STREAM_PIECE_CHARS for p in pieces[:-1])
    assert len(pieces) < len(rows) / 100  # hundreds of rows a piece, not one
    text = "".join(pieces)
    assert text.startswith(BOM)
    expected = io.StringIO()
    csv.writer(expected).writerows(rows)
    assert text[len(BOM) :] == expected.getvalue()
    assert list(stream_csv(iter([]))) == [BOM]  # an empty report is still a valid file
