"""`make run`'s supervisor (chronos.supervise), driven as a real subprocess: a crashing
worker is restarted while the web keeps running; Ctrl-C stops every child (one that ignores
SIGTERM is killed after the grace period) and the embedded PostgreSQL it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent

WEB = "import time\nwhile True: time.sleep(1)"
CRASHER = "import sys, time\ntime.sleep(0.5)\nprint('worker crashing', flush=True)\nsys.exit(3)"
STUBBORN = (
    "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ignoring SIGTERM', flush=True)\nwhile True: time.sleep(1)"
)


def _postgres_for(pgdata: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(attrs=["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and str(pgdata) in " ".join(cmdline):
            found.append(proc)
    return found


@pytest.mark.slow
def test_crashing_worker_restarts_and_ctrl_c_stops_everything(tmp_path):
    scripts = {}
    for name, code in (("web", WEB), ("worker", CRASHER), ("stubborn", STUBBORN)):
        scripts[name] = tmp_path / f"{name}.py"
        scripts[name].write_text(code)
    procfile = tmp_path / "Procfile"
    procfile.write_text("".join(f"{n}: {sys.executable} {p}\n" for n, p in scripts.items()))
    data_dir = Path(f"/tmp/chronos-sup-{os.getpid()}")  # short: the PG socket lives there
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CHRONOS_EMBEDDED_DB_URL", "CHRONOS_EMBEDDED_DB_CLEANUP")
    }
    env.update(CHRONOS_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1", PORT="8113")
    log = tmp_path / "supervise.log"
    with open(log, "wb") as out:
        sup = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chronos.supervise",
                "-f",
                str(procfile),
                "web",
                "worker",
                "stubborn",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: log.read_text().count("started worker") >= 3, "worker restarts", 120)
        text = log.read_text()
        assert "worker exited with code 3" in text and "restarting worker" in text
        assert "http://127.0.0.1:8113/accounts/login/" in text  # the real PORT
        children = psutil.Process(sup.pid).children(recursive=True)
        web = [p for p in children if str(scripts["web"]) in " ".join(p.cmdline())]
        assert web and web[0].is_running()  # the web never went down
        assert _postgres_for(data_dir / "pgdata")
        pids = [p.pid for p in children]

        sup.send_signal(signal.SIGINT)  # Ctrl-C
        assert sup.wait(timeout=60) == 0
    finally:
        if sup.poll() is None:
            sup.kill()
    text = log.read_text()
    assert "stubborn did not stop in 10 s: killed" in text
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    wait_for(lambda: not _postgres_for(data_dir / "pgdata"), "PostgreSQL to stop", 30)
