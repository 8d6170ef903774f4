"""How billing writes amounts for people: byte sizes in decimal units (GB = 10**9 bytes, the
unit of billing.limits) and limits that may be unlimited (None)."""

from __future__ import annotations

_UNITS = ("bytes", "KB", "MB", "GB", "TB")


def human_bytes(n: int) -> str:
    """999 -> "999 bytes"; 1_500_000 -> "1.5 MB"; 10**9 -> "1 GB" (powers of 1000)."""
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1000 or unit == _UNITS[-1]:
            if unit == "bytes":
                return f"{int(value)} bytes"
            text = f"{value:.1f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
        value /= 1000
    return f"{n} bytes"  # pragma: no cover - the loop always returns


def human_limit(n: int | None) -> str:
    """1000 -> "1,000"; None -> "unlimited"."""
    return "unlimited" if n is None else f"{n:,}"
