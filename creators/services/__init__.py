"""Writes for tenants and people: provisioning creators, Whop users, memberships, team,
webhook deliveries, and the deletion sweeper.

Every function is keyword-only, transactional, and safe to call twice with the same input
(webhooks arrive at least once and in any order). Modules: people, tenants, team,
memberships, deliveries. The names below are the package's public surface.
"""

from creators.services.deliveries import (
    MAX_ERROR_CHARS,
    PENDING_MAX_DELAY,
    PENDING_RETRY_WINDOW,
    pending_retry_delay,
    webhook_events_release,
    webhook_events_retry_due,
    webhook_process,
    webhook_receive,
    webhook_replay,
)
from creators.services.memberships import membership_apply
from creators.services.people import user_from_whop_object, user_get_or_create_for_whop
from creators.services.team import team_member_add, team_member_remove
from creators.services.tenants import (
    DEFAULT_DELETION_GRACE_DAYS,
    creator_create,
    creator_deactivate,
    creator_deletion_cancel,
    creator_handle_for,
    creator_name_repair,
    creator_provision,
    creator_reactivate,
    creator_uninstall,
    creators_purge_due,
)

__all__ = [
    "DEFAULT_DELETION_GRACE_DAYS",
    "MAX_ERROR_CHARS",
    "PENDING_MAX_DELAY",
    "PENDING_RETRY_WINDOW",
    "creator_create",
    "creator_deactivate",
    "creator_deletion_cancel",
    "creator_handle_for",
    "creator_name_repair",
    "creator_provision",
    "creator_reactivate",
    "creator_uninstall",
    "creators_purge_due",
    "membership_apply",
    "pending_retry_delay",
    "team_member_add",
    "team_member_remove",
    "user_from_whop_object",
    "user_get_or_create_for_whop",
    "webhook_events_release",
    "webhook_events_retry_due",
    "webhook_process",
    "webhook_receive",
    "webhook_replay",
]
