"""Admin for courses, modules and lessons."""

from __future__ import annotations

from django.contrib import admin

from courses.models import Course, Lesson, Module


class ModuleInline(admin.TabularInline):
    model = Module
    extra = 0
    fields = ("title", "position", "creator")


class LessonInline(admin.TabularInline):
    model = Lesson
    extra = 0
    fields = ("title", "position", "video", "creator")
    raw_id_fields = ("video",)


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("title", "creator", "slug", "is_published", "created_at")
    list_filter = ("is_published", "creator")
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
    list_display = ("title", "module", "video", "creator", "position")
    list_filter = ("creator",)
    search_fields = ("title", "module__title", "module__course__title")
    raw_id_fields = ("video", "module")
