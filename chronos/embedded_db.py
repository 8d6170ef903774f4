"""The embedded PostgreSQL (with pgvector) used when DATABASE_URL is unset.

The server comes from the `pgserver` package, which ships PostgreSQL 16 and pgvector as
binaries inside its wheel, so no system PostgreSQL is needed. One data directory is shared
by the web process, the worker and every management command: `pgserver.get_server` starts
the server on first use and attaches to the running one afterwards (it keeps a list of the
processes using it and, in "stop" mode, stops the server when the last one exits).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path


def embedded_database_url(data_dir: Path, *, cleanup_mode: str | None = "stop") -> str:
    """Start (or attach to) the embedded server under `data_dir` and return its URL.

    `data_dir` is created if missing. `cleanup_mode` is pgserver's: "stop" stops the server
    when the last attached process exits, "delete" also removes the data (tests), None
    leaves it running. Raises RuntimeError if the server cannot start.
    """
    with warnings.catch_warnings():
        # pgserver's import asks platformdirs for a runtime dir (its lock file); without
        # XDG_RUNTIME_DIR (containers, CI, ssh) the private /tmp fallback is right, and the
        # warning would print once per process of `make run`.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
        import pgserver  # imported lazily: only needed when no DATABASE_URL is configured

    data_dir.mkdir(parents=True, exist_ok=True)
    # pgserver keeps its socket in the data directory; Unix sockets allow ~100 characters.
    server = pgserver.get_server(str(data_dir), cleanup_mode=cleanup_mode)
    url = server.get_uri()
    os.environ.setdefault("CHRONOS_EMBEDDED_DB_URL", url)
    return url
