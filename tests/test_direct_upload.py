"""Direct-to-bucket uploads (S3 mode) against a moto S3 server: the REST flow with real
parts PUT to presigned URLs, verification before anything is queued (missing, truncated
and non-media objects are refused with a clear message and removed), resume, tenant
isolation, and the scheduled abort of abandoned multipart uploads."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.utils import timezone

from tests.s3 import s3_client, use_s3
from videos.models import DirectUpload, Video

pytestmark = pytest.mark.django_db

LECTURE = "faraday-candle-2.mp4"  # 10.1 MB: two 5 MiB parts
CAPTIONS = "faraday-candle-2.vtt"
PART = 5 * 1024 * 1024


@pytest.fixture
def bucket(settings, moto_endpoint):
    settings.CHRONOS_UPLOAD_PART_BYTES = PART
    settings.CHRONOS_EMBEDDER = "none"
    return use_s3(settings, moto_endpoint)


def _start(client, path: Path, **extra):
    body = {"filename": path.name, "size": path.stat().st_size, "content_type": "video/mp4"}
    return client.post("/api/v1/uploads/", {**body, **extra}, content_type="application/json")


def _put(parts: list[dict], data: bytes, numbers=None) -> None:
    for part in parts:
        if numbers is None or part["number"] in numbers:
            r = httpx.put(part["url"], content=data[part["start"] : part["end"]])
            assert r.status_code == 200, r.text


def _multipart_uploads(moto_endpoint, bucket) -> list:
    return s3_client(moto_endpoint).list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def test_lecture_goes_to_the_bucket_in_parts_and_is_processed(
    owner_client, bucket, data_dir, stored, django_capture_on_commit_callbacks
):
    path = data_dir / LECTURE
    started = _start(owner_client, path, title="Candle II")
    assert started.status_code == 201, started.content
    upload = started.json()
    assert upload["part_count"] == 2 and upload["part_size"] == PART
    assert [p["number"] for p in upload["parts"]] == [1, 2]
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in upload["parts"][0]["url"]
    assert upload["url"] == f"http://testserver/api/v1/uploads/{upload['id']}/"
    assert upload["complete_url"].startswith("http://testserver/api/v1/uploads/")
    _put(upload["parts"], path.read_bytes())

    with (
        open(data_dir / CAPTIONS, "rb") as captions,
        django_capture_on_commit_callbacks(execute=True),
    ):
        done = owner_client.post(upload["complete_url"], {"captions": captions})
        # The web process completed the upload and checked its size; the content probe
        # waits for a worker (queued on commit), so no video exists yet.
        assert done.status_code == 202, done.content
        assert done.json()["status"] == "verifying" and done.json()["video_id"] is None
        assert not Video.objects.exists()
    state = owner_client.get(upload["url"]).json()
    assert state["status"] == "completed", state
    video = Video.objects.get(pk=state["video_id"])
    assert video.pk == DirectUpload.objects.get(pk=upload["id"]).video_id
    assert video.title == "Candle II" and video.size_bytes == path.stat().st_size
    assert video.status == Video.Status.COMPLETED, video.error
    assert video.transcript_source == Video.TranscriptSource.CAPTIONS
    assert f"acme/videos/{video.pk}.mp4" in stored()
    assert DirectUpload.objects.get(pk=upload["id"]).status == "completed"
    # Completing twice is refused; the video is not duplicated.
    again = owner_client.post(upload["complete_url"])
    assert again.status_code == 409 and again.json()["code"] == "upload_closed"
    assert Video.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"filename": "notes.pdf", "size": 1000, "content_type": "application/pdf"}, "not_media"),
        ({"filename": "lecture.vtt", "size": 1000, "content_type": "text/vtt"}, "not_media"),
        ({"filename": "lecture.mp4", "size": 0}, "empty"),
        ({"filename": "lecture.mp4", "size": 50 * 1024**3}, "too_large"),
    ],
)
def test_start_checks_type_and_size_before_anything_is_started(
    owner_client, bucket, moto_endpoint, body, code
):
    response = owner_client.post("/api/v1/uploads/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert response.json()["fields"]["file"][0] == response.json()["error"]
    assert not DirectUpload.objects.exists()
    assert _multipart_uploads(moto_endpoint, bucket) == []


def test_a_media_mime_hint_accepts_an_unusual_name(owner_client, bucket):
    response = owner_client.post(
        "/api/v1/uploads/",
        {"filename": "lecture.video", "size": 1000, "content_type": "video/quicktime"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert DirectUpload.objects.get().key.endswith(".mov")


def test_local_storage_has_no_direct_uploads(owner_client):
    response = owner_client.post(
        "/api/v1/uploads/", {"filename": "a.mp4", "size": 10}, content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["code"] == "not_available"


def _refused(owner_client, upload, code, stored, moto_endpoint, bucket, capture):
    with capture(execute=True) as callbacks:
        response = owner_client.post(upload["complete_url"])
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == code and body["fields"]["file"] == [body["error"]]
    assert not callbacks  # nothing queued
    assert not Video.objects.exists()
    row = DirectUpload.objects.get(pk=upload["id"])
    assert row.status == "failed" and row.error == body["error"]
    assert stored() == [] and _multipart_uploads(moto_endpoint, bucket) == []
    return body["error"]


def test_nothing_sent_is_refused_as_missing(
    owner_client, bucket, data_dir, stored, moto_endpoint, django_capture_on_commit_callbacks
):
    upload = _start(owner_client, data_dir / LECTURE).json()
    message = _refused(
        owner_client, upload, "missing", stored, moto_endpoint, bucket,
        django_capture_on_commit_callbacks,
    )  # fmt: skip
    assert "No part of faraday-candle-2.mp4 reached storage" in message


def test_a_missing_part_is_refused_as_truncated(
    owner_client, bucket, data_dir, stored, moto_endpoint, django_capture_on_commit_callbacks
):
    path = data_dir / LECTURE
    upload = _start(owner_client, path).json()
    _put(upload["parts"], path.read_bytes(), numbers={1})
    message = _refused(
        owner_client, upload, "truncated", stored, moto_endpoint, bucket,
        django_capture_on_commit_callbacks,
    )  # fmt: skip
    assert "Only 5.0 MB of the 9.7 MB" in message and "parts 2 missing" in message


def test_a_short_last_part_is_refused_as_truncated(
    owner_client, bucket, data_dir, stored, moto_endpoint, django_capture_on_commit_callbacks
):
    path = data_dir / LECTURE
    upload = _start(owner_client, path).json()
    _put(upload["parts"], path.read_bytes()[:-1000])
    message = _refused(
        owner_client, upload, "truncated", stored, moto_endpoint, bucket,
        django_capture_on_commit_callbacks,
    )  # fmt: skip
    assert "the upload was cut short" in message


def test_an_object_that_is_not_media_is_refused_and_deleted(
    owner_client, bucket, data_dir, stored, moto_endpoint, django_capture_on_commit_callbacks
):
    text = (data_dir / "SOURCES.md").read_bytes()
    response = owner_client.post(
        "/api/v1/uploads/",
        {"filename": "lecture.mp4", "size": len(text), "content_type": "video/mp4"},
        content_type="application/json",
    )
    upload = response.json()
    _put(upload["parts"], text)
    with django_capture_on_commit_callbacks(execute=True):
        accepted = owner_client.post(upload["complete_url"])
    assert accepted.status_code == 202, accepted.content  # sizes add up: off to the worker
    # The worker's probe refused it: the upload says why, the object is gone, no video.
    state = owner_client.get(upload["url"]).json()
    assert state["status"] == "failed" and state["code"] == "not_media"
    assert "is not a video or audio file we can read" in state["error"]
    assert not Video.objects.exists()
    assert stored() == [] and _multipart_uploads(moto_endpoint, bucket) == []
    # Completing it again is refused with the same words.
    again = owner_client.post(upload["complete_url"])
    assert again.status_code == 409 and again.json()["code"] == "upload_closed"


def test_resume_lists_received_parts_and_re_signs_the_rest(owner_client, bucket, data_dir):
    path = data_dir / LECTURE
    upload = _start(owner_client, path).json()
    _put(upload["parts"], path.read_bytes(), numbers={2})
    state = owner_client.get(f"/api/v1/uploads/{upload['id']}/").json()
    assert state["status"] == "pending"
    assert state["parts_received"] == [{"number": 2, "size": path.stat().st_size - PART}]
    fresh = owner_client.post(
        upload["parts_url"], {"numbers": [1]}, content_type="application/json"
    ).json()["parts"]
    assert [p["number"] for p in fresh] == [1] and fresh[0]["end"] == PART
    _put(fresh, path.read_bytes())
    assert owner_client.post(upload["complete_url"]).status_code == 202  # a worker verifies
    bad = owner_client.post(upload["parts_url"], {"numbers": [3]}, content_type="application/json")
    assert bad.status_code == 409  # completed: no more parts


def test_another_tenants_upload_is_404(client, owner_client, bucket, data_dir, other_creator):
    upload = _start(owner_client, data_dir / LECTURE).json()
    client.force_login(other_creator.owner)
    base = f"/api/v1/uploads/{upload['id']}/"
    assert client.get(base).status_code == 404
    assert client.post(base + "parts/", {"numbers": [1]}).status_code == 404
    assert client.post(base + "complete/").status_code == 404
    assert client.delete(base).status_code == 404
    assert DirectUpload.objects.get(pk=upload["id"]).status == "pending"


def test_delete_aborts_the_multipart_upload(owner_client, bucket, data_dir, moto_endpoint):
    upload = _start(owner_client, data_dir / LECTURE).json()
    assert len(_multipart_uploads(moto_endpoint, bucket)) == 1
    assert owner_client.delete(f"/api/v1/uploads/{upload['id']}/").status_code == 204
    assert DirectUpload.objects.get(pk=upload["id"]).status == "aborted"
    assert _multipart_uploads(moto_endpoint, bucket) == []


def test_scheduled_task_aborts_abandoned_uploads_and_orphans(
    owner_client, bucket, data_dir, moto_endpoint, settings
):
    from django_q.models import Schedule

    from videos.tasks import abort_abandoned_uploads

    assert Schedule.objects.filter(func="videos.tasks.abort_abandoned_uploads").exists()
    old = _start(owner_client, data_dir / LECTURE).json()
    fresh = _start(owner_client, data_dir / LECTURE).json()
    DirectUpload.objects.filter(pk=old["id"]).update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    # An orphan: a multipart upload no row knows (e.g. a crash after S3 answered).
    s3_client(moto_endpoint).create_multipart_upload(Bucket=bucket, Key="acme/videos/999.mp4")
    settings.CHRONOS_UPLOAD_ABANDON_HOURS = 0  # the orphan was made just now
    DirectUpload.objects.filter(pk=fresh["id"]).update(created_at=timezone.now() + timedelta(1))
    assert abort_abandoned_uploads() == {"rows": 1, "orphans": 1}
    assert DirectUpload.objects.get(pk=old["id"]).status == "aborted"
    assert DirectUpload.objects.get(pk=fresh["id"]).status == "pending"
    left = _multipart_uploads(moto_endpoint, bucket)
    assert [u["UploadId"] for u in left] == [DirectUpload.objects.get(pk=fresh["id"]).upload_id]
