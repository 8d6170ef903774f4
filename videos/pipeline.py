"""The processing stages: probe -> transcribe -> chunk -> embed -> completed | failed.

Each stage is idempotent (re-running replaces what it made) and is given the video's
`attempts` number when queued: a stage whose attempt is no longer current (the sweeper or a
retry started a new run) stops without writing. Every stage records its started/ended time,
keeps `stage_heartbeat_at` fresh while it works, and either queues the next stage or marks
the video failed with a message the creator can act on. videos.tasks wraps these for
django-q2; the ingest CLI calls them in-process.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from videos.models import SegmentWindow, TranscriptSegment, Video, VideoChunk

logger = logging.getLogger(__name__)

STAGES = ("probe", "transcribe", "chunk", "embed")
NEXT_STAGE = {"probe": "transcribe", "transcribe": "chunk", "chunk": "embed", "embed": None}
STAGE_STATUS = {
    "probe": Video.Status.PENDING,
    "transcribe": Video.Status.TRANSCRIBING,
    "chunk": Video.Status.CHUNKING,
    "embed": Video.Status.EMBEDDING,
}
STAGE_LABEL = {
    "probe": "reading the file",
    "transcribe": "transcription",
    "chunk": "chunking",
    "embed": "embedding",
}
# django-q2 task timeouts per stage, seconds. Each stays below Q_CLUSTER["retry"] so the
# broker never re-delivers a task that is still running. Transcription is the long one
# (local ASR of an hour runs ~25 min on one core).
STAGE_TIMEOUTS = {"probe": 600, "transcribe": 3600, "chunk": 600, "embed": 1800}
# A stage whose heartbeat is older than this is stuck (its worker died or hung). Stages
# heartbeat at least every HEARTBEAT_EVERY seconds while working; the slowest silent step is
# one provider call (timeout 120 s x 4 tries + 7 s backoff).
HEARTBEAT_EVERY = 5.0
STALE_AFTER = {"probe": 900, "transcribe": 1200, "chunk": 900, "embed": 1200}
# Queued but never picked up (workers busy with long jobs is normal; hours is not).
PENDING_STALE_AFTER = 2 * 3600
# The sweeper re-queues a stuck video until it has been attempted this many times; then it
# fails it with a message.
MAX_ATTEMPTS = 3


class StaleRun(Exception):
    """This task's run was superseded (retry/sweeper started a newer attempt)."""


# ------------------------------------------------------------------ helpers -------------


def _now():
    return timezone.now()


def _lock(video_id: int, attempt: int | None) -> Video:
    """The video row locked for update; StaleRun if `attempt` is not the current one or the
    video already finished/failed."""
    video = Video.objects.select_for_update().select_related("creator").get(pk=video_id)
    if attempt is not None and video.attempts != attempt:
        raise StaleRun()
    if video.status in (Video.Status.FAILED, Video.Status.COMPLETED):
        raise StaleRun()
    return video


class Heartbeat:
    """Throttled progress writer: `beat(fraction)` updates stage_progress and
    stage_heartbeat_at at most every HEARTBEAT_EVERY seconds (plus the final 1.0). Also
    raises StaleRun when the run was superseded, so long stages stop early."""

    def __init__(self, video: Video, *, on_progress: Callable[[float], None] | None = None):
        self.video_id = video.pk
        self.attempt = video.attempts
        self.on_progress = on_progress
        self._last = 0.0

    def beat(self, fraction: float, *, force: bool = False) -> None:
        if self.on_progress:
            self.on_progress(fraction)
        now = time.monotonic()
        if not force and now - self._last < HEARTBEAT_EVERY and fraction < 1.0:
            return
        self._last = now
        updated = Video.objects.filter(pk=self.video_id, attempts=self.attempt).update(
            stage_progress=max(0.0, min(1.0, fraction)), stage_heartbeat_at=_now()
        )
        if not updated:
            raise StaleRun()


@contextlib.contextmanager
def local_file(field) -> Iterator[Path]:
    """A local filesystem path for a stored FileField: the file itself on local storage,
    else a temporary copy (streamed in 1 MB blocks) removed afterwards."""
    try:
        yield Path(field.path)
        return
    except NotImplementedError:
        pass
    suffix = Path(field.name).suffix
    fd, tmp = tempfile.mkstemp(prefix="chronos-", suffix=suffix)
    try:
        with open(fd, "wb") as out, field.open("rb") as src:
            for block in iter(lambda: src.read(1 << 20), b""):
                out.write(block)
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _start_stage(video_id: int, stage: str, attempt: int | None) -> Video:
    with transaction.atomic():
        video = _lock(video_id, attempt)
        now = _now()
        video.status = STAGE_STATUS[stage]
        video.stage = stage
        video.stage_progress = 0.0
        video.stage_heartbeat_at = now
        fields = ["status", "stage", "stage_progress", "stage_heartbeat_at", "updated_at"]
        started = f"{_field_prefix(stage)}_started_at"
        ended = f"{_field_prefix(stage)}_ended_at"
        setattr(video, started, now)
        setattr(video, ended, None)
        fields += [started, ended]
        video.save(update_fields=fields)
    return video


def _field_prefix(stage: str) -> str:
    return {
        "probe": "probe",
        "transcribe": "transcribing",
        "chunk": "chunking",
        "embed": "embedding",
    }[stage]


def _end_stage_fields(video: Video, stage: str) -> list[str]:
    name = f"{_field_prefix(stage)}_ended_at"
    setattr(video, name, _now())
    video.stage_progress = 1.0
    video.stage_heartbeat_at = _now()
    return [name, "stage_progress", "stage_heartbeat_at", "updated_at"]


def video_cost_update(video: Video) -> Decimal:
    """Set processing_cost_usd to the sum of the video's ledger rows (Decimal USD)."""
    from billing.models import UsageLedgerEntry

    total = UsageLedgerEntry.objects.filter(
        creator_id=video.creator_id, subject=subject_for(video)
    ).aggregate(s=Sum("usd"))["s"] or Decimal(0)
    Video.objects.filter(pk=video.pk).update(processing_cost_usd=total)
    video.processing_cost_usd = total
    return total


def subject_for(video: Video) -> str:
    """The usage-ledger subject naming this video: "video:<id>"."""
    return f"video:{video.pk}"


def fail_video(video_id: int, message: str, *, attempt: int | None = None) -> None:
    """Mark the video failed with `message` (unless a newer attempt has taken over)."""
    qs = Video.objects.filter(pk=video_id)
    if attempt is not None:
        qs = qs.filter(attempts=attempt)
    qs.exclude(status=Video.Status.COMPLETED).update(
        status=Video.Status.FAILED,
        error=message[:2000],
        stage_heartbeat_at=_now(),
        updated_at=_now(),
    )
    video = Video.objects.filter(pk=video_id).first()
    if video is not None:
        video_cost_update(video)


def describe_unexpected(stage: str, exc: BaseException) -> str:
    return (
        f"Processing failed unexpectedly during {STAGE_LABEL[stage]} "
        f"({type(exc).__name__}). Retry; if it fails again, contact support."
    )


# ------------------------------------------------------------------ runner --------------


def run_stage(
    video_id: int,
    stage: str,
    attempt: int | None,
    *,
    on_progress: Callable[[float], None] | None = None,
) -> str | None:
    """Run one stage. Returns the next stage name to queue, or None (finished, failed or
    stale). Never raises for expected failures: the video is marked failed instead."""
    from videos.captions import CaptionError
    from videos.media import MediaError
    from videos.providers import PipelineError, describe_provider_error

    try:
        video = _start_stage(video_id, stage, attempt)
    except (StaleRun, Video.DoesNotExist):
        logger.info("video %s: stage %s skipped (stale or gone)", video_id, stage)
        return None
    beat = Heartbeat(video, on_progress=on_progress)
    try:
        STAGE_FUNCS[stage](video, beat)
    except (StaleRun, Video.DoesNotExist):
        logger.info("video %s: stage %s superseded", video_id, stage)
        return None
    except (MediaError, CaptionError, PipelineError, ImproperlyConfigured) as exc:
        fail_video(video_id, str(exc), attempt=video.attempts)
        return None
    except Exception as exc:
        message = _provider_message(exc, stage, describe_provider_error)
        if message is None:
            logger.exception("video %s: stage %s crashed", video_id, stage)
            message = describe_unexpected(stage, exc)
        fail_video(video_id, message, attempt=video.attempts)
        return None
    if on_progress:
        on_progress(1.0)
    return NEXT_STAGE[stage]


def _provider_message(exc, stage, describe) -> str | None:
    try:
        import openai
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, openai.OpenAIError):
        service = "OpenAI Whisper" if stage == "transcribe" else "OpenAI embeddings"
        logger.warning("video stage %s: provider error %s", stage, type(exc).__name__)
        return describe(exc, service=service)
    return None


def run_all(
    video_id: int,
    *,
    start: str = "probe",
    on_stage: Callable[[str], None] | None = None,
    on_progress: Callable[[str, float], None] | None = None,
) -> Video:
    """Run the stages from `start` in this process (no worker), one after another, for the
    video's current attempt. Returns the refreshed video (completed or failed)."""
    attempt = Video.objects.values_list("attempts", flat=True).get(pk=video_id)
    stage: str | None = start
    while stage:
        if on_stage:
            on_stage(stage)
        cb = (lambda f, s=stage: on_progress(s, f)) if on_progress else None
        stage = run_stage(video_id, stage, attempt, on_progress=cb)
    return Video.objects.get(pk=video_id)


# ------------------------------------------------------------------ stages --------------


def stage_probe(video: Video, beat: Heartbeat) -> None:
    """Duration, kind and container from the stored file; a JPEG thumbnail for videos."""
    from videos.media import probe, thumbnail_jpeg

    if not video.file:
        from videos.providers import PipelineError

        raise PipelineError("The uploaded file is missing from storage. Upload it again.")
    with local_file(video.file) as path:
        info = probe(path, filename=video.original_filename or path.name)
        beat.beat(0.4)
        thumb = thumbnail_jpeg(path, duration=info.duration) if info.has_video else None
    with transaction.atomic():
        v = _lock(video.pk, video.attempts)
        old_thumb = v.thumbnail.name if v.thumbnail else ""
        v.duration_seconds = info.duration
        v.media_kind = info.media_kind
        v.container = info.container[:40]
        fields = ["duration_seconds", "media_kind", "container"]
        if thumb:
            if old_thumb:
                v.thumbnail.storage.delete(old_thumb)
            v.thumbnail.save("thumb.jpg", ContentFile(thumb), save=False)
            fields.append("thumbnail")
        fields += _end_stage_fields(v, "probe")
        v.save(update_fields=fields)


def stage_transcribe(video: Video, beat: Heartbeat) -> None:
    """TranscriptSegment rows from the captions, Whisper or local ASR (replacing any)."""
    from videos.captions import parse_captions
    from videos.providers import PipelineError
    from videos.transcribers import local_transcribe, transcriber_choice, whisper_transcribe

    language = ""
    if video.captions_file:
        with video.captions_file.open("rb") as fh:
            data = fh.read()
        cues = parse_captions(data, filename=Path(video.captions_file.name).name)
        rows = [(c.start, c.end, c.text, c.speaker) for c in cues]
        source = Video.TranscriptSource.CAPTIONS
    else:
        choice = transcriber_choice()
        workdir = Path(tempfile.mkdtemp(prefix="chronos-audio-"))
        try:
            with local_file(video.file) as media_path:
                wav = workdir / "audio.wav"
                dur = video.duration_seconds
                need_wav = choice == "local" or not _whisper_can_take(media_path)
                if need_wav:
                    from videos.media import extract_audio_wav

                    extract_audio_wav(
                        media_path, wav, duration=dur, progress=lambda f: beat.beat(0.2 * f)
                    )
                if choice == "whisper":
                    segs, language, _ = whisper_transcribe(
                        media_path,
                        wav_path=wav if need_wav else None,
                        creator=video.creator,
                        subject=subject_for(video),
                        progress=lambda f: beat.beat(0.2 + 0.8 * f),
                        workdir=workdir,
                    )
                    source = Video.TranscriptSource.WHISPER
                else:
                    segs = local_transcribe(wav, progress=lambda f: beat.beat(0.2 + 0.8 * f))
                    language = "en"
                    source = Video.TranscriptSource.LOCAL
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        rows = [(s.start, s.end, s.text, s.speaker) for s in segs]
    if not rows:
        raise PipelineError(
            "We could not find any speech in this file. If it has speech, upload captions "
            "(.vtt or .srt) with it and retry."
        )
    with transaction.atomic():
        v = _lock(video.pk, video.attempts)
        TranscriptSegment.objects.filter(video=v).delete()
        TranscriptSegment.objects.bulk_create(
            [
                TranscriptSegment(
                    creator_id=v.creator_id,
                    video=v,
                    index=i,
                    start=float(start),
                    end=float(end),
                    text=text,
                    speaker=speaker or "",
                )
                for i, (start, end, text, speaker) in enumerate(rows)
            ],
            batch_size=1000,
        )
        v.transcript_source = source
        v.language = language or ""
        fields = ["transcript_source", "language", *_end_stage_fields(v, "transcribe")]
        v.save(update_fields=fields)
    video_cost_update(video)


def _whisper_can_take(path: Path) -> bool:
    from videos.transcribers import WHISPER_EXTENSIONS, WHISPER_MAX_BYTES

    ext = path.suffix.lower().lstrip(".")
    return path.stat().st_size <= WHISPER_MAX_BYTES and ext in WHISPER_EXTENSIONS


def stage_chunk(video: Video, beat: Heartbeat) -> None:
    """VideoChunk + SegmentWindow rows from the segments (replacing any)."""
    from videos.providers import PipelineError

    segments = list(TranscriptSegment.objects.filter(video=video).order_by("index"))
    if not segments:
        raise PipelineError("The transcript is empty, so there is nothing to index. Retry.")
    with transaction.atomic():
        v = _lock(video.pk, video.attempts)
        chunks_replace(video=v, segments=segments)
        v.save(update_fields=_end_stage_fields(v, "chunk"))


def chunks_replace(*, video: Video, segments: list[TranscriptSegment]) -> list[VideoChunk]:
    """Replace `video`'s chunks and windows with those cut from `segments` (ordered by
    index): videos.chunking rules, windows of 3 segments inside each chunk. Postings and
    lexeme frequencies follow by trigger. Call inside a transaction. Returns the chunks."""
    from videos.chunking import chunk_segments, windows_for_chunks

    specs = chunk_segments(segments)
    SegmentWindow.objects.filter(video=video).delete()
    VideoChunk.objects.filter(video=video).delete()
    chunks = VideoChunk.objects.bulk_create(
        [
            VideoChunk(
                creator_id=video.creator_id,
                video=video,
                chunk_index=i,
                text=c.text,
                start=c.start,
                end=c.end,
                word_count=c.word_count,
                first_segment_index=c.first_segment_index,
                last_segment_index=c.last_segment_index,
            )
            for i, c in enumerate(specs)
        ]
    )
    SegmentWindow.objects.bulk_create(
        [
            SegmentWindow(
                creator_id=video.creator_id,
                video=video,
                chunk=chunks[w.chunk_position],
                first_segment_index=w.first_segment_index,
                last_segment_index=w.last_segment_index,
                start=w.start,
                end=w.end,
                text=w.text,
            )
            for w in windows_for_chunks(segments, specs)
        ],
        batch_size=1000,
    )
    return chunks


def stage_embed(video: Video, beat: Heartbeat) -> None:
    """Embed chunk and window texts with the active embedder (skipped when none), then mark
    the video completed and total its cost."""
    from videos.embedders import get_embedder

    embedder = get_embedder()
    if embedder is not None:
        embed_video(video, embedder, progress=beat.beat)
    with transaction.atomic():
        v = _lock(video.pk, video.attempts)
        v.status = Video.Status.COMPLETED
        v.stage = "done"
        v.error = ""
        fields = ["status", "stage", "error", *_end_stage_fields(v, "embed")]
        v.save(update_fields=fields)
    video_cost_update(video)
    from videos.signals import library_changed

    library_changed.send(sender=Video, creator_id=video.creator_id)


# Texts per embedding call made by embed_video (the embedder batches further by tokens).
EMBED_GROUP = 500


def embed_video(video: Video, embedder, *, progress: Callable[[float], None] | None = None) -> int:
    """Embed every chunk and window of `video` whose embedding_model differs from
    `embedder.model_name` (all of them after re-chunking). Returns the number of texts
    embedded. Used by the embed stage and `manage.py reembed`."""
    chunks = list(
        VideoChunk.objects.filter(video=video)
        .exclude(embedding_model=embedder.model_name, embedding__isnull=False)
        .only("id", "text")
    )
    windows = list(
        SegmentWindow.objects.filter(video=video)
        .exclude(embedding_model=embedder.model_name, embedding__isnull=False)
        .only("id", "text")
    )
    items: list = [*chunks, *windows]
    total = len(items)
    done = 0
    for i in range(0, total, EMBED_GROUP):
        group = items[i : i + EMBED_GROUP]
        vectors = embedder.embed(
            [it.text for it in group], creator=video.creator, subject=subject_for(video)
        )
        for it, vec in zip(group, vectors, strict=True):
            it.embedding = vec
            it.embedding_model = embedder.model_name
        with transaction.atomic():
            c_items = [it for it in group if isinstance(it, VideoChunk)]
            w_items = [it for it in group if isinstance(it, SegmentWindow)]
            if c_items:
                VideoChunk.objects.bulk_update(c_items, ["embedding", "embedding_model"])
            if w_items:
                SegmentWindow.objects.bulk_update(w_items, ["embedding", "embedding_model"])
        done += len(group)
        if progress:
            progress(done / total)
    return total


STAGE_FUNCS = {
    "probe": stage_probe,
    "transcribe": stage_transcribe,
    "chunk": stage_chunk,
    "embed": stage_embed,
}


# ------------------------------------------------------------------ sweeper -------------


def is_stuck(video: Video, *, now=None) -> bool:
    """True when a processing video has not shown life for longer than its stage allows
    (STALE_AFTER / PENDING_STALE_AFTER seconds since stage_heartbeat_at, or longer than the
    stage's task timeout since it started)."""
    if not video.is_processing:
        return False
    now = now or _now()
    beat = video.stage_heartbeat_at or video.updated_at or video.created_at
    stage = video.stage if video.stage in STAGES else "probe"
    started = getattr(video, f"{_field_prefix(stage)}_started_at", None)
    if video.status == Video.Status.PENDING and started is None:
        # Queued, not yet picked up: workers busy with long jobs is normal; hours is not.
        return now - beat > timedelta(seconds=PENDING_STALE_AFTER)
    if now - beat > timedelta(seconds=STALE_AFTER[stage]):
        return True
    return bool(started and now - started > timedelta(seconds=STAGE_TIMEOUTS[stage] + 300))


def sweep_stuck(*, now=None) -> dict[str, int]:
    """Find processing videos that are stuck; re-queue each from its current stage (a new
    attempt) while attempts < MAX_ATTEMPTS, else fail it with a message. Returns
    {"requeued": n, "failed": m}."""
    from videos.tasks import enqueue_stage

    now = now or _now()
    counts = {"requeued": 0, "failed": 0}
    for video in Video.objects.filter(status__in=Video.ACTIVE_STATUSES).iterator():
        if not is_stuck(video, now=now):
            continue
        stage = video.stage if video.stage in STAGES else "probe"
        with transaction.atomic():
            v = Video.objects.select_for_update().get(pk=video.pk)
            if not is_stuck(v, now=now):
                continue
            if v.attempts >= MAX_ATTEMPTS:
                v.status = Video.Status.FAILED
                v.error = (
                    f"Processing stopped responding during {STAGE_LABEL[stage]} and was "
                    f"tried {v.attempts} times. Retry; if it happens again, the file may be "
                    "too long to process — contact support."
                )
                v.save(update_fields=["status", "error", "updated_at"])
                counts["failed"] += 1
                logger.warning("sweeper: video %s failed after %s attempts", v.pk, v.attempts)
                continue
            v.attempts += 1
            v.stage_heartbeat_at = now
            v.save(update_fields=["attempts", "stage_heartbeat_at", "updated_at"])
            attempt = v.attempts
            transaction.on_commit(lambda pk=v.pk, s=stage, a=attempt: enqueue_stage(pk, s, a))
            counts["requeued"] += 1
            logger.warning("sweeper: video %s re-queued at %s (attempt %s)", v.pk, stage, attempt)
    return counts


def mark_queued(video: Video, stage: str) -> list[str]:
    """Set `video` up to run `stage` next (not started yet); returns the changed fields."""
    prefix = _field_prefix(stage)
    video.stage = stage
    setattr(video, f"{prefix}_started_at", None)
    setattr(video, f"{prefix}_ended_at", None)
    return ["stage", f"{prefix}_started_at", f"{prefix}_ended_at"]


def resume_stage(video: Video) -> str:
    """The stage a retry should start from: the failed stage when its inputs exist
    (segments for chunk/embed), else probe."""
    stage = video.stage if video.stage in STAGES else "probe"
    if stage in ("chunk", "embed") and not TranscriptSegment.objects.filter(video=video).exists():
        return "transcribe" if video.duration_seconds else "probe"
    if stage == "embed" and not VideoChunk.objects.filter(video=video).exists():
        return "chunk"
    if stage == "transcribe" and video.duration_seconds is None:
        return "probe"
    return stage
