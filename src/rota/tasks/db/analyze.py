"""Database maintenance: ANALYZE only the tables whose changes warrant it.

The runbook runs ``ANALYZE;`` on the whole database every week. Planner statistics go
stale in proportion to the rows changed since the last analyze, so rota computes each
table's own autoanalyze trigger (``autovacuum_analyze_threshold + scale_factor *
reltuples``, per-table reloptions honoured) and analyzes only the tables past it, plus
tables that were never analyzed at all. The database-wide ``ANALYZE;`` stays available
as the fallback (``[database] analyze_all = true``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rota.model import Metric, Severity
from rota.task import Context, Item, task
from rota.tasks.common import finding
from rota.tasks.db.common import USER_SCHEMA_FILTER
from rota.tasks.db.locking import locked_action
from rota.tasks.db.relations import CODE as LOCKED_CODE
from rota.tasks.db.relations import LOCKED, Guard

if TYPE_CHECKING:
    from psycopg import sql  # imported where used: loading the task list stays fast

# A table this small is read whole by any plan and is cheap to analyze on the fly; the
# autovacuum arithmetic means nothing for it. Both limits must hold for it to be ignored.
TINY_PAGES = 8
TINY_ROWS = 1000

# No pg_total_relation_size here: it opens every index and TOAST relation of every table,
# most of this query's time on a database of thousands of tables, for a number only the
# few tables a finding or a rewrite is about need (total_bytes() reads it for those).
# pg_relation_size opens the table, so not one another session holds locked (LOCKED).
TABLES_SQL = f"""
SELECT c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name,
       c.reltuples::float8 AS reltuples, c.relpages::bigint AS relpages,
       CASE WHEN c.oid = ANY ({LOCKED}) THEN c.oid::bigint END AS locked_by,
       CASE WHEN c.oid <> ALL ({LOCKED}) THEN pg_relation_size(c.oid) END AS heap_bytes,
       coalesce(s.n_live_tup, 0) AS n_live_tup, coalesce(s.n_dead_tup, 0) AS n_dead_tup,
       coalesce(s.n_mod_since_analyze, 0) AS n_mod_since_analyze,
       s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze,
       age(c.relfrozenxid)::bigint AS xid_age,
       coalesce(c.reloptions, '{{}}'::text[]) AS reloptions
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'm') AND {USER_SCHEMA_FILTER}
ORDER BY n.nspname, c.relname
"""

SETTINGS_SQL = """
SELECT name, setting FROM pg_settings
WHERE name IN ('autovacuum', 'autovacuum_vacuum_threshold', 'autovacuum_vacuum_scale_factor',
               'autovacuum_analyze_threshold', 'autovacuum_analyze_scale_factor')
"""


@dataclass(frozen=True)
class TableStats:
    """One table's size, activity counters and autovacuum options, as the checks need them."""

    row: dict[str, Any]
    options: dict[str, str]

    @property
    def schema(self) -> str:
        return str(self.row["schema"])

    @property
    def name(self) -> str:
        return str(self.row["name"])

    @property
    def subject(self) -> str:
        return f"{self.schema}.{self.name}"

    def __getitem__(self, key: str) -> Any:
        return self.row[key]

    @property
    def rows(self) -> float:
        """Rows as the planner knows them (0 for a table never vacuumed or analyzed)."""
        return max(0.0, float(self.row["reltuples"]))

    @property
    def never_analyzed(self) -> bool:
        return float(self.row["reltuples"]) < 0

    @property
    def tiny(self) -> bool:
        live = max(self.rows, float(self.row["n_live_tup"]))
        return (
            int(self.row["heap_bytes"]) < TINY_PAGES * 8192
            and live + int(self.row["n_dead_tup"]) < TINY_ROWS
        )

    def setting(self, name: str, defaults: dict[str, str]) -> float:
        """A per-table reloption if set, else the server's setting."""
        return float(self.options.get(name, defaults.get(name, "0")))

    def autovacuum_enabled(self, defaults: dict[str, str]) -> bool:
        if defaults.get("autovacuum", "on") != "on":
            return False
        return self.options.get("autovacuum_enabled", "on").lower() not in ("off", "false", "0")

    def trigger(self, kind: str, defaults: dict[str, str]) -> tuple[float, float, float]:
        """(trigger, threshold, scale factor) for ``kind`` "vacuum" or "analyze"."""
        threshold = self.setting(f"autovacuum_{kind}_threshold", defaults)
        scale = self.setting(f"autovacuum_{kind}_scale_factor", defaults)
        return threshold + scale * self.rows, threshold, scale


def parse_options(options: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in options or []:
        key, _, value = item.partition("=")
        out[key.strip()] = value.strip()
    return out


def table_stats(guard: Guard, what: str) -> tuple[list[TableStats], dict[str, str]]:
    """Every user table with its counters, and the server's autovacuum settings.

    Tables another session holds locked are left out (the guard reports them for ``what``).
    """
    rows = guard.bulk(TABLES_SQL, what)
    tables = [TableStats(r, parse_options(r["reloptions"])) for r in rows if r["locked_by"] is None]
    defaults = {r["name"]: r["setting"] for r in guard.pg.query(SETTINGS_SQL)}
    return tables, defaults


def total_bytes(guard: Guard, t: TableStats) -> int | None:
    """Heap, TOAST and indexes of ``t`` in bytes, read once and kept on its row; None when
    the table (or one of its indexes) was locked meanwhile."""
    if "total_bytes" not in t.row:
        rows = guard.one(
            (int(t["oid"]),),
            t.subject,
            "total size",
            "SELECT pg_total_relation_size(%s::oid) AS bytes",
            (int(t["oid"]),),
        )
        if rows is None:
            return None
        t.row["total_bytes"] = int(rows[0]["bytes"] or 0)
    return int(t.row["total_bytes"])


def ident(t: TableStats) -> sql.Identifier:
    from psycopg import sql

    return sql.Identifier(t.schema, t.name)


@task(
    id="db.analyze",
    title="Refresh planner statistics (ANALYZE)",
    section="Database maintenance",
    frequency="weekly",
    priority="medium",
    mutates=True,
    needs=("postgres",),
    purpose="Keep the planner's row estimates close to the data, so queries keep their good "
    "plans: stale statistics after bulk changes are a classic cause of sudden slow queries.",
    prerequisites=[
        "[database] url of a role that owns the tables (ANALYZE needs ownership or MAINTAIN)",
    ],
    procedure=[
        "Skip a relation another session holds (or waits for) in ACCESS EXCLUSIVE mode, "
        "reading each under a short lock_timeout, and report it with its holder "
        "(db.relation.locked); check the rest.",
        "Read n_mod_since_analyze and reltuples for every user table (pg_stat_all_tables, "
        "pg_class) and the autoanalyze settings, honouring per-table reloptions.",
        "Flag tables past their autoanalyze trigger (threshold + scale_factor x rows), and "
        "tables with rows that were never analyzed; tiny tables and partitioned parents are "
        "ignored.",
        "With --apply, ANALYZE each flagged table (SHARE UPDATE EXCLUSIVE, under lock_timeout "
        "with retries). [database] analyze_all = true runs the runbook's ANALYZE; instead.",
    ],
    expected_outcome="No table has more modifications since its last analyze than its trigger.",
    rollback="None needed: ANALYZE only replaces planner statistics.",
    time_estimate="1m",
    manual_time="15m",
    timeout="30m",
    codes=("db.analyze.overdue", "db.lock.timeout", LOCKED_CODE),
)
def analyze(ctx: Context) -> Iterator[Item]:
    from psycopg import sql

    guard = Guard.from_context(ctx)
    tables, defaults = table_stats(guard, "analyze check")
    overdue: list[TableStats] = []
    for t in tables:
        if t.tiny:
            continue
        trigger, threshold, scale = t.trigger("analyze", defaults)
        mods = int(t["n_mod_since_analyze"])
        yield Metric("db.table.mod_since_analyze", mods, "rows", {"table": t.subject})
        never = t.never_analyzed and (int(t["heap_bytes"]) > 0 or int(t["n_live_tup"]) > 0)
        if not never and mods <= trigger:
            continue
        overdue.append(t)
        message = (
            f"{t.subject} has never been analyzed"
            if never
            else f"{t.subject}: {mods:,} rows changed since the last analyze "
            f"(autoanalyze trigger {trigger:,.0f})"
        )
        yield finding(
            "db.analyze.overdue",
            Severity.WARNING,
            message,
            subject=t.subject,
            sql=TABLES_SQL,
            n_mod_since_analyze=mods,
            trigger=round(trigger, 1),
            analyze_threshold=threshold,
            analyze_scale_factor=scale,
            reltuples=t["reltuples"],
            n_live_tup=t["n_live_tup"],
            last_analyze=_iso(t["last_analyze"]),
            last_autoanalyze=_iso(t["last_autoanalyze"]),
            autovacuum_enabled=t.autovacuum_enabled(defaults),
            remedy=f"ANALYZE {t.subject}; and check autovacuum keeps up (per-table "
            "autovacuum_analyze_scale_factor for tables with bursts of changes).",
        )
    if not overdue:
        yield finding(
            "db.analyze.overdue",
            Severity.OK,
            f"statistics are fresh on all {sum(not t.tiny for t in tables)} tables checked",
            sql=TABLES_SQL,
            tables=len(tables),
            tiny_ignored=sum(t.tiny for t in tables),
        )
    yield from guard.findings()
    if ctx.config.database.analyze_all:
        yield from locked_action(
            ctx,
            "ANALYZE (whole database)",
            "ANALYZE",
            subject="database",
            reason="[database] analyze_all = true: the runbook's database-wide ANALYZE",
            lock="SHARE UPDATE EXCLUSIVE on each table in turn",
            estimate_s=sum(int(t["heap_bytes"]) for t in tables) / 200e6,
        )
        return
    for t in overdue:
        yield from locked_action(
            ctx,
            f"ANALYZE {t.subject}",
            sql.SQL("ANALYZE {}").format(ident(t)),
            subject=t.subject,
            reason=f"{int(t['n_mod_since_analyze']):,} rows changed since the last analyze"
            if not t.never_analyzed
            else "never analyzed",
            lock="SHARE UPDATE EXCLUSIVE (reads and writes continue)",
            estimate_s=min(int(t["heap_bytes"]), 30000 * 8192) / 200e6 + 0.05,
        )


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


TASKS = [analyze]
