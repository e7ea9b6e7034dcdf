"""db.settings: the server settings that matter for a web platform's database.

Each rule says why it matters; a rule that cannot judge (RAM unknown, storage unknown)
says so in an OK finding's evidence rather than guessing. Rules follow what pganalyze and
PgHero flag (fsync off, statistics off, too-small memory) plus the timeouts that stop one
bad client from stalling the platform.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rota.model import Finding, Severity
from rota.task import Item
from rota.tasks.common import finding
from rota.tasks.db.stats import human_bytes, setting_bytes, setting_seconds, settings

if TYPE_CHECKING:
    from rota.targets.postgres import Postgres

CODE = "db.settings"
SETTINGS_SQL = "SELECT name, setting, unit, source, pending_restart FROM pg_settings"
BGWRITER_SQL = "/* rota */ SELECT checkpoints_timed, checkpoints_req FROM pg_stat_bgwriter"
BIG_TABLES_SQL = """/* rota */
SELECT c.oid::regclass::text AS relation, c.reltuples::bigint AS reltuples,
       pg_table_size(c.oid) AS bytes
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND c.reltuples >= %s
  AND NOT coalesce(c.reloptions::text ~ 'autovacuum_vacuum_scale_factor', false)
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY c.reltuples DESC LIMIT 20
"""
# A table this big waits for reltuples x scale factor dead rows before autovacuum starts.
BIG_TABLE_ROWS = 1_000_000
MANY_CONNECTIONS = 500


def check_settings(pg: Postgres) -> Iterator[Item]:
    s = settings(pg)
    ram = _local_ram(pg)
    yield from _durability(s)
    yield from _autovacuum(pg, s)
    yield from _memory(s, ram)
    yield from _timeouts(s)
    yield from _logging_and_wal(pg, s)
    yield from _planner(s, pg.is_local)
    pending = sorted(n for n, r in s.items() if r["pending_restart"])
    if pending:
        yield _f(
            "pending_restart",
            Severity.WARNING,
            f"{len(pending)} setting(s) changed but waiting for a restart: {', '.join(pending)}",
            "Restart PostgreSQL in a window, or revert the change in postgresql.conf.",
            settings=pending,
        )


def _f(name: str, sev: Severity, message: str, remedy: str = "", **numbers: Any) -> Finding:
    return finding(CODE, sev, message, subject=name, sql=SETTINGS_SQL, remedy=remedy, **numbers)


def _on(s: dict[str, dict[str, Any]], name: str) -> bool:
    return str(s[name]["setting"]) == "on"


def _durability(s: dict[str, dict[str, Any]]) -> Iterator[Item]:
    if not _on(s, "fsync"):
        yield _f(
            "fsync",
            Severity.CRITICAL,
            "fsync is off: a crash or power loss can corrupt the whole cluster",
            "Set fsync = on (for speed, synchronous_commit = off risks only the last "
            "commits, never corruption).",
            value="off",
            source=s["fsync"]["source"],
        )
    else:
        yield _f("fsync", Severity.OK, "fsync is on", value="on")
    if not _on(s, "full_page_writes"):
        yield _f(
            "full_page_writes",
            Severity.WARNING,
            "full_page_writes is off: a crash mid-write can leave torn pages",
            "Set full_page_writes = on unless the filesystem guarantees atomic 8kB writes.",
            value="off",
        )


def _autovacuum(pg: Postgres, s: dict[str, dict[str, Any]]) -> Iterator[Item]:
    for name in ("autovacuum", "track_counts"):
        if not _on(s, name):
            yield _f(
                name,
                Severity.CRITICAL,
                f"{name} is off: dead rows pile up and nothing prevents XID wraparound",
                f"Set {name} = on in postgresql.conf and reload; turn autovacuum off per "
                "table (autovacuum_enabled) if one table really needs it.",
                value="off",
                source=s[name]["source"],
            )
        else:
            yield _f(name, Severity.OK, f"{name} is on", value="on")
    factor = float(s["autovacuum_vacuum_scale_factor"]["setting"])
    big = pg.query(BIG_TABLES_SQL, (BIG_TABLE_ROWS,)) if factor >= 0.05 else []
    if big:
        worst = big[0]
        yield _f(
            "autovacuum_vacuum_scale_factor",
            Severity.WARNING,
            f"{len(big)} table(s) over {BIG_TABLE_ROWS:,} rows wait for "
            f"{factor:g} x rows dead tuples before autovacuum ({worst['relation']}: "
            f"{int(worst['reltuples'] * factor):,})",
            "Per table: ALTER TABLE <t> SET (autovacuum_vacuum_scale_factor = 0.01, "
            "autovacuum_vacuum_cost_limit = 1000); the db.vacuum task proposes these.",
            value=factor,
            tables=[
                {**t, "dead_rows_before_autovacuum": int(t["reltuples"] * factor)} for t in big
            ],
            query_tables=" ".join(BIG_TABLES_SQL.split()),
        )
    else:
        yield _f(
            "autovacuum_vacuum_scale_factor",
            Severity.OK,
            f"autovacuum_vacuum_scale_factor {factor:g} suits every table's size",
            value=factor,
        )


def _memory(s: dict[str, dict[str, Any]], ram: int | None) -> Iterator[Item]:
    shared = setting_bytes(s["shared_buffers"]) or 0
    work = setting_bytes(s["work_mem"]) or 0
    maint = setting_bytes(s["maintenance_work_mem"]) or 0
    max_conn = int(s["max_connections"]["setting"])
    known: dict[str, Any] = {"ram_bytes": ram, "ram_known": ram is not None}
    if ram is None:
        yield _f(
            "shared_buffers",
            Severity.OK,
            f"shared_buffers {human_bytes(shared)} (RAM of a remote server is unknown; "
            "aim for about 25% of it)",
            value_bytes=shared,
            **known,
        )
    else:
        share = 100 * shared / ram
        if share < 10 or share > 40:
            yield _f(
                "shared_buffers",
                Severity.WARNING,
                f"shared_buffers {human_bytes(shared)} is {share:.1f}% of "
                f"{human_bytes(ram)} RAM (expected 15-25%)",
                f"Set shared_buffers = {human_bytes(ram // 4)} (25% of RAM) and restart; "
                "the OS cache does the rest.",
                value_bytes=shared,
                percent_of_ram=round(share, 1),
                **known,
            )
        else:
            yield _f(
                "shared_buffers",
                Severity.OK,
                f"shared_buffers is {share:.0f}% of RAM",
                value_bytes=shared,
                **known,
            )
    # Each sort/hash node of each connection may use work_mem at once.
    worst = work * max_conn
    if ram is not None and worst > ram:
        yield _f(
            "work_mem",
            Severity.WARNING,
            f"work_mem {human_bytes(work)} x max_connections {max_conn} = "
            f"{human_bytes(worst)}, more than the {human_bytes(ram)} of RAM",
            "Lower work_mem globally and raise it per role or per query "
            "(SET LOCAL work_mem) for the reports that need it.",
            value_bytes=work,
            max_connections=max_conn,
            **known,
        )
    else:
        yield _f("work_mem", Severity.OK, f"work_mem {human_bytes(work)}", value_bytes=work)
    if maint < 64 << 20:
        yield _f(
            "maintenance_work_mem",
            Severity.WARNING,
            f"maintenance_work_mem {human_bytes(maint)}: VACUUM needs several index passes "
            "on big tables and CREATE INDEX spills to disk",
            "Set maintenance_work_mem = 256MB to 1GB (it is used by a few maintenance "
            "operations at a time, not per connection).",
            value_bytes=maint,
        )
    else:
        yield _f(
            "maintenance_work_mem",
            Severity.OK,
            f"maintenance_work_mem {human_bytes(maint)}",
            value_bytes=maint,
        )
    if max_conn >= MANY_CONNECTIONS:
        yield _f(
            "max_connections",
            Severity.WARNING,
            f"max_connections {max_conn}: each backend costs memory and snapshot work; "
            "hundreds of mostly idle connections slow everyone",
            "Put PgBouncer (transaction pooling) in front and lower max_connections to a "
            "few times the CPU count.",
            value=max_conn,
        )
    else:
        yield _f("max_connections", Severity.OK, f"max_connections {max_conn}", value=max_conn)


def _timeouts(s: dict[str, dict[str, Any]]) -> Iterator[Item]:
    idle = setting_seconds(s["idle_in_transaction_session_timeout"])
    if not idle:
        yield _f(
            "idle_in_transaction_session_timeout",
            Severity.WARNING,
            "idle_in_transaction_session_timeout is unset: one client that forgets to "
            "COMMIT holds its locks and blocks VACUUM until someone notices",
            "ALTER ROLE <app> SET idle_in_transaction_session_timeout = '5min' (or set it "
            "in postgresql.conf for every role).",
            value=s["idle_in_transaction_session_timeout"]["setting"],
        )
    else:
        yield _f(
            "idle_in_transaction_session_timeout",
            Severity.OK,
            f"idle_in_transaction_session_timeout {idle:g}s",
            value_s=idle,
        )
    stmt = setting_seconds(s["statement_timeout"])
    # A server-wide statement_timeout also kills pg_dump and migrations, so it is right to
    # leave it 0 here and set it per application role; say so, don't warn.
    yield _f(
        "statement_timeout",
        Severity.OK,
        f"statement_timeout {stmt:g}s server-wide"
        if stmt
        else "statement_timeout is 0 server-wide (set it per application role: "
        "ALTER ROLE <app> SET statement_timeout = '30s')",
        value_s=stmt or 0,
    )


def _logging_and_wal(pg: Postgres, s: dict[str, dict[str, Any]]) -> Iterator[Item]:
    slow_log = float(s["log_min_duration_statement"]["setting"])
    if slow_log < 0:
        yield _f(
            "log_min_duration_statement",
            Severity.WARNING,
            "log_min_duration_statement is off: slow statements leave no trace in the log",
            "Set log_min_duration_statement = '1s' (or lower) and reload.",
            value=slow_log,
        )
    else:
        yield _f(
            "log_min_duration_statement",
            Severity.OK,
            f"statements slower than {slow_log:g} ms are logged",
            value_ms=slow_log,
        )
    if s["wal_level"]["setting"] == "minimal":
        yield _f(
            "wal_level",
            Severity.WARNING,
            "wal_level = minimal: no point-in-time recovery, no replica can follow",
            "Set wal_level = replica and restart; archive WAL for point-in-time recovery.",
            value="minimal",
        )
    else:
        yield _f("wal_level", Severity.OK, f"wal_level {s['wal_level']['setting']}")
    try:
        bg = pg.query(BGWRITER_SQL)[0]
    except Exception:  # PG17 moved these to pg_stat_checkpointer
        bg = pg.query(
            "/* rota */ SELECT num_timed AS checkpoints_timed, num_requested AS checkpoints_req "
            "FROM pg_stat_checkpointer"
        )[0]
    timed, req = int(bg["checkpoints_timed"]), int(bg["checkpoints_req"])
    max_wal = setting_bytes(s["max_wal_size"]) or 0
    if req >= 10 and req > timed:
        yield _f(
            "max_wal_size",
            Severity.WARNING,
            f"{req} of {req + timed} checkpoints were forced by WAL volume: "
            f"max_wal_size {human_bytes(max_wal)} is too small for the write load",
            f"Raise max_wal_size (e.g. to {human_bytes(max_wal * 4)}) so checkpoints come "
            "from checkpoint_timeout; fewer checkpoints mean fewer full-page writes.",
            checkpoints_timed=timed,
            checkpoints_req=req,
            max_wal_size_bytes=max_wal,
        )
    else:
        yield _f(
            "max_wal_size",
            Severity.OK,
            f"checkpoints mostly on schedule ({timed} timed, {req} requested)",
            checkpoints_timed=timed,
            checkpoints_req=req,
            max_wal_size_bytes=max_wal,
        )


def _planner(s: dict[str, dict[str, Any]], local: bool) -> Iterator[Item]:
    off = sorted(n for n, r in s.items() if n.startswith("enable_") and r["setting"] == "off")
    off = [n for n in off if s[n]["source"] not in ("default", "override")]
    if off:
        yield _f(
            "enable_*",
            Severity.WARNING,
            f"planner methods disabled server-wide: {', '.join(off)}",
            "Turn them back on; disable a method only per session while investigating a plan.",
            settings=off,
        )
    rpc = float(s["random_page_cost"]["setting"])
    data_dir = str(s.get("data_directory", {}).get("setting") or "")
    rotational = _rotational(Path(data_dir)) if data_dir and local else None
    if rpc >= 4 and rotational is False:
        yield _f(
            "random_page_cost",
            Severity.WARNING,
            f"random_page_cost {rpc:g} assumes spinning disks, but the data directory is "
            "on an SSD: the planner avoids index scans it should use",
            "Set random_page_cost = 1.1 and reload.",
            value=rpc,
            storage="ssd",
        )
    else:
        yield _f(
            "random_page_cost",
            Severity.OK,
            f"random_page_cost {rpc:g}"
            + ("" if rotational is not None else " (storage type unknown from here)"),
            value=rpc,
            storage={True: "rotational", False: "ssd", None: "unknown"}[rotational],
        )


def _local_ram(pg: Postgres) -> int | None:
    """Total RAM when the database runs on this machine, else None (we cannot know)."""
    if not pg.is_local:
        return None
    import psutil

    return int(psutil.virtual_memory().total)


def _rotational(path: Path) -> bool | None:
    """Whether ``path`` sits on a spinning disk, from /sys; None when that cannot be told."""
    try:
        dev = os.stat(path).st_dev
        block = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}").resolve()
    except OSError:
        return None
    for candidate in (block, block.parent):  # a partition's queue is its disk's
        flag = candidate / "queue" / "rotational"
        if flag.is_file():
            return flag.read_text().strip() == "1"
    return None
