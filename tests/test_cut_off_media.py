"""Media verified by decoding (issue 13): a cut-off MP4 (the first 64 KB, the first half)
fails with "this file is cut off at m:ss of m:ss — re-export or re-upload" instead of
completing with the container's duration; the creator may choose to process the readable
part; a whole file's duration is what decodes."""

from __future__ import annotations

from pathlib import Path

import pytest

from chronos.errors import DomainError
from tests.pipeline_support import FARADAY_MP4, FARADAY_VTT, create, process
from videos.media import is_cut_off, readable_duration
from videos.models import TranscriptSegment, Video
from videos.services import video_retry

pytestmark = pytest.mark.django_db


def _head(src: Path, dest: Path, size: int) -> Path:
    dest.write_bytes(src.read_bytes()[:size])
    return dest


@pytest.fixture
def half(data_dir, tmp_path) -> Path:
    src = data_dir / FARADAY_MP4
    return _head(src, tmp_path / "lecture-half.mp4", src.stat().st_size // 2)


def test_readable_duration_is_what_decodes(data_dir, tmp_path, half):
    whole = data_dir / FARADAY_MP4
    assert readable_duration(whole) == pytest.approx(188.0, abs=0.1)  # its video track
    assert readable_duration(data_dir / "jfk.flac") == pytest.approx(11.0, abs=0.1)
    assert not is_cut_off(readable_duration(whole), 188.0)
    cut = readable_duration(half)
    assert 60 < cut < 80 and is_cut_off(cut, 188.0)


@pytest.mark.parametrize(
    ("size", "message"),
    [
        (64 * 1024, "this file is cut off at 0:09 of 3:08 — re-export or re-upload"),
        (None, "this file is cut off at 1:09 of 3:08 — re-export or re-upload"),
    ],
)
def test_a_cut_off_upload_fails_with_where_it_stops(creator, data_dir, tmp_path, size, message):
    src = data_dir / FARADAY_MP4
    path = _head(src, tmp_path / "lecture.mp4", size or src.stat().st_size // 2)
    video = process(create(creator, path, captions=data_dir / FARADAY_VTT))
    assert video.status == Video.Status.FAILED
    assert message in video.error and video.error.startswith("lecture.mp4: ")
    assert video.readable_seconds is not None and video.readable_seconds < 70
    assert not TranscriptSegment.objects.filter(video=video).exists()


def test_the_creator_may_process_the_readable_part(
    creator, data_dir, half, django_capture_on_commit_callbacks
):
    video = process(create(creator, half, captions=data_dir / FARADAY_VTT))
    assert video.status == Video.Status.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        video_retry(video=video, readable_part=True)
    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED, video.error
    assert video.duration_seconds == pytest.approx(video.readable_seconds)
    assert 60 < video.duration_seconds < 80
    segs = list(TranscriptSegment.objects.filter(video=video).order_by("index"))
    assert segs and all(s.start < video.duration_seconds for s in segs)
    assert max(s.end for s in segs) <= video.duration_seconds


def test_readable_part_is_refused_for_a_whole_file(creator, data_dir):
    # A whole lecture with its captions: processed without speech recognition.
    video = process(create(creator, data_dir / FARADAY_MP4, captions=data_dir / FARADAY_VTT))
    assert video.status == Video.Status.COMPLETED, video.error
    video.status = Video.Status.FAILED
    video.save(update_fields=["status"])
    with pytest.raises(DomainError, match="not cut off"):
        video_retry(video=video, readable_part=True)


def test_readable_part_through_the_api_and_the_page(
    creator, owner_client, data_dir, half, django_capture_on_commit_callbacks
):
    video = process(create(creator, half, captions=data_dir / FARADAY_VTT))
    page = owner_client.get(f"/studio/{creator.handle}/videos/{video.pk}/")
    assert "Use the readable part (1:09)" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            f"/api/v1/videos/{video.pk}/retry/",
            {"readable_part": True},
            content_type="application/json",
        )
    assert response.status_code == 202, response.content
    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED, video.error
