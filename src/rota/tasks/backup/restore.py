"""The scratch database of ``backup.verify``: create, restore into, validate, always drop.

Validation compares the restored copy with the live database (read-only sessions on both):
row counts in the right direction and within the growth expected since the backup, a schema
fingerprint, the configured queries with their expectations, and the newest ``created_at``,
which is the recovery point the backup actually achieves.
"""

from __future__ import annotations

import contextlib
import hashlib
import operator
import re
import secrets
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rota.errors import TargetUnavailable
from rota.targets.postgres import Postgres
from rota.text import error_line

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

    @classmethod
    def merge(cls, parts: Iterable[Restored]) -> Restored:
        """All the parts' counts, and the newest row among them."""
        counts: dict[str, int] = {}
        newest: datetime | None = None
        where = ""
        for r in parts:
            counts.update(r.counts)
            if r.newest is not None and (newest is None or r.newest > newest):
                newest, where = r.newest, r.newest_in
        return cls(counts, newest, where)


def count_restored(
    pg: Postgres,
    idents: dict[str, str],
    extra: Callable[[], Postgres] | None = None,
    early: Restored | None = None,
) -> Restored:
    """Exact row counts of ``idents`` (name → quoted identifier) and the newest
    ``created_at``, one scan per table (``count(*)`` and ``max(created_at)`` together).

    With ``extra`` (a factory for a second session) the tables are split by size over two
    sessions, so the largest table is counted while the others are. Tables in ``early``
    (counted while pg_restore was still working, see :class:`EarlyCounts`) are not read again."""
    with_ts = {r["ident"] for r in pg.query(CREATED_AT_SQL)}
    done = early or Restored({}, None, "")
    order = sorted((n, i) for n, i in idents.items() if n not in done.counts)
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
    results: list[Restored] = [done]
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
    # created_at outside the compared tables (views, tables live lacks) still bounds the RPO.
    for ident in sorted(with_ts - set(idents.values())):
        results.append(
            Restored({}, _aware(pg.scalar(f"SELECT max(created_at) FROM {ident}")), ident)
        )
    got = Restored.merge(results)
    counts = {n: got.counts[n] for n in sorted(got.counts) if n in idents}
    return Restored(counts, got.newest, got.newest_in)


# Post-data items whose statement takes ACCESS EXCLUSIVE on its table (ALTER TABLE ... ADD
# CONSTRAINT, CREATE RULE/POLICY, ENABLE ROW LEVEL SECURITY). A count holding ACCESS SHARE would
# hold them up, so early counts wait until none is left; CREATE INDEX and foreign key checks
# (SHARE, SHARE ROW EXCLUSIVE) run beside a count. On two cores the key checks leave one idle.
_EXCLUSIVE = ("CONSTRAINT ", "CHECK CONSTRAINT ", "RULE ", "POLICY ", "ROW SECURITY ")
_TOC_ITEM = re.compile(r"^(\d+); \d+ \d+ (.*)$")
_FINISHED = re.compile(r"^finished item (\d+) (.*)$")
# pg_restore writes a message in pieces ("pg_restore:", " ", "error: " for a problem, then
# the text and its newline), and the leader and its workers share stderr, so one process's
# pieces can land at the start of another's line; the text itself always stays whole.
_PIECES = re.compile(r"^(?:pg_restore:| |error: |warning: |detail: |hint: )*")
# What pg_restore --verbose says as it goes; anything else is kept for the error message.
_PROGRESS = re.compile(
    r"^(?:connecting to database|creating |entering |executing |finished item |finished main"
    r"|launching item |processing item |processing data for table |implied data-only"
    r"|setting owner and privileges|skipping item|transferring dependency|reducing dependencies"
    r"|restoring large object|restored \d+ large object)"
)


class EarlyCounts:
    """Counts restored tables while ``pg_restore -j`` is still indexing and checking keys.

    Fed ``pg_restore -v``'s stderr, line by line. A TABLE DATA item it reports finished has
    been committed, and nothing later in a restore adds or removes rows, so its count is the
    count validation would read after the restore. Each table is counted once no
    constraint, rule or policy item is left to run (see ``_EXCLUSIVE``), in one read-only
    session of its own, one table at a time. Whatever is not counted here (a failed
    session, a table it cannot name) is counted after the restore as before.
    """

    def __init__(self, listing: str, session: Callable[[], Postgres]) -> None:
        self._data: dict[int, str] = {}  # TABLE DATA dump id → "<schema> <table> <owner>"
        self._exclusive: set[int] = set()
        for line in listing.splitlines():
            m = _TOC_ITEM.match(line)
            if not m:
                continue
            dump_id, rest = int(m.group(1)), m.group(2)
            if rest.startswith("TABLE DATA "):
                self._data[dump_id] = rest.removeprefix("TABLE DATA ")
            elif rest.startswith(_EXCLUSIVE):
                self._exclusive.add(dump_id)
        self._session = session
        self._pg: Postgres | None = None
        self._names: dict[str, str] = {}
        self._with_ts: set[str] = set()
        self._waiting: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="rota-early-count")
        self._jobs: list[Future[Restored]] = []
        self.problems: list[str] = []  # why some tables were left to count afterwards

    def line(self, text: str) -> bool:
        """One stderr line of ``pg_restore -v``; True when it was progress, not a problem.

        A problem's level ("error: ") that another process's progress text ended up behind
        is dropped with that line; the problem's own text comes on a line of its own."""
        message = _PIECES.sub("", text, count=1)
        if not _PROGRESS.match(message):
            return False
        m = _FINISHED.match(message)
        if m:
            dump_id = int(m.group(1))
            with self._lock:
                self._exclusive.discard(dump_id)
                if dump_id in self._data:
                    self._waiting.append((dump_id, m.group(2).removeprefix("TABLE DATA ")))
                if self._waiting and not self._exclusive:
                    batch, self._waiting = self._waiting, []
                    self._jobs.append(self._pool.submit(self._count, batch))
        return True

    def _count(self, batch: list[tuple[int, str]]) -> Restored:
        if self._pg is None:
            self._pg = self._session()
            # Fill the idle core; parallel workers would take the key checks' one too.
            self._pg.query("SELECT set_config('max_parallel_workers_per_gather', '0', false)")
            self._names = tables(self._pg)
            self._with_ts = {r["ident"] for r in self._pg.query(CREATED_AT_SQL)}
        wanted: list[tuple[str, str]] = []
        for dump_id, table in batch:
            rest = self._data[dump_id]
            cut = rest.find(f" {table} ")
            name = f"{rest[:cut]}.{table}" if cut > 0 else ""
            if name in self._names:
                wanted.append((name, self._names[name]))
        return _count_lane(self._pg, wanted, self._with_ts)

    def result(self) -> Restored:
        """What was counted (call after pg_restore ended); counts that failed are left out."""
        done: list[Restored] = []
        for job in self._jobs:
            try:
                done.append(job.result())
            except Exception as exc:
                self.problems.append(error_line(exc, typed=True))
        return Restored.merge(done)

    def close(self) -> None:
        """Stop counting and close the session (before the scratch database is dropped)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._pg is not None:
            with contextlib.suppress(Exception):
                self._pg.close()


def _count_lane(pg: Postgres, tables: list[tuple[str, str]], with_ts: set[str]) -> Restored:
    parts: list[Restored] = []
    for name, ident in tables:
        if ident in with_ts:
            row = pg.query(f"SELECT count(*) AS n, max(created_at) AS newest FROM {ident}")[0]
            parts.append(Restored({name: int(row["n"] or 0)}, _aware(row["newest"]), ident))
        else:
            parts.append(
                Restored({name: int(pg.scalar(f"SELECT count(*) FROM {ident}") or 0)}, None, "")
            )
    return Restored.merge(parts)


def _aware(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    return None


def usable_options(pg: Postgres, options: str) -> tuple[str, str]:
    """``options`` (PGOPTIONS for the restore sessions) when the server accepts them from
    ``pg``'s role in ``pg``'s database, else ``""`` and the server's reason: a setting the
    role may not change, or one the server does not know, would otherwise fail the restore
    itself. ``pg`` itself is not opened: each probe is a session of its own."""
    reason = _refusal(pg, options)
    if not reason:
        return options, ""
    if _refusal(pg, ""):
        return options, ""  # not the options' fault: let the restore report the real cause
    return "", reason


def _refusal(pg: Postgres, options: str) -> str:
    """Why a session like ``pg`` with ``options`` cannot be opened ("" when it can)."""
    probe = pg.sibling(options=options)
    try:
        probe.connect()
    except TargetUnavailable as exc:
        return str(exc)
    finally:
        probe.close()
    return ""


def set_unlogged(pg: Postgres) -> tuple[int, str]:
    """Make the (still empty) tables of the scratch database UNLOGGED, all or none, through
    ``pg``, a writable session in it.

    Returns how many were changed, or 0 and why not (then every table stays logged, so
    foreign keys between logged and unlogged tables can never fail the restore)."""
    import psycopg

    try:
        with pg.transaction():
            rows = pg.query(UNLOGGED_SQL)
            if any(r["relkind"] == "p" for r in rows):
                return 0, "partitioned tables present"
            for r in rows:
                pg.execute(f"ALTER TABLE {r['ident']} SET UNLOGGED")
            return len(rows), ""
    except (psycopg.Error, TargetUnavailable) as exc:
        return 0, error_line(exc, typed=True)


def count_allowance(live: int, age_days: float, growth_percent: float) -> int:
    """Rows a table may have gained since the backup: growth% per day of age (≥ 1 day)."""
    return int(live * growth_percent / 100 * max(1.0, age_days)) + 1
