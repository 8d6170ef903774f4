"""Analytics at scale: rollup rebuild, incremental rollup, dashboard/API latency, CSV memory.

    .venv/bin/python bench/analytics.py [--scale 1.0] [--repeat 7] [--load-only | --reuse]
        [--steps rebuild,incremental,dashboard,engagement,csv] [--csv-rows N]

--load-only generates the facts and stops; --reuse skips generation and benchmarks the
facts a previous run left in the bench database (full scale takes a while to generate).
The incremental step spreads its day of events over the last 23 hours, received after the
rollup's watermarks (a day that arrived since the last run), so it may run again on --reuse.

Scale 1.0 is the issue's: one creator with 1,000,000 watch events, 2,000 students, 200
videos (10 courses x 20 lessons) and 100,000 questions over one year; --scale 0.1 is a
tenth of everything. Rows are loaded with COPY (the simulated player: 10-second
heartbeats, rewinds at each video's hard passage, skips, early stops; popular videos
watched more), then:

  rebuild        analytics.rollups.rollup_rebuild from scratch
  incremental    a day's new events (100,000 x scale) + questions + progress, then one
                 rollup_update (what the 5-minute schedule runs)
  dashboard      GET /studio/<handle>/analytics/?range=7d|30d|90d|all and a course tab
                 (30d, all), server time in process (Django test client; no network),
                 p50/p95 ms, cold (nothing cached) and warm, with the SQL time and the
                 CPU of this process and of the database backend; then the first view
                 of each after the worker's warm (what a creator meets after a rollup)
  engagement     GET /api/v1/analytics/videos/<id>/engagement/?range=all|30d of the
                 most watched videos, cold and warm, p50/p95 ms and CPU
  csv            a 1,000,000-row watch-session export streamed through the view:
                 wall time and peak Python heap (tracemalloc) while streaming

Targets (issue 9): dashboard p95 <= 300 ms per range, engagement <= 100 ms, the
incremental rollup of a day's 100,000 events <= 10 s, CSV in constant memory.
Uses its own embedded PostgreSQL under /tmp/chronos-bench-analytics (or DATABASE_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if not os.environ.get("DATABASE_URL"):
    os.environ.setdefault("CHRONOS_DATA_DIR", "/tmp/chronos-bench-analytics")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronos.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

# What the web server's process loads and freezes at start (chronos/asgi.py: gc.freeze), so
# the garbage collector's full collections here cost what they cost there.
import chronos.asgi  # noqa: E402, F401
from bench.support import backend_cpu_seconds, pct  # noqa: E402

HANDLE = "bench-analytics"
PRESET_KEYS = ("7d", "30d", "90d", "all")
QUESTION_BANK = [
    "Why does the flame point upwards",
    "How does the wick draw up the wax",
    "What makes the flame bright",
    "Why does a candle need air",
    "What is the cup of melted wax",
    "How hot is the inside of the flame",
    "Why is the flame hollow",
    "What is the black smoke made of",
    "Will this be on the exam",
    "Is there a certificate for this course",
]
TOPICS = [
    "in lecture {n}",
    "at the start",
    "in this part",
    "here",
    "in the experiment {n}",
    "compared to a lamp",
    "with paraffin",
    "for beeswax",
    "again",
    "exactly",
]


def copy_rows(table: str, columns: list[str], rows) -> int:
    n = 0
    raw = connection.connection
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)
            n += 1
    return n


def setup(scale: float, seed: int = 11):
    """Creator, owner, students, courses with videos; returns (creator, lessons, students)."""
    from courses.models import Course, Lesson, Module
    from creators.models import Creator, Membership, User
    from videos.models import Video

    rnd = random.Random(seed)
    owner, _ = User.objects.get_or_create(username="bench-owner", defaults={"email": "b@x.test"})
    creator = Creator.objects.create(handle=HANDLE, company_name="Bench Academy", owner=owner)
    n_students, n_videos = max(20, int(2000 * scale)), max(10, int(200 * scale))
    users = User.objects.bulk_create(
        [
            User(username=f"bench-s{i}", email=f"s{i}@bench.test", display_name=f"Student {i}")
            for i in range(n_students)
        ]
    )
    Membership.objects.bulk_create([Membership(creator=creator, user=u) for u in users])
    lessons = []
    per_course = 20
    for c in range(max(1, n_videos // per_course)):
        course = Course.objects.create(creator=creator, title=f"Course {c}", slug=f"course-{c}")
        module = Module.objects.create(creator=creator, course=course, title="Module")
        for i in range(per_course):
            video = Video.objects.create(
                creator=creator,
                title=f"Lecture {c}.{i}",
                status="completed",
                duration_seconds=rnd.uniform(600, 2400),
            )
            lessons.append(
                Lesson.objects.create(
                    creator=creator, module=module, video=video, title=video.title, position=i
                )
            )
    return creator, lessons, [u.pk for u in users]


def simulate(
    creator,
    lessons,
    students,
    *,
    events: int,
    questions: int,
    start: datetime,
    days: float,
    rnd: random.Random,
    received_after: timedelta = timedelta(0),
) -> dict:
    """COPY `events` watch events and `questions` question/answer pairs over [start, +days).
    received_after: how long after its own time the server got each (events' received_at,
    progress updated_at, messages' created_at)."""
    from courses.intervals import intervals_merge, intervals_total

    weights = [1 / (i + 1) ** 0.8 for i in range(len(lessons))]  # popular videos first
    progress: dict = {}
    enrol: dict = {}

    def sessions():
        made = 0
        while made < events:
            user = rnd.choice(students)
            lesson = rnd.choices(lessons, weights)[0]
            dur = lesson.video.duration_seconds
            at = start + timedelta(seconds=rnd.uniform(0, days * 86400))
            enrol.setdefault((user, lesson.module.course_id), at - timedelta(hours=1))
            sid, seq, pos = uuid.uuid4(), 0, rnd.choice([0.0, 0.0, rnd.uniform(0, dur / 2)])
            hard = dur * (0.3 + 0.4 * (lesson.pk % 3) / 3)
            budget = rnd.expovariate(1 / 900) + 30
            played = []
            rows = [(sid, seq, "played", pos, pos, pos, at)]
            while budget > 0 and pos < dur:
                end = min(dur, pos + 10)
                at += timedelta(seconds=10)
                seq += 1
                rows.append((sid, seq, "heartbeat", end, pos, end, at))
                played.append([pos, end])
                budget -= 10
                pos = end
                if hard <= pos < hard + 30 and rnd.random() < 0.3:
                    seq += 1
                    back = max(0.0, pos - 25)
                    rows.append((sid, seq, "seeked", back, pos, back, at))
                    pos = back
            key = (user, lesson.pk)
            prev = progress.get(key)
            merged = intervals_merge((prev[0] if prev else []) + played, limit=dur)
            done = (
                prev[3]
                if prev and prev[3]
                else (at if intervals_total(merged) >= 0.9 * dur else None)
            )
            progress[key] = [merged, prev[1] if prev else at, at, done, pos]
            for s, q, verb, p, a, b, t in rows:
                yield (
                    creator.pk, lesson.pk, lesson.video_id, user, s, q, verb, p, a, b, 1.0, t,
                    t + received_after,
                )  # fmt: skip
                made += 1

    n_events = copy_rows(
        "courses_watchevent",
        [
            "creator_id",
            "lesson_id",
            "video_id",
            "user_id",
            "session_id",
            "seq",
            "verb",
            "position",
            "time_from",
            "time_to",
            "rate",
            "client_time",
            "received_at",
        ],
        sessions(),
    )
    with connection.cursor() as cur:
        cur.execute(
            "DELETE FROM courses_lessonprogress WHERE creator_id = %s AND (lesson_id, user_id) "
            "IN (SELECT unnest(%s::bigint[]), unnest(%s::bigint[]))",
            [creator.pk, [k[1] for k in progress], [k[0] for k in progress]],
        )
    import json

    copy_rows(
        "courses_lessonprogress",
        [
            "creator_id",
            "lesson_id",
            "user_id",
            "last_position",
            "played_intervals",
            "unique_seconds",
            "started_at",
            "completed_at",
            "updated_at",
        ],
        (
            (
                creator.pk,
                lesson,
                user,
                v[4],
                json.dumps(v[0]),
                intervals_total(v[0]),
                v[1],
                v[3],
                v[2] + received_after,
            )
            for (user, lesson), v in progress.items()
        ),
    )
    with connection.cursor() as cur:
        cur.execute(
            "SELECT user_id, course_id FROM courses_enrollment WHERE creator_id = %s",
            [creator.pk],
        )
        have = set(cur.fetchall())
    copy_rows(
        "courses_enrollment",
        ["creator_id", "course_id", "user_id", "enrolled_at", "is_active"],
        ((creator.pk, c, u, t, True) for (u, c), t in enrol.items() if (u, c) not in have),
    )
    ask(creator, lessons, students, questions, start + received_after, days, rnd)
    return {"events": n_events, "progress": len(progress)}


def ask(creator, lessons, students, n: int, start: datetime, days: float, rnd) -> None:
    """n question/answer pairs: sessions and messages by COPY (ids from the sequences)."""
    if not n:
        return
    with connection.cursor() as cur:
        cur.execute("SELECT nextval('chat_chatsession_id_seq') FROM generate_series(1, %s)", [n])
        session_ids = [r[0] for r in cur.fetchall()]
    rows, msgs = [], []
    for sid in session_ids:
        user, lesson = rnd.choice(students), rnd.choice(lessons)
        at = start + timedelta(seconds=rnd.uniform(0, days * 86400))
        text = f"{rnd.choice(QUESTION_BANK)} {rnd.choice(TOPICS).format(n=rnd.randint(1, 6))}?"
        pos = rnd.uniform(0, lesson.video.duration_seconds)
        covered = rnd.random() < 0.8
        rows.append((sid, creator.pk, user, text[:60], at, at, "[]"))
        msgs.append((creator.pk, sid, "user", text, "[]", True, at, lesson.video_id, pos))
        cite = (
            f'[{{"video_id": {lesson.video_id}, "video_title": "", "start": {pos:.1f}, '
            f'"end": {pos + 20:.1f}, "quote": "", "score": 0.5, "n": 1}}]'
        )
        msgs.append(
            (
                creator.pk,
                sid,
                "assistant",
                "Answer [1]." if covered else "Not covered.",
                cite if covered else "[]",
                covered,
                at + timedelta(seconds=2),
                None,
                None,
            )
        )
    copy_rows(
        "chat_chatsession",
        ["id", "creator_id", "user_id", "title", "created_at", "updated_at", "video_ids"],
        rows,
    )
    copy_rows(
        "chat_chatmessage",
        [
            "creator_id",
            "session_id",
            "role",
            "content",
            "citations",
            "covered",
            "created_at",
            "video_id",
            "video_position",
            "model",
            "input_tokens",
            "output_tokens",
            "cost_usd",
            "latency_ms",
            "cached",
            "status",
        ],
        ((*m, "bench", 0, 0, 0, 0, False, "done") for m in msgs),
    )


def rss_mb() -> float:
    """This process's resident set size in MB (Linux /proc)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--csv-rows", type=int, default=1_000_000)
    parser.add_argument("--load-only", action="store_true", help="generate facts, stop")
    parser.add_argument("--reuse", action="store_true", help="reuse the loaded facts")
    parser.add_argument(
        "--steps", default="rebuild,incremental,dashboard,engagement,csv", help="what to run"
    )
    args = parser.parse_args()
    from analytics.rollups import rollup_rebuild
    from creators.models import Creator

    call_command("migrate", verbosity=0)
    Creator.objects.filter(handle=HANDLE + "-csv").delete()
    rnd = random.Random(5)
    now = datetime.now(UTC)
    if args.reuse:
        creator, lessons, students = reuse()
    else:
        creator, lessons, students = load(args.scale, now, rnd)
    if args.load_only:
        return
    steps = set(args.steps.split(","))
    if "rebuild" in steps:
        t = time.perf_counter()
        result = rollup_rebuild(creator=creator)
        print(f"rebuild: {time.perf_counter() - t:.1f} s ({result})", flush=True)
    if "incremental" in steps:
        incremental(creator, lessons, students, args.scale, now, rnd)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")

    client = Client()
    client.force_login(creator.owner)
    if "dashboard" in steps:
        print(
            "| range | cold p50 / p95 ms | SQL (median) | CPU py + pg ms | warm p50 / p95 ms "
            "| warm CPU py + pg ms |"
        )
        tab = f"/studio/{HANDLE}/analytics/courses/{lessons[0].module.course_id}/"
        views = [(key, f"/studio/{HANDLE}/analytics/?range={key}") for key in PRESET_KEYS]
        views += [(f"course {key}", f"{tab}?range={key}") for key in ("30d", "all")]
        for key, url in views:
            assert client.get(url).status_code == 200  # warm-up (imports, plans)
            cold = measure(client, url, args.repeat, cold=True)
            warm = measure(client, url, args.repeat, cold=False)
            print(
                f"| {key} | {cold['p50']:.0f} / {cold['p95']:.0f} | {cold['sql']:.0f} | "
                f"{cold['py']:.0f} + {cold['pg']:.0f} | {warm['p50']:.0f} / {warm['p95']:.0f} | "
                f"{warm['py']:.0f} + {warm['pg']:.0f} |",
                flush=True,
            )
        prewarmed(client, args.repeat, f"{tab}?range=30d")
    if "engagement" in steps:
        warmup = f"/api/v1/analytics/videos/{lessons[-1].video_id}/engagement/?creator={HANDLE}"
        assert client.get(warmup).status_code == 200  # imports, as the dashboard's warm-up
        for mode in ("cold", "warm"):
            runs = [
                measure(
                    client,
                    f"/api/v1/analytics/videos/{lesson.video_id}/engagement/?range={key}"
                    f"&creator={HANDLE}",
                    1 if mode == "cold" else 3,
                    cold=mode == "cold",
                )
                for key in ("all", "30d")
                for lesson in lessons[: args.repeat * 2]  # the most watched videos first
            ]
            times = [t for r in runs for t in r["times"]]
            print(
                f"engagement {mode} (most watched videos, all + 30d): p50 {pct(times, 0.5):.0f}"
                f" ms, p95 {pct(times, 0.95):.0f} ms; CPU py + pg median "
                f"{pct([r['py'] for r in runs], 0.5):.0f} + {pct([r['pg'] for r in runs], 0.5):.0f}"
                " ms",
                flush=True,
            )
    if "csv" in steps:
        csv_bench(args.csv_rows, creator.owner)


def incremental(creator, lessons, students, scale: float, now: datetime, rnd) -> None:
    """A day's new events, questions and progress, then one rollup_update (timed). They are
    stamped as received after every watermark plus the rollup's re-read overlap (a day that
    arrived since the last run), so the step is valid on --reuse too."""
    from analytics.models import RollupState
    from analytics.rollups import rollup_update
    from analytics.rollups.run import OVERLAP_SECONDS

    marks = RollupState.objects.filter(creator=creator).values_list(
        "events_through", "progress_through", "questions_through"
    )
    start = now - timedelta(hours=23)
    after = max([*(m for row in marks for m in row if m), start])
    received_after = after + timedelta(seconds=OVERLAP_SECONDS + 3) - start
    day_events = int(100_000 * scale)
    simulate(
        creator,
        lessons,
        students,
        events=day_events,
        questions=day_events // 100,
        start=start,
        days=0.95,
        rnd=rnd,
        received_after=received_after,
    )
    t, cpu0, pg0 = time.perf_counter(), time.process_time(), backend_cpu_seconds()
    result = rollup_update(creator=creator)
    print(
        f"incremental ({day_events:,} new events, {day_events // 100:,} questions): "
        f"{time.perf_counter() - t:.1f} s; CPU {time.process_time() - cpu0:.1f} s Python + "
        f"{backend_cpu_seconds() - pg0:.1f} s PostgreSQL ({result})",
        flush=True,
    )


def prewarmed(client, repeat: int, tab: str) -> None:
    """What a creator meets in production: after each rollup the worker computes the four
    preset dashboards and the filtered views seen lately (here the course tab `tab`) into
    the shared analytics cache (analytics.tasks.rollup_tick -> dashboards_warm_task); then
    the first view of each. `repeat` rounds of: empty the cache, view the tab (so it counts
    as seen lately), warm (timed: wall and CPU of this process), view each once."""
    from django.core.cache import caches

    from analytics.pages import dashboards_warm
    from creators.models import Creator

    creator = Creator.objects.get(handle=HANDLE)
    views = {key: f"/studio/{HANDLE}/analytics/?range={key}" for key in PRESET_KEYS}
    views["course tab 30d"] = tab
    firsts: dict[str, list[float]] = {k: [] for k in views}
    walls, cpus = [], []
    for _ in range(repeat):
        caches["analytics"].clear()
        assert client.get(tab).status_code == 200
        cpu0, t = time.process_time(), time.perf_counter()
        dashboards_warm(creator=creator)
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - cpu0)
        for key, url in views.items():
            firsts[key] += measure(client, url, 1, cold=False)["times"]
    print(
        "after the worker's warm, the first view p50 / p95 ms: "
        + ", ".join(f"{k} {pct(v, 0.5):.0f} / {pct(v, 0.95):.0f}" for k, v in firsts.items())
        + f"; the worker's warm of the five: {pct(walls, 0.5):.1f} s "
        f"({pct(cpus, 0.5):.1f} s Python CPU)",
        flush=True,
    )


def measure(client, url: str, repeat: int, *, cold: bool) -> dict:
    """`repeat` GETs of url: wall times, and medians of SQL time and server CPU (this
    process's Python CPU and the database backend's CPU) per request, all in ms. cold:
    clear the caches before each request (the first view after a rollup, nothing warmed)."""
    from django.core.cache import cache, caches

    times, sql, py, pg = [], [], [], []
    for _ in range(repeat):
        if cold:
            cache.clear()
            caches["analytics"].clear()
        cpu0, pg0 = time.process_time(), backend_cpu_seconds() * 1000
        with CaptureQueriesContext(connection) as queries:
            t = time.perf_counter()
            assert client.get(url).status_code == 200, url
            times.append((time.perf_counter() - t) * 1000)
        py.append((time.process_time() - cpu0) * 1000)
        pg.append(backend_cpu_seconds() * 1000 - pg0)
        sql.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
    return {
        "times": times,
        "p50": pct(times, 0.5),
        "p95": pct(times, 0.95),
        "sql": pct(sql, 0.5),
        "py": pct(py, 0.5),
        "pg": pct(pg, 0.5),
    }


def reuse():
    """The creator, lessons and students a previous --load-only run left."""
    from courses.models import Lesson
    from creators.models import Creator, Membership

    creator = Creator.objects.get(handle=HANDLE)
    lessons = list(
        Lesson.objects.filter(creator=creator).select_related("video", "module").order_by("pk")
    )
    students = list(Membership.objects.filter(creator=creator).values_list("user_id", flat=True))
    print(f"reusing {len(students):,} students, {len(lessons)} videos")
    return creator, lessons, students


def load(scale: float, now: datetime, rnd: random.Random):
    """Generate the facts (a year of them) for a fresh bench creator."""
    from creators.models import Creator, User

    Creator.objects.filter(handle=HANDLE).delete()
    User.objects.filter(username__startswith="bench-s").delete()
    t = time.perf_counter()
    creator, lessons, students = setup(scale)
    facts = simulate(
        creator,
        lessons,
        students,
        events=int(1_000_000 * scale),
        questions=int(100_000 * scale),
        start=now - timedelta(days=366),
        days=365,
        rnd=rnd,
    )
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    print(
        f"loaded {facts['events']:,} events, {len(students):,} students, {len(lessons)} videos,"
        f" {int(100_000 * scale):,} questions in {time.perf_counter() - t:.0f} s"
    )
    return creator, lessons, students


def csv_bench(rows: int, owner) -> None:
    """Stream a `rows`-row watch-session export three ways and report time and the process's
    peak RSS while streaming: through the Django test client (the view's iterator, as WSGI
    serves it), through the web server's app (chronos.asgi: the export goes to its WSGI file
    pool) and through Django's ASGI handler alone (which reads a synchronous body whole
    before sending: what the web server did before session 11)."""
    from creators.models import Creator

    creator = Creator.objects.create(handle=HANDLE + "-csv", company_name="CSV", owner=owner)
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO analytics_watchsession (creator_id, session_id, user_id, day, "
            "started_at, ended_at, events, watch_seconds, furthest, buckets) "
            "SELECT %s, gen_random_uuid(), %s, (now() - (g %% 300) * interval '1 day')::date, "
            "now() - (g %% 300) * interval '1 day', now(), 10, 100.0, 100.0, '{}' "
            "FROM generate_series(1, %s) g",
            [creator.pk, owner.pk, rows],
        )
        cur.execute("ANALYZE analytics_watchsession")
    client = Client()
    client.force_login(owner)
    start = (datetime.now(UTC) - timedelta(days=400)).date()
    path = f"/studio/{HANDLE}-csv/analytics/export.csv"
    query = f"report=watch&from={start}&to={datetime.now(UTC).date()}"
    response = client.get(f"{path}?{query}")
    rss_start = rss_peak = rss_mb()
    t = time.perf_counter()
    lines = size = 0
    for n, chunk in enumerate(response.streaming_content):
        lines += chunk.count(b"\n")
        size += len(chunk)
        if n % 10 == 0:
            rss_peak = max(rss_peak, rss_mb())
    _csv_report("test client", lines, size, time.perf_counter() - t, rss_start, rss_peak)

    from chronos.asgi import application, django_asgi

    cookie = f"sessionid={client.cookies['sessionid'].value}"
    for label, app in (("chronos.asgi", application), ("Django's ASGI handler alone", django_asgi)):
        rss_start = rss_mb()
        t = time.perf_counter()
        lines, size, rss_peak = asyncio.run(_asgi_get(app, path, query, cookie))
        _csv_report(label, lines, size, time.perf_counter() - t, rss_start, rss_peak)
    creator.delete()


def _csv_report(label, lines, size, elapsed, rss_start, rss_peak) -> None:
    print(
        f"csv through {label}: {lines - 1:,} rows, {size / 1e6:.0f} MB in {elapsed:.1f} s; "
        f"process RSS {rss_start:.0f} MB before, peak {rss_peak:.0f} MB while streaming",
        flush=True,
    )


async def _asgi_get(app, path: str, query: str, cookie: str) -> tuple[int, int, float]:
    """GET path?query through the ASGI `app` in this process: (lines, bytes, peak RSS MB),
    the RSS read every 10 body messages as they arrive; prints when the first byte came."""
    got = {"lines": 0, "bytes": 0, "messages": 0, "peak": rss_mb(), "first": 0.0}
    started = time.perf_counter()
    finished = asyncio.Event()
    asked = False

    async def receive():
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] != "http.response.body":
            return
        body = message.get("body", b"")
        if not got["messages"]:
            got["first"] = time.perf_counter() - started
        got["lines"] += body.count(b"\n")
        got["bytes"] += len(body)
        got["messages"] += 1
        if got["messages"] % 10 == 0:
            got["peak"] = max(got["peak"], rss_mb())
        if not message.get("more_body"):
            finished.set()

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query.encode(), "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
        "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
    }  # fmt: skip
    await app(scope, receive, send)
    print(f"  first byte after {got['first']:.2f} s", flush=True)
    return got["lines"], got["bytes"], max(got["peak"], rss_mb())


if __name__ == "__main__":
    main()
