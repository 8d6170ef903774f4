"""django-q2 tasks of the chat app: take ids, call a service, return small values."""

from __future__ import annotations

from chat.retrieval import calibration_compute
from creators.models import Creator


def calibration_refresh(creator_id: int) -> float | None:
    """Recompute a creator's retrieval calibration (IDF stats + relevance floor).
    Returns the new floor, or None if the creator is gone."""
    creator = Creator.objects.filter(pk=creator_id).first()
    if creator is None:
        return None
    return calibration_compute(creator=creator).floor
