"""Connection pool monitoring: utilisation, idle transactions, connection age, long
queries, blocking chains and what holds back VACUUM's xmin horizon.

Everything comes from one read of ``pg_stat_activity`` (plus the replication slots and
prepared transactions), so the whole check is a handful of catalog reads that take no
lock on any table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

from rota.model import Finding, Metric, Severity
from rota.task import Context, Item, task
from rota.tasks.common import finding
from rota.tasks.db.stats import HIDDEN, human_duration, percentile, privileges, truncate

if TYPE_CHECKING:
    from rota.config import DatabaseThresholds
    from rota.targets.postgres import Postgres

# Past this multiple of a time threshold a warning becomes critical (5m -> 1h).
CRITICAL_FACTOR = 12
# An xmin holder older than this share of autovacuum_freeze_max_age is critical: VACUUM can
# no longer freeze, and the next stop is an anti-wraparound emergency.
XMIN_CRITICAL_SHARE = 0.5

ACTIVITY_SQL = """/* rota */
SELECT pid, datname, usename, application_name, client_addr::text AS client_addr,
       coalesce(backend_type, 'client backend') AS backend_type, state,
       wait_event_type, wait_event, left(query, 2000) AS query,
       backend_start, xact_start, query_start, state_change,
       extract(epoch FROM now() - backend_start)::float8 AS conn_age_s,
       extract(epoch FROM now() - xact_start)::float8 AS xact_age_s,
       extract(epoch FROM now() - query_start)::float8 AS query_age_s,
       extract(epoch FROM now() - state_change)::float8 AS state_age_s,
       greatest(age(backend_xmin), age(backend_xid)) AS xmin_age,
       coalesce(backend_xid, backend_xmin)::text AS horizon_xid,
       CASE WHEN wait_event_type = 'Lock' THEN pg_blocking_pids(pid) END AS blocked_by
FROM pg_stat_activity
WHERE pid <> pg_backend_pid()
"""

LIMITS_SQL = """/* rota */
SELECT current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS superuser_reserved,
       coalesce((SELECT setting::int FROM pg_settings WHERE name = 'reserved_connections'), 0)
           AS reserved,
       current_setting('autovacuum_freeze_max_age')::bigint AS freeze_max_age
"""

SLOTS_SQL = """/* rota */
SELECT slot_name, slot_type, database, active, active_pid,
       xmin::text AS xmin, catalog_xmin::text AS catalog_xmin,
       greatest(age(xmin), age(catalog_xmin)) AS xmin_age
FROM pg_replication_slots
WHERE xmin IS NOT NULL OR catalog_xmin IS NOT NULL
"""

PREPARED_SQL = """/* rota */
SELECT gid, owner, database, prepared, transaction::text AS xid, age(transaction) AS xmin_age,
       extract(epoch FROM now() - prepared)::float8 AS age_s
FROM pg_prepared_xacts
"""

CODES = (
    "db.connections.utilization",
    "db.connections.idle_in_transaction",
    "db.connections.age",
    "db.connections.long_running",
    "db.locks.blocking",
    "db.xmin.horizon",
)


@task(
    id="db.connections",
    title="Connection pool monitoring",
    section="Database maintenance",
    frequency="daily",
    priority="high",
    needs=("postgres",),
    purpose="Catch connection exhaustion, abandoned transactions, stale pooled connections, "
    "runaway queries and lock pile-ups before users see errors, and name whatever stops "
    "VACUUM from cleaning up.",
    prerequisites=[
        "[database] url",
        "The role rota connects as is a member of pg_monitor (GRANT pg_monitor TO rota), "
        "or other roles' sessions are hidden",
    ],
    procedure=[
        "Read pg_stat_activity once: count client connections against max_connections "
        "minus the reserved slots, by state, application, user and client address.",
        "Report sessions idle in a transaction (from state_change), connections older than "
        "the connection_age threshold (max and p95 per application), and queries or "
        "transactions running longer than the long_running threshold.",
        "Follow pg_blocking_pids() to each blocking chain's root and name it with its query.",
        "Name the oldest xmin holders: sessions, replication slots, prepared transactions.",
    ],
    expected_outcome="Utilisation under the warning threshold, no idle-in-transaction or "
    "long-running sessions, no blocking chains, and no old xmin holder.",
    rollback="Nothing to roll back: the check only reads statistics views.",
    time_estimate="1s",
    manual_time="15 minutes",
    timeout="2m",
    codes=CODES,
)
def connections(ctx: Context) -> Iterator[Item]:
    pg = ctx.target("postgres")
    th = ctx.config.database.thresholds
    priv = privileges(pg)
    limits = pg.query(LIMITS_SQL)[0]
    rows = pg.query(ACTIVITY_SQL)
    clients = [r for r in rows if r["backend_type"] == "client backend"]
    hidden = [r for r in clients if r["query"] == HIDDEN]
    hidden_note: dict[str, Any] = {}
    if hidden:
        hidden_note = {
            "hidden_sessions": len(hidden),
            "hidden_reason": f"{priv['usr']} is neither superuser nor in pg_read_all_stats: "
            "other roles' state, query and timings read as NULL",
            "fix": priv["fix"],
        }

    yield from _utilization(limits, clients, th, hidden_note)
    yield from _age(clients, th.connection_age)
    idle_pids = yield from _idle_in_transaction(clients, th.idle_in_transaction, hidden_note)
    yield from _long_running(clients, th.long_running, idle_pids, hidden_note)
    yield from blocking_findings(rows, th.long_running, hidden_note)
    yield from _xmin_horizon(pg, rows, limits, th.long_running, hidden_note)


def _who(r: dict[str, Any]) -> str:
    app = r.get("application_name") or "-"
    return f"pid {r['pid']} ({app}, {r.get('usename') or '?'})"


def session_of(r: dict[str, Any]) -> dict[str, Any]:
    """The evidence that identifies one session."""
    return {
        "pid": r["pid"],
        "database": r.get("datname"),
        "user": r.get("usename"),
        "application": r.get("application_name") or "",
        "client": r.get("client_addr") or "local",
        "state": r.get("state"),
        "statement": truncate(r.get("query")),
    }


def _counts(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in rows:
        out[str(r.get(key) or ("local" if key == "client_addr" else "-"))] += 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _utilization(
    limits: dict[str, Any],
    clients: list[dict[str, Any]],
    th: DatabaseThresholds,
    hidden: dict[str, Any],
) -> Iterator[Item]:
    usable = limits["max_connections"] - limits["superuser_reserved"] - limits["reserved"]
    used = len(clients) + 1  # rota's own session holds a slot too
    pct = 100.0 * used / max(usable, 1)
    by_state = _counts(clients, "state")
    yield Metric("db.connections.total", used, "count")
    yield Metric("db.connections.utilization", round(pct, 2), "percent")
    for state, n in by_state.items():
        yield Metric("db.connections.by_state", n, "count", {"state": state})
    sev = (
        Severity.CRITICAL
        if pct >= th.connections_critical
        else Severity.WARNING
        if pct >= th.connections_warning
        else Severity.OK
    )
    yield finding(
        "db.connections.utilization",
        sev,
        f"{used} of {usable} usable connections in use ({pct:.0f}%)",
        subject="max_connections",
        sql=ACTIVITY_SQL,
        used=used,
        usable=usable,
        percent=round(pct, 1),
        max_connections=limits["max_connections"],
        superuser_reserved_connections=limits["superuser_reserved"],
        reserved_connections=limits["reserved"],
        warning_percent=th.connections_warning,
        critical_percent=th.connections_critical,
        by_state=by_state,
        by_application=_counts(clients, "application_name"),
        by_user=_counts(clients, "usename"),
        by_client=_counts(clients, "client_addr"),
        **hidden,
        remedy=""
        if sev is Severity.OK
        else "Put a pooler (PgBouncer, transaction mode) in front of the database, or lower "
        "the applications' pool sizes; the largest consumers are in by_application.",
    )


def _age(clients: list[dict[str, Any]], limit: float) -> Iterator[Item]:
    ages: dict[str, list[float]] = defaultdict(list)
    for r in clients:
        if r["conn_age_s"] is not None:
            ages[r.get("application_name") or "-"].append(float(r["conn_age_s"]))
    everything = [a for v in ages.values() for a in v]
    yield Metric("db.connections.max_age", round(max(everything, default=0.0), 1), "seconds")
    summary: dict[str, dict[str, float]] = {}
    for app, values in sorted(ages.items()):
        top, p95 = max(values), percentile(values, 95)
        summary[app] = {"count": len(values), "max_s": round(top, 1), "p95_s": round(p95, 1)}
        yield Metric("db.connections.age_max", round(top, 1), "seconds", {"application": app})
        yield Metric("db.connections.age_p95", round(p95, 1), "seconds", {"application": app})
    old_apps = [app for app, s in summary.items() if s["max_s"] > limit]
    for app in old_apps:
        old = [r for r in clients if (r.get("application_name") or "-") == app]
        old = [r for r in old if (r["conn_age_s"] or 0) > limit]
        oldest = max(old, key=lambda r: r["conn_age_s"])
        yield finding(
            "db.connections.age",
            Severity.WARNING,
            f"{len(old)} connection(s) of {app} older than {human_duration(limit)} "
            f"(oldest {human_duration(oldest['conn_age_s'])}, p95 "
            f"{human_duration(summary[app]['p95_s'])})",
            subject=app,
            sql=ACTIVITY_SQL,
            threshold_s=limit,
            older_than_threshold=len(old),
            evidence=summary[app],
            oldest={**session_of(oldest), "backend_start": str(oldest["backend_start"])},
            pids=sorted(r["pid"] for r in old)[:50],
            remedy="Give the pool a maximum connection lifetime (PgBouncer server_lifetime, "
            "a driver's maxLifetime): long-lived backends keep growing caches and pin "
            "memory, and recycling them spreads load after failovers.",
        )
    if not old_apps:
        yield finding(
            "db.connections.age",
            Severity.OK,
            f"no connection older than {human_duration(limit)}",
            subject="connections",
            sql=ACTIVITY_SQL,
            threshold_s=limit,
            per_application=summary,
        )


def _idle_in_transaction(
    clients: list[dict[str, Any]], limit: float, hidden: dict[str, Any]
) -> Generator[Item, None, set[int]]:
    idle = [
        r
        for r in clients
        if (r["state"] or "").startswith("idle in transaction") and (r["state_age_s"] or 0) > limit
    ]
    yield Metric("db.connections.idle_in_transaction", len(idle), "count")
    for r in sorted(idle, key=lambda r: -r["state_age_s"]):
        age = r["state_age_s"]
        sev = Severity.CRITICAL if age > limit * CRITICAL_FACTOR else Severity.WARNING
        yield finding(
            "db.connections.idle_in_transaction",
            sev,
            f"{_who(r)} idle in transaction for {human_duration(age)}",
            subject=_who(r),
            sql=ACTIVITY_SQL,
            **session_of(r),
            idle_s=round(age, 1),
            transaction_age_s=round(r["xact_age_s"] or 0, 1),
            threshold_s=limit,
            remedy=f"Find why {r.get('application_name') or 'the client'} leaves transactions "
            f"open (a missing COMMIT/ROLLBACK). To end this one: SELECT "
            f"pg_terminate_backend({r['pid']}). Prevent it with "
            "idle_in_transaction_session_timeout (e.g. ALTER ROLE app SET "
            "idle_in_transaction_session_timeout = '5min').",
        )
    if not idle:
        yield _ok_or_unknown(
            "db.connections.idle_in_transaction",
            f"no session idle in transaction longer than {human_duration(limit)}",
            hidden,
            threshold_s=limit,
        )
    return {r["pid"] for r in idle}


def _long_running(
    clients: list[dict[str, Any]], limit: float, skip: set[int], hidden: dict[str, Any]
) -> Iterator[Item]:
    found = 0
    for r in clients:
        if r["pid"] in skip or r["state"] in (None, "idle"):
            continue
        query_age = r["query_age_s"] if r["state"] == "active" else None
        xact_age = r["xact_age_s"]
        if query_age is not None and query_age > limit:
            kind, age = "query", query_age
        elif xact_age is not None and xact_age > limit:
            kind, age = "transaction", xact_age
        else:
            continue
        found += 1
        sev = Severity.CRITICAL if age > limit * CRITICAL_FACTOR else Severity.WARNING
        yield finding(
            "db.connections.long_running",
            sev,
            f"{_who(r)}: {kind} running for {human_duration(age)}",
            subject=_who(r),
            sql=ACTIVITY_SQL,
            **session_of(r),
            kind=kind,
            query_age_s=round(query_age, 1) if query_age is not None else None,
            transaction_age_s=round(xact_age, 1) if xact_age is not None else None,
            wait_event=f"{r['wait_event_type']}:{r['wait_event']}" if r["wait_event"] else None,
            threshold_s=limit,
            remedy="Check the statement's plan (EXPLAIN) and whether it still needs to run; "
            f"cancel it with SELECT pg_cancel_backend({r['pid']}). Set statement_timeout "
            "for the application role so a runaway query stops by itself.",
        )
    yield Metric("db.connections.long_running", found, "count")
    if not found:
        yield _ok_or_unknown(
            "db.connections.long_running",
            f"no query or transaction running longer than {human_duration(limit)}",
            hidden,
            threshold_s=limit,
        )


def blocking_findings(
    rows: list[dict[str, Any]], limit: float, hidden: dict[str, Any]
) -> Iterator[Item]:
    by_pid = {r["pid"]: r for r in rows}
    blockers: dict[int, list[int]] = defaultdict(list)  # blocker -> direct waiters
    for r in rows:
        for b in r["blocked_by"] or ():
            blockers[b].append(r["pid"])
    waiting = {r["pid"] for r in rows if r["blocked_by"]}
    # A root blocks others and waits on no one (pid 0 is a prepared transaction).
    roots = [b for b in blockers if b not in waiting] or list(blockers)[:1]
    yield Metric("db.locks.waiting", len(waiting), "count")
    for root in roots:
        chain, depth, frontier, seen = [], 0, [root], {root}
        while frontier:
            depth += 1
            nxt = []
            for b in frontier:
                for w in blockers.get(b, ()):
                    if w not in seen:
                        seen.add(w)
                        nxt.append(w)
                        wr = by_pid[w]
                        chain.append(
                            {
                                **session_of(wr),
                                "blocked_by": wr["blocked_by"],
                                "waiting_s": round(wr["query_age_s"] or 0, 1),
                                "lock": f"{wr['wait_event_type']}:{wr['wait_event']}",
                            }
                        )
            frontier = nxt
        longest = max((w["waiting_s"] for w in chain), default=0.0)
        root_row = by_pid.get(root)
        if root_row is None:
            who, blocker = "a prepared transaction", {"pid": root, "kind": "prepared transaction"}
            fix = "COMMIT PREPARED or ROLLBACK PREPARED it (see pg_prepared_xacts)."
        else:
            who = _who(root_row)
            blocker = {
                **session_of(root_row),
                "transaction_age_s": round(root_row["xact_age_s"] or 0, 1),
                "state_age_s": round(root_row["state_age_s"] or 0, 1),
            }
            fix = (
                f"Finish or roll back the blocking transaction; if it is abandoned, "
                f"SELECT pg_terminate_backend({root}). Set lock_timeout for DDL and "
                "idle_in_transaction_session_timeout so one session cannot stall others."
            )
        sev = Severity.CRITICAL if longest > limit else Severity.WARNING
        yield finding(
            "db.locks.blocking",
            sev,
            f"{who} blocks {len(chain)} session(s), the longest waiting {human_duration(longest)}",
            subject=who,
            sql=ACTIVITY_SQL,
            root_blocker=blocker,
            waiters=chain[:50],
            waiter_count=len(chain),
            depth=depth - 1,
            longest_wait_s=longest,
            remedy=fix,
        )
    if not roots:
        yield _ok_or_unknown("db.locks.blocking", "no session is blocked by another", hidden)


def _xmin_horizon(
    pg: Postgres,
    rows: list[dict[str, Any]],
    limits: dict[str, Any],
    limit: float,
    hidden: dict[str, Any],
) -> Iterator[Item]:
    freeze_max = int(limits["freeze_max_age"])
    critical_age = int(freeze_max * XMIN_CRITICAL_SHARE)
    holders: list[tuple[int, str, dict[str, Any], str, bool]] = []
    for r in rows:
        # VACUUM ignores other vacuums' snapshots; clients and walsenders (standby
        # feedback) are what hold the horizon.
        if r["xmin_age"] is None or r["backend_type"] not in ("client backend", "walsender"):
            continue
        held_s = r["xact_age_s"] if r["xact_age_s"] is not None else r["state_age_s"]
        old = (held_s or 0) > limit
        holders.append(
            (
                int(r["xmin_age"]),
                f"session {_who(r)}",
                {
                    "kind": "session",
                    **session_of(r),
                    "backend_type": r["backend_type"],
                    "xid": r["horizon_xid"],
                    "held_s": round(held_s or 0, 1),
                },
                f"End the transaction (SELECT pg_terminate_backend({r['pid']}) if it is "
                "abandoned); set idle_in_transaction_session_timeout.",
                old,
            )
        )
    for s in pg.query(SLOTS_SQL):
        holders.append(
            (
                int(s["xmin_age"]),
                f"replication slot {s['slot_name']}",
                {"kind": "replication slot", **s},
                f"Reconnect its consumer, or drop the slot if it is abandoned: SELECT "
                f"pg_drop_replication_slot('{s['slot_name']}')",
                not s["active"],
            )
        )
    for p in pg.query(PREPARED_SQL):
        holders.append(
            (
                int(p["xmin_age"]),
                f"prepared transaction '{p['gid']}'",
                {
                    "kind": "prepared transaction",
                    **{k: v for k, v in p.items() if k != "prepared"},
                    "prepared": str(p["prepared"]),
                },
                f"Have its transaction manager resolve it, or by hand: COMMIT PREPARED "
                f"'{p['gid']}' / ROLLBACK PREPARED '{p['gid']}' (in database {p['database']})",
                (p["age_s"] or 0) > limit,
            )
        )
    holders.sort(key=lambda h: -h[0])
    yield Metric("db.xmin.age", holders[0][0] if holders else 0, "xids")
    reported = 0
    for age, who, evidence, fix, old in holders:
        if not old and age <= critical_age:
            continue
        reported += 1
        sev = Severity.CRITICAL if age > critical_age else Severity.WARNING
        yield finding(
            "db.xmin.horizon",
            sev,
            f"{who} holds back VACUUM: xmin {age:,} transactions old",
            subject=who,
            sql=f"{ACTIVITY_SQL}; {SLOTS_SQL}; {PREPARED_SQL}",
            xid_age=age,
            holder=evidence,
            autovacuum_freeze_max_age=freeze_max,
            threshold_s=limit,
            remedy=f"Dead rows newer than its snapshot cannot be removed anywhere in the "
            f"database. {fix}",
        )
    if not reported:
        oldest = {"oldest": holders[0][1], "xid_age": holders[0][0]} if holders else {}
        yield _ok_or_unknown(
            "db.xmin.horizon",
            "nothing holds back VACUUM's xmin horizon",
            hidden,
            threshold_s=limit,
            **oldest,
        )


def _ok_or_unknown(code: str, message: str, hidden: dict[str, Any], **numbers: Any) -> Finding:
    """OK, unless sessions were hidden from us, in which case we cannot say."""
    if hidden:
        return finding(
            code,
            Severity.UNKNOWN,
            f"cannot tell: {hidden['hidden_sessions']} session(s) of other roles are hidden",
            subject="privileges",
            sql=ACTIVITY_SQL,
            **hidden,
            **numbers,
            remedy=f"{hidden['fix']} (read-only access to every session's statistics).",
        )
    return finding(code, Severity.OK, message, subject="sessions", sql=ACTIVITY_SQL, **numbers)


TASKS = [connections]
