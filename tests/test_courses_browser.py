"""Courses in a real browser (Debian's chromium through Playwright): the creator drags a
lesson into another module and the order survives a reload; a student plays a real lesson,
the resume point and progress update and the next lesson unlocks; a student asks about a
lesson, the answer streams in with citations and a click seeks the lesson's player.
Screenshots at 375 px and 1440 px of the builder, catalog, course and lesson pages go to
/tmp/shots/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from courses import selectors
from tests.courses_support import make_course
from tests.test_chat_browser import asgi_server  # noqa: F401 (fixture)
from tests.test_video_browser import SHOTS, browser, signed_in_page  # noqa: F401 (fixture)

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


def _drag(page, source, target):
    """Press on `source`, move in small steps onto `target`, release (SortableJS's
    fallback drag follows mouse events)."""
    a, b = source.bounding_box(), target.bounding_box()
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    steps = 12
    for i in range(1, steps + 1):
        page.mouse.move(
            a["x"] + (b["x"] + b["width"] / 2 - a["x"]) * i / steps,
            a["y"] + (b["y"] + b["height"] / 2 + 4 - a["y"]) * i / steps,
        )
        page.wait_for_timeout(20)
    page.mouse.up()


def test_creator_drags_a_lesson_into_another_module(transactional_db, live_server, browser):  # noqa: F811
    from tests.factories import CreatorFactory

    creator = CreatorFactory(handle="faraday", company_name="Royal Institution")
    course, lessons = make_course(creator, modules=(("Flames", 2), ("Air", 1)))
    page, errors = signed_in_page(browser, live_server, creator.owner)
    url = f"{live_server.url}/studio/{creator.handle}/courses/{course.pk}/"
    page.goto(url)
    moving = page.locator(f'[data-lesson-id="{lessons[0].pk}"] .lesson-handle')
    target = page.locator(f'[data-lesson-id="{lessons[2].pk}"]')
    with page.expect_response(lambda r: r.url.endswith("/order/") and r.status == 200):
        _drag(page, moving, target)
    page.reload()
    air = page.locator(".builder-module").nth(1)
    assert air.locator(f'[data-lesson-id="{lessons[0].pk}"]').count() == 1
    order = [[ls.pk for ls in m.lesson_list] for m in selectors.course_structure(course=course)]
    assert lessons[0].pk in order[1] and order[0] == [lessons[1].pk]
    page.screenshot(path=str(SHOTS / "courses-builder-1440.png"), full_page=True)
    # The keyboard alternative in the same page: the lesson's ↑ button moves it back up.
    page.get_by_role("button", name=f"Move “{lessons[0].title}” up").first.click()
    page.wait_for_load_state("networkidle")
    mobile, mobile_errors = signed_in_page(browser, live_server, creator.owner, "375")
    mobile.goto(url)
    mobile.locator(".builder-add .btn").first.click()
    mobile.wait_for_selector(".picker-row")
    mobile.screenshot(path=str(SHOTS / "courses-builder-375.png"), full_page=True)
    assert mobile.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert not errors and not mobile_errors, errors + mobile_errors


@pytest.fixture
def school(transactional_db, data_dir, settings, django_capture_on_commit_callbacks):
    """A creator with two processed lectures (the real pipeline on the excerpt) in a
    published sequential course, and an enrolled-to-be student."""
    from courses import services
    from tests.factories import CreatorFactory, MembershipFactory
    from tests.test_video_browser import _create

    settings.CHRONOS_EMBEDDER = "none"
    creator = CreatorFactory(handle="faraday", company_name="Royal Institution")
    course = services.course_create(
        creator=creator, title="Faraday's Candle", description="**How a candle burns.**",
        sequential=True,
    )  # fmt: skip
    services.course_update(course=course, status="published")
    lessons = []
    for title in ("Lecture I: the flame", "Lecture II: brightness"):
        video = _create(creator, data_dir, django_capture_on_commit_callbacks, title=title)
        module = services.module_create(course=course, title=title.split(":")[0])
        lessons.append(services.lesson_create(module=module, video_id=video.pk))
    student = MembershipFactory(creator=creator).user
    return creator, course, lessons, student


def _progress(student, lesson):
    from courses.models import LessonProgress

    return LessonProgress.objects.filter(user=student, lesson=lesson).first()


def _shoot(page, name):
    page.screenshot(path=str(SHOTS / f"courses-{name}.png"), full_page=True)


def test_student_plays_a_lesson_resumes_and_unlocks_the_next(school, live_server, browser):  # noqa: F811
    creator, course, lessons, student = school
    base = f"{live_server.url}/learn/{creator.handle}"
    page, errors = signed_in_page(browser, live_server, student)
    page.goto(f"{base}/")
    assert page.get_by_role("link", name="Start").count() == 1
    _shoot(page, "catalog-1440")
    page.goto(f"{base}/courses/{course.pk}/lessons/{lessons[1].pk}/")
    assert page.locator("video").count() == 0 and "finish" in page.inner_text(".lesson-locked")

    page.goto(f"{base}/courses/{course.pk}/lessons/{lessons[0].pk}/")
    page.wait_for_function("document.getElementById('lesson-video').readyState >= 1")
    with page.expect_response(lambda r: "/watch-events/" in r.url and r.status == 202):
        page.evaluate("v = document.getElementById('lesson-video'); v.muted = true; v.play()")
    page.wait_for_function("document.getElementById('lesson-video').currentTime > 3")
    with page.expect_response(lambda r: "/watch-events/" in r.url and r.status == 202):
        page.evaluate("document.getElementById('lesson-video').pause()")
    row = _progress(student, lessons[0])
    assert row is not None and row.last_position > 3 and row.unique_seconds > 2
    # A transcript line follows playback; click-to-seek moves the player.
    assert page.locator(".tx-line.is-current").count() == 1
    _shoot(page, "lesson-1440")

    page.reload()
    page.wait_for_function("document.getElementById('lesson-video').currentTime > 3")
    resumed = page.evaluate("document.getElementById('lesson-video').currentTime")
    assert abs(resumed - row.last_position) < 0.5
    # Play to the end at 8x (the server accepts interval growth up to wall time x rate).
    page.evaluate(
        "v = document.getElementById('lesson-video'); v.muted = true; v.playbackRate = 8;"
        "v.currentTime = 0; v.play()"
    )
    with page.expect_response(
        lambda r: "/watch-events/" in r.url and '"ended"' in (r.request.post_data or ""),
        timeout=90_000,
    ):
        page.wait_for_function("document.getElementById('lesson-video').ended", timeout=90_000)
    row = _progress(student, lessons[0])
    assert row.completed_at is not None, (row.unique_seconds, row.played_intervals)
    assert row.last_position == 0  # completed and played to the end: start over next time

    page.click("#next-lesson")
    page.wait_for_selector("#lesson-video")
    page.goto(f"{base}/courses/{course.pk}/")
    assert "50%" in page.inner_text(".course-hero")
    assert page.locator(".outline-lesson.is-done").count() == 1
    _shoot(page, "course-1440")
    mobile, mobile_errors = signed_in_page(browser, live_server, student, "375")
    for name, url in [
        ("catalog", f"{base}/"),
        ("course", f"{base}/courses/{course.pk}/"),
        ("lesson", f"{base}/courses/{course.pk}/lessons/{lessons[1].pk}/"),
    ]:
        mobile.goto(url)
        _shoot(mobile, f"{name}-375")
        assert mobile.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), name
    assert not errors and not mobile_errors, errors + mobile_errors


def test_student_asks_about_a_lesson_and_a_citation_seeks_its_player(
    school, asgi_server, browser, settings  # noqa: F811
):  # fmt: skip
    """The lesson's "Ask about this lesson" panel on the chat's htmx flow, served by uvicorn
    (events arrive one by one): the question is asked within the course from the player's
    second, the answer streams into chat/partials/message.html, and a citation of this
    lesson's video seeks the lesson's own player (no chat-page chrome is swapped in)."""
    from chat.models import ChatMessage, ChatSession

    settings.CHRONOS_ANSWERER = "extractive"
    creator, course, lessons, student = school
    url = f"{asgi_server.url}/learn/{creator.handle}/courses/{course.pk}/lessons/{lessons[0].pk}/"
    pages = []
    for size in ("1440", "375"):
        page, errors = signed_in_page(browser, asgi_server, student, size)
        page.add_init_script(
            "window.__sse = []; document.addEventListener('htmx:sseBeforeMessage',"
            " e => window.__sse.push(e.detail.type));"
        )  # fmt: skip
        page.goto(url)
        page.wait_for_function("document.getElementById('lesson-video').readyState >= 1")
        page.evaluate("document.getElementById('lesson-video').currentTime = 100")
        page.wait_for_function("!document.getElementById('lesson-video').seeking")
        page.fill("#ask-text", "Which bogs did the candle-wood come from?")
        page.click("#ask-send")
        page.wait_for_selector("#ask-log .msg-assistant:not(.is-streaming)", timeout=30_000)
        page.wait_for_function("!document.getElementById('ask-send').disabled")
        events = page.evaluate("window.__sse")
        assert "delta" in events and events.index("delta") < events.index("done"), events
        answer = page.locator("#ask-log .msg-assistant")
        assert "Ireland" in answer.inner_text(), answer.inner_text()
        assert page.locator("#ask-log .msg-user").inner_text().startswith("Which bogs")
        assert page.locator("#chat-title, #session-list").count() == 0
        assert page.input_value("#ask-text") == ""
        pages.append((page, errors))

    # Asked within the course, from the lesson's video at the player's second.
    question = ChatMessage.objects.filter(role="user").order_by("pk").first()
    assert question.video_id == lessons[0].video_id and 99 <= question.video_position <= 101
    assert ChatSession.objects.filter(user=student, course=course).count() == 2
    assert page.input_value("#ask-session-id") != ""  # the next question continues it

    page, errors = pages[0]
    card = page.locator("#ask-log .cite-card", has_text="Ireland").first
    assert card.get_attribute("data-video-id") == str(lessons[0].video_id)
    page.evaluate("document.getElementById('lesson-video').muted = true")
    marker = page.locator("#ask-log .cite-marker").first  # "[n]" in the text, a button
    target = page.locator(f'#ask-log .cite-card[data-n="{marker.get_attribute("data-n")}"]')
    for clicked, cited in ((card, card), (marker, target)):
        page.evaluate("v = document.getElementById('lesson-video'); v.pause(); v.currentTime = 0")
        page.wait_for_function("!document.getElementById('lesson-video').seeking")
        start = float(cited.get_attribute("data-start"))
        clicked.click()
        page.wait_for_function(
            "(s) => { const v = document.getElementById('lesson-video');"
            " return !v.seeking && Math.abs(v.currentTime - s) < 3; }",
            arg=start,
            timeout=15_000,
        )
    assert len(page.context.pages) == 1  # seeking here, no new tab
    _shoot(page, "lesson-answer-1440")
    mobile, mobile_errors = pages[1]
    mobile.locator("#ask-log").scroll_into_view_if_needed()
    _shoot(mobile, "lesson-answer-375")
    assert mobile.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert not errors and not mobile_errors, errors + mobile_errors


def test_upload_from_the_picker_becomes_a_lesson_and_deleting_warns(
    transactional_db,
    live_server,
    browser,  # noqa: F811
    data_dir,
    settings,
):
    """ "Upload new video" in the builder's picker opens the upload flow, which hands each
    accepted upload to the module as a lesson; deleting a video that lessons use lists
    them in the confirm dialog (library list), and after the delete the builder marks the
    lesson "video removed"."""
    from courses.models import Lesson
    from tests.factories import CreatorFactory
    from tests.test_video_browser import MP4, VTT, _as_buffer
    from videos.models import Video

    settings.CHRONOS_EMBEDDER = "none"
    creator = CreatorFactory(handle="faraday", company_name="Royal Institution")
    course, lessons = make_course(creator, modules=(("Flames", 1),))
    module = lessons[0].module
    page, errors = signed_in_page(browser, live_server, creator.owner)
    builder = f"{live_server.url}/studio/{creator.handle}/courses/{course.pk}/"
    page.goto(builder)
    page.locator(".builder-add .btn").first.click()
    page.get_by_role("link", name="Upload new video").click()
    page.wait_for_selector(".vid-handoff")
    assert "becomes a lesson" in page.locator(".vid-handoff").inner_text()
    page.set_input_files(
        "#picker",
        [_as_buffer(data_dir / MP4, "video/mp4"), _as_buffer(data_dir / VTT, "text/vtt")],
    )
    page.locator(".vid-item-title").fill("Lecture II, uploaded from the course")
    page.click("#start-upload")
    page.wait_for_selector(".vid-handoff-state", timeout=180_000)
    assert page.locator(".vid-handoff-state").inner_text() == "Added to the course as a lesson"
    page.screenshot(path=str(SHOTS / "courses-upload-handoff-1440.png"), full_page=True)
    added = Lesson.objects.get(module=module, video__title="Lecture II, uploaded from the course")
    assert added.creator_id == creator.pk
    page.get_by_role("link", name="Back to the course").click()
    page.wait_for_selector(f'[data-lesson-id="{added.pk}"]')

    # Delete the first lesson's video from the library list: the dialog lists the lesson.
    dialogs: list[str] = []

    def answer(dialog, accept):
        dialogs.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.goto(f"{live_server.url}/studio/{creator.handle}/videos/")
    row = page.locator(f"#video-{lessons[0].video_id}")
    page.once("dialog", lambda d: answer(d, False))
    row.get_by_role("button", name="Delete").click()
    page.wait_for_function("true")
    page.wait_for_timeout(500)
    assert dialogs and "Used in 1 lesson" in dialogs[0], dialogs
    assert "Candles" in dialogs[0] and lessons[0].title in dialogs[0]
    assert Video.objects.filter(pk=lessons[0].video_id).exists()  # dismissed: kept
    page.once("dialog", lambda d: answer(d, True))
    with page.expect_navigation():
        row.get_by_role("button", name="Delete").click()
    assert not Video.objects.filter(pk=lessons[0].video_id).exists()
    page.goto(builder)
    assert "Video removed" in page.locator(f'[data-lesson-id="{lessons[0].pk}"]').inner_text()
    mobile, mobile_errors = signed_in_page(browser, live_server, creator.owner, "375")
    mobile.goto(
        f"{live_server.url}/studio/{creator.handle}/videos/upload/"
        f"?then=/studio/{creator.handle}/courses/{course.pk}/modules/{module.pk}/lessons/"
        f"&back=/studio/{creator.handle}/courses/{course.pk}/"
    )
    mobile.screenshot(path=str(SHOTS / "courses-upload-handoff-375.png"), full_page=True)
    assert mobile.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert not errors and not mobile_errors, errors + mobile_errors
