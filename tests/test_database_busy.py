"""No database connection to be had is a 503 with Retry-After, never a 500.

The web server pools its connections (chronos/asgi.py turns DB_POOL on) so a process never
opens more than DB_POOL_SIZE of them; a request that waits too long for one, or finds
PostgreSQL refusing connections, is answered by chronos.middleware.DatabaseBusyMiddleware.
The errors here are real: a real pool of one connection held by someone else, a real refused
connection, a real statement cancelled on a live connection.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.backends.postgresql.base import DatabaseWrapper
from django.test import RequestFactory

from chronos.middleware import (
    BUSY_RETRY_AFTER_SECONDS,
    DatabaseBusyMiddleware,
    database_unavailable,
)

PROBE = (
    "import json, sys\n"
    "import chronos.asgi\n"
    "from django.conf import settings\n"
    "print(json.dumps(settings.DATABASES['default'].get('OPTIONS', {}).get('pool')))\n"
)


def _pool_settings() -> dict | None:
    """DATABASES' pool option as a fresh web process (chronos.asgi) sees it (a DATABASE_URL
    is given so no embedded PostgreSQL starts; nothing connects)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DB_POOL")}
    env.update(
        DATABASE_URL="postgres://probe@127.0.0.1:1/probe", DJANGO_SETTINGS_MODULE="chronos.settings"
    )
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=settings.BASE_DIR,
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_web_server_pools_its_connections_and_workers_do_not():
    pool = _pool_settings()
    assert pool is not None and pool["max_size"] == 10 and pool["timeout"] == 10.0
    # This process loaded Django as workers and commands do (DB_POOL unset): no pool, since
    # django-q2 forks its workers and a forked pool would share sockets.
    assert "DB_POOL" not in os.environ
    assert "pool" not in settings.DATABASES["default"].get("OPTIONS", {})


def _wrapper(alias: str, **changes) -> DatabaseWrapper:
    settings_dict = {**connection.settings_dict, **changes}
    settings_dict["OPTIONS"] = {
        **connection.settings_dict.get("OPTIONS", {}),
        **changes.get("OPTIONS", {}),
    }
    return DatabaseWrapper(settings_dict, alias=alias)


def _answer(path: str, exc: Exception):
    request = RequestFactory().get(path)
    return DatabaseBusyMiddleware(lambda r: None).process_exception(request, exc)


@pytest.mark.django_db
def test_a_request_that_finds_every_pooled_connection_taken_is_told_to_retry():
    pool = {"min_size": 1, "max_size": 1, "timeout": 0.2}
    # Same alias, the same pool; "default" because connection_created's receivers
    # (django.contrib.postgres) look the alias up. The test's own connection has no pool.
    holder = _wrapper("default", OPTIONS={"pool": pool})
    waiter = _wrapper("default", OPTIONS={"pool": pool})
    holder.ensure_connection()
    try:
        with pytest.raises(OperationalError) as caught:
            waiter.ensure_connection()
    finally:
        holder.close()
        holder.close_pool()
    assert database_unavailable(caught.value)

    api = _answer("/api/v1/watch-events/", caught.value)
    assert api.status_code == 503
    assert api["Retry-After"] == str(BUSY_RETRY_AFTER_SECONDS)
    body = json.loads(api.content)
    assert body["code"] == "database_busy" and body["fields"] == {}
    assert "try again in a few seconds" in body["error"]

    page = _answer("/studio/acme/courses/", caught.value)
    assert page.status_code == 503 and page["Retry-After"] == str(BUSY_RETRY_AFTER_SECONDS)
    assert "try again in a few seconds" in page.content.decode()
    assert "/static/css/app" in page.content.decode()  # styled like every page


@pytest.mark.django_db
def test_a_database_that_refuses_connections_is_a_503_too():
    refused = _wrapper("refused", HOST="127.0.0.1", PORT=1)
    with pytest.raises(OperationalError) as caught:
        refused.ensure_connection()
    assert database_unavailable(caught.value)
    assert _answer("/api/v1/courses/", caught.value).status_code == 503


@pytest.mark.django_db
def test_a_failing_statement_on_a_live_connection_stays_an_error():
    with (
        pytest.raises(OperationalError) as caught,
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute("SET LOCAL statement_timeout = 1")
        cur.execute("SELECT pg_sleep(0.2)")  # 57014 query_canceled: a bug to see
    assert not database_unavailable(caught.value)
    assert _answer("/api/v1/courses/", caught.value) is None  # Django's 500 handling
    assert not database_unavailable(ValueError("not a database error"))


def test_every_request_passes_through_the_busy_handler():
    assert "chronos.middleware.DatabaseBusyMiddleware" in settings.MIDDLEWARE
