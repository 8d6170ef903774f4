"""Admin for courses, modules, lessons, enrollments, watch data and notes."""

from __future__ import annotations

from django.contrib import admin

from courses.models import (
    Course,
    Enrollment,
    Lesson,
    LessonNote,
    LessonProgress,
    Module,
    PendingHeartbeat,
    WatchEvent,
)


class ModuleInline(admin.TabularInline):
    model = Module
    extra = 0
    fields = ("title", "position", "creator")


class LessonInline(admin.TabularInline):
    model = Lesson
    extra = 0
    fields = ("title", "position", "video", "drip_days", "is_preview", "creator")
    raw_id_fields = ("video",)


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("title", "creator", "slug", "status", "sequential", "created_at")
    list_filter = ("status", "creator")
    search_fields = ("title", "slug", "creator__handle")
    prepopulated_fields = {"slug": ("title",)}
    inlines = [ModuleInline]


@admin.register(Module)
class ModuleAdmin(admin.ModelAdmin):
    list_display = ("title", "course", "creator", "position")
    list_filter = ("creator",)
    search_fields = ("title", "course__title")
    inlines = [LessonInline]


@admin.register(Lesson)
class LessonAdmin(admin.ModelAdmin):
    list_display = ("title", "module", "video", "creator", "position", "drip_days", "is_preview")
    list_filter = ("creator",)
    search_fields = ("title", "module__title", "module__course__title")
    raw_id_fields = ("video", "module")


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ("user", "course", "creator", "enrolled_at", "is_active")
    list_filter = ("is_active", "creator")
    raw_id_fields = ("user", "course")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Derived or append-only rows: looked at, never edited by hand."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WatchEvent)
class WatchEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "user", "lesson", "verb", "position", "time_from", "time_to")
    list_filter = ("verb", "creator")
    raw_id_fields = ("user", "lesson", "video")


@admin.register(PendingHeartbeat)
class PendingHeartbeatAdmin(ReadOnlyAdmin):
    """The fast lane's heartbeats not folded yet (the worker folds them every minute)."""

    list_display = ("event", "user", "lesson", "creator")
    list_filter = ("creator",)
    raw_id_fields = ("event", "user", "lesson")


@admin.register(LessonProgress)
class LessonProgressAdmin(ReadOnlyAdmin):
    list_display = ("user", "lesson", "unique_seconds", "last_position", "completed_at")
    list_filter = ("creator",)
    raw_id_fields = ("user", "lesson")


@admin.register(LessonNote)
class LessonNoteAdmin(admin.ModelAdmin):
    list_display = ("user", "lesson", "position", "created_at")
    list_filter = ("creator",)
    raw_id_fields = ("user", "lesson")
