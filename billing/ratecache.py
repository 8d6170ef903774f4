"""A Django cache backend of integer counters in PostgreSQL, for django-ratelimit.

django-ratelimit needs a cache that every web process shares and whose `incr` is atomic
(its docs: "the database backend does not support atomic increments": DatabaseCache's incr
is a read then a write, so two processes can both read 9 and write 10). Redis or Memcached
would do, but Chronos runs on PostgreSQL alone, so this backend keeps the counters in the
UNLOGGED table billing_ratecounter and does each step in one statement:

- add:  INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE the old row has expired, RETURNING
- incr: UPDATE ... SET value = value + delta WHERE key = ... AND not expired RETURNING value

Each statement is atomic on its own; call them outside a transaction (billing's burst check
runs before its own transaction.atomic) so a count is visible to every process at once.
Only integers are stored; other values raise TypeError. OPTIONS {"DATABASE": alias} picks
the connection (default "default").

    CACHES["ratelimit"] = {"BACKEND": "billing.ratecache.PostgresCounterCache"}
    RATELIMIT_USE_CACHE = "ratelimit"
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.db import connections
from django.utils import timezone

from chronos.db import prepared_cursor

TABLE = "billing_ratecounter"
# Expired rows are deleted on roughly one `add` in CULL_EVERY.
CULL_EVERY = 200


class PostgresCounterCache(BaseCache):
    """Integer counters shared by every process through PostgreSQL (see module docs)."""

    def __init__(self, location: str, params: dict[str, Any]):
        super().__init__(params)
        self.alias = params.get("OPTIONS", {}).get("DATABASE", "default")

    # -- helpers -------------------------------------------------------------------------
    def _expiry(self, timeout: Any) -> datetime:
        seconds = self.get_backend_timeout(timeout)
        if seconds is None:  # "forever": a long time for a counter
            seconds = 10 * 365 * 86400
        return timezone.now() + timedelta(seconds=max(0, seconds))

    def _execute(self, sql: str, params: list) -> list[tuple]:
        # Prepared once per connection (chronos.db): a question's burst check runs two.
        with prepared_cursor(connections[self.alias]) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    @staticmethod
    def _int(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("PostgresCounterCache stores integers only.")
        return value

    # -- the cache API ---------------------------------------------------------------------
    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        if random.randrange(CULL_EVERY) == 0:
            self._execute(f"DELETE FROM {TABLE} WHERE expires <= %s", [timezone.now()])
        rows = self._execute(
            f"INSERT INTO {TABLE} (key, value, expires) VALUES (%s, %s, %s) "
            f"ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires = EXCLUDED.expires "
            f"WHERE {TABLE}.expires <= %s RETURNING key",
            [key, self._int(value), self._expiry(timeout), timezone.now()],
        )
        return bool(rows)

    def get(self, key, default=None, version=None):
        key = self.make_and_validate_key(key, version=version)
        rows = self._execute(
            f"SELECT value FROM {TABLE} WHERE key = %s AND expires > %s", [key, timezone.now()]
        )
        return rows[0][0] if rows else default

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None) -> None:
        key = self.make_and_validate_key(key, version=version)
        self._execute(
            f"INSERT INTO {TABLE} (key, value, expires) VALUES (%s, %s, %s) "
            f"ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires = EXCLUDED.expires",
            [key, self._int(value), self._expiry(timeout)],
        )

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        rows = self._execute(
            f"UPDATE {TABLE} SET expires = %s WHERE key = %s AND expires > %s RETURNING key",
            [self._expiry(timeout), key, timezone.now()],
        )
        return bool(rows)

    def incr(self, key, delta=1, version=None) -> int:
        key = self.make_and_validate_key(key, version=version)
        rows = self._execute(
            f"UPDATE {TABLE} SET value = value + %s WHERE key = %s AND expires > %s "
            f"RETURNING value",
            [self._int(delta), key, timezone.now()],
        )
        if not rows:
            raise ValueError(f"Key '{key}' not found.")
        return rows[0][0]

    def delete(self, key, version=None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        return bool(self._execute(f"DELETE FROM {TABLE} WHERE key = %s RETURNING key", [key]))

    def has_key(self, key, version=None) -> bool:
        return self.get(key, version=version) is not None

    def clear(self) -> None:
        self._execute(f"DELETE FROM {TABLE}", [])
