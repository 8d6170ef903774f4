"""Reading stored media without holding it in memory, on local disk and on S3.

- `local_copy(name)`: a local path for a stored file; on S3 the object is streamed to a
  temporary file in STREAM_BLOCK_BYTES blocks (a 2 GB object never sits in RAM).
- `RangedObjectReader`: a read-only, seekable file object over an S3 object that fetches
  only the byte ranges asked for (with a small read-ahead), so PyAV can probe a large
  upload where it lies, reading a few hundred KB of it.
- `s3_client()`: the boto3 client of the default storage (its endpoint, credentials,
  region and SigV4 signing come from settings.STORAGES), for multipart uploads.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from django.core.files.storage import Storage, default_storage

# Bytes per block when streaming an object to disk: 1 MiB keeps memory flat and requests
# few (botocore reads the body in these blocks from one GET).
STREAM_BLOCK_BYTES = 1024 * 1024
# Read-ahead of RangedObjectReader, bytes: one GET serves a demuxer's many small reads.
RANGE_READAHEAD_BYTES = 256 * 1024


def is_s3(storage: Storage | None = None) -> bool:
    """True when `storage` (default: the default storage) is django-storages' S3Storage."""
    from storages.backends.s3 import S3Storage

    storage = storage if storage is not None else default_storage
    return isinstance(storage, S3Storage)


def s3_client(storage: Storage | None = None):
    """A boto3 S3 client with the storage's endpoint, credentials, region and config (S3
    mode only). A plain client, made once per storage (boto3 clients are thread-safe):
    django-storages' boto3 *resource* would load a second, larger model for nothing."""
    storage = storage if storage is not None else default_storage
    client = getattr(storage, "_chronos_s3_client", None)
    if client is None:
        client = storage._create_session().client(
            "s3",
            region_name=storage.region_name,
            use_ssl=storage.use_ssl,
            endpoint_url=storage.endpoint_url,
            config=storage.client_config,
            verify=storage.verify,
        )
        storage._chronos_s3_client = client
    return client


def s3_key(name: str, storage: Storage | None = None) -> str:
    """The bucket key of a stored name (django-storages prefixes its `location`, if any)."""
    from storages.utils import clean_name

    storage = storage if storage is not None else default_storage
    return storage._normalize_name(clean_name(name))


@contextlib.contextmanager
def local_copy(name: str, storage: Storage | None = None) -> Iterator[Path]:
    """A local filesystem path for the stored file `name`: the file itself on local
    storage; on S3 a temporary copy streamed from one GET in STREAM_BLOCK_BYTES blocks
    (memory stays flat whatever the object's size), removed on exit. Raises
    FileNotFoundError when the object does not exist."""
    storage = storage if storage is not None else default_storage
    try:
        yield Path(storage.path(name))
        return
    except NotImplementedError:
        pass
    fd, tmp = tempfile.mkstemp(prefix="chronos-", suffix=PurePosixPath(name).suffix)
    try:
        with open(fd, "wb") as out:
            stream_object_to(name, out, storage=storage)
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


def stream_object_to(name: str, out: io.RawIOBase, *, storage: Storage | None = None) -> int:
    """Write the S3 object `name` into the binary file `out` block by block. Returns the
    bytes written. FileNotFoundError when there is no such object."""
    storage = storage if storage is not None else default_storage
    client = s3_client(storage)
    try:
        body = client.get_object(Bucket=storage.bucket_name, Key=s3_key(name, storage))["Body"]
    except client.exceptions.NoSuchKey as exc:
        raise FileNotFoundError(name) from exc
    written = 0
    try:
        for block in body.iter_chunks(STREAM_BLOCK_BYTES):
            out.write(block)
            written += len(block)
    finally:
        body.close()
    return written


class RangedObjectReader(io.RawIOBase):
    """A seekable, read-only file object over one S3 object of `size` bytes: each read
    that misses the buffer fetches `Range: bytes=pos-(pos+max(n, RANGE_READAHEAD_BYTES)-1)`.
    `requests` and `bytes_fetched` count what was read (for tests and benchmarks)."""

    def __init__(self, client, bucket: str, key: str, size: int, *, name: str = ""):
        super().__init__()
        self._client, self._bucket, self._key, self._size = client, bucket, key, size
        self._pos = 0
        self._buf = b""
        self._buf_start = 0
        self.name = name or PurePosixPath(key).name
        self.requests = 0
        self.bytes_fetched = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def read(self, n: int = -1) -> bytes:
        if self._pos >= self._size:
            return b""
        if n is None or n < 0:
            n = self._size - self._pos
        n = min(n, self._size - self._pos)
        end = self._buf_start + len(self._buf)
        if not (self._buf_start <= self._pos and self._pos + n <= end):
            want = min(max(n, RANGE_READAHEAD_BYTES), self._size - self._pos)
            response = self._client.get_object(
                Bucket=self._bucket,
                Key=self._key,
                Range=f"bytes={self._pos}-{self._pos + want - 1}",
            )
            self._buf = response["Body"].read()
            self._buf_start = self._pos
            self.requests += 1
            self.bytes_fetched += len(self._buf)
        offset = self._pos - self._buf_start
        data = self._buf[offset : offset + n]
        self._pos += len(data)
        return data
