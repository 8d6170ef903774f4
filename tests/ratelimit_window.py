"""django-ratelimit's fixed windows, for tests whose counts must fall in one window."""

from __future__ import annotations

import time
import zlib

BURST_WINDOW = 60  # seconds: billing.services.allowances.BURST_RATE is per minute


def seconds_left_in_window(key: str, window: int = BURST_WINDOW) -> float:
    """Seconds until django-ratelimit's fixed window for `key` ends (its own formula:
    django_ratelimit.core._get_window, a per-key offset from the epoch's minutes). The
    window named `end` still takes the whole second `end` (int(time) == end keeps its
    key), so it ends at end + 1."""
    now = time.time()
    ts = int(now)
    end = ts - (ts % window) + (zlib.crc32(key.encode()) % window)
    if end < ts:
        end += window
    return end + 1 - now


def start_in_one_window(key: str, needed: float, window: int = BURST_WINDOW) -> None:
    """Sleep into the next window of `key` unless `needed` seconds are left in this one."""
    left = seconds_left_in_window(key, window)
    if left < needed:
        time.sleep(left + 0.5)
