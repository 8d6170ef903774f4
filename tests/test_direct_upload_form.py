"""The upload page's no-JS form in S3 mode (moto): the form posts the file straight to the
bucket (a presigned POST, SigV4 policy), never to Chronos; S3 sends the browser back and a
worker checks the object before the video exists; a non-media file is refused and removed."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import httpx
import pytest

from tests.s3 import use_s3
from videos.models import DirectUpload, Video

pytestmark = pytest.mark.django_db

LECTURE = "jfk.flac"  # 11 s of speech: the pipeline's local transcription is quick


@pytest.fixture
def bucket(settings, moto_endpoint):
    settings.CHRONOS_EMBEDDER = "none"
    return use_s3(settings, moto_endpoint)


def _form(html: str) -> tuple[str, dict[str, str], str]:
    """(action, hidden fields, the form's HTML) of form#plain-upload."""
    form = re.search(r'<form id="plain-upload".*?</form>', html, re.S).group(0)
    action = unescape(re.search(r'action="([^"]+)"', form).group(1))
    fields = {
        unescape(n): unescape(v)
        for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
    }
    return action, fields, form


def _post_to_bucket(owner_client, creator, name: str, body: bytes) -> httpx.Response:
    page = owner_client.get(f"/studio/{creator.handle}/videos/upload/")
    action, fields, _ = _form(page.content.decode())
    # What a browser does with the form: fields first, the file last, to the bucket.
    return httpx.post(action, data=fields, files={"file": (name, body)})


def _back_to_chronos(owner_client, response: httpx.Response):
    assert response.status_code == 303, response.text
    location = urlsplit(response.headers["location"])
    return owner_client.get(f"{location.path}?{location.query}", follow=True)


def test_the_form_posts_straight_to_the_bucket_with_a_sigv4_policy(
    owner_client, creator, bucket, moto_endpoint
):
    page = owner_client.get(f"/studio/{creator.handle}/videos/upload/")
    action, fields, form = _form(page.content.decode())
    assert action.startswith(moto_endpoint) and bucket in action
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256" and fields["policy"]
    assert fields["key"].startswith(f"{creator.handle}/incoming/")
    assert fields["success_action_redirect"] == (
        f"http://testserver/studio/{creator.handle}/videos/upload/received/"
    )
    assert "csrfmiddlewaretoken" not in form  # our token is not the bucket's business
    assert form.index('name="file"') > form.rindex('type="hidden"')  # S3: the file last


def test_a_lecture_goes_to_the_bucket_and_is_checked_by_a_worker(
    owner_client, creator, bucket, data_dir, stored, django_capture_on_commit_callbacks
):
    body = (data_dir / LECTURE).read_bytes()
    sent = _post_to_bucket(owner_client, creator, LECTURE, body)
    with django_capture_on_commit_callbacks(execute=True):
        page = _back_to_chronos(owner_client, sent)
    assert page.status_code == 200
    upload = DirectUpload.objects.get(creator=creator)
    assert upload.status == "completed", upload.error
    video = Video.objects.get(pk=upload.video_id)
    assert video.size_bytes == len(body) and video.status == Video.Status.COMPLETED
    assert stored()[0] == f"{creator.handle}/videos/{video.pk}.flac"
    assert not [n for n in stored() if "/incoming/" in n]  # moved, not copied
    html = page.content.decode()
    assert "reached storage; it is being checked" in html and "being checked…" in html
    later = owner_client.get(f"/studio/{creator.handle}/videos/upload/").content.decode()
    assert "received, processing" in later
    # A reload of S3's redirect does not make a second video.
    with django_capture_on_commit_callbacks(execute=True):
        _back_to_chronos(owner_client, sent)
    assert Video.objects.count() == 1 and DirectUpload.objects.count() == 1


def test_a_file_that_is_not_media_is_refused_and_removed(
    owner_client, creator, bucket, data_dir, stored, django_capture_on_commit_callbacks
):
    text = (data_dir / "SOURCES.md").read_bytes()
    sent = _post_to_bucket(owner_client, creator, "lecture.mp4", text)
    with django_capture_on_commit_callbacks(execute=True):
        assert _back_to_chronos(owner_client, sent).status_code == 200
    upload = DirectUpload.objects.get(creator=creator)
    assert upload.status == "failed" and upload.error_code == "not_media"
    assert "is not a video or audio file we can read" in upload.error
    assert not Video.objects.exists() and stored() == []
    later = owner_client.get(f"/studio/{creator.handle}/videos/upload/").content.decode()
    assert "refused: " in later and "is not a video or audio file we can read" in later


def test_a_key_outside_the_studios_incoming_prefix_is_refused(
    owner_client, creator, other_creator, bucket
):
    for key in (f"{other_creator.handle}/incoming/abc/x.mp4", f"{creator.handle}/videos/1.mp4"):
        page = owner_client.get(
            f"/studio/{creator.handle}/videos/upload/received/", {"key": key}, follow=True
        )
        assert "That upload is not one of this studio" in page.content.decode()
    assert not DirectUpload.objects.exists()
