"""The database probe: what PostgreSQL's own statistics say about an emergency.

One read of ``pg_stat_activity`` (``db.connections``' query) gives sessions by state, long
statements and idle transactions; ``db.connections``' walk of ``pg_blocking_pids()`` gives
each blocking chain to its root, to which this adds the root's locks from ``pg_locks`` and
the locks being waited on. The buffer cache hit ratio and the top statements
(``db.tuning``'s ``pg_stat_statements`` reads) are deltas since the last triage, whose
counters are kept in rota's history state; the first triage shows totals. Every session
is shown with what ``--apply`` re-checks before it touches its pid: ``backend_start``,
``xact_start``, ``query_start`` and the query text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rota.triage.session import TOP, Session

if TYPE_CHECKING:
    from rota.targets.postgres import Postgres

LOCKS_WAITED_SQL = """/* rota */
SELECT l.pid, l.locktype, l.mode,
       CASE WHEN l.relation IS NOT NULL AND l.database = d.oid THEN l.relation::regclass::text
            WHEN l.relation IS NOT NULL THEN l.relation::text END AS relation,
       l.transactionid::text AS transactionid,
       pg_blocking_pids(l.pid) AS blocked_by,
       extract(epoch FROM now() - a.query_start)::float8 AS waiting_s
FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
CROSS JOIN (SELECT oid FROM pg_database WHERE datname = current_database()) d
WHERE NOT l.granted
ORDER BY waiting_s DESC NULLS LAST
LIMIT 50
"""
LOCKS_HELD_SQL = """/* rota */
SELECT pid, count(*) AS locks, array_agg(DISTINCT mode ORDER BY mode) AS modes
FROM pg_locks WHERE granted AND pid = ANY(%s) GROUP BY pid
"""
DB_STATS_SQL = """/* rota */
SELECT blks_hit, blks_read, xact_commit, xact_rollback, deadlocks, temp_bytes,
       stats_reset::text AS stats_reset
FROM pg_stat_database WHERE datname = current_database()
"""
DATA_DIRECTORY_SQL = "/* rota */ SELECT setting FROM pg_settings WHERE name = 'data_directory'"


def database(s: Session) -> dict[str, Any]:
    """Sessions by state, blocking chains to their roots, long queries, idle transactions,
    locks waited on, the buffer cache hit ratio and the top statements since the last
    triage (``pg_stat_statements`` deltas; the first time, totals)."""
    from rota.tasks.db.connections import ACTIVITY_SQL, LIMITS_SQL
    from rota.tasks.db.stats import privileges

    pg: Postgres = s.open("postgres")
    # Every statement of this session is bounded by the probe's own budget.
    pg.query(
        "/* rota */ SELECT set_config('statement_timeout', %s, false)",
        (f"{int(s.budget * 1000)}ms",),
    )
    priv = privileges(pg)
    limits = pg.query(LIMITS_SQL)[0]
    rows = pg.query(ACTIVITY_SQL)
    clients = [r for r in rows if r["backend_type"] == "client backend"]
    usable = limits["max_connections"] - limits["superuser_reserved"] - limits["reserved"]
    used = len(clients) + 1  # this session holds a slot too
    by_state: dict[str, int] = {}
    for r in clients:
        state = str(r["state"] or "-")
        by_state[state] = by_state.get(state, 0) + 1
    chains = _chains(pg, rows)
    roots = {c["root"]["pid"] for c in chains}
    waiting = {r["pid"] for r in rows if r["blocked_by"]}
    data: dict[str, Any] = {
        "server": pg.where,
        "user": priv["usr"],
        "sees_all_sessions": priv["sees_all"],
        "connections": {
            "used": used,
            "usable": usable,
            "percent": round(100.0 * used / max(usable, 1), 1),
            "by_state": dict(sorted(by_state.items(), key=lambda kv: -kv[1])),
        },
        "blocking": chains,
        "long_running": _long_running(clients, s.options.slow_query_s, waiting, roots),
        "idle_in_transaction": _idle(clients, s.options.idle_in_transaction_s, roots),
        "locks_waited": pg.query(LOCKS_WAITED_SQL),
        "cache_hit_ratio": _hit_ratio(s, pg),
        "statements": _statements(s, pg),
    }
    if not priv["sees_all"]:
        data["hidden"] = f"{priv['usr']} does not see other roles' sessions: {priv['fix']}"
    directory = pg.query(DATA_DIRECTORY_SQL)
    if directory and pg.is_local:
        data["data_directory"] = directory[0]["setting"]
    return data


def _guarded(r: dict[str, Any]) -> dict[str, Any]:
    """A session as evidence, with what --apply re-checks before it acts on the pid."""
    from rota.tasks.db.connections import session_of

    return {
        **session_of(r),
        "backend_start": r["backend_start"],
        "xact_start": r["xact_start"],
        "query_start": r["query_start"],
        "query": r["query"],
        "transaction_age_s": round(r["xact_age_s"] or 0, 1),
        "query_age_s": round(r["query_age_s"] or 0, 1),
        "state_age_s": round(r["state_age_s"] or 0, 1),
    }


def _chains(pg: Postgres, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each blocking chain from its root: db.connections' walk, with the root's locks."""
    from rota.model import Finding
    from rota.tasks.db.connections import blocking_findings

    by_pid = {r["pid"]: r for r in rows}
    found = [
        i
        for i in blocking_findings(rows, float("inf"), {})
        if isinstance(i, Finding) and "root_blocker" in i.evidence
    ]
    pids = [int(f.evidence["root_blocker"]["pid"]) for f in found]
    held = {h["pid"]: h for h in pg.query(LOCKS_HELD_SQL, (pids,))} if pids else {}
    chains = []
    for f in found:
        ev = f.evidence
        pid = ev["root_blocker"]["pid"]
        root = _guarded(by_pid[pid]) if pid in by_pid else dict(ev["root_blocker"])
        root["locks_held"] = int(held.get(pid, {}).get("locks", 0))
        root["lock_modes"] = list(held.get(pid, {}).get("modes") or [])
        chains.append(
            {
                "root": root,
                "waiters": ev["waiters"],
                "waiter_count": ev["waiter_count"],
                "depth": ev["depth"],
                "longest_wait_s": ev["longest_wait_s"],
                "message": f.message,
            }
        )
    return chains


def _long_running(
    clients: list[dict[str, Any]], limit: float, waiting: set[int], roots: set[int]
) -> list[dict[str, Any]]:
    """Active statements running past ``limit`` that wait on no lock (a waiter is a
    victim, shown with its chain) and are no chain's root (shown as the root)."""
    out = [
        _guarded(r)
        for r in clients
        if r["state"] == "active"
        and (r["query_age_s"] or 0) > limit
        and r["pid"] not in waiting
        and r["pid"] not in roots
    ]
    return sorted(out, key=lambda r: -r["query_age_s"])[:20]


def _idle(clients: list[dict[str, Any]], limit: float, roots: set[int]) -> list[dict[str, Any]]:
    out = [
        _guarded(r)
        for r in clients
        if (r["state"] or "").startswith("idle in transaction")
        and (r["state_age_s"] or 0) > limit
        and r["pid"] not in roots
    ]
    return sorted(out, key=lambda r: -r["state_age_s"])[:20]


def _hit_ratio(s: Session, pg: Postgres) -> dict[str, Any]:
    """Buffer cache hit ratio since the last triage (the first time: since stats reset)."""
    row = pg.query(DB_STATS_SQL)[0]
    key = f"dbstat:{pg.where}"
    before = s.load(key) or {}
    hit, read = int(row["blks_hit"]), int(row["blks_read"])
    s.save(key, {"blks_hit": hit, "blks_read": read, "stats_reset": row["stats_reset"]})
    window = f"since stats reset ({row['stats_reset']})" if row["stats_reset"] else "since start"
    if before and before.get("stats_reset") == row["stats_reset"] and before["blks_hit"] <= hit:
        hit, read = hit - before["blks_hit"], read - before["blks_read"]
        window = "since the last triage"
    total = hit + read
    return {
        "ratio": round(hit / total, 4) if total else None,
        "blks_hit": hit,
        "blks_read": read,
        "window": window,
        "deadlocks": int(row["deadlocks"]),
        "temp_bytes": int(row["temp_bytes"]),
    }


def _statements(s: Session, pg: Postgres) -> dict[str, Any]:
    """Top statements by total time since the last triage (db.tuning's reads and
    arithmetic; the baseline is triage's own, so the quarterly review keeps its own)."""
    from psycopg import sql as psql

    from rota.tasks.db.stats import ROTA_MARK, truncate
    from rota.tasks.db.tuning import _COUNTERS, PGSS_INFO_SQL, PGSS_SQL

    ext = pg.query(
        "/* rota */ SELECT n.nspname AS schema FROM pg_extension e "
        "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements'"
    )
    if not ext:
        return {"available": False, "reason": "pg_stat_statements is not installed here"}
    schema = psql.Identifier(ext[0]["schema"]).as_string()
    version = pg.server_version_num
    total = "total_exec_time" if version >= 130000 else "total_time"
    rows = pg.query(PGSS_SQL.format(total=total, schema=schema))
    reset = None
    if version >= 140000:
        info = PGSS_INFO_SQL.replace("FROM pg_stat", f"FROM {schema}.pg_stat", 1)
        reset = str(pg.query(info)[0]["stats_reset"])
    key = f"pgss:{pg.where}"
    previous = s.load(key)
    current = {f"{r['queryid']}:{r['dbid']}:{r['userid']}": [r[k] for k in _COUNTERS] for r in rows}
    s.save(key, {"stats_reset": reset, "entries": current})
    before: dict[str, list[Any]] = {}
    window = f"since stats reset at {reset}" if reset else "since the server started"
    if previous and previous.get("stats_reset") == reset:
        before, window = previous.get("entries") or {}, "since the last triage"
    deltas = []
    for r in rows:
        now = [r[k] for k in _COUNTERS]
        old = before.get(f"{r['queryid']}:{r['dbid']}:{r['userid']}")
        if old and old[0] <= now[0]:
            now = [a - b for a, b in zip(now, old, strict=True)]
        if now[0] <= 0 or ROTA_MARK in (r["query"] or ""):
            continue
        d = dict(zip(_COUNTERS, now, strict=True))
        deltas.append(
            {
                "queryid": r["queryid"],
                "calls": int(d["calls"]),
                "total_ms": round(float(d["total_ms"]), 2),
                "mean_ms": round(float(d["total_ms"]) / int(d["calls"]), 3),
                "rows": int(d["rows"]),
                "statement": truncate(r["query"], 300),
            }
        )
    grand = sum(d["total_ms"] for d in deltas) or 1.0
    deltas.sort(key=lambda d: -d["total_ms"])
    for d in deltas:
        d["percent_of_total"] = round(100 * d["total_ms"] / grand, 1)
    return {"available": True, "window": window, "total_ms": round(grand, 1), "top": deltas[:TOP]}
