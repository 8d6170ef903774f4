"""Watch tickets: who the lesson player speaks for, signed, so the heartbeat fast lane
(chronos/heartbeats.py) need not read the session and the user on every batch.

The lesson page and every accepted batch on the full path hand the player a ticket
(`X-Watch-Ticket`, data-watch-ticket on the page): the user's id and Whop user id, bound to
their session cookie by a digest (the cookie itself never reaches the page's scripts),
signed with SECRET_KEY by django.core.signing (salted HMAC-SHA256, with its time). The
player sends it back with each batch in the same header; the lane trusts it for
WATCH_TICKET_SECONDS, then the batch goes the full way (session, user, lock rules) and its
answer carries a new ticket. It is the trade Django's signed-cookie sessions make: signing
out, deactivation or a new password stop a player's heartbeats within that time, not at
once; nothing else is decided by it (what may be recorded is still the lock verdict on the
progress row, courses.services.watch_heartbeats_append).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core import signing

# Header carrying the ticket, both ways.
WATCH_TICKET_HEADER = "X-Watch-Ticket"
# How long the lane trusts a ticket (seconds): one batch in 30 (every 10 s) goes the full
# way to renew it, as with the lock verdict (PLAYABLE_RECHECK_SECONDS).
WATCH_TICKET_SECONDS = 300
_SALT = "chronos.courses.watch-ticket"


@dataclass(frozen=True)
class TicketHolder:
    """The signed-in user a valid ticket speaks for."""

    user_id: int
    whop_user_id: str


def _session_digest(session_key: str) -> str:
    """A digest of the session cookie's value (the ticket must not reveal it to scripts)."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:32]


def watch_ticket_issue(*, user_id: int, whop_user_id: str, session_key: str) -> str:
    """A ticket for `user_id` (and their Whop user id, "" outside Whop) signed now, bound to
    the session whose cookie value is `session_key`. A URL-safe string of ~110 bytes."""
    payload = {"u": user_id, "w": whop_user_id, "s": _session_digest(session_key)}
    return signing.dumps(payload, salt=_SALT)


def watch_ticket_holder(ticket: str | None, *, session_key: str | None) -> TicketHolder | None:
    """The holder of `ticket` when it is genuine, younger than WATCH_TICKET_SECONDS and
    bound to the session cookie `session_key`; None otherwise (no exception: the caller
    takes the full path)."""
    if not ticket or not session_key or len(ticket) > 512:
        return None
    try:
        payload = signing.loads(ticket, salt=_SALT, max_age=WATCH_TICKET_SECONDS)
    except signing.BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(payload, dict) or payload.get("s") != _session_digest(session_key):
        return None
    user_id, whop_user_id = payload.get("u"), payload.get("w")
    if not isinstance(user_id, int) or not isinstance(whop_user_id, str):
        return None
    return TicketHolder(user_id=user_id, whop_user_id=whop_user_id)
