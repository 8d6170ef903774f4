"""Courses in a real browser (Debian's chromium through Playwright): the creator drags a
lesson into another module and the order survives a reload; a student plays a real lesson,
the resume point and progress update and the next lesson unlocks. Screenshots at 375 px
and 1440 px of the builder, catalog, course and lesson pages go to /tmp/shots/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from courses import selectors
from tests.courses_support import make_course
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
