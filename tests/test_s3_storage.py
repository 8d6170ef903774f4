"""S3 mode against a moto S3 server: SigV4 presigned playback URLs that serve Range
requests, keys at {handle}/videos/{id}.{ext}, nothing written locally, refusals."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.urls import reverse

from tests.pipeline_support import FARADAY_MP4, FARADAY_VTT, create
from tests.s3 import use_s3
from videos.models import Video

pytestmark = pytest.mark.django_db


@pytest.fixture
def s3(settings, moto_endpoint):
    return use_s3(settings, moto_endpoint)


@pytest.fixture
def stored_video(s3, creator, data_dir) -> Video:
    return create(creator, data_dir / FARADAY_MP4, captions=data_dir / FARADAY_VTT)


def test_presigned_urls_are_sigv4_and_expire_within_an_hour(stored_video):
    url = stored_video.file.url
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert 0 < int(query["X-Amz-Expires"][0]) <= 3600
    assert query["X-Amz-Credential"][0].endswith("/us-east-1/s3/aws4_request")
    assert "Signature" not in query and "AWSAccessKeyId" not in query  # no SigV2


def test_production_settings_sign_with_sigv4(settings):
    from chronos.settings import s3_storage_options

    options = s3_storage_options("bucket")
    assert options["client_config"].signature_version == "s3v4"
    assert options["region_name"] == settings.AWS_S3_REGION_NAME
    assert options["querystring_expire"] <= 3600


def test_keys_follow_the_layout_and_nothing_is_written_locally(stored_video, stored, _media_root):
    pk = stored_video.pk
    assert stored() == [f"acme/videos/{pk}.captions.vtt", f"acme/videos/{pk}.mp4"]
    assert not _media_root.exists() or not any(_media_root.rglob("*"))


def test_stream_redirects_to_a_presigned_url_that_serves_ranges(
    owner_client, stored_video, data_dir
):
    response = owner_client.get(reverse("videos:stream", kwargs={"pk": stored_video.pk}))
    assert response.status_code == 302
    original = (data_dir / FARADAY_MP4).read_bytes()
    ranged = httpx.get(response["Location"], headers={"Range": "bytes=1000-1999"})
    assert ranged.status_code == 206
    assert ranged.content == original[1000:2000]


def test_stream_refuses_anonymous_and_other_tenants(client, stored_video, other_creator):
    url = reverse("videos:stream", kwargs={"pk": stored_video.pk})
    assert client.get(url).status_code == 302  # to the login page
    assert reverse("account_login") in client.get(url)["Location"]
    client.force_login(other_creator.owner)
    assert client.get(url).status_code == 404
