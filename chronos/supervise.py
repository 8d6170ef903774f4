"""`make run`'s process supervisor: `python -m chronos.supervise web worker [...]`.

Runs the named Procfile lines (each through /bin/sh, so ${PORT:-8000} expands) and owns
what they share:

- The embedded PostgreSQL (when DATABASE_URL is unset) is started here first, by loading
  the settings, so this process is its owner; it is stopped when everything has exited.
- Ctrl-C / SIGTERM: every child gets SIGTERM, then SIGKILL after STOP_GRACE_SECONDS; then
  the database stops. Nothing is left running.
- A worker that exits on its own (crash, OOM kill) is restarted with backoff
  (RESTART_BACKOFF_SECONDS, doubling up to RESTART_BACKOFF_MAX) while the web keeps serving;
  if the web process exits, everything stops (there is nothing left to serve).

Output lines are prefixed with the process name, like honcho's. honcho itself stops every
process when any one exits, which is why `make run` no longer uses it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

STOP_GRACE_SECONDS = 10.0
RESTART_BACKOFF_SECONDS = 1.0
RESTART_BACKOFF_MAX = 30.0
STABLE_AFTER_SECONDS = 60.0  # a child up this long has its backoff reset
ESSENTIAL = {"web"}  # its exit stops everything
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Child:
    name: str
    command: str
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff: float = RESTART_BACKOFF_SECONDS
    restarts: int = 0
    pending_restart_at: float | None = None
    threads: list[threading.Thread] = field(default_factory=list)


def read_procfile(path: Path) -> dict[str, str]:
    """{name: command} from a Procfile (`name: command` lines; # comments ignored)."""
    entries: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#") or ":" not in line:
            continue
        name, command = line.split(":", 1)
        entries[name.strip()] = command.strip()
    return entries


_print_lock = threading.Lock()


def say(name: str, text: str) -> None:
    with _print_lock:
        sys.stdout.write(f"{time.strftime('%H:%M:%S')} {name:<10}| {text}\n")
        sys.stdout.flush()


def _pump(child: Child, stream) -> None:
    for raw in iter(stream.readline, b""):
        say(child.name, raw.decode("utf-8", "replace").rstrip("\n"))
    stream.close()


def start(child: Child) -> None:
    """Start one child in its own session (so a terminal's Ctrl-C reaches only us)."""
    env = dict(os.environ)  # our interpreter's bin (the venv) first: uvicorn, python
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    child.proc = subprocess.Popen(
        ["/bin/sh", "-c", f"exec {child.command}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=ROOT,
    )
    child.started_at = time.monotonic()
    child.pending_restart_at = None
    child.threads = [threading.Thread(target=_pump, args=(child, child.proc.stdout), daemon=True)]
    child.threads[0].start()
    say("supervise", f"started {child.name} (pid {child.proc.pid})")


def stop_all(children: list[Child], grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM each running child (its leader process, which stops its own pool in order:
    uvicorn's workers, django-q2's sentinel and workers), SIGKILL its whole process group if
    it has not exited after `grace` seconds, and reap any process it left behind."""
    running = [c for c in children if c.proc and c.proc.poll() is None]
    for c in running:
        say("supervise", f"stopping {c.name} (pid {c.proc.pid})")
        c.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for c in running:
        try:
            c.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say("supervise", f"{c.name} did not stop in {grace:.0f} s: killed")
            _signal_group(c.proc, signal.SIGKILL)
            c.proc.wait()
        _signal_group(c.proc, signal.SIGKILL)  # orphans of a leader that exited
    for c in children:
        for t in c.threads:
            t.join(timeout=1)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def _start_database() -> Path | None:
    """Load the settings (which start or attach the embedded PostgreSQL when DATABASE_URL is
    unset) and return its data directory, or None for an external database."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronos.settings")
    from django.conf import settings

    if not settings.LOCAL_MODE:
        return None
    return Path(settings.DATA_DIR) / "pgdata"


def _forget_dead_users(pgdata: Path) -> None:
    """Drop pids of exited (e.g. SIGKILLed) processes from pgserver's list of users of the
    server, so our own exit (the last live user) stops it."""
    import psutil

    list_path = pgdata / ".handle_pids.json"
    if not list_path.exists():
        return
    import json

    pids = json.loads(list_path.read_text())
    alive = [p for p in pids if p == os.getpid() or psutil.pid_exists(p)]
    list_path.write_text(json.dumps(alive))


def supervise(names: list[str], procfile: Path = ROOT / "Procfile") -> int:
    """Run the named Procfile entries until Ctrl-C/SIGTERM or the web exits; return a code."""
    entries = read_procfile(procfile)
    missing = [n for n in names if n not in entries]
    if missing:
        say("supervise", f"not in {procfile.name}: {', '.join(missing)}")
        return 2
    pgdata = _start_database()
    children = [Child(n, entries[n]) for n in names]
    stopping = threading.Event()

    def on_signal(signum, _frame):
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    for c in children:
        start(c)
    if "web" in names:
        host = os.environ.get("HOST", "127.0.0.1")
        port = os.environ.get("PORT", "8000")
        say("supervise", f"Chronos: http://{host}:{port}/accounts/login/  (Ctrl-C stops all)")
    code = 0
    while not stopping.is_set():
        now = time.monotonic()
        for c in children:
            if c.pending_restart_at is not None:
                if now >= c.pending_restart_at:
                    c.restarts += 1
                    start(c)
                continue
            rc = c.proc.poll() if c.proc else None
            if rc is None:
                continue
            say("supervise", f"{c.name} exited with code {rc}")
            if c.name in ESSENTIAL:
                code = rc or 1
                stopping.set()
                break
            if now - c.started_at > STABLE_AFTER_SECONDS:
                c.backoff = RESTART_BACKOFF_SECONDS
            say("supervise", f"restarting {c.name} in {c.backoff:.0f} s")
            c.pending_restart_at = now + c.backoff
            c.backoff = min(RESTART_BACKOFF_MAX, c.backoff * 2)
        stopping.wait(0.2)
    stop_all(children)
    if pgdata is not None:
        _forget_dead_users(pgdata)
        say("supervise", "stopping the embedded PostgreSQL")
    return code


def main(argv: list[str] | None = None) -> int:
    """CLI: `python -m chronos.supervise [-f Procfile] [name ...]` (default: web worker)."""
    args = list(argv if argv is not None else sys.argv[1:])
    procfile = ROOT / "Procfile"
    if args[:1] == ["-f"] and len(args) >= 2:
        procfile, args = Path(args[1]), args[2:]
    return supervise(args or ["web", "worker"], procfile=procfile)


if __name__ == "__main__":
    sys.exit(main())
