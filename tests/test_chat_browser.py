"""The chat page in a real browser (Debian's chromium through Playwright) against the live
server: a student asks about the ingested Faraday excerpt with the offline extractive
answerer, sees the answer stream in with citation cards, clicks a card and the player
plays from the cited second. Screenshots at 375 px and 1440 px go to /tmp/shots/.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.test import Client

from tests.factories import CreatorFactory, MembershipFactory

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path("/tmp/shots")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]
sync_api = pytest.importorskip("playwright.sync_api")

QUESTION = "Which bogs did the candle-wood come from?"
# Cue 13 of tests/data/faraday-candle-1-excerpt.json (108.615 s) says the candle-wood was
# "taken out of some of the bogs in Ireland".
OFF_TOPIC = "What is the offside rule in football?"


@pytest.fixture
def library(transactional_db, data_dir, settings, django_capture_on_commit_callbacks):
    """A creator whose library holds the Faraday excerpt, processed by the real pipeline,
    and a student with an active membership."""
    from videos.models import Video
    from videos.services import video_create

    settings.CHRONOS_ANSWERER = "extractive"
    settings.CHRONOS_EMBEDDER = "none"
    # Pro: the tests share one student, past the free tier's 3 questions (billing.limits).
    creator = CreatorFactory(handle="faraday", company_name="Royal Institution", tier="pro")
    with (
        open(data_dir / "faraday-candle-1-excerpt.mp4", "rb") as media,
        open(data_dir / "faraday-candle-1-excerpt.vtt", "rb") as captions,
        django_capture_on_commit_callbacks(execute=True),
    ):
        video = video_create(
            creator=creator,
            file=media,
            filename="faraday-candle-1-excerpt.mp4",
            title="The Chemical History of a Candle",
            captions=captions,
            captions_filename="faraday-candle-1-excerpt.vtt",
        )
    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED, video.error
    student = MembershipFactory(creator=creator).user
    return creator, student, video


@pytest.fixture
def asgi_server(transactional_db):
    """The ASGI app (what production runs: uvicorn) on a loopback port in this process, so
    it shares the test database. Static files through Django's ASGIStaticFilesHandler."""
    import uvicorn
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from django.core.asgi import get_asgi_application

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = ASGIStaticFilesHandler(get_asgi_application())
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        threading.Event().wait(0.05)
    assert server.started, "uvicorn did not start"
    yield SimpleNamespace(url=f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture(params=["wsgi", "asgi"])
def server(request):
    """pytest-django's live_server (threaded WSGI: the SSE response arrives whole) and
    uvicorn (ASGI: events arrive one by one, as in production)."""
    if request.param == "wsgi":
        srv = request.getfixturevalue("live_server")
        return SimpleNamespace(url=srv.url, streams=False, name="wsgi")
    srv = request.getfixturevalue("asgi_server")
    return SimpleNamespace(url=srv.url, streams=True, name="asgi")


@pytest.fixture
def browser():
    # Playwright's sync API runs an event loop in this thread; the ORM work is done before.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def signed_in_page(browser, server, user, *, width, height, mobile=False):
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
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": server.url}]
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    # Record whether the typing indicator and streamed text appeared before the final HTML,
    # and the SSE event names htmx's extension received, in arrival order (so the streaming
    # check does not depend on how the browser batches DOM updates).
    page.add_init_script(
        """
        window.__chat = {typing: false, deltaText: false, events: []};
        new MutationObserver(() => {
          if (document.querySelector('.msg-assistant .typing')) window.__chat.typing = true;
          const s = document.querySelector('.msg-assistant.is-streaming .msg-stream');
          if (s && s.textContent.trim()) window.__chat.deltaText = true;
        }).observe(document, {childList: true, subtree: true, characterData: true});
        document.addEventListener('htmx:sseBeforeMessage', (e) => {
          window.__chat.events.push(e.detail.type);
        });
        """
    )
    return page, errors


def ask(page, question):
    before = page.locator(".msg-assistant").count()
    page.fill("#chat-input", question)
    page.press("#chat-input", "Enter")
    page.wait_for_selector(f".msg-assistant:not(.is-streaming) >> nth={before}", timeout=30_000)
    page.wait_for_function("!document.querySelector('#chat-input').disabled")


def test_ask_stream_cite_and_play(library, server, browser):
    creator, student, video = library
    page, errors = signed_in_page(browser, server, student, width=1440, height=900)
    page.goto(f"{server.url}/learn/{creator.handle}/chat/")
    assert page.locator(".chat-starter").count() >= 1
    page.screenshot(path=str(SHOTS / f"chat-1440-new-{server.name}.png"))

    ask(page, QUESTION)
    assert page.evaluate("window.__chat.typing"), "no typing indicator was shown"
    if server.streams:
        events = page.evaluate("window.__chat.events")
        assert "delta" in events and "done" in events, events
        assert events.index("delta") < events.index("done"), "no streamed text before the answer"

    answer = page.locator(".msg-assistant").nth(0)
    assert "msg-error" not in (answer.get_attribute("class") or ""), answer.inner_text()
    assert "Ireland" in answer.inner_text()
    cards = answer.locator(".cite-card")
    n_cards = cards.count()
    assert n_cards >= 1
    first = cards.first
    assert first.locator(".cite-title").inner_text() == "The Chemical History of a Candle"
    assert re.fullmatch(r"▶ \d+:\d\d", first.locator(".cite-time").inner_text())
    # The conversation became a session: the URL and the drawer show it.
    page.wait_for_url(re.compile(r"/learn/faraday/chat/\d+/$"))
    page.wait_for_selector("#session-list .chat-session.is-current")
    session_id = re.search(r"/chat/(\d+)/$", page.url).group(1)
    assert page.get_attribute(".chat-head-actions a", "href") == (
        f"/learn/faraday/chat/{session_id}/export/?format=md"
    )

    # Click the card whose quote mentions Ireland: the player loads the video and plays
    # from that second.
    card = answer.locator(".cite-card", has_text="Ireland").first
    start = float(card.get_attribute("data-start"))
    assert 100 <= start <= 130  # cue 13 (108.6 s) or the cue that leads into it
    card.click()
    page.wait_for_function(
        """(start) => { const v = document.querySelector('#player');
             return v.readyState >= 1 && !v.seeking && v.currentTime >= start - 0.5
               && v.currentTime < start + 5; }""",
        arg=start,
        timeout=15_000,
    )
    page.wait_for_function(
        "(start) => { const v = document.querySelector('#player');"
        " return !v.paused && v.currentTime > start; }",
        arg=start,
        timeout=15_000,
    )
    player_src = page.eval_on_selector("#player", "v => v.currentSrc")
    assert f"/media/videos/{video.pk}/file/" in player_src
    assert "from " in page.inner_text("#player-meta")
    page.screenshot(path=str(SHOTS / f"chat-1440-answer-{server.name}.png"))

    # Same video again: it just seeks (no reload of the source).
    starts = [float(cards.nth(i).get_attribute("data-start")) for i in range(cards.count())]
    others = [i for i, s in enumerate(starts) if abs(s - start) > 3]
    if others:
        cards.nth(others[0]).click()
        page.wait_for_function(
            "(s) => Math.abs(document.querySelector('#player').currentTime - s) < 2",
            arg=starts[others[0]],
            timeout=10_000,
        )
        assert page.eval_on_selector("#player", "v => v.currentSrc") == player_src

    # Off-topic: a friendly "not covered" bubble and no cards.
    ask(page, OFF_TOPIC)
    last = page.locator(".msg-assistant").last
    assert "msg-uncovered" in last.get_attribute("class")
    assert "The videos don't cover this" in last.inner_text()
    assert last.locator(".cite-card").count() == 0
    page.screenshot(path=str(SHOTS / f"chat-1440-uncovered-{server.name}.png"))

    # Reloading renders the history on the server, cards included.
    page.reload()
    assert page.locator(".msg-user").count() == 2
    assert page.locator(".msg-assistant .cite-card").count() == n_cards

    # The drawer's menu: rename inline (htmx), search, then delete the open conversation.
    item = page.locator("#session-list .chat-session.is-current")
    item.locator("summary").click()
    page.screenshot(path=str(SHOTS / f"chat-1440-menu-{server.name}.png"))
    item.get_by_role("button", name="Rename").click()
    # Once htmx has settled the form, the caret is still in its field (the page's settle
    # handler used to move it to the chat box, so typing went there: once in eight runs the
    # Enter below did too, and the rename never came).
    page.wait_for_selector("#session-list .chat-session.is-editing:not(.htmx-settling)")
    assert page.evaluate("document.activeElement.name") == "title"
    page.fill("#session-list input[name=title]", "Candle-wood <b>notes</b>")
    page.press("#session-list input[name=title]", "Enter")
    page.wait_for_selector("#session-list .chat-session-title >> text=Candle-wood <b>notes</b>")
    # The heading comes in the same response, as an out-of-band swap: wait for it too.
    sync_api.expect(page.locator("#chat-title")).to_have_text("Candle-wood <b>notes</b>")
    page.fill(".chat-search", "zebra")
    page.wait_for_selector("#session-list >> text=No conversation matches")
    page.fill(".chat-search", "offside")  # found by message text, not title
    page.wait_for_selector("#session-list .chat-session")
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("#session-list .chat-session summary").click()
    page.locator("#session-list").get_by_role("button", name="Delete").click()
    page.wait_for_url(f"{server.url}/learn/{creator.handle}/chat/")
    assert page.locator("#session-list .chat-session").count() == 0
    assert not errors, errors


def test_mobile_layout_and_drawer(library, asgi_server, browser):
    creator, student, _video = library
    page, errors = signed_in_page(browser, asgi_server, student, width=375, height=812, mobile=True)
    page.goto(f"{asgi_server.url}/learn/{creator.handle}/chat/")
    page.screenshot(path=str(SHOTS / "chat-375-new.png"))
    # No horizontal scrolling at 375 px.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    # Shift+Enter is a new line, not a send.
    page.fill("#chat-input", "first line")
    page.press("#chat-input", "Shift+Enter")
    assert page.input_value("#chat-input") == "first line\n"
    assert page.locator(".msg-user").count() == 0

    # A suggested question (built from the video's title) finds an answer with sources.
    page.fill("#chat-input", "")
    page.locator(".chat-starter").first.click()
    page.wait_for_selector(".msg-assistant:not(.is-streaming)", timeout=30_000)
    assert "msg-uncovered" not in page.get_attribute(".msg-assistant", "class")
    page.wait_for_function("!document.querySelector('#chat-input').disabled")
    # Keyboard only: focus the first source and press Enter.
    page.locator(".msg-assistant .cite-card").first.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => { const v = document.querySelector('#player'); return v.readyState >= 1; }",
        timeout=15_000,
    )
    assert page.is_visible("#player")
    page.screenshot(path=str(SHOTS / "chat-375-answer.png"))

    # The conversation list is a drawer: hidden until opened, closes with Escape.
    assert not page.is_visible(".chat-search")
    page.click(".chat-drawer-open")
    page.wait_for_selector(".chat-search", state="visible")
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('.chat-sidebar')).transform === 'none'"
    )
    page.screenshot(path=str(SHOTS / "chat-375-drawer.png"))
    page.keyboard.press("Escape")
    page.wait_for_selector(".chat-search", state="hidden")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert not errors, errors


def test_errors_keep_the_question(library, asgi_server, browser, settings):
    """A rejected question (too long) and a provider outage (nothing listens on the LLM's
    port): each gives an inline error bubble, the question back in the composer, and the
    composer usable again."""
    creator, student, _video = library
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    settings.CHRONOS_ANSWERER = "anthropic"
    settings.ANTHROPIC_API_KEY = "sk-ant-test"
    settings.ANTHROPIC_BASE_URL = f"http://127.0.0.1:{dead_port}"
    settings.CHRONOS_PROVIDER_MAX_RETRIES = 0
    settings.CHRONOS_PROVIDER_TIMEOUT = 5.0
    page, _errors = signed_in_page(browser, asgi_server, student, width=1440, height=900)
    page.goto(f"{asgi_server.url}/learn/{creator.handle}/chat/")

    too_long = "candle " * 700  # 4,900 characters; the API accepts 4,000
    ask(page, too_long)
    assert "limited to 4000 characters" in page.locator(".msg-error").last.inner_text()
    assert page.input_value("#chat-input") == too_long.strip()

    ask(page, QUESTION)
    assert page.locator(".msg-error").count() == 2
    bubble = page.locator(".msg-error").last
    assert bubble.is_visible()
    assert bubble.get_attribute("class").count("msg-assistant")
    assert "did not respond" in bubble.inner_text()
    assert page.input_value("#chat-input") == QUESTION
    assert page.is_enabled("#chat-send")
    page.screenshot(path=str(SHOTS / "chat-1440-error.png"))


def test_questions_left_and_the_friendly_limit(library, asgi_server, browser):
    """A free-tier student (3 questions in total, billing.limits): after an answer the box
    says how many are left; the fourth question gets a friendly at-limit notice in the chat
    (not an error) and the question stays in the box."""
    from creators.models import Creator

    creator, student, _video = library
    Creator.objects.filter(pk=creator.pk).update(tier="free")
    page, errors = signed_in_page(browser, asgi_server, student, width=1440, height=900)
    page.goto(f"{asgi_server.url}/learn/{creator.handle}/chat/")
    ask(page, QUESTION)
    assert page.inner_text("#questions-left").strip() == "2 questions left."
    ask(page, OFF_TOPIC)
    ask(page, QUESTION)
    assert "used all your questions" in page.inner_text("#questions-left")
    ask(page, "What is candle-wood?")
    notice = page.locator(".msg-assistant").last
    assert "msg-limit" in notice.get_attribute("class")
    assert "No more questions for now" in notice.inner_text()
    assert "asked all 3 of your questions" in notice.inner_text()
    assert page.input_value("#chat-input") == "What is candle-wood?"
    page.screenshot(path=str(SHOTS / "chat-1440-limit.png"))
    page.set_viewport_size({"width": 375, "height": 812})
    notice.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "chat-375-limit.png"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert not errors, errors


def test_a_refusals_closest_moment_plays_from_its_second(library, asgi_server, browser):
    """A "not covered" reply that offers a closest moment (ChatMessage.nearest, stored as
    chat.services.answer makes it: a borderline refusal with the local embedder) shows it
    as an unnumbered card, not a source, and a click plays the video from that second."""
    from chat.models import ChatMessage, ChatSession

    creator, student, video = library
    session = ChatSession.objects.create(creator=creator, user=student, title="Bog wood")
    ChatMessage.objects.create(
        creator=creator, session=session, role="user", content="Where was old fuel dug up?"
    )
    moment = {
        "video_id": video.pk,
        "video_title": video.title,
        "start": 108.615,
        "end": 118.0,
        "quote": "taken out of some of the bogs in Ireland",
        "score": 1.5,
    }
    ChatMessage.objects.create(
        creator=creator,
        session=session,
        role="assistant",
        content="The videos don't cover this.",
        covered=False,
        nearest=[moment],
    )
    page, errors = signed_in_page(browser, asgi_server, student, width=1440, height=900)
    page.goto(f"{asgi_server.url}/learn/{creator.handle}/chat/{session.pk}/")
    reply = page.locator(".msg-assistant").last
    assert "msg-uncovered" in reply.get_attribute("class")
    assert "This moment comes closest" in reply.inner_text()
    assert reply.locator(".cite-card").count() == 0
    card = reply.locator(".near-card")
    assert card.count() == 1 and "Ireland" in card.inner_text()
    card.click()
    page.wait_for_function(
        """() => { const v = document.querySelector('#player');
             return v.readyState >= 1 && !v.seeking && !v.paused && v.currentTime >= 108
               && v.currentTime < 114; }""",
        timeout=15_000,
    )
    assert "is-playing" in card.get_attribute("class")
    page.screenshot(path=str(SHOTS / "chat-1440-closest-moment.png"))
    assert errors == []
