"""Writes for videos: create (validate + store + queue), update, retry, delete, and the
status payload the library page and API poll.

The processing stages themselves live in videos.pipeline (called by videos.tasks).
"""

from __future__ import annotations

import logging
import os
from pathlib import PurePosixPath
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from chronos.errors import DomainError
from creators.models import Creator
from videos.models import SegmentWindow, TranscriptSegment, Video, VideoChunk

logger = logging.getLogger(__name__)

# Extensions we name stored files with. Content decides what we accept (PyAV probe); the
# extension only names the file. From issue 2: video mp4 mov avi webm mkv m4v, audio mp3
# m4a wav flac ogg.
VIDEO_EXTENSIONS = ("mp4", "mov", "avi", "webm", "mkv", "m4v")
AUDIO_EXTENSIONS = ("mp3", "m4a", "wav", "flac", "ogg")
MEDIA_EXTENSIONS = VIDEO_EXTENSIONS + AUDIO_EXTENSIONS
CAPTION_EXTENSIONS = ("vtt", "srt")


def _file_size(file: IO[bytes]) -> int:
    size = getattr(file, "size", None)
    if isinstance(size, int):
        return size
    pos = file.tell()
    file.seek(0, os.SEEK_END)
    size = file.tell()
    file.seek(pos)
    return size


def max_upload_bytes_for(*, creator: Creator) -> int:
    """The largest file `creator` may upload, bytes: the smaller of
    settings.CHRONOS_MAX_UPLOAD_BYTES and the tier's billing.limits file_bytes."""
    from billing.limits import limits_for

    return min(int(settings.CHRONOS_MAX_UPLOAD_BYTES), limits_for(creator.tier).file_bytes)


def _human_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"


def title_from_filename(filename: str) -> str:
    """'intro_to-chemistry.mp4' -> 'Intro to chemistry'."""
    stem = PurePosixPath(filename.replace("\\", "/")).stem
    words = stem.replace("_", " ").replace("-", " ").split()
    title = " ".join(words)
    return (title[:1].upper() + title[1:])[:255] if title else "Untitled video"


def video_create(
    *,
    creator: Creator,
    file: IO[bytes],
    filename: str,
    title: str = "",
    description: str = "",
    captions: IO[bytes] | None = None,
    captions_filename: str | None = None,
    enqueue: bool = True,
) -> Video:
    """Validate an upload, store it, and queue processing. Returns the new Video (pending).

    `file` is a Django File/UploadedFile or any binary file object (read from its start);
    `filename` is the client's name (only its extension is used to name the stored file).
    `captions` optionally holds a .vtt or .srt file for the same media.

    Raises chronos.errors.LimitExceeded (nothing stored) when the creator's tier does not
    allow it (file size, video count, storage: billing.services.allowances), and
    chronos.errors.DomainError with fields {"file"|"captions": [msg]} (nothing stored: no
    row, no file) when the file is empty, larger than settings.CHRONOS_MAX_UPLOAD_BYTES,
    not audio/video by content, unreadable/corrupt, or the captions are not a valid
    .vtt/.srt with at least one cue.
    Stored at {creator.handle}/videos/{video.pk}.{ext}; the pipeline is queued on commit
    (unless enqueue=False, used by the ingest CLI which runs the stages itself).
    """
    from billing.services.allowances import upload_allowance_check, upload_allowance_lock
    from videos.captions import CaptionError, parse_captions
    from videos.media import MediaError, probe

    filename = os.path.basename(filename or getattr(file, "name", "") or "upload")
    size = _file_size(file)
    if size == 0:
        raise DomainError.for_field(
            "file", f"{filename} is empty (0 bytes). Choose the file again.", code="empty"
        )
    # The tier's file size, video count and storage, before any byte is stored.
    upload_allowance_check(creator=creator, size_bytes=size)
    limit = int(settings.CHRONOS_MAX_UPLOAD_BYTES)
    if size > limit:
        raise DomainError.for_field(
            "file",
            f"{filename} is {_human_bytes(size)}; the largest file your plan accepts is "
            f"{_human_bytes(limit)}. Compress it or split it into parts.",
            code="too_large",
        )
    try:
        file.seek(0)
        info = probe(_source_for_probe(file), filename=filename)
    except MediaError as exc:
        raise DomainError.for_field("file", str(exc), code="not_media") from exc
    finally:
        file.seek(0)

    caption_bytes = None
    if captions is not None:
        captions_filename = os.path.basename(
            captions_filename or getattr(captions, "name", "") or "captions.vtt"
        )
        captions.seek(0)
        caption_bytes = captions.read()
        try:
            parse_captions(caption_bytes, filename=captions_filename, media_duration=info.duration)
        except CaptionError as exc:
            raise DomainError.for_field("captions", str(exc), code="bad_captions") from exc

    ext = PurePosixPath(filename).suffix.lower().lstrip(".")
    if ext not in MEDIA_EXTENSIONS:
        ext = info.suggested_extension
    stored: list[str] = []
    try:
        with transaction.atomic():
            # Again under the creator's lock, so parallel uploads cannot both take the last
            # slot (the loser waits for the winner's commit, then sees its row).
            upload_allowance_lock(creator=creator, size_bytes=size)
            video = Video.objects.create(
                creator=creator,
                title=(title or "").strip()[:255] or title_from_filename(filename),
                description=description or "",
                original_filename=filename[:255],
                size_bytes=size,
                media_kind=info.media_kind,
                container=info.container[:40],
                duration_seconds=info.duration,
                attempts=1,
            )
            video.file.save(f"upload.{ext}", File(file, name=filename), save=False)
            stored.append(video.file.name)
            if caption_bytes is not None:
                from django.core.files.base import ContentFile

                cext = PurePosixPath(captions_filename or "").suffix.lower().lstrip(".")
                cext = cext if cext in CAPTION_EXTENSIONS else "vtt"
                video.captions_file.save(f"captions.{cext}", ContentFile(caption_bytes), save=False)
                stored.append(video.captions_file.name)
            video.save(update_fields=["file", "captions_file"])
            if enqueue:
                transaction.on_commit(lambda: pipeline_enqueue(video=video))
    except Exception:
        for name in stored:
            _delete_quietly(name)
        raise
    return video


def _source_for_probe(file: Any) -> Any:
    """A path when the upload is on disk (fast, seekable), else the file object."""
    path_fn = getattr(file, "temporary_file_path", None)
    if callable(path_fn):
        return path_fn()
    inner: Any = getattr(file, "file", None)
    if isinstance(getattr(inner, "name", None), str) and os.path.exists(inner.name):
        return inner.name
    name = getattr(file, "name", None)
    if isinstance(name, str) and os.path.isabs(name) and os.path.exists(name):
        return name
    return file


def video_update(
    *, video: Video, title: str | None = None, description: str | None = None
) -> Video:
    """Change a video's title/description (None leaves a field as is). DomainError (field
    "title") on an empty title or one over 255 characters."""
    fields = []
    if title is not None:
        title = title.strip()
        if not title:
            raise DomainError.for_field("title", "The title cannot be empty.")
        if len(title) > 255:
            raise DomainError.for_field("title", "The title is longer than 255 characters.")
        video.title = title
        fields.append("title")
    if description is not None:
        video.description = description
        fields.append("description")
    if fields:
        video.save(update_fields=[*fields, "updated_at"])
    return video


def video_retry(*, video: Video, readable_part: bool = False) -> Video:
    """Restart processing of a failed or stuck video from the stage that failed (its
    inputs permitting; see videos.pipeline.resume_stage), so a failed embedding does not
    pay for transcription again.

    Allowed when status is failed, or the video is in a processing state whose heartbeat is
    older than that stage allows (stale: 3 missed heartbeats). Raises DomainError when it is
    completed or still processing normally. `readable_part=True` is the creator's choice
    for a cut-off file (readable_seconds set by the probe stage): process only the part that
    decodes, from the probe stage; DomainError (code "not_cut_off") for any other video.
    Returns the video (pending, attempts+1), queued on commit.
    """
    from videos.pipeline import is_stuck, resume_stage

    video.refresh_from_db()
    if video.status == Video.Status.COMPLETED:
        raise DomainError(
            "This video is already processed; there is nothing to retry.", code="not_failed"
        )
    if video.status != Video.Status.FAILED and not is_stuck(video):
        raise DomainError(
            "This video is still processing; retry is for failed videos.", code="not_failed"
        )
    stage = resume_stage(video)
    if readable_part:
        if video.readable_seconds is None:
            raise DomainError("This file is not cut off; retry it as it is.", code="not_cut_off")
        video.use_readable_part = True
        video.save(update_fields=["use_readable_part", "updated_at"])
        stage = "probe"
    _reset_for_run(video, stage)
    transaction.on_commit(lambda: pipeline_enqueue(video=video, stage=stage))
    return video


def video_reprocess(*, video: Video) -> Video:
    """Run every stage again (any state except actively processing). Used by the admin."""
    video.refresh_from_db()
    if video.is_processing and video.status != Video.Status.PENDING:
        from videos.pipeline import is_stuck

        if not is_stuck(video):
            raise DomainError("This video is processing right now.", code="processing")
    _reset_for_run(video, "probe")
    transaction.on_commit(lambda: pipeline_enqueue(video=video))
    return video


def _reset_for_run(video: Video, stage: str) -> None:
    from videos.pipeline import mark_queued

    queued_fields = mark_queued(video, stage)
    video.status = Video.Status.PENDING
    video.error = ""
    video.resumed_at = None
    video.attempts = (video.attempts or 0) + 1
    video.stage_heartbeat_at = timezone.now()
    video.stage_progress = 0.0
    video.save(
        update_fields=[
            "status",
            "error",
            "resumed_at",
            "attempts",
            "stage_heartbeat_at",
            "stage_progress",
            "updated_at",
            *queued_fields,
        ]
    )


def pipeline_enqueue(*, video: Video, stage: str = "probe") -> None:
    """Queue `stage` (probe|transcribe|chunk|embed) for the video's current attempt."""
    from videos.tasks import enqueue_stage

    enqueue_stage(video.pk, stage, video.attempts)


def video_delete(*, video: Video) -> None:
    """Delete a video and everything derived from it: media file, captions, thumbnail, any
    extracted audio under its prefix, segments, chunks, windows, then the row. Storage files
    are removed after the rows are gone (on commit), so a failed transaction loses nothing."""
    names = [f.name for f in (video.file, video.captions_file, video.thumbnail) if f and f.name]
    prefix = f"{video.creator.handle}/videos/{video.pk}."
    with transaction.atomic():
        SegmentWindow.objects.filter(video=video).delete()
        VideoChunk.objects.filter(video=video).delete()
        TranscriptSegment.objects.filter(video=video).delete()
        creator_id, was_searchable = video.creator_id, video.status == Video.Status.COMPLETED
        video.delete()
        if was_searchable:
            from videos.signals import library_changed

            library_changed.send(sender=Video, creator_id=creator_id)

        def _remove_files() -> None:
            for name in names:
                _delete_quietly(name)
            # Anything else stored under this video's prefix (extracted audio, old thumbs).
            try:
                folder = f"{PurePosixPath(prefix).parent}"
                _, files = default_storage.listdir(folder)
            except (FileNotFoundError, NotImplementedError, OSError):
                files = []
            leaf = PurePosixPath(prefix).name
            for f in files:
                if f.startswith(leaf):
                    _delete_quietly(f"{folder}/{f}")

        transaction.on_commit(_remove_files)


def _delete_quietly(name: str) -> None:
    try:
        default_storage.delete(name)
    except Exception:  # pragma: no cover - storage outages are logged, not raised
        logger.exception("could not delete stored file %s", name)


def video_progress(video: Video) -> tuple[int, str]:
    """(percent 0-100, label) of a video's run, from its stage's row in the stage table
    (videos.pipeline.STAGE_TABLE: band and label): completed is (100, "Ready"), failed
    (0, "Failed"), pending before its probe started (0, "Queued"), a run handed to a new
    attempt and not yet picked up "<its stage label> — worker restarted, resuming" (at its
    band's start; the note stays on the label while that run goes on). stage_progress (0..1)
    places it inside its stage's band; out-of-range values are clamped."""
    from videos.pipeline import (
        FAILED_LABEL,
        QUEUED_LABEL,
        READY_LABEL,
        RESUMED_NOTE,
        STAGE_BY_STATUS,
        stage_of,
    )

    if video.status == Video.Status.COMPLETED:
        return 100, READY_LABEL
    stage = STAGE_BY_STATUS.get(video.status)
    if stage is None:  # failed
        return 0, FAILED_LABEL
    if video.resumed_at and video.status == Video.Status.PENDING:
        # handed to a new attempt (sweeper / stopping worker), waiting for a worker
        resumed = stage_of(video)
        return resumed.band[0], f"{resumed.label} — {RESUMED_NOTE}"
    try:
        fraction = max(0.0, min(1.0, float(video.stage_progress or 0.0)))
    except (TypeError, ValueError):
        fraction = 0.0
    first, last = stage.band
    label = stage.label
    if video.status == Video.Status.PENDING and not (
        video.probe_started_at and not video.probe_ended_at
    ):
        label = QUEUED_LABEL
    elif video.resumed_at:
        label = f"{label} — {RESUMED_NOTE}"
    return round(first + (last - first) * fraction), label


def video_status_payload(video: Video) -> dict[str, Any]:
    """The live status of a video, the one payload the library rows, the video page and the
    API render: {"id", "status", "status_display", "error", "progress" (0-100 int),
    "stage" (label: "Queued", "Reading the file", "Transcribing", ..., "Ready", "Failed"),
    "is_processing", "duration_seconds", "transcript_source", "thumbnail_url" (or None),
    "attempts", "processing_cost_usd" (str USD)}."""
    progress, stage = video_progress(video)
    thumb = None
    if video.thumbnail and video.thumbnail.name:
        try:
            thumb = video.thumbnail.url
        except Exception:
            thumb = None
    return {
        "id": video.pk,
        "status": video.status,
        "status_display": video.get_status_display(),
        "error": video.error,
        "progress": progress,
        "stage": stage,
        "is_processing": video.is_processing,
        "duration_seconds": video.duration_seconds,
        "transcript_source": video.transcript_source,
        "thumbnail_url": thumb,
        "attempts": video.attempts,
        "processing_cost_usd": str(video.processing_cost_usd),
    }
