"""Writes for tenants and people: provisioning creators, Whop users, memberships, team,
webhook deliveries, and the deletion sweeper.

Every function is keyword-only, transactional, and safe to call twice with the same input
(webhooks arrive at least once and in any order).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.text import slugify

from chronos.errors import DomainError, NotFound, PermissionDenied
from creators.models import Creator, CreatorMember, Membership, Tier, User, WebhookEvent
from creators.selectors import user_may_manage_team
from creators.webhooks import (
    CompanyNotInstalled,
    WebhookRejected,
    envelope_from_payload,
    handler_for,
    webhook_verify,
)

logger = logging.getLogger(__name__)

# How long an uninstalled creator's data is kept before the sweeper deletes it (days).
# Chronos's own policy; override with settings.CHRONOS_DELETION_GRACE_DAYS.
DEFAULT_DELETION_GRACE_DAYS = 30
# Longest stored error text on a WebhookEvent (characters).
MAX_ERROR_CHARS = 2000
# How long an event of a not-yet-installed company is retried before it fails (Chronos's
# policy: Whop itself retries only ~1 minute; installs can lag behind their first members).
PENDING_RETRY_WINDOW = timedelta(hours=72)
PENDING_MAX_DELAY = timedelta(hours=6)


# --- People --------------------------------------------------------------------------------


def _unique_username(base: str) -> str:
    base = (slugify(base) or "user")[:140]
    candidate, n = base, 1
    while User.objects.filter(username=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def user_get_or_create_for_whop(
    *,
    whop_user_id: str,
    email: str = "",
    username: str = "",
    name: str = "",
    avatar_url: str = "",
) -> User:
    """The User for Whop user `whop_user_id` ("user_..."), created when new.

    Profile fields given non-empty overwrite stored ones (Whop is the source of truth for
    Whop users). New users get an unusable password (they sign in through Whop).
    Raises ValueError when `whop_user_id` is empty.
    """
    if not whop_user_id:
        raise ValueError("whop_user_id is required.")
    user = User.objects.filter(whop_user_id=whop_user_id).first()
    if user is None:
        user = User(
            whop_user_id=whop_user_id,
            username=_unique_username(username or whop_user_id),
            email=email or "",
            display_name=(name or username or "")[:150],
            avatar_url=(avatar_url or "")[:500],
        )
        user.set_unusable_password()
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:  # created concurrently by another request/worker
            return User.objects.get(whop_user_id=whop_user_id)
        return user
    changed = []
    for field, value in (
        ("email", email),
        ("display_name", (name or "")[:150]),
        ("avatar_url", (avatar_url or "")[:500]),
    ):
        if value and getattr(user, field) != value:
            setattr(user, field, value)
            changed.append(field)
    if changed:
        user.save(update_fields=changed)
    return user


def user_from_whop_object(obj: dict[str, Any] | None) -> User | None:
    """A User for a Whop user object ({"id": "user_...", "username", "name", "email"})."""
    if not isinstance(obj, dict) or not obj.get("id"):
        return None
    return user_get_or_create_for_whop(
        whop_user_id=str(obj["id"]),
        email=str(obj.get("email") or ""),
        username=str(obj.get("username") or ""),
        name=str(obj.get("name") or ""),
        avatar_url=str((obj.get("profile_picture") or {}).get("url") or "")
        if isinstance(obj.get("profile_picture"), dict)
        else "",
    )


# --- Creators (tenants) ---------------------------------------------------------------------


def creator_handle_for(*, name: str) -> str:
    """A free URL handle / storage prefix derived from `name` ("Acme Academy" -> "acme-academy",
    then "acme-academy-2"...). At most 60 characters."""
    base = (slugify(name) or "creator")[:50].strip("-") or "creator"
    candidate, n = base, 1
    while Creator.objects.filter(handle=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def creator_create(
    *,
    company_name: str,
    owner: User | None,
    handle: str = "",
    whop_company_id: str | None = None,
    tier: str = Tier.FREE,
) -> Creator:
    """A new active creator. `handle` defaults to one derived from the name (unique)."""
    return Creator.objects.create(
        company_name=company_name[:200],
        handle=handle or creator_handle_for(name=company_name),
        owner=owner,
        whop_company_id=whop_company_id or None,
        whop_user_id=owner.whop_user_id if owner else "",
        tier=tier,
    )


@transaction.atomic
def creator_provision(
    *,
    whop_company_id: str,
    company_name: str,
    owner: User | None,
    occurred_at: datetime,
) -> Creator:
    """Install: create the creator for a Whop company, or re-activate it.

    Convergent: an install older than the newest installation event already applied (e.g.
    an uninstall that arrived first) only fills in missing details and leaves it inactive.
    The handle (= storage prefix) comes from the company name and never changes.
    """
    if not whop_company_id:
        raise ValueError("whop_company_id is required.")
    creator = Creator.objects.select_for_update().filter(whop_company_id=whop_company_id).first()
    if creator is None:
        creator = creator_create(
            company_name=company_name or whop_company_id,
            owner=owner,
            whop_company_id=whop_company_id,
        )
        creator.installation_updated_at = occurred_at
        creator.save(update_fields=["installation_updated_at"])
        return creator
    changed = []
    if owner is not None and creator.owner_id is None:
        creator.owner, creator.whop_user_id = owner, owner.whop_user_id
        changed += ["owner", "whop_user_id"]
    if company_name and creator.company_name in ("", whop_company_id):
        changed += creator_name_repair(creator=creator, company_name=company_name)
    newer = creator.installation_updated_at is None or occurred_at > creator.installation_updated_at
    if newer:
        creator.is_active = True
        creator.deactivated_at = None
        creator.deletion_scheduled_at = None
        creator.installation_updated_at = occurred_at
        changed += [
            "is_active",
            "deactivated_at",
            "deletion_scheduled_at",
            "installation_updated_at",
        ]
    if changed:
        creator.save(update_fields=[*changed, "updated_at"])
    return creator


def _has_media(handle: str) -> bool:
    try:
        dirs, files = default_storage.listdir(handle)
    except (FileNotFoundError, NotADirectoryError, OSError):
        return False
    return bool(dirs or files)


def creator_name_repair(*, creator: Creator, company_name: str) -> list[str]:
    """Give a creator provisioned without its company's title (named and handled after its
    "biz_..." id) the real name. The handle is re-derived from the name only while nothing
    is stored under it: media keys start with the handle (the storage prefix), so a creator
    with media keeps its handle. Sets the fields (no save); returns their names."""
    creator.company_name = company_name[:200]
    changed = ["company_name"]
    biz_handle = slugify(creator.whop_company_id or "")
    if biz_handle and creator.handle == biz_handle and not _has_media(creator.handle):
        creator.handle = creator_handle_for(name=company_name)
        changed.append("handle")
    return changed


def _grace() -> timedelta:
    return timedelta(
        days=getattr(settings, "CHRONOS_DELETION_GRACE_DAYS", DEFAULT_DELETION_GRACE_DAYS)
    )


@transaction.atomic
def creator_uninstall(*, whop_company_id: str, occurred_at: datetime) -> Creator:
    """Uninstall: deactivate the company's creator, keep its data, schedule its deletion.

    If the uninstall arrives before the install, a placeholder inactive creator records the
    event time so the late install does not re-activate it.
    """
    creator = Creator.objects.select_for_update().filter(whop_company_id=whop_company_id).first()
    if creator is None:
        creator = creator_create(
            company_name=whop_company_id, owner=None, whop_company_id=whop_company_id
        )
    elif creator.installation_updated_at and occurred_at <= creator.installation_updated_at:
        return creator  # a newer install/uninstall was already applied
    creator.installation_updated_at = occurred_at
    creator.save(update_fields=["installation_updated_at"])
    return creator_deactivate(creator=creator, schedule_deletion=True)


def creator_deactivate(*, creator: Creator, schedule_deletion: bool = False) -> Creator:
    """Close a creator: nobody reaches its studio or learning area; data is kept.

    With `schedule_deletion`, the sweeper deletes it after the grace period
    (settings.CHRONOS_DELETION_GRACE_DAYS, default 30 days) unless an admin cancels.
    """
    now = timezone.now()
    creator.is_active = False
    creator.deactivated_at = creator.deactivated_at or now
    fields = ["is_active", "deactivated_at", "updated_at"]
    if schedule_deletion and creator.deletion_scheduled_at is None:
        creator.deletion_scheduled_at = now + _grace()
        fields.append("deletion_scheduled_at")
    creator.save(update_fields=fields)
    return creator


def creator_reactivate(*, creator: Creator) -> Creator:
    """Re-open a creator and cancel any scheduled deletion."""
    creator.is_active = True
    creator.deactivated_at = None
    creator.deletion_scheduled_at = None
    creator.save(
        update_fields=["is_active", "deactivated_at", "deletion_scheduled_at", "updated_at"]
    )
    return creator


def creator_deletion_cancel(*, creator: Creator) -> Creator:
    """Keep a deactivated creator's data indefinitely (it stays inactive)."""
    creator.deletion_scheduled_at = None
    creator.save(update_fields=["deletion_scheduled_at", "updated_at"])
    return creator


def _storage_delete_prefix(prefix: str) -> int:
    """Delete every file under `prefix/` in default storage; returns the number deleted."""
    deleted = 0
    try:
        dirs, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError, OSError):
        return 0
    for name in files:
        default_storage.delete(f"{prefix}/{name}")
        deleted += 1
    for d in dirs:
        deleted += _storage_delete_prefix(f"{prefix}/{d}")
    return deleted


def creators_purge_due(*, now: datetime | None = None) -> list[str]:
    """Delete inactive creators whose scheduled deletion time has passed, with their media.

    Returns the handles deleted. A creator whose rows cannot be deleted (a PROTECT foreign
    key) is logged and kept for the next run.
    """
    now = now or timezone.now()
    due = Creator.objects.filter(is_active=False, deletion_scheduled_at__lte=now)
    purged = []
    for creator in due:
        handle = creator.handle
        try:
            with transaction.atomic():
                Creator.objects.filter(pk=creator.pk).delete()
        except ProtectedError:
            logger.exception("Could not delete creator %s; will retry.", handle)
            continue
        files = _storage_delete_prefix(handle)
        logger.info("Deleted creator %s and %d media files after the grace period.", handle, files)
        purged.append(handle)
    return purged


# --- Team -----------------------------------------------------------------------------------


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


# --- Memberships ----------------------------------------------------------------------------

# Statuses that open content (active, trialing, completed, canceling); the Whop status
# mapping itself lives with the webhook handlers (creators.handlers.WHOP_MEMBERSHIP_STATUS).
_GRANTING = set(Membership.GRANTING)


@transaction.atomic
def membership_apply(
    *,
    creator: Creator,
    user: User,
    whop_membership_id: str,
    status: str,
    occurred_at: datetime,
    plan_id: str = "",
    product_id: str = "",
    valid_until: datetime | None = None,
) -> Membership:
    """Record a Whop membership state for (creator, user); returns the stored Membership.

    `status` is one of Membership.Status. Convergent: a state older than
    `source_updated_at` is ignored (on a tie, a revocation wins). A revocation for a
    different Whop membership than the one currently granting access is ignored too.
    """
    membership = (
        Membership.objects.select_for_update().filter(whop_membership_id=whop_membership_id).first()
        if whop_membership_id
        else None
    ) or Membership.objects.select_for_update().filter(creator=creator, user=user).first()
    granting = status in _GRANTING
    if membership is None:
        return Membership.objects.create(
            creator=creator,
            user=user,
            whop_membership_id=whop_membership_id or None,
            status=status,
            plan_id=plan_id,
            product_id=product_id,
            valid_until=valid_until,
            source_updated_at=occurred_at,
        )
    last = membership.source_updated_at
    if last is not None and (occurred_at < last or (occurred_at == last and granting)):
        return membership  # stale delivery
    other_id = whop_membership_id and membership.whop_membership_id not in (
        None,
        whop_membership_id,
    )
    if other_id and not granting and membership.status in _GRANTING:
        return membership  # another Whop membership still grants access
    membership.whop_membership_id = whop_membership_id or membership.whop_membership_id
    membership.status = status
    membership.plan_id = plan_id or membership.plan_id
    membership.product_id = product_id or membership.product_id
    membership.valid_until = valid_until
    membership.source_updated_at = occurred_at
    membership.save()
    return membership


# --- Webhook deliveries -----------------------------------------------------------------------


def webhook_receive(*, body: bytes, headers: dict[str, str]) -> tuple[WebhookEvent, bool]:
    """Verify and store one delivery, then queue its processing (after commit).

    Returns (event, created); a repeated webhook-id returns the stored event and is queued
    again only if it has not been applied yet (received or failed). Raises WebhookRejected
    (nothing stored) when the signature check fails.
    """
    payload = webhook_verify(body=body, headers=headers)
    lowered = {k.lower(): v for k, v in headers.items()}
    webhook_id = lowered.get("webhook-id", "")
    envelope = envelope_from_payload(payload, webhook_id=webhook_id)
    if not envelope.type:
        raise WebhookRejected("Webhook has no type.")
    event, created = WebhookEvent.objects.get_or_create(
        webhook_id=webhook_id,
        defaults={
            "type": envelope.type[:100],
            "payload": payload,
            "event_timestamp": envelope.timestamp,
            "company_id": envelope.company_id[:64],
        },
    )
    retry = event.status in (
        WebhookEvent.Status.RECEIVED,
        WebhookEvent.Status.PENDING,
        WebhookEvent.Status.FAILED,
    )
    if created or retry:  # a redelivery of an unfinished event runs it again
        from creators.tasks import webhook_enqueue

        transaction.on_commit(lambda: webhook_enqueue(event_id=event.pk))
    return event, created


def pending_retry_delay(attempts: int) -> timedelta:
    """Backoff before retry `attempts`+1 of a pending event: 1 min doubling, at most 6 h
    (1, 2, 4 ... 256 min, then every 6 h: ~20 tries over PENDING_RETRY_WINDOW)."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), PENDING_MAX_DELAY)


def webhook_process(*, event_id: int, force: bool = False) -> str:
    """Apply one stored delivery through its registered handlers; returns the final status.

    Already processed/ignored events are skipped unless `force` (admin replay). Unknown types
    become "ignored". An event of a company that has not installed Chronos yet
    (CompanyNotInstalled) becomes "pending" with `next_attempt_at` set by
    pending_retry_delay(), and "failed" once PENDING_RETRY_WINDOW (72 h) after receipt has
    passed. Any other handler error marks it "failed" with the error text; nothing is
    re-raised: a failed event can be replayed from the admin.
    """
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event_id)
        done = {WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED}
        if event.status in done and not force:
            return event.status
        event.attempts += 1
        event.next_attempt_at = None
        envelope = envelope_from_payload(
            event.payload, webhook_id=event.webhook_id, received=event.received
        )
        handler = handler_for(event.type)
        now = timezone.now()
        if handler is None:
            event.status, event.error = WebhookEvent.Status.IGNORED, ""
        else:
            try:
                with transaction.atomic():
                    handler(envelope)
            except CompanyNotInstalled as exc:
                event.company_id = exc.company_id[:64]  # what webhook_events_release finds
                if now - event.received >= PENDING_RETRY_WINDOW:
                    event.status = WebhookEvent.Status.FAILED
                    event.error = f"{exc} Gave up after {PENDING_RETRY_WINDOW}."
                else:
                    event.status, event.error = WebhookEvent.Status.PENDING, str(exc)
                    event.next_attempt_at = now + pending_retry_delay(event.attempts)
            except Exception as exc:
                logger.exception("Webhook %s (%s) failed.", event.webhook_id, event.type)
                event.status = WebhookEvent.Status.FAILED
                event.error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
            else:
                event.status, event.error = WebhookEvent.Status.PROCESSED, ""
        event.processed = now
        event.save(
            update_fields=[
                *("status", "error", "processed", "attempts", "next_attempt_at", "company_id")
            ]
        )
        return event.status


def _enqueue_after_commit(event_ids: list[int]) -> None:
    from creators.tasks import webhook_enqueue

    def run() -> None:
        for event_id in event_ids:
            webhook_enqueue(event_id=event_id)

    if event_ids:
        transaction.on_commit(run)


def webhook_events_release(*, company_id: str) -> list[int]:
    """The company's install arrived: queue its pending events now (after commit), oldest
    first. Returns their ids."""
    ids = list(
        WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING, company_id=company_id)
        .order_by("event_timestamp", "received")
        .values_list("pk", flat=True)
    )
    WebhookEvent.objects.filter(pk__in=ids).update(next_attempt_at=timezone.now())
    _enqueue_after_commit(ids)
    return ids


def webhook_events_retry_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Queue pending events whose next attempt is due (scheduled every minute on the whop
    queue). Returns their ids."""
    now = now or timezone.now()
    ids = list(
        WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    _enqueue_after_commit(ids)
    return ids


def webhook_replay(*, event: WebhookEvent) -> str:
    """Process a stored delivery again (handlers are convergent, so this is safe)."""
    return webhook_process(event_id=event.pk, force=True)
