"""Analytics rollups: derived rows rebuilt from the facts other apps own.

Facts (never written here): courses.WatchEvent, courses.LessonProgress, courses.Enrollment,
chat.ChatMessage. Everything below can be deleted and rebuilt by
`manage.py analytics_rebuild`; the 5-minute schedule keeps it current incrementally
(analytics.rollups.rollup_update). Days (`day`) are calendar dates in the creator's time
zone (Creator.timezone) at the time of the rollup; RollupState.timezone records which, and
a change of time zone triggers a rebuild. Durations are float seconds of media time.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

# Width of one engagement bucket in seconds (Open edX Insights uses 5-second segments).
BUCKET_SECONDS = 5


class RollupState(models.Model):
    """Per-creator watermarks of the incremental rollup (aware UTC datetimes).

    events_through / progress_through / questions_through: the newest
    WatchEvent.received_at / LessonProgress.updated_at / ChatMessage.created_at already
    folded in. timezone: the IANA zone the stored `day`s were computed in.
    """

    creator = models.OneToOneField(
        "creators.Creator", on_delete=models.CASCADE, related_name="analytics_state"
    )
    events_through = models.DateTimeField(null=True, blank=True)
    progress_through = models.DateTimeField(null=True, blank=True)
    questions_through = models.DateTimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    rebuilt_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"analytics state of {self.creator_id}"


class WatchSession(models.Model):
    """One player session (WatchEvent.session_id) folded: the unit of incremental work.

    buckets: plays per BUCKET_SECONDS bucket from 0 s (a "play" = one continuous run of
    playback that overlaps the bucket; a rewind or seek starts a new run). watch_seconds:
    media seconds played (rewatches count again). furthest: the furthest second played.
    day: local date of the session's first event (received_at).
    """

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    session_id = models.UUIDField(unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    video = models.ForeignKey(
        "videos.Video", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    lesson = models.ForeignKey(
        "courses.Lesson", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    course = models.ForeignKey(
        "courses.Course", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    day = models.DateField()
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    events = models.PositiveIntegerField(default=0)
    watch_seconds = models.FloatField(default=0.0)
    furthest = models.FloatField(default=0.0)
    buckets = ArrayField(models.PositiveIntegerField(), default=list, blank=True)

    class Meta:
        indexes = [
            # Covering: the dashboard's per-video totals are index-only scans (the heap rows
            # carry the bucket arrays: ~30x wider than these columns).
            models.Index(
                fields=["creator", "day"],
                include=["video", "user", "course", "watch_seconds"],
                name="an_session_creator_day",
            ),
            models.Index(fields=["video", "day"], name="an_session_video_day"),
            models.Index(fields=["creator", "user", "day"], name="an_session_user_day"),
        ]

    def __str__(self) -> str:
        return f"session {self.session_id}"


class QuestionFact(models.Model):
    """One student question (a user ChatMessage), placed and classified.

    video/position: where it belongs on a timeline — the player position sent with the
    question (placed_by "player"), else the answer's top citation ("citation"), else none.
    covered: the answer's verdict (None until answered). lexemes: the question's English
    lexemes (Postgres to_tsvector, sorted, space-joined) — the key similar questions group by.
    """

    class PlacedBy(models.TextChoices):
        PLAYER = "player", "Player position"
        CITATION = "citation", "Top citation"
        NONE = "", "Not placed"

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    message = models.OneToOneField(
        "chat.ChatMessage", on_delete=models.CASCADE, related_name="analytics_fact"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey(
        "courses.Course", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    video = models.ForeignKey(
        "videos.Video", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    position = models.FloatField(null=True, blank=True)
    placed_by = models.CharField(max_length=10, choices=PlacedBy.choices, blank=True)
    asked_at = models.DateTimeField()
    day = models.DateField()
    covered = models.BooleanField(null=True)
    text = models.TextField()
    lexemes = models.TextField(blank=True)

    class Meta:
        indexes = [
            # Covering: where questions sit on the timelines (confusion) without the texts.
            models.Index(
                fields=["creator", "day"],
                include=["video", "course", "position", "covered"],
                name="an_question_creator_day",
            ),
            models.Index(fields=["video", "day"], name="an_question_video_day"),
        ]

    def __str__(self) -> str:
        return self.text[:60]


class DayTotals(models.Model):
    """The fields a per-day rollup row shares: whose, which course (None: activity outside
    any course), which local day, and the day's totals (seconds; counts)."""

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey(
        "courses.Course", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    day = models.DateField()
    watch_seconds = models.FloatField(default=0.0)
    completions = models.PositiveIntegerField(default=0)
    questions = models.PositiveIntegerField(default=0)
    questions_not_covered = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class StudentDay(DayTotals):
    """Per student per course per local day (course None: outside any course)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    sessions = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "course", "day"],
                name="an_student_day_unique",
                nulls_distinct=False,
            )
        ]
        indexes = [
            models.Index(fields=["creator", "user", "day"], name="an_studentday_user_day"),
            # Covering: the students table's per-student totals of a range (and the rollup's
            # per-day reads) are index-only scans.
            models.Index(
                fields=["creator", "day"],
                include=["user", "course", "watch_seconds", "questions", "completions"],
                name="an_studentday_day_totals",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.course_id} {self.day}"


class StudentMonth(models.Model):
    """Per student per closed local month (before the creator's current month), across
    courses: the sums of the month's StudentDay rows (watch seconds, questions,
    completions). The whole-studio students table reads a month a range wholly covers from
    here — one row per student instead of one per student, course and day — once the
    creator's month is materialised (every row of a month is written at once); other days
    from StudentDay."""

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="The month's first day (local).")
    watch_seconds = models.FloatField(default=0.0)
    questions = models.PositiveIntegerField(default=0)
    completions = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["creator", "month", "user"], name="an_student_month_unique"
            )
        ]
        indexes = [
            # Covering: a month's per-student totals are an index-only scan.
            models.Index(
                fields=["creator", "month"],
                include=["user", "watch_seconds", "questions", "completions"],
                name="an_studentmonth_totals",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.month:%Y-%m}"


class CourseDay(DayTotals):
    """Per course per local day (course None: activity outside any course).

    views: watch sessions started; active_students: distinct students with any activity;
    students: the same students as a bitmap — bit StudentBit.bit is set for each student
    with a StudentDay row of this course and day (little-endian: bit n is byte n // 8's bit
    n % 8 from the least significant, PostgreSQL's get_bit(bytea) numbering). Distinct
    students over any range and any courses are the popcount of the rows' union
    (analytics.selectors.common.ActiveSets), so no read counts distinct StudentDay rows.
    """

    views = models.PositiveIntegerField(default=0)
    active_students = models.PositiveIntegerField(default=0)
    students = models.BinaryField(default=b"")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["creator", "course", "day"],
                name="an_course_day_unique",
                nulls_distinct=False,
            )
        ]
        indexes = [models.Index(fields=["creator", "day"], name="an_courseday_creator_day")]

    def __str__(self) -> str:
        return f"{self.course_id} {self.day}"


class VideoDay(models.Model):
    """Per video per local day: plays per BUCKET_SECONDS bucket — the elementwise sum of that
    day's WatchSession.buckets (analytics.buckets). The engagement graph sums a range's rows
    (one per day) instead of unnesting every session's array."""

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    video = models.ForeignKey("videos.Video", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    plays = ArrayField(models.PositiveIntegerField(), default=list, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["video", "day"], name="an_video_day_unique")]
        indexes = [models.Index(fields=["creator", "day"], name="an_videoday_creator_day")]

    def __str__(self) -> str:
        return f"{self.video_id} {self.day}"


class VideoMonth(models.Model):
    """Per video per closed local month (before the creator's current month): plays per
    bucket, the elementwise sum of the month's VideoDay rows (analytics.buckets). A range
    reads a month it wholly covers from here — one row instead of ~30 — once the month is
    materialised for the creator; other days come from VideoDay."""

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    video = models.ForeignKey("videos.Video", on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="The month's first day (local).")
    plays = ArrayField(models.PositiveIntegerField(), default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["video", "month"], name="an_video_month_unique")
        ]
        indexes = [models.Index(fields=["creator", "month"], name="an_videomonth_creator_month")]

    def __str__(self) -> str:
        return f"{self.video_id} {self.month:%Y-%m}"


class VideoViewerDay(models.Model):
    """Per video per student per local day: which buckets the student played at least once
    (`seen`: one "1"/"0" character per BUCKET_SECONDS bucket from 0 s). Unique viewers over a
    range = students whose days' `seen` OR together to "1" at the bucket (analytics.buckets);
    exact for any range, unlike a sum of per-day unique counts."""

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    video = models.ForeignKey("videos.Video", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    seen = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["video", "day", "user"], name="an_video_viewer_day_unique"
            )
        ]
        indexes = [models.Index(fields=["creator", "user", "day"], name="an_videoviewer_user_day")]

    def __str__(self) -> str:
        return f"{self.video_id} {self.user_id} {self.day}"


class StudentBit(models.Model):
    """A student's dense number at one creator: their bit in CourseDay.students (0, 1, 2, ...
    in order of first activity). Never reused: a deleted user's row stays (user None) so
    older bitmaps never name someone else."""

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    bit = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["creator", "user"], name="an_student_bit_user"),
            models.UniqueConstraint(fields=["creator", "bit"], name="an_student_bit_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} bit {self.bit}"


class CourseProgress(models.Model):
    """Per student per course, from their LessonProgress rows in the course: `started`, the
    local day they first started a lesson; `done`, sorted, one local day per completed
    lesson from which it counts as done (its completion day, or its start day if later).
    A range's progress as of its end D is one row per pair: started if started <= D, lessons
    done = how many `done` days are <= D (PostgreSQL width_bucket: a binary search) — what
    the funnel and the progress spread read instead of joining every LessonProgress row to
    its lesson and module. Refolded for every student whose progress changed."""

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey("courses.Course", on_delete=models.CASCADE, related_name="+")
    started = models.DateField()
    done = ArrayField(models.DateField(), default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["creator", "user", "course"], name="an_course_progress_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.course_id}"


class QuestionMonth(models.Model):
    """Per video per course (None: asked outside a course) per closed local month (before
    the creator's current month): how many questions were placed on the video's timeline
    (QuestionFact rows with a video and a position). A range ranks the videos of the
    confusion heatmap from one row per video and course for each month it wholly covers
    once the creator's month is materialised (every row of a month is written at once),
    and from QuestionFact for its other days."""

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    video = models.ForeignKey("videos.Video", on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey(
        "courses.Course", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    month = models.DateField(help_text="The month's first day (local).")
    questions = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["creator", "month"], name="an_questionmonth_month")]

    def __str__(self) -> str:
        return f"{self.video_id} {self.course_id} {self.month:%Y-%m}"


class QuestionGroupMonth(models.Model):
    """Per closed local month (before the creator's current month) per course (None: asked
    outside a course) per lexeme set: the question lists' aggregate of its QuestionFact rows
    (how many, how many not covered, the greatest wording of all and of the not covered
    ones, the newest not-covered time and message id). The two question lists
    (analytics.selectors.questions_summary) read one row per course and set for each month
    a range wholly covers once the creator's month is materialised (every row of a month
    is written at once), QuestionFact for its other days; each column merges across months
    exactly (sums and maxima). Rows per month: one per distinct (course, lexeme set) asked
    that month, so at most one per question (as many when every wording differs)."""

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey(
        "courses.Course", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    month = models.DateField(help_text="The month's first day (local).")
    lexemes = models.TextField(blank=True)
    questions = models.PositiveIntegerField(default=0)
    not_covered = models.PositiveIntegerField(default=0)
    text = models.TextField(help_text="The greatest wording (MAX(text)) of the month's set.")
    not_covered_text = models.TextField(null=True, blank=True)
    last_not_covered_at = models.DateTimeField(null=True, blank=True)
    last_not_covered_message_id = models.BigIntegerField(
        null=True, blank=True, help_text="The greatest not-covered ChatMessage id (no FK)."
    )

    class Meta:
        indexes = [models.Index(fields=["creator", "month"], name="an_qgroupmonth_month")]

    def __str__(self) -> str:
        return f"{self.course_id} {self.month:%Y-%m} {self.lexemes[:40]}"
