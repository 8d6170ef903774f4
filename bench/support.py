"""What the HTTP benchmarks share: signed-in student sessions, the embedded database's URL,
a uvicorn server on a free port, percentiles. Imported by bench/chat.py and bench/watch.py
after django.setup() (functions import Django lazily)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pct(values, p):
    """The p-quantile (0..1) of `values` by nearest rank; nan when empty."""
    v = sorted(values)
    return v[min(len(v) - 1, round(p * (len(v) - 1)))] if v else float("nan")


def backend_cpu_seconds() -> float:
    """CPU seconds (user + system) used so far by this connection's PostgreSQL backend, from
    /proc (the bench runs on the database's machine; 10 ms resolution); 0.0 when unreadable.
    Wall time on a loaded machine waits for a core; CPU per call is the steadier figure."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_cookies(users: Iterable) -> list[dict]:
    """A signed-in database session per user: [{"sessionid", "csrftoken"}] (any csrftoken
    works: Django compares the cookie with the X-CSRFToken header)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    from chronos.sessions import SessionStore

    # The first backend that can load users (django-axes' comes first and cannot).
    backend = next(b for b in settings.AUTHENTICATION_BACKENDS if "axes" not in b.lower())
    cookies = []
    for user in users:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = backend
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.save()
        cookies.append({"sessionid": store.session_key, "csrftoken": secrets.token_hex(16)})
    return cookies


def database_url() -> str:
    """postgresql:// URL of the database Django is connected to (the embedded one)."""
    from django.db import connection

    params = connection.get_connection_params()
    return (
        f"postgresql://{params.get('user', 'postgres')}@/{params.get('dbname', 'postgres')}"
        f"?host={params.get('host', '')}&port={params.get('port', 5432)}"
    )


def uvicorn_start(*, workers: int, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """Start chronos.asgi under uvicorn on a free port with `env` over os.environ (insecure
    cookies for plain HTTP, warnings only); wait until it accepts connections (<= 30 s).
    Returns (process, base URL). The caller terminates the process."""
    from django.conf import settings

    port = free_port()
    full = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "chronos.asgi:application", "--port", str(port),
         "--workers", str(workers), "--log-level", "warning", "--no-access-log",
         # Keep idle client connections longer than the default 5 s: under load a pooled
         # connection otherwise closes just as the client reuses it (httpx.ReadError).
         "--timeout-keep-alive", "75"],
        cwd=ROOT, env=full,
    )  # fmt: skip
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return server, f"http://127.0.0.1:{port}"


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system) used so far by process `root` and all its descendants,
    including children already reaped (cutime/cstime), read from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        parent[int(entry)] = int(fields[1])
        cpu[int(entry)] = sum(int(x) for x in fields[11:15]) / tick  # utime stime cu cs
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0.0)
        todo.extend(child for child, ppid in parent.items() if ppid == pid)
    return total


def postmaster_pid() -> int | None:
    """The embedded PostgreSQL's postmaster pid (first line of pgdata/postmaster.pid)."""
    from django.conf import settings

    pid_file = Path(settings.DATA_DIR) / "pgdata" / "postmaster.pid"
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def django_ready(data_dir: str) -> None:
    """Set up Django on the embedded database under `data_dir` (unless DATABASE_URL or
    CHRONOS_DATA_DIR say otherwise), warnings-only logging, migrated."""
    os.environ.setdefault("CHRONOS_DATA_DIR", data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronos.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
