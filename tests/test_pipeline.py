"""The pipeline end to end on real media: stages through django-q2 (sync), caption-backed
chunk times, windows, status payload, delete without orphans, retry, stale runs, sweeper."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from chronos.errors import DomainError
from tests.pipeline_support import FARADAY_MP4, FARADAY_VTT, create, process
from videos.models import SegmentWindow, TranscriptSegment, Video, VideoChunk
from videos.pipeline import MAX_ATTEMPTS, SWEEP_EVERY_MINUTES, run_stage, sweep_stuck
from videos.services import video_delete, video_retry, video_status_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def faraday(creator, data_dir, django_capture_on_commit_callbacks):
    """The Faraday excerpt with its exact captions, processed through the django-q2 queue
    (sync mode in tests: each stage task queues the next on success)."""
    with django_capture_on_commit_callbacks(execute=True):
        video = create(
            creator, data_dir / FARADAY_MP4, captions=data_dir / FARADAY_VTT, enqueue=True
        )
    video.refresh_from_db()
    return video


@pytest.mark.s3
def test_caption_backed_video_completes_with_cue_times(faraday, data_dir):
    from django_q.models import Task

    assert faraday.status == Video.Status.COMPLETED, faraday.error
    assert faraday.transcript_source == Video.TranscriptSource.CAPTIONS
    cues = json.loads((data_dir / "faraday-candle-1-excerpt.json").read_text())["cues"]
    segs = list(TranscriptSegment.objects.filter(video=faraday).order_by("index"))
    assert [(s.index, s.start, s.end, s.text) for s in segs] == [
        (c["index"], c["start"], c["end"], c["text"]) for c in cues
    ]
    assert all(s.creator_id == faraday.creator_id for s in segs)
    chunks = list(VideoChunk.objects.filter(video=faraday))
    assert chunks
    for ch in chunks:
        assert ch.start == cues[ch.first_segment_index]["start"]
        assert ch.end == cues[ch.last_segment_index]["end"]
        assert ch.start in {c["start"] for c in cues} and ch.end in {c["end"] for c in cues}
        assert ch.embedding is None and ch.embedding_model == ""  # no embedder configured
    # one window per segment (stride 1), each inside its chunk
    windows = list(SegmentWindow.objects.filter(video=faraday))
    assert len(windows) == len(segs)
    for w in windows:
        assert w.chunk.first_segment_index <= w.first_segment_index
        assert w.last_segment_index <= w.chunk.last_segment_index
        assert w.start == cues[w.first_segment_index]["start"]
    # every stage ran as its own task and recorded its times
    names = set(Task.objects.values_list("name", flat=True))
    assert {
        f"video-{faraday.pk}-{s}-a1" for s in ("probe", "transcribe", "chunk", "embed")
    } <= names
    for stage in ("probe", "transcribing", "chunking", "embedding"):
        started = getattr(faraday, f"{stage}_started_at")
        ended = getattr(faraday, f"{stage}_ended_at")
        assert started and ended and ended >= started
    assert faraday.processing_cost_usd == 0


def test_status_payload(faraday):
    payload = video_status_payload(faraday)
    assert payload["id"] == faraday.pk
    assert payload["status"] == "completed" and payload["progress"] == 100
    assert payload["stage"] == "Ready" and payload["error"] == ""
    assert payload["thumbnail_url"].endswith(f"{faraday.pk}.thumb.jpg")
    faraday.status, faraday.stage_progress = Video.Status.TRANSCRIBING, 0.5
    assert video_status_payload(faraday)["progress"] == 35


def test_rerunning_a_stage_replaces_its_rows(faraday):
    seg_ids = set(TranscriptSegment.objects.filter(video=faraday).values_list("id", flat=True))
    n_chunks = VideoChunk.objects.filter(video=faraday).count()
    n_windows = SegmentWindow.objects.filter(video=faraday).count()
    Video.objects.filter(pk=faraday.pk).update(status=Video.Status.PENDING)
    assert run_stage(video_id=faraday.pk, stage="transcribe", attempt=faraday.attempts) == "chunk"
    assert run_stage(video_id=faraday.pk, stage="chunk", attempt=faraday.attempts) == "embed"
    new_ids = set(TranscriptSegment.objects.filter(video=faraday).values_list("id", flat=True))
    assert len(new_ids) == len(seg_ids) and not (new_ids & seg_ids)
    assert VideoChunk.objects.filter(video=faraday).count() == n_chunks
    assert SegmentWindow.objects.filter(video=faraday).count() == n_windows


@pytest.mark.s3
def test_delete_leaves_no_orphan_file_or_row(faraday, stored, django_capture_on_commit_callbacks):
    assert len(stored()) == 3  # media, captions, thumbnail
    with django_capture_on_commit_callbacks(execute=True):
        video_delete(video=faraday)
    assert stored() == []
    assert not Video.objects.filter(pk=faraday.pk).exists()
    for model in (TranscriptSegment, VideoChunk, SegmentWindow):
        assert model.objects.count() == 0


def test_retry_is_refused_for_completed_and_running_videos(faraday):
    with pytest.raises(DomainError, match="already processed"):
        video_retry(video=faraday)
    Video.objects.filter(pk=faraday.pk).update(
        status=Video.Status.TRANSCRIBING, stage="transcribe", stage_heartbeat_at=timezone.now()
    )
    with pytest.raises(DomainError, match="still processing"):
        video_retry(video=faraday)


@pytest.mark.s3
def test_retry_of_a_failed_video_runs_again(
    creator, data_dir, settings, django_capture_on_commit_callbacks
):
    """Fails at transcription (Whisper chosen but no key), then succeeds on retry once
    captions are attached and the setting fixed."""
    settings.CHRONOS_TRANSCRIBER = "whisper"
    video = process(create(creator, data_dir / FARADAY_MP4))
    assert video.status == Video.Status.FAILED
    assert "OPENAI_API_KEY" in video.error
    settings.CHRONOS_TRANSCRIBER = "auto"
    from django.core.files.base import ContentFile

    video.captions_file.save("c.vtt", ContentFile((data_dir / FARADAY_VTT).read_bytes()))
    with django_capture_on_commit_callbacks(execute=True):
        video_retry(video=video)
    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED and video.error == ""
    assert video.attempts == 2
    assert TranscriptSegment.objects.filter(video=video).count() == 15


def test_a_superseded_run_writes_nothing(faraday):
    Video.objects.filter(pk=faraday.pk).update(status=Video.Status.PENDING, attempts=5)
    before = TranscriptSegment.objects.filter(video=faraday).count()
    # attempt 4 is stale
    assert run_stage(video_id=faraday.pk, stage="transcribe", attempt=4) is None
    faraday.refresh_from_db()
    assert faraday.status == Video.Status.PENDING
    assert TranscriptSegment.objects.filter(video=faraday).count() == before


def test_sweeper_requeues_a_stuck_video_and_it_completes(
    creator, data_dir, django_capture_on_commit_callbacks
):
    video = create(creator, data_dir / FARADAY_MP4, captions=data_dir / FARADAY_VTT)
    two_hours_ago = timezone.now() - timedelta(hours=2)
    Video.objects.filter(pk=video.pk).update(
        status=Video.Status.TRANSCRIBING,
        stage="transcribe",
        transcribing_started_at=two_hours_ago,
        stage_heartbeat_at=two_hours_ago,
        attempts=1,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_stuck() == {"requeued": 1, "failed": 0}
    video.refresh_from_db()
    assert video.attempts == 2
    assert video.status == Video.Status.COMPLETED, video.error
    # a healthy processing video is left alone
    Video.objects.filter(pk=video.pk).update(
        status=Video.Status.CHUNKING, stage="chunk", stage_heartbeat_at=timezone.now()
    )
    assert sweep_stuck() == {"requeued": 0, "failed": 0}


def test_sweeper_fails_a_video_stuck_too_many_times(creator, data_dir):
    video = create(creator, data_dir / "jfk.flac")
    Video.objects.filter(pk=video.pk).update(
        status=Video.Status.EMBEDDING,
        stage="embed",
        stage_heartbeat_at=timezone.now() - timedelta(hours=1),
        attempts=MAX_ATTEMPTS,
    )
    assert sweep_stuck() == {"requeued": 0, "failed": 1}
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED
    assert "stopped responding during embedding" in video.error


def test_sweeper_schedule_exists():
    from django_q.models import Schedule

    sched = Schedule.objects.get(func="videos.tasks.sweep_stuck_videos")
    assert sched.schedule_type == Schedule.MINUTES and sched.minutes == SWEEP_EVERY_MINUTES == 1
    assert sched.repeats == -1


def test_sweeper_requeues_a_long_queued_video_at_its_resume_stage(
    faraday, django_capture_on_commit_callbacks
):
    from videos.pipeline import is_stuck, mark_queued

    fields = mark_queued(faraday, "chunk")
    faraday.status = Video.Status.PENDING
    faraday.stage_heartbeat_at = timezone.now() - timedelta(minutes=30)
    faraday.save(update_fields=[*fields, "status", "stage_heartbeat_at"])
    assert not is_stuck(faraday)  # queued behind other jobs for 30 min is normal
    transcribed_at = faraday.transcribing_started_at
    faraday.stage_heartbeat_at = timezone.now() - timedelta(hours=3)
    faraday.save(update_fields=["stage_heartbeat_at"])
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_stuck()["requeued"] == 1
    faraday.refresh_from_db()
    assert faraday.status == Video.Status.COMPLETED
    assert faraday.transcribing_started_at == transcribed_at  # resumed at chunking
