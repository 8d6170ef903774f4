"""django-q2 task functions of the chat app: take ids, call a service, return small values."""

from __future__ import annotations

from chat.retrieval.calibration import calibration_refresh as _calibration_refresh


def calibration_refresh(creator_id: int) -> float | None:
    """Queued by chat.retrieval.calibration.calibration_schedule: the creator's retrieval
    calibration made current (chat.retrieval.calibration.calibration_refresh). Returns the
    floor, or None if the creator is gone."""
    return _calibration_refresh(creator_id=creator_id)
