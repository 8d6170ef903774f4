"""The burst limit (10 questions a minute per student) across two live web processes: two
uvicorn servers on this session's test database share django-ratelimit's counter (the
PostgreSQL cache, billing.ratecache), so of eleven questions a student sends at once,
alternating between them, one is refused with HTTP 429, Retry-After and
{"code": "rate_limited"}, and ten are answered by both processes."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from django.core.cache import caches
from django.db import connection

from billing.models import QuestionUsage
from billing.services.allowances import BURST_RATE
from tests.chat_library import build_rows
from tests.factories import CreatorFactory, MembershipFactory
from tests.ratelimit_window import BURST_WINDOW, start_in_one_window

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "pw-Chronos-123"  # tests.factories.UserFactory's
QUESTION = "Where was the paraffin wax obtained from?"

assert BURST_RATE == "10/m"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the web process on {port} exited ({proc.returncode})")
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port}")


def _web_process(port: int, env: dict, logs: Path) -> subprocess.Popen:
    """uvicorn serving Chronos on 127.0.0.1:`port`; stderr to logs/web-<port>.log."""
    with open(logs / f"web-{port}.log", "wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "chronos.asgi:application", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning", "--no-access-log"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_burst_limit_over_http_across_two_web_processes(tmp_path):
    creator = CreatorFactory(tier="pro")  # 500 questions a day each: only the burst limits
    student = MembershipFactory(creator=creator).user
    build_rows(creator, "faraday-1")
    caches["ratelimit"].clear()
    db = connection.settings_dict
    base = urlsplit(os.environ.get("DATABASE_URL") or os.environ["CHRONOS_EMBEDDED_DB_URL"])
    env = {
        **os.environ,
        "DATABASE_URL": urlunsplit(base._replace(path="/" + db["NAME"])),
        "SECRET_KEY": "burst-test-" + "x" * 40,
        "CHRONOS_ANSWERER": "extractive",
        "CHRONOS_EMBEDDER": "none",
        "RATELIMIT_ENABLE": "1",
        "LOG_LEVEL": "WARNING",
    }
    ports = [_free_port(), _free_port()]
    procs = [_web_process(port, env, tmp_path) for port in ports]
    try:
        for port, proc in zip(ports, procs, strict=True):
            _wait_port(port, proc)
        # Eleven questions must fall in one fixed window: start in a fresh one if less
        # than half of the current window is left.
        start_in_one_window(f"user:{student.pk}", needed=BURST_WINDOW / 2)
        # All eleven at once, alternating between the processes: each is counted before it
        # is answered, so the count is settled within a second or two however slow the
        # answers are on a loaded machine.

        def ask(n: int) -> httpx.Response:
            return httpx.post(
                f"http://127.0.0.1:{ports[n % 2]}/api/v1/chat",
                json={"message": QUESTION, "creator": creator.handle},
                auth=(student.username, PASSWORD),
                timeout=300,
            )

        with ThreadPoolExecutor(11) as pool:
            answers = list(pool.map(ask, range(11)))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    logs = "".join(p.read_text(errors="replace")[-2000:] for p in tmp_path.glob("web-*.log"))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 10 + [429], (statuses, logs)
    served = {a.request.url.port for a in answers if a.status_code == 200}
    assert served == set(ports)  # both processes answered
    assert all(a.json()["covered"] for a in answers if a.status_code == 200)
    refused = next(a for a in answers if a.status_code == 429)
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= BURST_WINDOW
    body = refused.json()
    assert body["code"] == "rate_limited" and body["retry_after"] == retry_after
    assert f"ask again in {retry_after} seconds" in body["error"]
    # The refused question was not counted against the student's allowance.
    assert QuestionUsage.objects.filter(creator=creator, user=student).count() == 10
