"""PostgreSQL target: one session with rota's safety settings, over psycopg 3.

Every session carries ``statement_timeout`` (a locked table delays a check, never hangs
the run) and ``lock_timeout`` (rota never queues application traffic behind its own lock
request). In check mode the session is read-only at the server
(``default_transaction_read_only``), so a mistaken write fails instead of changing data.
"""

from __future__ import annotations

import functools
import os
import threading
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rota.errors import TargetUnavailable
from rota.redact import redact_url
from rota.text import error_line

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg.rows import DictRow

# First key of rota's advisory locks: the bytes "rota" as a signed 32-bit integer.
ADVISORY_NAMESPACE = 0x726F7461
# Hosts that put the server on this machine ("": libpq's default, a local socket).
LOCAL_HOSTS = ("", "localhost", "127.0.0.1", "::1")

# A statement's parameters: positional (%s) or named (%(name)s).
Params = Sequence[Any] | dict[str, Any] | None


class LockTimeout(Exception):
    """A read gave up waiting for a lock (its ``lock_timeout``); nothing else went wrong."""


def describe_url(url: str) -> str:
    """host:port/dbname for messages, without user or password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        d = conninfo_to_dict(url)
    except Exception:
        return redact_url(url)
    host = d.get("host") or "localhost"
    return f"{host}:{d.get('port') or 5432}/{d.get('dbname') or ''}"


class Postgres:
    """A lazily opened session. ``query`` returns rows as dicts."""

    def __init__(
        self,
        url: str,
        *,
        readonly: bool = True,
        connect_timeout: float = 5,
        statement_timeout: float = 60,
        lock_timeout: float = 5,
        application_name: str = "rota",
        options: str = "",
    ) -> None:
        self.url = url
        self.readonly = readonly
        self.connect_timeout = connect_timeout
        self.statement_timeout = statement_timeout
        self.lock_timeout = lock_timeout
        self.application_name = application_name
        self.options = options  # more server settings for the session ("-c name=value ...")
        self._conn: Connection[DictRow] | None = None
        # Reentrant: a read inside transaction() runs on the thread that holds it.
        self._lock = threading.RLock()

    @property
    def where(self) -> str:
        return describe_url(self.url)

    # -- the connection, for what connects on its own ------------------------------------
    @property
    def host(self) -> str:
        """The server's host as libpq resolves it ("" for its default: a local socket)."""
        params = _conninfo(self.url)
        return params.get("host") or os.environ.get("PGHOST", "")

    @property
    def is_local(self) -> bool:
        """Whether the server runs on this machine (a socket, localhost, a loopback
        address): only then are its data directory and memory the ones rota can see."""
        try:
            hosts = [h.strip() for h in self.host.split(",")]
        except TargetUnavailable:
            return False
        # A path (or an abstract socket, "@name") is a Unix-domain socket: this machine.
        return all(h in LOCAL_HOSTS or h.startswith(("/", "@")) for h in hosts)

    def dsn(self, dbname: str | None = None) -> str:
        """A libpq conninfo for this server (for database ``dbname`` when given) without
        the password: what a client program may carry on its command line."""
        params = _conninfo(self.url, dbname)
        params.pop("password", None)
        from psycopg.conninfo import make_conninfo

        return make_conninfo("", **params)

    def libpq_env(self, dbname: str | None = None) -> dict[str, str]:
        """The same connection as libpq's environment (PGHOST, PGPORT, PGDATABASE, PGUSER,
        PGPASSWORD, PGSSLMODE...): how a child process gets the password, which must never
        be in its arguments, and everything else when it takes no conninfo (pg_repack)."""
        names = _env_vars()
        params = _conninfo(self.url, dbname)
        return {names[k]: v for k, v in params.items() if k in names}

    def sibling(
        self,
        dbname: str | None = None,
        *,
        url: str | None = None,
        readonly: bool | None = None,
        statement_timeout: float | None = None,
        application_name: str | None = None,
        options: str | None = None,
    ) -> Postgres:
        """Another session with this one's settings, on database ``dbname`` of the same
        server (of the server at ``url`` instead, when given), changed as asked. It opens
        when first used; the caller closes it (and registers its cancel, if it needs one)."""
        base = self.url if url is None else url
        if dbname is not None:
            from psycopg.conninfo import make_conninfo

            base = make_conninfo("", **_conninfo(base, dbname))
        if statement_timeout is None:
            statement_timeout = self.statement_timeout
        return Postgres(
            base,
            readonly=self.readonly if readonly is None else readonly,
            connect_timeout=self.connect_timeout,
            statement_timeout=statement_timeout,
            lock_timeout=self.lock_timeout,
            application_name=application_name or self.application_name,
            options=self.options if options is None else options,
        )

    def connect(self) -> Connection[DictRow]:
        if self._conn is not None:
            return self._conn
        import psycopg
        from psycopg.rows import dict_row

        options = (
            f"-c statement_timeout={int(self.statement_timeout * 1000)} "
            f"-c lock_timeout={int(self.lock_timeout * 1000)}"
        )
        if self.readonly:
            options += " -c default_transaction_read_only=on"
        if self.options:
            options += " " + self.options
        try:
            self._conn = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=max(1, int(self.connect_timeout)),
                application_name=self.application_name[:63],
                options=options,
                row_factory=dict_row,
            )
        except psycopg.Error as exc:
            raise TargetUnavailable(
                f"database {self.where} unreachable: {error_line(exc)}"
            ) from None
        return self._conn

    def query(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        conn = self.connect()
        with self._lock, conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []

    def scalar(self, sql: str, params: Params = None) -> Any:
        rows = self.query(sql, params)
        if not rows:
            return None
        return next(iter(rows[0].values()))

    def read(
        self,
        sql: str,
        params: Params = None,
        *,
        lock_timeout: float,
    ) -> list[dict[str, Any]]:
        """``query`` in a read-only transaction (a savepoint when one is open) whose
        ``lock_timeout`` is ``lock_timeout`` seconds: a relation another session holds in
        ACCESS EXCLUSIVE mode costs one short wait and raises :class:`LockTimeout`, instead
        of the session's lock_timeout and an error that ends the whole check."""
        import psycopg
        from psycopg.pq import TransactionStatus

        conn = self.connect()
        with self._lock:
            nested = conn.info.transaction_status != TransactionStatus.IDLE
            try:
                with conn.transaction(), conn.cursor() as cur:
                    previous = None
                    if nested:
                        cur.execute("SELECT current_setting('lock_timeout') AS lt")
                        row = cur.fetchone()
                        previous = str(row["lt"]) if row else "0"
                    else:
                        cur.execute("SET TRANSACTION READ ONLY")
                    # set_config(..., true) is SET LOCAL: it ends with the transaction, and
                    # inside a savepoint it is put back below for the enclosing one.
                    cur.execute(
                        "SELECT set_config('lock_timeout', %s, true)",
                        (f"{max(1, int(lock_timeout * 1000))}ms",),
                    )
                    cur.execute(sql, params)
                    rows = list(cur.fetchall()) if cur.description else []
                    if previous is not None:
                        cur.execute("SELECT set_config('lock_timeout', %s, true)", (previous,))
                    return rows
            except psycopg.errors.LockNotAvailable as exc:
                raise LockTimeout(error_line(exc)) from None

    def execute(self, sql: str, params: Params = None) -> int:
        """Run a changing statement (apply mode only); returns the affected row count."""
        if self.readonly:
            raise PermissionError(
                f"refusing to change {self.where} in check mode: {sql.split()[0]}"
            )
        conn = self.connect()
        with self._lock, conn.cursor() as cur:
            cur.execute(sql, params)
            return int(cur.rowcount)

    @contextmanager
    def transaction(self) -> Iterator[Connection[DictRow]]:
        conn = self.connect()
        with self._lock, conn.transaction():
            yield conn

    @property
    def server_version_num(self) -> int:
        return int(self.connect().info.server_version)

    def try_advisory_lock(self, name: str) -> bool:
        """Take rota's session-level advisory lock for ``name`` without waiting."""
        key = zlib.crc32(name.encode()) - (1 << 31)  # signed int4
        return bool(self.scalar("SELECT pg_try_advisory_lock(%s, %s)", (ADVISORY_NAMESPACE, key)))

    def cancel(self) -> None:
        conn = self._conn
        if conn is not None:
            try:
                conn.cancel_safe(timeout=2)
            except Exception:
                pass

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def backend_pid(self) -> int | None:
        """The server process serving this session (None when not connected), so a
        timed-out task's query can be cancelled from another connection."""
        conn = self._conn
        return int(conn.info.backend_pid) if conn is not None and not conn.closed else None


def _conninfo(url: str, dbname: str | None = None) -> dict[str, str]:
    """The connection parameters of ``url`` (a URL or a conninfo string), with database
    ``dbname`` instead of its own when given."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
    except Exception as exc:
        raise TargetUnavailable(f"not a valid database URL: {type(exc).__name__}") from None
    if dbname is not None:
        params["dbname"] = dbname
    return params


@functools.cache
def _env_vars() -> dict[str, str]:
    """libpq's environment variable for each connection parameter that has one."""
    from psycopg import pq

    return {o.keyword.decode(): o.envvar.decode() for o in pq.Conninfo.get_defaults() if o.envvar}
