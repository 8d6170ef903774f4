"""1,000 simulated students sending player heartbeats to POST /api/v1/watch-events/.

    .venv/bin/python bench/watch.py [--students 1000] [--rounds 5] [--batch 1] [--concurrency 100]

Seeds its own embedded PostgreSQL (/tmp/chronos-benchwatch): one creator, a published
course with one 30-minute lesson, N students with memberships and signed-in sessions; then
starts uvicorn (ASGI, 2 workers) and lets every student send `rounds` batches of `batch`
heartbeat events each (consecutive 10-second intervals, one session per student), at most
`concurrency` requests in flight. Every event is stored and folded into LessonProgress;
because the students do not really wait 10 s between heartbeats, most intervals are
(correctly) discarded by the wall-clock rule, which costs the same work as accepting them.
Reports events accepted per second and batch latency p50/p95 (ms).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location("bench_chat", ROOT / "bench" / "chat.py")
bench_chat = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_chat)
pct, free_port = bench_chat.pct, bench_chat.free_port


def seed(students: int) -> tuple[str, int, list[dict], str]:
    """(database_url, lesson id, cookies per student, SECRET_KEY)."""
    os.environ.setdefault("CHRONOS_DATA_DIR", "/tmp/chronos-benchwatch")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronos.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.db import connection

    from courses import services
    from creators.models import Creator, Membership, User
    from videos.models import Video

    call_command("migrate", verbosity=0, interactive=False)
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
    cookies = []
    users = User.objects.bulk_create(
        [User(username=f"bench-watcher-{i}", email=f"w{i}@bench.test") for i in range(students)]
    )
    Membership.objects.bulk_create([Membership(creator=creator, user=u) for u in users])
    for user in users:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = next(  # the first backend that loads users (not axes)
            b for b in settings.AUTHENTICATION_BACKENDS if "axes" not in b.lower()
        )
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.save()
        cookies.append({"sessionid": store.session_key, "csrftoken": uuid.uuid4().hex})
    params = connection.get_connection_params()
    url = (
        f"postgresql://{params.get('user', 'postgres')}@/{params.get('dbname', 'postgres')}"
        f"?host={params.get('host', '')}&port={params.get('port', 5432)}"
    )
    return url, lesson.pk, cookies, settings.SECRET_KEY


async def run(url: str, lesson_id: int, cookies: list[dict], rounds: int, batch: int, limit: int):
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    accepted = 0
    gate = asyncio.Semaphore(limit)
    start = datetime.now(UTC)

    async def student(jar: dict, client) -> None:
        nonlocal accepted
        session, seq, at = str(uuid.uuid4()), 0, 0.0
        for _ in range(rounds):
            events = []
            for _ in range(batch):
                seq += 1
                events.append({
                    "lesson_id": lesson_id, "session_id": session, "seq": seq,
                    "verb": "heartbeat", "position": at + 10, "from": at, "to": at + 10,
                    "rate": 1, "client_time": (start + timedelta(seconds=10 * seq)).isoformat(),
                })  # fmt: skip
                at += 10
            async with gate:
                t = time.perf_counter()
                r = await client.post(
                    "/api/v1/watch-events/",
                    json={"events": events},
                    headers={"X-CSRFToken": jar["csrftoken"]},
                    cookies=jar,
                )
                latencies.append((time.perf_counter() - t) * 1000)
            if r.status_code == 202:
                accepted += r.json()["accepted"]
            else:
                errors.append(f"{r.status_code} {r.text[:200]}")

    limits = httpx.Limits(max_connections=limit, max_keepalive_connections=limit)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(student(jar, client) for jar in cookies))
        wall = time.perf_counter() - t0
    return latencies, errors, wall, accepted


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    db_url, lesson_id, cookies, secret_key = seed(args.students)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "SECRET_KEY": secret_key,
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "chronos.asgi:application", "--port", str(port),
         "--workers", str(args.workers), "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        import socket

        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        lat, errors, wall, accepted = asyncio.run(
            run(url, lesson_id, cookies, args.rounds, args.batch, args.concurrency)
        )
        print(
            f"{args.students} students x {args.rounds} batches of {args.batch} heartbeat(s), "
            f"{args.concurrency} in flight, {args.workers} uvicorn workers:"
        )
        print(f"  {accepted} events accepted in {wall:.1f} s = {accepted / wall:.0f} events/s")
        print(f"  batch latency p50 {pct(lat, 0.5):.0f} ms, p95 {pct(lat, 0.95):.0f} ms")
        print(f"  errors {len(errors)}" + (f"; first: {errors[0]}" if errors else ""))
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
