"""What every way of uploading to the bucket shares: the S3 limits, the type and size
checks against the tier, reserving the video id, listing and aborting a multipart upload,
and completing one with its size checked."""

from __future__ import annotations

import contextlib
import logging
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from chronos.errors import Conflict, DomainError, ProviderUnavailable
from videos import services
from videos.models import DirectUpload, Video
from videos.storage import is_s3, s3_client, s3_key

logger = logging.getLogger(__name__)

# S3's multipart limits (AWS S3 User Guide, "Amazon S3 multipart upload limits"): at most
# 10,000 parts, each at least 5 MiB except the last.
S3_MAX_PARTS = 10_000
S3_MIN_PART_BYTES = 5 * 1024 * 1024
# MIME hints the browser gives for audio/video it may name with an unusual extension.
MEDIA_MIME_PREFIXES = ("video/", "audio/")
MIME_EXTENSIONS = {
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
    "video/x-matroska": "mkv",
    "video/x-msvideo": "avi",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/flac": "flac",
    "audio/ogg": "ogg",
    "video/x-m4v": "m4v",
}


def _content_type(ext: str) -> str:
    """The Content-Type stored with the object (S3 serves it to the player)."""
    for mime, known in MIME_EXTENSIONS.items():
        if known == ext:
            return mime
    return "application/octet-stream"


def direct_uploads_enabled() -> bool:
    """True when uploads should go straight to the bucket: S3 storage and
    settings.CHRONOS_DIRECT_UPLOADS."""
    return bool(settings.CHRONOS_DIRECT_UPLOADS) and is_s3()


def _extension(filename: str, content_type: str) -> str:
    """The stored file's extension, from the name or the MIME hint; DomainError
    (code "not_media") when neither says audio/video."""
    ext = PurePosixPath(filename).suffix.lower().lstrip(".")
    if ext in services.MEDIA_EXTENSIONS:
        return ext
    mime = (content_type or "").split(";")[0].strip().lower()
    if ext not in services.CAPTION_EXTENSIONS and mime.startswith(MEDIA_MIME_PREFIXES):
        return MIME_EXTENSIONS.get(mime, "mp4" if mime.startswith("video/") else "m4a")
    from videos.media import ACCEPTED_TEXT  # here: PyAV stays out of the web process

    raise DomainError.for_field(
        "file",
        f"{filename} is not a video or audio file by its name or type. {ACCEPTED_TEXT}",
        code="not_media",
    )


def _check_size(creator, filename: str, size: int) -> None:
    if size <= 0:
        raise DomainError.for_field(
            "file", f"{filename} is empty (0 bytes). Choose the file again.", code="empty"
        )
    limit = services.max_upload_bytes_for(creator=creator)
    if size > limit:
        raise DomainError.for_field(
            "file",
            f"{filename} is {services._human_bytes(size)}; the largest file your plan "
            f"accepts is {services._human_bytes(limit)}. Compress it or split it into parts.",
            code="too_large",
        )


@contextlib.contextmanager
def _storage_answers():
    """S3 failures (network, 5xx, timeouts) as ProviderUnavailable (503): the request can
    be repeated; what the bucket holds is kept."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        logger.warning("S3 did not answer: %s", exc)
        raise ProviderUnavailable(
            "The storage service did not answer. Try again in a moment; "
            "the parts already sent are kept.",
            code="storage_unavailable",
        ) from exc


def _reserve_video_id() -> int:
    """Take the next id from the video table's sequence (the Video row comes later)."""
    table = Video._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [table])
        return int(cursor.fetchone()[0])


def part_size_for(size: int) -> int:
    """Bytes per part: settings.CHRONOS_UPLOAD_PART_BYTES, raised when a file that large
    would need more than S3_MAX_PARTS parts (rounded up to whole MiB)."""
    wanted = max(int(settings.CHRONOS_UPLOAD_PART_BYTES), S3_MIN_PART_BYTES)
    needed = -(-size // S3_MAX_PARTS)
    if needed > wanted:
        wanted = -(-needed // (1024 * 1024)) * 1024 * 1024
    return wanted


def _require_pending(upload: DirectUpload) -> None:
    if upload.status != DirectUpload.Status.PENDING:
        raise Conflict(
            f"This upload is {upload.get_status_display().lower()}; start a new one.",
            code="upload_closed",
        )


def _list_parts(upload: DirectUpload) -> list[dict[str, Any]] | None:
    """The parts S3 holds, [{"PartNumber", "ETag", "Size"}] by number; None when the
    multipart upload no longer exists (aborted, or never started)."""
    client = s3_client()
    parts: list[dict[str, Any]] = []
    marker = 0
    while True:
        try:
            page = client.list_parts(
                Bucket=default_storage.bucket_name,
                Key=s3_key(upload.key),
                UploadId=upload.upload_id,
                PartNumberMarker=marker,
            )
        except client.exceptions.NoSuchUpload:
            return None
        parts.extend(page.get("Parts", []))
        if not page.get("IsTruncated"):
            return sorted(parts, key=lambda p: p["PartNumber"])
        marker = int(page["NextPartNumberMarker"])


def _abort_multipart(upload: DirectUpload) -> None:
    """Abort the S3 multipart upload (S3 deletes its parts); gone already is fine."""
    if not upload.upload_id:  # a form upload: no multipart upload
        return
    client = s3_client()
    with contextlib.suppress(client.exceptions.NoSuchUpload):
        client.abort_multipart_upload(
            Bucket=default_storage.bucket_name, Key=s3_key(upload.key), UploadId=upload.upload_id
        )


def _refuse(upload: DirectUpload, message: str, code: str) -> DomainError:
    """Mark the upload failed, remove whatever reached the bucket, and return the error."""
    _abort_multipart(upload)
    default_storage.delete(upload.key)
    if upload.source_key:
        s3_client().delete_object(Bucket=default_storage.bucket_name, Key=upload.source_key)
    DirectUpload.objects.filter(pk=upload.pk).update(
        status=DirectUpload.Status.FAILED,
        error=message[:2000],
        error_code=code[:40],
        captions_data=None,
        ended_at=timezone.now(),
    )
    return DomainError.for_field("file", message, code=code)


VERIFY_TIMEOUT_SECONDS = 60


class _Refusal(Exception):
    """(message, code): the object is not what was announced; see _refuse."""


def _complete_and_check_size(upload: DirectUpload) -> None:
    name = upload.filename
    parts = _list_parts(upload)
    if not parts:
        raise _Refusal(
            f"No part of {name} reached storage, so there is nothing to process. Upload it again.",
            "missing",
        )
    numbers = [p["PartNumber"] for p in parts]
    arrived = sum(int(p["Size"]) for p in parts)
    expected = list(range(1, upload.part_count + 1))
    if numbers != expected or arrived != upload.size_bytes:
        missing = sorted(set(expected) - set(numbers))
        detail = f" (parts {', '.join(map(str, missing[:10]))} missing)" if missing else ""
        raise _Refusal(
            f"Only {services._human_bytes(arrived)} of the "
            f"{services._human_bytes(upload.size_bytes)} of {name} reached storage"
            f"{detail}: the upload was cut short. Upload it again.",
            "truncated",
        )
    # Limits again (uploads may have landed meanwhile); LimitExceeded leaves the upload
    # pending and its parts to the abandoned-upload task. The worker checks once more under
    # the creator's upload lock before it creates the Video.
    from billing.services.allowances import upload_allowance_check

    upload_allowance_check(creator=upload.creator, size_bytes=upload.size_bytes)
    client = s3_client()
    bucket, key = default_storage.bucket_name, s3_key(upload.key)
    client.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload.upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts]
        },
    )
    try:
        size = int(client.head_object(Bucket=bucket, Key=key)["ContentLength"])
    except client.exceptions.ClientError:
        size = -1
    if size != upload.size_bytes:
        raise _Refusal(
            f"{name} is not in storage as sent ({max(size, 0)} of {upload.size_bytes} "
            "bytes). Upload it again.",
            "truncated",
        )
