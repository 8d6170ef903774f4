"""The worker reads a 2 GB S3 object with bounded memory: streamed to a temporary file in
1 MiB blocks, never held in RAM. Measured in a child process (its peak RSS, VmHWM).

The object is served by a tiny loopback server speaking S3's GetObject/HeadObject wire
format over a sparse 2 GiB file (the lecture's bytes, then a hole): moto keeps every
object in memory (and copies it per GET), so a 2 GB object in moto would measure moto.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

OBJECT_BYTES = 2 * 1024**3
KEY = "acme/videos/1.mp4"
LIMIT_BYTES = 300 * 1024**2  # the ceiling for a 2 GB file

CHILD = """
import json, os, django
django.setup()
from videos.models import Video
from videos.pipeline import local_file  # what every pipeline stage reads media through
with local_file(Video(pk=1, file=os.environ["KEY"]).file) as path:
    size = path.stat().st_size
    head = path.open("rb").read(8)
    gone = str(path)
print(json.dumps({
    "size": size,
    "head": head.hex(),
    "removed": not os.path.exists(gone),
    # VmHWM: this program's own peak. ru_maxrss is not: Linux carries it across execve, so
    # it reports the forking pytest process's size after a long suite.
    "peak_rss": next(
        int(line.split()[1]) * 1024
        for line in open("/proc/self/status")
        if line.startswith("VmHWM:")
    ),
}))
"""


def _sparse_object(path: Path, head: bytes) -> Path:
    with open(path, "wb") as fh:
        fh.write(head)
        fh.truncate(OBJECT_BYTES)  # the rest is a hole: no disk blocks, reads as zeros
    return path


def _s3_get_server(path: Path, key: str) -> ThreadingHTTPServer:
    """GET/HEAD /<bucket>/<key> (path-style) with optional Range, body by sendfile."""
    size = path.stat().st_size

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _headers(self, status: int, length: int, extra: dict | None = None):
            self.send_response(status)
            self.send_header("Content-Length", str(length))
            self.send_header("Content-Type", "video/mp4")
            self.send_header("ETag", '"sparse"')
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Last-Modified", "Mon, 30 Nov 2026 00:00:00 GMT")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()

        def _route(self) -> bool:
            if self.path.split("?")[0].split("/", 2)[-1] == key:
                return True
            body = b"<Error><Code>NoSuchKey</Code><Message>no</Message></Error>"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return False

        def do_HEAD(self):
            if self._route():
                self._headers(200, size)

        def do_GET(self):
            if not self._route():
                return
            start, end = 0, size - 1
            rng = self.headers.get("Range")
            if rng:
                first, last = rng.removeprefix("bytes=").split("-")
                start, end = int(first), min(int(last or size - 1), size - 1)
                content_range = {"Content-Range": f"bytes {start}-{end}/{size}"}
                self._headers(206, end - start + 1, content_range)
            else:
                self._headers(200, size)
            with open(path, "rb") as fh:
                self.connection.sendfile(fh, start, end - start + 1)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.slow
def test_a_2_gb_object_is_streamed_to_disk_with_bounded_memory(tmp_path, data_dir):
    head = (data_dir / "faraday-candle-1-excerpt.mp4").read_bytes()[:65536]
    obj = _sparse_object(tmp_path / "object.mp4", head)
    server = _s3_get_server(obj, KEY)
    host, port = server.server_address[:2]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chronos.settings",
        "CHRONOS_TESTING": "1",
        # A database is never opened; set so settings do not start the embedded one.
        "DATABASE_URL": "postgres://unused@127.0.0.1:9/unused",
        "AWS_STORAGE_BUCKET_NAME": "bucket",
        "AWS_S3_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_S3_ADDRESSING_STYLE": "path",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "TMPDIR": str(tmp_path),
        "KEY": KEY,
    }
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=Path(__file__).resolve().parent.parent,
        )
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["size"] == OBJECT_BYTES
    assert bytes.fromhex(result["head"]) == head[:8]
    assert result["removed"]  # the temporary copy is deleted afterwards
    print(f"peak RSS streaming a 2 GiB object: {result['peak_rss'] / 1024**2:.0f} MB")
    assert result["peak_rss"] < LIMIT_BYTES
