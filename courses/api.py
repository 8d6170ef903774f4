"""REST for courses under /api/v1/ (DRF function views over courses.services/selectors).

Creators manage, students read:
    GET/POST          /api/v1/courses/[?creator=<handle>]
    GET/PATCH/DELETE  /api/v1/courses/<id>/
    POST              /api/v1/courses/<id>/modules/          {title} -> 201 {id, ...}
    PATCH/DELETE      /api/v1/modules/<id>/
    POST              /api/v1/modules/<id>/lessons/          {video_id, title?, drip_days?,
                                                              is_preview?} -> 201 {id, ...}
    PATCH/DELETE      /api/v1/lessons/<id>/
    PUT               /api/v1/courses/<id>/order/            {modules: [{id, lessons: [id]}]}
    GET               /api/v1/courses/<id>/outline/          the acting user's outline
    POST              /api/v1/watch-events/                  {events: [...]} -> 202

Objects of a creator the caller may not manage (or, for reads, study) are a 404.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from chronos.api import ERROR_RESPONSES
from courses import selectors, services
from courses.models import Course, Lesson, Module
from courses.watch_tickets import WATCH_TICKET_HEADER, watch_ticket_issue
from creators.selectors import creator_for_api

if TYPE_CHECKING:
    from creators.models import Creator


def _creator_param(request: Request) -> str | None:
    handle = request.query_params.get("creator")
    if not handle and isinstance(request.data, dict):
        handle = request.data.get("creator")
    return handle or None


def _acting_creator(request: Request) -> tuple[Creator, bool]:
    """(creator, manages): the managed creator if there is one, else the learnable one."""
    handle = _creator_param(request)
    try:
        return creator_for_api(user=request.user, handle=handle), True
    except Http404:
        if request.method != "GET":
            raise
        return creator_for_api(user=request.user, handle=handle, learn=True), False


def thumbnail_url(
    request: Request, course: Course, first_video_id: int | None = None
) -> str | None:
    """The course's image as an absolute URL: its own upload, else the first lesson's video
    thumbnail; None when it has neither."""
    if course.thumbnail:
        return request.build_absolute_uri(reverse("courses:thumbnail", kwargs={"pk": course.pk}))
    if first_video_id:
        return request.build_absolute_uri(
            reverse("videos:thumbnail", kwargs={"pk": first_video_id})
        )
    return None


def course_data(request: Request, course: Course, view: selectors.CourseView | None = None) -> dict:
    """A course as the API returns it (URLs absolute). progress: percent 0-100 for the
    acting user."""
    first_video = None
    if view is not None:
        first_video = next((s.lesson.video_id for s in view.states if s.visible), None)
    data = {
        "id": course.pk,
        "creator": course.creator.handle,
        "title": course.title,
        "slug": course.slug,
        "description": course.description,
        "status": course.status,
        "sequential": course.sequential,
        "position": course.position,
        "thumbnail_url": thumbnail_url(request, course, first_video),
        "created_at": course.created_at,
        "updated_at": course.updated_at,
        "progress": view.progress if view is not None else 0,
    }
    if hasattr(course, "lesson_count"):
        data["lessons"] = course.lesson_count
        data["students"] = course.student_count
    return data


def module_data(module: Module) -> dict:
    return {
        "id": module.pk,
        "course_id": module.course_id,
        "title": module.title,
        "position": module.position,
    }


def lesson_data(lesson: Lesson) -> dict:
    return {
        "id": lesson.pk,
        "module_id": lesson.module_id,
        "video_id": lesson.video_id,
        "title": lesson.title,
        "position": lesson.position,
        "drip_days": lesson.drip_days,
        "is_preview": lesson.is_preview,
    }


class CourseInput(serializers.Serializer):
    title = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    description = serializers.CharField(required=False, allow_blank=True, max_length=100_000)
    status = serializers.CharField(required=False)
    sequential = serializers.BooleanField(required=False)


class TitleInput(serializers.Serializer):
    title = serializers.CharField(allow_blank=True, max_length=1000)


class LessonInput(serializers.Serializer):
    video_id = serializers.IntegerField(required=False)
    title = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    drip_days = serializers.IntegerField(required=False, min_value=0)
    is_preview = serializers.BooleanField(required=False)


# --- /api/schema/ (the dicts above are the contract; these only describe them) ----------


class CourseOutput(serializers.Serializer):
    id = serializers.IntegerField()
    creator = serializers.CharField()
    title = serializers.CharField(allow_blank=True)
    slug = serializers.CharField(allow_blank=True)
    description = serializers.CharField(allow_blank=True)
    status = serializers.CharField()
    sequential = serializers.BooleanField()
    position = serializers.IntegerField()
    thumbnail_url = serializers.URLField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    progress = serializers.IntegerField(help_text="percent 0-100 for the acting user")
    lessons = serializers.IntegerField(required=False)
    students = serializers.IntegerField(required=False)


class ModuleOutput(serializers.Serializer):
    id = serializers.IntegerField()
    course_id = serializers.IntegerField()
    title = serializers.CharField(allow_blank=True)
    position = serializers.IntegerField()


class LessonOutput(serializers.Serializer):
    id = serializers.IntegerField()
    module_id = serializers.IntegerField()
    video_id = serializers.IntegerField(allow_null=True)
    title = serializers.CharField(allow_blank=True)
    position = serializers.IntegerField()
    drip_days = serializers.IntegerField()
    is_preview = serializers.BooleanField()


class OutlineLessonOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField(allow_blank=True)
    video_id = serializers.IntegerField(allow_null=True)
    duration = serializers.FloatField(allow_null=True, help_text="seconds")
    locked = serializers.BooleanField()
    lock_reason = serializers.ChoiceField(["", "order", "drip"])
    unlocks_at = serializers.DateTimeField(allow_null=True)
    completed = serializers.BooleanField()
    watched_fraction = serializers.FloatField(help_text="0-1")
    resume_at = serializers.FloatField(help_text="seconds")
    is_preview = serializers.BooleanField()


class OutlineModuleOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField(allow_blank=True)
    lessons = OutlineLessonOutput(many=True)


class OutlineOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField(allow_blank=True)
    progress = serializers.IntegerField()
    modules = OutlineModuleOutput(many=True)


class OrderModule(serializers.Serializer):
    id = serializers.IntegerField()
    lessons = serializers.ListField(child=serializers.IntegerField())


class OrderInput(serializers.Serializer):
    modules = OrderModule(many=True)


class WatchEventsInput(serializers.Serializer):
    events = serializers.ListField(
        child=serializers.DictField(),
        help_text="[{lesson_id, session_id, seq, verb, position, from, to, rate, client_time}]",
    )


_TAGS = ["courses"]
_CREATOR = OpenApiParameter("creator", str, description="Studio handle")


@extend_schema(
    methods=["GET"],
    operation_id="v1_courses_list",
    tags=_TAGS,
    parameters=[_CREATOR],
    responses={
        200: inline_serializer("CourseList", {"results": CourseOutput(many=True)}),
        **ERROR_RESPONSES,
    },
)
@extend_schema(
    methods=["POST"],
    tags=_TAGS,
    parameters=[_CREATOR],
    request=CourseInput,
    responses={201: CourseOutput, **ERROR_RESPONSES},
)
@api_view(["GET", "POST"])
def course_list(request: Request) -> Response:
    """GET: a manager's courses (all), or a student's published ones, each with progress.
    POST {title, description?}: a new draft course; 201."""
    creator, manages = _acting_creator(request)
    if request.method == "POST":
        form = CourseInput(data=request.data)
        form.is_valid(raise_exception=True)
        course = services.course_create(
            creator=creator,
            title=form.validated_data.get("title", ""),
            description=form.validated_data.get("description", ""),
        )
        return Response(
            course_data(request, course),
            status=status.HTTP_201_CREATED,
            headers={
                "Location": request.build_absolute_uri(
                    reverse("api-course", kwargs={"pk": course.pk})
                )
            },
        )
    if manages:
        courses = list(selectors.courses_for_manager(creator=creator).select_related("creator"))
    else:
        courses = list(selectors.courses_learnable(user=request.user, creator=creator))
    views = selectors.course_views(user=request.user, creator=creator, courses=courses)
    return Response({"results": [course_data(request, v.course, v) for v in views]})


@extend_schema(methods=["GET"], tags=_TAGS, responses={200: CourseOutput, **ERROR_RESPONSES})
@extend_schema(
    methods=["PATCH"],
    tags=_TAGS,
    request=CourseInput,
    responses={200: CourseOutput, **ERROR_RESPONSES},
)
@extend_schema(methods=["DELETE"], tags=_TAGS, responses={204: None, **ERROR_RESPONSES})
@api_view(["GET", "PATCH", "DELETE"])
def course_detail(request: Request, pk: int) -> Response:
    """GET one course (students: published ones); PATCH {title?, description?, status?,
    sequential?}; DELETE it with everything in it (204)."""
    if request.method == "GET":
        course = selectors.course_get_learnable(user=request.user, pk=pk)
        return Response(
            course_data(request, course, selectors.course_view(user=request.user, course=course))
        )
    course = selectors.course_get_managed(user=request.user, pk=pk)
    if request.method == "DELETE":
        services.course_delete(course=course)
        return Response(status=status.HTTP_204_NO_CONTENT)
    form = CourseInput(data=request.data, partial=True)
    form.is_valid(raise_exception=True)
    course = services.course_update(course=course, **form.validated_data)
    return Response(
        course_data(request, course, selectors.course_view(user=request.user, course=course))
    )


@extend_schema(tags=_TAGS, request=TitleInput, responses={201: ModuleOutput, **ERROR_RESPONSES})
@api_view(["POST"])
def module_list(request: Request, pk: int) -> Response:
    """POST {title}: a module appended to the course; 201 {id, ...}."""
    course = selectors.course_get_managed(user=request.user, pk=pk)
    form = TitleInput(data=request.data)
    form.is_valid(raise_exception=True)
    module = services.module_create(course=course, title=form.validated_data["title"])
    return Response(module_data(module), status=status.HTTP_201_CREATED)


@extend_schema(
    methods=["PATCH"],
    tags=_TAGS,
    request=TitleInput,
    responses={200: ModuleOutput, **ERROR_RESPONSES},
)
@extend_schema(methods=["DELETE"], tags=_TAGS, responses={204: None, **ERROR_RESPONSES})
@api_view(["PATCH", "DELETE"])
def module_detail(request: Request, pk: int) -> Response:
    """PATCH {title}; DELETE the module and its lessons (204)."""
    module = selectors.module_get_managed(user=request.user, pk=pk)
    if request.method == "DELETE":
        services.module_delete(module=module)
        return Response(status=status.HTTP_204_NO_CONTENT)
    form = TitleInput(data=request.data, partial=True)
    form.is_valid(raise_exception=True)
    module = services.module_update(module=module, title=form.validated_data.get("title"))
    return Response(module_data(module))


@extend_schema(tags=_TAGS, request=LessonInput, responses={201: LessonOutput, **ERROR_RESPONSES})
@api_view(["POST"])
def lesson_list(request: Request, pk: int) -> Response:
    """POST {video_id, title?, drip_days?, is_preview?}: a lesson appended; 201 {id, ...}."""
    module = selectors.module_get_managed(user=request.user, pk=pk)
    form = LessonInput(data=request.data)
    form.is_valid(raise_exception=True)
    if "video_id" not in form.validated_data:
        raise serializers.ValidationError({"video_id": ["video_id is required."]})
    lesson = services.lesson_create(module=module, **form.validated_data)
    return Response(lesson_data(lesson), status=status.HTTP_201_CREATED)


@extend_schema(
    methods=["PATCH"],
    tags=_TAGS,
    request=LessonInput,
    responses={200: LessonOutput, **ERROR_RESPONSES},
)
@extend_schema(methods=["DELETE"], tags=_TAGS, responses={204: None, **ERROR_RESPONSES})
@api_view(["PATCH", "DELETE"])
def lesson_detail(request: Request, pk: int) -> Response:
    """PATCH {title?, drip_days?, is_preview?, video_id?}; DELETE (204)."""
    lesson = selectors.lesson_get_managed(user=request.user, pk=pk)
    if request.method == "DELETE":
        services.lesson_delete(lesson=lesson)
        return Response(status=status.HTTP_204_NO_CONTENT)
    form = LessonInput(data=request.data, partial=True)
    form.is_valid(raise_exception=True)
    lesson = services.lesson_update(lesson=lesson, **form.validated_data)
    return Response(lesson_data(lesson))


@extend_schema(
    tags=_TAGS,
    request=OrderInput,
    responses={
        200: inline_serializer("CourseOrder", {"modules": OrderModule(many=True)}),
        **ERROR_RESPONSES,
    },
)
@api_view(["PUT"])
def course_order(request: Request, pk: int) -> Response:
    """PUT {modules: [{id, lessons: [ids]}]}: the whole new order; 200 with the outline
    ids, 400 naming ids outside the course or left out."""
    course = selectors.course_get_managed(user=request.user, pk=pk)
    modules = request.data.get("modules") if isinstance(request.data, dict) else None
    services.course_order_set(course=course, order=modules)
    structure = selectors.course_structure(course=course)
    return Response(
        {"modules": [{"id": m.pk, "lessons": [ls.pk for ls in m.lesson_list]} for m in structure]}
    )


def outline_data(view: selectors.CourseView) -> dict:
    """{id, title, progress, modules: [{id, title, lessons: [{id, title, video_id,
    duration, locked, unlocks_at, completed, watched_fraction, resume_at}]}]}."""
    by_module: dict[int, list[dict]] = {}
    for state in view.states:
        by_module.setdefault(state.lesson.module_id, []).append(
            {
                "id": state.lesson.pk,
                "title": state.lesson.title,
                "video_id": state.lesson.video_id,
                "duration": state.duration,
                "locked": state.locked,
                "lock_reason": state.lock_reason,
                "unlocks_at": state.unlocks_at,
                "completed": state.completed,
                "watched_fraction": state.watched_fraction,
                "resume_at": state.resume_at,
                "is_preview": state.lesson.is_preview,
            }
        )
    return {
        "id": view.course.pk,
        "title": view.course.title,
        "progress": view.progress,
        "modules": [
            {"id": m.pk, "title": m.title, "lessons": by_module.get(m.pk, [])} for m in view.modules
        ],
    }


@extend_schema(tags=_TAGS, responses={200: OutlineOutput, **ERROR_RESPONSES})
@api_view(["GET"])
def course_outline(request: Request, pk: int) -> Response:
    """The course as the acting user sees it (locks, completion, resume points)."""
    course = selectors.course_get_learnable(user=request.user, pk=pk)
    return Response(outline_data(selectors.course_view(user=request.user, course=course)))


@extend_schema(
    tags=_TAGS,
    request=WatchEventsInput,
    responses={
        202: inline_serializer(
            "WatchEventsResult",
            {"accepted": serializers.IntegerField(), "duplicates": serializers.IntegerField()},
        ),
        **ERROR_RESPONSES,
    },
)
@api_view(["POST"])
def watch_events(request: Request) -> Response:
    """POST {events: [{lesson_id, session_id, seq, verb, position, from, to, rate,
    client_time}]} -> 202 {accepted, duplicates} (with a fresh X-Watch-Ticket header for a
    session); 400 {"events[<i>].<field>": [...]}."""
    events = request.data.get("events") if hasattr(request.data, "get") else None
    if isinstance(events, str):  # sendBeacon posts a form: events=<JSON>&csrfmiddlewaretoken=
        try:
            events = json.loads(events)
        except ValueError:
            events = None
    result = services.watch_events_record(user=request.user, events=events)
    response = Response(
        {"accepted": result.accepted, "duplicates": result.duplicates},
        status=status.HTTP_202_ACCEPTED,
    )
    if isinstance(request.successful_authenticator, SessionAuthentication):
        # A new watch ticket for the player (courses.watch_tickets): its next batches take
        # the fast lane without reading the session.
        response[WATCH_TICKET_HEADER] = watch_ticket_issue(
            user_id=request.user.pk,
            whop_user_id=request.user.whop_user_id,
            session_key=request.session.session_key or "",
        )
    return response
