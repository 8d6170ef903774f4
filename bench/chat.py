"""50 concurrent students asking questions through POST /api/v1/chat (extractive answerer).

    .venv/bin/python bench/chat.py [--students 50] [--questions 6] [--url URL] [--stream]

Without --url it seeds its own embedded PostgreSQL (/tmp/chronos-benchchat): one creator
with both Faraday lectures, N students with memberships and signed-in sessions, then starts
uvicorn (ASGI, 2 workers) on it. Each student sends its questions one after another (all
students at once); every question carries the student's number so most answers are computed,
not served from the 10-minute cache (the cache is measured separately at the end).
Reports answers/s and p50/p95 latency (ms). With --url, pass --creator and --cookies
(a JSON file of [{"sessionid": ..., "csrftoken": ...}]) for an existing server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import (  # noqa: E402
    database_url,
    django_ready,
    pct,
    session_cookies,
    uvicorn_start,
)

QUESTIONS = [
    "Where was the paraffin wax obtained from?",
    "Why do flames rise upwards?",
    "Why does a candle go out when you turn it upside down?",
    "Is fresh air needed for something to burn?",
    "What gives a coal gas flame its brightness?",
    "Why do larger wicks need more air supply?",
    "What happens when lime is heated in a hydrogen flame?",
    "How is the heat arranged inside a candle flame?",
]


def seed(students: int) -> tuple[str, str, list[dict], str]:
    """Seed the bench DB; returns (database_url, creator handle, cookies per student,
    the SECRET_KEY the sessions are signed with)."""
    django_ready("/tmp/chronos-benchchat")
    from django.conf import settings

    from chat.retrieval import calibration_ensure
    from creators.models import Creator, Membership, User
    from tests.chat_library import build_rows

    Creator.objects.filter(handle="bench-chat").delete()
    User.objects.filter(username__startswith="bench-student-").delete()
    creator = Creator.objects.create(handle="bench-chat", company_name="Bench Institution")
    build_rows(creator, "faraday-1")
    build_rows(creator, "faraday-2")
    calibration_ensure(creator=creator)
    users = []
    for i in range(students):
        user = User.objects.create(username=f"bench-student-{i}", email=f"s{i}@bench.test")
        Membership.objects.create(creator=creator, user=user)
        users.append(user)
    cookies = session_cookies(users)
    url = database_url()
    return url, creator.handle, cookies, settings.SECRET_KEY


async def run(url: str, creator: str, cookies: list[dict], questions: int, stream: bool):
    import httpx

    latencies: list[float] = []
    errors: list[str] = []

    async def student(i: int, jar: dict):
        async with httpx.AsyncClient(base_url=url, cookies=jar, timeout=120) as client:
            for k in range(questions):
                q = f"{QUESTIONS[(i + k) % len(QUESTIONS)]} (student {i})"
                payload = {"message": q, "creator": creator, "stream": stream}
                headers = {"X-CSRFToken": jar["csrftoken"]}
                t = time.perf_counter()
                if stream:
                    async with client.stream(
                        "POST", "/api/v1/chat", json=payload, headers=headers
                    ) as r:
                        body = b"".join([chunk async for chunk in r.aiter_bytes()])
                        ok = r.status_code == 200 and b"event: done" in body
                else:
                    r = await client.post("/api/v1/chat", json=payload, headers=headers)
                    ok = r.status_code == 200 and r.json().get("covered") is not None
                latencies.append((time.perf_counter() - t) * 1000)
                if not ok:
                    errors.append(f"{r.status_code} {r.text[:200] if not stream else ''}")

    t0 = time.perf_counter()
    await asyncio.gather(*(student(i, jar) for i, jar in enumerate(cookies)))
    wall = time.perf_counter() - t0
    return latencies, errors, wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--questions", type=int, default=6)
    parser.add_argument("--url", default=None)
    parser.add_argument("--creator", default="bench-chat")
    parser.add_argument("--cookies", default=None)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    server = None
    if args.url:
        url, creator = args.url, args.creator
        cookies = json.loads(Path(args.cookies).read_text())[: args.students]
    else:
        _db_url, creator, cookies, _secret_key = seed(args.students)
        server, url = uvicorn_start(
            workers=args.workers,
            env={"CHRONOS_ANSWERER": "extractive", "CHRONOS_EMBEDDER": "none"},
        )
    try:
        import httpx

        # Warm-up (imports, connections) with one request per worker.
        for jar in cookies[: args.workers]:
            httpx.post(
                f"{url}/api/v1/chat",
                json={"message": "warm up candle", "creator": creator},
                headers={"X-CSRFToken": jar["csrftoken"]},
                cookies=jar,
                timeout=60,
            )
        lat, errors, wall = asyncio.run(run(url, creator, cookies, args.questions, args.stream))
        n = len(lat)
        mode = "stream (SSE)" if args.stream else "JSON"
        print(f"{args.students} students x {args.questions} questions, {mode}, extractive:")
        print(f"  {n} answers in {wall:.1f} s = {n / wall:.1f} answers/s")
        p50, p95 = pct(lat, 0.5), pct(lat, 0.95)
        if errors:
            print("  first error:", errors[0])
        print(f"  latency p50 {p50:.0f} ms, p95 {p95:.0f} ms; errors {len(errors)}")
        # Cache: the same questions again (served from the DB cache).
        cookies2 = cookies
        lat2, errors2, wall2 = asyncio.run(run(url, creator, cookies2, args.questions, args.stream))
        rate2, p95_2, e2 = len(lat2) / wall2, pct(lat2, 0.95), len(errors2)
        print(f"  repeated (cache hits): {rate2:.1f} answers/s, p95 {p95_2:.0f} ms; {e2} errors")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)


if __name__ == "__main__":
    main()
