"""`manage.py worker`: django-q2's cluster (as `qcluster`) that stops within seconds of
SIGTERM or Ctrl-C, even while a worker is in the middle of an hour of transcription.

django-q2 alone stops by letting every busy worker finish its task (up to its timeout, an
hour for transcription), so a process manager kills it mid-stage and the video waits for the
sweeper. Here, on SIGTERM/SIGINT to this (the leader) process:

1. the sentinel is told to stop (no new tasks are handed out; idle workers get their stop
   message and exit),
2. every worker process gets SIGTERM: outside a pipeline stage it only records the stop (its
   current, short task finishes; a stage it is handed afterwards is queued again untouched);
   inside one (videos.tasks.run_stage_task) the stage stops, its video is re-queued as a new
   attempt ("worker restarted, resuming") and the worker exits,
3. the leader waits for the sentinel, as qcluster does.

`Q_CLUSTER_NAME=whop manage.py worker` runs the Whop queue's cluster, as with qcluster.
"""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path

from django.core.management.base import BaseCommand

# Bit of SIGTERM in /proc/<pid>/status's SigIgn/SigCgt masks (signal n is bit n-1).
_SIGTERM_BIT = 1 << (signal.SIGTERM - 1)


def _defer_sigterm(sender=None, **kwargs) -> None:
    """django-q2's post_spawn receiver, run in each new worker process: SIGTERM no longer
    kills it (the default would, losing its task) but is recorded, so a pipeline stage running
    or starting later stops (videos.pipeline.worker_stop_request)."""
    from videos.pipeline import worker_stop_request

    signal.signal(signal.SIGTERM, lambda signum, frame: worker_stop_request())


def _handles_sigterm(pid: int) -> bool:
    """True when process `pid` ignores or catches SIGTERM (our workers catch it; django-q2's
    monitor and pusher do not, and must live on to record results)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return False
    fields = (ln.partition(":\t") for ln in lines)
    masks = {k: int(v, 16) for k, _, v in fields if k in ("SigIgn", "SigCgt")}
    return bool((masks.get("SigIgn", 0) | masks.get("SigCgt", 0)) & _SIGTERM_BIT)


def _signal_workers(sentinel_pid: int) -> int:
    """SIGTERM every worker process under the sentinel; returns how many were told."""
    import psutil

    told = 0
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process(sentinel_pid).children():
            if _handles_sigterm(child.pid):
                with contextlib.suppress(psutil.Error):
                    child.send_signal(signal.SIGTERM)
                    told += 1
    return told


class Command(BaseCommand):
    help = "Run the task cluster (django-q2); SIGTERM stops it within seconds."

    def handle(self, *args, **options):
        from django_q.cluster import Cluster
        from django_q.signals import post_spawn

        post_spawn.connect(_defer_sigterm, dispatch_uid="chronos-worker-ignore-sigterm")
        cluster = Cluster()

        def on_stop(signum, frame):
            if cluster.stop_event is None or cluster.sentinel is None:
                return  # already stopping or stopped
            cluster.stop_event.set()
            _signal_workers(cluster.sentinel.pid)
            cluster.stop()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        cluster.start()
