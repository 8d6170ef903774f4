"""Enrollment: created on a student's first visit, switched with their membership."""

from __future__ import annotations

from django.utils import timezone

from courses.models import Course, Enrollment
from creators.models import User


def enrollment_ensure(*, user: User, course: Course) -> Enrollment:
    """The user's enrollment in `course`, created on their first visit (enrolled_at =
    now) and re-activated if it was switched off. The caller checked entitlement."""
    enrollment, created = Enrollment.objects.get_or_create(
        course=course,
        user=user,
        defaults={"creator_id": course.creator_id, "enrolled_at": timezone.now()},
    )
    if not created and not enrollment.is_active:
        enrollment.is_active = True
        enrollment.save(update_fields=["is_active"])
    return enrollment


def enrollments_sync_membership(*, creator_id: int, user_id: int, active: bool) -> int:
    """Switch a student's enrollments in a creator's courses on/off when their membership
    changes (rows and progress are kept). Returns the number of rows changed."""
    return (
        Enrollment.objects.filter(creator_id=creator_id, user_id=user_id)
        .exclude(is_active=active)
        .update(is_active=active)
    )
