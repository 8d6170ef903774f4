"""REST /api/v1/videos/: upload (multipart) -> the real pipeline -> list/detail/PATCH/
DELETE/retry/transcript, errors and tenancy, through Django's test client."""

from __future__ import annotations

from pathlib import Path

import pytest
import webvtt
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from creators.models import CreatorMember
from tests.factories import CreatorFactory
from videos.models import SegmentWindow, TranscriptSegment, Video, VideoChunk

MP4 = "faraday-candle-1-excerpt.mp4"
VTT = "faraday-candle-1-excerpt.vtt"


def _post_lecture(client, data_dir: Path, capture, **extra):
    with (
        open(data_dir / MP4, "rb") as media,
        open(data_dir / VTT, "rb") as captions,
        capture(execute=True),
    ):
        return client.post(
            "/api/v1/videos/" + extra.pop("query", ""),
            {"file": media, "captions": captions, **extra},
        )


def _files(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if p.is_file())


@pytest.fixture
def uploaded(owner_client, data_dir, django_capture_on_commit_callbacks) -> dict:
    response = _post_lecture(
        owner_client, data_dir, django_capture_on_commit_callbacks, title="Candle I"
    )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "pending"  # answered before the queue ran
    # The pipeline ran when the transaction committed; read the video as it is now.
    return owner_client.get(f"/api/v1/videos/{response.json()['id']}/").json()


@pytest.mark.s3
def test_upload_runs_the_pipeline_and_returns_the_video(uploaded, creator, data_dir):
    video = Video.objects.get(pk=uploaded["id"])
    assert video.creator == creator
    assert uploaded["title"] == "Candle I"
    assert uploaded["status"] == "completed", uploaded["error"]
    assert uploaded["progress"] == 100
    assert uploaded["transcript_source"] == "captions"
    assert uploaded["size_bytes"] == (data_dir / MP4).stat().st_size
    assert 180 < uploaded["duration_seconds"] < 200
    cues = webvtt.read(str(data_dir / VTT))
    assert uploaded["segment_count"] == len(cues)
    assert uploaded["chunk_count"] == VideoChunk.objects.filter(video=video).count() >= 1
    assert uploaded["stream_url"] == f"http://testserver/media/videos/{video.pk}/file/"
    assert uploaded["thumbnail_url"] == f"http://testserver/media/videos/{video.pk}/thumbnail.jpg"
    for key in ("description", "error", "language", "created_at"):
        assert key in uploaded


def test_upload_sets_location(owner_client, data_dir, django_capture_on_commit_callbacks):
    response = _post_lecture(owner_client, data_dir, django_capture_on_commit_callbacks)
    assert response["Location"] == f"http://testserver/api/v1/videos/{response.json()['id']}/"
    assert response.json()["title"]  # derived from the file name when none is given


@pytest.mark.s3
def test_upload_wrong_type_is_400_with_the_message_and_nothing_saved(
    owner_client, data_dir, stored
):
    fake = SimpleUploadedFile("lecture.mp4", (data_dir / "SOURCES.md").read_bytes())
    response = owner_client.post("/api/v1/videos/", {"file": fake})
    assert response.status_code == 400
    body = response.json()
    assert list(body["fields"]) == ["file"] and body["fields"]["file"][0] == body["error"]
    assert body["code"] == "not_media"
    assert not Video.objects.exists()
    assert stored() == []


def test_upload_bad_captions_and_missing_file_are_400(owner_client, data_dir, _media_root):
    with open(data_dir / MP4, "rb") as media:
        bad = SimpleUploadedFile("x.srt", b"1\nnot a timestamp\nhello\n")
        response = owner_client.post("/api/v1/videos/", {"file": media, "captions": bad})
    assert response.status_code == 400
    assert response.json()["fields"]["captions"][0]

    response = owner_client.post("/api/v1/videos/", {"title": "no file"})
    assert response.status_code == 400
    assert "file" in response.json()["fields"]

    empty = SimpleUploadedFile("empty.mp4", b"")
    response = owner_client.post("/api/v1/videos/", {"file": empty})
    assert response.status_code == 400 and response.json()["fields"]["file"][0]
    assert not Video.objects.exists()
    assert _files(_media_root) == []


def test_list_is_paginated_and_filters_by_status(owner_client, uploaded):
    response = owner_client.get("/api/v1/videos/")
    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 1 and [v["id"] for v in body["results"]] == [uploaded["id"]]
    assert {"next", "previous"} <= set(body)

    assert owner_client.get("/api/v1/videos/?status=completed").json()["count"] == 1
    assert owner_client.get("/api/v1/videos/?status=failed").json()["count"] == 0
    bad = owner_client.get("/api/v1/videos/?status=done")
    assert bad.status_code == 400 and "status" in bad.json()["fields"]


def test_list_counts_do_not_cost_a_query_per_video(
    owner_client,
    creator,
    data_dir,
    django_capture_on_commit_callbacks,
    django_assert_max_num_queries,
):
    for _ in range(3):
        _post_lecture(owner_client, data_dir, django_capture_on_commit_callbacks)
    # session + user + creator + count + page (with its counts) and a little slack; not 3xN.
    with django_assert_max_num_queries(8):
        body = owner_client.get("/api/v1/videos/").json()
    assert body["count"] == 3 and all(v["segment_count"] > 0 for v in body["results"])


def test_detail_patch_and_transcript(owner_client, uploaded, data_dir):
    url = f"/api/v1/videos/{uploaded['id']}/"
    assert owner_client.get(url).json()["id"] == uploaded["id"]

    response = owner_client.patch(
        url, {"title": "Renamed", "description": "About wax."}, content_type="application/json"
    )
    assert response.status_code == 200
    assert (response.json()["title"], response.json()["description"]) == ("Renamed", "About wax.")

    response = owner_client.patch(url, {"title": "   "}, content_type="application/json")
    assert response.status_code == 400 and response.json()["fields"]["title"][0]
    assert Video.objects.get(pk=uploaded["id"]).title == "Renamed"

    transcript = owner_client.get(url + "transcript/").json()
    cues = webvtt.read(str(data_dir / VTT))
    assert transcript["count"] == len(cues) == len(transcript["segments"])
    first, third = transcript["segments"][0], transcript["segments"][2]
    assert first["start"] == pytest.approx(0.0) and third["start"] == pytest.approx(14.485)
    assert first["text"].startswith("I purpose, in return for the honour")


def test_retry(owner_client, uploaded, django_capture_on_commit_callbacks):
    url = f"/api/v1/videos/{uploaded['id']}/retry/"
    response = owner_client.post(url)
    assert response.status_code == 400 and response.json()["error"]

    Video.objects.filter(pk=uploaded["id"]).update(status="failed", error="Worker died.")
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(url)
    assert response.status_code == 202
    video = Video.objects.get(pk=uploaded["id"])
    assert video.status == Video.Status.COMPLETED and video.error == ""
    # Re-running a stage replaces its rows rather than duplicating them.
    assert video.segments.count() == uploaded["segment_count"]


@pytest.mark.s3
def test_delete_leaves_no_row_or_file(
    owner_client, uploaded, stored, django_capture_on_commit_callbacks
):
    assert stored()
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.delete(f"/api/v1/videos/{uploaded['id']}/")
    assert response.status_code == 204
    pk = uploaded["id"]
    assert not Video.objects.filter(pk=pk).exists()
    for model in (TranscriptSegment, VideoChunk, SegmentWindow):
        assert not model.objects.filter(video_id=pk).exists()
    assert stored() == []
    assert owner_client.get(f"/api/v1/videos/{pk}/").status_code == 404


def test_another_tenants_video_is_404_everywhere(client, uploaded, other_creator):
    client.force_login(other_creator.owner)
    base = f"/api/v1/videos/{uploaded['id']}/"
    assert client.get(base).status_code == 404
    assert client.patch(base, {"title": "x"}, content_type="application/json").status_code == 404
    assert client.delete(base).status_code == 404
    assert client.post(base + "retry/").status_code == 404
    assert client.get(base + "transcript/").status_code == 404
    assert client.get("/api/v1/videos/?creator=acme").status_code == 404
    assert client.get("/api/v1/videos/").json()["count"] == 0  # their own, empty library
    assert Video.objects.get(pk=uploaded["id"]).title == "Candle I"


def test_student_cannot_use_the_management_api(uploaded, student):
    student_client = Client()  # not the owner's `client`: a browser of its own
    student_client.force_login(student)
    assert student_client.get(f"/api/v1/videos/{uploaded['id']}/").status_code == 404
    assert student_client.get("/api/v1/videos/").status_code == 404
    assert student_client.delete(f"/api/v1/videos/{uploaded['id']}/").status_code == 404


def test_signed_out_is_401_with_a_challenge(client, creator):
    for response in (client.get("/api/v1/videos/"), client.post("/api/v1/videos/")):
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Basic realm="api"'


def test_creator_parameter_picks_among_several(client, creator, data_dir):
    second = CreatorFactory(handle="second")
    CreatorMember.objects.create(creator=second, user=creator.owner)
    client.force_login(creator.owner)
    response = client.get("/api/v1/videos/")
    assert response.status_code == 404 and "creator" in response.json()["error"]
    assert client.get("/api/v1/videos/?creator=second").status_code == 200
    with open(data_dir / MP4, "rb") as media:
        response = client.post("/api/v1/videos/?creator=second", {"file": media})
    assert response.status_code == 201
    assert Video.objects.get(pk=response.json()["id"]).creator == second
