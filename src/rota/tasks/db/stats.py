"""Helpers for the db.connections and db.tuning health checks: privileges, ages, settings."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rota.targets.postgres import Postgres

# The role that lets a monitoring user see every session and statement (PG10+).
MONITOR_GRANT = "GRANT pg_monitor TO {user}"
HIDDEN = "<insufficient privilege>"
QUERY_CHARS = 300
# Leads every statement these checks send, so db.queries.slow can leave rota's own out.
ROTA_MARK = "/* rota */"

PRIVILEGES_SQL = """/* rota */
SELECT current_user AS usr,
       r.rolsuper AS superuser,
       pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') AS read_all_stats,
       pg_has_role(current_user, 'pg_read_all_settings', 'MEMBER') AS read_all_settings
FROM pg_roles r WHERE r.rolname = current_user
"""


def privileges(pg: Postgres) -> dict[str, Any]:
    """What the session may see: its user, and whether it reads every session's stats."""
    row = pg.query(PRIVILEGES_SQL)[0]
    row["sees_all"] = bool(row["superuser"] or row["read_all_stats"])
    row["fix"] = MONITOR_GRANT.format(user=row["usr"])
    return row


def truncate(text: str | None, limit: int = QUERY_CHARS) -> str:
    """Query text on one line, cut to ``limit`` characters."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def human_duration(seconds: float | None) -> str:
    """``3725`` -> ``1h02m``; short and unambiguous for one-line messages."""
    if seconds is None:
        return "?"
    s = int(seconds)
    if s < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (what a reader can check by hand on a short list)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def settings(pg: Postgres, names: tuple[str, ...] | None = None) -> dict[str, dict[str, Any]]:
    """pg_settings rows by name (value, unit, source, bytes/seconds where they apply)."""
    sql = (
        "/* rota */ SELECT name, setting, unit, source, vartype, pending_restart, "
        "current_setting(name) AS shown FROM pg_settings"
    )
    rows = pg.query(sql + " WHERE name = ANY(%s)", (list(names),)) if names else pg.query(sql)
    return {r["name"]: r for r in rows}


_UNIT_BYTES = {"B": 1, "kB": 1024, "8kB": 8192, "MB": 1 << 20, "16MB": 16 << 20, "GB": 1 << 30}
_UNIT_SECONDS = {"us": 1e-6, "ms": 0.001, "s": 1, "min": 60, "h": 3600, "d": 86400}


def setting_bytes(row: dict[str, Any]) -> int | None:
    """A memory setting in bytes (``shared_buffers`` is counted in 8kB pages)."""
    factor = _UNIT_BYTES.get(row.get("unit") or "")
    value = int(float(row["setting"]))
    return None if factor is None or value < 0 else value * factor


def setting_seconds(row: dict[str, Any]) -> float | None:
    """A time setting in seconds; None when it is disabled (-1) or has no unit."""
    factor = _UNIT_SECONDS.get(row.get("unit") or "")
    value = float(row["setting"])
    return None if factor is None or value < 0 else value * factor


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}TB"  # pragma: no cover
