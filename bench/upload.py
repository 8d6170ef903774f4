"""Direct-to-S3 upload benchmark (issue 14). Prints figures; not a test.

    .venv/bin/python bench/upload.py [--gb 1] [--parallel 4]

A 1 GB lecture goes to a moto S3 server (its own process, loopback) the way the browser
sends it: Chronos's web process (uvicorn, its own process, embedded PostgreSQL) starts the
multipart upload and signs every part; the client PUTs the parts straight to the bucket
(`--parallel` at a time), then asks Chronos to complete it: the web process checks the
parts and the object's size and queues the content check, which a worker (`manage.py
qcluster`, its own processes) runs as a PyAV probe over ranged reads before it creates the
video; the client polls the upload until it is a video. The file is the Faraday excerpt
followed by an MP4 `free` box padding it to the size (a valid MP4; the padding is a hole
in a sparse file, so building it costs nothing). Reported: seconds for the parts, the
completion and the verification, the web process's peak RSS (psutil, sampled every 20 ms)
and the bytes it read from sockets and files during the upload (/proc io read_chars: the
file's bytes would show here if they passed through it), and the worker's peak RSS for
comparison. Target: web process < 150 MB and none of the body's bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import socket
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA_DIR = "/tmp/chronos-bench-upload"
LECTURE = ROOT / "tests/data/faraday-candle-1-excerpt.mp4"
BUCKET = "chronos-bench"
S3_ENV = {
    "AWS_STORAGE_BUCKET_NAME": BUCKET,
    "AWS_S3_ADDRESSING_STYLE": "path",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_S3_REGION_NAME": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def build_file(dest: Path, size: int) -> Path:
    """The lecture, then a `free` box up to `size` bytes (sparse)."""
    head = LECTURE.read_bytes()
    pad = size - len(head)
    with open(dest, "wb") as fh:
        fh.write(head)
        fh.write(struct.pack(">I4s", pad, b"free"))
        fh.truncate(size)
    return dest


def seed() -> tuple[str, str, dict]:
    """Migrate the bench database and make a creator on the enterprise tier (10 GB files);
    returns (database URL, SECRET_KEY, cookies of its signed-in owner)."""
    os.environ.setdefault("CHRONOS_DATA_DIR", DATA_DIR)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronos.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.core.management import call_command
    from django.db import connection

    from chronos.sessions import SessionStore
    from creators.models import Creator, User

    call_command("migrate", verbosity=0, interactive=False)
    Creator.objects.filter(handle="bench-upload").delete()
    owner, _ = User.objects.get_or_create(username="bench-upload", email="b@bench.test")
    Creator.objects.create(
        handle="bench-upload", company_name="Bench", owner=owner, tier="enterprise"
    )
    store = SessionStore()
    store[SESSION_KEY] = str(owner.pk)
    # The first backend that can load a user (django-axes' comes first and cannot).
    from django.utils.module_loading import import_string

    store[BACKEND_SESSION_KEY] = next(
        b for b in settings.AUTHENTICATION_BACKENDS if hasattr(import_string(b), "get_user")
    )
    store[HASH_SESSION_KEY] = owner.get_session_auth_hash()
    store.save()
    params = connection.get_connection_params()
    url = (
        f"postgresql://{params.get('user', 'postgres')}@/{params.get('dbname', 'postgres')}"
        f"?host={params.get('host', '')}&port={params.get('port', 5432)}"
    )
    cookies = {"sessionid": store.session_key, "csrftoken": secrets.token_hex(16)}
    return url, settings.SECRET_KEY, cookies


class Watch:
    """Peak RSS (bytes) of a process and its children, sampled every 20 ms."""

    def __init__(self, pid: int):
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _rss(self) -> int:
        procs = [self.proc, *self.proc.children(recursive=True)]
        total = 0
        for p in procs:
            with contextlib.suppress(Exception):  # a child that just exited
                total += p.memory_info().rss
        return total

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.02)

    def read_chars(self) -> int:
        return self.proc.io_counters().read_chars

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gb", type=float, default=1.0, help="file size, GiB")
    parser.add_argument("--parallel", type=int, default=4, help="parts in flight")
    args = parser.parse_args()
    import boto3
    import httpx

    size = int(args.gb * 1024**3)
    work = Path(DATA_DIR)
    work.mkdir(parents=True, exist_ok=True)
    path = build_file(work / "lecture-1gb.mp4", size)

    moto_port, web_port = free_port(), free_port()
    endpoint = f"http://127.0.0.1:{moto_port}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
            stdout=subprocess.DEVNULL,
            stderr=open(work / "moto.log", "wb"),  # noqa: SIM115 - lives as long as moto
        )
    ]
    try:
        db_url, secret_key, cookies = seed()
        wait_port(moto_port)
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket=BUCKET)
        env = {
            **os.environ,
            **S3_ENV,
            "AWS_S3_ENDPOINT_URL": endpoint,
            "DATABASE_URL": db_url,
            "SECRET_KEY": secret_key,
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "LOG_LEVEL": "WARNING",
        }
        web = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "chronos.asgi:application", "--port",
             str(web_port), "--log-level", "warning", "--no-access-log"],
            cwd=ROOT, env=env,
        )  # fmt: skip
        procs.append(web)
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"], cwd=ROOT,
            env={**env, "CHRONOS_Q_WORKERS": "1"},
            stdout=subprocess.DEVNULL, stderr=open(work / "worker.log", "wb"),  # noqa: SIM115
        )  # fmt: skip
        procs.append(worker)
        worker_watch = Watch(worker.pid)
        wait_port(web_port)
        base = f"http://127.0.0.1:{web_port}"
        headers = {"X-CSRFToken": cookies["csrftoken"]}
        client = httpx.Client(base_url=base, cookies=cookies, headers=headers, timeout=600)
        client.get("/api/v1/videos/?creator=bench-upload").raise_for_status()  # warm up
        watch = Watch(web.pid)
        time.sleep(0.2)
        idle = watch.peak  # after start-up and one API request: the process's floor
        read_before = watch.read_chars()

        t0 = time.perf_counter()
        started = client.post(
            "/api/v1/uploads/?creator=bench-upload",
            json={"filename": path.name, "size": size, "content_type": "video/mp4"},
        )
        started.raise_for_status()
        upload = started.json()

        def put(part: dict) -> int:
            with open(path, "rb") as fh:
                fh.seek(part["start"])
                body = fh.read(part["end"] - part["start"])
            r = httpx.put(part["url"], content=body, timeout=600)
            r.raise_for_status()
            return len(body)

        with ThreadPoolExecutor(args.parallel) as pool:
            sent = sum(pool.map(put, upload["parts"]))
        t1 = time.perf_counter()
        done = client.post(upload["complete_url"])
        t_complete = time.perf_counter()
        if done.status_code not in (201, 202):
            raise SystemExit(f"complete failed: {done.status_code} {done.text[:300]}")
        state = done.json()
        while state.get("status") == "verifying":
            time.sleep(0.25)
            state = client.get(upload["url"]).json()
        t2 = time.perf_counter()
        worker_peak = worker_watch.stop()  # the verification, not the pipeline after it
        if done.status_code == 202 and state.get("status") != "completed":
            raise SystemExit(f"verification failed: {state}")
        read_after = watch.read_chars()
        peak = watch.stop()
        print(f"direct upload of {size / 1024**3:.2f} GiB to moto S3 (loopback), "
              f"{upload['part_count']} parts of {upload['part_size'] / 1024**2:.0f} MiB, "
              f"{args.parallel} in flight:")  # fmt: skip
        print(f"  parts: {t1 - t0:.1f} s ({sent / (t1 - t0) / 1024**2:.0f} MiB/s)")
        print(f"  complete (web: parts, size): {t_complete - t1:.1f} s; "
              f"then verify (worker: ranged PyAV probe) until the video exists: "
              f"{t2 - t_complete:.1f} s")  # fmt: skip
        print(f"  total: {t2 - t0:.1f} s")
        print(f"  web process peak RSS: {peak / 1024**2:.0f} MB (target < 150 MB); "
              f"{idle / 1024**2:.0f} MB before the upload")  # fmt: skip
        read_mb = (read_after - read_before) / 1024**2
        print(f"  web process bytes read (sockets + files) during the upload: {read_mb:.1f} MB")
        print(f"  (the client sent {sent / 1024**2:.0f} MB, all of it to the bucket)")
        print(f"  worker (qcluster: its master, monitor, pusher and 1 worker process) peak RSS "
              f"until the video existed: {worker_peak / 1024**2:.0f} MB")  # fmt: skip
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
