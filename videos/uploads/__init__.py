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

from videos.uploads.common import (
    MEDIA_MIME_PREFIXES,
    S3_MAX_PARTS,
    S3_MIN_PART_BYTES,
    VERIFY_TIMEOUT_SECONDS,
    direct_uploads_enabled,
    part_size_for,
)
from videos.uploads.form import direct_form_post, direct_form_received
from videos.uploads.multipart import (
    direct_upload_abort,
    direct_upload_complete,
    direct_upload_part_urls,
    direct_upload_parts,
    direct_upload_start,
    direct_uploads_abort_stale,
)
from videos.uploads.verify import direct_upload_verify

__all__ = [
    "MEDIA_MIME_PREFIXES",
    "S3_MAX_PARTS",
    "S3_MIN_PART_BYTES",
    "VERIFY_TIMEOUT_SECONDS",
    "direct_form_post",
    "direct_form_received",
    "direct_upload_abort",
    "direct_upload_complete",
    "direct_upload_part_urls",
    "direct_upload_parts",
    "direct_upload_start",
    "direct_upload_verify",
    "direct_uploads_abort_stale",
    "direct_uploads_enabled",
    "part_size_for",
]
