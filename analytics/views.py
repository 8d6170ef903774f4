"""Creator analytics pages under /studio/<handle>/analytics/ (owners and team only).

Thin function views: the creator comes from creators.selectors.creator_get_managed (a
student or another tenant gets a 404), the page's data from analytics.pages, every write
(the "Answer this" FAQ entry) from chat.faq. Times render in the creator's time zone.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from analytics import exports, pages, selectors
from analytics.ranges import DEFAULT_RANGE, PRESETS, DateRange, range_parse, tz_of, zone_for
from chronos.errors import DomainError
from creators.selectors import creator_get_managed

STUDENTS_PAGE_SIZE = 50
EXPORT_REPORTS = [
    ("videos", "Videos"),
    ("students", "Students"),
    ("questions", "Questions"),
    ("watch", "Watch sessions"),
]


def _int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        raise Http404("Not found.") from None


def _range(request: HttpRequest, creator, first=None) -> tuple[DateRange, str]:
    """The page's range, or the default one plus an error message for bad input."""
    tz = tz_of(creator)
    first = first or selectors.first_day(creator=creator)
    try:
        return range_parse(request.GET, tz=tz, first_day=first), ""
    except DomainError as exc:
        return range_parse({}, tz=tz, first_day=first), " ".join(exc.messages)


def _render(request, template: str, creator, rng: DateRange, error: str, context: dict):
    extra = "".join(
        f"&{k}={int(request.GET[k])}"
        for k in ("course", "video")
        if request.GET.get(k, "").isdigit()
    )
    context = {
        "extra_query": extra,
        "export_reports": EXPORT_REPORTS,
        "creator": creator,
        "studio_section": "analytics",
        "rng": rng,
        "range_error": error,
        "presets": [*PRESETS, "all"],
        "default_range": DEFAULT_RANGE,
        **context,
    }
    with timezone.override(zone_for(rng.tz)):  # times render in the creator's zone
        return render(request, template, context, status=400 if error else 200)


def _dashboard(request: HttpRequest, handle: str, course_id: int | None) -> HttpResponse:
    creator = creator_get_managed(user=request.user, handle=handle)
    first = selectors.first_day(creator=creator)
    rng, error = _range(request, creator, first)
    data = pages.dashboard(
        creator=creator,
        rng=rng,
        course_id=course_id,
        video_id=_int(request.GET.get("video")),
        first_day=first,
    )
    if not error:
        pages.dashboard_viewed(creator=creator, rng=rng, course_id=course_id)
    return _render(request, "analytics/dashboard.html", creator, rng, error, data)


@login_required
@require_safe
def dashboard(request: HttpRequest, handle: str) -> HttpResponse:
    """The whole-studio dashboard (?range=, ?from=&to=, ?course=, ?video=)."""
    return _dashboard(request, handle, _int(request.GET.get("course")))


@login_required
@require_safe
def course(request: HttpRequest, handle: str, course_id: int) -> HttpResponse:
    """The dashboard narrowed to one course (the course builder's Analytics tab)."""
    return _dashboard(request, handle, course_id)


@login_required
@require_safe
def video(request: HttpRequest, handle: str, pk: int) -> HttpResponse:
    """The video page's Analytics tab: engagement, confusion, the questions placed on it."""
    creator = creator_get_managed(user=request.user, handle=handle)
    rng, error = _range(request, creator)
    data = pages.video_page(creator=creator, video_id=pk, rng=rng)
    return _render(request, "analytics/video.html", creator, rng, error, data)


@login_required
@require_safe
def students(request: HttpRequest, handle: str) -> HttpResponse:
    """Every student active in the range (progress, watch time, questions, last active)."""
    creator = creator_get_managed(user=request.user, handle=handle)
    rng, error = _range(request, creator)
    total = selectors.students_count(creator=creator, rng=rng)
    page = Paginator(range(total), STUDENTS_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = (
        selectors.students(
            creator=creator, rng=rng, limit=STUDENTS_PAGE_SIZE, offset=page.start_index() - 1
        )
        if total
        else []
    )
    data = {"students": rows, "page": page, "total": total}
    return _render(request, "analytics/students.html", creator, rng, error, data)


@login_required
@require_safe
def student(request: HttpRequest, handle: str, user_id: int) -> HttpResponse:
    """One student: daily activity, lesson progress and their questions."""
    creator = creator_get_managed(user=request.user, handle=handle)
    rng, error = _range(request, creator)
    data = pages.student_page(creator=creator, user_id=user_id, rng=rng)
    return _render(request, "analytics/student.html", creator, rng, error, data)


@login_required
@require_POST
def answer(request: HttpRequest, handle: str, message_id: int) -> HttpResponse:
    """ "Answer this": the creator's answer to a not-covered question becomes a FAQ entry:
    their words (POST answer) and/or the closest moment they confirm (POST moment: its index
    among the moments the tutor's reply offered)."""
    from chat.faq import faq_create_from_message

    creator = creator_get_managed(user=request.user, handle=handle)
    moment = _int(request.POST.get("moment"))
    try:
        faq_create_from_message(
            creator=creator,
            user=request.user,
            message_id=message_id,
            answer=request.POST.get("answer", ""),
            moment=moment,
        )
    except DomainError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        gives = "your answer to" if moment is None else "that moment for"
        messages.success(request, f"Saved. The tutor now gives {gives} this and similar questions.")
    back = request.POST.get("next") or ""
    if not back.startswith(f"/studio/{creator.handle}/analytics/"):
        back = f"/studio/{creator.handle}/analytics/"
    return redirect(back + "#not-covered")


@login_required
@require_safe
def export_csv(request: HttpRequest, handle: str) -> HttpResponse:
    """CSV export: ?report=videos|students|questions|watch&from=YYYY-MM-DD&to=YYYY-MM-DD,
    streamed, UTF-8 with a BOM (Excel), named <handle>-<report>-<from>-<to>.csv."""
    creator = creator_get_managed(user=request.user, handle=handle)
    report = request.GET.get("report", "")
    try:
        rng = range_parse(
            request.GET, tz=tz_of(creator), first_day=selectors.first_day(creator=creator)
        )
        return exports.csv_download(creator=creator, report=report, rng=rng)
    except DomainError as exc:
        text = " ".join(exc.messages)
        return HttpResponse(text + "\n", status=400, content_type="text/plain; charset=utf-8")
