"""django-q2 task functions of the chat app: take ids, call a service, return small values."""

from __future__ import annotations

from chat.models import RetrievalCalibration
from chat.retrieval import calibration_compute, library_version
from creators.models import Creator


def calibration_refresh(creator_id: int) -> float | None:
    """Recompute a creator's retrieval calibration (relevance floor) unless it is already
    current for the library. Returns the floor, or None if the creator is gone."""
    creator = Creator.objects.filter(pk=creator_id).first()
    if creator is None:
        return None
    current = RetrievalCalibration.objects.filter(creator=creator).first()
    if current is not None and current.library_version == library_version(creator=creator):
        return current.floor
    return calibration_compute(creator=creator).floor
