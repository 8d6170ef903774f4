"""The course builder's writes: courses, modules and lessons (create/update/delete).
Ordering lives in courses.services.order."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max, QuerySet

from courses.models import Course, Lesson, Module
from courses.services._common import TITLE_MAX, _clean_title, _invalid
from creators.models import Creator
from creators.slugs import unique_slug
from videos.models import Video

DESCRIPTION_MAX = 20_000
# Drip up to ten years; larger is a typo.
DRIP_DAYS_MAX = 3650


def _next_position(siblings: QuerySet) -> int:
    """The position after the last of `siblings` (0 for the first)."""
    last = siblings.aggregate(m=Max("position"))["m"]
    return 0 if last is None else last + 1


def _clean_description(description: Any) -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        raise _invalid({"description": ["The description must be text."]})
    if len(description) > DESCRIPTION_MAX:
        raise _invalid(
            {"description": [f"Descriptions are limited to {DESCRIPTION_MAX} characters."]}
        )
    return description.strip()


def _unique_slug(creator: Creator, title: str, exclude_pk: int | None = None) -> str:
    return unique_slug(
        title,
        queryset=Course.objects.filter(creator=creator).exclude(pk=exclude_pk),
        field="slug",
        max_length=70,
        fallback="course",
    )


def course_create(
    *, creator: Creator, title: str, description: str = "", sequential: bool = False
) -> Course:
    """A new draft course, last in the creator's list. Raises DomainError for a
    missing/too long title or description."""
    title = _clean_title(title)
    description = _clean_description(description)
    with transaction.atomic():
        position = _next_position(Course.objects.filter(creator=creator))
        return Course.objects.create(
            creator=creator,
            title=title,
            slug=_unique_slug(creator, title),
            description=description,
            sequential=bool(sequential),
            position=position,
        )


def course_update(
    *,
    course: Course,
    title: str | None = None,
    description: str | None = None,
    status: str | None = None,
    sequential: bool | None = None,
    thumbnail: Any = None,
    clear_thumbnail: bool = False,
) -> Course:
    """Change the given fields (None = keep). status: "draft" | "published"; thumbnail:
    an uploaded image file. Raises DomainError for bad values."""
    fields: list[str] = []
    if title is not None:
        course.title = _clean_title(title)
        fields.append("title")
    if description is not None:
        course.description = _clean_description(description)
        fields.append("description")
    if status is not None:
        if status not in Course.Status.values:
            raise _invalid({"status": ['Status must be "draft" or "published".']})
        course.status = status
        fields.append("status")
    if sequential is not None:
        if not isinstance(sequential, bool):
            raise _invalid({"sequential": ["sequential must be true or false."]})
        course.sequential = sequential
        fields.append("sequential")
    old_thumb = course.thumbnail.name if course.thumbnail else ""
    if thumbnail is not None:
        course.thumbnail.save(thumbnail.name, thumbnail, save=False)
        fields.append("thumbnail")
    elif clear_thumbnail and old_thumb:
        course.thumbnail = ""
        fields.append("thumbnail")
    if fields:
        course.save(update_fields=[*fields, "updated_at"])
    if "thumbnail" in fields and old_thumb and old_thumb != (course.thumbnail.name or ""):
        storage = course.thumbnail.storage
        transaction.on_commit(lambda: storage.delete(old_thumb))
    return course


def course_delete(*, course: Course) -> None:
    """Delete a course with its modules, lessons, enrollments, progress and events."""
    thumb = course.thumbnail.name if course.thumbnail else ""
    storage = course.thumbnail.storage
    with transaction.atomic():
        course.delete()
        if thumb:
            transaction.on_commit(lambda: storage.delete(thumb))


# --- modules and lessons -------------------------------------------------------------------


def module_create(*, course: Course, title: str) -> Module:
    """A module appended to the course."""
    title = _clean_title(title)
    with transaction.atomic():
        position = _next_position(Module.objects.filter(course=course))
        return Module.objects.create(
            creator_id=course.creator_id,
            course=course,
            title=title,
            position=position,
        )


def module_update(*, module: Module, title: str | None = None) -> Module:
    if title is not None:
        module.title = _clean_title(title)
        module.save(update_fields=["title"])
    return module


def module_delete(*, module: Module) -> None:
    """Delete a module and its lessons (with their progress and events)."""
    module.delete()


def _clean_drip(drip_days: Any) -> int:
    if isinstance(drip_days, bool):
        raise _invalid({"drip_days": ["drip_days must be a whole number of days."]})
    try:
        value = int(drip_days)
    except (TypeError, ValueError):
        raise _invalid({"drip_days": ["drip_days must be a whole number of days."]}) from None
    if value < 0 or value > DRIP_DAYS_MAX or str(value) != str(drip_days).strip():
        raise _invalid(
            {"drip_days": [f"drip_days must be a whole number from 0 to {DRIP_DAYS_MAX}."]}
        )
    return value


def _clean_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false", "1", "0", "on", "off"}:
        return value.lower() in {"true", "1", "on"}
    raise _invalid({field: [f"{field} must be true or false."]})


def _video_of(creator_id: int, video_id: Any) -> Video:
    try:
        vid = int(video_id)
    except (TypeError, ValueError):
        raise _invalid({"video_id": ["video_id must be a video's id."]}) from None
    video = Video.objects.filter(creator_id=creator_id, pk=vid).first()
    if video is None:
        raise _invalid({"video_id": ["No such video in this library."]})
    return video


def lesson_create(
    *,
    module: Module,
    video_id: int,
    title: str | None = None,
    drip_days: int = 0,
    is_preview: bool = False,
) -> Lesson:
    """A lesson appended to `module`, playing one of the creator's videos. title defaults
    to the video's. Raises DomainError for a foreign video or bad values."""
    video = _video_of(module.creator_id, video_id)
    clean_title = _clean_title(title) if title not in (None, "") else video.title[:TITLE_MAX]
    drip = _clean_drip(drip_days)
    preview = _clean_bool(is_preview, "is_preview")
    with transaction.atomic():
        position = _next_position(Lesson.objects.filter(module=module))
        return Lesson.objects.create(
            creator_id=module.creator_id,
            module=module,
            video=video,
            title=clean_title,
            drip_days=drip,
            is_preview=preview,
            position=position,
        )


def lesson_update(
    *,
    lesson: Lesson,
    title: str | None = None,
    drip_days: int | None = None,
    is_preview: bool | None = None,
    video_id: int | None = None,
) -> Lesson:
    """Change the given fields (None = keep). A blank title falls back to the video's."""
    fields: list[str] = []
    if video_id is not None:
        lesson.video = _video_of(lesson.creator_id, video_id)
        fields.append("video")
    if title is not None:
        if title.strip() == "" and lesson.video is not None:
            title = lesson.video.title[:TITLE_MAX]
        lesson.title = _clean_title(title)
        fields.append("title")
    if drip_days is not None:
        lesson.drip_days = _clean_drip(drip_days)
        fields.append("drip_days")
    if is_preview is not None:
        lesson.is_preview = _clean_bool(is_preview, "is_preview")
        fields.append("is_preview")
    if fields:
        lesson.save(update_fields=fields)
    return lesson


def lesson_delete(*, lesson: Lesson) -> None:
    """Delete a lesson (its progress, events and notes go with it)."""
    lesson.delete()
