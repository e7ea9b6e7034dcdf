"""Durations and sizes as people write them in config files: "5m", "24h", "100MB"."""

from __future__ import annotations

import re

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)", re.IGNORECASE)
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?i?b?)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def parse_duration(text: str | int | float) -> float:
    """Seconds in ``text``: ``"90s"``, ``"5m"``, ``"1h30m"``, ``"2d"``, or a bare number of seconds.

    Raises ValueError with a message fit to show a user.
    """
    if isinstance(text, bool):
        raise ValueError("expected a duration like '30s', '5m', '24h' or '7d'")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError("a duration cannot be negative")
        return float(text)
    s = text.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return float(s)
    pos, total = 0, 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2).lower()]
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError(f"{text!r} is not a duration; write e.g. '30s', '5m', '24h' or '7d'")
    return total


def parse_size(text: str | int) -> int:
    """Bytes in ``text``: ``"100MB"``, ``"1.5GiB"``, ``"512k"`` or a bare number (binary units)."""
    if isinstance(text, bool):
        raise ValueError("expected a size like '100MB' or '2GB'")
    if isinstance(text, int):
        if text < 0:
            raise ValueError("a size cannot be negative")
        return text
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a size; write e.g. '500MB' or '2GB'")
    unit = (m.group(2) or "").lower().rstrip("b").rstrip("i")
    return int(float(m.group(1)) * _SIZE_UNITS[unit])


def format_duration(seconds: float | None) -> str:
    """A short human duration: ``"0.4s"``, ``"12s"``, ``"3m 05s"``, ``"2h 10m"``, ``"3d 4h"``."""
    if seconds is None:
        return "-"
    neg = seconds < 0
    s = abs(seconds)
    if s < 10:
        out = f"{s:.1f}s"
    elif s < 60:
        out = f"{s:.0f}s"
    elif s < 3600:
        out = f"{int(s // 60)}m {int(s % 60):02d}s"
    elif s < 86400:
        out = f"{int(s // 3600)}h {int(s % 3600 // 60):02d}m"
    else:
        out = f"{int(s // 86400)}d {int(s % 86400 // 3600)}h"
    return "-" + out if neg else out


def format_size(n: float) -> str:
    """A short human size in binary units: ``"512 B"``, ``"1.5 MiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # unreachable; keeps type checkers content
