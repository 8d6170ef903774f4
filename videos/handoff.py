"""Upload handoff: a higher app's view can take newly uploaded videos from the upload page.

The upload page accepts `?then=<path>&back=<path>`. `then` must resolve to a view marked
with `upload_target(label)` whose URL carries the same creator handle; after each file is
accepted, static/js/upload.js POSTs {video_id} to it (with the CSRF token). `back` is a
link back to where the creator came from. videos never imports the app that owns the
target: the marker lives here (e.g. courses' "add lesson" view wears it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import Resolver404, resolve
from django.utils.http import url_has_allowed_host_and_scheme


def upload_target(label: str) -> Callable[[Any], Any]:
    """Mark a view (outermost decorator) that takes POST {video_id} as an upload handoff;
    `label` names it on the upload page, e.g. "Each upload becomes a lesson"."""

    def mark(view):
        view.upload_target_label = label
        return view

    return mark


def handoff_for(*, handle: str, then: str | None, back: str | None) -> dict[str, str]:
    """{"then_url", "then_label", "back_url"} for the upload page, or {} when `then` is not
    a marked view of this creator (anything else is ignored, never followed)."""
    if not then or not url_has_allowed_host_and_scheme(then, allowed_hosts=None):
        return {}
    if not then.startswith("/") or then.startswith("//"):
        return {}
    try:
        match = resolve(then.split("?", 1)[0])
    except Resolver404:
        return {}
    label = getattr(match.func, "upload_target_label", "")
    if not label or match.kwargs.get("handle") != handle:
        return {}
    safe_back = (
        back
        if back
        and back.startswith("/")
        and not back.startswith("//")
        and url_has_allowed_host_and_scheme(back, allowed_hosts=None)
        else ""
    )
    return {"then_url": then, "then_label": label, "back_url": safe_back}
