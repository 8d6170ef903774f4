"""Media and what the pipeline derives from it: segments, chunks, embedding windows."""

from __future__ import annotations

from decimal import Decimal
from pathlib import PurePosixPath

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from pgvector.django import HnswIndex, VectorField

# Every stored vector has this many dimensions. Models with fewer (all-MiniLM-L6-v2: 384)
# are zero-padded: padding changes neither dot products nor norms, so cosine is unchanged.
EMBEDDING_DIMENSIONS = 1536
# The full-text configuration for every search vector and query.
SEARCH_CONFIG = "english"


def video_upload_to(video: Video, filename: str) -> str:
    """`{creator_slug}/videos/{video_id}.{ext}`; the row is saved before its file."""
    ext = PurePosixPath(filename).suffix.lower().lstrip(".") or "bin"
    return f"{video.creator.handle}/videos/{video.pk}.{ext}"


def captions_upload_to(video: Video, filename: str) -> str:
    ext = PurePosixPath(filename).suffix.lower().lstrip(".") or "vtt"
    return f"{video.creator.handle}/videos/{video.pk}.captions.{ext}"


def thumbnail_upload_to(video: Video, filename: str) -> str:
    return f"{video.creator.handle}/videos/{video.pk}.thumb.jpg"


class VideoQuerySet(models.QuerySet):
    def completed(self) -> VideoQuerySet:
        return self.filter(status=Video.Status.COMPLETED)

    def in_progress(self) -> VideoQuerySet:
        return self.filter(status__in=Video.ACTIVE_STATUSES)


class Video(models.Model):
    """One uploaded lecture (video or audio) and its processing state."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        TRANSCRIBING = "transcribing", "Transcribing"
        CHUNKING = "chunking", "Chunking"
        EMBEDDING = "embedding", "Embedding"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    class TranscriptSource(models.TextChoices):
        CAPTIONS = "captions", "Uploaded captions"
        WHISPER = "whisper", "OpenAI Whisper"
        LOCAL = "local", "Local speech recognition"

    ACTIVE_STATUSES = (
        Status.PENDING,
        Status.TRANSCRIBING,
        Status.CHUNKING,
        Status.EMBEDDING,
    )

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="videos")
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    file = models.FileField(upload_to=video_upload_to, max_length=500, blank=True)
    original_filename = models.CharField(max_length=255, blank=True)
    captions_file = models.FileField(upload_to=captions_upload_to, max_length=500, blank=True)
    thumbnail = models.ImageField(upload_to=thumbnail_upload_to, max_length=500, blank=True)
    # Seconds that decode (videos.media.readable_duration), not what the container claims.
    duration_seconds = models.FloatField(null=True, blank=True)
    # Set only for a cut-off file: the seconds that decode (its duration claims more).
    readable_seconds = models.FloatField(null=True, blank=True)
    # The creator chose to process a cut-off file's readable part (a retry "readable part").
    use_readable_part = models.BooleanField(default=False)
    size_bytes = models.BigIntegerField(default=0)
    media_kind = models.CharField(max_length=10, blank=True)  # "video" | "audio"
    container = models.CharField(max_length=40, blank=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    error = models.TextField(blank=True)
    transcript_source = models.CharField(
        max_length=20, choices=TranscriptSource.choices, blank=True
    )
    language = models.CharField(max_length=16, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # When the current stage last reported progress; the sweeper uses it to find stuck jobs.
    stage_heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The pipeline stage running or last run: probe|transcribe|chunk|embed|done. A retry
    # resumes from it (a failed embedding does not pay for Whisper again).
    stage = models.CharField(max_length=20, blank=True, default="")
    # When the sweeper or a stopping worker last handed this run to a new attempt (the status
    # label then adds "worker restarted, resuming"); cleared by a retry or reprocess.
    resumed_at = models.DateTimeField(null=True, blank=True)
    # Fraction (0-1) of the current stage done, for progress bars; reset per stage.
    stage_progress = models.FloatField(default=0.0)
    probe_started_at = models.DateTimeField(null=True, blank=True)
    probe_ended_at = models.DateTimeField(null=True, blank=True)
    transcribing_started_at = models.DateTimeField(null=True, blank=True)
    transcribing_ended_at = models.DateTimeField(null=True, blank=True)
    chunking_started_at = models.DateTimeField(null=True, blank=True)
    chunking_ended_at = models.DateTimeField(null=True, blank=True)
    embedding_started_at = models.DateTimeField(null=True, blank=True)
    embedding_ended_at = models.DateTimeField(null=True, blank=True)
    processing_cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal(0))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = VideoQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["creator", "status"])]

    def __str__(self) -> str:
        return self.title

    @property
    def is_processing(self) -> bool:
        return self.status in self.ACTIVE_STATUSES


class TranscriptSegment(models.Model):
    """One timed piece of transcript (a caption cue or an ASR segment). Seconds, floats."""

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="segments")
    index = models.PositiveIntegerField()
    start = models.FloatField()
    end = models.FloatField()
    text = models.TextField()
    speaker = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["video", "index"]
        constraints = [
            models.UniqueConstraint(fields=["video", "index"], name="segment_video_index"),
        ]

    def __str__(self) -> str:
        return f"[{self.start:.1f}-{self.end:.1f}] {self.text[:60]}"


class VideoChunk(models.Model):
    """A sentence-aligned run of segments (~750 words) that search and answers work on."""

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="chunks")
    chunk_index = models.PositiveIntegerField()
    text = models.TextField()
    start = models.FloatField()
    end = models.FloatField()
    word_count = models.PositiveIntegerField()
    first_segment_index = models.PositiveIntegerField()
    last_segment_index = models.PositiveIntegerField()
    embedding = VectorField(dimensions=EMBEDDING_DIMENSIONS, null=True, blank=True)
    embedding_model = models.CharField(max_length=100, blank=True)
    search_vector = models.GeneratedField(
        expression=SearchVector("text", config=SEARCH_CONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["video", "chunk_index"]
        constraints = [
            models.UniqueConstraint(fields=["video", "chunk_index"], name="chunk_video_index"),
        ]
        indexes = [
            GinIndex(fields=["search_vector"], name="chunk_search_gin"),
            HnswIndex(
                name="chunk_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            models.Index(fields=["creator", "video"], name="chunk_creator_video"),
        ]

    def __str__(self) -> str:
        return f"{self.video_id}#{self.chunk_index} [{self.start:.0f}-{self.end:.0f}]"


class SegmentWindow(models.Model):
    """A few neighbouring segments inside one chunk, embedded on their own.

    Small embedding models see only the first few hundred tokens of a 750-word chunk; a
    chunk takes the best score of its windows, and the window pinpoints the cited moment.
    """

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="windows")
    chunk = models.ForeignKey(VideoChunk, on_delete=models.CASCADE, related_name="windows")
    first_segment_index = models.PositiveIntegerField()
    last_segment_index = models.PositiveIntegerField()
    start = models.FloatField()
    end = models.FloatField()
    text = models.TextField()
    embedding = VectorField(dimensions=EMBEDDING_DIMENSIONS, null=True, blank=True)
    embedding_model = models.CharField(max_length=100, blank=True)
    # The window's lexemes, stored at write time: retrieval reads them for every candidate
    # window of every question (computing to_tsvector there was 40% of a question's SQL).
    search_vector = models.GeneratedField(
        expression=SearchVector("text", config=SEARCH_CONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["video", "first_segment_index"]
        indexes = [
            HnswIndex(
                name="window_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            models.Index(fields=["creator", "video"], name="window_creator_video"),
        ]

    def __str__(self) -> str:
        return f"{self.video_id} segs {self.first_segment_index}-{self.last_segment_index}"


# --- the full-text postings (impact-ordered inverted index) --------------------------------
# BM25 term-frequency saturation and length normalisation baked into each posting's weight:
# Okapi BM25's customary k1 = 1.2, b = 0.75 (Robertson & Zaragoza, "The Probabilistic
# Relevance Framework: BM25 and Beyond", 2009), and avgdl = the chunker's 750-word target
# (videos.chunking.TARGET_WORDS) as a documented constant, so a posting never changes when
# other chunks come or go. The SQL in migration 0004 uses the same numbers.
POSTING_BM25_K1 = 1.2
POSTING_BM25_B = 0.75
POSTING_AVG_WORDS = 750


class ChunkPosting(models.Model):
    """One (chunk, lexeme) pair of a chunk's search vector, with its BM25 term weight.

    weight = tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)), tf = the lexeme's
    occurrences in the chunk (positions in the tsvector), dl = the chunk's word_count (see
    the constants above). A question's score for a chunk is the sum over its lexemes of
    IDF * weight (chat.retrieval.lexical).

    Rows are derived data, written and deleted by PostgreSQL triggers on videos_videochunk
    (migration 0004): an insert of chunks (bulk_create, COPY) adds their postings in one
    INSERT ... SELECT over unnest(search_vector); a delete (re-chunking, video or creator
    deletion) removes them; a text change replaces them. No code writes this table. Hence
    the foreign keys are DO_NOTHING without database constraints: the triggers keep them
    consistent and Django does not have to collect millions of rows on a delete.

    Indexes: the primary key (video, lexeme, chunk) INCLUDE (weight) (migration 0005) serves
    narrow scopes (a few videos), exact re-scoring of candidates (index-only) and deletes;
    posting_impact (creator, lexeme, weight DESC) INCLUDE (video, chunk) lets a
    query read the best postings of a lexeme first and stop (index-only, top-M).
    """

    pk = models.CompositePrimaryKey("video_id", "lexeme", "chunk_id")
    creator = models.ForeignKey(
        "creators.Creator",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    video = models.ForeignKey(
        Video,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    chunk = models.ForeignKey(
        VideoChunk,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    lexeme = models.TextField()
    weight = models.FloatField()

    class Meta:
        indexes = [
            models.Index(
                fields=["creator", "lexeme", "-weight"],
                include=["video", "chunk"],
                name="posting_impact",
            )
        ]

    def __str__(self) -> str:
        return f"{self.chunk_id}:{self.lexeme} {self.weight:.3f}"


class LexemeFrequency(models.Model):
    """Document frequency: in how many of a creator's chunks a lexeme occurs (for IDF).

    Kept up to date by the same triggers as ChunkPosting, incrementally (+n when chunks are
    added, -n when they are removed; rows may reach 0 and stay). Counts every chunk of the
    creator, whatever its video's status (chunks exist from the chunk stage on). The row
    with lexeme '' (never a real lexeme) holds the creator's number of chunks, IDF's N, so
    N and the frequencies always come from one consistent snapshot.
    """

    TOTAL = ""  # the lexeme of the chunk-count row

    creator = models.ForeignKey(
        "creators.Creator", on_delete=models.CASCADE, db_index=False, related_name="+"
    )
    lexeme = models.TextField()
    ndoc = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["creator", "lexeme"], name="lexemefrequency_unique")
        ]

    def __str__(self) -> str:
        return f"{self.lexeme}: {self.ndoc}"


class DirectUpload(models.Model):
    """One browser upload sent straight to the bucket (S3 mode): an S3 multipart upload
    Chronos started and signed, waiting for the browser to send its parts and say it is
    complete (videos.uploads). The Video row is created only when the object is verified;
    its id is reserved here so the object's key is final from the start:
    `{handle}/videos/{video_id}.{ext}`. Sizes in bytes."""

    class Status(models.TextChoices):
        PENDING = "pending", "Uploading"
        VERIFYING = "verifying", "Checking"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Refused"
        ABORTED = "aborted", "Abandoned"

    creator = models.ForeignKey("creators.Creator", on_delete=models.CASCADE, related_name="+")
    video_id = models.BigIntegerField(unique=True)  # reserved from the video id sequence
    key = models.CharField(max_length=500)
    upload_id = models.CharField(max_length=1024)  # S3's UploadId
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, blank=True)
    size_bytes = models.BigIntegerField()
    part_bytes = models.BigIntegerField()
    title = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    error = models.TextField(blank=True)
    # A no-JS form upload (S3 POST): the key the browser posted to, under
    # {handle}/incoming/; the worker moves it to `key` once verified. Null for multipart.
    source_key = models.CharField(max_length=1024, null=True, blank=True, unique=True)
    # The refusal's machine code ("missing", "truncated", "not_media", "limit_exceeded").
    error_code = models.CharField(max_length=40, blank=True)
    # Captions sent with the completion (small .vtt/.srt), kept until the worker has
    # verified the media and created the Video.
    captions_data = models.BinaryField(null=True, blank=True)
    captions_filename = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        "creators.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["creator", "status"], name="directupload_creator_status")]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"

    @property
    def part_count(self) -> int:
        return max(1, -(-self.size_bytes // self.part_bytes))
