"""Admin for videos and what the pipeline derives from them."""

from __future__ import annotations

from django.contrib import admin, messages

from chronos.errors import DomainError
from videos.models import (
    DirectUpload,
    LexemeFrequency,
    SegmentWindow,
    TranscriptSegment,
    Video,
    VideoChunk,
)
from videos.timecodes import format_hms


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "creator",
        "status",
        "stage",
        "transcript_source",
        "duration_display",
        "processing_cost_usd",
        "attempts",
        "created_at",
    )
    list_filter = ("status", "transcript_source", "media_kind", "creator")
    search_fields = ("title", "original_filename", "creator__handle", "error")
    raw_id_fields = ("creator",)
    readonly_fields = (
        "size_bytes",
        "media_kind",
        "container",
        "duration_seconds",
        "stage",
        "stage_progress",
        "stage_heartbeat_at",
        "probe_started_at",
        "probe_ended_at",
        "transcribing_started_at",
        "transcribing_ended_at",
        "chunking_started_at",
        "chunking_ended_at",
        "embedding_started_at",
        "embedding_ended_at",
        "processing_cost_usd",
        "attempts",
        "created_at",
        "updated_at",
    )
    actions = ("reprocess_videos", "retry_failed")
    date_hierarchy = "created_at"
    list_select_related = ("creator",)

    @admin.display(description="duration", ordering="duration_seconds")
    def duration_display(self, obj: Video) -> str:
        return format_hms(obj.duration_seconds)

    @admin.action(description="Reprocess video")
    def reprocess_videos(self, request, queryset):
        from videos.services import video_reprocess

        self._apply(request, queryset, video_reprocess, "queued for reprocessing")

    @admin.action(description="Retry failed")
    def retry_failed(self, request, queryset):
        from videos.services import video_retry

        self._apply(request, queryset, video_retry, "queued for retry")

    def _apply(self, request, queryset, fn, verb: str) -> None:
        ok, skipped = 0, []
        for video in queryset:
            try:
                fn(video=video)
                ok += 1
            except DomainError as exc:
                skipped.append(f"{video.title}: {'; '.join(exc.messages)}")
        if ok:
            self.message_user(request, f"{ok} video(s) {verb}.", messages.SUCCESS)
        for line in skipped:
            self.message_user(request, line, messages.WARNING)


@admin.register(TranscriptSegment)
class TranscriptSegmentAdmin(admin.ModelAdmin):
    list_display = ("video", "index", "start", "end", "speaker", "short_text")
    list_filter = ("creator",)
    search_fields = ("text", "speaker", "video__title")
    raw_id_fields = ("creator", "video")
    list_select_related = ("video",)

    @admin.display(description="text")
    def short_text(self, obj) -> str:
        return obj.text[:100]


@admin.register(VideoChunk)
class VideoChunkAdmin(admin.ModelAdmin):
    list_display = (
        "video",
        "chunk_index",
        "start",
        "end",
        "word_count",
        "first_segment_index",
        "last_segment_index",
        "embedding_model",
        "has_embedding",
    )
    list_filter = ("embedding_model", "creator")
    search_fields = ("text", "video__title")
    raw_id_fields = ("creator", "video")
    list_select_related = ("video",)
    exclude = ("embedding",)  # 1536 floats are not editable in a form
    readonly_fields = ("embedding_model",)

    def get_queryset(self, request):
        return super().get_queryset(request).defer("embedding")

    @admin.display(boolean=True, description="vector")
    def has_embedding(self, obj) -> bool:
        return obj.embedding_model != ""


@admin.register(SegmentWindow)
class SegmentWindowAdmin(admin.ModelAdmin):
    list_display = (
        "video",
        "chunk",
        "first_segment_index",
        "last_segment_index",
        "start",
        "end",
        "embedding_model",
    )
    list_filter = ("embedding_model", "creator")
    search_fields = ("text", "video__title")
    raw_id_fields = ("creator", "video", "chunk")
    list_select_related = ("video", "chunk")
    exclude = ("embedding",)
    readonly_fields = ("embedding_model",)

    def get_queryset(self, request):
        return super().get_queryset(request).defer("embedding")


@admin.register(LexemeFrequency)
class LexemeFrequencyAdmin(admin.ModelAdmin):
    """Derived: document frequencies kept by database triggers. Read-only, for debugging
    retrieval (which words are rare in a creator's library)."""

    list_display = ("lexeme", "ndoc", "creator")
    list_filter = ("creator",)
    search_fields = ("lexeme",)
    raw_id_fields = ("creator",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DirectUpload)
class DirectUploadAdmin(admin.ModelAdmin):
    """Direct-to-bucket uploads (S3 mode): read-only, to see what is pending or refused.
    Abandoned ones are aborted by the hourly task videos.tasks.abort_abandoned_uploads."""

    list_display = ("filename", "creator", "status", "size_bytes", "created_at", "ended_at")
    list_filter = ("status",)
    search_fields = ("filename", "key", "creator__handle")
    raw_id_fields = ("creator", "created_by")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
