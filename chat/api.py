"""REST API for chat (mounted under /api/v1/).

POST /api/v1/chat                         ask; {"stream": true} -> server-sent events
GET  /api/v1/chat/sessions?q=&creator=    the user's sessions (paginated)
GET/PATCH/DELETE /api/v1/chat/sessions/<id>
GET  /api/v1/chat/sessions/<id>/messages  (paginated, oldest first)
GET  /api/v1/chat/sessions/<id>/export?format=md|json

`creator` (body field or query parameter) names the creator by handle; it may be omitted
when the user can learn from exactly one creator. Auth: session (with CSRF for unsafe
methods, X-CSRFToken header) or HTTP Basic. Errors: {"detail": "..."} plus per-field lists
for validation errors (400); 404 for anything not the user's; 503 on a provider outage.

POST /api/v1/chat is an async view returning an async iterator: under ASGI the event loop
relays the events while the DB and provider work of the question runs in the request's own
thread-sensitive executor thread (Django gives each request one), so a stream is served
without blocking the server's loop and is never buffered. The export view is a plain Django
view because DRF reserves the `format` query parameter for content negotiation.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from chat.answerers import AnswererError
from chat.citations import enrich
from chat.formatting import markdown_to_safe_html
from chat.models import ChatMessage, ChatSession
from chat.selectors import messages_for_session, session_get, sessions_for_user
from chat.services import (
    chat_ask,
    chat_ask_stream,
    session_delete,
    session_export,
    session_rename,
)
from chronos.input import BadInput, request_json
from creators.selectors import creator_for_api

logger = logging.getLogger(__name__)

_END = object()


def _error_payload(exc: ValidationError) -> dict:
    if hasattr(exc, "message_dict"):
        data: dict = {k: list(v) for k, v in exc.message_dict.items()}
        first = next(iter(data.values()), [""])
        data["detail"] = first[0] if first else "Invalid input."
        return data
    return {"detail": " ".join(exc.messages)}


def _next_event(events: Iterator[dict]):
    try:
        return next(events)
    except StopIteration:
        return _END


def _in_thread(fn, *args, **kwargs):
    """Run blocking DB/provider work off the event loop. Django's ASGI handler gives each
    request its own thread-sensitive executor thread, so questions run in parallel and one
    request's work always happens in the same thread (one DB connection)."""
    return sync_to_async(fn)(*args, **kwargs)


async def _events_in_thread(events: Iterator[dict]) -> AsyncIterator[dict]:
    """Relay a sync event generator to the event loop, one event per hop to the request's
    thread. A client that goes away closes the generator (no further provider reads)."""
    try:
        while True:
            try:
                item = await sync_to_async(_next_event)(events)
            except Exception:
                logger.exception("chat stream failed")
                yield {"event": "error", "message": "Something went wrong; please try again."}
                return
            if item is _END:
                return
            yield item
    finally:
        await sync_to_async(events.close)()  # type: ignore[attr-defined]


def sse_format(event: dict) -> bytes:
    """One server-sent event: `event: <name>\\ndata: <json>\\n\\n` (the name is also kept
    inside the JSON)."""
    return f"event: {event['event']}\ndata: {json.dumps(event, default=str)}\n\n".encode()


async def _sse(events: Iterator[dict]) -> AsyncIterator[bytes]:
    async for event in _events_in_thread(events):
        yield sse_format(event)


class _CSRFCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):
        return reason


def _csrf_failure(request) -> str | None:
    """The CSRF failure reason for a session-authenticated unsafe request, else None (as
    DRF's SessionAuthentication.enforce_csrf does)."""
    check = _CSRFCheck(lambda req: None)
    check.process_request(request)
    return check.process_view(request, None, (), {})


def _basic_user(request):
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        raw = base64.b64decode(header.split(" ", 1)[1].strip()).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    username, _, password = raw.partition(":")
    # One authenticate() per attempt (allauth's backend also reads `username` as the e-mail),
    # so django-axes counts each failed attempt once.
    user = authenticate(request, username=username, password=password)
    return user if user is not None and user.is_active else None


def _parse_body(request) -> dict:
    ctype = request.content_type or ""
    if ctype.startswith("application/json") or (request.body and not request.POST):
        try:
            data = request_json(request, default={})
        except BadInput as exc:
            raise ValidationError({exc.field or "detail": [exc.message]}) from None
        if not isinstance(data, dict):
            raise ValidationError({"detail": ["The request body must be a JSON object."]})
        return data
    data = {k: v for k, v in request.POST.items()}
    if "video_ids" in request.POST:
        data["video_ids"] = request.POST.getlist("video_ids")
    return data


def _optional_int(data: dict, name: str) -> int | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ValidationError({name: [f"{name} must be an integer."]})
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError({name: [f"{name} must be an integer."]}) from None


def _chat_args(data: dict) -> dict:
    message = data.get("message")
    if not isinstance(message, str) or not message.strip():
        raise ValidationError({"message": ["Type a question first."]})
    video_ids = data.get("video_ids")
    if video_ids in (None, "", []):
        video_ids = None
    elif not isinstance(video_ids, list):
        raise ValidationError({"video_ids": ["video_ids must be a list of integers."]})
    else:
        try:
            video_ids = [int(v) for v in video_ids if not isinstance(v, bool)]
        except (TypeError, ValueError):
            raise ValidationError({"video_ids": ["video_ids must be integers."]}) from None
    stream = data.get("stream", False)
    if isinstance(stream, str):
        stream = stream.lower() in ("1", "true", "yes", "on")
    return {
        "message": message,
        "session_id": _optional_int(data, "session_id"),
        "course_id": _optional_int(data, "course_id"),
        "video_ids": video_ids,
        "stream": bool(stream),
    }


# --- POST /api/v1/chat -----------------------------------------------------------------------


@csrf_exempt
async def chat_endpoint(request):
    """Ask a question. Body: {message, session_id?, course_id?, video_ids?, stream?, creator?}.

    200 -> {session_id, message_id, title, answer, answer_html, citations[], covered, usage};
    stream -> text/event-stream of session/delta*/citations/done (or error) events.
    400 bad input or empty library, 401 not signed in, 403 CSRF, 404 creator/session not the
    user's, 503 provider outage (the question is saved)."""
    if request.method != "POST":
        return JsonResponse({"detail": f'Method "{request.method}" not allowed.'}, status=405)
    user = await request.auser()
    if user.is_authenticated:
        reason = await sync_to_async(_csrf_failure)(request)
        if reason:
            return JsonResponse({"detail": f"CSRF Failed: {reason}"}, status=403)
    else:
        user = await sync_to_async(_basic_user)(request)
        if user is None:
            return JsonResponse(
                {"detail": "Authentication credentials were not provided."},
                status=401,
                headers={"WWW-Authenticate": 'Basic realm="api"'},
            )
    try:
        data = _parse_body(request)
        args = _chat_args(data)
        handle = data.get("creator") or request.GET.get("creator")
        creator = await _in_thread(creator_for_api, user=user, handle=handle, learn=True)
        stream = args.pop("stream")
        if stream:
            events = await _in_thread(chat_ask_stream, user=user, creator=creator, **args)
            response = StreamingHttpResponse(_sse(events), content_type="text/event-stream")
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Buffering"] = "no"
            return response
        result = await _in_thread(chat_ask, user=user, creator=creator, **args)
    except ValidationError as exc:
        return JsonResponse(_error_payload(exc), status=400)
    except Http404 as exc:
        return JsonResponse({"detail": str(exc) or "Not found."}, status=404)
    except AnswererError as exc:
        return JsonResponse({"detail": str(exc)}, status=503)
    return JsonResponse(
        {
            "session_id": result.session_id,
            "message_id": result.message_id,
            "title": result.title,
            "answer": result.answer,
            "answer_html": result.answer_html,
            "citations": result.citations,
            "covered": result.covered,
            "usage": result.usage,
        }
    )


# --- sessions (DRF) --------------------------------------------------------------------------


def _creator(request: Request):
    return creator_for_api(
        user=request.user, handle=request.query_params.get("creator"), learn=True
    )


def session_payload(session: ChatSession) -> dict:
    return {
        "id": session.pk,
        "title": session.title,
        "course_id": session.course_id,
        "video_ids": session.video_ids,
        "created_at": session.created_at.isoformat(),
        "updated_at": session.updated_at.isoformat(),
    }


def message_payload(message: ChatMessage) -> dict:
    return {
        "id": message.pk,
        "role": message.role,
        "content": message.content,
        "content_html": markdown_to_safe_html(message.content)
        if message.role == ChatMessage.Role.ASSISTANT
        else None,
        "citations": [enrich(c) for c in message.citations or []],
        "covered": message.covered,
        "usage": {
            "model": message.model,
            "input_tokens": message.input_tokens,
            "output_tokens": message.output_tokens,
            "cost_usd": str(message.cost_usd),
            "latency_ms": message.latency_ms,
            "cached": message.cached,
        },
        "created_at": message.created_at.isoformat(),
    }


def _validation_response(exc: ValidationError) -> Response:
    return Response(_error_payload(exc), status=status.HTTP_400_BAD_REQUEST)


@api_view(["GET"])
def sessions_list(request: Request) -> Response:
    """The user's sessions with the creator, newest first; ?q= searches titles and text."""
    creator = _creator(request)
    qs = sessions_for_user(
        user=request.user, creator=creator, query=request.query_params.get("q", "")
    )
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(qs, request)
    return paginator.get_paginated_response([session_payload(s) for s in page])


@api_view(["GET", "PATCH", "DELETE"])
def session_detail(request: Request, session_id: int) -> Response:
    """GET the session; PATCH {"title"} renames it; DELETE removes it (204)."""
    creator = _creator(request)
    if request.method == "DELETE":
        session_delete(user=request.user, creator=creator, session_id=session_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
    if request.method == "PATCH":
        title = request.data.get("title") if hasattr(request.data, "get") else None
        try:
            session = session_rename(
                user=request.user, creator=creator, session_id=session_id, title=title
            )
        except ValidationError as exc:
            return _validation_response(exc)
        return Response(session_payload(session))
    session = session_get(user=request.user, creator=creator, session_id=session_id)
    return Response(session_payload(session))


@api_view(["GET"])
def session_messages(request: Request, session_id: int) -> Response:
    """The session's messages, oldest first (paginated)."""
    creator = _creator(request)
    session = session_get(user=request.user, creator=creator, session_id=session_id)
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(messages_for_session(session=session), request)
    return paginator.get_paginated_response([message_payload(m) for m in page])


def session_export_view(request, session_id: int) -> HttpResponse:
    """GET ?format=md|json -> the session as a download (session or Basic auth)."""
    if request.method != "GET":
        return JsonResponse({"detail": f'Method "{request.method}" not allowed.'}, status=405)
    user = request.user if request.user.is_authenticated else _basic_user(request)
    if user is None:
        return JsonResponse({"detail": "Authentication credentials were not provided."}, status=401)
    fmt = request.GET.get("format", "md")
    try:
        creator = creator_for_api(user=user, handle=request.GET.get("creator"), learn=True)
        content, content_type = session_export(
            user=user, creator=creator, session_id=session_id, fmt=fmt
        )
    except ValidationError as exc:
        return JsonResponse(_error_payload(exc), status=400)
    except Http404 as exc:
        return JsonResponse({"detail": str(exc) or "Not found."}, status=404)
    ext = "json" if content_type.startswith("application/json") else "md"
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="chronos-chat-{session_id}.{ext}"'
    return response
