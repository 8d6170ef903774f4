"""Extension point for who may watch a video, for apps above videos (DESIGN.md: imports
run one way, so videos cannot ask courses directly).

A higher app registers, in its AppConfig.ready(), a function
`(user, video) -> bool` that returns False when that user must not watch that video
(courses: a lesson the student has not unlocked). video_get_viewable asks every
registered function after the membership check; any False is a 404.
"""

from __future__ import annotations

from collections.abc import Callable

ViewFilter = Callable[..., bool]

_view_filters: list[ViewFilter] = []


def register_view_filter(fn: ViewFilter) -> None:
    """Add `fn(user, video) -> bool` (idempotent: the same function is added once)."""
    if fn not in _view_filters:
        _view_filters.append(fn)


def may_view(*, user, video) -> bool:
    """True unless a registered filter refuses `user` this `video`."""
    return all(fn(user, video) for fn in _view_filters)
