"""Reads scoped to the acting user. Every view and API endpoint resolves its tenant here.

A creator the user may not see raises NotFound (an Http404), never PermissionDenied: the
existence of another tenant's objects is not disclosed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from chronos.db import prepared_cursor
from chronos.errors import NotFound
from creators.models import Creator, Invite, Membership, User

_USER_FIELDS = list(User._meta.concrete_fields)
_USER_BY_PK = "SELECT {} FROM {} WHERE {} = %s".format(
    ", ".join(connection.ops.quote_name(f.column) for f in _USER_FIELDS),
    connection.ops.quote_name(User._meta.db_table),
    connection.ops.quote_name(User._meta.pk.column),
)


def user_by_pk(pk: int | str) -> User | None:
    """The User with primary key `pk` (an int, or its decimal string as a session stores
    it), every field loaded, or None (no such user, or not a whole number). One fixed
    statement: the signed-in user is read on every request (creators.auth)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    with prepared_cursor() as cur:
        cur.execute(_USER_BY_PK, [pk])
        row = cur.fetchone()
    if row is None:
        return None
    return User.from_db(connection.alias, [f.attname for f in _USER_FIELDS], row)


def creators_managed_by(*, user: User) -> QuerySet[Creator]:
    """Active creators the user owns or is a team member of (admins: all)."""
    return Creator.objects.managed_by(user)


def creator_get_managed(*, user: User, handle: str) -> Creator:
    """The creator `handle` if `user` may manage it; raises NotFound otherwise."""
    creator = creators_managed_by(user=user).filter(handle=handle).first()
    if creator is None:
        raise NotFound("No such creator.")
    return creator


def creators_learnable_by(*, user: User) -> QuerySet[Creator]:
    """Active creators whose content the user may study: an active membership, or managing."""
    if not user.is_authenticated:
        return Creator.objects.none()
    member_of = Membership.objects.active().filter(user=user).values("creator_id")
    managed = Creator.objects.managed_by(user).values("pk")
    return Creator.objects.active().filter(Q(pk__in=member_of) | Q(pk__in=managed))


@dataclass(frozen=True)
class CreatorAccess:
    """What a user may do with one creator: manages (owner, team, staff) and learns (may
    study its content: an active creator and an active membership, or managing)."""

    manages: bool
    learns: bool


# Both access checks of %(user)s on the creator row `c` (creator_access's rules), as the
# three columns is_active, manages (owner or team seat; staff is added in Python),
# an active membership.
_ACCESS_COLUMNS = """
    c.is_active,
    c.owner_id = %(user)s
      OR EXISTS (SELECT 1 FROM creators_creatormember t
                 WHERE t.creator_id = c.id AND t.user_id = %(user)s),
    EXISTS (SELECT 1 FROM creators_membership m
            WHERE m.creator_id = c.id AND m.user_id = %(user)s
              AND m.status = ANY(%(granting)s)
              AND (m.valid_until IS NULL OR m.valid_until > %(now)s))
"""


def _access_params(user: User) -> dict:
    return {
        "user": user.pk,
        "granting": [str(status) for status in Membership.GRANTING],
        "now": timezone.now(),
    }


def _access_of(user: User, row: tuple | None) -> CreatorAccess:
    """CreatorAccess from the _ACCESS_COLUMNS of a creator's row (None: no such creator)."""
    if row is None:
        return CreatorAccess(manages=bool(user.is_staff), learns=False)
    is_active, seat_or_owner, member = row
    manages = bool(user.is_staff or seat_or_owner)
    return CreatorAccess(manages=manages, learns=bool(is_active and (manages or member)))


def creator_access(*, user: User, creator: Creator) -> CreatorAccess:
    """Both access checks of `user` on `creator` in one statement, by the rules of
    creators_managed_by (staff, owner or team seat) and creators_learnable_by (an active
    creator, and managing or an active membership: MembershipQuerySet.active). Raw SQL:
    this runs on every question, and composing the two querysets cost ~5 ms of CPU in the
    ORM against < 1 ms (tests/test_chat_isolation.py checks it against both querysets)."""
    return creator_access_by_id(user=user, creator_id=creator.pk)


def creator_access_by_id(*, user: User, creator_id: int) -> CreatorAccess:
    """creator_access for a creator known by id only (no Creator row read first); a missing
    creator grants nothing (staff still "manage" it, as creators_managed_by says)."""
    if not user.is_authenticated:
        return CreatorAccess(manages=False, learns=False)
    with prepared_cursor() as cursor:
        cursor.execute(
            f"SELECT {_ACCESS_COLUMNS} FROM creators_creator c WHERE c.id = %(creator)s",
            {**_access_params(user), "creator": creator_id},
        )
        return _access_of(user, cursor.fetchone())


def creator_by_handle_access(*, user: User, handle: str) -> tuple[Creator | None, CreatorAccess]:
    """The creator `handle` (None when there is none) and `user`'s creator_access on it, read
    in one statement (the ORM's lookup by handle cost ~1.5 ms of CPU per question)."""
    fields = Creator._meta.concrete_fields
    columns = ", ".join(f'c."{f.column}"' for f in fields)
    access = {**_access_params(user), "handle": handle}
    with prepared_cursor() as cursor:
        cursor.execute(
            f"SELECT {columns}, {_ACCESS_COLUMNS} FROM creators_creator c "
            "WHERE c.handle = %(handle)s",
            access,
        )
        row = cursor.fetchone()
    if row is None:
        return None, _access_of(user, None)
    creator = Creator.from_db("default", [f.attname for f in fields], row[: len(fields)])
    if not user.is_authenticated:
        return creator, CreatorAccess(manages=False, learns=False)
    return creator, _access_of(user, row[len(fields) :])


def creator_get_learnable(*, user: User, handle: str) -> Creator:
    """The creator `handle` if `user` may study its content; raises NotFound otherwise."""
    creator = creators_learnable_by(user=user).filter(handle=handle).first()
    if creator is None:
        raise NotFound("No such creator.")
    return creator


def creator_for_api(*, user: User, handle: str | None, learn: bool = False) -> Creator:
    """The creator an API call acts on.

    `handle` (the `creator` query/body parameter) picks one; when omitted the user's only
    creator is used. `learn=True` accepts student access, otherwise management is required.
    Raises NotFound when the creator is not visible or the choice is ambiguous/missing.
    """
    return creator_for_api_access(user=user, handle=handle, learn=learn)[0]


def creator_for_api_access(
    *, user: User, handle: str | None, learn: bool = False
) -> tuple[Creator, CreatorAccess | None]:
    """creator_for_api, and `user`'s creator_access on it when it was read on the way (a
    handle given), else None. Raises NotFound as creator_for_api."""
    access = None
    if handle:  # by handle with one access check (creator_access: the same rules)
        creator, access = creator_by_handle_access(user=user, handle=handle)
        if creator is not None and not (access.learns if learn else access.manages):
            creator = None
    else:
        qs = creators_learnable_by(user=user) if learn else creators_managed_by(user=user)
        candidates = list(qs[:2])
        creator = candidates[0] if len(candidates) == 1 else None
    if creator is None:
        raise NotFound("No such creator (pass ?creator=<handle>).")
    return creator, access


def team_for(*, creator: Creator) -> list:
    """The creator's team members (CreatorMember rows with their users), by join date."""
    return list(creator.team.select_related("user").order_by("created_at"))


def user_may_manage_team(*, creator: Creator, user: User) -> bool:
    """Owner, team admins and staff may add or remove team members."""
    if user.is_staff or creator.owner_id == user.pk:
        return True
    return creator.team.filter(user=user, role="admin").exists()


# Members listed per page of the Students page.
MEMBERS_PER_PAGE = 50


def members_page(*, creator: Creator, page: str | int | None = 1) -> Page:
    """One page (MEMBERS_PER_PAGE, newest first) of the creator's memberships with their
    users: who has or had access, from Whop or an invite. Each item is a Membership with
    `.user` loaded, `.has_access` (MembershipQuerySet.with_access) and
    `.access_label` ("Active", "Trialing"..., or "Ended" for a granting status past its
    valid_until; otherwise Whop's status: "Canceled", "Expired"...). The
    Paginator counts in one query; an out-of-range or malformed `page` gives the last or
    first page (Paginator.get_page)."""
    memberships = (
        Membership.objects.filter(creator=creator)
        .with_access()
        .select_related("user")
        .order_by("-created_at", "-pk")
    )
    result = Paginator(memberships, MEMBERS_PER_PAGE).get_page(page)
    for m in result:
        ended = m.status in Membership.GRANTING and not m.has_access
        m.access_label = "Ended" if ended else m.get_status_display()
    return result


def members_active_count(*, creator: Creator) -> int:
    """How many of the creator's memberships grant access now (MembershipQuerySet.active)."""
    return Membership.objects.active().filter(creator=creator).count()


def invites_for(*, creator: Creator) -> list[Invite]:
    """The creator's join links and e-mail invites, newest first (at most 200)."""
    return list(creator.invites.select_related("created_by").order_by("-created_at")[:200])


def invite_by_token(*, token: str) -> Invite:
    """The invite a join link names (any tenant's: the token is the credential). Raises
    NotFound for an unknown token."""
    invite = Invite.objects.select_related("creator").filter(token=token[:64]).first()
    if invite is None:
        raise NotFound("No such invite.")
    return invite
