"""Scanning what ``[logs]`` configures, with the per-file cache in rota's state directory.

The cache file is ``<state dir>/logscan/<first 16 hex of SHA-1 of the sorted globs>.cache``
(``rota.locks.state_dir()``, i.e. ``$XDG_STATE_HOME/rota``): one per set of globs, shared
by ``logs.analyze`` and ``rota logs``, holding one entry per current file. Losing it only
costs one full read.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rota.errors import ConfigError
from rota.locks import state_file
from rota.logscan.analyze import ParseSettings
from rota.logscan.scan import OnCancel, ScanCache, ScanOutcome, scan

if TYPE_CHECKING:
    from rota.config import LogsConfig

__all__ = ["cache_file", "scan_configured", "settings_for"]


def settings_for(logs: LogsConfig) -> ParseSettings:
    """Parse settings from ``[logs]``; a bad time zone or regex is a ConfigError."""
    if logs.timezone.upper() != "UTC":
        try:
            ZoneInfo(logs.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"[logs] timezone: unknown time zone {logs.timezone!r}") from None
    fmt = logs.format
    if fmt is not None:
        try:
            re.compile(fmt.regex)
        except re.error as exc:
            raise ConfigError(f"[logs.format] regex does not compile: {exc}") from None
    return ParseSettings(
        timezone=logs.timezone,
        custom_regex=fmt.regex if fmt else None,
        custom_time_format=fmt.time_format if fmt else None,
        custom_duration_unit=fmt.duration_unit if fmt else "ms",
    )


def cache_file(patterns: list[str]) -> Path:
    return state_file("logscan", patterns, ".cache")


def scan_configured(
    logs: LogsConfig,
    patterns: list[str] | None = None,
    *,
    use_cache: bool = True,
    on_cancel: OnCancel | None = None,
) -> ScanOutcome:
    """Scan ``patterns`` (default: ``[logs] paths``), reading only what changed since the
    last scan of the same globs, and keep the cache for the next one."""
    settings = settings_for(logs)
    globs = list(patterns if patterns is not None else logs.paths)
    path = cache_file(globs) if use_cache else None
    cache = ScanCache.load(path, settings)
    outcome = scan(globs, settings=settings, cache=cache, on_cancel=on_cancel)
    if path is not None:
        try:
            outcome.cache.save(path)
        except OSError as exc:  # a read-only home only costs the next run a full read
            outcome.results.problems.append(f"cache not saved to {path}: {exc.strerror}")
    return outcome
