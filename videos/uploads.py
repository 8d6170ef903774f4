"""Direct-to-bucket uploads (S3 mode): the browser's file goes straight to S3 in parts.

    1. direct_upload_start     limits first (type by extension/MIME hint, size against the
                               tier), then an S3 multipart upload at the final key
                               {handle}/videos/{video_id}.{ext} (the video id is reserved)
                               and one presigned PUT URL per part
    2. (browser)               PUTs each part to its URL, retrying failed parts;
                               direct_upload_part_urls re-signs, direct_upload_parts says
                               which parts arrived (resume)
    3. direct_upload_complete  (web) completes the multipart upload and checks the parts
                               and the object's size; a missing or truncated object is
                               refused with a clear message, deleted, nothing queued;
                               else the upload is "verifying" and a worker task queued
    4. direct_upload_verify    (worker) PyAV probe over ranged reads (a few hundred KB, not
                               the file), limits again under the upload lock, then the
                               Video and the pipeline; a non-media object is refused
                               (the upload shows the message), deleted, nothing queued
    direct_uploads_abort_stale  (scheduled hourly) aborts uploads nobody completed

The web process signs and checks sizes; it never reads the media's bytes (nor decodes any:
the probe runs on a worker, which keeps the web process's memory flat). Local-disk storage
keeps the upload through the web process (videos.services.video_create).
"""

from __future__ import annotations

import contextlib
import logging
import os
from datetime import timedelta
from pathlib import PurePosixPath
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from chronos.errors import Conflict, DomainError, ProviderUnavailable
from videos import services
from videos.models import DirectUpload, Video, video_upload_to
from videos.storage import RangedObjectReader, is_s3, s3_client, s3_key

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


def direct_upload_parts(*, upload: DirectUpload) -> list[dict[str, int]]:
    """The parts that reached the bucket, [{"number", "size"}] (bytes), for resuming."""
    if upload.status != DirectUpload.Status.PENDING:
        return []
    with _storage_answers():
        parts = _list_parts(upload)
    return [{"number": p["PartNumber"], "size": p["Size"]} for p in parts or []]


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


# --- the no-JS form (S3 POST) ----------------------------------------------------------------

# S3 accepts at most 5 GB in one POST (AWS S3 User Guide, "Uploading objects": a single
# PUT/POST upload is limited to 5 GB); larger files need the page's multipart upload.
S3_MAX_POST_BYTES = 5 * 10**9
FORM_FILENAME = "${filename}"  # S3 puts the browser's file name here (POST Object)


def _incoming_prefix(creator) -> str:
    return s3_key(f"{creator.handle}/incoming/")


def direct_form_post(*, creator, redirect_url: str) -> dict[str, Any]:
    """The no-JS upload form in S3 mode: a presigned POST (SigV4 policy, valid
    settings.AWS_QUERYSTRING_EXPIRE seconds) so the browser posts the file straight to the
    bucket, at {handle}/incoming/<random>/<file name>, then S3 redirects it (303) to
    `redirect_url` (absolute) with ?bucket=&key=&etag=. The policy limits the size to
    1..the tier's file size (and S3's 5 GB for one POST). Returns {"url": the bucket's
    URL, "fields": {name: value} hidden inputs that must precede the file input,
    "max_bytes"}. DomainError "not_available" when storage is not S3."""
    if not direct_uploads_enabled():
        raise DomainError("Direct uploads need S3 storage.", code="not_available")
    import secrets

    limit = min(services.max_upload_bytes_for(creator=creator), S3_MAX_POST_BYTES)
    key = f"{_incoming_prefix(creator)}{secrets.token_hex(16)}/{FORM_FILENAME}"
    post = s3_client().generate_presigned_post(
        default_storage.bucket_name,
        key,
        Fields={"success_action_redirect": redirect_url},
        Conditions=[
            {"success_action_redirect": redirect_url},
            ["content-length-range", 1, limit],
        ],
        ExpiresIn=int(settings.AWS_QUERYSTRING_EXPIRE),
    )
    return {"url": post["url"], "fields": post["fields"], "max_bytes": limit}


def direct_form_received(*, creator, user, key: str) -> DirectUpload:
    """S3 redirected the browser back after a form upload to `key`: check what arrived and
    queue its verification on a worker, as direct_upload_complete does (the web process
    only asks S3 for the object's size). Repeating it (a reload) returns the same upload.

    Raises DomainError "not_available" (storage is not S3), or with fields {"file": [msg]}:
    code "invalid" (a key outside this
    creator's incoming prefix), "missing" (nothing there), "empty", "too_large" or
    LimitExceeded (the tier) — the object is deleted then —, ProviderUnavailable when S3
    does not answer."""
    if not direct_uploads_enabled():
        raise DomainError("Direct uploads need S3 storage.", code="not_available")
    prefix = _incoming_prefix(creator)
    rest = key[len(prefix) :] if key.startswith(prefix) else ""
    if not rest or ".." in key or rest.count("/") != 1:
        raise DomainError.for_field("file", "That upload is not one of this studio's.")
    existing = DirectUpload.objects.filter(creator=creator, source_key=key).first()
    if existing is not None:
        return existing
    client, bucket = s3_client(), default_storage.bucket_name
    with _storage_answers():
        try:
            head = client.head_object(Bucket=bucket, Key=key)
        except client.exceptions.ClientError:
            raise DomainError.for_field(
                "file", "The file did not reach storage. Upload it again.", code="missing"
            ) from None
    filename = os.path.basename(rest)[:255]
    if filename in ("", FORM_FILENAME):
        filename = "upload"
    size = int(head["ContentLength"])
    try:
        if filename != "upload":
            _extension(filename, head.get("ContentType") or "")  # not_media by its name
        _check_size(creator, filename, size)
        from billing.services.allowances import upload_allowance_check

        upload_allowance_check(creator=creator, size_bytes=size)
    except DomainError:
        client.delete_object(Bucket=bucket, Key=key)
        raise
    video_id = _reserve_video_id()
    name = video_upload_to(Video(pk=video_id, creator=creator), filename)
    with transaction.atomic():
        upload = DirectUpload.objects.create(
            creator=creator,
            created_by=user if getattr(user, "pk", None) else None,
            video_id=video_id,
            key=name,  # set to the final key by the worker
            source_key=key,
            upload_id="",
            filename=filename,
            content_type=(head.get("ContentType") or "")[:100],
            size_bytes=size,
            part_bytes=size,
            status=DirectUpload.Status.VERIFYING,
        )
        upload_id = upload.pk
        transaction.on_commit(lambda: _enqueue_verify(upload_id))
    return upload


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
