"""Multipart uploads from the page: start (limits, presigned part URLs), re-sign, resume,
complete (checked, then verified on a worker), abort, and the hourly abort of abandoned
ones."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from chronos.errors import DomainError
from videos.models import DirectUpload, Video, video_upload_to
from videos.storage import is_s3, s3_client, s3_key
from videos.uploads.common import (
    VERIFY_TIMEOUT_SECONDS,
    _abort_multipart,
    _check_size,
    _complete_and_check_size,
    _content_type,
    _extension,
    _list_parts,
    _Refusal,
    _refuse,
    _require_pending,
    _reserve_video_id,
    _storage_answers,
    direct_uploads_enabled,
    part_size_for,
)

logger = logging.getLogger(__name__)


def direct_upload_start(
    *,
    creator,
    user,
    filename: str,
    size_bytes: int,
    content_type: str = "",
    title: str = "",
    description: str = "",
) -> DirectUpload:
    """Check the limits, then start an S3 multipart upload for one file.

    `filename` is the browser's name, `size_bytes` its size in bytes and `content_type`
    its MIME hint. Raises DomainError (fields {"file": [msg]}) with code "not_available"
    (storage is not S3), "not_media" (neither the name nor the hint is audio/video),
    "empty" or "too_large" (settings.CHRONOS_MAX_UPLOAD_BYTES / the tier's file size);
    nothing is started then. Returns the DirectUpload (pending); presign its parts with
    direct_upload_part_urls.
    """
    if not direct_uploads_enabled():
        raise DomainError(
            "Direct uploads need S3 storage; upload through the page instead.",
            code="not_available",
        )
    filename = os.path.basename((filename or "").replace("\\", "/"))[:255] or "upload"
    ext = _extension(filename, content_type)
    _check_size(creator, filename, size_bytes)
    # The tier's limits, as every upload path checks them (file size, video count, storage).
    from billing.services.allowances import upload_allowance_check

    upload_allowance_check(creator=creator, size_bytes=size_bytes)
    video_id = _reserve_video_id()
    name = video_upload_to(Video(pk=video_id, creator=creator), f"upload.{ext}")
    with _storage_answers():
        response = s3_client().create_multipart_upload(
            Bucket=default_storage.bucket_name, Key=s3_key(name), ContentType=_content_type(ext)
        )
    return DirectUpload.objects.create(
        creator=creator,
        created_by=user if getattr(user, "pk", None) else None,
        video_id=video_id,
        key=name,
        upload_id=response["UploadId"],
        filename=filename,
        content_type=(content_type or "")[:100],
        size_bytes=size_bytes,
        part_bytes=part_size_for(size_bytes),
        title=(title or "").strip()[:255],
        description=description or "",
    )


def direct_upload_part_urls(
    *, upload: DirectUpload, part_numbers: list[int] | None = None
) -> list[dict[str, Any]]:
    """Presigned PUT URLs (SigV4, valid settings.AWS_QUERYSTRING_EXPIRE seconds) for the
    parts `part_numbers` (1-based; default: all): [{"number", "url", "start", "end"}],
    `end` exclusive, in bytes of the file. DomainError "conflict" when the upload is no
    longer pending, "invalid" for a part number outside 1..part_count."""
    _require_pending(upload)
    numbers = part_numbers or list(range(1, upload.part_count + 1))
    bad = [n for n in numbers if not 1 <= int(n) <= upload.part_count]
    if bad:
        raise DomainError(
            f"Part numbers run from 1 to {upload.part_count}; {bad[0]} is not one of them."
        )
    client = s3_client()
    key = s3_key(upload.key)
    parts = []
    for n in numbers:
        n = int(n)
        url = client.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": default_storage.bucket_name,
                "Key": key,
                "UploadId": upload.upload_id,
                "PartNumber": n,
            },
            ExpiresIn=int(settings.AWS_QUERYSTRING_EXPIRE),
        )
        start = (n - 1) * upload.part_bytes
        parts.append(
            {
                "number": n,
                "url": url,
                "start": start,
                "end": min(start + upload.part_bytes, upload.size_bytes),
            }
        )
    return parts


def direct_upload_parts(*, upload: DirectUpload) -> list[dict[str, int]]:
    """The parts that reached the bucket, [{"number", "size"}] (bytes), for resuming."""
    if upload.status != DirectUpload.Status.PENDING:
        return []
    with _storage_answers():
        parts = _list_parts(upload)
    return [{"number": p["PartNumber"], "size": p["Size"]} for p in parts or []]


def direct_upload_complete(
    *,
    upload: DirectUpload,
    captions: IO[bytes] | None = None,
    captions_filename: str | None = None,
) -> DirectUpload:
    """Finish a direct upload in the web process: check the parts, complete the multipart
    upload, check the object's size, and queue its verification on a worker
    (direct_upload_verify, on commit). The web process never reads the media: the content
    probe runs on the worker. Returns the upload, now "verifying".

    Checks here: every part 1..part_count arrived and they add up to the declared size;
    the tier still allows the file (billing.services.allowances.upload_allowance_check;
    LimitExceeded leaves the upload pending); the completed object's size (HEAD) is that
    size. `captions` is an optional .vtt/.srt (small; read, parsed and kept on the upload
    until the Video exists). Raises DomainError with fields {"file": [msg]} and code
    "missing" (nothing reached the bucket or the upload was aborted) or "truncated" (parts
    or bytes missing) — then the upload is marked failed, its object deleted and nothing
    queued —, or with fields {"captions": [...]} code "bad_captions" (the upload stays
    pending, so it can be completed again with other captions), or Conflict when it is not
    pending.
    """
    from videos.captions import CaptionError, parse_captions

    caption_bytes = None
    if captions is not None:
        captions_filename = os.path.basename(captions_filename or "captions.vtt")
        caption_bytes = captions.read()
        try:
            parse_captions(caption_bytes, filename=captions_filename)
        except CaptionError as exc:
            raise DomainError.for_field("captions", str(exc), code="bad_captions") from exc

    try:
        with transaction.atomic():
            upload = DirectUpload.objects.select_for_update().get(pk=upload.pk)
            _require_pending(upload)
            with _storage_answers():
                _complete_and_check_size(upload)
            upload.status = DirectUpload.Status.VERIFYING
            upload.captions_data = caption_bytes
            upload.captions_filename = (captions_filename or "")[:255] if caption_bytes else ""
            upload.save(update_fields=["status", "captions_data", "captions_filename"])
            upload_id = upload.pk
            transaction.on_commit(lambda: _enqueue_verify(upload_id))
    except _Refusal as refusal:
        raise _refuse(upload, *refusal.args) from refusal
    return upload


def _enqueue_verify(upload_id: int) -> None:
    from django_q.tasks import async_task

    async_task(
        "videos.tasks.verify_direct_upload",
        upload_id,
        timeout=VERIFY_TIMEOUT_SECONDS,
        task_name=f"upload-{upload_id}-verify",
    )


# A probe reads a few hundred KB over ranged GETs; a minute is generous even for a slow bucket.


def direct_upload_abort(*, upload: DirectUpload) -> DirectUpload:
    """Abort a pending upload (the browser gave up): S3 deletes its parts. Idempotent."""
    if upload.status == DirectUpload.Status.PENDING:
        _abort_multipart(upload)
        upload.status = DirectUpload.Status.ABORTED
        upload.ended_at = timezone.now()
        upload.save(update_fields=["status", "ended_at"])
    return upload


def direct_uploads_abort_stale(*, older_than_hours: float | None = None) -> dict[str, int]:
    """Abort every multipart upload older than `older_than_hours` (default
    settings.CHRONOS_UPLOAD_ABANDON_HOURS): pending DirectUpload rows, and any multipart
    upload in the bucket no row knows (a crash between S3 and the database); uploads that
    old still "verifying" have their verification queued again. Returns
    {"rows": n, "orphans": n}. Does nothing (zeros) when storage is not S3."""
    if not is_s3():
        return {"rows": 0, "orphans": 0}
    hours = settings.CHRONOS_UPLOAD_ABANDON_HOURS if older_than_hours is None else older_than_hours
    cutoff = timezone.now() - timedelta(hours=float(hours))
    rows = 0
    stale = DirectUpload.objects.filter(status=DirectUpload.Status.PENDING, created_at__lt=cutoff)
    for upload in stale.iterator():
        direct_upload_abort(upload=upload)
        rows += 1
    # A completion whose verification task was lost (a worker died): queue it again.
    stuck = DirectUpload.objects.filter(status=DirectUpload.Status.VERIFYING, created_at__lt=cutoff)
    for upload_id in stuck.values_list("pk", flat=True):
        _enqueue_verify(upload_id)
    client = s3_client()
    bucket = default_storage.bucket_name
    known = set(
        DirectUpload.objects.filter(status=DirectUpload.Status.PENDING).values_list(
            "upload_id", flat=True
        )
    )
    orphans = 0
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for item in page.get("Uploads", []):
            if item["UploadId"] in known or item["Initiated"] >= cutoff:
                continue
            try:
                client.abort_multipart_upload(
                    Bucket=bucket, Key=item["Key"], UploadId=item["UploadId"]
                )
                orphans += 1
            except client.exceptions.NoSuchUpload:
                pass
    if rows or orphans:
        logger.info("aborted %s abandoned uploads and %s orphaned ones", rows, orphans)
    return {"rows": rows, "orphans": orphans}
