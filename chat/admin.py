from django.contrib import admin

from chat.models import (
    AnswerCacheEntry,
    ChatMessage,
    ChatSession,
    CreatorFAQ,
    RetrievalCalibration,
    ScopeMemo,
)


class ChatMessageInline(admin.TabularInline):
    model = ChatMessage
    extra = 0
    fields = ("role", "content", "covered", "model", "input_tokens", "output_tokens", "cost_usd")
    readonly_fields = fields
    can_delete = False


@admin.register(ChatSession)
class ChatSessionAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "creator", "user", "updated_at")
    list_filter = ("creator",)
    search_fields = ("title", "user__email")
    raw_id_fields = ("creator", "user", "course")
    inlines = [ChatMessageInline]


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = ("id", "session", "role", "covered", "model", "cost_usd", "latency_ms")
    list_filter = ("role", "covered", "cached")
    raw_id_fields = ("creator", "session")


@admin.register(RetrievalCalibration)
class RetrievalCalibrationAdmin(admin.ModelAdmin):
    list_display = ("creator", "floor", "doc_count", "computed_at")
    readonly_fields = ("library_version", "doc_count", "floor", "vector_floor", "details")


@admin.register(AnswerCacheEntry)
class AnswerCacheEntryAdmin(admin.ModelAdmin):
    list_display = ("creator", "key", "covered", "model", "created_at")


@admin.register(CreatorFAQ)
class CreatorFAQAdmin(admin.ModelAdmin):
    """Creator answers the tutor gives for similar questions; an admin can correct an answer."""

    list_display = ("id", "creator", "question", "created_by", "created_at")
    list_filter = ("creator",)
    search_fields = ("question", "answer")
    raw_id_fields = ("creator", "created_by", "source_message", "video")
    readonly_fields = ("question", "lexemes")  # lexemes are derived from the question


@admin.register(ScopeMemo)
class ScopeMemoAdmin(admin.ModelAdmin):
    """Resolved retrieval scopes the web processes share (disposable, read-only here)."""

    list_display = ("key", "creator_id", "expires")
    readonly_fields = ("key", "creator_id", "scope", "expires")

    def has_add_permission(self, request) -> bool:
        return False
