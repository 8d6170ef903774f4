"""Stuck work (issue 13): stages heartbeat from a pulse thread; a stage silent for 3 beats
is stale (re-queued by the minutely sweeper, retry allowed, "worker restarted, resuming");
a real `manage.py worker` (django-q2 cluster) busy transcribing hands its video back and exits on
SIGTERM instead of finishing an hour of work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection
from django.utils import timezone

from tests.pipeline_support import FARADAY_MP4, FARADAY_VTT, create
from tests.waiting import wait_for
from videos.models import Video
from videos.pipeline import (
    HEARTBEAT_EVERY,
    RESUMED_NOTE,
    STALE_AFTER,
    Heartbeat,
    WorkerStopping,
    is_stuck,
    sweep_stuck,
    worker_stop_request,
)
from videos.services import video_retry, video_status_payload

ROOT = Path(__file__).resolve().parent.parent


def _transcribing(video: Video, *, beat_age: float) -> None:
    at = timezone.now() - timedelta(seconds=beat_age)
    Video.objects.filter(pk=video.pk).update(
        status=Video.Status.TRANSCRIBING,
        stage="transcribe",
        transcribing_started_at=at,
        stage_heartbeat_at=at,
        attempts=1,
    )
    video.refresh_from_db()


@pytest.mark.django_db
def test_three_missed_beats_make_a_stage_stale_and_the_sweeper_resumes_it(
    creator, data_dir, django_capture_on_commit_callbacks
):
    video = create(creator, data_dir / FARADAY_MP4, captions=data_dir / FARADAY_VTT)
    assert STALE_AFTER == 3 * HEARTBEAT_EVERY
    _transcribing(video, beat_age=2 * HEARTBEAT_EVERY)  # two missed beats: alive
    assert not is_stuck(video)
    assert sweep_stuck() == {"requeued": 0, "failed": 0}
    _transcribing(video, beat_age=STALE_AFTER + 1)
    assert is_stuck(video)
    # the sweeper hands it to attempt 2; until a worker takes it, the creator reads why
    assert sweep_stuck() == {"requeued": 1, "failed": 0}
    video.refresh_from_db()
    assert (video.status, video.stage, video.attempts) == (Video.Status.PENDING, "transcribe", 2)
    payload = video_status_payload(video)
    assert payload["stage"] == f"Transcribing — {RESUMED_NOTE}"
    assert payload["is_processing"] and payload["progress"] == 10
    assert not is_stuck(video)  # waiting behind other jobs is not stuck


@pytest.mark.django_db
def test_retry_is_allowed_on_a_stale_stage_and_clears_the_note(
    creator, data_dir, django_capture_on_commit_callbacks
):
    video = create(creator, data_dir / FARADAY_MP4, captions=data_dir / FARADAY_VTT)
    _transcribing(video, beat_age=STALE_AFTER + 1)
    Video.objects.filter(pk=video.pk).update(resumed_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        video_retry(video=video)
    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED, video.error
    assert video.resumed_at is None and video.attempts == 2


@pytest.mark.django_db(transaction=True)
def test_the_pulse_thread_beats_while_the_stage_is_silent(creator, data_dir):
    video = create(creator, data_dir / FARADAY_MP4)
    old = timezone.now() - timedelta(hours=1)
    Video.objects.filter(pk=video.pk).update(
        status=Video.Status.TRANSCRIBING, stage="transcribe", stage_heartbeat_at=old
    )
    video.refresh_from_db()

    def beat_at():
        return Video.objects.values_list("stage_heartbeat_at", flat=True).get(pk=video.pk)

    with Heartbeat(video, every=0.05):  # the stage itself never calls beat()
        wait_for(lambda: beat_at() > old, "a pulse", limit=60)
    video.refresh_from_db()
    assert not is_stuck(video)
    # a superseded run's pulse writes nothing
    Video.objects.filter(pk=video.pk).update(attempts=7, stage_heartbeat_at=old)
    with Heartbeat(video, every=0.05):
        time.sleep(0.3)  # six pulse periods
    assert beat_at() == old


@pytest.mark.django_db
def test_a_stop_lost_in_native_code_still_stops_the_stage_at_its_next_beat(creator, data_dir):
    """SIGTERM's WorkerStopping can be swallowed when it lands inside PyAV's Cython decoding
    (seen: about 1 signal in 15); the recorded stop makes the stage's next beat raise it."""
    from videos.pipeline import state

    video = create(creator, data_dir / FARADAY_MP4, captions=data_dir / FARADAY_VTT)
    beat = Heartbeat(video)
    beat.beat(0.1)  # not stopping: a normal beat
    try:
        worker_stop_request()
        with pytest.raises(WorkerStopping):
            beat.beat(0.2)
    finally:
        state._stop_requested.clear()


def _test_database_url() -> str:
    """The URL of this test session's database (pytest-django's test_* database on the
    embedded server), for a worker process of our own."""
    base = os.environ.get("DATABASE_URL") or os.environ["CHRONOS_EMBEDDED_DB_URL"]
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_busy_worker_hands_its_video_back_and_exits_on_sigterm(
    creator, data_dir, settings, tmp_path
):
    """A real `manage.py worker` (django-q2 cluster, 1 worker) transcribes a 26-minute
    lecture with local speech recognition; SIGTERM to its leader (what `make run`'s Ctrl-C
    and process managers send) makes the busy worker re-queue the video as a new attempt and
    every process of the cluster exit, long before the transcription would have ended."""
    from django_q.models import OrmQ
    from django_q.tasks import async_task

    video = create(creator, data_dir / "faraday-candle-2.mp4")
    Video.objects.filter(pk=video.pk).update(attempts=1)
    # queued to the database broker (the test settings run tasks in-process otherwise)
    async_task("videos.tasks.run_stage_task", video.pk, "probe", 1, sync=False)
    env = {k: v for k, v in os.environ.items() if k != "CHRONOS_EMBEDDED_DB_CLEANUP"}
    env.update(
        DATABASE_URL=_test_database_url(),
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        CHRONOS_Q_SYNC="0",
        CHRONOS_Q_WORKERS="1",
        CHRONOS_TRANSCRIBER="local",
        CHRONOS_EMBEDDER="none",
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def transcribing():
            video.refresh_from_db()
            return video.status == Video.Status.TRANSCRIBING and video.stage_progress > 0

        wait_for(transcribing, "the worker to transcribe")
        sent = time.monotonic()
        worker.send_signal(signal.SIGTERM)  # the leader only, as a process manager does
        wait_for(lambda: worker.poll() is not None, "the cluster to exit", limit=120)
        print(f"worker exited {time.monotonic() - sent:.1f} s after SIGTERM")

        def group_gone():
            try:
                os.killpg(worker.pid, 0)
            except ProcessLookupError:
                return True
            return False

        wait_for(group_gone, "the worker processes to exit", limit=120)
    finally:
        print(log.read_text()[-5000:])  # shown when the test fails
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    video.refresh_from_db()
    assert (video.status, video.stage, video.attempts) == (Video.Status.PENDING, "transcribe", 2)
    assert video.resumed_at is not None and video.error == ""
    assert video_status_payload(video)["stage"] == f"Transcribing — {RESUMED_NOTE}"
    queued = [t.task["args"] for t in OrmQ.objects.all()]
    assert [tuple(a) for a in queued].count((video.pk, "transcribe", 2)) == 1
