"""The student's chat page: /learn/<handle>/chat/ (HTML + htmx). A question is a form POST
(chat:ask): htmx gets the question's bubble and a pending answer back, which connects to
chat:stream with htmx's SSE extension; without JS the POST answers in full and redirects.

Views are thin: access goes through creators.selectors.creator_get_learnable (404 for a
creator the user may not study) and chat.selectors (a session that is not the user's own is
a 404). Writes go through chat.services. htmx requests get the named partial of
templates/chat/chat.html (django-template-partials).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.contrib import messages as django_messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing.services.allowances import question_allowance_status
from chat import answerers, selectors, services
from chat.presenters import message_view, refusal_views
from chat.streaming import relay, sse_event, sse_response
from chronos.errors import DomainError, NotFound
from creators.selectors import creator_get_learnable
from videos.selectors import library_state, recent_ready_titles

if TYPE_CHECKING:
    from creators.models import Creator

# How many sessions the drawer lists (the search box finds older ones).
SESSION_LIST_LIMIT = 50
# Export formats in the URL (?format=) -> chat.services.session_export's `fmt`.
EXPORT_FORMATS = {"md": ("markdown", "md"), "json": ("json", "json")}


def _sessions(*, request: HttpRequest, creator: Creator, query: str = "") -> list[Any]:
    return list(
        selectors.sessions_for_user(user=request.user, creator=creator, query=query)[
            :SESSION_LIST_LIMIT
        ]
    )


def _starter_questions(*, creator: Creator) -> list[str]:
    """Questions offered on an empty chat, one per ready video (newest three), built from
    titles: retrieval matches a title's words, so these always find an answer (a generic
    "summarise everything" does not: it has no topic words to search for)."""
    titles = recent_ready_titles(creator=creator, limit=3)
    phrasings = ("What are the main ideas in “{}”?", "What is “{}” about?")
    return [phrasings[i % 2].format(t) for i, t in enumerate(titles)]


def _chat_page(request: HttpRequest, *, creator: Creator, session: Any = None) -> HttpResponse:
    library = library_state(creator=creator)
    library_ready = library["ready"]
    # Not "messages": base.html shows django.contrib.messages under that name.
    chat_messages = (
        [
            message_view(message=m, handle=creator.handle)
            for m in selectors.messages_for_session(session=session, include_pending=True)
        ]
        if session is not None
        else []
    )
    context = {
        "creator": creator,
        "session": session,
        "chat_messages": chat_messages,
        "sessions": _sessions(request=request, creator=creator),
        "current_id": session.pk if session is not None else None,
        "library_ready": library_ready,
        "processing": library["processing"],
        "starters": (
            _starter_questions(creator=creator) if library_ready and not chat_messages else []
        ),
        "active_tab": "chat",
        # The offline answerer quotes the videos; an AI key gives fuller answers.
        "offline_answers": answerers.get_answerer().name == "extractive",
        # "2 questions left today" under the box when few remain (billing's allowance).
        "question_allowance": question_allowance_status(creator=creator, user=request.user),
    }
    return render(request, "chat/chat.html", context)


@login_required
@require_GET
def home(request: HttpRequest, handle: str) -> HttpResponse:
    """A new conversation with `handle`'s videos."""
    creator = creator_get_learnable(user=request.user, handle=handle)
    return _chat_page(request, creator=creator)


@login_required
@require_GET
def session_detail(request: HttpRequest, handle: str, session_id: int) -> HttpResponse:
    """One of the user's own conversations, its history rendered on the server."""
    creator = creator_get_learnable(user=request.user, handle=handle)
    session = selectors.session_get(user=request.user, creator=creator, session_id=session_id)
    return _chat_page(request, creator=creator, session=session)


@login_required
@require_GET
def sessions(request: HttpRequest, handle: str) -> HttpResponse:
    """htmx partial: the session list, filtered by ?q= (title and message text)."""
    creator = creator_get_learnable(user=request.user, handle=handle)
    query = request.GET.get("q", "").strip()[:200]
    try:
        current_id = int(request.GET.get("current", ""))
    except ValueError:
        current_id = None
    context = {
        "creator": creator,
        "sessions": _sessions(request=request, creator=creator, query=query),
        "current_id": current_id,
        "query": query,
    }
    return render(request, "chat/chat.html#session-list", context)


@login_required
@require_http_methods(["GET", "POST"])
def rename(request: HttpRequest, handle: str, session_id: int) -> HttpResponse:
    """GET: the inline rename form (htmx); ?cancel=1 gives the list item back.
    POST title: rename, answer the updated list item (htmx) or redirect to the session."""
    creator = creator_get_learnable(user=request.user, handle=handle)
    session = selectors.session_get(user=request.user, creator=creator, session_id=session_id)
    try:
        current_id = int(request.GET.get("current") or request.POST.get("current") or "")
    except ValueError:
        current_id = None
    context: dict[str, Any] = {"creator": creator, "s": session, "current_id": current_id}
    if request.method == "GET":
        name = "session-item" if request.GET.get("cancel") else "rename-form"
        return render(request, f"chat/chat.html#{name}", context)

    title = request.POST.get("title", "")
    error = ""
    try:
        session = services.session_rename(
            user=request.user, creator=creator, session_id=session.pk, title=title
        )
    except DomainError as exc:
        error = exc.message
    if error:
        context.update(error=error, title=title)
        if not request.htmx:
            django_messages.error(request, error)
            return redirect("chat:session", handle=creator.handle, session_id=session.pk)
        return render(request, "chat/chat.html#rename-form", context)
    if not request.htmx:
        return redirect("chat:session", handle=creator.handle, session_id=session.pk)
    context["s"] = session
    context["oob_title"] = current_id == session.pk
    return render(request, "chat/chat.html#session-item", context)


@login_required
@require_POST
def delete(request: HttpRequest, handle: str, session_id: int) -> HttpResponse:
    """Delete one of the user's conversations. htmx: the list item disappears (or, when the
    open conversation was deleted, the page goes to a new chat)."""
    creator = creator_get_learnable(user=request.user, handle=handle)
    session = selectors.session_get(user=request.user, creator=creator, session_id=session_id)
    session_url = reverse(
        "chat:session", kwargs={"handle": creator.handle, "session_id": session.pk}
    )
    services.session_delete(user=request.user, creator=creator, session_id=session.pk)
    home_url = reverse("chat:home", kwargs={"handle": creator.handle})
    if request.htmx:
        response = HttpResponse("")
        current = request.htmx.current_url_abs_path or ""
        if current.split("?")[0] == session_url:
            response["HX-Redirect"] = home_url
        return response
    return redirect(home_url)


@login_required
@require_GET
def export(request: HttpRequest, handle: str, session_id: int) -> HttpResponse:
    """Download a conversation: ?format=md (Markdown, default) or ?format=json."""
    creator = creator_get_learnable(user=request.user, handle=handle)
    session = selectors.session_get(user=request.user, creator=creator, session_id=session_id)
    fmt = request.GET.get("format", "md")
    if fmt not in EXPORT_FORMATS:
        return HttpResponse(
            "Unknown export format: use ?format=md or ?format=json.",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    service_fmt, extension = EXPORT_FORMATS[fmt]
    content, content_type = services.session_export(
        user=request.user, creator=creator, session_id=session.pk, fmt=service_fmt
    )
    response = HttpResponse(content, content_type=content_type)
    filename = f"{slugify(session.title or '') or 'conversation'}-{session.pk}.{extension}"
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def _session_chrome(request: HttpRequest, *, creator: Creator, session: Any) -> dict[str, Any]:
    """Context of chat/partials/session_oob.html (title, export, list, questions left)."""
    return {
        "creator": creator,
        "session": session,
        "sessions": _sessions(request=request, creator=creator),
        "current_id": session.pk,
        "question_allowance": question_allowance_status(creator=creator, user=request.user),
    }


def _lesson_panel(request: HttpRequest) -> bool:
    """The question came from a lesson page's "Ask about this lesson" panel (panel=lesson
    in the POST, or on the stream URL): its partials carry no chat-page chrome."""
    return (request.POST.get("panel") or request.GET.get("panel")) == "lesson"


def _ask_scope(request: HttpRequest) -> dict[str, Any]:
    """The optional scope fields of a question (validated by the service): course_id (a
    lesson's course), video_id and position (the lesson's video and the player's second)."""
    return {k: request.POST.get(k) or None for k in ("course_id", "video_id", "position")}


def _back(request: HttpRequest, *, creator: Creator) -> str:
    """Where a refused question goes without JS: `next` if it is a path on this site."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("chat:home", args=[creator.handle])


@login_required
@require_POST
def ask(request: HttpRequest, handle: str) -> HttpResponse:
    """POST message (or a starter question), session_id?, course_id?, video_id?, position?,
    panel? ("lesson"): save the question and its pending answer. htmx: the question + the
    pending answer, which streams itself in, + the session's chrome out of band
    (chat/partials/exchange.html; from a lesson, chat/partials/lesson_exchange.html: only the
    panel's session id); a refused question (bad input, allowance used up) comes back as a
    bubble that returns it to the composer. Without JS: answered in full, then a redirect
    to the session."""
    creator = creator_get_learnable(user=request.user, handle=handle)
    question = request.POST.get("message", "").strip() or request.POST.get("starter", "")
    try:
        pending = services.chat_question_save(
            user=request.user,
            creator=creator,
            message=question,
            session_id=request.POST.get("session_id") or None,
            **_ask_scope(request),
        )
    except NotFound:
        raise
    except DomainError as exc:
        if request.htmx:
            views = refusal_views(question=question, error=exc)
            return render(request, "chat/partials/exchange.html", {"chat_messages": views})
        django_messages.error(request, exc.message)
        return redirect(_back(request, creator=creator))
    if request.htmx and _lesson_panel(request):
        return _lesson_exchange(request, creator=creator, pending=pending)
    session = pending.session
    session_url = reverse("chat:session", args=[creator.handle, session.pk])
    if not request.htmx:
        for event in services.chat_answer_stream(
            user=request.user, creator=creator, message_id=pending.answer.pk
        ):
            if event["event"] == "error":
                django_messages.error(request, event["message"])
        return redirect(session_url)
    context = _session_chrome(request, creator=creator, session=session)
    context["new_session"] = pending.new_session
    context["chat_messages"] = [
        message_view(message=m, handle=creator.handle) for m in (pending.question, pending.answer)
    ]
    response = render(request, "chat/partials/exchange.html", context)
    if pending.new_session:
        response["HX-Replace-Url"] = session_url
    return response


def _lesson_exchange(request: HttpRequest, *, creator: Creator, pending: Any) -> HttpResponse:
    """The lesson panel's htmx answer: the question + the pending answer, whose stream URL
    asks for the panel's variant (no chat-page chrome in its final event)."""
    turns = (pending.question, pending.answer)
    views = [message_view(message=m, handle=creator.handle) for m in turns]
    views[1]["stream_url"] += "?panel=lesson"
    context = {"chat_messages": views, "session": pending.session}
    return render(request, "chat/partials/lesson_exchange.html", context)


def _answer_html_events(
    request: HttpRequest, *, creator: Creator, answer: Any, events: Iterator[dict]
) -> Iterator[bytes]:
    """The service's events as htmx SSE events: "delta" (escaped text, appended to the
    pending bubble), then "done" (the final message from chat/partials/message.html plus
    the session's chrome out of band, unless asked from a lesson; an error bubble when the
    answer failed)."""
    for event in events:
        if event["event"] == "delta":
            yield sse_event("delta", escape(event["text"]))
        elif event["event"] == "done":
            answer.refresh_from_db()
            html = render_to_string(
                "chat/partials/message.html",
                {"m": message_view(message=answer, handle=creator.handle)},
                request,
            )
            if not _lesson_panel(request):
                session = selectors.session_get(
                    user=request.user, creator=creator, session_id=answer.session_id
                )
                chrome = _session_chrome(request, creator=creator, session=session)
                html += render_to_string("chat/partials/session_oob.html", chrome, request)
            yield sse_event("done", html)
        elif event["event"] == "error":
            yield _error_event(request, answer=answer, message=event["message"])


def _error_event(request: HttpRequest, *, answer: Any, message: str) -> bytes:
    question = selectors.answer_question_get(answer=answer)
    view = refusal_views(question="", error=message)[0]
    view["retry"] = question.content if question else ""
    return sse_event("done", render_to_string("chat/partials/message.html", {"m": view}, request))


def _stream_start(request: HttpRequest, handle: str, session_id: int, message_id: int):
    creator = creator_get_learnable(user=request.user, handle=handle)
    answer = selectors.answer_turn_get(
        user=request.user, creator=creator, message_id=message_id, session_id=session_id
    )
    events = services.chat_answer_stream(
        user=request.user, creator=creator, message_id=answer.pk, session_id=session_id
    )
    error = _error_event(request, answer=answer, message="The answer stream broke off.")
    return _answer_html_events(request, creator=creator, answer=answer, events=events), error


@login_required
@require_GET
async def stream(request: HttpRequest, handle: str, session_id: int, message_id: int):
    """text/event-stream of one pending answer, for htmx's SSE extension (see
    _answer_html_events). Reconnect-safe (chat.services.reply); 404 for a turn that is not
    the user's own."""
    await request.auser()
    chunks, error = await sync_to_async(_stream_start)(request, handle, session_id, message_id)
    return sse_response(relay(chunks, on_error=error))
