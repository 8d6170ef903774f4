"""On a worker: a completed upload is probed (PyAV over ranged reads), checked against
the tier again under the upload lock, and becomes a Video and a pipeline run; or it is
refused with the reason and deleted."""

from __future__ import annotations

from pathlib import PurePosixPath

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from videos import services
from videos.models import DirectUpload, Video, video_upload_to
from videos.storage import RangedObjectReader, s3_client, s3_key
from videos.uploads.common import _content_type, _Refusal, _refuse, _storage_answers


def direct_upload_verify(*, upload_id: int) -> DirectUpload:
    """The worker's half of a completion (videos.tasks.verify_direct_upload): PyAV probes
    the object through ranged reads (videos.storage.RangedObjectReader: a few hundred KB,
    not the file), the tier is checked again under the creator's upload lock, then the
    Video (pending) is created at the reserved id and the pipeline queued on commit.

    A non-media object (code "not_media") or one the tier no longer allows (code
    "limit_exceeded") is refused: the upload is marked failed with the message (the page
    and GET /api/v1/uploads/<id>/ show it), the object deleted, nothing queued. An upload
    that is not "verifying" (already done, or aborted) is returned unchanged. S3 outages
    raise ProviderUnavailable (the task may be retried: the upload stays verifying).
    """
    from chronos.errors import LimitExceeded

    try:
        with transaction.atomic():
            upload = DirectUpload.objects.select_for_update().get(pk=upload_id)
            if upload.status != DirectUpload.Status.VERIFYING:
                return upload
            with _storage_answers():
                _verify_and_create(upload)
    except _Refusal as refusal:
        _refuse(upload, *refusal.args)
    except LimitExceeded as exc:
        _refuse(upload, exc.message, exc.code)
    upload.refresh_from_db()
    return upload


def _verify_and_create(upload: DirectUpload) -> Video:
    from billing.services.allowances import upload_allowance_lock
    from videos.media import MediaError, probe

    name = upload.filename
    client = s3_client()
    bucket, key = default_storage.bucket_name, upload.source_key or s3_key(upload.key)
    reader = RangedObjectReader(client, bucket, key, upload.size_bytes, name=name)
    try:
        info = probe(reader, filename=name)
    except MediaError as exc:
        raise _Refusal(str(exc), "not_media") from exc
    upload_allowance_lock(creator=upload.creator, size_bytes=upload.size_bytes)
    if upload.source_key:
        _move_form_upload(upload, info)
    video = Video.objects.create(
        pk=upload.video_id,
        creator=upload.creator,
        title=upload.title or services.title_from_filename(name),
        description=upload.description,
        original_filename=name,
        file=upload.key,
        size_bytes=upload.size_bytes,
        media_kind=info.media_kind,
        container=info.container[:40],
        duration_seconds=info.duration,
        attempts=1,
    )
    if upload.captions_data:
        cext = PurePosixPath(upload.captions_filename or "").suffix.lower().lstrip(".")
        cext = cext if cext in services.CAPTION_EXTENSIONS else "vtt"
        video.captions_file.save(f"captions.{cext}", ContentFile(bytes(upload.captions_data)))
    upload.status = DirectUpload.Status.COMPLETED
    upload.ended_at = timezone.now()
    upload.captions_data = None
    upload.save(update_fields=["status", "ended_at", "captions_data"])
    transaction.on_commit(lambda: services.pipeline_enqueue(video=video))
    return video


def _move_form_upload(upload: DirectUpload, info) -> None:
    """Copy a form upload from {handle}/incoming/... to its final key
    {handle}/videos/{id}.{ext} inside the bucket (boto3's managed copy: a server-side
    multipart copy for large objects, no byte through Chronos), then delete the original.
    The extension is the file name's when it names media, else what the probe found."""
    ext = PurePosixPath(upload.filename).suffix.lower().lstrip(".")
    if ext not in services.MEDIA_EXTENSIONS:
        ext = info.suggested_extension
    name = video_upload_to(Video(pk=upload.video_id, creator=upload.creator), f"upload.{ext}")
    client, bucket = s3_client(), default_storage.bucket_name
    client.copy(
        {"Bucket": bucket, "Key": upload.source_key},
        bucket,
        s3_key(name),
        ExtraArgs={"ContentType": _content_type(ext), "MetadataDirective": "REPLACE"},
    )
    client.delete_object(Bucket=bucket, Key=upload.source_key)
    upload.key = name
    upload.save(update_fields=["key"])
