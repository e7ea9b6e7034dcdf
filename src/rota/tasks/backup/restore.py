"""The scratch database of ``backup.verify``: create, restore into, validate, always drop.

Validation compares the restored copy with the live database (read-only sessions on both):
row counts in the right direction and within the growth expected since the backup, a schema
fingerprint, the configured queries with their expectations, and the newest ``created_at``,
which is the recovery point the backup actually achieves.
"""

from __future__ import annotations

import hashlib
import operator
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rota.errors import TargetUnavailable
from rota.targets.postgres import Postgres
from rota.task import one_line

SCRATCH_PREFIX = "rota_verify_"
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
}
_EXPECT = re.compile(r"^\s*(>=|<=|==|!=|>|<|=)\s*(.+?)\s*$")

TABLES_SQL = """
SELECT n.nspname || '.' || c.relname AS name,
       quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS ident
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY 1
"""
# Indexes as pg_indexes lists them, valid ones only: pg_dump never dumps an invalid index
# (a failed CREATE INDEX CONCURRENTLY), so one in live is no drift (db.indexes reports it).
FINGERPRINT_SQL = """
SELECT 'column ' || table_schema || '.' || table_name || '.' || column_name || ' '
       || data_type || CASE WHEN is_nullable = 'NO' THEN ' not null' ELSE '' END AS item
FROM information_schema.columns
WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
UNION ALL
SELECT 'index ' || n.nspname || '.' || ic.relname || ' ' || pg_get_indexdef(ic.oid)
FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class ic ON ic.oid = x.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm', 'p') AND ic.relkind IN ('i', 'I') AND x.indisvalid
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
UNION ALL
SELECT 'constraint ' || n.nspname || '.' || cl.relname || '.' || co.conname || ' '
       || pg_get_constraintdef(co.oid)
FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid
JOIN pg_namespace n ON n.oid = cl.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1
"""
CREATED_AT_SQL = """
SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS ident
FROM information_schema.columns
WHERE column_name = 'created_at' AND data_type LIKE 'timestamp%'
  AND table_schema NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1
"""


# Scratch tables become UNLOGGED between the pre-data and data sections: COPY and the index
# builds then write no WAL (measured ~5% off the restore). The data, constraints and indexes
# restored are the same; only crash safety of the throwaway copy is given up. Partitioned
# tables are left alone: a logged partition may not reference an unlogged table.
UNLOGGED_SQL = """
SELECT c.oid::regclass::text AS ident, c.relkind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY 1
"""


class ExpectationError(ValueError):
    pass


@dataclass(frozen=True)
class Expectation:
    text: str
    op: str
    value: Any

    @classmethod
    def parse(cls, text: str) -> Expectation:
        """``> 0``, ``>= 100``, ``== 'ok'``, ``!= 0``, ``= true``; numbers, quoted strings,
        true/false/null."""
        m = _EXPECT.match(text or "")
        if not m:
            raise ExpectationError(
                f"expectation {text!r} is not '<op> <value>' with op one of > >= < <= == !="
            )
        raw = m.group(2)
        value: Any
        if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
            value = raw[1:-1]
        elif raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        elif raw.lower() == "null":
            value = None
        else:
            try:
                value = float(raw)
            except ValueError:
                raise ExpectationError(
                    f"expectation {text!r}: {raw!r} is not a number, a quoted string, "
                    "true, false or null"
                ) from None
        return cls(text.strip(), m.group(1), value)

    def check(self, got: Any) -> bool:
        if self.value is None or got is None:
            same = got is None and self.value is None
            return same if self.op in ("==", "=") else (not same if self.op == "!=" else False)
        left: Any = got
        if isinstance(self.value, float) and not isinstance(got, bool):
            try:
                left = float(got)
            except (TypeError, ValueError):
                return False
        elif isinstance(self.value, str):
            left = str(got)
        try:
            return bool(_OPS[self.op](left, self.value))
        except TypeError:
            return False


def scratch_name(taken: set[str]) -> str:
    """A fixed prefix plus random characters, never one of ``taken`` (the live database
    and every existing one)."""
    while True:
        name = SCRATCH_PREFIX + secrets.token_hex(6)
        if name not in taken:
            return name


def tables(pg: Postgres) -> dict[str, str]:
    """name (schema.table) → quoted identifier."""
    return {r["name"]: r["ident"] for r in pg.query(TABLES_SQL)}


def counts(pg: Postgres, idents: dict[str, str]) -> dict[str, int]:
    return {
        name: int(pg.scalar(f"SELECT count(*) FROM {ident}") or 0) for name, ident in idents.items()
    }


def fingerprint(pg: Postgres) -> tuple[str, set[str]]:
    items = {r["item"] for r in pg.query(FINGERPRINT_SQL)}
    return hashlib.sha256("\n".join(sorted(items)).encode()).hexdigest()[:16], items


@dataclass(frozen=True)
class LiveSide:
    """What validation compares the restored copy with, read from the live database."""

    tables: dict[str, str]
    fingerprint: str
    items: set[str]
    counts: dict[str, int]


def live_side(pg: Postgres) -> LiveSide:
    """Tables, schema fingerprint and row counts of live. Nothing here depends on the
    restore, so ``backup.verify`` reads it while pg_restore runs (live is only read)."""
    names = tables(pg)
    fp, items = fingerprint(pg)
    return LiveSide(names, fp, items, counts(pg, names))


SIZES_SQL = "SELECT t AS ident, pg_relation_size(t::regclass) AS bytes FROM unnest(%s::text[]) AS t"


@dataclass(frozen=True)
class Restored:
    """Row counts of the restored tables and the newest ``created_at`` among them."""

    counts: dict[str, int]
    newest: datetime | None
    newest_in: str


def count_restored(
    pg: Postgres, idents: dict[str, str], extra: Callable[[], Postgres] | None = None
) -> Restored:
    """Exact row counts of ``idents`` (name → quoted identifier) and the newest
    ``created_at``, one scan per table (``count(*)`` and ``max(created_at)`` together).

    With ``extra`` (a factory for a second session) the tables are split by size over two
    sessions, so the largest table is counted while the others are."""
    with_ts = {r["ident"] for r in pg.query(CREATED_AT_SQL)}
    order = sorted(idents.items())
    sizes: dict[str, int] = {}
    if extra is not None and len(order) > 1:
        sizes = {
            r["ident"]: int(r["bytes"] or 0) for r in pg.query(SIZES_SQL, ([i for _, i in order],))
        }
        order.sort(key=lambda ni: sizes.get(ni[1], 0), reverse=True)
    # Largest first, each to the lane with less to read so far.
    lanes: list[list[tuple[str, str]]] = [[], []]
    load = [0, 0]
    for name, ident in order:
        lane = 0 if extra is None or load[0] <= load[1] else 1
        lanes[lane].append((name, ident))
        load[lane] += sizes.get(ident, 0) + 1
    results: list[Restored] = []
    if extra is None or not lanes[1]:
        results.append(_count_lane(pg, lanes[0] + lanes[1], with_ts))
    else:
        from concurrent.futures import ThreadPoolExecutor

        def other() -> Restored | None:
            second = extra()
            try:
                try:
                    second.connect()
                except TargetUnavailable:
                    return None  # no second session (max_connections?): counted in the first
                return _count_lane(second, lanes[1], with_ts)
            finally:
                second.close()

        with ThreadPoolExecutor(1, thread_name_prefix="rota-count") as pool:
            fut = pool.submit(other)
            results.append(_count_lane(pg, lanes[0], with_ts))
            results.append(fut.result() or _count_lane(pg, lanes[1], with_ts))
    counted: dict[str, int] = {}
    best: datetime | None = None
    where = ""
    for r in results:
        counted.update(r.counts)
        if r.newest is not None and (best is None or r.newest > best):
            best, where = r.newest, r.newest_in
    # created_at outside the compared tables (views, tables live lacks) still bounds the RPO.
    for ident in sorted(with_ts - set(idents.values())):
        v = _aware(pg.scalar(f"SELECT max(created_at) FROM {ident}"))
        if v is not None and (best is None or v > best):
            best, where = v, ident
    return Restored({n: counted[n] for n in sorted(counted)}, best, where)


def _count_lane(pg: Postgres, tables: list[tuple[str, str]], with_ts: set[str]) -> Restored:
    counted: dict[str, int] = {}
    best: datetime | None = None
    where = ""
    for name, ident in tables:
        if ident in with_ts:
            row = pg.query(f"SELECT count(*) AS n, max(created_at) AS newest FROM {ident}")[0]
            v = _aware(row["newest"])
            if v is not None and (best is None or v > best):
                best, where = v, ident
        else:
            row = {"n": pg.scalar(f"SELECT count(*) FROM {ident}")}
        counted[name] = int(row["n"] or 0)
    return Restored(counted, best, where)


def _aware(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    return None


def usable_options(url: str, options: str, connect_timeout: float = 10) -> tuple[str, str]:
    """``options`` (PGOPTIONS for the restore sessions) when the server accepts them from
    this role, else ``""`` and the server's reason: a setting the role may not change, or one
    the server does not know, would otherwise fail the restore itself."""
    import psycopg

    timeout = max(1, int(connect_timeout))
    try:
        psycopg.connect(url, connect_timeout=timeout, options=options).close()
        return options, ""
    except psycopg.Error as exc:
        reason = one_line(exc)
    try:
        psycopg.connect(url, connect_timeout=timeout).close()
    except psycopg.Error:
        return options, ""  # not the options' fault: let the restore report the real cause
    return "", reason


def set_unlogged(url: str, connect_timeout: float = 10) -> tuple[int, str]:
    """Make the (still empty) tables of the scratch database UNLOGGED, all or none.

    Returns how many were changed, or 0 and why not (then every table stays logged, so
    foreign keys between logged and unlogged tables can never fail the restore)."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=max(1, int(connect_timeout))) as conn:
            rows = conn.execute(UNLOGGED_SQL).fetchall()
            if any(kind == "p" for _ident, kind in rows):
                return 0, "partitioned tables present"
            for ident, _kind in rows:
                conn.execute(f"ALTER TABLE {ident} SET UNLOGGED")
            conn.commit()
            return len(rows), ""
    except psycopg.Error as exc:
        return 0, one_line(exc)


def count_allowance(live: int, age_days: float, growth_percent: float) -> int:
    """Rows a table may have gained since the backup: growth% per day of age (≥ 1 day)."""
    return int(live * growth_percent / 100 * max(1.0, age_days)) + 1
