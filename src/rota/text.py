"""Text on one line: what every output, log row and error message needs from free text.

A leaf module. Messages from drivers, vendors and exceptions carry newlines, runs of
spaces and sometimes a secret echoed back; whatever rota shows or stores goes through
:func:`one_line` (free text) or :func:`error_line` (an exception) first.
"""

from __future__ import annotations

from collections.abc import Iterable

ELLIPSIS = "…"


def one_line(text: str, limit: int = 0, *, secrets: Iterable[str] = ()) -> str:
    """``text`` with every run of whitespace (newlines included) collapsed to one space,
    each of ``secrets`` masked as ``***`` (longest first), and cut to ``limit`` characters
    with an ellipsis (0: no limit), so it cannot break a line-based format."""
    flat = " ".join(text.split())
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        flat = flat.replace(secret, "***")
    if limit and len(flat) > limit:
        return flat[: limit - 1] + ELLIPSIS
    return flat


def error_line(exc: BaseException, *, typed: bool = False) -> str:
    """An exception as one line: the first line of its message (its type's name when it
    has none); ``typed`` puts the type in front (``ValueError: ...``), for errors whose
    message alone would not say what went wrong."""
    message = str(exc).strip()
    first = message.splitlines()[0].strip() if message else ""
    name = type(exc).__name__
    if not first:
        return name
    return f"{name}: {first}" if typed else first
