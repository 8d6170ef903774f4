"""Chat sessions and messages, the answer cache, and per-creator retrieval calibration."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models


class ChatSessionQuerySet(models.QuerySet):
    def for_user(self, *, user, creator) -> ChatSessionQuerySet:
        """Sessions are private: only the user's own, inside one creator."""
        return self.filter(user=user, creator=creator)


class ChatSession(models.Model):
    """One conversation of a user with a creator's library (optionally narrowed)."""

    creator = models.ForeignKey(
        "creators.Creator", on_delete=models.CASCADE, related_name="chat_sessions"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_sessions"
    )
    title = models.CharField(max_length=200, blank=True)
    course = models.ForeignKey(
        "courses.Course",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="chat_sessions",
    )
    # Optional scope: a list of video ids (ints) the session searches; [] = whole library.
    video_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ChatSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["user", "creator", "-updated_at"], name="chatsession_user_recent")
        ]

    def __str__(self) -> str:
        return self.title or f"Chat {self.pk}"


class ChatMessage(models.Model):
    """One turn. Assistant turns carry citations and usage.

    citations: [{video_id, video_title, start, end, quote, score}] (seconds, floats).
    nearest: a question the videos don't cover (covered false) whose best moments came close
    (chat.services.answer.nearest_moments): up to 3 of them, the same dicts, offered as the
    closest the videos come, never as citations of the answer.
    cost_usd: Decimal USD from billing.prices.chat_cost; latency_ms: wall time to answer.
    status: an assistant turn is saved "pending" with the question (chat.services.ask
    chat_question_save), "answering" while one stream produces it, "done" once answered.
    """

    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ANSWERING = "answering", "Answering"
        DONE = "done", "Done"

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField()
    citations = models.JSONField(default=list, blank=True)
    covered = models.BooleanField(default=True)
    nearest = models.JSONField(default=list, blank=True, db_default=[])
    model = models.CharField(max_length=100, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal(0))
    latency_ms = models.PositiveIntegerField(default=0)
    cached = models.BooleanField(default=False)
    # Where the player was when the question was asked from a lesson (user turns): the
    # video and its position in seconds; null when asked from the chat page.
    video = models.ForeignKey(
        "videos.Video", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    video_position = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DONE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["session", "created_at"], name="chatmessage_session")]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"


class AnswerCacheEntry(models.Model):
    """A stored answer for (normalised question, scope, library version).

    Lives in the database so every web process shares it. `key` is a sha256 hex digest; an
    entry is served only while younger than chat.services.CACHE_TTL_SECONDS. A library
    change alters the version inside the key, so stale entries are simply never hit (and
    are pruned opportunistically).
    """

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64, unique=True)
    answer = models.TextField()
    citations = models.JSONField(default=list, blank=True)
    covered = models.BooleanField(default=True)
    model = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.creator_id}:{self.key[:12]}"


class RetrievalCalibration(models.Model):
    """Per-creator statistics the retriever needs, recomputed when the library changes.

    floor: the full-text relevance floor (see chat.retrieval.calibration.calibration_compute);
    vector_floor: the same for window cosine similarity (None without embeddings);
    doc_count: number of chunks; library_version: the version the stats were made from.
    details: the raw score samples' summary, for inspection (and "queued_for": the library
    version a refresh was queued for). Document frequencies live in videos.LexemeFrequency.
    """

    creator = models.OneToOneField(
        "creators.Creator", on_delete=models.CASCADE, related_name="retrieval_calibration"
    )
    library_version = models.CharField(max_length=64)
    doc_count = models.PositiveIntegerField(default=0)
    floor = models.FloatField(default=0.0)
    vector_floor = models.FloatField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"calibration {self.creator_id}: floor {self.floor:.3f}"


class CreatorFAQ(models.Model):
    """A creator's own answer to a question the videos did not cover ("Answer this" on the
    analytics page). The tutor gives it for later similar questions, labelled as the
    creator's answer (chat.faq). lexemes: the question's English lexemes (Postgres
    to_tsvector, sorted, space-joined), the key similarity is measured on. video / start /
    end (seconds) / quote: the moment of the videos the creator confirmed answers it (one
    of the closest moments the refusal offered, ChatMessage.nearest), cited and played
    with the answer; null when the answer is the creator's words alone (or the video was
    deleted since)."""

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="faqs")
    question = models.TextField()
    answer = models.TextField(blank=True)  # empty: the confirmed moment alone answers
    lexemes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    source_message = models.ForeignKey(
        ChatMessage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    video = models.ForeignKey(
        "videos.Video", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    start = models.FloatField(null=True, blank=True)
    end = models.FloatField(null=True, blank=True)
    quote = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["creator", "-created_at"], name="creatorfaq_recent")]

    def __str__(self) -> str:
        return self.question[:60]


class ScopeMemo(models.Model):
    """A student's resolved retrieval scope, shared by every web process
    (chat.services.answer.chat_scope): `key` (sha256 hex) names the creator, the student,
    the scope asked for and the digest of every row the lock rules read
    (courses.selectors.lock_inputs_digest), so a row is only ever read for the inputs it
    was resolved from; `scope` is the chat.retrieval.Scope as JSON; `expires` ends it
    (300 s at most, or the moment a drip lock in it opens). Disposable: the table is
    UNLOGGED (see the migration) and expired rows are pruned now and then."""

    key = models.CharField(max_length=64, primary_key=True)  # sha256 hex
    creator_id = models.BigIntegerField()
    scope = models.JSONField()
    expires = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.key
