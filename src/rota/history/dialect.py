"""The small differences between SQLite and PostgreSQL, kept in one place.

The store writes one SQL text with ``?`` placeholders and ``{id}``-style type names in its
schema; a :class:`Dialect` turns those into what each database expects, converts
timestamps and JSON on the way in and out, and opens connections. Both drivers are
imported only when a store of that kind is opened, so ``import rota.history`` stays cheap.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

BUSY_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 10
# Key of the PostgreSQL advisory lock that serialises migrations between processes.
MIGRATION_LOCK_KEY = 0x726F7461  # "rota"


class Dialect:
    """What differs between the two databases. Subclasses fill in the class attributes."""

    name = ""
    types: ClassVar[dict[str, str]] = {}
    # Errors the driver raises; the store turns them into HistoryError.
    errors: tuple[type[BaseException], ...] = ()

    def sql(self, text: str) -> str:
        """``text`` with ``?`` placeholders in this driver's parameter style."""
        return text

    def schema(self, text: str) -> str:
        """A schema statement with ``{id}``, ``{ts}``, ``{json}``... filled in."""
        return text.format(**self.types)

    def ts_in(self, dt: datetime) -> Any:
        return as_utc(dt)

    def ts_out(self, value: Any) -> datetime:
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return datetime.fromisoformat(value).astimezone(UTC)

    def bool_in(self, value: bool) -> Any:
        return bool(value)

    def json_field(self, column: str) -> str:
        """An expression comparing one top-level key of a JSON column: takes the key as a
        parameter (see :meth:`json_key`) and yields text."""
        raise NotImplementedError

    def json_key(self, key: str) -> str:
        return key

    def table_exists(self, conn: Any, table: str) -> bool:
        raise NotImplementedError

    def transaction(self, conn: Any) -> AbstractContextManager[None]:
        """A write transaction that holds the write lock from its first statement."""
        raise NotImplementedError

    def lock_migrations(self, conn: Any) -> None:
        """Inside a transaction: block other processes migrating the same store."""

    def is_broken(self, conn: Any) -> bool:
        """Whether the connection died (server restart) and must be reopened."""
        return False


class SQLiteDialect(Dialect):
    name = "sqlite"
    types: ClassVar[dict[str, str]] = {
        "id": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "ref": "INTEGER",
        "ts": "TEXT",
        "json": "TEXT",
        "bool": "INTEGER",
        "false": "0",
        "float": "REAL",
    }

    def __init__(self) -> None:
        import sqlite3

        self.errors = (sqlite3.Error,)

    def connect(self, path: str) -> Any:
        import sqlite3

        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # isolation_level=None: the store issues BEGIN/COMMIT itself, so schema changes
        # are transactional too and write transactions can take the lock up front.
        # check_same_thread=False: a task's worker thread saves state through the same
        # connection; the store serialises every call with its own lock.
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        try:
            # WAL lets readers (the dashboard) and one writer proceed together, and with
            # the busy timeout a second rota process waits for its turn instead of failing.
            _set_wal(conn, sqlite3.OperationalError)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def ts_in(self, dt: datetime) -> Any:
        # Fixed-width ISO text in UTC sorts and compares like the instant it names.
        return as_utc(dt).isoformat(timespec="microseconds")

    def bool_in(self, value: bool) -> Any:
        return 1 if value else 0

    def json_field(self, column: str) -> str:
        return f"json_extract({column}, ?)"

    def json_key(self, key: str) -> str:
        return '$."' + key + '"'

    def table_exists(self, conn: Any, table: str) -> bool:
        row = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        return row is not None

    def transaction(self, conn: Any) -> AbstractContextManager[None]:
        return _sqlite_transaction(conn, self.errors)


def _set_wal(conn: Any, busy: type[Exception]) -> None:
    # Switching a fresh file to WAL needs an exclusive lock, and SQLite reports "database
    # is locked" at once, without the busy handler, when two processes switch together
    # (each holds the shared lock the other waits on). Back off and retry instead.
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL").fetchall()
            return
        except busy as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.01, 0.05))


@contextmanager
def _sqlite_transaction(conn: Any, errors: tuple[type[BaseException], ...]) -> Iterator[None]:
    # IMMEDIATE takes the write lock now (waiting up to busy_timeout); a deferred
    # transaction that upgrades from read to write fails at once with "database is locked".
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        with suppress(*errors):
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class PostgresDialect(Dialect):
    name = "postgresql"
    types: ClassVar[dict[str, str]] = {
        "id": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        "ref": "BIGINT",
        "ts": "TIMESTAMPTZ",
        "json": "JSONB",
        "bool": "BOOLEAN",
        "false": "false",
        "float": "DOUBLE PRECISION",
    }

    def __init__(self) -> None:
        import psycopg

        self.errors = (psycopg.Error,)

    def connect(self, conninfo: str) -> Any:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict
        from psycopg.types.string import TextLoader

        params: dict[str, Any] = {"autocommit": True}
        given = conninfo_to_dict(conninfo)
        if "connect_timeout" not in given:
            params["connect_timeout"] = CONNECT_TIMEOUT_S
        if "application_name" not in given:
            params["application_name"] = "rota"
        conn = psycopg.connect(conninfo, **params)
        try:
            conn.execute("SET TIME ZONE 'UTC'")
            # JSON comes back as text, exactly as from SQLite, and one decoder serves both.
            conn.adapters.register_loader("jsonb", TextLoader)
        except BaseException:
            conn.close()
            raise
        return conn

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def json_field(self, column: str) -> str:
        return f"{column} ->> ?"

    def table_exists(self, conn: Any, table: str) -> bool:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
        return bool(row and row[0])

    def transaction(self, conn: Any) -> AbstractContextManager[None]:
        return conn.transaction()

    def lock_migrations(self, conn: Any) -> None:
        conn.execute(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")

    def is_broken(self, conn: Any) -> bool:
        return bool(conn.closed)


def as_utc(dt: datetime) -> datetime:
    """``dt`` in UTC; a naive datetime is a caller's bug, not something to guess about."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"history: naive datetime {dt.isoformat()}; pass a timezone-aware one")
    return dt.astimezone(UTC)


def default_sqlite_path() -> Path:
    """``$XDG_STATE_HOME/rota/history.db``, or ``~/.local/state/rota/history.db``."""
    state = os.environ.get("XDG_STATE_HOME", "")
    base = Path(state) if state and os.path.isabs(state) else Path.home() / ".local" / "state"
    return base / "rota" / "history.db"
