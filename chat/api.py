"""REST API for chat (mounted under /api/v1/).

POST /api/v1/chat                         ask; {"stream": true} -> server-sent events
GET  /api/v1/chat/sessions?q=&creator=    the user's sessions (paginated)
GET/PATCH/DELETE /api/v1/chat/sessions/<id>
GET  /api/v1/chat/sessions/<id>/messages  (paginated, oldest first)
GET  /api/v1/chat/sessions/<id>/export?format=md|json

`creator` (body field or query parameter) names the creator by handle; it may be omitted
when the user can learn from exactly one creator. Auth: session (with CSRF for unsafe
methods, X-CSRFToken header) or HTTP Basic, through DRF's authenticators even in the two
plain views. Errors: {"error", "code", "fields"} (chronos.api): 400 bad input, 401 signed
out, 403 CSRF, 404 for anything not the user's, 503 on a provider outage.

POST /api/v1/chat is a sync view; a stream is an async iterator (chat.streaming.relay: the
DB and provider work runs in the request's own thread, the loop only relays events). The
export view is a plain Django view because DRF reserves the `format` query parameter for
content negotiation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import api_view
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from chat.citations import enrich_all
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
from chat.streaming import relay, sse_event, sse_response
from chronos.api import ERROR_RESPONSES, ErrorSerializer, error_json, page_of
from chronos.errors import DomainError
from chronos.schema import described_by
from creators.selectors import creator_for_api, creator_for_api_access

logger = logging.getLogger(__name__)

# The challenge a 401 carries (DRF's BasicAuthentication.authenticate_header).
BASIC_CHALLENGE = 'Basic realm="api"'


def sse_format(event: dict) -> bytes:
    """One server-sent event: `event: <name>\ndata: <json>\n\n` (the name is also kept
    inside the JSON)."""
    return sse_event(event["event"], json.dumps(event, default=str))


_STREAM_ERROR = sse_format({"event": "error", "message": "Something went wrong; please try again."})


def _sse(events: Iterator[dict]) -> Iterator[bytes]:
    for event in events:
        yield sse_format(event)


def _api_request(request: HttpRequest) -> Request:
    """The request as DRF sees it, authenticated by the API's own authenticators (session
    with DRF's CSRF check, or HTTP Basic: REST_FRAMEWORK settings) and parsers.

    Raises NotAuthenticated (401), AuthenticationFailed (bad Basic credentials, 401) or
    PermissionDenied (CSRF, 403): rendered by chronos.api like any API error."""
    drf_request = Request(
        request,
        parsers=[parser() for parser in api_settings.DEFAULT_PARSER_CLASSES],
        authenticators=[auth() for auth in api_settings.DEFAULT_AUTHENTICATION_CLASSES],
    )
    if not drf_request.user or not drf_request.user.is_authenticated:
        raise exceptions.NotAuthenticated()
    return drf_request


def _error(exc: Exception) -> JsonResponse:
    """An API error of a plain view, in the one shape (chronos.api.error_body)."""
    headers = {}
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        headers["WWW-Authenticate"] = BASIC_CHALLENGE
    return error_json(exc, headers=headers)


def _body(drf_request: Request) -> dict:
    data = drf_request.data
    if not isinstance(data, dict):
        raise DomainError("The request body must be a JSON object.", code="parse_error")
    if hasattr(data, "getlist"):  # a form post: keep video_ids as a list
        plain = {k: v for k, v in data.items()}
        if "video_ids" in data:
            plain["video_ids"] = data.getlist("video_ids")
        return plain
    return data


def _optional_int(data: dict, name: str) -> int | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise DomainError.for_field(name, f"{name} must be an integer.")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DomainError.for_field(name, f"{name} must be an integer.") from None


def _chat_args(data: dict) -> dict:
    video_ids = data.get("video_ids")
    if video_ids in (None, "", []):
        video_ids = None
    elif not isinstance(video_ids, list):
        raise DomainError.for_field("video_ids", "video_ids must be a list of integers.")
    else:
        try:
            video_ids = [int(v) for v in video_ids if not isinstance(v, bool)]
        except (TypeError, ValueError):
            raise DomainError.for_field("video_ids", "video_ids must be integers.") from None
    return {
        "message": data.get("message"),  # cleaned by the ask service (one rule)
        "session_id": _optional_int(data, "session_id"),
        "course_id": _optional_int(data, "course_id"),
        "video_ids": video_ids,
        # Asked from a lesson: the player's video and second (validated by the service).
        "video_id": _optional_int(data, "video_id"),
        "position": data.get("position"),
        "stream": wants_stream(data),
    }


def wants_stream(data: dict) -> bool:
    """Whether an ask's body asks for server-sent events: "stream" true, or a string
    "1"/"true"/"yes"/"on" (a form post), any case."""
    stream = data.get("stream", False)
    if isinstance(stream, str):
        return stream.lower() in ("1", "true", "yes", "on")
    return bool(stream)


# --- /api/schema/ (the payload dicts are the contract; these only describe them) ----------


class SessionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField(allow_blank=True)
    course_id = serializers.IntegerField(allow_null=True)
    video_ids = serializers.ListField(child=serializers.IntegerField())
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class MessageUsageSerializer(serializers.Serializer):
    model = serializers.CharField(allow_blank=True)
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cost_usd = serializers.DecimalField(max_digits=12, decimal_places=6)
    latency_ms = serializers.IntegerField()
    cached = serializers.BooleanField()


_COVERED = (
    "false: the videos do not cover the question (the answer says so; no citations). true "
    "with citations: answered from the videos; true without: the tutor's own words (a "
    "greeting or thanks, or a request to name the subject of a question like 'What is it "
    "used for?' asked with no earlier answer), which cost no question allowance"
)
_NEAREST = (
    "With covered false: the closest moments the videos come to the question (the same keys "
    "as citations), at most 3, offered as suggestions and not as the answer's sources; empty "
    "when nothing came close or the question is covered"
)


class MessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    role = serializers.ChoiceField(ChatMessage.Role.choices)
    content = serializers.CharField(allow_blank=True)
    content_html = serializers.CharField(allow_null=True, help_text="assistant messages only")
    citations = serializers.ListField(child=serializers.DictField())
    covered = serializers.BooleanField(help_text=_COVERED)
    nearest = serializers.ListField(child=serializers.DictField(), help_text=_NEAREST)
    usage = MessageUsageSerializer()
    created_at = serializers.DateTimeField()


_CREATOR = OpenApiParameter("creator", str, description="Studio handle (to learn from)")
_TAGS = ["chat"]


# --- /api/schema/ of the two plain views (documentation twins, never routed) -------------


class ChatAskSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=4000, help_text="The question (<= 4,000 chars)")
    creator = serializers.CharField(required=False, help_text="Studio handle (to learn from)")
    session_id = serializers.IntegerField(required=False, allow_null=True)
    course_id = serializers.IntegerField(required=False, allow_null=True)
    video_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    video_id = serializers.IntegerField(
        required=False, allow_null=True, help_text="Asked from a lesson: its video"
    )
    position = serializers.FloatField(
        required=False, allow_null=True, min_value=0, help_text="The player's second"
    )
    stream = serializers.BooleanField(
        required=False, default=False, help_text="true: answer as server-sent events"
    )


class AllowanceSerializer(serializers.Serializer):
    remaining = serializers.IntegerField(allow_null=True, help_text="null: unlimited")
    allowed = serializers.IntegerField(allow_null=True)
    period = serializers.ChoiceField(["day", "total", "month"])
    resets_at = serializers.DateTimeField(allow_null=True, help_text="null: never")
    few_left = serializers.BooleanField()
    text = serializers.CharField(allow_blank=True)


class ChatAnswerSerializer(serializers.Serializer):
    session_id = serializers.IntegerField()
    message_id = serializers.IntegerField()
    title = serializers.CharField(allow_blank=True)
    answer = serializers.CharField(allow_blank=True, help_text="Markdown")
    answer_html = serializers.CharField(allow_blank=True, help_text="Sanitised HTML")
    citations = serializers.ListField(child=serializers.DictField())
    covered = serializers.BooleanField(help_text=_COVERED)
    nearest = serializers.ListField(child=serializers.DictField(), help_text=_NEAREST)
    usage = MessageUsageSerializer()
    allowance = AllowanceSerializer()


_SSE = OpenApiResponse(
    {
        "type": "object",
        "description": "One server-sent event; `data` is JSON holding the event's name too",
        "properties": {
            "event": {"type": "string", "enum": ["session", "delta", "citations", "done", "error"]},
            "data": {"type": "string", "description": "JSON"},
        },
        "required": ["event", "data"],
    },
    description="With stream=true: server-sent events `session` ({session_id, title}), "
    "`delta`* ({text}), `citations` ({citations}), then `done` (the JSON answer's keys) or "
    "`error` ({message}).",
)


class ChatAskDoc(APIView):
    """Documentation twin of chat_endpoint (chronos.schema.described_by)."""

    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="v1_chat_ask",
        tags=_TAGS,
        request=ChatAskSerializer,
        responses={
            (200, "application/json"): ChatAnswerSerializer,
            (200, "text/event-stream"): _SSE,
            **ERROR_RESPONSES,
            429: ErrorSerializer,
            503: ErrorSerializer,
        },
        description="Ask a question; the answer cites the creator's videos. 429 past the "
        "burst limit or the allowance (Retry-After), 503 on a provider outage (the question "
        "is saved).",
    )
    def post(self, request: Request) -> Response:
        raise NotImplementedError  # never routed: chat_endpoint answers


class SessionExportDoc(APIView):
    """Documentation twin of session_export_view (chronos.schema.described_by)."""

    @extend_schema(
        operation_id="v1_chat_sessions_export",
        tags=_TAGS,
        description="The session as a download: Markdown (format=md, the default) or JSON "
        "({session, messages}; no token counts or costs).",
        parameters=[
            _CREATOR,
            OpenApiParameter("format", str, enum=["md", "json"], description="default md"),
        ],
        responses={
            (200, "text/markdown"): OpenApiResponse(OpenApiTypes.STR, description="md"),
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="json: {session, messages}"
            ),
            **ERROR_RESPONSES,
        },
    )
    def get(self, request: Request, session_id: int) -> Response:
        raise NotImplementedError  # never routed: session_export_view answers


# --- POST /api/v1/chat -----------------------------------------------------------------------


@described_by(ChatAskDoc)
@csrf_exempt
def chat_endpoint(request):
    """Ask a question. Body: {message, session_id?, course_id?, video_ids?, video_id?,
    position? (seconds), stream?, creator?}.

    200 -> {session_id, message_id, title, answer, answer_html, citations[], covered,
    nearest[], usage, allowance: {remaining, allowed, period, resets_at, few_left, text}};
    stream -> text/event-stream of session/delta*/citations/done (or error) events.
    400 bad input or empty library, 401 not signed in, 403 CSRF, 404 creator/session not the
    user's, 503 provider outage (the question is saved).

    A sync view: under ASGI Django runs it (and the middleware) in the request's one
    thread, and a stream's events are relayed to the event loop by chat.streaming.relay
    (the thread is used only while an event is made, never while the client reads);
    chronos.asgi serves JSON (non-stream) asks on its WSGI thread pool."""
    if request.method != "POST":
        return _error(exceptions.MethodNotAllowed(request.method))
    try:
        drf_request = _api_request(request)
        user = drf_request.user
        data = _body(drf_request)
        args = _chat_args(data)
        handle = data.get("creator") or request.GET.get("creator")
        creator, access = creator_for_api_access(user=user, handle=handle, learn=True)
        if args.pop("stream"):
            events = chat_ask_stream(user=user, creator=creator, access=access, **args)
            return sse_response(relay(_sse(events), on_error=_STREAM_ERROR))
        result = chat_ask(user=user, creator=creator, access=access, **args)
    except Exception as exc:
        return _error(exc)
    return JsonResponse(
        {
            "session_id": result.session_id,
            "message_id": result.message_id,
            "title": result.title,
            "answer": result.answer,
            "answer_html": result.answer_html,
            "citations": result.citations,
            "covered": result.covered,
            "nearest": result.nearest,
            "usage": result.usage,
            "allowance": result.allowance,
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
        "citations": enrich_all(message.citations or []),
        "covered": message.covered,
        "nearest": enrich_all(message.nearest or []),
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


@extend_schema(
    operation_id="v1_chat_sessions_list",
    tags=_TAGS,
    parameters=[_CREATOR, OpenApiParameter("q", str), OpenApiParameter("page", int)],
    responses={200: page_of("ChatSessionPage", SessionSerializer(many=True)), **ERROR_RESPONSES},
)
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


@extend_schema(
    methods=["GET"],
    tags=_TAGS,
    parameters=[_CREATOR],
    responses={200: SessionSerializer, **ERROR_RESPONSES},
)
@extend_schema(
    methods=["PATCH"],
    tags=_TAGS,
    parameters=[_CREATOR],
    request=inline_serializer(
        "ChatSessionRename", {"title": serializers.CharField(allow_blank=True)}
    ),
    responses={200: SessionSerializer, **ERROR_RESPONSES},
)
@extend_schema(
    methods=["DELETE"], tags=_TAGS, parameters=[_CREATOR], responses={204: None, **ERROR_RESPONSES}
)
@api_view(["GET", "PATCH", "DELETE"])
def session_detail(request: Request, session_id: int) -> Response:
    """GET the session; PATCH {"title"} renames it; DELETE removes it (204)."""
    creator = _creator(request)
    if request.method == "DELETE":
        session_delete(user=request.user, creator=creator, session_id=session_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
    if request.method == "PATCH":
        title = request.data.get("title") if hasattr(request.data, "get") else None
        session = session_rename(
            user=request.user, creator=creator, session_id=session_id, title=title
        )
        return Response(session_payload(session))
    session = session_get(user=request.user, creator=creator, session_id=session_id)
    return Response(session_payload(session))


@extend_schema(
    tags=_TAGS,
    parameters=[_CREATOR, OpenApiParameter("page", int)],
    responses={200: page_of("ChatMessagePage", MessageSerializer(many=True)), **ERROR_RESPONSES},
)
@api_view(["GET"])
def session_messages(request: Request, session_id: int) -> Response:
    """The session's messages, oldest first (paginated)."""
    creator = _creator(request)
    session = session_get(user=request.user, creator=creator, session_id=session_id)
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(messages_for_session(session=session), request)
    return paginator.get_paginated_response([message_payload(m) for m in page])


@described_by(SessionExportDoc)
def session_export_view(request, session_id: int) -> HttpResponse:
    """GET ?format=md|json -> the session as a download (session or Basic auth)."""
    if request.method != "GET":
        return _error(exceptions.MethodNotAllowed(request.method))
    try:
        user = _api_request(request).user
        creator = creator_for_api(user=user, handle=request.GET.get("creator"), learn=True)
        content, content_type = session_export(
            user=user, creator=creator, session_id=session_id, fmt=request.GET.get("format", "md")
        )
    except Exception as exc:
        return _error(exc)
    ext = "json" if content_type.startswith("application/json") else "md"
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="chronos-chat-{session_id}.{ext}"'
    return response
