"""Prepared statements for the few fixed statements on the hottest paths.

Django runs every statement with client-side parameter binding, so PostgreSQL parses and
plans each one every time (Django leaves psycopg's prepared statements off: a
transaction-pooling PgBouncer before 1.21 cannot keep them). A player heartbeat's main
statement planned in ~1 ms and ran in ~0.4 ms (EXPLAIN ANALYZE, README "Watch events");
prepared once per connection, it only runs. The web server pools its connections
(chronos/asgi.py), so a statement is prepared once per pooled connection, not per request.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.conf import settings
from django.db import connection as default_connection
from django.db.backends.utils import CursorWrapper

_NEVER_BY_COUNT = 2**31 - 1


class _PreparingCursor(psycopg.Cursor):
    """A server-binding psycopg cursor that prepares every statement it executes (psycopg
    keeps up to `prepared_max`, 100, per connection, dropping the least recently used)."""

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None,
                binary: bool | None = None) -> Any:  # fmt: skip
        return super().execute(query, params, prepare=True, binary=binary)


def prepared_cursor(connection: Any = default_connection) -> CursorWrapper:
    """A Django cursor on `connection` (error wrapping and execute wrappers as for any
    cursor) whose statements are bound server-side and prepared; a plain Django cursor when
    settings.DB_PREPARED_STATEMENTS is off or queries are being logged. Parameters must
    carry casts where PostgreSQL cannot infer a type (server-side binding does not inline
    them)."""
    if not settings.DB_PREPARED_STATEMENTS or connection.queries_logged:
        # Logged queries (DEBUG, a test capturing them) need the client-side text.
        return connection.cursor()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    if connection.connection.prepare_threshold is None:
        # psycopg prepares nothing while the threshold is None (Django's setting); with a
        # threshold no statement reaches, only cursors that ask (this one) prepare.
        connection.connection.prepare_threshold = _NEVER_BY_COUNT
    return connection.make_cursor(_PreparingCursor(connection.connection))
