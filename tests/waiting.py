"""Waiting on real processes in tests without timed assertions."""

from __future__ import annotations

import time


def wait_for(predicate, what: str, limit: float = 300.0):
    """Poll `predicate` every 0.2 s until it returns something truthy, and return that.
    `limit` seconds is a hang guard (AssertionError "gave up waiting for <what>"), never a
    speed assertion: speed lives in bench/ scripts."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")
