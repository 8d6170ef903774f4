"""HTML views of courses: thin, access through courses.selectors, writes through
courses.services."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponseBase
from django.views.decorators.http import require_safe

from courses import selectors
from videos.views import serve_media


@login_required
@require_safe
def thumbnail(request: HttpRequest, pk: int) -> HttpResponseBase:
    """A course's uploaded thumbnail, for anyone who may open the course."""
    course = selectors.course_get_learnable(user=request.user, pk=pk)
    if not course.thumbnail:
        raise Http404("No thumbnail.")
    return serve_media(request, course.thumbnail)
