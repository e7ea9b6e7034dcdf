"""Named, recorded schema migrations, after sqlite-utils' ``migrations.py``.

Each migration has a name and a list of SQL statements (or a function) and is applied
once, in order, in its own transaction that also records its name in ``rota_migrations``.
A store opened again finds nothing pending and changes nothing. One schema serves both
databases: type names in braces (``{id}``, ``{ts}``, ``{json}``, ``{bool}``, ``{float}``)
are filled in by the dialect.

Rules for adding one: append, never edit or reorder a released migration, and give it
the next number (``0004_...``). Two processes opening a fresh store at once are
serialised (SQLite's write lock, a PostgreSQL advisory lock), so each migration still
runs exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rota.history.dialect import Dialect

MIGRATIONS_TABLE = "rota_migrations"


@dataclass(frozen=True)
class Migration:
    name: str
    statements: tuple[str, ...] = ()
    # For data migrations: called with (connection, dialect) after the statements.
    fn: Callable[[Any, Dialect], None] | None = field(default=None, compare=False)

    def apply(self, conn: Any, dialect: Dialect) -> None:
        for statement in self.statements:
            conn.execute(dialect.schema(statement))
        if self.fn is not None:
            self.fn(conn, dialect)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0001_runs",
        (
            """CREATE TABLE rota_runs (
                id {id},
                run_group TEXT NOT NULL,
                task_id TEXT NOT NULL,
                mode TEXT NOT NULL,
                target TEXT NOT NULL,
                status TEXT NOT NULL,
                started_at {ts} NOT NULL,
                finished_at {ts},
                duration_s {float},
                changed {bool} NOT NULL DEFAULT {false},
                skip_reason TEXT,
                summary TEXT NOT NULL DEFAULT '',
                error TEXT,
                host TEXT NOT NULL,
                pid INTEGER NOT NULL
            )""",
            "CREATE INDEX rota_runs_task_started ON rota_runs (task_id, started_at)",
            "CREATE INDEX rota_runs_started ON rota_runs (started_at)",
            "CREATE INDEX rota_runs_group ON rota_runs (run_group)",
            # abandon_stale looks only at running rows, which are few.
            "CREATE INDEX rota_runs_running ON rota_runs (host) WHERE status = 'running'",
        ),
    ),
    Migration(
        "0002_findings_metrics_steps",
        (
            """CREATE TABLE rota_findings (
                id {id},
                run_id {ref} NOT NULL REFERENCES rota_runs (id) ON DELETE CASCADE,
                task_id TEXT NOT NULL,
                code TEXT NOT NULL,
                severity TEXT NOT NULL,
                subject TEXT NOT NULL DEFAULT '',
                message TEXT NOT NULL,
                evidence {json} NOT NULL,
                remedy TEXT NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX rota_findings_run ON rota_findings (run_id)",
            "CREATE INDEX rota_findings_task_code ON rota_findings (task_id, code)",
            # value is NULL for NaN: SQLite cannot store it, and it has no place in a trend.
            """CREATE TABLE rota_metrics (
                id {id},
                run_id {ref} NOT NULL REFERENCES rota_runs (id) ON DELETE CASCADE,
                task_id TEXT NOT NULL,
                name TEXT NOT NULL,
                ts {ts} NOT NULL,
                value {float},
                unit TEXT NOT NULL DEFAULT '',
                labels {json} NOT NULL
            )""",
            "CREATE INDEX rota_metrics_name_ts ON rota_metrics (name, ts)",
            "CREATE INDEX rota_metrics_run ON rota_metrics (run_id)",
            """CREATE TABLE rota_steps (
                id {id},
                run_id {ref} NOT NULL REFERENCES rota_runs (id) ON DELETE CASCADE,
                action TEXT NOT NULL,
                status TEXT NOT NULL,
                duration_s {float} NOT NULL,
                detail {json} NOT NULL
            )""",
            "CREATE INDEX rota_steps_run ON rota_steps (run_id)",
        ),
    ),
    Migration(
        "0003_task_state",
        (
            """CREATE TABLE rota_state (
                task_id TEXT NOT NULL,
                key TEXT NOT NULL,
                value {json} NOT NULL,
                updated_at {ts} NOT NULL,
                PRIMARY KEY (task_id, key)
            )""",
        ),
    ),
    Migration(
        "0004_alerts",
        (
            # One row per delivery attempt, written as 'sending' before it and completed
            # after. run_id is not a foreign key: test alerts have no run, and an alert's
            # record outlives nothing it points to (pruned by its own age).
            """CREATE TABLE rota_alerts (
                id {id},
                run_id INTEGER,
                task_id TEXT NOT NULL,
                channel TEXT NOT NULL,
                previous TEXT,
                current TEXT NOT NULL,
                message TEXT NOT NULL,
                status TEXT NOT NULL,
                detail TEXT NOT NULL DEFAULT '',
                attempted_at {ts} NOT NULL,
                finished_at {ts}
            )""",
            "CREATE INDEX rota_alerts_attempted ON rota_alerts (attempted_at)",
        ),
    ),
    Migration(
        "0005_incidents",
        (
            # An incident and its timeline (rota triage, rota incident). ``events`` and
            # ``proposals`` are counters bumped in the transaction that adds an event, so
            # two writers never hand out the same event seq or proposal number.
            """CREATE TABLE rota_incidents (
                id {id},
                title TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
                severity TEXT NOT NULL DEFAULT 'ok',
                target TEXT NOT NULL,
                opened_at {ts} NOT NULL,
                closed_at {ts},
                summary TEXT NOT NULL DEFAULT '',
                events INTEGER NOT NULL DEFAULT 0,
                proposals INTEGER NOT NULL DEFAULT 0
            )""",
            "CREATE INDEX rota_incidents_opened ON rota_incidents (status, opened_at)",
            """CREATE TABLE rota_incident_events (
                id {id},
                incident_id {ref} NOT NULL REFERENCES rota_incidents (id) ON DELETE CASCADE,
                seq INTEGER NOT NULL,
                kind TEXT NOT NULL CHECK (kind IN ('snapshot', 'action', 'note', 'close')),
                at {ts} NOT NULL,
                summary TEXT NOT NULL DEFAULT '',
                payload {json} NOT NULL,
                UNIQUE (incident_id, seq)
            )""",
        ),
    ),
    Migration(
        "0006_procedures",
        (
            # A run of a procedure (rota procedure) and its events. ``events`` is a counter
            # bumped in the transaction that adds an event, so seq is handed out once.
            """CREATE TABLE rota_procedure_runs (
                id {id},
                procedure_id TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('running', 'done', 'aborted')),
                started_at {ts} NOT NULL,
                finished_at {ts},
                started_by TEXT NOT NULL,
                finished_by TEXT,
                events INTEGER NOT NULL DEFAULT 0
            )""",
            "CREATE INDEX rota_procedure_runs_started ON rota_procedure_runs (status, started_at)",
            """CREATE TABLE rota_procedure_events (
                id {id},
                run_id {ref} NOT NULL REFERENCES rota_procedure_runs (id) ON DELETE CASCADE,
                seq INTEGER NOT NULL,
                step_id TEXT NOT NULL,
                kind TEXT NOT NULL CHECK (
                    kind IN ('started', 'passed', 'failed', 'confirmed', 'skipped', 'note')
                ),
                who TEXT NOT NULL,
                at {ts} NOT NULL,
                detail {json} NOT NULL,
                UNIQUE (run_id, seq)
            )""",
        ),
    ),
)


def applied(conn: Any, dialect: Dialect) -> list[str]:
    """Names of the migrations recorded in the store, in the order they were applied."""
    if not dialect.table_exists(conn, MIGRATIONS_TABLE):
        return []
    rows = conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY applied_at, name")
    return [r[0] for r in rows.fetchall()]


def pending(
    conn: Any, dialect: Dialect, migrations: tuple[Migration, ...] = MIGRATIONS
) -> list[Migration]:
    done = set(applied(conn, dialect))
    return [m for m in migrations if m.name not in done]


def migrate(
    conn: Any, dialect: Dialect, migrations: tuple[Migration, ...] = MIGRATIONS
) -> list[str]:
    """Apply every pending migration; return the names applied by this call.

    Names the store knows but this code does not (a newer rota wrote it) are left alone:
    migrations only add, so an older rota keeps working with what it knows.
    """
    _check_unique(migrations)
    if not pending(conn, dialect, migrations):
        return []  # the common case: one read, no write lock
    done_now: list[str] = []
    while True:
        with dialect.transaction(conn):
            dialect.lock_migrations(conn)
            conn.execute(
                dialect.schema(
                    f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
                    "(name TEXT PRIMARY KEY, applied_at {ts} NOT NULL)"
                )
            )
            # Re-read under the lock: another process may have migrated meanwhile.
            todo = pending(conn, dialect, migrations)
            if not todo:
                return done_now
            migration = todo[0]
            migration.apply(conn, dialect)
            conn.execute(
                dialect.sql(f"INSERT INTO {MIGRATIONS_TABLE} (name, applied_at) VALUES (?, ?)"),
                (migration.name, dialect.ts_in(datetime.now(UTC))),
            )
        done_now.append(migration.name)


def _check_unique(migrations: tuple[Migration, ...]) -> None:
    names = [m.name for m in migrations]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate migration names in {names}")
