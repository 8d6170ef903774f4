"""Reads of media, always scoped through the acting user's creator access."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from creators.models import Creator, User
from creators.selectors import creators_learnable_by, creators_managed_by
from videos.models import TranscriptSegment, Video


def videos_for_creator(*, creator: Creator) -> QuerySet[Video]:
    """All videos of a creator the caller has already resolved through creators.selectors."""
    return Video.objects.filter(creator=creator).order_by("-created_at")


def video_get_managed(*, user: User, creator: Creator, pk: int) -> Video:
    """A video of `creator` the user manages; Http404 if it is not theirs."""
    video = (
        Video.objects.filter(creator__in=creators_managed_by(user=user))
        .filter(creator=creator, pk=pk)
        .select_related("creator")
        .first()
    )
    if video is None:
        raise Http404("No such video.")
    return video


def video_get_viewable(*, user: User, pk: int) -> Video:
    """A video the user may watch (manager, or student with an active membership)."""
    video = (
        Video.objects.filter(creator__in=creators_learnable_by(user=user), pk=pk)
        .select_related("creator")
        .first()
    )
    if video is None:
        raise Http404("No such video.")
    return video


def segments_for_video(*, video: Video) -> QuerySet[TranscriptSegment]:
    return TranscriptSegment.objects.filter(video=video).order_by("index")
