"""The session engine (settings.SESSION_ENGINE): Django's database sessions, with the row
read by one fixed statement instead of an ORM query built on every request.

Every signed-in request reads its session first; building and compiling
`Session.objects.get(session_key=..., expire_date__gt=now)` cost ~2 ms of Python per
request (a third of a player heartbeat's, README "Watch events"), the statement itself
~0.1 ms. Storage, expiry, key rotation and saving are Django's own (inherited)."""

from __future__ import annotations

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone

from chronos.db import prepared_cursor


class SessionStore(db.SessionStore):
    """django.contrib.sessions.backends.db.SessionStore with a raw read of the row."""

    def _get_session_from_db(self):
        """The unexpired Session row of this store's key (only session_key, session_data
        and expire_date loaded), or None after forgetting the key, as Django's does when
        the row is missing or expired (the next save creates a new key)."""
        model = self.model
        table = model._meta.db_table
        with prepared_cursor(connections[router.db_for_read(model)]) as cur:
            cur.execute(
                f"SELECT session_data, expire_date FROM {table} "
                "WHERE session_key = %s AND expire_date > %s",
                [self.session_key, timezone.now()],
            )
            row = cur.fetchone()
        if row is None:
            self._session_key = None
            return None
        return model(session_key=self.session_key, session_data=row[0], expire_date=row[1])
