"""Reads of media, always scoped through the acting user's creator access."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from chronos.errors import NotFound
from creators.models import Creator, User
from creators.selectors import creators_learnable_by, creators_managed_by
from videos.access import may_view
from videos.models import DirectUpload, TranscriptSegment, Video


def videos_for_creator(*, creator: Creator) -> QuerySet[Video]:
    """All videos of a creator the caller has already resolved through creators.selectors."""
    return Video.objects.filter(creator=creator).order_by("-created_at")


def video_get_managed(*, user: User, creator: Creator, pk: int) -> Video:
    """A video of `creator` the user manages; NotFound if it is not theirs."""
    video = (
        Video.objects.filter(creator__in=creators_managed_by(user=user))
        .filter(creator=creator, pk=pk)
        .select_related("creator")
        .first()
    )
    if video is None:
        raise NotFound("No such video.")
    return video


def video_get_viewable(*, user: User, pk: int) -> Video:
    """A video the user may watch (manager, or student with an active membership whom no
    registered view filter refuses: see videos.access, e.g. a lesson still locked)."""
    video = (
        Video.objects.filter(creator__in=creators_learnable_by(user=user), pk=pk)
        .select_related("creator")
        .first()
    )
    if video is None or not may_view(user=user, video=video):
        raise NotFound("No such video.")
    return video


def segments_for_video(*, video: Video) -> QuerySet[TranscriptSegment]:
    return TranscriptSegment.objects.filter(video=video).order_by("index")


# --- Reads for the creator's video pages and the REST API (added by the video UI) -------


def video_get_for_manager(*, user: User, pk: int) -> Video:
    """A video of any creator the user manages (REST addresses videos by id alone).

    Raises NotFound when the video does not exist or belongs to a creator the user does not
    manage (another tenant's id is indistinguishable from a missing one)."""
    video = (
        Video.objects.filter(creator__in=creators_managed_by(user=user), pk=pk)
        .select_related("creator")
        .first()
    )
    if video is None:
        raise NotFound("No such video.")
    return video


def videos_with_counts(queryset: QuerySet[Video]) -> QuerySet[Video]:
    """`queryset` annotated with `segment_count` and `chunk_count` (ints), one query total.

    Correlated subqueries rather than two joined COUNTs, which would multiply rows."""
    from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce

    from videos.models import VideoChunk

    def _count(model: Any) -> Coalesce:
        counted = (
            model.objects.filter(video=OuterRef("pk"))
            .order_by()
            .values("video")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))

    return queryset.annotate(
        segment_count=_count(TranscriptSegment), chunk_count=_count(VideoChunk)
    )


def library_usage(creator: Creator) -> Any:
    """billing.meters.LibraryUsage for `creator`: every video row (failed ones count until
    deleted) and the sum of their media sizes in bytes. Registered in VideosConfig.ready()."""
    from django.db.models import Count, Sum

    from billing.meters import LibraryUsage

    row = Video.objects.filter(creator=creator).aggregate(n=Count("id"), b=Sum("size_bytes"))
    return LibraryUsage(videos=row["n"] or 0, storage_bytes=int(row["b"] or 0))


def video_titles(creator: Creator, ids: list[int]) -> dict[int, str]:
    """{video id: title} for the creator's videos among `ids` (billing's Costs page)."""
    return dict(Video.objects.filter(creator=creator, pk__in=ids).values_list("pk", "title"))


def library_state(*, creator: Creator) -> dict[str, bool]:
    """{"ready": any completed video, "processing": any still processing} of `creator`'s
    library (the caller has resolved `creator` for the acting user). Two EXISTS queries."""
    videos = Video.objects.filter(creator=creator)
    return {
        "ready": videos.completed().exists(),
        "processing": videos.in_progress().exists(),
    }


def recent_ready_titles(*, creator: Creator, limit: int = 3) -> list[str]:
    """Titles of `creator`'s newest completed videos, newest first, at most `limit`."""
    return list(
        Video.objects.filter(creator=creator)
        .completed()
        .order_by("-created_at")
        .values_list("title", flat=True)[:limit]
    )


def direct_upload_get_for_manager(*, user: User, pk: int) -> DirectUpload:
    """A direct upload (videos.uploads) of a creator the user manages; NotFound otherwise
    (another tenant's id is indistinguishable from a missing one)."""
    upload = (
        DirectUpload.objects.filter(creator__in=creators_managed_by(user=user), pk=pk)
        .select_related("creator")
        .first()
    )
    if upload is None:
        raise NotFound("No such upload.")
    return upload


def form_uploads_recent(
    *, creator: Creator, hours: float = 24, limit: int = 10
) -> list[DirectUpload]:
    """The creator's no-JS form uploads (S3 POST) of the last `hours` hours, newest first:
    what the upload page lists so a creator without JavaScript sees each one's check
    (verifying, completed, or refused with the reason)."""
    since = timezone.now() - timedelta(hours=hours)
    return list(
        DirectUpload.objects.filter(
            creator=creator, source_key__isnull=False, created_at__gte=since
        ).order_by("-created_at")[:limit]
    )
