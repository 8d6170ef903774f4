"""Courses -> modules -> lessons (each lesson plays one video of the same creator),
enrollment, the append-only watch events and the lesson progress folded from them, and
the students' timestamped notes. Times are float seconds unless a field says otherwise."""

from __future__ import annotations

from pathlib import PurePosixPath

from django.db import models


def course_thumbnail_upload_to(course: Course, filename: str) -> str:
    """`{creator_handle}/courses/{course_id}.thumb.{ext}` (the row exists before its file)."""
    ext = PurePosixPath(filename).suffix.lower().lstrip(".") or "jpg"
    return f"{course.creator.handle}/courses/{course.pk}.thumb.{ext}"


class CourseQuerySet(models.QuerySet):
    def published(self) -> CourseQuerySet:
        return self.filter(status=Course.Status.PUBLISHED)


class Course(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    creator = models.ForeignKey(
        "creators.Creator", on_delete=models.CASCADE, related_name="courses"
    )
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    description = models.TextField(blank=True)  # Markdown; rendered sanitised
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    # "Lessons in order": a lesson stays locked until the previous one is complete.
    sequential = models.BooleanField(default=False)
    thumbnail = models.ImageField(upload_to=course_thumbnail_upload_to, max_length=500, blank=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CourseQuerySet.as_manager()

    class Meta:
        ordering = ["position", "title", "id"]
        constraints = [
            models.UniqueConstraint(fields=["creator", "slug"], name="course_creator_slug")
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


class Module(models.Model):
    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="modules")
    title = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["course", "position", "id"]

    def __str__(self) -> str:
        return self.title


class Lesson(models.Model):
    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="lessons")
    # SET_NULL: a deleted video leaves the lesson ("video removed" in the builder; hidden
    # from students and from progress).
    video = models.ForeignKey(
        "videos.Video", on_delete=models.SET_NULL, null=True, blank=True, related_name="lessons"
    )
    title = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=0)
    # Unlocks this many days after the student enrolled (0 = at once).
    drip_days = models.PositiveIntegerField(default=0)
    # A free preview: never locked (neither by order nor by drip).
    is_preview = models.BooleanField(default=False)

    class Meta:
        ordering = ["module", "position", "id"]

    def __str__(self) -> str:
        return self.title


class Enrollment(models.Model):
    """A student's place in a course, made on their first visit. Kept when the membership
    ends (is_active False: access off, progress kept)."""

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="enrollments")
    user = models.ForeignKey("creators.User", on_delete=models.CASCADE, related_name="enrollments")
    enrolled_at = models.DateTimeField(db_index=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["enrolled_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["course", "user"], name="enrollment_course_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.course}"


class WatchEvent(models.Model):
    """One player event, xAPI video profile style. Append-only: never updated or deleted
    by the app. (session_id, seq) makes a resent batch harmless.

    position: the playhead when the event happened; time_from/time_to: the played interval
    it reports (played/paused/heartbeat/ended) or the seek's from/to (seeked)."""

    class Verb(models.TextChoices):
        PLAYED = "played", "Played"
        PAUSED = "paused", "Paused"
        SEEKED = "seeked", "Seeked"
        ENDED = "ended", "Ended"
        HEARTBEAT = "heartbeat", "Heartbeat"

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="watch_events")
    video = models.ForeignKey(
        "videos.Video", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    user = models.ForeignKey("creators.User", on_delete=models.CASCADE, related_name="+")
    session_id = models.UUIDField()
    seq = models.PositiveIntegerField()
    verb = models.CharField(max_length=10, choices=Verb.choices)
    position = models.FloatField()
    time_from = models.FloatField(null=True, blank=True)
    time_to = models.FloatField(null=True, blank=True)
    rate = models.FloatField(default=1.0)
    client_time = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["received_at", "session_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["session_id", "seq"], name="watchevent_session_seq")
        ]
        indexes = [models.Index(fields=["creator", "received_at"], name="watchevent_creator_time")]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.seq} {self.verb} @{self.position:.1f}"


class LessonProgress(models.Model):
    """What one student watched of one lesson, folded from their WatchEvents.

    played_intervals: merged, sorted [[start, end], ...] seconds of the video played;
    unique_seconds: their total length; last_position: where to resume;
    playable_checked_at: when the watch-events service last confirmed the lesson playable
    for this student (courses.services.watch.PLAYABLE_RECHECK_SECONDS)."""

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="progress")
    user = models.ForeignKey("creators.User", on_delete=models.CASCADE, related_name="+")
    last_position = models.FloatField(default=0.0)
    played_intervals = models.JSONField(default=list, blank=True)
    unique_seconds = models.FloatField(default=0.0)
    started_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(db_index=True)
    playable_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["lesson", "user"]
        constraints = [
            models.UniqueConstraint(fields=["lesson", "user"], name="lessonprogress_lesson_user")
        ]
        indexes = [models.Index(fields=["user", "lesson"], name="lessonprogress_user_lesson")]

    def __str__(self) -> str:
        return f"{self.user} / {self.lesson}: {self.unique_seconds:.0f}s"


class PendingHeartbeat(models.Model):
    """A heartbeat the player's fast lane stored (courses.services.watch_heartbeats_append)
    and nobody has folded into LessonProgress yet; deleted when folded
    (watch_pending_fold: the worker's minute schedule, the student's next non-heartbeat
    batch, or any read of their progress). A work queue, not a record: the event itself is
    the WatchEvent row. Its rows are only ever written in the statement that inserts that
    WatchEvent, which checks the same references, so the foreign keys carry no database
    constraint (each would cost a trigger on the busiest insert)."""

    event = models.OneToOneField(
        WatchEvent, on_delete=models.CASCADE, primary_key=True, db_constraint=False,
        related_name="+",
    )  # fmt: skip
    # Indexed only as (user, lesson): the queue stays small, and each index is a write.
    creator = models.ForeignKey(
        "creators.Creator", on_delete=models.CASCADE, db_constraint=False, db_index=False,
        related_name="+",
    )  # fmt: skip
    user = models.ForeignKey(
        "creators.User", on_delete=models.CASCADE, db_constraint=False, db_index=False,
        related_name="+",
    )  # fmt: skip
    lesson = models.ForeignKey(
        Lesson, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["user", "lesson"], name="pendingheartbeat_user_lesson")]

    def __str__(self) -> str:
        return f"pending {self.event_id}"


class LessonNote(models.Model):
    """A student's private note at a second of a lesson."""

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="notes")
    user = models.ForeignKey("creators.User", on_delete=models.CASCADE, related_name="+")
    position = models.FloatField(default=0.0)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["lesson", "position", "id"]
        indexes = [models.Index(fields=["lesson", "user"], name="lessonnote_lesson_user")]

    def __str__(self) -> str:
        return f"{self.lesson} @{self.position:.0f}s"
