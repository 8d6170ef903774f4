"""The creator's video pages in a real browser (Debian's chromium through Playwright)
against the live server: the library's rows update live, a transcript line click seeks the
player to that line's start, and the upload page sends several files with per-file
progress and per-file errors. Screenshots at 375 px and 1440 px go to /tmp/shots/.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.test import Client

from tests.factories import CreatorFactory

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path("/tmp/shots")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
MP4 = "faraday-candle-1-excerpt.mp4"
VTT = "faraday-candle-1-excerpt.vtt"
SIZES = {"1440": (1440, 900, False), "375": (375, 812, True)}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]
sync_api = pytest.importorskip("playwright.sync_api")


def _create(creator, data_dir, capture, *, title, enqueue=True):
    from videos.services import video_create

    with (
        open(data_dir / MP4, "rb") as media,
        open(data_dir / VTT, "rb") as captions,
        capture(execute=True),
    ):
        video = video_create(
            creator=creator,
            file=media,
            filename=MP4,
            title=title,
            captions=captions,
            captions_filename=VTT,
            enqueue=enqueue,
        )
    video.refresh_from_db()
    return video


@pytest.fixture
def studio(transactional_db, data_dir, settings, django_capture_on_commit_callbacks):
    """A creator with one processed lecture (the real pipeline) and one still queued."""
    from videos.models import Video

    settings.CHRONOS_EMBEDDER = "none"
    creator = CreatorFactory(handle="faraday", company_name="Royal Institution")
    done = _create(
        creator, data_dir, django_capture_on_commit_callbacks,
        title="The Chemical History of a Candle, Lecture I",
    )  # fmt: skip
    assert done.status == Video.Status.COMPLETED, done.error
    queued = _create(
        creator, data_dir, django_capture_on_commit_callbacks,
        title="Lecture II (queued)", enqueue=False,
    )  # fmt: skip
    return creator, done, queued


@pytest.fixture
def browser():
    # Playwright's sync API runs an event loop in this thread; the ORM work is done before
    # or between page actions, never concurrently with the same connection.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _as_buffer(path: Path, mime: str) -> dict:
    # Playwright does not mix file paths and in-memory files in one call.
    return {"name": path.name, "mimeType": mime, "buffer": path.read_bytes()}


def signed_in_page(browser, live_server, user, size="1440"):
    width, height, mobile = SIZES[size]
    client = Client()
    client.force_login(user)
    # bypass_csp: Playwright's wait_for_function evaluates its predicate with eval, which
    # the app's CSP (script-src 'self') refuses; the CSP itself is tested in
    # tests/test_security_headers.py and the pages' own scripts are all static files.
    context = browser.new_context(
        viewport={"width": width, "height": height},
        is_mobile=mobile,
        has_touch=mobile,
        bypass_csp=True,
    )
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda m: m.type == "error" and "Failed to load resource" not in m.text
        and errors.append(m.text),
    )  # fmt: skip
    return page, errors


def test_library_rows_update_live(studio, live_server, browser):
    from videos.models import Video

    creator, _done, queued = studio
    page, errors = signed_in_page(browser, live_server, creator.owner)
    page.goto(f"{live_server.url}/studio/{creator.handle}/videos/")
    assert page.locator(".vid-row").count() == 2
    assert page.locator("#video-rows").get_attribute("data-polling") == "true"
    assert page.locator(f"#video-{queued.pk} .badge").inner_text().strip() == "Pending"
    page.screenshot(path=str(SHOTS / "videos-library-1440.png"), full_page=True)

    # The worker gives up on the queued video: the row shows it within a poll or two,
    # with the error and a Retry button, and polling stops (nothing is processing).
    Video.objects.filter(pk=queued.pk).update(
        status=Video.Status.FAILED,
        error="Transcription failed: the speech service timed out. Retry to run it again.",
    )
    page.wait_for_function(
        f"document.querySelector('#video-{queued.pk} .badge').textContent.includes('Failed')",
        timeout=10_000,
    )
    row = page.locator(f"#video-{queued.pk}")
    assert "timed out" in row.inner_text()
    assert row.get_by_role("button", name="Retry").is_visible()
    assert page.locator("#video-rows").get_attribute("data-polling") == "false"
    page.screenshot(path=str(SHOTS / "videos-library-failed-1440.png"), full_page=True)

    mobile, mobile_errors = signed_in_page(browser, live_server, creator.owner, "375")
    mobile.goto(f"{live_server.url}/studio/{creator.handle}/videos/")
    mobile.screenshot(path=str(SHOTS / "videos-library-375.png"), full_page=True)
    # No sideways scrolling at 375 px.
    assert mobile.evaluate("document.documentElement.scrollWidth") <= 375
    assert errors == [] and mobile_errors == []


def test_transcript_click_seeks_the_player(studio, live_server, browser):
    creator, done, _ = studio
    for size in ("1440", "375"):
        page, errors = signed_in_page(browser, live_server, creator.owner, size)
        page.goto(f"{live_server.url}/studio/{creator.handle}/videos/{done.pk}/")
        page.wait_for_function("document.getElementById('player').readyState >= 1")
        lines = page.locator(".vid-line")
        assert lines.count() == done.segments.count()
        segment = done.segments.order_by("index")[6]
        line = lines.nth(6)
        assert float(line.get_attribute("data-start")) == pytest.approx(segment.start)
        line.click()
        page.wait_for_function(
            f"Math.abs(document.getElementById('player').currentTime - {segment.start}) < 1.0",
            timeout=10_000,
        )
        page.wait_for_function("document.querySelectorAll('.vid-line.is-current').length === 1")
        current = page.locator(".vid-line.is-current")
        assert current.get_attribute("data-start") == line.get_attribute("data-start")
        page.evaluate("document.getElementById('player').pause(); window.scrollTo(0, 0)")
        page.screenshot(path=str(SHOTS / f"videos-detail-{size}.png"), full_page=True)
        if size == "375":
            assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert errors == [], errors


def test_upload_several_files_with_progress_and_errors(studio, live_server, browser, data_dir):
    from videos.models import Video

    creator, _, _ = studio
    before = set(Video.objects.values_list("pk", flat=True))
    page, errors = signed_in_page(browser, live_server, creator.owner)
    page.goto(f"{live_server.url}/studio/{creator.handle}/videos/upload/")
    assert page.locator("#plain-upload").is_hidden()  # JS replaces the plain form
    page.screenshot(path=str(SHOTS / "videos-upload-empty-1440.png"), full_page=True)

    # A lecture with its captions (paired by name) and a text file posing as a video.
    page.set_input_files(
        "#picker",
        [
            _as_buffer(data_dir / MP4, "video/mp4"),
            _as_buffer(data_dir / VTT, "text/vtt"),
            {"name": "notes.mp4", "mimeType": "video/mp4", "buffer": b"just some notes\n" * 64},
        ],
    )
    items = page.locator(".vid-item")
    assert items.count() == 2
    assert items.nth(0).locator(".vid-item-captions-name").inner_text() == VTT
    items.nth(0).locator(".vid-item-title").fill("Candle lecture, uploaded in the browser")
    page.click("#start-upload")
    page.wait_for_function(
        "[...document.querySelectorAll('.vid-item')].every("
        "el => el.dataset.state === 'done' || el.dataset.state === 'error')",
        timeout=60_000,
    )
    assert items.nth(0).get_attribute("data-state") == "done"
    assert items.nth(0).locator(".progress > span").get_attribute("style") == "width: 100%;"
    assert items.nth(1).get_attribute("data-state") == "error"
    message = items.nth(1).locator(".vid-item-error").inner_text()
    assert "notes.mp4" in message  # the server's own message, next to that file
    page.screenshot(path=str(SHOTS / "videos-upload-done-1440.png"), full_page=True)

    created = Video.objects.exclude(pk__in=before)
    assert [v.title for v in created] == ["Candle lecture, uploaded in the browser"]
    video = created.get()
    assert video.status == Video.Status.COMPLETED, video.error
    assert video.transcript_source == Video.TranscriptSource.CAPTIONS
    link = items.nth(0).locator(".vid-item-state a")
    assert link.get_attribute("href") == f"/studio/{creator.handle}/videos/{video.pk}/"

    mobile, mobile_errors = signed_in_page(browser, live_server, creator.owner, "375")
    mobile.goto(f"{live_server.url}/studio/{creator.handle}/videos/upload/")
    mobile.set_input_files("#picker", [str(data_dir / MP4), str(data_dir / VTT)])
    mobile.screenshot(path=str(SHOTS / "videos-upload-375.png"), full_page=True)
    assert mobile.evaluate("document.documentElement.scrollWidth") <= 375
    assert errors == [] and mobile_errors == []


def test_a_cut_off_video_offers_its_readable_part(
    transactional_db, data_dir, settings, live_server, browser, tmp_path
):
    """A cut-off upload fails with where it stops; the library row and the video page offer
    "Use the readable part (1:09)" beside Retry, at 1440 px and 375 px."""
    from tests.pipeline_support import create, process

    settings.CHRONOS_EMBEDDER = "none"
    creator = CreatorFactory(handle="faraday", company_name="Royal Institution")
    whole = (data_dir / MP4).read_bytes()
    half = tmp_path / "candle-lecture-export.mp4"
    half.write_bytes(whole[: len(whole) // 2])
    video = process(create(creator, half, captions=data_dir / VTT))
    assert "cut off at 1:09 of 3:08" in video.error
    for size in ("1440", "375"):
        page, errors = signed_in_page(browser, live_server, creator.owner, size)
        page.goto(f"{live_server.url}/studio/{creator.handle}/videos/")
        row = page.locator(f"#video-{video.pk}")
        assert row.get_by_role("button", name="Use the readable part (1:09)").is_visible()
        page.screenshot(path=str(SHOTS / f"videos-cut-off-library-{size}.png"), full_page=True)
        page.goto(f"{live_server.url}/studio/{creator.handle}/videos/{video.pk}/")
        assert "cut off at 1:09 of 3:08" in page.locator(".vid-error-box").inner_text()
        button = page.get_by_role("button", name="Use the readable part (1:09)")
        assert button.is_visible()
        page.screenshot(path=str(SHOTS / f"videos-cut-off-detail-{size}.png"), full_page=True)
        assert errors == []
        page.context.close()
