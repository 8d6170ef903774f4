"""A creator's team: adding and removing members (owner, team admins or staff only)."""

from __future__ import annotations

from chronos.errors import DomainError, NotFound, PermissionDenied
from creators.models import Creator, CreatorMember, User
from creators.selectors import user_may_manage_team


def team_member_add(
    *, creator: Creator, actor: User, email: str, role: str = CreatorMember.Role.EDITOR
) -> CreatorMember:
    """Add an existing user (by email) to the creator's team.

    Raises chronos.errors.PermissionDenied unless `actor` is the owner, a team admin or
    staff; DomainError when no user has that email, the role is unknown, or the user is the
    owner.
    """
    if not user_may_manage_team(creator=creator, user=actor):
        raise PermissionDenied("Only the owner or a team admin can change the team.")
    if role not in CreatorMember.Role.values:
        raise DomainError.for_field("role", f"Unknown role {role!r}.")
    user = User.objects.filter(email__iexact=email.strip()).order_by("pk").first()
    if user is None:
        raise DomainError.for_field(
            "email", "No Chronos account uses that email yet; ask them to sign in first."
        )
    if user.pk == creator.owner_id:
        raise DomainError.for_field("email", "The owner is already on the team.")
    member, _ = CreatorMember.objects.update_or_create(
        creator=creator, user=user, defaults={"role": role}
    )
    return member


def team_member_remove(*, creator: Creator, actor: User, member_id: int) -> None:
    """Remove one team member of `creator`. Raises chronos.errors.PermissionDenied, or
    NotFound when `member_id` is not on this creator's team."""
    if not user_may_manage_team(creator=creator, user=actor):
        raise PermissionDenied("Only the owner or a team admin can change the team.")
    deleted, _ = CreatorMember.objects.filter(creator=creator, pk=member_id).delete()
    if not deleted:
        raise NotFound("No such team member.")
