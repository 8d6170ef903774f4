"""django-q2 tasks of the courses app: take ids, call a service, return small values."""

from __future__ import annotations

from chronos.schedules import Periodic
from courses import services

SCHEDULES = (
    Periodic(
        "courses: fold pending heartbeats", "courses.tasks.pending_heartbeats_fold", minutes=1
    ),
)


def enrollments_sync(membership_id: int) -> int:
    """Switch a student's enrollments on/off to match their membership (rows kept).
    Returns how many enrollments changed (0 when the membership is gone)."""
    from creators.models import Membership

    membership = Membership.objects.filter(pk=membership_id).first()
    if membership is None:
        return 0
    active = Membership.objects.active().filter(pk=membership_id).exists()
    return services.enrollments_sync_membership(
        creator_id=membership.creator_id, user_id=membership.user_id, active=active
    )


def pending_heartbeats_fold() -> int:
    """Fold every heartbeat the fast lane queued (SCHEDULES: every minute). Returns how
    many were folded."""
    return services.watch_pending_fold()
