"""Whop webhook latency while the video pipeline is busy (issue 11). Prints figures; not a test.

    .venv/bin/python bench/whop_webhooks.py [--deliveries 8] [--busy-tasks 12]

Starts the two worker processes the Procfile runs (`qcluster`, the pipeline's, and
`Q_CLUSTER_NAME=whop qcluster`), fills the pipeline's queue with --busy-tasks tasks that
each hold a worker for 5 s (standing in for video stages), then stores signed
membership.activated deliveries one at a time (creators.services.webhook_receive, the
view's own path) and measures from receipt to the access change being applied
(WebhookEvent "processed", Membership active). Target: <= 10 s. With --same-queue the
webhook tasks are sent to the pipeline's queue instead, to show what the separate queue
buys. Uses the embedded database under .chronos/ (run `manage.py migrate` first).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SECRET = "ws_bench_secret_value_0001"
BUSY_SECONDS = 5
TIMEOUT_SECONDS = 120


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=8)
    parser.add_argument("--busy-tasks", type=int, default=20)
    parser.add_argument("--same-queue", action="store_true")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronos.settings")
    os.environ["WHOP_WEBHOOK_SECRET"] = SECRET
    os.environ["CHRONOS_Q_SYNC"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("Q_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.db import transaction
    from django_q.models import OrmQ
    from django_q.tasks import async_task
    from standardwebhooks.webhooks import Webhook

    import creators.tasks
    from creators.models import Creator, Membership, WebhookEvent
    from creators.services import creator_create, webhook_receive

    creator = Creator.objects.filter(whop_company_id="biz_Bench").first() or creator_create(
        company_name="Bench Co", owner=None, whop_company_id="biz_Bench"
    )
    OrmQ.objects.all().delete()
    if args.same_queue:
        creators.tasks.WEBHOOK_CLUSTER = django.conf.settings.Q_CLUSTER["name"]

    env = {**os.environ}
    workers = [
        subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env),
        subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env={**env, "Q_CLUSTER_NAME": "whop"},
        ),
    ]
    latencies: list[float] = []
    try:
        signer = Webhook(__import__("base64").b64encode(SECRET.encode()).decode())
        # Delivery 0 is a warm-up (both clusters starting on a loaded machine): not counted.
        for i in range(args.deliveries + 1):
            msg_id = f"msg_bench_{time.time_ns()}_{i}"
            now = datetime.now(UTC)
            payload = {
                "id": msg_id,
                "api_version": "v1",
                "timestamp": now.isoformat().replace("+00:00", "Z"),
                "type": "membership.activated",
                "company_id": "biz_Bench",
                "data": {
                    "id": f"mem_bench_{i}_{time.time_ns()}",
                    "status": "active",
                    "user": {"id": f"user_bench_{i}_{time.time_ns()}"},
                    "company": {"id": "biz_Bench", "title": "Bench Co"},
                },
            }
            body = json.dumps(payload)
            headers = {
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": signer.sign(msg_id, now, body),
            }
            started = time.monotonic()
            with transaction.atomic():
                event, _ = webhook_receive(body=body.encode(), headers=headers)
            while time.monotonic() - started < TIMEOUT_SECONDS:
                event.refresh_from_db()
                if event.status != WebhookEvent.Status.RECEIVED:
                    break
                time.sleep(0.1)
            elapsed = time.monotonic() - started
            if i == 0:
                print(f"warm-up delivery: {elapsed:.2f} s (cluster start-up)", flush=True)
                for _ in range(args.busy_tasks):  # now the pipeline gets busy
                    async_task("time.sleep", BUSY_SECONDS, task_name="bench-busy-stage")
                time.sleep(1)
                continue
            latencies.append(elapsed)
            granted = Membership.objects.active().filter(
                creator=creator, user__whop_user_id=payload["data"]["user"]["id"]
            )
            print(
                f"delivery {i}: {latencies[-1]:.2f} s, {event.status}, "
                f"access {'granted' if granted.exists() else 'NOT granted'}",
                flush=True,
            )
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        OrmQ.objects.all().delete()
    queue = "the pipeline's queue (--same-queue)" if args.same_queue else "the whop queue"
    print(
        f"\nWebhook -> access applied via {queue}, pipeline busy with {args.busy_tasks} x "
        f"{BUSY_SECONDS} s tasks: median {statistics.median(latencies):.2f} s, "
        f"max {max(latencies):.2f} s over {len(latencies)} deliveries (target <= 10 s)."
    )


if __name__ == "__main__":
    main()
