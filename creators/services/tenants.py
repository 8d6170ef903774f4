"""Creators (tenants): handles, creation, provisioning from a Whop install, name repair,
uninstall, deactivation, and the deletion sweeper."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.text import slugify

from creators.models import Creator, Tier, User
from creators.slugs import unique_slug

logger = logging.getLogger(__name__)

# How long an uninstalled creator's data is kept before the sweeper deletes it (days).
# Chronos's own policy; override with settings.CHRONOS_DELETION_GRACE_DAYS.
DEFAULT_DELETION_GRACE_DAYS = 30


def creator_handle_for(*, name: str) -> str:
    """A free URL handle / storage prefix derived from `name` ("Acme Academy" -> "acme-academy",
    then "acme-academy-2"...). At most 60 characters."""
    return unique_slug(
        name, queryset=Creator.objects.all(), field="handle", max_length=50, fallback="creator"
    )


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
