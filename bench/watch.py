"""1,000 simulated students sending player heartbeats to POST /api/v1/watch-events/.

    .venv/bin/python bench/watch.py [--students 1000] [--rounds 5] [--batch 1] [--concurrency 100]
                                    [--interval 0] [--workers 2]

Seeds its own embedded PostgreSQL (/tmp/chronos-benchwatch): one creator, a published
course with one 30-minute lesson, N students with memberships and signed-in sessions; then
starts uvicorn (ASGI, 2 workers) and lets every student send `rounds` batches of `batch`
heartbeat events each (consecutive 10-second intervals, one session per student), at most
`concurrency` requests in flight. By default as fast as the server answers (its capacity),
reported in two phases (every student's first batch, then the others). With `--interval 10`
each student sends one batch every 10 s, as the lesson player does, to an audience that is
already watching: each student has a progress row whose lock verdict was checked a random
time ago (uniform over its lifetime, PLAYABLE_RECHECK_SECONDS), so re-checks fall as they
do in a steady audience, each holds the watch ticket its lesson page handed out (also of a
random age), and the students' batches are spread evenly over the interval:
an open load of students / interval batches a second, reported as one phase (latency at
that real load). Every event is stored and folded into LessonProgress (a steady
heartbeat is queued by the fast lane and folded in bulk, as the worker does every minute:
with --interval by a process beside the server that folds every `--fold-every` seconds,
as the worker's schedule does, so its bursts compete with the server's as they would; what
is left is folded at the end of each phase; its CPU is counted in the server's). Like the
player, each
student keeps the watch ticket an answer carries and sends it back. Without --interval the
students do not wait 10 s between heartbeats, so most intervals are (correctly) discarded
by the wall-clock rule, which costs the same work as accepting them.

Reports, per phase (a student's first batch runs the lesson's lock check; later ones only
when its verdict is older than PLAYABLE_RECHECK_SECONDS): events accepted per second,
batch latency p50/p95 (ms), and the server's CPU time per batch (uvicorn workers and
PostgreSQL, from /proc) with the rate two idle cores would sustain at that cost, plus the
load average at the start. The server is the Procfile's: chronos.asgi (connection pool on,
heartbeats through chronos.heartbeats' fast lane, the rest on its WSGI threads).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import (  # noqa: E402
    django_ready,
    pct,
    postmaster_pid,
    session_cookies,
    tree_cpu_seconds,
    uvicorn_start,
)


def seed(students: int, watching: bool = False) -> tuple[int, list[dict]]:
    """(lesson id, cookies per student). `watching`: every student already has a progress
    row whose lock verdict is a uniformly random age within its lifetime."""
    django_ready("/tmp/chronos-benchwatch")

    from courses import services
    from creators.models import Creator, Membership, User
    from videos.models import Video

    Creator.objects.filter(handle="bench-watch").delete()
    User.objects.filter(username__startswith="bench-watcher-").delete()
    creator = Creator.objects.create(handle="bench-watch", company_name="Bench Watch")
    video = Video.objects.create(
        creator=creator, title="Lecture", status=Video.Status.COMPLETED, duration_seconds=1800
    )
    course = services.course_create(creator=creator, title="Bench course")
    services.course_update(course=course, status="published")
    module = services.module_create(course=course, title="M")
    lesson = services.lesson_create(module=module, video_id=video.pk)
    users = User.objects.bulk_create(
        [User(username=f"bench-watcher-{i}", email=f"w{i}@bench.test") for i in range(students)]
    )
    Membership.objects.bulk_create([Membership(creator=creator, user=u) for u in users])
    if watching:
        import random

        from django.utils import timezone

        from courses.models import LessonProgress
        from courses.services.watch import PLAYABLE_RECHECK_SECONDS

        now = timezone.now()
        LessonProgress.objects.bulk_create([
            LessonProgress(
                creator=creator, lesson=lesson, user=u, started_at=now, updated_at=now,
                playable_checked_at=now - timedelta(
                    seconds=random.uniform(0, PLAYABLE_RECHECK_SECONDS)
                ),
            )
            for u in users
        ])  # fmt: skip
    return lesson.pk, session_cookies(users)


def tickets_as_issued(cookies: list[dict]) -> list[str]:
    """A watch ticket per student as their lesson page handed it out, at a uniformly random
    moment of its lifetime (WATCH_TICKET_SECONDS), so renewals fall as they do in an
    audience that is already watching (the verdicts' ages are spread the same way)."""
    import random
    from unittest import mock

    from django.core import signing

    from chronos.sessions import SessionStore
    from courses.watch_tickets import WATCH_TICKET_SECONDS, watch_ticket_issue

    tickets = []
    for jar in cookies:
        user_id = int(SessionStore(session_key=jar["sessionid"])["_auth_user_id"])
        issued = int(time.time() - random.uniform(0, WATCH_TICKET_SECONDS))
        with mock.patch.object(
            signing.TimestampSigner, "timestamp", lambda _self, at=issued: signing.b62_encode(at)
        ):
            tickets.append(
                watch_ticket_issue(user_id=user_id, whop_user_id="", session_key=jar["sessionid"])
            )
    return tickets


async def run(
    url: str,
    lesson_id: int,
    students: list[dict],
    rounds: int,
    batch: int,
    limit: int,
    interval: float = 0.0,
):
    """Every student sends `rounds` batches (continuing its own session, seq and playhead
    in `students`), back to back, or one every `interval` seconds from a random moment of
    one interval, over `limit` keep-alive connections (bench/httpload.py).
    Returns (latencies ms, errors, wall seconds, events accepted)."""
    import random

    from httptools import HttpParserError

    from bench.httpload import KeepAliveClient

    latencies: list[float] = []
    errors: list[str] = []
    accepted = 0
    gate = asyncio.Semaphore(limit)
    client = KeepAliveClient(url, limit)

    async def student(state: dict) -> None:
        nonlocal accepted
        jar = state["jar"]
        # The session's cookies as a browser sends them.
        headers = {
            "X-CSRFToken": jar["csrftoken"],
            "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items()),
            "Content-Type": "application/json",
        }
        due = time.perf_counter() + (random.uniform(0, interval) if interval else 0.0)
        for _ in range(rounds):
            if interval:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                due += interval
            events = []
            for _ in range(batch):
                state["seq"] += 1
                at, sent = state["at"], state["start"] + timedelta(seconds=10 * state["seq"])
                events.append({
                    "lesson_id": lesson_id, "session_id": state["session"], "seq": state["seq"],
                    "verb": "heartbeat", "position": at + 10, "from": at, "to": at + 10,
                    "rate": 1,
                    "client_time": sent.isoformat(),
                })  # fmt: skip
                state["at"] = at + 10
            body = json.dumps({"events": events}).encode()
            if state.get("ticket"):  # the player sends back the ticket it was handed
                headers["X-Watch-Ticket"] = state["ticket"]
            async with gate:
                t = time.perf_counter()
                try:
                    status, answer_headers, text = await client.post(
                        "/api/v1/watch-events/", body, headers
                    )
                except (OSError, TimeoutError, HttpParserError) as exc:  # counted, not fatal
                    errors.append(f"{type(exc).__name__} {exc}")
                    continue
                latencies.append((time.perf_counter() - t) * 1000)
            state["ticket"] = answer_headers.get("x-watch-ticket") or state.get("ticket")
            if status == 202:
                accepted += json.loads(text)["accepted"]
            else:
                errors.append(f"{status} {text[:200]!r}")

    t0 = time.perf_counter()
    try:
        await asyncio.gather(*(student(state) for state in students))
    finally:
        client.close()
    wall = time.perf_counter() - t0
    return latencies, errors, wall, accepted


def fold_queued(postgres: int | None) -> tuple[int, float]:
    """Fold what the fast lane queued (the worker's minute job, run here at the end of a
    phase so its cost is counted): (heartbeats folded, CPU seconds of this process and
    PostgreSQL)."""
    from courses.services import watch_pending_fold

    before = time.process_time(), tree_cpu_seconds(postgres) if postgres else 0.0
    folded = watch_pending_fold()
    after = time.process_time(), tree_cpu_seconds(postgres) if postgres else 0.0
    return folded, (after[0] - before[0]) + (after[1] - before[1])


def fold_every(seconds: float) -> None:
    """The worker's minute job in a process of its own (see --fold-every): every `seconds`,
    fold what the fast lane queued, until terminated."""
    django_ready("/tmp/chronos-benchwatch")
    from courses.services import watch_pending_fold

    print("ready", flush=True)
    while True:
        time.sleep(seconds)
        print(watch_pending_fold(), flush=True)


def fold_process_start(seconds: float):
    """Start fold_every(seconds) in a child process (same database settings); returns once
    it is set up: (the process, its CPU seconds so far)."""
    import subprocess

    child = subprocess.Popen(
        [sys.executable, __file__, "--fold-loop", str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    return child, tree_cpu_seconds(child.pid)


def fold_process_stop(child, cpu_at_start: float) -> tuple[int, float]:
    """Stop the child of fold_process_start: (heartbeats it folded, its CPU seconds since it
    was ready; its SQL's CPU is PostgreSQL's)."""
    cpu = tree_cpu_seconds(child.pid) - cpu_at_start
    child.terminate()
    out, _err = child.communicate(timeout=20)
    return sum(int(line) for line in out.split()), cpu


def report(
    label: str,
    lat: list[float],
    errors: list[str],
    wall: float,
    accepted: int,
    cpu: float,
    db_cpu: float,
    client_cpu: float = 0.0,
    fold: tuple[int, float] = (0, 0.0),
) -> None:
    """Print one phase: events/s, p50/p95, errors, server CPU per batch (uvicorn workers +
    PostgreSQL, from /proc; `db_cpu` of it PostgreSQL's; plus the worker's fold of the
    heartbeats the fast lane queued, `fold` = (heartbeats, CPU seconds)), the rate two idle
    cores would sustain at that cost, and this client's own CPU per batch (it shares the
    machine)."""
    print(f"  {label}: {accepted} events accepted in {wall:.1f} s = {accepted / wall:.0f} events/s")
    print(f"    batch latency p50 {pct(lat, 0.5):.0f} ms, p95 {pct(lat, 0.95):.0f} ms")
    print(f"    errors {len(errors)}" + (f"; first: {errors[0]}" if errors else ""))
    batches = len(lat)
    if batches and cpu > 0:
        folded, fold_cpu = fold
        per_batch = (cpu + fold_cpu) / batches * 1000
        capacity = 2 / ((cpu + fold_cpu) / batches) * (accepted / batches)
        db, later = db_cpu / batches * 1000, fold_cpu / batches * 1000
        print(
            f"    server CPU {per_batch:.1f} ms per batch (uvicorn {per_batch - db - later:.1f}"
            f" + PostgreSQL {db:.1f} + the worker's fold of {folded} queued heartbeats "
            f"{later:.1f}) = ~{capacity:.0f} events/s on 2 idle cores"
        )
        print(f"    client CPU {client_cpu / batches * 1000:.1f} ms per batch (same machine)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--interval", type=float, default=0.0, help="seconds between a "
                        "student's batches (0: as fast as the server answers)")  # fmt: skip
    parser.add_argument("--fold-every", type=float, default=60.0, help="with --interval: "
                        "seconds between the worker's folds of queued heartbeats, run beside "
                        "the server (courses.tasks.SCHEDULES: 60)")  # fmt: skip
    parser.add_argument("--fold-loop", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fold_loop:
        fold_every(args.fold_loop)
        return
    lesson_id, cookies = seed(args.students, watching=bool(args.interval))
    start = datetime.now(UTC)
    tickets = tickets_as_issued(cookies) if args.interval else [None] * len(cookies)
    students = [
        {"jar": jar, "session": str(uuid.uuid4()), "seq": 0, "at": 0.0, "start": start,
         "ticket": ticket}
        for jar, ticket in zip(cookies, tickets, strict=True)
    ]  # fmt: skip
    server, url = uvicorn_start(workers=args.workers, env={})
    folder = None
    try:
        postgres = postmaster_pid()
        roots = [server.pid] + ([postgres] if postgres else [])
        print(
            f"{args.students} students x {args.rounds} batches of {args.batch} heartbeat(s), "
            f"{args.concurrency} in flight, {args.workers} uvicorn workers, "
            + (f"one batch per student every {args.interval:g} s " if args.interval else "")
            + f"(load average {os.getloadavg()[0]:.1f}):"
        )
        # Phase 1: every student's first batch (the lesson's lock check runs: no verdict on
        # the progress row yet); phase 2: the other rounds (the verdict is re-checked only
        # when older than PLAYABLE_RECHECK_SECONDS).
        phases = [("first batches", 1), ("later batches", args.rounds - 1)]
        if args.interval:
            phases = [("all batches", args.rounds)]
        for label, rounds in phases:
            if rounds <= 0:
                continue
            folder = fold_process_start(args.fold_every) if args.interval else None
            cpu_before = [tree_cpu_seconds(pid) for pid in roots]
            client_before = time.process_time()
            lat, errors, wall, accepted = asyncio.run(
                run(url, lesson_id, students, rounds, args.batch, args.concurrency, args.interval)
            )
            cpu = [tree_cpu_seconds(pid) - b for pid, b in zip(roots, cpu_before, strict=True)]
            client = time.process_time() - client_before
            beside = fold_process_stop(*folder) if folder is not None else (0, 0.0)
            folder = None
            at_end = fold_queued(postgres)
            fold = (beside[0] + at_end[0], beside[1] + at_end[1])
            report(label, lat, errors, wall, accepted, sum(cpu), sum(cpu[1:]), client, fold)
    finally:
        if folder is not None:
            folder[0].kill()
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
