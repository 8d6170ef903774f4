"""REST for the creator's videos, under /api/v1/ (DRF function views over videos.services).

    GET    /api/v1/videos/[?creator=<handle>][&status=<status>][&page=N]   list (paginated)
    POST   /api/v1/videos/[?creator=<handle>]   multipart: file, captions?, title?, description?
    GET    /api/v1/videos/<id>/                 one video
    PATCH  /api/v1/videos/<id>/                 {"title"?, "description"?}
    DELETE /api/v1/videos/<id>/                 file, transcript, chunks and row; 204
    POST   /api/v1/videos/<id>/retry/           re-queue a failed video; 202
    GET    /api/v1/videos/<id>/transcript/      {"video", "count", "segments": [...]}

Errors: {"error": "msg", "code": "...", "fields": {"field": ["msg"]}} (chronos.api); a
video of a creator the caller does not manage is a 404, exactly like a missing one. Signed out: 403.
"""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from chronos.api import ERROR_RESPONSES, page_of
from chronos.errors import DomainError
from creators.selectors import creator_for_api
from videos import services
from videos.models import Video
from videos.selectors import (
    segments_for_video,
    video_get_for_manager,
    videos_for_creator,
    videos_with_counts,
)


class VideoSerializer(serializers.ModelSerializer):
    """A video as the API returns it. Seconds (duration), bytes (size), percent (progress)."""

    creator = serializers.CharField(source="creator.handle", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    segment_count = serializers.SerializerMethodField()
    chunk_count = serializers.SerializerMethodField()
    stream_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    stage = serializers.SerializerMethodField()
    # Declared: a read-only model field loses allow_blank, and "" (nothing transcribed yet,
    # e.g. a refused or still-processing video) would be missing from the schema's enum.
    transcript_source = serializers.ChoiceField(
        choices=Video.TranscriptSource.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = Video
        fields = [
            "id",
            "creator",
            "title",
            "description",
            "original_filename",
            "status",
            "status_display",
            "stage",
            "progress",
            "error",
            "duration_seconds",
            "readable_seconds",
            "size_bytes",
            "media_kind",
            "transcript_source",
            "language",
            "segment_count",
            "chunk_count",
            "processing_cost_usd",
            "created_at",
            "updated_at",
            "stream_url",
            "thumbnail_url",
        ]
        read_only_fields = fields

    def _payload(self, video: Video) -> dict:
        cache = self.context.setdefault("_status_payloads", {})
        if video.pk not in cache:
            cache[video.pk] = services.video_status_payload(video)
        return cache[video.pk]

    @extend_schema_field(serializers.IntegerField())
    def get_segment_count(self, video: Video) -> int:
        value = getattr(video, "segment_count", None)
        return value if value is not None else video.segments.count()

    @extend_schema_field(serializers.IntegerField())
    def get_chunk_count(self, video: Video) -> int:
        value = getattr(video, "chunk_count", None)
        return value if value is not None else video.chunks.count()

    def _absolute(self, url: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_stream_url(self, video: Video) -> str | None:
        if not video.file:
            return None
        return self._absolute(reverse("videos:stream", kwargs={"pk": video.pk}))

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_thumbnail_url(self, video: Video) -> str | None:
        if not video.thumbnail:
            return None
        return self._absolute(reverse("videos:thumbnail", kwargs={"pk": video.pk}))

    @extend_schema_field(serializers.IntegerField())
    def get_progress(self, video: Video) -> int:
        return self._payload(video)["progress"]

    @extend_schema_field(serializers.CharField())
    def get_stage(self, video: Video) -> str:
        return self._payload(video)["stage"]


class VideoUploadSerializer(serializers.Serializer):
    """Multipart upload input. What the file *is* is decided by the pipeline (by content)."""

    file = serializers.FileField()
    captions = serializers.FileField(required=False, allow_null=True)
    title = serializers.CharField(required=False, allow_blank=True, max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)


class VideoUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(required=False, max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)


class VideoRetrySerializer(serializers.Serializer):
    readable_part = serializers.BooleanField(
        default=False,
        help_text="For a cut-off file (readable_seconds set): process only the part that decodes.",
    )


class SegmentSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    start = serializers.FloatField()
    end = serializers.FloatField()
    text = serializers.CharField()
    speaker = serializers.CharField()


def _creator_param(request: Request) -> str | None:
    return request.query_params.get("creator") or request.data.get("creator") or None


def _one(request: Request, video: Video) -> dict:
    video = videos_with_counts(Video.objects.filter(pk=video.pk)).select_related("creator")[0]
    return VideoSerializer(video, context={"request": request}).data


_TAGS = ["videos"]
_CREATOR = OpenApiParameter(
    "creator", str, description="Studio handle (needed when you manage more than one)"
)


@extend_schema(
    methods=["GET"],
    operation_id="v1_videos_list",
    tags=_TAGS,
    parameters=[
        _CREATOR,
        OpenApiParameter("status", str, enum=list(Video.Status.values)),
        OpenApiParameter("page", int),
    ],
    responses={
        200: page_of("VideoPage", VideoSerializer(many=True)),
        **ERROR_RESPONSES,
    },
)
@extend_schema(
    methods=["POST"],
    tags=_TAGS,
    parameters=[_CREATOR],
    request={"multipart/form-data": VideoUploadSerializer},
    responses={201: VideoSerializer, **ERROR_RESPONSES},
)
@api_view(["GET", "POST"])
def video_list(request: Request) -> Response:
    """GET: the creator's videos, newest first, 50 a page; `?status=` one of the statuses.
    POST: upload one file (multipart) and queue its processing; 201 with the video."""
    creator = creator_for_api(user=request.user, handle=_creator_param(request))
    if request.method == "POST":
        form = VideoUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        media = form.validated_data["file"]
        captions = form.validated_data.get("captions")
        video = services.video_create(
            creator=creator,
            file=media,
            filename=media.name,
            title=form.validated_data.get("title", ""),
            description=form.validated_data.get("description", ""),
            captions=captions,
            captions_filename=captions.name if captions else None,
        )
        data = _one(request, video)
        return Response(
            data,
            status=status.HTTP_201_CREATED,
            headers={
                "Location": request.build_absolute_uri(
                    reverse("api-video", kwargs={"pk": video.pk})
                )
            },
        )

    queryset = videos_for_creator(creator=creator).select_related("creator")
    wanted = request.query_params.get("status")
    if wanted:
        if wanted not in Video.Status.values:
            raise DomainError.for_field(
                "status", f"Unknown status; use one of: {', '.join(Video.Status.values)}."
            )
        queryset = queryset.filter(status=wanted)
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(videos_with_counts(queryset), request)
    serializer = VideoSerializer(page, many=True, context={"request": request})
    return paginator.get_paginated_response(serializer.data)


@extend_schema(methods=["GET"], tags=_TAGS, responses={200: VideoSerializer, **ERROR_RESPONSES})
@extend_schema(
    methods=["PATCH"],
    tags=_TAGS,
    request=VideoUpdateSerializer,
    responses={200: VideoSerializer, **ERROR_RESPONSES},
)
@extend_schema(methods=["DELETE"], tags=_TAGS, responses={204: None, **ERROR_RESPONSES})
@api_view(["GET", "PATCH", "DELETE"])
def video_detail(request: Request, pk: int) -> Response:
    """GET one video; PATCH its title/description; DELETE it with everything derived."""
    video = video_get_for_manager(user=request.user, pk=pk)
    if request.method == "PATCH":
        form = VideoUpdateSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        video = services.video_update(
            video=video,
            title=form.validated_data.get("title"),
            description=form.validated_data.get("description"),
        )
    elif request.method == "DELETE":
        services.video_delete(video=video)
        return Response(status=status.HTTP_204_NO_CONTENT)
    return Response(_one(request, video))


@extend_schema(
    tags=_TAGS, request=VideoRetrySerializer, responses={202: VideoSerializer, **ERROR_RESPONSES}
)
@api_view(["POST"])
def video_retry(request: Request, pk: int) -> Response:
    """Re-queue a failed video from the stage that failed ({"readable_part": true}: a
    cut-off file's readable part only); 202 with the video, or 400."""
    video = video_get_for_manager(user=request.user, pk=pk)
    form = VideoRetrySerializer(data=request.data)
    form.is_valid(raise_exception=True)
    video = services.video_retry(video=video, readable_part=form.validated_data["readable_part"])
    return Response(_one(request, video), status=status.HTTP_202_ACCEPTED)


@extend_schema(
    tags=_TAGS,
    responses={
        200: inline_serializer(
            "VideoTranscript",
            {
                "video": serializers.IntegerField(),
                "count": serializers.IntegerField(),
                "segments": SegmentSerializer(many=True),
            },
        ),
        **ERROR_RESPONSES,
    },
)
@api_view(["GET"])
def video_transcript(request: Request, pk: int) -> Response:
    """All transcript segments of a video, in order. Seconds (floats)."""
    video = video_get_for_manager(user=request.user, pk=pk)
    segments = list(segments_for_video(video=video))
    return Response(
        {
            "video": video.pk,
            "count": len(segments),
            "segments": SegmentSerializer(segments, many=True).data,
        }
    )
