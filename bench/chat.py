"""50 concurrent students asking questions through POST /api/v1/chat (extractive answerer).

    .venv/bin/python bench/chat.py [--students 50] [--questions 6] [--url URL] [--stream]
                                   [--serial]

Without --url it seeds its own embedded PostgreSQL (/tmp/chronos-benchchat): one creator
on the Pro plan (its monthly and per-student allowances are counted on every question) with
both Faraday lectures as the two lessons of a published sequential course, N students with
memberships, an enrollment and the first lesson completed (so every question runs the lock
rules and may cite both lectures) and signed-in sessions, then starts uvicorn (ASGI,
--workers, default 2 = the cores here) on it. Each student sends its questions one after
another (all students at once); every question carries the student's number so most
answers are computed, not served from the 10-minute cache. The cache is measured at the
end by a second cohort of N students asking the same texts (the burst limit of 10
questions a minute per student stays on, so one cohort cannot ask twice).
Reports answers/s, p50/p95 latency (ms), the server's CPU time per answer (uvicorn workers
+ PostgreSQL, read from /proc: the figure other load on the machine distorts least) and
the load average. With --url, pass --creator and --cookies (a JSON file of
[{"sessionid": ..., "csrftoken": ...}]) for an existing server (no CPU figure then).

    --serial      the students ask one after another instead of all at once (one question
                  in flight: a lone question's latency, no queue).
    --profile N   no server: cProfile of chat.services.chat_ask in this process over N
                  questions of the QA set (tests/data/qa) asked by one student, with the SQL
                  statements per question and the functions that take the time
                  (the top 45, or PROFILE_LINES).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import (  # noqa: E402
    database_url,
    django_ready,
    pct,
    postmaster_pid,
    session_cookies,
    tree_cpu_seconds,
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

WARM_UP = "warm up: how does capilary attraction work in a candle?"


def seed(students: int, embedder: str = "none") -> tuple[str, str, list[dict], list[dict]]:
    """Seed the bench DB; returns (database_url, creator handle, cookies per student, cookies
    per student of the second cohort). embedder "local": the lectures' chunks and windows
    are embedded by the local model, as the pipeline does for the offline default."""
    django_ready("/tmp/chronos-benchchat")
    from django.db import connection
    from django.utils import timezone

    from chat.retrieval import calibration_ensure
    from courses import services
    from courses.models import Enrollment, LessonProgress
    from creators.models import Creator, Membership, Tier, User
    from tests.chat_library import build_rows

    Creator.objects.filter(handle="bench-chat").delete()
    User.objects.filter(username__startswith="bench-student-").delete()
    creator = Creator.objects.create(
        handle="bench-chat", company_name="Bench Institution", tier=Tier.PRO
    )
    videos = [build_rows(creator, "faraday-1"), build_rows(creator, "faraday-2")]
    if embedder == "local":
        from tests.qa_eval import embed_library
        from videos.embedders import LocalEmbedder

        embed_library(dict(enumerate(videos)), LocalEmbedder())
    calibration_ensure(creator=creator)
    course = services.course_create(creator=creator, title="The Chemical History of a Candle")
    services.course_update(course=course, status="published", sequential=True)
    module = services.module_create(course=course, title="Lectures")
    first = services.lesson_create(module=module, video_id=videos[0].pk)
    services.lesson_create(module=module, video_id=videos[1].pk)
    now = timezone.now()
    users = User.objects.bulk_create(
        [User(username=f"bench-student-{i}", email=f"s{i}@bench.test") for i in range(2 * students)]
    )
    Membership.objects.bulk_create([Membership(creator=creator, user=u) for u in users])
    Enrollment.objects.bulk_create(
        [Enrollment(creator=creator, course=course, user=u, enrolled_at=now) for u in users]
    )
    LessonProgress.objects.bulk_create([
        LessonProgress(creator=creator, lesson=first, user=u, unique_seconds=1, started_at=now,
                       completed_at=now, updated_at=now)
        for u in users
    ])  # fmt: skip
    cookies = session_cookies(users)
    # The rows were just replaced: without fresh statistics the planner sees the old
    # creator's row counts (autovacuum has not run yet) and picks nested loops a steady
    # database would not (the full-text statement took 22.7 ms instead of 0.8 ms).
    with connection.cursor() as cur:
        cur.execute("VACUUM (ANALYZE)")
    return database_url(), creator.handle, cookies[:students], cookies[students:]


async def run(
    url: str, creator: str, cookies: list[dict], questions: int, stream: bool, serial=False,
    question: str | None = None,
):  # fmt: skip
    """Every student asks `questions` questions in turn, all students at once (serial: one
    student after another); `question`: this text every time instead of QUESTIONS. Returns
    (latencies in ms, error texts, wall seconds)."""
    from httptools import HttpParserError

    from bench.httpload import KeepAliveClient

    latencies: list[float] = []
    errors: list[str] = []
    client = KeepAliveClient(url, max(len(cookies), 1))

    async def student(i: int, jar: dict):
        # The session's cookies as a browser sends them.
        headers = {
            "X-CSRFToken": jar["csrftoken"],
            "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items()),
            "Content-Type": "application/json",
        }
        for k in range(questions):
            q = question or f"{QUESTIONS[(i + k) % len(QUESTIONS)]} (student {i})"
            payload = json.dumps({"message": q, "creator": creator, "stream": stream}).encode()
            t = time.perf_counter()
            try:
                # A stream: every event until the server ends it.
                status, _headers, body = await client.post("/api/v1/chat", payload, headers)
            except (OSError, TimeoutError, HttpParserError) as exc:
                errors.append(f"{type(exc).__name__} {exc}")
                continue
            if stream:
                ok = status == 200 and b"event: done" in body
            else:
                ok = status == 200 and json.loads(body).get("covered") is not None
            latencies.append((time.perf_counter() - t) * 1000)
            if not ok:
                errors.append(f"{status} {body[:200].decode(errors='replace')}")

    t0 = time.perf_counter()
    try:
        if serial:
            for i, jar in enumerate(cookies):
                await student(i, jar)
        else:
            await asyncio.gather(*(student(i, jar) for i, jar in enumerate(cookies)))
    finally:
        client.close()
    wall = time.perf_counter() - t0
    return latencies, errors, wall


def profile(count: int) -> None:
    """cProfile of chat_ask in this process: `count` QA-set questions asked by one student
    of the bench creator (each in a new session, the answer cache emptied first). Prints
    SQL statements and CPU ms per question and the top functions by cumulative time."""
    import cProfile
    import pstats

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from chat.models import AnswerCacheEntry
    from chat.services import chat_ask
    from creators.models import Creator, User
    from tests.chat_library import qa_questions

    seed(2)
    creator = Creator.objects.get(handle="bench-chat")
    user = User.objects.get(username="bench-student-0")
    questions = [q["question"] for q in qa_questions()][:count]
    AnswerCacheEntry.objects.filter(creator=creator).delete()
    from django.conf import settings

    settings.RATELIMIT_ENABLE = False  # one student asks them all, back to back
    chat_ask(user=user, creator=creator, message="warm up: candle")  # imports, caches
    prof = cProfile.Profile()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        prof.enable()
        for q in questions:
            chat_ask(user=user, creator=creator, message=q)
        prof.disable()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    n = len(questions)
    print(f"{n} questions in-process (cProfile on): {len(queries) / n:.1f} SQL statements, "
          f"{cpu / n * 1000:.1f} ms CPU, {wall / n * 1000:.1f} ms wall per question")  # fmt: skip
    stats = pstats.Stats(prof)
    stats.sort_stats("cumulative").print_stats(int(os.environ.get("PROFILE_LINES", "45")))


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--questions", type=int, default=6)
    parser.add_argument("--url", default=None)
    parser.add_argument("--creator", default="bench-chat")
    parser.add_argument("--cookies", default=None)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--serial", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument(
        "--embedder",
        choices=["none", "local"],
        default="none",
        help="the server's embedder: none (full text, the bench's configuration since "
        "session 4) or local (the offline default: every question embedded by MiniLM)",
    )
    args = parser.parse_args()
    if args.profile:  # the server's configuration: extractive answers, full text only
        os.environ.update(CHRONOS_ANSWERER="extractive", CHRONOS_EMBEDDER="none")
        django_ready("/tmp/chronos-benchchat")
        profile(args.profile)
        return
    server = None
    roots: list[int] = []
    if args.url:
        url, creator = args.url, args.creator
        cookies = json.loads(Path(args.cookies).read_text())[: 2 * args.students]
        cookies, second = cookies[: args.students], cookies[args.students :]
    else:
        _db_url, creator, cookies, second = seed(args.students, args.embedder)
        server, url = uvicorn_start(
            workers=args.workers,
            env={"CHRONOS_ANSWERER": "extractive", "CHRONOS_EMBEDDER": args.embedder},
        )
        postgres = postmaster_pid()
        roots = [server.pid] + ([postgres] if postgres else [])
    try:
        # Warm-up: 4 requests per worker at once by the second cohort (a different question
        # text, so the cache run is not affected), so that every worker has imported the
        # URL conf, opened its pooled connections and loaded the English word list (a
        # misspelt word: ~0.6 s of CPU once per process, which a measured run would
        # otherwise charge to its answers, ~4 ms each).
        warm = second[: 4 * args.workers] or cookies[:1]
        asyncio.run(run(url, creator, warm, 1, False, question=WARM_UP))
        load = load_average()
        cpu0 = [tree_cpu_seconds(pid) for pid in roots]
        client0 = time.process_time()
        lat, errors, wall = asyncio.run(
            run(url, creator, cookies, args.questions, args.stream, args.serial)
        )
        split = [tree_cpu_seconds(pid) - c for pid, c in zip(roots, cpu0, strict=True)]
        cpu = sum(split)
        n = len(lat)
        mode = ("stream (SSE)" if args.stream else "JSON") + (", serial" if args.serial else "")
        print(
            f"{args.students} students x {args.questions} questions, {mode}, extractive, "
            f"embedder {args.embedder}, "
            f"{args.workers} uvicorn workers; load average before: {load}, after: "
            f"{load_average()}"
        )
        print(f"  {n} answers in {wall:.1f} s = {n / wall:.1f} answers/s")
        p50, p95 = pct(lat, 0.5), pct(lat, 0.95)
        if errors:
            print("  first error:", errors[0])
        print(f"  latency p50 {p50:.0f} ms, p95 {p95:.0f} ms; errors {len(errors)}")
        if roots and n:
            parts = " + ".join(f"{c / n * 1000:.1f}" for c in split)
            print(
                f"  server CPU {cpu / n * 1000:.1f} ms per answer (uvicorn + PostgreSQL: "
                f"{parts}) = ~{2 / (cpu / n):.0f} answers/s on 2 idle cores"
            )
            client = (time.process_time() - client0) / n * 1000
            print(f"  client CPU {client:.1f} ms per answer (this process, same machine)")
        # Cache: the second cohort asks the same texts (served from the answer cache).
        if len(second) >= len(cookies):
            cpu0 = sum(tree_cpu_seconds(pid) for pid in roots)
            lat2, errors2, wall2 = asyncio.run(
                run(url, creator, second[: len(cookies)], args.questions, args.stream, args.serial)
            )
            cpu2 = sum(tree_cpu_seconds(pid) for pid in roots) - cpu0
            rate2, p95_2, e2 = len(lat2) / wall2, pct(lat2, 0.95), len(errors2)
            extra = f", server CPU {cpu2 / len(lat2) * 1000:.1f} ms per answer" if roots else ""
            print(f"  cache hits: {rate2:.1f} answers/s, p95 {p95_2:.0f} ms; {e2} errors{extra}")
            if errors2:
                print("  first error:", errors2[0])
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)


if __name__ == "__main__":
    main()
