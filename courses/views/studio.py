"""The course builder under /studio/<handle>/courses/ (creators and their team)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.postgres.search import SearchQuery
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from chronos.errors import DomainError
from courses import selectors, services
from courses.heat import video_citations
from courses.models import Course, Lesson, Module
from creators.selectors import creator_get_managed
from videos.handoff import upload_target
from videos.models import SEARCH_CONFIG, Video, VideoChunk
from videos.selectors import video_get_managed

__all__ = [
    "builder",
    "course_create_view",
    "course_delete_view",
    "course_settings",
    "lesson_add",
    "lesson_delete_view",
    "lesson_edit",
    "lesson_move_view",
    "module_add",
    "module_delete_view",
    "module_move_view",
    "module_rename",
    "order",
    "picker",
    "studio",
    "video_lessons",
]

PICKER_LIMIT = 30


def _course(request: HttpRequest, handle: str, pk: int) -> Course:
    creator = creator_get_managed(user=request.user, handle=handle)
    return selectors.course_get_managed(user=request.user, pk=pk, creator=creator)


def _module(course: Course, module_id: int) -> Module:
    module = Module.objects.filter(course=course, pk=module_id).first()
    if module is None:
        raise Http404("No such module.")
    return module


def _lesson(course: Course, lesson_id: int) -> Lesson:
    lesson = (
        Lesson.objects.filter(module__course=course, pk=lesson_id)
        .select_related("module__course", "video")
        .first()
    )
    if lesson is None:
        raise Http404("No such lesson.")
    return lesson


def _outline(request: HttpRequest, course: Course, error: str = "", status: int = 200):
    """The builder's outline partial (what every htmx edit returns)."""
    context = {
        "creator": course.creator,
        "course": course,
        "modules": selectors.course_structure(course=course),
        "error": error,
    }
    return render(request, "courses/builder.html#outline", context, status=status)


def _after_edit(request: HttpRequest, course: Course, action) -> HttpResponse:
    """Run `action()`; htmx gets the outline (with the error, 400, if one was raised),
    a plain form post is redirected back to the builder."""
    try:
        action()
    except DomainError as exc:
        message = " ".join(exc.messages)
        if request.htmx:
            return _outline(request, course, error=message, status=400)
        messages.error(request, message)
    if request.htmx:
        return _outline(request, course)
    return redirect("courses:builder", handle=course.creator.handle, pk=course.pk)


@login_required
@require_safe
def studio(request: HttpRequest, handle: str) -> HttpResponse:
    """Courses list (cards) with the create form."""
    creator = creator_get_managed(user=request.user, handle=handle)
    courses = list(selectors.courses_for_manager(creator=creator))
    views = selectors.course_views(user=request.user, creator=creator, courses=courses)
    return render(
        request,
        "courses/studio_list.html",
        {"creator": creator, "views": views, "studio_section": "courses"},
    )


@login_required
@require_POST
def course_create_view(request: HttpRequest, handle: str) -> HttpResponse:
    creator = creator_get_managed(user=request.user, handle=handle)
    try:
        course = services.course_create(
            creator=creator,
            title=request.POST.get("title", ""),
            description=request.POST.get("description", ""),
        )
    except DomainError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("courses:studio", handle=handle)
    return redirect("courses:builder", handle=handle, pk=course.pk)


@login_required
@require_safe
def builder(request: HttpRequest, handle: str, pk: int) -> HttpResponse:
    """The builder page: settings form and the outline of modules and lessons."""
    course = _course(request, handle, pk)
    return render(
        request,
        "courses/builder.html",
        {
            "creator": course.creator,
            "course": course,
            "modules": selectors.course_structure(course=course),
            "studio_section": "courses",
        },
    )


@login_required
@require_POST
def course_settings(request: HttpRequest, handle: str, pk: int) -> HttpResponse:
    """Save title, description, thumbnail, status and the "lessons in order" switch."""
    course = _course(request, handle, pk)
    try:
        services.course_update(
            course=course,
            title=request.POST.get("title", ""),
            description=request.POST.get("description", ""),
            status=request.POST.get("status", course.status),
            sequential=request.POST.get("sequential") == "on",
            thumbnail=request.FILES.get("thumbnail"),
            clear_thumbnail=request.POST.get("clear_thumbnail") == "on",
        )
        messages.success(request, "Course saved.")
    except DomainError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("courses:builder", handle=handle, pk=pk)


@login_required
@require_POST
def course_delete_view(request: HttpRequest, handle: str, pk: int) -> HttpResponse:
    course = _course(request, handle, pk)
    services.course_delete(course=course)
    messages.success(request, f"Deleted “{course.title}”.")
    return redirect("courses:studio", handle=handle)


@login_required
@require_POST
def order(request: HttpRequest, handle: str, pk: int) -> HttpResponse:
    """Drag-drop result: `item` values "m-<id>"/"l-<id>" in page order; each lesson belongs
    to the module before it. The whole order is replaced in one transaction."""
    course = _course(request, handle, pk)
    new_order: list[dict] = []
    for item in request.POST.getlist("item"):
        kind, _, ident = item.partition("-")
        if kind == "m":
            new_order.append({"id": ident, "lessons": []})
        elif kind == "l" and new_order:
            new_order[-1]["lessons"].append(ident)
    return _after_edit(
        request, course, lambda: services.course_order_set(course=course, order=new_order)
    )


@login_required
@require_POST
def module_add(request: HttpRequest, handle: str, pk: int) -> HttpResponse:
    course = _course(request, handle, pk)
    title = request.POST.get("title", "")
    return _after_edit(request, course, lambda: services.module_create(course=course, title=title))


@login_required
@require_POST
def module_rename(request: HttpRequest, handle: str, pk: int, module_id: int) -> HttpResponse:
    course = _course(request, handle, pk)
    module = _module(course, module_id)
    title = request.POST.get("title", "")
    return _after_edit(request, course, lambda: services.module_update(module=module, title=title))


@login_required
@require_POST
def module_delete_view(request: HttpRequest, handle: str, pk: int, module_id: int):
    course = _course(request, handle, pk)
    module = _module(course, module_id)
    return _after_edit(request, course, lambda: services.module_delete(module=module))


@login_required
@require_POST
def module_move_view(request: HttpRequest, handle: str, pk: int, module_id: int):
    course = _course(request, handle, pk)
    module = _module(course, module_id)
    direction = request.POST.get("direction", "")
    return _after_edit(
        request, course, lambda: services.module_move(module=module, direction=direction)
    )


@upload_target("Each file you upload becomes a lesson at the end of the module")
@login_required
@require_POST
def lesson_add(request: HttpRequest, handle: str, pk: int, module_id: int) -> HttpResponse:
    """Add a lesson playing the picked video (a processing video may be picked: the
    lesson shows to students once the video is ready)."""
    course = _course(request, handle, pk)
    module = _module(course, module_id)
    video_id = request.POST.get("video_id")
    return _after_edit(
        request, course, lambda: services.lesson_create(module=module, video_id=video_id)
    )


@login_required
@require_POST
def lesson_edit(request: HttpRequest, handle: str, pk: int, lesson_id: int) -> HttpResponse:
    """Title (blank: the video's), drip days and the free-preview flag."""
    course = _course(request, handle, pk)
    lesson = _lesson(course, lesson_id)
    return _after_edit(
        request,
        course,
        lambda: services.lesson_update(
            lesson=lesson,
            title=request.POST.get("title", ""),
            drip_days=request.POST.get("drip_days", "0") or "0",
            is_preview=request.POST.get("is_preview") == "on",
        ),
    )


@login_required
@require_POST
def lesson_delete_view(request: HttpRequest, handle: str, pk: int, lesson_id: int):
    course = _course(request, handle, pk)
    lesson = _lesson(course, lesson_id)
    return _after_edit(request, course, lambda: services.lesson_delete(lesson=lesson))


@login_required
@require_POST
def lesson_move_view(request: HttpRequest, handle: str, pk: int, lesson_id: int):
    """Keyboard/touch alternative to dragging: direction=up|down, or module=<id>."""
    course = _course(request, handle, pk)
    lesson = _lesson(course, lesson_id)
    target = request.POST.get("module")
    module = _module(course, int(target)) if target and target.isdigit() else None
    direction = request.POST.get("direction", "")
    return _after_edit(
        request,
        course,
        lambda: services.lesson_move(lesson=lesson, direction=direction, module=module),
    )


@login_required
@require_safe
def picker(request: HttpRequest, handle: str, pk: int, module_id: int) -> HttpResponse:
    """The library picker for "Add lesson": the creator's videos matching `q` in the title
    or the transcript (full-text), with duration, status and heat (citations relative to
    the most-cited video)."""
    course = _course(request, handle, pk)
    module = _module(course, module_id)
    query = request.GET.get("q", "").strip()[:200]
    videos = Video.objects.filter(creator=course.creator).order_by("-created_at")
    if query:
        spoken = VideoChunk.objects.filter(
            creator=course.creator,
            search_vector=SearchQuery(query, config=SEARCH_CONFIG, search_type="websearch"),
        ).values("video_id")
        videos = videos.filter(Q(title__icontains=query) | Q(pk__in=spoken))
    citations = video_citations(creator_id=course.creator_id)
    top = max(citations.values(), default=0)
    rows = [
        {
            "video": v,
            "citations": citations.get(v.pk, 0),
            "heat": citations.get(v.pk, 0) / top if top else 0,
        }
        for v in videos[:PICKER_LIMIT]
    ]
    template = (
        "courses/builder.html#picker-rows"
        if request.GET.get("rows")
        else "courses/builder.html#picker"
    )
    return render(
        request,
        template,
        {"creator": course.creator, "course": course, "module": module, "rows": rows, "q": query},
    )


@login_required
@require_safe
def video_lessons(request: HttpRequest, handle: str, video_id: int) -> HttpResponse:
    """Fragment for the video page: the lessons that use this video (the delete warning)."""
    creator = creator_get_managed(user=request.user, handle=handle)
    video = video_get_managed(user=request.user, creator=creator, pk=video_id)
    lessons = list(
        Lesson.objects.filter(video=video).select_related("module__course").order_by("id")
    )
    return render(
        request,
        "courses/video_lessons.html",
        {"creator": creator, "video": video, "lessons": lessons},
    )
