"""The creator's video pages and the media stream, through Django's test client against the
real database; media made by the real pipeline from tests/data (django-q2 runs in sync mode,
so executing the on-commit callbacks runs every stage)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import AsyncClient
from django.urls import reverse

from tests.factories import CreatorFactory, MembershipFactory
from videos import services
from videos.models import TranscriptSegment, Video, VideoChunk
from videos.streaming import byte_range

MP4 = "faraday-candle-1-excerpt.mp4"
VTT = "faraday-candle-1-excerpt.vtt"


def _upload(creator, data_dir: Path, capture, *, enqueue: bool = True) -> Video:
    """The real action: store the lecture with its captions and (optionally) process it."""
    with (
        open(data_dir / MP4, "rb") as media,
        open(data_dir / VTT, "rb") as captions,
        capture(execute=True),
    ):
        video = services.video_create(
            creator=creator,
            file=media,
            filename=MP4,
            captions=captions,
            captions_filename=VTT,
            enqueue=enqueue,
        )
    video.refresh_from_db()
    return video


def _stored_files(media_root: Path) -> list[Path]:
    return sorted(p for p in Path(media_root).rglob("*") if p.is_file())


@pytest.fixture
def processed(creator, data_dir, django_capture_on_commit_callbacks) -> Video:
    video = _upload(creator, data_dir, django_capture_on_commit_callbacks)
    assert video.status == Video.Status.COMPLETED, video.error
    return video


@pytest.fixture
def pending(creator, data_dir, django_capture_on_commit_callbacks) -> Video:
    """Stored but not processed (enqueue=False): stays 'pending', i.e. processing."""
    return _upload(creator, data_dir, django_capture_on_commit_callbacks, enqueue=False)


def _url(name: str, video: Video | None = None, handle: str = "acme") -> str:
    if name in ("videos:stream", "videos:thumbnail"):
        return reverse(name, kwargs={"pk": video.pk})
    if video is None:
        return reverse(name, kwargs={"handle": handle})
    return reverse(name, kwargs={"handle": handle, "pk": video.pk})


# --- library -----------------------------------------------------------------------------


def test_library_signed_out_redirects_to_login(client, creator):
    response = client.get(_url("videos:library"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_library_empty_state_links_to_upload(owner_client):
    response = owner_client.get(_url("videos:library"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "No videos yet" in html
    assert _url("videos:upload") in html


def test_library_rows_poll_only_while_processing(owner_client, pending, processed):
    # One pending video: the rows region polls the rows partial and shows its progress.
    html = owner_client.get(_url("videos:library")).content.decode()
    assert f'hx-get="{_url("videos:rows")}"' in html
    assert 'hx-trigger="every 2s"' in html
    assert f'id="video-{pending.pk}"' in html and f'id="video-{processed.pk}"' in html
    assert "0:03:0" in html  # duration column, h:mm:ss (the excerpt is ~3 min)

    partial = owner_client.get(_url("videos:rows"), headers={"HX-Request": "true"})
    body = partial.content.decode()
    assert partial.status_code == 200
    assert "<html" not in body and 'id="video-rows"' in body
    assert 'role="progressbar"' in body

    # Once nothing is processing, the fast poll stops (a slow one looks for new uploads).
    services.video_delete(video=pending)
    body = owner_client.get(_url("videos:rows"), headers={"HX-Request": "true"}).content.decode()
    assert 'id="video-rows"' in body and "every 2s" not in body
    assert 'hx-trigger="every 30s, focus from:window"' in body  # slow poll for new uploads
    assert f'id="video-{processed.pk}"' in body


# --- upload ------------------------------------------------------------------------------


def test_upload_page_offers_drag_drop_and_plain_form(owner_client, creator):
    html = owner_client.get(_url("videos:upload")).content.decode()
    assert 'id="dropzone"' in html and "multiple" in html
    assert 'data-api-url="/api/v1/videos/?creator=acme"' in html
    assert 'enctype="multipart/form-data"' in html  # works without JS
    assert 'name="captions"' in html


def test_plain_upload_processes_and_opens_the_video(
    owner_client, creator, data_dir, django_capture_on_commit_callbacks
):
    with (
        open(data_dir / MP4, "rb") as media,
        open(data_dir / VTT, "rb") as captions,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = owner_client.post(
            _url("videos:upload"),
            {"file": media, "captions": captions, "title": "Candle, lecture 1"},
        )
    video = Video.objects.get(creator=creator)
    assert response.status_code == 302
    assert response["Location"] == _url("videos:detail", video)
    assert video.title == "Candle, lecture 1"
    assert video.status == Video.Status.COMPLETED, video.error
    assert video.transcript_source == Video.TranscriptSource.CAPTIONS


def test_plain_upload_wrong_type_shows_the_message_and_saves_nothing(
    owner_client, creator, data_dir, _media_root
):
    fake = SimpleUploadedFile("lecture.mp4", (data_dir / "SOURCES.md").read_bytes())
    response = owner_client.post(_url("videos:upload"), {"file": fake, "title": "x"})
    assert response.status_code == 400
    form = response.context["form"]
    message = " ".join(form.errors["file"])
    assert message  # the service's own words, shown next to the file field
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not Video.objects.exists()
    assert _stored_files(_media_root) == []


def test_plain_upload_bad_captions_error_sits_on_the_captions_field(
    owner_client, creator, data_dir, _media_root
):
    with open(data_dir / MP4, "rb") as media:
        bad = SimpleUploadedFile("lecture.vtt", b"this is not a caption file at all")
        response = owner_client.post(_url("videos:upload"), {"file": media, "captions": bad})
    assert response.status_code == 400
    assert response.context["form"].errors["captions"]
    assert not Video.objects.exists()
    assert _stored_files(_media_root) == []


# --- video page --------------------------------------------------------------------------


def test_detail_has_player_and_clickable_timed_transcript(owner_client, processed):
    response = owner_client.get(_url("videos:detail", processed))
    html = response.content.decode()
    assert response.status_code == 200
    assert f'src="{_url("videos:stream", processed)}"' in html
    segments = list(TranscriptSegment.objects.filter(video=processed).order_by("index"))
    assert len(segments) > 5
    starts = [float(s) for s in re.findall(r'class="vid-line" data-start="([0-9.]+)"', html)]
    assert starts == pytest.approx([s.start for s in segments])
    # Timestamps as m:ss; the third cue of the excerpt starts at 14.485 s.
    assert '<span class="vid-ts">0:14</span>' in html
    assert 'hx-trigger="every' not in html  # completed: no status polling


def test_detail_status_polls_while_processing_then_refreshes(owner_client, pending):
    html = owner_client.get(_url("videos:detail", pending)).content.decode()
    assert "?part=status" in html and 'hx-trigger="every 2s"' in html

    poll = owner_client.get(
        _url("videos:detail", pending) + "?part=status", headers={"HX-Request": "true"}
    )
    assert poll.status_code == 200 and "HX-Refresh" not in poll
    assert 'id="video-status"' in poll.content.decode()

    Video.objects.filter(pk=pending.pk).update(status=Video.Status.FAILED, error="Boom.")
    poll = owner_client.get(
        _url("videos:detail", pending) + "?part=status", headers={"HX-Request": "true"}
    )
    assert poll["HX-Refresh"] == "true"  # finished: reload to show transcript / retry


def test_status_poll_queries_only_what_the_status_region_shows(
    owner_client, pending, django_assert_num_queries
):
    """The 2-second poll renders videos/detail.html#status from its own small context:
    no transcript, no counts while processing. Queries: the session, the user, the managed
    creator, the video (the rest of the request's middleware reads nothing)."""
    url = _url("videos:detail", pending) + "?part=status"
    with django_assert_num_queries(4):
        poll = owner_client.get(url, headers={"HX-Request": "true"})
    body = poll.content.decode()
    assert poll.status_code == 200 and 'id="video-status"' in body
    assert "Queued · 0%" in body


def test_edit_inline_with_htmx_and_plain_post(owner_client, processed):
    response = owner_client.post(
        _url("videos:edit", processed),
        {"title": "Flames and wax", "description": "Lecture one."},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="video-meta"' in body and "Flames and wax" in body and "<html" not in body
    processed.refresh_from_db()
    assert (processed.title, processed.description) == ("Flames and wax", "Lecture one.")

    # An empty title comes back as the form with its error; nothing changes.
    response = owner_client.post(
        _url("videos:edit", processed), {"title": "  "}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    processed.refresh_from_db()
    assert processed.title == "Flames and wax"

    response = owner_client.post(_url("videos:edit", processed), {"title": "Plain"})
    assert response.status_code == 302
    processed.refresh_from_db()
    assert processed.title == "Plain"


def test_retry_failed_video_from_the_library(
    owner_client, pending, django_capture_on_commit_callbacks
):
    Video.objects.filter(pk=pending.pk).update(
        status=Video.Status.FAILED, error="The worker stopped."
    )
    html = owner_client.get(_url("videos:library")).content.decode()
    assert _url("videos:retry", pending) in html and "The worker stopped." in html

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            _url("videos:retry", pending), {"next": _url("videos:library")}
        )
    assert response.status_code == 302 and response["Location"] == _url("videos:library")
    pending.refresh_from_db()
    assert pending.status == Video.Status.COMPLETED, pending.error
    assert pending.error == ""


def test_retry_of_a_completed_video_is_refused_with_a_message(owner_client, processed):
    response = owner_client.post(_url("videos:retry", processed), follow=True)
    assert response.status_code == 200
    assert any("nothing to retry" in str(m) for m in response.context["messages"])


def test_retry_ignores_an_offsite_next(owner_client, pending):
    Video.objects.filter(pk=pending.pk).update(status=Video.Status.FAILED)
    response = owner_client.post(_url("videos:retry", pending), {"next": "https://evil.example/"})
    assert response["Location"] == _url("videos:detail", pending)


def test_delete_removes_row_rows_and_files(
    owner_client, processed, _media_root, django_capture_on_commit_callbacks
):
    assert _stored_files(_media_root)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(_url("videos:delete", processed))
    assert response.status_code == 302 and response["Location"] == _url("videos:library")
    assert not Video.objects.filter(pk=processed.pk).exists()
    assert not TranscriptSegment.objects.filter(video_id=processed.pk).exists()
    assert not VideoChunk.objects.filter(video_id=processed.pk).exists()
    assert _stored_files(_media_root) == []


def test_delete_needs_post(owner_client, processed):
    assert owner_client.get(_url("videos:delete", processed)).status_code == 405
    assert Video.objects.filter(pk=processed.pk).exists()


# --- media stream ------------------------------------------------------------------------


def test_stream_full_file(owner_client, processed, data_dir):
    response = owner_client.get(_url("videos:stream", processed))
    original = (data_dir / MP4).read_bytes()
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert response["Accept-Ranges"] == "bytes"
    assert int(response["Content-Length"]) == len(original)
    assert b"".join(response.streaming_content) == original
    assert "private" in response["Cache-Control"]


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [
        ("bytes=0-99", 0, 100),
        ("bytes=1000-1999", 1000, 2000),
        ("bytes=-500", None, None),  # the last 500 bytes
        ("bytes=900000-", 900000, None),  # open-ended
        ("bytes=0-99999999", 0, None),  # clipped to the end
    ],
)
def test_stream_range_is_206_with_exact_bytes(
    owner_client, processed, data_dir, header, start, stop
):
    original = (data_dir / MP4).read_bytes()
    size = len(original)
    if start is None:
        start, stop = size - 500, size
    stop = stop or size
    response = owner_client.get(_url("videos:stream", processed), headers={"Range": header})
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {start}-{stop - 1}/{size}"
    assert int(response["Content-Length"]) == stop - start
    assert b"".join(response.streaming_content) == original[start:stop]


@pytest.mark.parametrize("header", ["bytes=99999999-", "bytes=5-1", "bytes=abc"])
def test_stream_bad_range_is_416(owner_client, processed, data_dir, header):
    size = (data_dir / MP4).stat().st_size
    response = owner_client.get(_url("videos:stream", processed), headers={"Range": header})
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{size}"


def test_stream_ignores_multi_range_other_units_and_stale_if_range(owner_client, processed):
    url = _url("videos:stream", processed)
    assert owner_client.get(url, headers={"Range": "bytes=0-1,5-6"}).status_code == 200
    assert owner_client.get(url, headers={"Range": "items=0-5"}).status_code == 200
    etag = owner_client.get(url)["ETag"]
    fresh = owner_client.get(url, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert fresh.status_code == 206
    stale = owner_client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert stale.status_code == 200


def test_stream_head_has_headers_and_no_body(owner_client, processed, data_dir):
    response = owner_client.head(_url("videos:stream", processed), headers={"Range": "bytes=0-9"})
    assert response.status_code == 206
    assert response["Content-Length"] == "10"
    assert response.content == b""


def test_stream_under_asgi_is_an_async_iterator(owner, processed, data_dir):
    """Under ASGI (uvicorn) the body must be async, else Django buffers the whole file."""

    async def fetch():
        client = AsyncClient()
        await client.aforce_login(owner)
        response = await client.get(
            _url("videos:stream", processed), headers={"Range": "bytes=100-4195"}
        )
        assert response.is_async
        body = b"".join([chunk async for chunk in response.streaming_content])
        return response, body

    response, body = async_to_sync(fetch)()
    assert response.status_code == 206
    assert body == (data_dir / MP4).read_bytes()[100:4196]


@pytest.fixture
def owner(creator):
    return creator.owner


def test_thumbnail_is_a_jpeg(owner_client, processed):
    response = owner_client.get(_url("videos:thumbnail", processed))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content)[:3] == b"\xff\xd8\xff"


def test_thumbnail_missing_is_404(owner_client, pending):
    assert not pending.thumbnail
    assert owner_client.get(_url("videos:thumbnail", pending)).status_code == 404


def test_media_is_not_served_from_media_url(owner_client, processed):
    assert owner_client.get("/media/" + processed.file.name).status_code == 404


class PresignedStorage(FileSystemStorage):
    """Like S3: files have URLs but no local path."""

    def path(self, name):
        raise NotImplementedError("no local path")

    def url(self, name):
        return f"https://bucket.example.com/{name}?X-Amz-Signature=abc"


def test_stream_redirects_to_a_presigned_url_for_remote_storage(
    owner_client, processed, settings, _media_root
):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "tests.test_video_views.PresignedStorage",
            "OPTIONS": {"location": str(_media_root)},
        },
    }
    response = owner_client.get(_url("videos:stream", processed))
    assert response.status_code == 302
    assert response["Location"].startswith("https://bucket.example.com/acme/videos/")


# --- access ------------------------------------------------------------------------------


def _all_routes(video: Video, handle: str) -> list[tuple[str, str]]:
    return [
        ("get", reverse("videos:library", kwargs={"handle": handle})),
        ("get", reverse("videos:rows", kwargs={"handle": handle})),
        ("get", reverse("videos:upload", kwargs={"handle": handle})),
        ("get", reverse("videos:detail", kwargs={"handle": handle, "pk": video.pk})),
        ("post", reverse("videos:edit", kwargs={"handle": handle, "pk": video.pk})),
        ("post", reverse("videos:retry", kwargs={"handle": handle, "pk": video.pk})),
        ("post", reverse("videos:delete", kwargs={"handle": handle, "pk": video.pk})),
        ("get", reverse("videos:stream", kwargs={"pk": video.pk})),
        ("get", reverse("videos:thumbnail", kwargs={"pk": video.pk})),
    ]


def test_another_creators_video_is_404_on_every_route(
    client, processed, other_creator, django_capture_on_commit_callbacks
):
    client.force_login(other_creator.owner)
    for method, url in _all_routes(processed, "acme"):
        assert getattr(client, method)(url, {"title": "stolen"}).status_code == 404, url
    # ... and through its own handle too (the video id does not belong to globex).
    for method, url in _all_routes(processed, "globex")[3:7]:
        assert getattr(client, method)(url, {"title": "stolen"}).status_code == 404, url
    processed.refresh_from_db()
    assert processed.title != "stolen" and Video.objects.filter(pk=processed.pk).exists()


def test_student_with_membership_can_stream_but_not_manage(student_client, processed):
    assert student_client.get(_url("videos:stream", processed)).status_code == 200
    assert student_client.get(_url("videos:thumbnail", processed)).status_code == 200
    for method, url in _all_routes(processed, "acme")[:7]:
        assert getattr(student_client, method)(url).status_code == 404, url
    assert Video.objects.filter(pk=processed.pk).exists()


def test_lapsed_or_foreign_student_cannot_stream(client, processed):
    lapsed = MembershipFactory(creator=processed.creator, status="canceled").user
    client.force_login(lapsed)
    assert client.get(_url("videos:stream", processed)).status_code == 404
    foreign = MembershipFactory(creator=CreatorFactory()).user
    client.force_login(foreign)
    assert client.get(_url("videos:stream", processed)).status_code == 404


def test_signed_out_gets_the_login_page_everywhere(client, processed):
    for method, url in _all_routes(processed, "acme"):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("account_login")), url


# --- the Range parser on its own -----------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("bytes=0-0", (0, 1)),
        ("bytes=10-", (10, 1000)),
        ("bytes=-1", (999, 1000)),
        ("bytes=-5000", (0, 1000)),
        ("bytes=990-2000", (990, 1000)),
        ("bytes=1000-", False),
        ("bytes=-0", False),
        ("bytes=x-y", False),
        ("bytes=0-1,4-5", None),
        ("seconds=1-2", None),
    ],
)
def test_byte_range(header, expected):
    assert byte_range(header, 1000) == expected


def test_library_query_count_does_not_grow_with_videos(
    owner_client, creator, data_dir, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _upload(creator, data_dir, django_capture_on_commit_callbacks, enqueue=False)
    with CaptureQueriesContext(connection) as one:
        assert owner_client.get(_url("videos:library")).status_code == 200
    for _ in range(3):
        _upload(creator, data_dir, django_capture_on_commit_callbacks, enqueue=False)
    with CaptureQueriesContext(connection) as four:
        html = owner_client.get(_url("videos:library")).content.decode()
    assert html.count('class="vid-row"') == 4
    assert len(four) == len(one)


def test_audio_lecture_gets_an_audio_player_and_its_type(owner_client, creator, data_dir):
    with open(data_dir / "p001.mp3", "rb") as media:
        video = services.video_create(
            creator=creator, file=media, filename="p001.mp3", enqueue=False
        )
    html = owner_client.get(_url("videos:detail", video)).content.decode()
    stream = _url("videos:stream", video)
    assert (
        f'<audio id="player" class="vid-player" controls preload="metadata" src="{stream}"' in html
    )
    assert "<video" not in html
    response = owner_client.get(_url("videos:stream", video), headers={"Range": "bytes=0-3"})
    assert response.status_code == 206 and response["Content-Type"] == "audio/mpeg"
