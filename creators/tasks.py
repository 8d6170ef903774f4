"""django-q2 tasks for creators: webhook processing and the deletion sweeper."""

from __future__ import annotations

from django_q.tasks import async_task

from chronos.schedules import Periodic

# A webhook handler touches a few rows; a minute is plenty (below the whop cluster's retry).
WEBHOOK_TASK_TIMEOUT_SECONDS = 60
# The django-q2 queue (an ALT_CLUSTERS entry in settings.Q_CLUSTER) that webhook tasks run
# on, served by its own worker (`Q_CLUSTER_NAME=whop manage.py qcluster`), so a queue full of
# video-pipeline stages never delays an access change.
WEBHOOK_CLUSTER = "whop"

SCHEDULES = (
    Periodic(
        "creators: purge uninstalled creators", "creators.tasks.creators_purge_due_task", minutes=60
    ),
    Periodic(
        "creators: retry pending Whop webhook events",
        "creators.tasks.webhook_retry_due_task",
        minutes=1,
        cluster=WEBHOOK_CLUSTER,
    ),
)


def webhook_enqueue(*, event_id: int) -> None:
    """Queue processing of a stored WebhookEvent (runs inline when Q_CLUSTER sync is on)."""
    async_task(
        "creators.tasks.webhook_process_task",
        event_id,
        task_name=f"whop-webhook-{event_id}",
        timeout=WEBHOOK_TASK_TIMEOUT_SECONDS,
        cluster=WEBHOOK_CLUSTER,
    )


def webhook_process_task(event_id: int) -> str:
    """Apply one stored delivery; returns its final status."""
    from creators.services import webhook_process

    return webhook_process(event_id=event_id)


def creators_purge_due_task() -> int:
    """Scheduled (hourly): delete creators whose post-uninstall grace period has ended."""
    from creators.services import creators_purge_due

    return len(creators_purge_due())


def webhook_retry_due_task() -> int:
    """Scheduled every minute on the whop queue: queue pending webhook events that are due."""
    from creators.services import webhook_events_retry_due

    return len(webhook_events_retry_due())
