"""The upload page in S3 mode, in a real browser (Debian's chromium through Playwright):
a real lecture goes from the page straight to a moto S3 bucket as a multipart upload, with
per-file progress; a part whose PUTs keep failing pauses the file, and "Upload all"
resumes it by sending only the missing part; Chronos completes, verifies and processes it.
Screenshots at 1440 px and 375 px go to /tmp/shots/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.factories import CreatorFactory
from tests.s3 import use_s3
from tests.test_video_browser import SHOTS, signed_in_page
from tests.waiting import wait_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="no Debian chromium"),
]
pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from tests.test_video_browser import browser  # noqa: E402,F401  (the fixture)

LECTURE = "faraday-candle-2.mp4"  # 10.1 MB: two parts of 5 MiB
CAPTIONS = "faraday-candle-2.vtt"


@pytest.fixture
def s3_studio(transactional_db, settings, live_server, moto_endpoint):
    settings.CHRONOS_EMBEDDER = "none"
    settings.CHRONOS_UPLOAD_PART_BYTES = 5 * 1024 * 1024
    use_s3(settings, moto_endpoint, cors_origins=[live_server.url])
    # The CSP lets pages reach the bucket's origin (chronos.settings: connect-src).
    csp = settings.CONTENT_SECURITY_POLICY
    directives = {**csp["DIRECTIVES"], "connect-src": ["'self'", moto_endpoint]}
    settings.CONTENT_SECURITY_POLICY = {**csp, "DIRECTIVES": directives}
    return CreatorFactory(handle="faraday", company_name="Royal Institution")


def test_lecture_uploads_straight_to_the_bucket_and_resumes_a_failed_part(
    s3_studio,
    live_server,
    browser,  # noqa: F811  (the fixture imported above)
    data_dir,
    moto_endpoint,
):
    from videos.models import DirectUpload, Video

    creator = s3_studio
    page, errors = signed_in_page(browser, live_server, creator.owner)
    puts: list[int] = []
    broken = {"part2": True}

    def bucket_route(route):
        request = route.request
        if request.method != "PUT":
            return route.continue_()
        number = int(request.url.split("partNumber=")[1].split("&")[0])
        puts.append(number)
        if number == 2 and broken["part2"]:
            return route.abort("connectionreset")
        return route.continue_()

    page.route(f"{moto_endpoint}/**", bucket_route)
    page.goto(f"{live_server.url}/studio/{creator.handle}/videos/upload/")
    root = page.locator("#uploader")
    assert root.get_attribute("data-direct-url") == "/api/v1/uploads/?creator=faraday"
    page.set_input_files("#picker", [str(data_dir / LECTURE), str(data_dir / CAPTIONS)])
    item = page.locator(".vid-item").first
    item.locator(".vid-item-title").fill("Candle II, straight to the bucket")
    page.screenshot(path=str(SHOTS / "videos-upload-s3-ready-1440.png"), full_page=True)

    page.click("#start-upload")
    expect(item).to_have_attribute("data-state", "error", timeout=60_000)
    assert "part 2" in item.locator(".vid-item-error").inner_text()
    assert puts.count(1) == 1 and puts.count(2) == 4  # tried 4 times, with backoff
    assert not Video.objects.exists()
    page.screenshot(path=str(SHOTS / "videos-upload-s3-paused-1440.png"), full_page=True)

    broken["part2"] = False
    page.click("#start-upload")
    expect(item).to_have_attribute("data-state", re.compile("done|error"), timeout=90_000)
    assert item.get_attribute("data-state") == "done", item.inner_text()
    assert puts.count(1) == 1 and puts.count(2) == 5  # only the missing part was sent again
    video = Video.objects.get()
    assert video.title == "Candle II, straight to the bucket"
    assert video.size_bytes == (data_dir / LECTURE).stat().st_size
    assert video.status == Video.Status.COMPLETED, video.error
    assert video.transcript_source == Video.TranscriptSource.CAPTIONS
    assert DirectUpload.objects.get().status == "completed"
    page.screenshot(path=str(SHOTS / "videos-upload-s3-done-1440.png"), full_page=True)

    mobile, mobile_errors = signed_in_page(browser, live_server, creator.owner, "375")
    mobile.goto(f"{live_server.url}/studio/{creator.handle}/videos/upload/")
    mobile.set_input_files("#picker", [str(data_dir / LECTURE), str(data_dir / CAPTIONS)])
    mobile.screenshot(path=str(SHOTS / "videos-upload-s3-375.png"), full_page=True)
    assert mobile.evaluate("document.documentElement.scrollWidth") <= 375
    # The aborted PUTs are the only console noise ("Failed to load resource" is filtered).
    assert [e for e in errors if "ERR_CONNECTION_RESET" not in e] == [] and mobile_errors == []


def test_without_javascript_the_form_posts_the_file_to_the_bucket(
    s3_studio,
    live_server,
    browser,  # noqa: F811  (the fixture imported above)
    data_dir,
    moto_endpoint,
):
    """JavaScript off: the page's plain form sends the file to the bucket (the browser's
    own POST, which the page route records), S3 sends the browser back, a worker checks
    the object and the video is processed; Chronos's server never receives the body."""
    from django.test import Client

    from videos.models import DirectUpload, Video

    creator = s3_studio
    client = Client()
    client.force_login(creator.owner)
    shots = {}
    for size, (width, height) in {"1440": (1440, 900), "375": (375, 812)}.items():
        context = browser.new_context(
            viewport={"width": width, "height": height}, java_script_enabled=False
        )
        context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value,
              "url": live_server.url}]
        )  # fmt: skip
        shots[size] = context.new_page()
    page = shots["1440"]
    page.goto(f"{live_server.url}/studio/{creator.handle}/videos/upload/")
    assert page.locator("#uploader").is_hidden()
    form = page.locator("#plain-upload")
    assert form.get_attribute("action").startswith(moto_endpoint)
    page.set_input_files("#s3-file", str(data_dir / "jfk.flac"))
    page.screenshot(path=str(SHOTS / "videos-upload-s3-nojs-1440.png"), full_page=True)
    # The redirect back runs the worker's check and the pipeline in this test (synchronous
    # queue), so the navigation may take a while on a loaded machine.
    page.click("#plain-upload button[type=submit]", no_wait_after=True)
    page.wait_for_selector("text=reached storage; it is being checked", timeout=300_000)
    # The file went to the bucket (a form upload's row knows its incoming key), not to
    # Chronos's upload view.
    upload = DirectUpload.objects.get()
    assert upload.source_key.startswith(f"{creator.handle}/incoming/")
    assert upload.status == "completed", upload.error
    video = Video.objects.get(pk=upload.video_id)
    assert video.file.name == f"{creator.handle}/videos/{video.pk}.flac"
    assert video.status == Video.Status.COMPLETED, video.error
    page.screenshot(path=str(SHOTS / "videos-upload-s3-nojs-done-1440.png"), full_page=True)
    mobile = shots["375"]
    mobile.goto(f"{live_server.url}/studio/{creator.handle}/videos/upload/")
    mobile.screenshot(path=str(SHOTS / "videos-upload-s3-nojs-375.png"), full_page=True)
    assert mobile.evaluate("document.documentElement.scrollWidth") <= 375


def test_the_page_follows_the_workers_check_of_each_file(
    s3_studio,
    live_server,
    browser,  # noqa: F811  (the fixture imported above)
    data_dir,
    monkeypatch,
    tmp_path,
):
    """With a real queue, "complete" answers 202 ("verifying") and the page keeps polling
    each upload: when the worker has checked the file it follows the new video; when the
    worker refused it (not media), it says why."""
    from django_q.conf import Conf

    from videos.models import DirectUpload, Video
    from videos.tasks import verify_direct_upload

    monkeypatch.setattr(Conf, "SYNC", False)  # tasks wait in the broker for a worker
    not_media = tmp_path / "notes.mp4"
    not_media.write_bytes(b"These are lecture notes, not a video.\n" * 5_000)
    creator = s3_studio
    page, errors = signed_in_page(browser, live_server, creator.owner)
    page.goto(f"{live_server.url}/studio/{creator.handle}/videos/upload/")
    page.set_input_files("#picker", [str(data_dir / LECTURE), str(not_media)])
    lecture, notes = page.locator(".vid-item").nth(0), page.locator(".vid-item").nth(1)
    page.click("#start-upload")
    wait_for(
        lambda: DirectUpload.objects.filter(status="verifying").count() == 2,
        "both uploads to wait for the worker",
    )
    expect(lecture).to_contain_text("Checking the file")
    expect(notes).to_contain_text("Checking the file")
    assert not Video.objects.exists()

    for upload in DirectUpload.objects.order_by("pk"):
        verify_direct_upload(upload.pk)  # what the worker runs
    expect(lecture).to_have_attribute("data-state", "done", timeout=60_000)
    expect(lecture).to_contain_text("Uploaded")
    expect(notes).to_have_attribute("data-state", "error", timeout=60_000)
    refusal = notes.locator(".vid-item-error").inner_text()
    assert refusal == DirectUpload.objects.get(filename="notes.mp4").error != ""
    assert Video.objects.count() == 1
    page.screenshot(path=str(SHOTS / "videos-upload-s3-worker-checked-1440.png"), full_page=True)
    assert errors == []
