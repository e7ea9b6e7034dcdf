"""rota's history: every run, its findings, metrics as time series, steps, and task state.

SQLite by default (one file, no server), PostgreSQL by URL for teams; one schema, migrated
on open by named, recorded migrations (``migrations.py``). Open it with
:func:`open_history`; the :class:`History` it returns is documented in ``store.py``.

Importing this package is cheap (the CLI's start-up time matters): the store, the
drivers and the schema load when a store is opened, or when ``History``/``RunRecord``
are first looked up.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from rota.errors import HistoryError
from rota.redact import redact_url

if TYPE_CHECKING:
    from pathlib import Path

    from rota.history.store import RUN_STATUSES, History, RunRecord

__all__ = ["RUN_STATUSES", "History", "RunRecord", "open_history", "redact_url"]

_LAZY = ("RUN_STATUSES", "History", "RunRecord")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from rota.history import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


MEMORY = ":memory:"


def open_history(url: str | None, *, default_path: Path | None = None) -> History:
    """Open (creating and migrating as needed) the history store named by ``url``.

    ``None`` means the SQLite file at ``default_path``, or ``$XDG_STATE_HOME/rota/history.db``
    (``~/.local/state/rota/history.db``). Otherwise: ``sqlite:///abs/path.db``,
    ``sqlite:///:memory:``, a plain file path, or ``postgresql://`` / ``postgres://``.
    Raises :class:`HistoryError` with one line, its URL redacted, if that fails.
    """
    from pathlib import Path

    from rota.history.dialect import default_sqlite_path

    if url is None or not url.strip():
        path = default_path if default_path is not None else default_sqlite_path()
        return _open_sqlite(str(Path(path).expanduser().absolute()))
    url = url.strip()
    scheme = url.split(":", 1)[0].lower() if "://" in url or url.startswith("sqlite:") else ""
    if scheme == "sqlite":
        return _open_sqlite(_sqlite_path(url))
    if scheme in ("postgresql", "postgres"):
        return _open_postgres(url)
    if scheme:
        raise HistoryError(
            f"history: unsupported URL {redact_url(url)}: "
            "expected sqlite:///path/to/history.db or postgresql://user@host/db"
        )
    return _open_sqlite(str(Path(url).expanduser().absolute()))  # a plain path


def _sqlite_path(url: str) -> str:
    from pathlib import Path

    rest = url[len("sqlite:") :]
    if rest.startswith("//"):
        rest = rest[2:]
    if rest in ("", "/"):
        raise HistoryError(f"history: {url} names no file: use sqlite:///path/to/history.db")
    if rest.lstrip("/") == MEMORY:
        return MEMORY
    if rest.startswith("/"):
        # sqlite:///abs/path and SQLAlchemy's sqlite:////abs/path both mean /abs/path.
        return "/" + rest.lstrip("/")
    return str(Path(rest).expanduser().absolute())


def _open_sqlite(path: str) -> History:
    from rota.history.dialect import SQLiteDialect

    shown = f"sqlite:///{path.lstrip('/')}" if path != MEMORY else f"sqlite:///{MEMORY}"
    dialect = SQLiteDialect()

    def connect() -> Any:
        return dialect.connect(path)

    try:
        return _open(dialect, connect, shown, secrets=set())
    except OSError as exc:  # the parent directory cannot be created
        if isinstance(exc, FileExistsError | NotADirectoryError):
            reason = f"{_file_in_the_way(path)} is not a directory"
        else:
            reason = exc.strerror or str(exc)
            reason += f": {exc.filename}" if exc.filename else ""
        raise HistoryError(f"history: cannot open {shown}: {reason}") from None


def _file_in_the_way(path: str) -> str:
    """The nearest existing ancestor of ``path``: a file where a directory should be."""
    from pathlib import Path

    parent = Path(path).parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return str(parent)


def _open_postgres(url: str) -> History:
    shown = redact_url(url)
    try:
        from rota.history.dialect import PostgresDialect

        dialect = PostgresDialect()
    except ImportError as exc:
        raise HistoryError(f"history: cannot open {shown}: psycopg is not installed") from exc

    def connect() -> Any:
        return dialect.connect(url)

    return _open(dialect, connect, shown, secrets=_passwords(url))


def _open(dialect: Any, connect: Any, shown: str, secrets: set[str]) -> History:
    from rota.history import migrations
    from rota.history.store import History
    from rota.text import one_line

    conn = None
    try:
        conn = connect()
        migrations.migrate(conn, dialect)
    except dialect.errors as exc:
        if conn is not None:
            _close_quietly(conn)
        raise HistoryError(
            f"history: cannot open {shown}: {one_line(str(exc) or type(exc).__name__, secrets=secrets)}"
        ) from None
    except BaseException:
        if conn is not None:
            _close_quietly(conn)
        raise
    return History(conn, dialect, shown, connect, frozenset(secrets))


def _close_quietly(conn: Any) -> None:
    from contextlib import suppress

    # Already failing: the first error is the one to show.
    with suppress(Exception):
        conn.close()


def _passwords(url: str) -> set[str]:
    """The password as written in ``url`` and decoded, and $PGPASSWORD if set."""
    from urllib.parse import quote, unquote

    from rota.redact import URL_PASSWORD_PARAM, URL_USERINFO

    found: list[str] = []
    m = URL_USERINFO.match(url)
    if m:
        found.append(m["pw"])
    found += [p.group(0).split("=", 1)[1] for p in URL_PASSWORD_PARAM.finditer(url)]
    found.append(os.environ.get("PGPASSWORD", ""))
    forms = set()
    for pw in found:
        forms |= {pw, unquote(pw), quote(unquote(pw), safe="")}
    return {f for f in forms if f}
