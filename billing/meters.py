"""How billing learns what a creator's library holds, without importing videos.

Billing sits below videos (creators <- billing <- videos), so the videos app registers one
function here from VideosConfig.ready() — the same pattern as creators' webhook dispatch
table. Billing calls it to meter videos and storage and to enforce upload limits.
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
