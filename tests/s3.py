"""S3 for the test session: a moto S3 server (the far side of the network, speaking S3's
wire format) and the switch that points Django's default storage at a fresh bucket on it.

Tests marked ``@pytest.mark.s3`` run twice, once on local disk and once on S3 (see
tests/conftest.py: the ``storage_backend`` fixture). moto runs in this process on a thread
(ThreadedMotoServer bound to 127.0.0.1, port 0 = a free port); boto3 and browsers reach it
over loopback HTTP exactly as they would reach AWS.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from pathlib import Path

import boto3
from django.conf import settings as django_settings
from django.core.files.storage import default_storage

from chronos.settings import s3_storage_options

# moto accepts any credentials; these are the ones its documentation uses.
ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"
_bucket_numbers = itertools.count(1)


# The CORS rule the README tells operators to put on their bucket (browser part uploads).
def cors_rule(origins: list[str]) -> dict:
    return {
        "CORSRules": [
            {
                "AllowedOrigins": origins,
                "AllowedMethods": ["PUT", "GET", "HEAD"],
                "AllowedHeaders": ["*"],
                "ExposeHeaders": ["ETag"],
                "MaxAgeSeconds": 3600,
            }
        ]
    }


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """Start moto's S3 server on 127.0.0.1 (a free port); yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def storage_options(endpoint: str, bucket: str) -> dict:
    """The production S3Storage OPTIONS (chronos.settings) aimed at moto."""
    return s3_storage_options(
        bucket,
        endpoint_url=endpoint,
        region_name=REGION,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        addressing_style="path",
    )


def use_s3(settings, endpoint: str, *, cors_origins: list[str] | None = None) -> str:
    """Create a fresh bucket on moto and make it Django's default storage (pytest-django's
    `settings` fixture restores the old value). Returns the bucket name."""
    bucket = f"chronos-test-{next(_bucket_numbers)}"
    client = s3_client(endpoint)
    client.create_bucket(Bucket=bucket)
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration=cors_rule(cors_origins or ["*"]))
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": storage_options(endpoint, bucket),
        },
    }
    return bucket


def is_s3() -> bool:
    return django_settings.STORAGES["default"]["BACKEND"].endswith("S3Storage")


def stored_names() -> list[str]:
    """Every name in the default storage, sorted: the bucket's keys on S3, the files under
    the storage's location on local disk."""
    if is_s3():
        return sorted(o.key for o in default_storage.bucket.objects.all())
    root = Path(default_storage.location)
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
