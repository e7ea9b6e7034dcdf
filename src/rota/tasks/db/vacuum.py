"""Database maintenance: VACUUM what autovacuum left behind, and rewrite only when bloat warrants it.

The runbook's weekly ``VACUUM FULL conversations, messages`` locks both tables against
reads and writes for the whole rewrite, whether they need it or not. rota instead:

1. measures: dead tuples against each table's computed autovacuum trigger, and bloat
   (an estimate from planner statistics every run, the one check_postgres and PgHero
   use, confirmed with ``pgstattuple_approx`` when it comes near the threshold; without
   pgstattuple the estimate alone decides, with its confidence stated, and never a
   rewrite);
2. runs plain ``VACUUM (ANALYZE)`` (no blocking lock) on overdue tables, most dead tuples
   and oldest XIDs first, and stops starting new ones when the window would close;
3. for ``[database] high_churn_tables`` whose measured bloat is past the thresholds,
   prefers an online rewrite (pg_repack), else ``VACUUM FULL`` inside the window, under
   lock_timeout, with enough free disk and no long transaction open; and reports the
   bytes reclaimed;
4. proposes per-table autovacuum settings for the high-churn tables (applied only with
   ``[database] tune_autovacuum = true``).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

from rota.model import Finding, Metric, Severity, Step, StepStatus
from rota.targets.pgtools import PgToolError
from rota.task import Context, Item, task
from rota.tasks.common import finding
from rota.tasks.db.analyze import TableStats, ident, table_stats, total_bytes
from rota.tasks.db.bloat import WIDTHS_SQL, Estimate, estimate_bloat
from rota.tasks.db.locking import locked_action, window_seconds_left
from rota.tasks.db.relations import CODE as LOCKED_CODE
from rota.tasks.db.relations import Guard

if TYPE_CHECKING:
    from rota.targets.postgres import Postgres

# Rough VACUUM and rewrite throughput, only for estimates and the window time box.
VACUUM_BYTES_PER_S = 100e6
REWRITE_BYTES_PER_S = 50e6
# A rewrite writes a new copy of the table and its indexes before freeing the old one.
REWRITE_DISK_FACTOR = 1.2
# Per-table autovacuum settings proposed for high-churn tables: vacuum after 5% rather
# than 20% of the rows changed, analyze after 2%.
CHURN_OPTIONS = {
    "autovacuum_enabled": "on",
    "autovacuum_vacuum_scale_factor": "0.05",
    "autovacuum_analyze_scale_factor": "0.02",
}

APPROX_SQL = "SELECT * FROM pgstattuple_approx(%s::regclass)"
HAS_PGSTATTUPLE_SQL = "SELECT count(*) FROM pg_extension WHERE extname = 'pgstattuple'"
LONG_XACT_SQL = """
SELECT pid, usename, application_name, state, now() - xact_start AS age,
       left(query, 200) AS query
FROM pg_stat_activity
WHERE xact_start < now() - make_interval(secs => %s) AND pid <> pg_backend_pid()
ORDER BY xact_start LIMIT 5
"""


@task(
    id="db.vacuum",
    title="VACUUM and table bloat",
    section="Database maintenance",
    frequency="weekly",
    priority="high",
    mutates=True,
    needs=("postgres", "pgtools"),
    purpose="Keep dead rows from piling up (slower scans, bigger tables, wraparound risk) "
    "and give space back only when bloat is real, without locking the application out.",
    prerequisites=[
        "[database] url of a role that owns the tables",
        "pgstattuple extension (CREATE EXTENSION pgstattuple) to measure bloat; without it "
        "bloat is estimated and no table is rewritten",
        "[schedule] window for VACUUM FULL; [database] high_churn_tables",
    ],
    procedure=[
        "Skip a relation another session holds (or waits for) in ACCESS EXCLUSIVE mode, "
        "reading each under a short lock_timeout, and report it with its holder "
        "(db.relation.locked); check the rest.",
        "Compare n_dead_tup with each table's autovacuum trigger (threshold + scale_factor x "
        "rows, per-table reloptions honoured); warn where autovacuum is disabled.",
        "Estimate heap bloat from statistics (pg_stats widths and null fractions, reltuples, "
        "relpages, fillfactor; confidence stated); above half the threshold measure it with "
        "pgstattuple_approx when installed; report bytes and percent.",
        "With --apply, VACUUM (ANALYZE) overdue tables, most dead tuples and oldest XID first, "
        "not starting one the window could not fit.",
        "For high-churn tables whose measured bloat (never an estimate alone) is past "
        "bloat_percent and bloat_min_bytes: pg_repack when "
        "installed, else VACUUM FULL inside the window under lock_timeout after checking free "
        "disk and long transactions; report bytes reclaimed.",
        "Propose per-table autovacuum settings for high-churn tables (applied with "
        "tune_autovacuum = true).",
    ],
    expected_outcome="No table past its autovacuum trigger; high-churn tables below the bloat "
    "threshold; autovacuum enabled everywhere.",
    rollback="VACUUM needs none. An interrupted VACUUM FULL leaves the old table in place. "
    "Autovacuum settings: ALTER TABLE ... RESET (autovacuum_vacuum_scale_factor, ...).",
    time_estimate="5m",
    manual_time="30m",
    timeout="2h",
    codes=(
        "db.vacuum.overdue",
        "db.vacuum.autovacuum_disabled",
        "db.bloat.table",
        "db.vacuum.rewrite",
        "db.lock.timeout",
        LOCKED_CODE,
    ),
)
def vacuum(ctx: Context) -> Iterator[Item]:
    pg = ctx.target("postgres")
    cfg = ctx.config.database
    guard = Guard.from_context(ctx)
    tables, defaults = table_stats(guard, "vacuum and bloat checks")
    checked = [t for t in tables if not t.tiny]
    yield from _autovacuum_disabled(checked, defaults)
    overdue = list(_overdue(checked, defaults))
    for t, trig in overdue:
        yield _overdue_finding(t, trig, defaults)
    if not overdue:
        yield finding(
            "db.vacuum.overdue",
            Severity.OK,
            f"dead tuples are below the autovacuum trigger on all {len(checked)} tables checked",
            sql=_TABLES_SQL_REF,
            tables=len(checked),
        )
    measured: dict[str, dict[str, Any]] = {}
    estimates: dict[str, Estimate] = {}
    yield from _bloat(ctx, guard, checked, measured, estimates)

    churn = _resolve(tables, cfg.high_churn_tables)
    rewritten: set[str] = set()
    for name in cfg.high_churn_tables:
        found = churn.get(name)
        held = guard.oid_of(name if "." in name else f"public.{name}")
        if found is None and held is not None:
            guard.skip(held, "rewrite check")
            continue
        if found is None:
            yield finding(
                "db.vacuum.rewrite",
                Severity.UNKNOWN,
                f"high-churn table {name!r} not found",
                subject=name,
                remedy="Fix [database] high_churn_tables: name tables as table or schema.table.",
            )
            continue
        estimate = estimates.get(found.subject) or _estimate_one(pg, found)
        for item in _ladder(ctx, guard, found, measured.get(found.subject), estimate):
            if isinstance(item, Step) and item.status is StepStatus.DONE:
                rewritten.add(found.subject)
            yield item
    yield from guard.findings()
    yield from _vacuum_overdue(ctx, [t for t, _ in overdue if t.subject not in rewritten])
    for t in churn.values():
        yield from _tune(ctx, t, defaults)


_TABLES_SQL_REF = "SELECT ... FROM pg_class JOIN pg_stat_all_tables (see rota.tasks.db.analyze)"


def _autovacuum_disabled(tables: list[TableStats], defaults: dict[str, str]) -> Iterator[Item]:
    for t in tables:
        if t.autovacuum_enabled(defaults):
            continue
        where = "server-wide" if defaults.get("autovacuum") != "on" else "by a reloption"
        yield finding(
            "db.vacuum.autovacuum_disabled",
            Severity.WARNING,
            f"autovacuum is disabled on {t.subject} ({where})",
            subject=t.subject,
            sql="SELECT reloptions FROM pg_class WHERE oid = %s::regclass",
            reloptions=t["reloptions"],
            autovacuum=defaults.get("autovacuum"),
            n_dead_tup=t["n_dead_tup"],
            remedy=f"ALTER TABLE {t.subject} SET (autovacuum_enabled = on); a table that "
            "churns needs autovacuum more, not less (tune its scale factor instead).",
        )


def _overdue(
    tables: list[TableStats], defaults: dict[str, str]
) -> Iterator[tuple[TableStats, float]]:
    rows = []
    for t in tables:
        trig, _, _ = t.trigger("vacuum", defaults)
        if int(t["n_dead_tup"]) > trig:
            rows.append((t, trig))
    # Most dead tuples first, then the oldest XIDs: what the window should spend time on.
    rows.sort(key=lambda p: (-int(p[0]["n_dead_tup"]), -int(p[0]["xid_age"] or 0)))
    yield from rows


def _overdue_finding(t: TableStats, trig: float, defaults: dict[str, str]) -> Finding:
    _, threshold, scale = t.trigger("vacuum", defaults)
    dead = int(t["n_dead_tup"])
    return finding(
        "db.vacuum.overdue",
        Severity.WARNING,
        f"{t.subject}: {dead:,} dead tuples, past its autovacuum trigger of {trig:,.0f}",
        subject=t.subject,
        sql=_TABLES_SQL_REF,
        n_dead_tup=dead,
        n_live_tup=t["n_live_tup"],
        trigger=round(trig, 1),
        vacuum_threshold=threshold,
        vacuum_scale_factor=scale,
        autovacuum_enabled=t.autovacuum_enabled(defaults),
        last_vacuum=_iso(t["last_vacuum"]),
        last_autovacuum=_iso(t["last_autovacuum"]),
        xid_age=t["xid_age"],
        remedy=f"VACUUM (ANALYZE) {t.subject}; then find why autovacuum did not (disabled, "
        "blocked by a long transaction, or too slow: see db.xmin.horizon).",
    )


def _widths(pg: Postgres) -> dict[int, dict[str, Any]]:
    return {int(r["oid"]): r for r in pg.query(WIDTHS_SQL)}


def _estimate_one(pg: Postgres, t: TableStats) -> Estimate:
    """The estimate of a table the bloat check passed over (a tiny one)."""
    return estimate_bloat(t, _widths(pg).get(int(t["oid"])))


def _bloat(
    ctx: Context,
    guard: Guard,
    tables: list[TableStats],
    measured: dict[str, dict[str, Any]],
    estimates: dict[str, Estimate],
) -> Iterator[Item]:
    pg = guard.pg
    th = ctx.config.database.thresholds
    widths = _widths(pg)
    has_pgstattuple = bool(pg.scalar(HAS_PGSTATTUPLE_SQL))
    bad = 0
    estimated_only: list[str] = []
    for t in tables:
        est = estimate_bloat(t, widths.get(int(t["oid"])))
        estimates[t.subject] = est
        yield Metric("db.table.bloat_estimate_bytes", est.bytes, "bytes", {"table": t.subject})
        near = est.percent >= th.bloat_percent / 2 and est.bytes >= th.bloat_min_bytes / 2
        if not near:
            continue
        total = total_bytes(guard, t)
        if total is None:
            continue  # locked since the table list was read: db.relation.locked
        evidence: dict[str, Any] = {
            "heap_bytes": t["heap_bytes"],
            "total_bytes": total,
            "n_dead_tup": t["n_dead_tup"],
            "n_live_tup": t["n_live_tup"],
            **est.evidence(),
        }
        error = None
        if has_pgstattuple:
            try:
                got = guard.one((int(t["oid"]),), t.subject, "bloat", APPROX_SQL, (_regclass(t),))
            except Exception as exc:  # privilege (pg_stat_scan_tables) or a timeout
                error = str(exc).strip().splitlines()[0]
            else:
                if got is None:
                    continue  # locked: db.relation.locked
                bad += yield from _measured(ctx, t, got[0], measured, evidence)
                continue
        estimated_only.append(t.subject)
        if est.percent < th.bloat_percent or est.bytes < th.bloat_min_bytes:
            continue
        bad += 1
        why = (
            f"pgstattuple_approx failed: {error}"
            if error
            else "pgstattuple is not installed to measure it"
        )
        yield finding(
            "db.bloat.table",
            Severity.WARNING,
            f"{t.subject}: about {_mb(est.bytes)} ({est.percent:.0f}%) bloat, estimated from "
            f"statistics ({est.confidence} confidence; {why})",
            subject=t.subject,
            sql=WIDTHS_SQL,
            method="estimate",
            bloat_bytes=est.bytes,
            bloat_percent=est.percent,
            measurement_error=error,
            **evidence,
            remedy="VACUUM makes the space reusable. To measure it (and let rota rewrite a "
            "high-churn table in the window): CREATE EXTENSION pgstattuple; and GRANT "
            "pg_stat_scan_tables to the rota role.",
        )
    if not bad:
        how = (
            "measured with pgstattuple_approx where the estimate came near"
            if has_pgstattuple and not estimated_only
            else "estimated from statistics"
            + ("" if has_pgstattuple else "; pgstattuple is not installed")
        )
        yield finding(
            "db.bloat.table",
            Severity.OK,
            f"no table past {th.bloat_percent:g}% and {_mb(th.bloat_min_bytes)} of bloat ({how})",
            sql=WIDTHS_SQL,
            tables=len(tables),
            method="pgstattuple_approx" if has_pgstattuple and not estimated_only else "estimate",
            estimated_only=estimated_only,
        )


def _measured(
    ctx: Context,
    t: TableStats,
    m: dict[str, Any],
    measured: dict[str, dict[str, Any]],
    evidence: dict[str, Any],
) -> Generator[Item, None, int]:
    """Findings from one pgstattuple_approx row; returns 1 when the table is over the line."""
    th = ctx.config.database.thresholds
    wasted = int(m["dead_tuple_len"]) + int(m["approx_free_space"])
    length = int(m["table_len"]) or 1
    pct = round(100 * wasted / length, 1)
    measured[t.subject] = {"bytes": wasted, "percent": pct, "table_len": length}
    yield Metric("db.table.bloat_bytes", wasted, "bytes", {"table": t.subject})
    over = pct >= th.bloat_percent and wasted >= th.bloat_min_bytes
    yield finding(
        "db.bloat.table",
        Severity.WARNING if over else Severity.OK,
        f"{t.subject}: {_mb(wasted)} ({pct:.0f}%) of {_mb(length)} is dead or free space"
        + ("" if over else f" (below {th.bloat_percent:g}% and {_mb(th.bloat_min_bytes)})"),
        subject=t.subject,
        sql=APPROX_SQL.replace("%s", f"'{t.subject}'"),
        method="pgstattuple_approx",
        bloat_bytes=wasted,
        bloat_percent=pct,
        dead_tuple_len=m["dead_tuple_len"],
        approx_free_space=m["approx_free_space"],
        scanned_percent=m["scanned_percent"],
        **evidence,
        remedy=""
        if not over
        else "Plain VACUUM makes the space reusable; to return it to the OS list the table "
        "in [database] high_churn_tables so rota rewrites it in the window (pg_repack "
        "when installed, else VACUUM FULL).",
    )
    return int(over)


def _regclass(t: TableStats) -> str:
    from psycopg import sql

    return sql.Identifier(t.schema, t.name).as_string()


def _resolve(tables: list[TableStats], names: list[str]) -> dict[str, TableStats]:
    out: dict[str, TableStats] = {}
    for name in names:
        schema, _, rel = name.rpartition(".")
        for t in tables:
            if t.name == rel and (t.schema == schema or (not schema and t.schema == "public")):
                out[name] = t
    return out


def _ladder(
    ctx: Context,
    guard: Guard,
    t: TableStats,
    measured: dict[str, Any] | None,
    estimate: Estimate,
) -> Iterator[Item]:
    from psycopg import sql

    pg = guard.pg
    th = ctx.config.database.thresholds
    if measured is None:
        measured = _measure_now(guard, t)
    if guard.is_locked(int(t["oid"])):
        return  # db.relation.locked
    if measured is None:
        yield from _estimate_only(ctx, t, estimate)
        return
    total = total_bytes(guard, t)
    if total is None:
        return  # locked meanwhile: db.relation.locked
    pct, wasted = measured["percent"], measured["bytes"]
    base = {"bloat_percent": pct, "bloat_bytes": wasted, "total_bytes": total}
    if pct < th.bloat_percent or wasted < th.bloat_min_bytes:
        yield finding(
            "db.vacuum.rewrite",
            Severity.OK,
            f"{t.subject}: {pct:.0f}% ({_mb(wasted)}) bloat is below {th.bloat_percent:g}% and "
            f"{_mb(th.bloat_min_bytes)}; no rewrite needed",
            subject=t.subject,
            sql=APPROX_SQL,
            **base,
        )
        return
    repack = _pg_repack(pg)
    if repack["extension"] and repack["binary"]:
        yield from _repack(ctx, t, repack, base)
        return
    reasons = _rewrite_gates(ctx, pg, t, total)
    no_repack = (
        f"pg_repack not available (extension {'yes' if repack['extension'] else 'no'}, "
        f"binary {'yes' if repack['binary'] else 'no'})"
    )
    if reasons:
        yield finding(
            "db.vacuum.rewrite",
            Severity.WARNING,
            f"{t.subject}: {pct:.0f}% bloat, not rewritten: {reasons[0]}",
            subject=t.subject,
            sql=APPROX_SQL,
            **base,
            gates=reasons,
            online_rewrite=no_repack,
            remedy="Resolve the gate, or install pg_repack for an online rewrite.",
        )
        return

    def before() -> dict[str, Any]:
        return {
            "bytes_before": int(
                pg.scalar("SELECT pg_total_relation_size(%s::regclass)", (_regclass(t),))
            )
        }

    def after(out: dict[str, Any]) -> dict[str, Any]:
        size = int(pg.scalar("SELECT pg_total_relation_size(%s::regclass)", (_regclass(t),)))
        return {"bytes_after": size, "bytes_reclaimed": out["bytes_before"] - size}

    yield from locked_action(
        ctx,
        f"VACUUM FULL {t.subject}",
        sql.SQL("VACUUM (FULL, ANALYZE) {}").format(ident(t)),
        subject=t.subject,
        reason=f"measured bloat {pct:.0f}% ({_mb(wasted)}) is past {th.bloat_percent:g}% and "
        f"{_mb(th.bloat_min_bytes)}; {no_repack}",
        lock="ACCESS EXCLUSIVE for the whole rewrite (blocks reads and writes)",
        estimate_s=total / REWRITE_BYTES_PER_S,
        before=before,
        after=after,
        **base,
    )


def _estimate_only(ctx: Context, t: TableStats, est: Estimate) -> Iterator[Item]:
    """The rewrite verdict when bloat could not be measured: an estimate can say a rewrite
    is not needed, never that one is."""
    th = ctx.config.database.thresholds
    base = {"method": "estimate", **est.evidence()}
    if est.percent < th.bloat_percent or est.bytes < th.bloat_min_bytes:
        yield finding(
            "db.vacuum.rewrite",
            Severity.OK,
            f"{t.subject}: estimated {est.percent:.0f}% ({_mb(est.bytes)}) bloat is below "
            f"{th.bloat_percent:g}% and {_mb(th.bloat_min_bytes)}; no rewrite needed "
            f"({est.confidence} confidence, not measured)",
            subject=t.subject,
            sql=WIDTHS_SQL,
            **base,
        )
        return
    yield finding(
        "db.vacuum.rewrite",
        Severity.WARNING,
        f"{t.subject}: about {est.percent:.0f}% ({_mb(est.bytes)}) bloat, estimated "
        f"({est.confidence} confidence); not rewritten: a rewrite needs a measurement",
        subject=t.subject,
        sql=WIDTHS_SQL,
        gates=["bloat is only estimated (pgstattuple missing or not readable)"],
        **base,
        remedy="CREATE EXTENSION pgstattuple; GRANT pg_stat_scan_tables TO the rota role; "
        "rota then measures it and rewrites it in the window if the measurement agrees.",
    )


def _measure_now(guard: Guard, t: TableStats) -> dict[str, Any] | None:
    """pgstattuple_approx of ``t``; None when it is missing, not readable, or ``t`` is locked."""
    try:
        got = guard.one((int(t["oid"]),), t.subject, "bloat", APPROX_SQL, (_regclass(t),))
    except Exception:
        return None
    if not got:
        return None
    m = got[0]
    wasted = int(m["dead_tuple_len"]) + int(m["approx_free_space"])
    length = int(m["table_len"]) or 1
    return {"bytes": wasted, "percent": round(100 * wasted / length, 1), "table_len": length}


def _pg_repack(pg: Postgres) -> dict[str, Any]:
    ext = bool(pg.scalar("SELECT count(*) FROM pg_extension WHERE extname = 'pg_repack'"))
    return {"extension": ext, "binary": shutil.which("pg_repack")}


def _repack(
    ctx: Context, t: TableStats, repack: dict[str, Any], base: dict[str, Any]
) -> Iterator[Item]:
    lock_s = max(1, int(ctx.config.database.lock_timeout))
    argv = [
        str(repack["binary"]),
        "--no-kill-backend",  # never terminate the application's sessions
        f"--wait-timeout={lock_s}",
        f"--table={t.subject}",
    ]

    def do() -> dict[str, Any]:
        pg = ctx.target("postgres")
        env = pg.libpq_env()  # pg_repack takes the whole connection from its environment
        size = "SELECT pg_total_relation_size(%s::regclass)"
        before = int(pg.scalar(size, (_regclass(t),)))
        # through the pgtools target: its own process group, killed if the task times out
        try:
            ctx.target("pgtools").run(
                argv, env=env, capture=True, timeout=ctx.config.database.maintenance_timeout
            )
        except PgToolError as exc:
            raise RuntimeError(f"pg_repack failed: {str(exc)[:300]}") from None
        after = int(pg.scalar(size, (_regclass(t),)))
        return {"bytes_before": before, "bytes_after": after, "bytes_reclaimed": before - after}

    yield ctx.action(
        f"pg_repack {t.subject}",
        do,
        reason=f"measured bloat {base['bloat_percent']:.0f}%: online rewrite",
        lock="ACCESS EXCLUSIVE only briefly at start and swap; never kills other sessions",
        estimate_s=int(base["total_bytes"]) * 2 / REWRITE_BYTES_PER_S,
        command=" ".join(argv),
        **base,
    )


def _rewrite_gates(ctx: Context, pg: Postgres, t: TableStats, total: int) -> list[str]:
    """Why VACUUM FULL must not run now (empty when it may)."""
    reasons: list[str] = []
    left = window_seconds_left(ctx)
    estimate = total / REWRITE_BYTES_PER_S
    if left is None:
        reasons.append("no [schedule] window is configured; VACUUM FULL runs only inside one")
    elif left < estimate:
        reasons.append(f"the window closes in {left:.0f}s, the rewrite needs about {estimate:.0f}s")
    free = _free_disk(pg)
    if free is None:
        reasons.append(
            "free disk on the server is unknown (remote server or data_directory unreadable)"
        )
    elif free < total * REWRITE_DISK_FACTOR:
        reasons.append(
            f"only {_mb(free)} free, the rewrite needs about {_mb(int(total * REWRITE_DISK_FACTOR))}"
        )
    long_s = ctx.config.database.thresholds.long_running
    longs = pg.query(LONG_XACT_SQL, (long_s,))
    if longs:
        pid = longs[0]["pid"]
        reasons.append(
            f"{len(longs)} transaction(s) open longer than {long_s:g}s (oldest pid {pid}); "
            "the rewrite would wait for them"
        )
    return reasons


def _free_disk(pg: Postgres) -> int | None:
    """Free bytes where the server keeps its data, when it runs on this machine."""
    if not pg.is_local:
        return None
    try:
        path = pg.scalar("SELECT current_setting('data_directory')")
        return int(shutil.disk_usage(path).free) if path and os.path.exists(path) else None
    except Exception:  # no pg_read_all_settings, or the path is not visible from here
        return None


def _vacuum_overdue(ctx: Context, tables: list[TableStats]) -> Iterator[Item]:
    from psycopg import sql

    left = window_seconds_left(ctx)
    t0 = time.monotonic()
    for t in tables:
        estimate = int(t["heap_bytes"]) / VACUUM_BYTES_PER_S + 0.1
        sql_text = sql.SQL("VACUUM (ANALYZE) {}").format(ident(t))
        if left is not None and ctx.apply and time.monotonic() - t0 + estimate > left:
            yield Step(
                f"VACUUM (ANALYZE) {t.subject}",
                StepStatus.SKIPPED,
                0.0,
                {
                    "reason": f"the maintenance window would close before it finished ({estimate:.0f}s)"
                },
            )
            continue
        yield from locked_action(
            ctx,
            f"VACUUM (ANALYZE) {t.subject}",
            sql_text,
            subject=t.subject,
            reason=f"{int(t['n_dead_tup']):,} dead tuples past the autovacuum trigger",
            lock="SHARE UPDATE EXCLUSIVE (reads and writes continue)",
            estimate_s=estimate,
            n_dead_tup=t["n_dead_tup"],
        )


def _tune(ctx: Context, t: TableStats, defaults: dict[str, str]) -> Iterator[Item]:
    from psycopg import sql

    wanted = {k: v for k, v in CHURN_OPTIONS.items() if t.options.get(k) != v}
    if not wanted:
        return
    statement = sql.SQL("ALTER TABLE {} SET ({})").format(
        ident(t),
        sql.SQL(", ").join(sql.SQL(f"{k} = {v}") for k, v in wanted.items()),
    )
    reason = (
        f"high-churn table: vacuum after {CHURN_OPTIONS['autovacuum_vacuum_scale_factor']} "
        f"of rows change instead of {t.setting('autovacuum_vacuum_scale_factor', defaults):g}"
    )
    if ctx.apply and not ctx.config.database.tune_autovacuum:
        yield Step(
            f"tune autovacuum on {t.subject}",
            StepStatus.PLANNED,
            0.0,
            {
                "reason": reason + "; set [database] tune_autovacuum = true to apply",
                "sql": statement.as_string(ctx.target("postgres").connect()),
                "lock": "SHARE UPDATE EXCLUSIVE",
            },
        )
        return
    yield from locked_action(
        ctx,
        f"tune autovacuum on {t.subject}",
        statement,
        subject=t.subject,
        reason=reason,
        lock="SHARE UPDATE EXCLUSIVE",
        estimate_s=0.05,
        current=t.options,
    )


def _mb(n: float) -> str:
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MB"
    return f"{n / 1024:.0f} kB"


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


TASKS = [vacuum]
