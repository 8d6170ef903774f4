"""How billing learns what a creator's library holds, without importing videos.

Billing sits below videos (creators <- billing <- videos), so the videos app registers one
function here from VideosConfig.ready() — the same pattern as creators' webhook dispatch
table. Billing calls it to meter videos and storage and to enforce upload limits. Videos
and courses also register labelers that name their ids on the Costs page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from creators.models import Creator


@dataclass(frozen=True)
class LibraryUsage:
    """What counts against the tier: every video row (failed ones too, until deleted) and
    the bytes of their media files."""

    videos: int
    storage_bytes: int


LibraryUsageFn = Callable[[Creator], LibraryUsage]
_library_usage: list[LibraryUsageFn] = []


def register_library_usage(fn: LibraryUsageFn) -> LibraryUsageFn:
    """Install `fn(creator) -> LibraryUsage` (videos does, once). Returns fn."""
    _library_usage[:] = [fn]
    return fn


def library_usage(creator: Creator) -> LibraryUsage:
    """The creator's library usage; zero when no app registered a meter (billing alone)."""
    if not _library_usage:
        return LibraryUsage(videos=0, storage_bytes=0)
    return _library_usage[0](creator)


# Names for ids billing cannot resolve itself (videos and courses live above it), for the
# Costs page: apps register fn(creator, ids) -> {id: label} from their ready().
Labeler = Callable[[Creator, list[int]], dict[int, str]]
_labelers: dict[str, Labeler] = {}


def register_labeler(kind: str, fn: Labeler) -> Labeler:
    """Let an app above billing name its objects ("video", "course"). Returns fn."""
    _labelers[kind] = fn
    return fn


def labels_for(kind: str, creator: Creator, ids: list[int]) -> dict[int, str]:
    """{id: label} for every id; "Video #12" when no app named it (or it was deleted)."""
    fn = _labelers.get(kind)
    found = fn(creator, ids) if fn and ids else {}
    return {i: found.get(i) or f"{kind.capitalize()} #{i}" for i in ids}
