"""Upload limits (videos, storage, one file) at every entry point: the service, the browser
form, the REST API and `manage.py ingest`; and two parallel uploads racing for the last
slot, on two real threads with their own database connections."""

from __future__ import annotations

import dataclasses
import io
import threading
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from billing import limits
from chronos.errors import LimitExceeded
from tests.factories import CreatorFactory
from videos.models import Video
from videos.services import video_create

AUDIO = "jfk.flac"  # 11 s of real speech, ~350 KB (tests/data/SOURCES.md)


def stored(media_root: Path) -> list[Path]:
    root = Path(media_root)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def fill_library(creator, n: int, *, size: int = 1000, status: str = Video.Status.COMPLETED):
    """Rows standing for videos already in the library (their media is not needed)."""
    for i in range(n):
        Video.objects.create(creator=creator, title=f"Old {i}", size_bytes=size, status=status)


def upload(creator, path: Path):
    with open(path, "rb") as fh:
        return video_create(creator=creator, file=fh, filename=path.name, enqueue=False)


@pytest.mark.django_db
def test_sixth_free_video_is_refused_naming_limit_usage_upgrade(creator, data_dir, _media_root):
    fill_library(creator, 4, status=Video.Status.FAILED)  # failed videos count until deleted
    upload(creator, data_dir / AUDIO)  # the fifth fits
    with pytest.raises(LimitExceeded) as caught:
        upload(creator, data_dir / AUDIO)
    err = caught.value
    assert err.status == 403 and err.code == "limit_exceeded"
    assert err.extra["limit"] == "videos" and err.extra["used"] == 5 and err.extra["allowed"] == 5
    assert "5 of the 5 videos" in err.message and "or upgrade to Basic for 50." in err.message
    assert Video.objects.filter(creator=creator).count() == 5
    assert len(stored(_media_root)) == 1  # the refused upload stored nothing
    # Deleting a failed video frees its slot.
    Video.objects.filter(creator=creator, status=Video.Status.FAILED).first().delete()
    upload(creator, data_dir / AUDIO)


@pytest.mark.django_db
def test_storage_and_file_size_limits(creator, data_dir, monkeypatch, _media_root):
    fill_library(creator, 1, size=limits.GB - 1000)  # 1 KB short of the free tier's 1 GB
    with pytest.raises(LimitExceeded) as caught:
        upload(creator, data_dir / AUDIO)
    assert caught.value.extra["limit"] == "storage_bytes"
    assert "past the 1 GB of storage" in caught.value.message
    small = dataclasses.replace(limits.limits_for("free"), file_bytes=100_000)
    monkeypatch.setitem(limits.TIER_LIMITS, "free", small)
    with pytest.raises(LimitExceeded) as caught:
        upload(creator, data_dir / AUDIO)
    assert caught.value.extra["limit"] == "file_bytes" and "accepts files up to 100 KB" in str(
        caught.value
    )
    assert stored(_media_root) == []


@pytest.mark.django_db
def test_downgrade_keeps_videos_and_refuses_only_new_uploads(creator, data_dir):
    creator.tier = "basic"
    creator.save()
    fill_library(creator, 7)
    creator.tier = "free"
    creator.save()
    assert Video.objects.filter(creator=creator).count() == 7  # nothing deleted
    with pytest.raises(LimitExceeded):
        upload(creator, data_dir / AUDIO)


@pytest.mark.django_db
def test_browser_form_shows_the_limit(owner_client, creator, data_dir):
    fill_library(creator, 5)
    url = reverse("videos:upload", kwargs={"handle": creator.handle})
    with open(data_dir / AUDIO, "rb") as fh:
        response = owner_client.post(url, {"file": fh, "title": "One more"})
    assert response.status_code == 400
    assert "5 of the 5 videos" in response.content.decode()
    assert Video.objects.filter(creator=creator).count() == 5


@pytest.mark.django_db
def test_rest_api_answers_403_limit_exceeded(owner_client, creator, data_dir):
    fill_library(creator, 5)
    with open(data_dir / AUDIO, "rb") as fh:
        response = owner_client.post(reverse("api-videos"), {"file": fh})
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "limit_exceeded" and body["limit"] == "videos"
    assert body["used"] == 5 and body["allowed"] == 5 and "upgrade to Basic" in body["error"]


@pytest.mark.django_db
def test_ingest_cli_refuses_with_the_message(creator, data_dir):
    fill_library(creator, 5)
    with pytest.raises(CommandError, match="5 of the 5 videos"):
        call_command("ingest", str(data_dir / AUDIO), "--creator", creator.handle)
    assert Video.objects.filter(creator=creator).count() == 5


class _GatedUpload(io.BytesIO):
    """An upload stream whose first read waits until both uploads have passed the early
    check, so the two really race for the slot at row creation."""

    def __init__(self, data: bytes, barrier: threading.Barrier, name: str):
        super().__init__(data)
        self.name = name
        self._barrier = barrier
        self._waited = False

    def read(self, *args):
        if not self._waited:
            self._waited = True
            self._barrier.wait(timeout=30)
        return super().read(*args)


@pytest.mark.django_db(transaction=True)
def test_two_parallel_uploads_race_for_the_last_slot(data_dir):
    creator = CreatorFactory(handle="racer")
    fill_library(creator, 4)  # one slot left on free
    data = (data_dir / AUDIO).read_bytes()
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def run(i: int) -> None:
        try:
            video = video_create(
                creator=creator,
                file=_GatedUpload(data, barrier, f"race-{i}.flac"),
                filename=f"race-{i}.flac",
                enqueue=False,
            )
            outcomes.append(video.pk)
        except LimitExceeded as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    wins = [o for o in outcomes if isinstance(o, int)]
    losses = [o for o in outcomes if isinstance(o, LimitExceeded)]
    assert len(wins) == 1 and len(losses) == 1, outcomes
    assert losses[0].extra["limit"] == "videos"
    assert Video.objects.filter(creator=creator).count() == 5
