"""The no-JavaScript form in S3 mode: a presigned POST straight to the bucket, then the
redirect back that registers the object as an upload to verify."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction

from chronos.errors import DomainError
from videos import services
from videos.models import DirectUpload, Video, video_upload_to
from videos.storage import s3_client, s3_key
from videos.uploads.common import (
    _check_size,
    _extension,
    _reserve_video_id,
    _storage_answers,
    direct_uploads_enabled,
)
from videos.uploads.multipart import _enqueue_verify

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
