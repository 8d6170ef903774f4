"""The student's side under /learn/<handle>/: catalog, course outline, lesson player,
captions (WebVTT from the transcript) and notes. Managers see the same pages unlocked."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from chronos.errors import DomainError
from courses import selectors, services
from courses.captions import segments_to_vtt
from courses.watch_tickets import watch_ticket_issue
from creators.selectors import creator_get_learnable
from videos.selectors import segments_for_video
from videos.streaming import serve_media

__all__ = [
    "captions",
    "catalog",
    "course_page",
    "lesson_page",
    "note_add",
    "note_delete",
    "note_edit",
    "thumbnail",
]


def _enroll(request: HttpRequest, view: selectors.CourseView) -> None:
    """First visit of an entitled student enrols them (managers are not enrolled)."""
    if not view.manager and view.course.is_published:
        view.enrollment = services.enrollment_ensure(user=request.user, course=view.course)


@login_required
@require_safe
def catalog(request: HttpRequest, handle: str) -> HttpResponse:
    """The courses this student may take, with progress and "Continue"; chat one click away."""
    creator = creator_get_learnable(user=request.user, handle=handle)
    courses = list(selectors.courses_learnable(user=request.user, creator=creator))
    views = selectors.course_views(user=request.user, creator=creator, courses=courses)
    return render(
        request,
        "courses/catalog.html",
        {"creator": creator, "views": views, "active_tab": "courses"},
    )


@login_required
@require_safe
def course_page(request: HttpRequest, handle: str, pk: int) -> HttpResponse:
    """Outline with check marks, locks (why and when) and Start/Continue."""
    creator = creator_get_learnable(user=request.user, handle=handle)
    course = selectors.course_get_learnable(user=request.user, pk=pk, creator=creator)
    view = selectors.course_view(user=request.user, course=course)
    _enroll(request, view)
    return render(
        request,
        "courses/course.html",
        {"creator": creator, "view": view, "course": course, "active_tab": "courses"},
    )


@login_required
@require_safe
def lesson_page(request: HttpRequest, handle: str, pk: int, lesson_id: int) -> HttpResponse:
    """The player with captions, speed, resume, transcript, notes and "Ask about this
    lesson"; a locked lesson shows why and when instead of the player."""
    creator = creator_get_learnable(user=request.user, handle=handle)
    view, state = selectors.lesson_get_learnable(
        user=request.user, creator=creator, course_pk=pk, lesson_pk=lesson_id
    )
    _enroll(request, view)
    if state.visible and not state.locked:
        services.playable_verdict_stamp(user=request.user, lesson_id=lesson_id)
    playable = [s for s in view.states if s.visible]
    index = (
        next(i for i, s in enumerate(playable) if s.lesson.pk == lesson_id) if state.visible else 0
    )
    lesson = state.lesson
    context = {
        "creator": creator,
        "view": view,
        "course": view.course,
        "state": state,
        "lesson": lesson,
        "previous": playable[index - 1] if index > 0 else None,
        "next": playable[index + 1] if index + 1 < len(playable) else None,
        "segments": [] if state.locked else list(segments_for_video(video=lesson.video)),
        "notes": list(selectors.notes_for_lesson(user=request.user, lesson=lesson)),
        "active_tab": "courses",
        "events_url": reverse("api-watch-events"),
        "watch_ticket": watch_ticket_issue(
            user_id=request.user.pk,
            whop_user_id=request.user.whop_user_id,
            session_key=request.session.session_key or "",
        ),
    }
    return render(request, "courses/lesson.html", context, status=200)


def _playable(request: HttpRequest, handle: str, pk: int, lesson_id: int):
    creator = creator_get_learnable(user=request.user, handle=handle)
    view, state = selectors.lesson_get_learnable(
        user=request.user, creator=creator, course_pk=pk, lesson_pk=lesson_id
    )
    if state.locked or not state.visible:
        raise Http404("This lesson is locked.")
    return creator, view, state


@login_required
@require_safe
def captions(request: HttpRequest, handle: str, pk: int, lesson_id: int) -> HttpResponse:
    """The lesson video's transcript as WebVTT (text/vtt), for the player's <track>."""
    _creator, _view, state = _playable(request, handle, pk, lesson_id)
    body = segments_to_vtt(segments_for_video(video=state.lesson.video))
    response = HttpResponse(body, content_type="text/vtt; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    return response


def _notes(request: HttpRequest, creator, view, lesson, error: str = "", status: int = 200):
    context = {
        "creator": creator,
        "course": view.course,
        "lesson": lesson,
        "notes": list(selectors.notes_for_lesson(user=request.user, lesson=lesson)),
        "note_error": error,
    }
    return render(request, "courses/lesson.html#notes", context, status=status)


def _note_action(request: HttpRequest, handle: str, pk: int, lesson_id: int, action):
    creator, view, state = _playable(request, handle, pk, lesson_id)
    try:
        action(state.lesson)
    except DomainError as exc:
        if request.htmx:
            return _notes(request, creator, view, state.lesson, " ".join(exc.messages), 400)
    if request.htmx:
        return _notes(request, creator, view, state.lesson)
    return redirect("courses:lesson", handle=handle, pk=pk, lesson_id=lesson_id)


@login_required
@require_POST
def note_add(request: HttpRequest, handle: str, pk: int, lesson_id: int) -> HttpResponse:
    """A note at the player's current second (`position`, set by the page's script)."""
    return _note_action(
        request,
        handle,
        pk,
        lesson_id,
        lambda lesson: services.note_create(
            user=request.user,
            lesson=lesson,
            text=request.POST.get("text", ""),
            position=request.POST.get("position") or 0,
        ),
    )


@login_required
@require_POST
def note_edit(request: HttpRequest, handle: str, pk: int, lesson_id: int, note_id: int):
    note = selectors.note_get_own(user=request.user, pk=note_id)
    if note.lesson_id != lesson_id:
        raise Http404("No such note.")
    return _note_action(
        request,
        handle,
        pk,
        lesson_id,
        lambda lesson: services.note_update(note=note, text=request.POST.get("text", "")),
    )


@login_required
@require_POST
def note_delete(request: HttpRequest, handle: str, pk: int, lesson_id: int, note_id: int):
    note = selectors.note_get_own(user=request.user, pk=note_id)
    if note.lesson_id != lesson_id:
        raise Http404("No such note.")
    return _note_action(
        request, handle, pk, lesson_id, lambda lesson: services.note_delete(note=note)
    )


@login_required
@require_safe
def thumbnail(request: HttpRequest, pk: int) -> HttpResponseBase:
    """A course's uploaded thumbnail, for anyone who may open the course."""
    course = selectors.course_get_learnable(user=request.user, pk=pk)
    if not course.thumbnail:
        raise Http404("No thumbnail.")
    return serve_media(request, course.thumbnail)
