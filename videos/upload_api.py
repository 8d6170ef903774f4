"""REST for direct-to-bucket uploads (S3 mode), under /api/v1/ (see videos.uploads).

    POST   /api/v1/uploads/[?creator=<handle>]   {"filename", "size", "content_type"?,
                                                  "title"?, "description"?}
           201 {"id", "status", "filename", "size", "part_size", "part_count", "parts":
                [{"number", "url", "start", "end"}], "expires_in", ...}
    GET    /api/v1/uploads/<id>/                 the upload with "parts_received"
                                                  [{"number", "size"}] (resume)
    POST   /api/v1/uploads/<id>/parts/           {"numbers": [n, ...]} -> {"parts": [...]}
                                                  fresh presigned URLs
    POST   /api/v1/uploads/<id>/complete/        multipart or JSON; optional "captions"
                                                  file -> 202 the upload ("verifying": a
                                                  worker probes it; poll GET until
                                                  "completed" + video_id or "failed" +
                                                  error, code), or 201 the video (as
                                                  /api/v1/videos/) when already verified
    DELETE /api/v1/uploads/<id>/                 abort; 204

Sizes in bytes, expires_in in seconds. Errors: {"error", "code", "fields"} (chronos.errors);
another tenant's upload is a 404 like a missing one.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from chronos.api import ERROR_RESPONSES
from chronos.errors import DomainError
from creators.selectors import creator_for_api
from videos import uploads
from videos.api import VideoSerializer, _one
from videos.models import DirectUpload, Video
from videos.selectors import direct_upload_get_for_manager


class StartInput(serializers.Serializer):
    filename = serializers.CharField(max_length=1000)
    size = serializers.IntegerField(min_value=0)
    content_type = serializers.CharField(required=False, allow_blank=True, max_length=200)
    title = serializers.CharField(required=False, allow_blank=True, max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)


class PartsInput(serializers.Serializer):
    numbers = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=10_000
    )


class CompleteInput(serializers.Serializer):
    captions = serializers.FileField(required=False, allow_null=True)


# --- /api/schema/ (_output's dict is the contract; these only describe it) ----------------


class PartUrlOutput(serializers.Serializer):
    number = serializers.IntegerField()
    url = serializers.URLField()
    start = serializers.IntegerField(help_text="bytes")
    end = serializers.IntegerField(help_text="bytes, exclusive")


class PartReceivedOutput(serializers.Serializer):
    number = serializers.IntegerField()
    size = serializers.IntegerField(help_text="bytes")


class UploadOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(DirectUpload.Status.choices)
    filename = serializers.CharField()
    size = serializers.IntegerField(help_text="bytes")
    part_size = serializers.IntegerField(help_text="bytes")
    part_count = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)
    code = serializers.CharField(allow_blank=True)
    video_id = serializers.IntegerField(allow_null=True, help_text="once completed")
    expires_in = serializers.IntegerField(help_text="seconds the part URLs stay valid")
    url = serializers.URLField()
    complete_url = serializers.URLField()
    parts_url = serializers.URLField()
    created_at = serializers.DateTimeField()


class UploadStartOutput(UploadOutput):
    parts = PartUrlOutput(many=True)


class UploadDetailOutput(UploadOutput):
    parts_received = PartReceivedOutput(many=True)


class PartsOutput(serializers.Serializer):
    parts = PartUrlOutput(many=True)


_TAGS = ["uploads"]


def _output(request: Request, upload: DirectUpload, **extra) -> dict:
    return {
        "id": upload.pk,
        "status": upload.status,
        "filename": upload.filename,
        "size": upload.size_bytes,
        "part_size": upload.part_bytes,
        "part_count": upload.part_count,
        "error": upload.error,
        "code": upload.error_code,
        "video_id": upload.video_id if upload.status == DirectUpload.Status.COMPLETED else None,
        "expires_in": int(settings.AWS_QUERYSTRING_EXPIRE),
        "url": request.build_absolute_uri(reverse("api-upload", kwargs={"pk": upload.pk})),
        "complete_url": request.build_absolute_uri(
            reverse("api-upload-complete", kwargs={"pk": upload.pk})
        ),
        "parts_url": request.build_absolute_uri(
            reverse("api-upload-parts", kwargs={"pk": upload.pk})
        ),
        "created_at": upload.created_at,
        **extra,
    }


@extend_schema(
    tags=_TAGS,
    parameters=[OpenApiParameter("creator", str, description="Studio handle")],
    request=StartInput,
    responses={201: UploadStartOutput, **ERROR_RESPONSES},
)
@api_view(["POST"])
def upload_start(request: Request) -> Response:
    """Check limits and start a multipart upload; 201 with every part's presigned URL."""
    creator = creator_for_api(
        user=request.user,
        handle=request.query_params.get("creator") or request.data.get("creator"),
    )
    data = StartInput(data=request.data)
    data.is_valid(raise_exception=True)
    upload = uploads.direct_upload_start(
        creator=creator,
        user=request.user,
        filename=data.validated_data["filename"],
        size_bytes=data.validated_data["size"],
        content_type=data.validated_data.get("content_type", ""),
        title=data.validated_data.get("title", ""),
        description=data.validated_data.get("description", ""),
    )
    parts = uploads.direct_upload_part_urls(upload=upload)
    return Response(_output(request, upload, parts=parts), status=status.HTTP_201_CREATED)


@extend_schema(methods=["GET"], tags=_TAGS, responses={200: UploadDetailOutput, **ERROR_RESPONSES})
@extend_schema(methods=["DELETE"], tags=_TAGS, responses={204: None, **ERROR_RESPONSES})
@api_view(["GET", "DELETE"])
def upload_detail(request: Request, pk: int) -> Response:
    """GET: the upload and the parts that reached the bucket. DELETE: abort it."""
    upload = direct_upload_get_for_manager(user=request.user, pk=pk)
    if request.method == "DELETE":
        uploads.direct_upload_abort(upload=upload)
        return Response(status=status.HTTP_204_NO_CONTENT)
    received = uploads.direct_upload_parts(upload=upload)
    return Response(_output(request, upload, parts_received=received))


@extend_schema(tags=_TAGS, request=PartsInput, responses={200: PartsOutput, **ERROR_RESPONSES})
@api_view(["POST"])
def upload_parts(request: Request, pk: int) -> Response:
    """Fresh presigned URLs for the given part numbers (resume after expiry)."""
    upload = direct_upload_get_for_manager(user=request.user, pk=pk)
    data = PartsInput(data=request.data)
    data.is_valid(raise_exception=True)
    parts = uploads.direct_upload_part_urls(
        upload=upload, part_numbers=data.validated_data["numbers"]
    )
    return Response({"parts": parts})


@extend_schema(
    tags=_TAGS,
    request={"multipart/form-data": CompleteInput, "application/json": CompleteInput},
    responses={201: VideoSerializer, 202: UploadOutput, **ERROR_RESPONSES},
)
@api_view(["POST"])
def upload_complete(request: Request, pk: int) -> Response:
    """Complete the upload and queue its verification on a worker: 202 with the upload
    ("verifying"; poll its url until "completed" with video_id, or "failed" with error and
    code). When the worker has already answered (a synchronous queue): 201 with the new
    video, or the refusal (400). Missing or cut-short uploads are refused at once (400)."""
    upload = direct_upload_get_for_manager(user=request.user, pk=pk)
    data = CompleteInput(data=request.data)
    data.is_valid(raise_exception=True)
    captions = data.validated_data.get("captions")
    upload = uploads.direct_upload_complete(
        upload=upload, captions=captions, captions_filename=captions.name if captions else None
    )
    upload.refresh_from_db()
    if upload.status == DirectUpload.Status.FAILED:
        raise DomainError.for_field("file", upload.error, code=upload.error_code or "invalid")
    video = Video.objects.filter(pk=upload.video_id, creator=upload.creator).first()
    if upload.status != DirectUpload.Status.COMPLETED or video is None:
        return Response(_output(request, upload), status=status.HTTP_202_ACCEPTED)
    return Response(
        _one(request, video),
        status=status.HTTP_201_CREATED,
        headers={
            "Location": request.build_absolute_uri(reverse("api-video", kwargs={"pk": video.pk}))
        },
    )
