"""pytest plugin (loaded with -p before Django's settings): one embedded PostgreSQL per test
session (per worker under pytest-xdist), in a temporary directory deleted when it ends.

It only sets environment variables; chronos.settings starts the server (chronos.embedded_db)
exactly as it does for `make run`, so tests run on the same code path. A DATABASE_URL set
by the caller wins (CI against an external server).
"""

import os
import tempfile

if not os.environ.get("DATABASE_URL"):
    # Short path: PostgreSQL's Unix socket lives in the data directory (~100 char limit).
    os.environ["CHRONOS_DATA_DIR"] = tempfile.mkdtemp(prefix="chronos-test-", dir="/tmp")
    os.environ["CHRONOS_EMBEDDED_DB_CLEANUP"] = "delete"
    # Each pytest-xdist worker starts its own server: never inherit the controller's URL.
    os.environ.pop("CHRONOS_EMBEDDED_DB_URL", None)
else:
    os.environ.setdefault("CHRONOS_DATA_DIR", tempfile.mkdtemp(prefix="chronos-test-"))
os.environ["CHRONOS_TESTING"] = "1"
os.environ["CHRONOS_Q_SYNC"] = "1"
os.environ.setdefault("DJANGO_DEBUG", "0")
# Never reach a real provider from tests: keys are set per test against loopback servers.
for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
    os.environ.pop(key, None)
