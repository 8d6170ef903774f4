"""The creator's video pages (library, upload, video page) and the access-checked media
routes (the HTTP Range serving itself is videos.streaming).

Thin function views: the tenant comes from creators.selectors, the video from
videos.selectors (both scoped to request.user; anything else is a 404), every write from
videos.services. htmx requests get a partial of the same template (django-template-partials).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from chronos.errors import DomainError
from creators.selectors import creator_get_managed
from videos import services, uploads
from videos.forms import (
    CAPTIONS_ACCEPT,
    MEDIA_ACCEPT,
    VideoEditForm,
    VideoUploadForm,
    error_field,
)
from videos.handoff import handoff_for
from videos.models import Video
from videos.selectors import (
    form_uploads_recent,
    segments_for_video,
    video_get_managed,
    video_get_viewable,
    videos_for_creator,
)
from videos.streaming import serve_media
from videos.uploads import direct_uploads_enabled

LIBRARY_PAGE_SIZE = 50
# Seconds between library/video-page status polls while something is processing.
POLL_SECONDS = 2

# --- helpers ------------------------------------------------------------------------------


def _library_context(request: HttpRequest, creator) -> dict:
    paginator = Paginator(videos_for_creator(creator=creator), LIBRARY_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    rows = [
        {"video": v, "status": services.video_status_payload(v) if v.is_processing else None}
        for v in page.object_list
    ]
    return {
        "creator": creator,
        "page": page,
        "rows": rows,
        "any_processing": any(r["status"] for r in rows),
        "poll_seconds": POLL_SECONDS,
        "studio_section": "videos",
    }


def _error_messages(exc: DomainError) -> list[str]:
    return [str(m) for m in exc.messages] or ["That did not work."]


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _status_context(creator, video: Video) -> dict:
    """What the status region (videos/detail.html#status) renders, and nothing more: the
    2-second poll uses this alone (its query count is pinned by a test)."""
    completed = video.status == Video.Status.COMPLETED
    return {
        "creator": creator,
        "video": video,
        "status": services.video_status_payload(video),
        "segment_count": video.segments.count() if completed else 0,
        "chunk_count": video.chunks.count() if completed else 0,
        "poll_seconds": POLL_SECONDS,
    }


def _detail_context(request: HttpRequest, creator, video: Video, **extra) -> dict:
    segments = list(segments_for_video(video=video))
    return {
        **_status_context(creator, video),
        "segments": segments,
        "segment_count": len(segments),
        "chunk_count": video.chunks.count(),
        "edit_form": extra.pop(
            "edit_form",
            VideoEditForm(initial={"title": video.title, "description": video.description}),
        ),
        "stream_url": reverse("videos:stream", kwargs={"pk": video.pk}),
        "thumbnail_url": (
            reverse("videos:thumbnail", kwargs={"pk": video.pk}) if video.thumbnail else ""
        ),
        "studio_section": "videos",
        **extra,
    }


# --- library -----------------------------------------------------------------------------


@login_required
@require_safe
def studio_home(request: HttpRequest, handle: str) -> HttpResponse:
    """/studio/<handle>/ (a creator typing the studio's address): the video library, where
    signing in lands too. Another tenant's studio is 404, as everywhere."""
    creator = creator_get_managed(user=request.user, handle=handle)
    return redirect("videos:library", handle=creator.handle)


@login_required
@require_safe
def library(request: HttpRequest, handle: str) -> HttpResponse:
    """All of a creator's videos; rows poll `videos:rows` while any is processing."""
    creator = creator_get_managed(user=request.user, handle=handle)
    return render(request, "videos/library.html", _library_context(request, creator))


@login_required
@require_safe
def rows(request: HttpRequest, handle: str) -> HttpResponse:
    """The library's rows region (htmx swaps it every POLL_SECONDS while processing)."""
    creator = creator_get_managed(user=request.user, handle=handle)
    return render(request, "videos/library.html#rows", _library_context(request, creator))


# --- upload ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def upload(request: HttpRequest, handle: str) -> HttpResponse:
    """GET: the upload page (drag-drop of several files via static/js/upload.js, which
    posts each file to the REST endpoint). POST: the no-JS form, one file + captions."""
    creator = creator_get_managed(user=request.user, handle=handle)
    form = VideoUploadForm()
    status = 200
    if request.method == "POST":
        form = VideoUploadForm(request.POST, request.FILES)
        if form.is_valid():
            media = form.cleaned_data["file"]
            captions = form.cleaned_data.get("captions")
            try:
                video = services.video_create(
                    creator=creator,
                    file=media,
                    filename=media.name,
                    title=form.cleaned_data["title"],
                    description=form.cleaned_data["description"],
                    captions=captions,
                    captions_filename=captions.name if captions else None,
                )
            except DomainError as exc:
                for field, msgs in error_field(exc, "file").items():
                    form.add_error(field if field in form.fields else "file", msgs)
            else:
                messages.success(request, f"“{video.title}” uploaded; processing has started.")
                return redirect("videos:detail", handle=creator.handle, pk=video.pk)
        status = 400
    context = {
        "creator": creator,
        "form": form,
        "api_url": reverse("api-videos") + f"?creator={creator.handle}",
        # S3 mode: the page sends files straight to the bucket (videos.uploads).
        "direct_url": (
            reverse("api-uploads") + f"?creator={creator.handle}"
            if direct_uploads_enabled()
            else ""
        ),
        "detail_url_template": reverse("videos:detail", kwargs={"handle": creator.handle, "pk": 0}),
        # S3 mode without JavaScript: the form posts the file to the bucket (S3 POST).
        "s3_form": _s3_form(request, creator) if direct_uploads_enabled() else None,
        "form_uploads": form_uploads_recent(creator=creator) if direct_uploads_enabled() else [],
        "max_upload_bytes": services.max_upload_bytes_for(creator=creator),
        "media_accept": MEDIA_ACCEPT,
        "captions_accept": CAPTIONS_ACCEPT,
        "studio_section": "upload",
        **handoff_for(
            handle=creator.handle, then=request.GET.get("then"), back=request.GET.get("back")
        ),
    }
    return render(request, "videos/upload.html", context, status=status)


def _s3_form(request: HttpRequest, creator) -> dict:
    """The presigned POST the no-JS form sends the file with (signed locally, no S3 call)."""
    back = request.build_absolute_uri(
        reverse("videos:upload_received", kwargs={"handle": creator.handle})
    )
    return uploads.direct_form_post(creator=creator, redirect_url=back)


@login_required
@require_safe
def upload_received(request: HttpRequest, handle: str) -> HttpResponse:
    """Where S3 sends the browser (303, ?bucket=&key=&etag=) after the no-JS form posted a
    file straight to the bucket: queue its check on a worker, back to the upload page."""
    creator = creator_get_managed(user=request.user, handle=handle)
    try:
        upload = uploads.direct_form_received(
            creator=creator, user=request.user, key=request.GET.get("key", "")
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"“{upload.filename}” reached storage; it is being checked.")
    return redirect("videos:upload", handle=creator.handle)


# --- one video ---------------------------------------------------------------------------


@login_required
@require_safe
def detail(request: HttpRequest, handle: str, pk: int) -> HttpResponse:
    """The video page: player, transcript (click a line to play from it), status, edit."""
    creator = creator_get_managed(user=request.user, handle=handle)
    video = video_get_managed(user=request.user, creator=creator, pk=pk)
    if request.htmx and request.GET.get("part") == "status":
        response = render(request, "videos/detail.html#status", _status_context(creator, video))
        # The page was rendered while processing; once it is over, reload it so the
        # transcript and player appear (htmx honours HX-Refresh).
        if not video.is_processing:
            response["HX-Refresh"] = "true"
        return response
    return render(request, "videos/detail.html", _detail_context(request, creator, video))


@login_required
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, handle: str, pk: int) -> HttpResponse:
    """POST title/description. htmx gets the details region back (the form again, with
    errors, when invalid); a plain form post is redirected to the video page."""
    creator = creator_get_managed(user=request.user, handle=handle)
    video = video_get_managed(user=request.user, creator=creator, pk=pk)
    if request.method == "GET":
        return redirect("videos:detail", handle=creator.handle, pk=video.pk)
    form = VideoEditForm(request.POST)
    if form.is_valid():
        try:
            video = services.video_update(
                video=video,
                title=form.cleaned_data["title"],
                description=form.cleaned_data["description"],
            )
        except DomainError as exc:
            for field, msgs in error_field(exc, None).items():
                form.add_error(field if field in form.fields else None, msgs)
    if form.is_valid():
        if request.htmx:
            context = _detail_context(request, creator, video, saved=True)
            return render(request, "videos/detail.html#meta", context)
        messages.success(request, "Saved.")
        return redirect("videos:detail", handle=creator.handle, pk=video.pk)
    context = _detail_context(request, creator, video, edit_form=form, editing=True)
    if request.htmx:
        # 200 so htmx swaps the form with its errors in.
        return render(request, "videos/detail.html#meta", context)
    return render(request, "videos/detail.html", context, status=400)


@login_required
@require_POST
def retry(request: HttpRequest, handle: str, pk: int) -> HttpResponse:
    """Queue a failed video again (`readable_part=1`: a cut-off file's readable part only);
    back to `next` (library or video page)."""
    creator = creator_get_managed(user=request.user, handle=handle)
    video = video_get_managed(user=request.user, creator=creator, pk=pk)
    try:
        services.video_retry(video=video, readable_part=request.POST.get("readable_part") == "1")
    except DomainError as exc:
        messages.error(request, " ".join(_error_messages(exc)))
    else:
        messages.success(request, f"“{video.title}” queued again.")
    default = reverse("videos:detail", kwargs={"handle": creator.handle, "pk": video.pk})
    return HttpResponseRedirect(_safe_next(request, default))


@login_required
@require_POST
def delete(request: HttpRequest, handle: str, pk: int) -> HttpResponse:
    """Delete the video with its file, transcript and chunks; back to the library."""
    creator = creator_get_managed(user=request.user, handle=handle)
    video = video_get_managed(user=request.user, creator=creator, pk=pk)
    title = video.title
    try:
        services.video_delete(video=video)
    except DomainError as exc:
        messages.error(request, " ".join(_error_messages(exc)))
        return redirect("videos:detail", handle=creator.handle, pk=pk)
    messages.success(request, f"“{title}” deleted.")
    return redirect("videos:library", handle=creator.handle)


# --- media -------------------------------------------------------------------------------


@login_required
@require_safe
def stream(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The media file, with HTTP Range support so players can seek.

    Access: managers and students with an active membership (video_get_viewable); 404
    otherwise. S3 storage: a redirect to a presigned URL."""
    video = video_get_viewable(user=request.user, pk=pk)
    if not video.file:
        raise Http404("This video has no file.")
    return serve_media(request, video.file)


@login_required
@require_safe
def thumbnail(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The video's poster frame (JPEG); same access rule as `stream`."""
    video = video_get_viewable(user=request.user, pk=pk)
    if not video.thumbnail:
        raise Http404("No thumbnail yet.")
    return serve_media(request, video.thumbnail, content_type="image/jpeg")
