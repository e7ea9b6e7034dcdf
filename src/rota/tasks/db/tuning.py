"""Quarterly performance tuning: wraparound, sequences, slow statements, settings.

Slow statements are judged on what happened since the last run: the task keeps a snapshot
of ``pg_stat_statements`` in rota's state and subtracts it, so it never has to call
``pg_stat_statements_reset()`` (which would wipe everyone else's view of the workload).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rota.model import Finding, Metric, Severity
from rota.task import Context, Item, task
from rota.tasks.common import finding
from rota.tasks.db.settings import check_settings
from rota.tasks.db.stats import HIDDEN, ROTA_MARK, privileges, truncate

if TYPE_CHECKING:
    from rota.targets.postgres import Postgres

XID_LIMIT = 2**31 - 1
# Past this age a table is an emergency: at 2^31 - 3M the server stops taking writes.
XID_CRITICAL_AGE = 1_500_000_000
MAX_RELATION_FINDINGS = 50

WRAPAROUND_SQL = """/* rota */
SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
       CASE WHEN c.relkind = 't' THEN p.oid::regclass::text END AS toast_of,
       age(c.relfrozenxid) AS xid_age, mxid_age(c.relminmxid) AS mxid_age,
       (SELECT substring(o FROM '=(.*)')::bigint FROM unnest(c.reloptions) o
         WHERE o LIKE 'autovacuum_freeze_max_age=%') AS table_freeze_max_age,
       (SELECT substring(o FROM '=(.*)')::bigint FROM unnest(c.reloptions) o
         WHERE o LIKE 'autovacuum_multixact_freeze_max_age=%') AS table_mxid_freeze_max_age,
       pg_stat_get_last_autovacuum_time(coalesce(p.oid, c.oid)) AS last_autovacuum
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class p ON c.relkind = 't' AND p.reltoastrelid = c.oid
WHERE c.relkind IN ('r', 'm', 't') AND c.relfrozenxid <> '0'
ORDER BY greatest(age(c.relfrozenxid), mxid_age(c.relminmxid)) DESC
LIMIT 500
"""
DATABASES_SQL = """/* rota */
SELECT datname, age(datfrozenxid) AS xid_age, mxid_age(datminmxid) AS mxid_age
FROM pg_database WHERE datallowconn ORDER BY 2 DESC
"""
FREEZE_SQL = """/* rota */
SELECT current_setting('autovacuum_freeze_max_age')::bigint AS xid,
       current_setting('autovacuum_multixact_freeze_max_age')::bigint AS mxid
"""

# From the pg_sequence catalog, not the pg_sequences view: the view's
# pg_sequence_last_value() takes ROW EXCLUSIVE on every sequence, and a check takes
# nothing stronger than ACCESS SHARE. The values are read with plain SELECTs afterwards.
SEQUENCES_SQL = """/* rota */
SELECT c.oid::bigint AS oid, n.nspname || '.' || c.relname AS sequence,
       format('%I.%I', n.nspname, c.relname) AS ident,
       format_type(s.seqtypid, NULL) AS data_type,
       s.seqmin AS min_value, s.seqmax AS max_value, s.seqincrement AS increment_by,
       s.seqcycle AS cycle,
       has_sequence_privilege(c.oid, 'SELECT') AS readable,
       coalesce(array_agg(DISTINCT a.attrelid::regclass::text || '.' || a.attname || ' '
                          || format_type(a.atttypid, NULL)) FILTER (WHERE a.attname IS NOT NULL),
                '{}') AS columns,
       min(CASE a.atttypid WHEN 'int2'::regtype THEN 32767 WHEN 'int4'::regtype THEN 2147483647
                           WHEN 'int8'::regtype THEN 9223372036854775807 END) AS column_max
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid
     AND d.classid = 'pg_attrdef'::regclass
LEFT JOIN pg_attrdef ad ON ad.oid = d.objid
LEFT JOIN pg_depend o ON o.classid = 'pg_class'::regclass AND o.objid = c.oid
     AND o.refclassid = 'pg_class'::regclass AND o.deptype IN ('a', 'i')
LEFT JOIN pg_attribute a ON (a.attrelid, a.attnum) IN ((ad.adrelid, ad.adnum),
                                                       (o.refobjid, o.refobjsubid))
WHERE n.nspname NOT LIKE 'pg_temp%'
GROUP BY c.oid, n.nspname, c.relname, s.seqtypid, s.seqmin, s.seqmax, s.seqincrement, s.seqcycle
"""
SEQUENCE_BATCH = 500


def _last_values(pg: Postgres, rows: list[dict[str, Any]]) -> dict[int, int | None]:
    """last_value of each readable sequence (None if never used), a few SELECTs in all."""
    readable = [r for r in rows if r["readable"]]
    out: dict[int, int | None] = {}
    for i in range(0, len(readable), SEQUENCE_BATCH):
        part = readable[i : i + SEQUENCE_BATCH]
        sql = " UNION ALL ".join(
            f"SELECT {int(r['oid'])}::bigint AS oid, "
            f"CASE WHEN is_called THEN last_value END AS last_value FROM {r['ident']}"
            for r in part
        )
        for v in pg.query("/* rota */ " + sql):
            out[int(v["oid"])] = v["last_value"]
    return out


PGSS_INFO_SQL = "/* rota */ SELECT stats_reset, dealloc FROM pg_stat_statements_info"
PGSS_SQL = """/* rota */
SELECT s.queryid::text AS queryid, s.dbid, s.userid, r.rolname AS usr, s.calls,
       s.{total} AS total_ms, s.rows, s.shared_blks_hit, s.shared_blks_read,
       left(s.query, 2000) AS query
FROM {schema}.pg_stat_statements s LEFT JOIN pg_roles r ON r.oid = s.userid
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
"""
_COUNTERS = ("calls", "total_ms", "rows", "shared_blks_hit", "shared_blks_read")

CODES = (
    "db.wraparound.xid",
    "db.wraparound.mxid",
    "db.sequence.exhaustion",
    "db.queries.slow",
    "db.settings",
)


@task(
    id="db.tuning",
    title="Database performance tuning review",
    section="Database performance tuning",
    frequency="quarterly",
    priority="high",
    needs=("postgres",),
    purpose="Find the slow creep the weekly tasks miss: transaction-ID and multixact "
    "wraparound, sequences running out of values, the statements that cost the most time "
    "since the last review, and settings that do not fit the workload.",
    prerequisites=[
        "[database] url",
        "pg_stat_statements in shared_preload_libraries and CREATE EXTENSION "
        "pg_stat_statements in the database",
        "The role rota connects as is a member of pg_monitor",
    ],
    procedure=[
        "Compare age(relfrozenxid) and mxid_age(relminmxid) of every table, TOAST table and "
        "database with the freeze limits and the 2^31 hard limit.",
        "For every sequence, compare last_value with the smaller of its own maximum and the "
        "maximum of the column it feeds (an int column fed by a bigint sequence ends at 2^31).",
        "Subtract the previous pg_stat_statements snapshot and list the top statements by "
        "total time since then (never resetting the statistics).",
        "Review the settings that matter: autovacuum, memory, timeouts, logging, "
        "checkpoints, durability.",
    ],
    expected_outcome="No table near a freeze limit, every sequence under its threshold, no "
    "statement slower on average than the slow_query threshold, settings explained.",
    rollback="Nothing to roll back: the review only reads catalogs and statistics.",
    time_estimate="5s",
    manual_time="4 hours",
    timeout="5m",
    codes=CODES,
)
def tuning(ctx: Context) -> Iterator[Item]:
    pg = ctx.target("postgres")
    priv = privileges(pg)
    yield from _wraparound(pg)
    yield from _sequences(pg, ctx.config.database.thresholds.sequence_percent, priv["usr"])
    yield from _slow_queries(ctx, pg, priv)
    yield from check_settings(pg)


# -- wraparound ------------------------------------------------------------------------------


def _wraparound(pg: Postgres) -> Iterator[Item]:
    limits = pg.query(FREEZE_SQL)[0]
    rels = pg.query(WRAPAROUND_SQL)
    dbs = pg.query(DATABASES_SQL)
    for kind, age_key, limit_key, table_key in (
        ("xid", "xid_age", "xid", "table_freeze_max_age"),
        ("mxid", "mxid_age", "mxid", "table_mxid_freeze_max_age"),
    ):
        code = f"db.wraparound.{kind}"
        name = (
            "autovacuum_freeze_max_age"
            if kind == "xid"
            else ("autovacuum_multixact_freeze_max_age")
        )
        global_max = int(limits[limit_key])
        oldest = max((int(r[age_key]) for r in rels), default=0)
        yield Metric(f"db.wraparound.{kind}_age", oldest, "ids")
        bad = 0
        for r in rels:
            age = int(r[age_key])
            # A per-table setting only ever lowers the limit (a larger one is ignored).
            freeze_max = min(global_max, int(r[table_key] or global_max))
            if age <= freeze_max:
                continue
            bad += 1
            if bad > MAX_RELATION_FINDINGS:
                continue
            rel = f"{r['schema']}.{r['name']}"
            subject = f"{rel} (TOAST of {r['toast_of']})" if r["toast_of"] else rel
            vacuum_target = r["toast_of"] or rel
            yield _wrap_finding(
                code, subject, age, freeze_max, name,
                f"VACUUM (FREEZE, VERBOSE) {vacuum_target}",
                relation=rel, toast_of=r["toast_of"],
                last_autovacuum=str(r["last_autovacuum"]) if r["last_autovacuum"] else None,
            )  # fmt: skip
        for d in dbs:
            age = int(d[age_key])
            if age > global_max:
                bad += 1
                yield _wrap_finding(
                    code, f"database {d['datname']}", age, global_max, name,
                    f"vacuumdb --freeze --jobs 4 {d['datname']} (or VACUUM (FREEZE) its "
                    "oldest tables first)",
                    sql=DATABASES_SQL,
                )  # fmt: skip
        if not bad:
            top = rels[0] if rels else None
            yield finding(
                code,
                Severity.OK,
                f"every table is below {name} ({global_max:,}); oldest at {oldest:,}",
                subject="tables",
                sql=WRAPAROUND_SQL,
                oldest_age=oldest,
                oldest_relation=f"{top['schema']}.{top['name']}" if top else None,
                freeze_max_age=global_max,
                percent_of_freeze_max=round(100 * oldest / max(global_max, 1), 1),
                database_ages={d["datname"]: int(d[age_key]) for d in dbs},
            )
        elif bad > MAX_RELATION_FINDINGS:
            yield finding(
                code,
                Severity.WARNING,
                f"{bad} relations past {name}; the {MAX_RELATION_FINDINGS} oldest are listed",
                subject="tables",
                sql=WRAPAROUND_SQL,
                past_limit=bad,
                remedy="Run vacuumdb --freeze in a quiet hour and raise "
                "autovacuum_vacuum_cost_limit so autovacuum keeps up.",
            )


def _wrap_finding(
    code: str,
    subject: str,
    age: int,
    freeze_max: int,
    setting: str,
    fix: str,
    sql: str = WRAPAROUND_SQL,
    **more: Any,
) -> Finding:
    left = XID_LIMIT - age
    sev = Severity.CRITICAL if age > XID_CRITICAL_AGE else Severity.WARNING
    what = "transaction IDs" if code.endswith("xid") else "multixact IDs"
    return finding(
        code,
        sev,
        f"{subject}: {age:,} {what} old, past {setting} ({freeze_max:,}); "
        f"{left:,} left before wraparound",
        subject=subject,
        sql=sql,
        age=age,
        freeze_max_age=freeze_max,
        percent_of_freeze_max=round(100 * age / max(freeze_max, 1), 1),
        ids_left=left,
        hard_limit=XID_LIMIT,
        critical_age=XID_CRITICAL_AGE,
        **more,
        remedy=f"{fix}. Anti-wraparound autovacuum should already be on it: check "
        "pg_stat_progress_vacuum and that nothing holds back the xmin horizon "
        "(db.xmin.horizon); raise autovacuum_vacuum_cost_limit if it cannot keep up.",
    )


# -- sequences -------------------------------------------------------------------------------


def _sequences(pg: Postgres, threshold: float, user: str) -> Iterator[Item]:
    rows = pg.query(SEQUENCES_SQL)
    values = _last_values(pg, rows)
    for r in rows:
        r["last_value"] = values.get(int(r["oid"]))
    critical = 95.0 if threshold < 95 else 99.0
    worst, bad = 0.0, 0
    for s in rows:
        name = s["sequence"]
        if not s["readable"]:
            bad += 1
            yield finding(
                "db.sequence.exhaustion",
                Severity.UNKNOWN,
                f"cannot read {name}: no SELECT privilege on it",
                subject=name,
                sql=SEQUENCES_SQL,
                remedy=f"GRANT SELECT ON SEQUENCE {name} TO {user}",
            )
            continue
        if s["last_value"] is None or s["cycle"]:
            continue  # never used, or wraps by design
        inc = int(s["increment_by"])
        col_max = int(s["column_max"]) if s["column_max"] is not None else None
        if inc > 0:
            limit = min(int(s["max_value"]), col_max or int(s["max_value"]))
            start, used = int(s["min_value"]), int(s["last_value"]) - int(s["min_value"])
        else:
            limit = int(s["min_value"])
            start, used = int(s["max_value"]), int(s["max_value"]) - int(s["last_value"])
        span = abs(limit - start) or 1
        pct = 100.0 * used / span
        worst = max(worst, pct)
        if pct < threshold:
            continue
        bad += 1
        by_column = col_max is not None and col_max < int(s["max_value"]) and inc > 0
        yield finding(
            "db.sequence.exhaustion",
            Severity.CRITICAL if pct >= critical else Severity.WARNING,
            f"{name} has used {pct:.1f}% of its range; "
            f"{abs(limit - int(s['last_value'])) // abs(inc):,} values left",
            subject=name,
            sql=SEQUENCES_SQL,
            last_value=int(s["last_value"]),
            limit=limit,
            limited_by="column type" if by_column else "sequence type",
            sequence_type=s["data_type"],
            columns=list(s["columns"]),
            percent=round(pct, 2),
            values_left=abs(limit - int(s["last_value"])) // abs(inc),
            threshold_percent=threshold,
            remedy=_sequence_fix(name, list(s["columns"]), s["data_type"]),
        )
    yield Metric("db.sequence.max_percent", round(worst, 2), "percent")
    if not bad:
        yield finding(
            "db.sequence.exhaustion",
            Severity.OK,
            f"{len(rows)} sequences, none past {threshold:g}% of its range (highest {worst:.1f}%)",
            subject="sequences",
            sql=SEQUENCES_SQL,
            sequences=len(rows),
            highest_percent=round(worst, 2),
        )


def _sequence_fix(name: str, columns: list[str], data_type: str) -> str:
    small = [c for c in columns if not c.endswith(" bigint")]
    steps = []
    for col in small:
        rel, _, rest = col.rpartition(".")
        steps.append(f"ALTER TABLE {rel} ALTER COLUMN {rest.split()[0]} TYPE bigint")
    if data_type != "bigint":
        steps.append(f"ALTER SEQUENCE {name} AS bigint")
    if not steps:
        return f"Raise MAXVALUE of {name} or plan a new key scheme before it runs out."
    return (
        "; ".join(steps) + ". Changing a column's type rewrites the table under ACCESS "
        "EXCLUSIVE: plan a window, or migrate through a new bigint column."
    )


# -- slow statements -------------------------------------------------------------------------


def _slow_queries(ctx: Context, pg: Postgres, priv: dict[str, Any]) -> Iterator[Item]:
    code = "db.queries.slow"
    preload = str(pg.scalar("/* rota */ SHOW shared_preload_libraries") or "")
    ext = pg.query(
        "/* rota */ SELECT n.nspname AS schema, e.extversion FROM pg_extension e "
        "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements'"
    )
    if "pg_stat_statements" not in [p.strip() for p in preload.split(",")]:
        yield finding(
            code,
            Severity.UNKNOWN,
            "pg_stat_statements is not in shared_preload_libraries: add it and restart",
            subject="pg_stat_statements",
            shared_preload_libraries=preload,
            remedy="In postgresql.conf: shared_preload_libraries = 'pg_stat_statements' "
            "(keep any existing entries), restart PostgreSQL, then CREATE EXTENSION "
            "pg_stat_statements.",
        )
        return
    if not ext:
        yield finding(
            code,
            Severity.UNKNOWN,
            "pg_stat_statements is loaded but not installed in this database: "
            "CREATE EXTENSION pg_stat_statements",
            subject="pg_stat_statements",
            remedy="CREATE EXTENSION pg_stat_statements (as a superuser, in this database).",
        )
        return
    from psycopg import sql as psql

    schema = psql.Identifier(ext[0]["schema"]).as_string()
    total = "total_exec_time" if pg.server_version_num >= 130000 else "total_time"
    query = PGSS_SQL.format(total=total, schema=schema)
    rows = pg.query(query)
    reset = None
    if pg.server_version_num >= 140000:
        reset = str(
            pg.query(PGSS_INFO_SQL.replace("FROM pg_stat", f"FROM {schema}.pg_stat", 1))[0][
                "stats_reset"
            ]
        )
    dbname = str(pg.scalar("/* rota */ SELECT current_database()"))
    state_key = f"pgss:{dbname}"
    previous = ctx.load_state(state_key, None)
    current = {f"{r['queryid']}:{r['dbid']}:{r['userid']}": [r[k] for k in _COUNTERS] for r in rows}
    ctx.save_state(state_key, {"stats_reset": reset, "entries": current})
    if previous and previous.get("stats_reset") == reset:
        window = "since the last run"
        before = previous.get("entries") or {}
    else:
        window = f"since stats reset at {reset}" if reset else "since the server started"
        if previous:
            window += " (statistics were reset after the last run: a new baseline)"
        before = {}
    deltas = []
    for r in rows:
        key = f"{r['queryid']}:{r['dbid']}:{r['userid']}"
        old = before.get(key)
        now = [r[k] for k in _COUNTERS]
        if old and old[0] <= now[0]:
            now = [a - b for a, b in zip(now, old, strict=True)]
        if now[0] <= 0 or ROTA_MARK in (r["query"] or ""):
            continue  # nothing new, or rota's own catalog reads
        deltas.append((r, dict(zip(_COUNTERS, now, strict=True))))
    deltas.sort(key=lambda d: -d[1]["total_ms"])
    th = ctx.config.database.thresholds
    limit_ms = th.slow_query * 1000
    grand = sum(d["total_ms"] for _, d in deltas) or 1.0
    yield Metric("db.queries.total_time", round(grand, 1), "ms")
    yield Metric("db.queries.calls", sum(d["calls"] for _, d in deltas), "count")
    hidden = sum(1 for r, _ in deltas if r["query"] == HIDDEN)
    if hidden and not priv["sees_all"]:
        yield finding(
            code,
            Severity.WARNING,
            f"the text of {hidden} statement(s) of other roles is hidden from {priv['usr']}",
            subject="privileges",
            hidden_statements=hidden,
            remedy=f"{priv['fix']} so every statement's text can be shown.",
        )
    slow = 0
    for rank, (r, d) in enumerate(deltas[: th.slow_query_top], start=1):
        mean = d["total_ms"] / d["calls"]
        is_slow = mean >= limit_ms
        slow += is_slow
        yield finding(
            code,
            Severity.WARNING if is_slow else Severity.OK,
            f"#{rank} by total time {window}: {d['total_ms']:.0f} ms over {d['calls']} calls "
            f"(mean {mean:.1f} ms)",
            subject=f"queryid {r['queryid']}",
            sql=query,
            statement=truncate(r["query"], 500),
            user=r["usr"],
            window=window,
            calls=int(d["calls"]),
            total_ms=round(d["total_ms"], 2),
            mean_ms=round(mean, 3),
            rows=int(d["rows"]),
            shared_blks_hit=int(d["shared_blks_hit"]),
            shared_blks_read=int(d["shared_blks_read"]),
            percent_of_total=round(100 * d["total_ms"] / grand, 1),
            slow_threshold_ms=limit_ms,
            remedy="EXPLAIN (ANALYZE, BUFFERS) it with typical parameters on a replica; "
            "many blocks per row returned usually means a missing index (see db.indexes)."
            if is_slow
            else "",
        )
    if not deltas:
        yield finding(
            code,
            Severity.OK,
            f"no statements ran {window}",
            subject="pg_stat_statements",
            sql=query,
            window=window,
        )


TASKS = [tuning]
