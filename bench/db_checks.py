"""The whole db.* check set on 2,000 tables and 10M rows, against PgHero/check_postgres-style
queries run by psql on the same data, and the strongest lock rota takes while it runs.

Builds a throwaway cluster in a temp dir (rota_sandbox.postgres.Cluster), times every
registered task whose id starts with ``db.`` in check mode through the Engine (median of
3), samples pg_locks from a second connection during the runs, and always stops the
cluster. Target: the whole check set under 5 s, no lock stronger than ACCESS SHARE.

Run: ``python bench/db_checks.py [task ids]`` (loading the data takes 15-30 s).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SMALL_TABLES = 2000
SMALL_ROWS = 1000  # 2M rows in the small tables
BIG_TABLES = 4
BIG_ROWS = 2_000_000  # 8M rows in the big ones
RUNS = 3
TARGET_S = 5.0

LOCK_ORDER = [
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
]

# What the competitors run for the same checks, as their sources write them (trimmed to
# the parts that read the catalog). Grouped by the rota task they stand against.
COMPETITOR_QUERIES: dict[str, list[tuple[str, str]]] = {
    "db.connections": [
        (
            "check_postgres backends",
            "SELECT count(*), current_setting('max_connections') FROM pg_stat_activity",
        ),
        (
            "check_postgres txn_idle",
            "SELECT pid, now() - state_change, query FROM pg_stat_activity "
            "WHERE state = 'idle in transaction' ORDER BY 2 DESC",
        ),
        (
            "check_postgres query_time",
            "SELECT pid, now() - query_start FROM pg_stat_activity WHERE state = 'active' "
            "ORDER BY 2 DESC",
        ),
        (
            "check_postgres txn_time",
            "SELECT pid, now() - xact_start FROM pg_stat_activity "
            "WHERE xact_start IS NOT NULL ORDER BY 2 DESC",
        ),
        (
            "PgHero blocked_queries",
            "SELECT a.pid, pg_blocking_pids(a.pid) FROM pg_stat_activity a "
            "WHERE cardinality(pg_blocking_pids(a.pid)) > 0",
        ),
    ],
    "db.indexes": [
        (
            "PgHero invalid_indexes",
            "SELECT c.relname AS index FROM pg_catalog.pg_class c, pg_catalog.pg_namespace n, "
            "pg_catalog.pg_index i WHERE i.indisvalid = false AND i.indexrelid = c.oid "
            "AND c.relnamespace = n.oid AND n.nspname != 'pg_catalog' "
            "AND n.nspname != 'information_schema' AND n.nspname != 'pg_toast' ORDER BY c.relname",
        ),
        (
            "PgHero unused_indexes",
            "SELECT schemaname, relname, indexrelname, pg_relation_size(i.indexrelid), idx_scan "
            "FROM pg_stat_user_indexes ui INNER JOIN pg_index i ON ui.indexrelid = i.indexrelid "
            "WHERE NOT indisunique AND idx_scan <= 50 "
            "ORDER BY pg_relation_size(i.indexrelid) DESC, relname ASC",
        ),
        (
            "PgHero indexes (duplicate_indexes compares them in Ruby)",
            "SELECT schemaname, t.relname, ix.relname, regexp_replace(pg_get_indexdef("
            "i.indexrelid), '^[^\\(]*\\((.*)\\)$', '\\1') AS columns, "
            "regexp_replace(pg_get_indexdef(i.indexrelid), '.* USING ([^ ]*) \\(.*', '\\1'), "
            "indisunique, indisprimary, indisvalid, indexprs::text, indpred::text, "
            "pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "INNER JOIN pg_class t ON t.oid = i.indrelid "
            "INNER JOIN pg_class ix ON ix.oid = i.indexrelid "
            "LEFT JOIN pg_stat_user_indexes ui ON ui.indexrelid = i.indexrelid "
            "WHERE schemaname IS NOT NULL ORDER BY 1, 2",
        ),
    ],
    "db.analyze": [
        (
            "PgHero maintenance_info",
            "SELECT schemaname, relname, last_vacuum, last_autovacuum, last_analyze, "
            "last_autoanalyze FROM pg_stat_user_tables ORDER BY 1, 2",
        ),
    ],
    "db.vacuum": [
        (
            "PgHero maintenance_info",
            "SELECT schemaname, relname, last_vacuum, last_autovacuum, last_analyze, "
            "last_autoanalyze FROM pg_stat_user_tables ORDER BY 1, 2",
        ),
        (
            "PgHero table_stats (dead_rows)",
            "SELECT schemaname, relname, n_dead_tup, n_live_tup, pg_total_relation_size("
            "relid) FROM pg_stat_user_tables ORDER BY 1, 2",
        ),
    ],
    "db.tuning": [
        (
            "PgHero transaction_id_danger",
            "SELECT n.nspname, c.relname, 2146483648 - GREATEST(AGE(c.relfrozenxid), "
            "AGE(t.relfrozenxid)) AS left FROM pg_class c JOIN pg_namespace n "
            "ON c.relnamespace = n.oid LEFT JOIN pg_class t ON c.reltoastrelid = t.oid "
            "WHERE c.relkind = 'r' AND 2146483648 - GREATEST(AGE(c.relfrozenxid), "
            "AGE(t.relfrozenxid)) < 1500000000 ORDER BY 3",
        ),
        (
            "check_postgres txn_wraparound",
            "SELECT datname, age(datfrozenxid) FROM pg_database WHERE datallowconn",
        ),
        (
            "PgHero sequences",
            "SELECT n.nspname, c.relname AS seq, t.relname AS tbl, a.attname, "
            "format_type(a.atttypid, NULL), s.last_value FROM pg_class c "
            "JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass "
            "AND d.refclassid = 'pg_class'::regclass JOIN pg_class t ON t.oid = d.refobjid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a "
            "ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid JOIN pg_sequences s "
            "ON s.schemaname = n.nspname AND s.sequencename = c.relname "
            "WHERE c.relkind = 'S'",
        ),
        (
            "PgHero query_stats",
            "SELECT query, calls, total_exec_time, total_exec_time / calls FROM "
            "pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database "
            "WHERE datname = current_database()) ORDER BY 3 DESC LIMIT 100",
        ),
        ("PgHero settings", "SELECT name, setting, unit FROM pg_settings"),
    ],
}


def build(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as c:
        c.execute(
            f"""DO $$ BEGIN FOR i IN 1..{SMALL_TABLES} LOOP
              EXECUTE format('CREATE TABLE t%s (id serial PRIMARY KEY, v int, s text)', i);
              EXECUTE format('INSERT INTO t%s (v, s) SELECT g, g::text
                              FROM generate_series(1, {SMALL_ROWS}) g', i);
              COMMIT;  -- one transaction per table: 2,000 in one would exhaust the lock table
            END LOOP; END $$"""
        )
        for i in range(BIG_TABLES):
            c.execute(f"CREATE TABLE big{i} (id bigint, v int, note text)")
            c.execute(
                f"INSERT INTO big{i} SELECT g, g % 1000, 'row ' || g "
                f"FROM generate_series(1, {BIG_ROWS}) g"
            )
            c.execute(f"CREATE INDEX ON big{i} (v)")
        c.execute("VACUUM ANALYZE")
        for i in range(1, 200):  # some workload for pg_stat_statements
            c.execute(f"SELECT count(*) FROM t{i} WHERE v > %s", (i,))
        for i in range(BIG_TABLES):
            c.execute(f"SELECT count(*) FROM big{i} WHERE note LIKE 'row 1%%'")


class LockSampler(threading.Thread):
    """Polls pg_locks for rota's sessions (application_name 'rota:%') until stopped."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.modes: dict[str, int] = {}
        self.examples: dict[str, str] = {}  # mode -> one "application: relation" holding it
        self.samples = 0

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True, application_name="bench:locks") as c:
            while not self.stop.is_set():
                for mode, n, example in c.execute(
                    "SELECT l.mode, count(*), min(a.application_name || ': ' "
                    "|| l.relation::regclass::text || ' granted=' || l.granted) "
                    "FROM pg_locks l JOIN pg_stat_activity a "
                    "ON a.pid = l.pid WHERE a.application_name LIKE 'rota:%%' "
                    "AND l.locktype = 'relation' GROUP BY 1"
                ):
                    self.modes[mode] = self.modes.get(mode, 0) + n
                    self.examples.setdefault(mode, example)
                self.samples += 1
                time.sleep(0.002)

    def strongest(self) -> str:
        seen = [m for m in LOCK_ORDER if m in self.modes]
        return seen[-1] if seen else "none seen"


def time_psql(url: str, queries: list[tuple[str, str]]) -> float:
    psql = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        for _name, sql in queries:
            subprocess.run(
                [psql, "-X", "-q", "-d", url, "-c", sql],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
            )
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    from rota.app import App
    from rota.config import parse_config
    from rota.engine import Engine
    from rota_sandbox.postgres import Cluster

    tmp = Path(tempfile.mkdtemp(prefix="rota-bench-db-"))
    cluster = Cluster(tmp / "data")
    try:
        cluster.init()
        cluster.start()
        url = cluster.create_database("bench")
        t0 = time.perf_counter()
        build(url)
        print(
            f"built {SMALL_TABLES} small + {BIG_TABLES} big tables, "
            f"{SMALL_TABLES * SMALL_ROWS + BIG_TABLES * BIG_ROWS:,} rows "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        # Optional arguments narrow the set to some task ids ("db.connections db.tuning").
        wanted = set(sys.argv[1:])
        tasks = sorted(
            (t for t in App().tasks if t.id.startswith("db.") and (not wanted or t.id in wanted)),
            key=lambda t: t.id,
        )
        cfg = parse_config(f'[database]\nurl = "{url}"\n')
        engine = Engine(cfg, None, lock_dir=tmp / "locks")
        sampler = LockSampler(url)
        sampler.start()
        per_task: dict[str, float] = {}
        statuses: dict[str, str] = {}
        for t in tasks:
            runs = []
            for _ in range(RUNS):
                s = time.perf_counter()
                outcome = engine.run([t]).tasks[0]
                runs.append(time.perf_counter() - s)
                statuses[t.id] = outcome.error or outcome.status.value
            per_task[t.id] = statistics.median(runs)
        whole = []
        for _ in range(RUNS):
            s = time.perf_counter()
            engine.run(tasks)
            whole.append(time.perf_counter() - s)
        sampler.stop.set()
        sampler.join(5)
        total = statistics.median(whole)
        print(f"\nrota db.* checks (check mode, Engine, median of {RUNS})")
        print(f"  {'task':<18} {'rota':>9} {'psql equivalent':>16} {'ratio':>7}  status")
        for tid, secs in per_task.items():
            queries = COMPETITOR_QUERIES.get(tid)
            other = time_psql(url, queries) if queries else None
            ratio = f"{secs / other:6.2f}x" if other else "      -"
            other_s = f"{other * 1000:13.0f} ms" if other else "              -"
            print(f"  {tid:<18} {secs * 1000:6.0f} ms {other_s} {ratio}  {statuses[tid]}")
        print(f"  {'whole set':<18} {total * 1000:6.0f} ms   (target < {TARGET_S:.0f} s)")
        for tid, queries in COMPETITOR_QUERIES.items():
            print(f"  psql set for {tid}: " + ", ".join(name for name, _ in queries))
        strongest = sampler.strongest()
        print(
            f"\nlocks held by rota sessions ({sampler.samples} samples of pg_locks): "
            f"{dict(sorted(sampler.modes.items()))}; strongest: {strongest}"
        )
        for mode, example in sampler.examples.items():
            print(f"  e.g. {mode}: {example}")
        ok = total < TARGET_S and strongest in ("AccessShareLock", "none seen")
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        cluster.destroy()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
