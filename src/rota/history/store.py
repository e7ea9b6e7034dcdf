"""The history store: runs, findings, metrics, steps and per-task state.

One :class:`History` wraps one connection (SQLite or PostgreSQL, see ``dialect.py``) and
one lock: the engine calls it from the main thread while a task's worker thread saves
state. Every driver error leaves as :class:`~rota.errors.HistoryError` with one line.

Audit first: :meth:`History.start_run` commits a ``running`` row before the task starts;
:meth:`History.finish_run` completes it, with everything the task produced, in one
transaction. A process that dies in between leaves a ``running`` row that
:meth:`History.abandon_stale` later marks ``abandoned``.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from pathlib import PurePath
from typing import Any

from rota.errors import HistoryError
from rota.history import migrations
from rota.history.dialect import Dialect
from rota.model import AlertSent, Finding, Metric, Severity, Step, StepStatus, TaskOutcome
from rota.text import one_line

RUN_STATUSES = ("running", "ok", "warning", "critical", "unknown", "abandoned")

_RUN_COLUMNS = (
    "id, run_group, task_id, mode, target, status, started_at, finished_at, duration_s, "
    "changed, summary, error, host, pid, skip_reason"
)
# A run that counts for scheduling: it finished, on its own, without an error.
_SUCCESS = (
    "finished_at IS NOT NULL AND status NOT IN ('running', 'abandoned') "
    "AND error IS NULL AND skip_reason IS NULL"
)


@dataclass(frozen=True)
class RunRecord:
    """One row of ``rota_runs``: one task run, from its audit row to its result."""

    id: int
    run_group: str
    task_id: str
    mode: str
    target: str
    status: str  # one of RUN_STATUSES
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    changed: bool
    summary: str
    error: str | None
    host: str
    pid: int
    skip_reason: str | None = None  # the task was deliberately not run (see TaskOutcome)

    @property
    def skipped(self) -> bool:
        return self.skip_reason is not None


class History:
    """The store. Build it with :func:`rota.history.open_history`, not directly."""

    def __init__(
        self,
        conn: Any,
        dialect: Dialect,
        url: str,
        reconnect: Callable[[], Any],
        secrets: frozenset[str] = frozenset(),
    ) -> None:
        self.url = url  # redacted: safe to print
        self._secrets = secrets  # masked in error messages, should a driver echo one
        self._conn = conn
        self._dialect = dialect
        self._reconnect = reconnect
        self._lock = threading.RLock()
        self._closed = False

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<History {self.url}>"

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._dialect.name

    # -- plumbing ------------------------------------------------------------------------
    @contextmanager
    def _db(self, doing: str) -> Iterator[Any]:
        """The connection, under the lock, with driver errors turned into HistoryError."""
        with self._lock:
            if self._closed:
                raise HistoryError(f"history: cannot {doing} in {self.url}: store is closed")
            try:
                if self._dialect.is_broken(self._conn):
                    # The server went away (restart, failover): the daemon must not be
                    # stuck with a dead connection. The failed call itself is not retried.
                    self._conn = self._reconnect()
                yield self._conn
            except self._dialect.errors as exc:
                raise HistoryError(
                    f"history: cannot {doing} in {self.url}: {one_line(str(exc) or type(exc).__name__, secrets=self._secrets)}"
                ) from exc

    def _q(self, conn: Any, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
        return conn.execute(self._dialect.sql(sql), tuple(params))

    def applied_migrations(self) -> list[str]:
        """Names of the schema migrations recorded in this store, oldest first."""
        with self._db("read migrations") as conn:
            return migrations.applied(conn, self._dialect)

    def migrate(self, to: tuple[migrations.Migration, ...] = migrations.MIGRATIONS) -> list[str]:
        """Apply pending migrations (opening the store already did); return their names."""
        with self._db("migrate") as conn:
            return migrations.migrate(conn, self._dialect, to)

    # -- runs ----------------------------------------------------------------------------
    def start_run(
        self,
        *,
        task_id: str,
        mode: str,
        target: str,
        started_at: datetime,
        run_group: str,
        host: str,
        pid: int,
    ) -> int:
        """Write the run's row as ``running`` and commit it, before the task starts."""
        d = self._dialect
        with self._db(f"record the start of {task_id}") as conn:
            rows = self._q(
                conn,
                "INSERT INTO rota_runs (run_group, task_id, mode, target, status, started_at, "
                "changed, summary, host, pid) "
                "VALUES (?, ?, ?, ?, 'running', ?, ?, '', ?, ?) RETURNING id",
                (
                    run_group,
                    task_id,
                    mode,
                    target,
                    d.ts_in(started_at),
                    d.bool_in(False),
                    host,
                    pid,
                ),
            ).fetchall()  # read to the end: SQLite holds the write lock until then
            return int(rows[0][0])

    def finish_run(self, run_id: int, outcome: TaskOutcome) -> None:
        """Complete the run's row and store its findings, metrics and steps, atomically."""
        d = self._dialect
        finished_at = outcome.finished_at or datetime.now(UTC)
        with self._db(f"record the result of {outcome.task_id}") as conn, d.transaction(conn):
            row = self._q(
                conn, "SELECT started_at FROM rota_runs WHERE id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise HistoryError(f"history: no run {run_id} in {self.url}")
            # Metrics carry the run's timestamp, so a series lines up with the runs list.
            ts = row[0]
            self._q(
                conn,
                "UPDATE rota_runs SET status = ?, finished_at = ?, duration_s = ?, changed = ?, "
                "skip_reason = ?, summary = ?, error = ? WHERE id = ?",
                (
                    outcome.status.value,
                    d.ts_in(finished_at),
                    (finished_at - outcome.started_at).total_seconds(),
                    d.bool_in(outcome.changed),
                    None if outcome.skip_reason is None else _text(outcome.skip_reason),
                    _text(outcome.summary),
                    None if outcome.error is None else _text(outcome.error),
                    run_id,
                ),
            )
            cur = conn.cursor()
            if outcome.findings:
                cur.executemany(
                    d.sql(
                        "INSERT INTO rota_findings (run_id, task_id, code, severity, subject, "
                        "message, evidence, remedy) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                    [
                        (
                            run_id,
                            outcome.task_id,
                            f.code,
                            f.severity.value,
                            _text(f.subject),
                            _text(f.message),
                            dump_json(f.evidence),
                            _text(f.remedy),
                        )
                        for f in outcome.findings
                    ],
                )
            if outcome.metrics:
                cur.executemany(
                    d.sql(
                        "INSERT INTO rota_metrics (run_id, task_id, name, ts, value, unit, "
                        "labels) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                    [
                        (
                            run_id,
                            outcome.task_id,
                            m.name,
                            ts,
                            None if math.isnan(m.value) else float(m.value),
                            m.unit,
                            dump_json({str(k): str(v) for k, v in m.labels.items()}),
                        )
                        for m in outcome.metrics
                    ],
                )
            if outcome.steps:
                cur.executemany(
                    d.sql(
                        "INSERT INTO rota_steps (run_id, action, status, duration_s, detail) "
                        "VALUES (?, ?, ?, ?, ?)"
                    ),
                    [
                        (run_id, _text(s.action), s.status.value, s.duration_s, dump_json(s.detail))
                        for s in outcome.steps
                    ],
                )

    def abandon_stale(self, *, host: str, is_alive: Callable[[int], bool]) -> list[RunRecord]:
        """Mark ``abandoned`` the rows still ``running`` on ``host`` whose process is gone.

        Such a row is the trace of a crashed run (killed, out of memory, power loss). Rows
        of other hosts are left alone: their pids mean nothing here.
        """
        with self._db("mark abandoned runs") as conn:
            running = [
                self._run(r)
                for r in self._q(
                    conn,
                    f"SELECT {_RUN_COLUMNS} FROM rota_runs WHERE status = 'running' AND host = ?",
                    (host,),
                ).fetchall()
            ]
            abandoned: list[RunRecord] = []
            for run in running:
                if is_alive(run.pid):
                    continue
                reason = f"abandoned: process {run.pid} on {host} ended before recording a result"
                # "AND status = 'running'": the run may have finished since we looked.
                cur = self._q(
                    conn,
                    "UPDATE rota_runs SET status = 'abandoned', summary = ?, error = ? "
                    "WHERE id = ? AND status = 'running'",
                    (reason, reason, run.id),
                )
                if cur.rowcount == 1:
                    row = self._q(
                        conn, f"SELECT {_RUN_COLUMNS} FROM rota_runs WHERE id = ?", (run.id,)
                    ).fetchone()
                    abandoned.append(self._run(row))
            return abandoned

    def runs(
        self,
        task_id: str | None = None,
        *,
        prefix: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[RunRecord]:
        """Runs, newest first. ``prefix`` is a dotted task-id prefix: ``db`` finds ``db.vacuum``."""
        where: list[str] = []
        params: list[Any] = []
        if task_id is not None:
            where.append("task_id = ?")
            params.append(task_id)
        if prefix:
            head = prefix.rstrip(".")
            # substr, not LIKE: task ids are full of "_", LIKE's single-character wildcard.
            where.append("(task_id = ? OR substr(task_id, 1, ?) = ?)")
            params += [head, len(head) + 1, head + "."]
        if since is not None:
            where.append("started_at >= ?")
            params.append(self._dialect.ts_in(since))
        sql = f"SELECT {_RUN_COLUMNS} FROM rota_runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC, id DESC LIMIT ?"
        with self._db("read runs") as conn:
            return [self._run(r) for r in self._q(conn, sql, [*params, limit]).fetchall()]

    def run(self, run_id: int) -> RunRecord | None:
        with self._db("read a run") as conn:
            row = self._q(
                conn, f"SELECT {_RUN_COLUMNS} FROM rota_runs WHERE id = ?", (run_id,)
            ).fetchone()
            return None if row is None else self._run(row)

    def last_run(self, task_id: str) -> RunRecord | None:
        found = self.runs(task_id, limit=1)
        return found[0] if found else None

    def last_success(self, task_id: str, mode: str | None = None) -> RunRecord | None:
        """The newest run that finished without error (abandoned and skipped runs do not count)."""
        sql = f"SELECT {_RUN_COLUMNS} FROM rota_runs WHERE task_id = ? AND {_SUCCESS}"
        params: list[Any] = [task_id]
        if mode is not None:
            sql += " AND mode = ?"
            params.append(mode)
        sql += " ORDER BY started_at DESC, id DESC LIMIT 1"
        with self._db("read runs") as conn:
            row = self._q(conn, sql, params).fetchone()
            return None if row is None else self._run(row)

    def last_successes(self, mode: str | None = None) -> dict[str, RunRecord]:
        """:meth:`last_success` of every task at once, by task id (for ``rota due``)."""
        inner = f"SELECT {_RUN_COLUMNS}, ROW_NUMBER() OVER (PARTITION BY task_id "
        inner += f"ORDER BY started_at DESC, id DESC) AS rn FROM rota_runs WHERE {_SUCCESS}"
        params: list[Any] = []
        if mode is not None:
            inner += " AND mode = ?"
            params.append(mode)
        sql = f"SELECT {_RUN_COLUMNS} FROM ({inner}) AS ranked WHERE rn = 1"
        with self._db("read runs") as conn:
            records = [self._run(r) for r in self._q(conn, sql, params).fetchall()]
        return {r.task_id: r for r in sorted(records, key=lambda r: r.task_id)}

    def durations(self, task_id: str, limit: int = 20, *, mode: str | None = None) -> list[float]:
        """Durations in seconds of the task's successful runs (in ``mode``), newest first."""
        where = " AND mode = ?" if mode else ""
        sql = (
            f"SELECT duration_s FROM rota_runs WHERE task_id = ? AND {_SUCCESS}{where} "
            "AND duration_s IS NOT NULL ORDER BY started_at DESC, id DESC LIMIT ?"
        )
        params: tuple[Any, ...] = (task_id, mode, limit) if mode else (task_id, limit)
        with self._db("read durations") as conn:
            return [float(r[0]) for r in self._q(conn, sql, params).fetchall()]

    def outcome(self, run_id: int) -> TaskOutcome:
        """The run's :class:`TaskOutcome`, rebuilt with its findings, metrics and steps."""
        with self._db("read a run") as conn:
            row = self._q(
                conn, f"SELECT {_RUN_COLUMNS} FROM rota_runs WHERE id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise HistoryError(f"history: no run {run_id} in {self.url}")
            run = self._run(row)
            findings = [
                Finding(
                    code=r[0],
                    severity=Severity(r[1]),
                    message=r[2],
                    subject=r[3],
                    evidence=json.loads(r[4]),
                    remedy=r[5],
                )
                for r in self._q(
                    conn,
                    "SELECT code, severity, message, subject, evidence, remedy "
                    "FROM rota_findings WHERE run_id = ? ORDER BY id",
                    (run_id,),
                ).fetchall()
            ]
            metrics = [
                Metric(
                    name=r[0],
                    value=float("nan") if r[1] is None else float(r[1]),
                    unit=r[2],
                    labels=json.loads(r[3]),
                )
                for r in self._q(
                    conn,
                    "SELECT name, value, unit, labels FROM rota_metrics WHERE run_id = ? "
                    "ORDER BY id",
                    (run_id,),
                ).fetchall()
            ]
            steps = [
                Step(
                    action=r[0],
                    status=StepStatus(r[1]),
                    duration_s=float(r[2]),
                    detail=json.loads(r[3]),
                )
                for r in self._q(
                    conn,
                    "SELECT action, status, duration_s, detail FROM rota_steps WHERE run_id = ? "
                    "ORDER BY id",
                    (run_id,),
                ).fetchall()
            ]
            # A delivery still "sending" was cut off (rota was killed mid-send): not sent.
            alerts = [
                AlertSent(
                    channel=r[0],
                    status="sent" if r[3] == "sent" else "failed",
                    previous=Severity(r[1]) if r[1] else None,
                    current=Severity(r[2]),
                    detail=r[4] or ("interrupted before an answer" if r[3] == "sending" else ""),
                )
                for r in self._q(
                    conn,
                    "SELECT channel, previous, current, status, detail FROM rota_alerts "
                    "WHERE run_id = ? ORDER BY id",
                    (run_id,),
                ).fetchall()
            ]
        return TaskOutcome(
            task_id=run.task_id,
            started_at=run.started_at,
            finished_at=run.finished_at,
            findings=findings,
            metrics=metrics,
            steps=steps,
            error=run.error,
            skip_reason=run.skip_reason,
            alerts=alerts,
        )

    # -- metrics and findings across runs ------------------------------------------------
    def metric_series(
        self,
        name: str,
        *,
        task_id: str | None = None,
        labels: dict[str, str] | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[tuple[datetime, float]]:
        """The newest ``limit`` points of a metric, oldest first, as (run time, value).

        ``labels`` selects points whose labels include all those given (other labels may
        differ); NaN values are not part of any series.
        """
        d = self._dialect
        where = ["name = ?", "value IS NOT NULL"]
        params: list[Any] = [name]
        if task_id is not None:
            where.append("task_id = ?")
            params.append(task_id)
        if since is not None:
            where.append("ts >= ?")
            params.append(d.ts_in(since))
        for key, value in sorted((labels or {}).items()):
            where.append(f"{d.json_field('labels')} = ?")
            params += [d.json_key(str(key)), str(value)]
        sql = (
            f"SELECT ts, value FROM rota_metrics WHERE {' AND '.join(where)} "
            "ORDER BY ts DESC, id DESC LIMIT ?"
        )
        with self._db(f"read metric {name}") as conn:
            rows = self._q(conn, sql, [*params, limit]).fetchall()
        return [(d.ts_out(r[0]), float(r[1])) for r in reversed(rows)]

    def seen_findings(
        self, task_id: str, *, code_prefix: str = "", before_run: int | None = None
    ) -> set[tuple[str, str]]:
        """(code, subject) pairs the task reported in earlier runs, for "new since" findings.

        ``before_run`` limits the search to runs recorded before that one (normally the
        current run, so its own findings do not count as seen).
        """
        sql = "SELECT DISTINCT code, subject FROM rota_findings WHERE task_id = ?"
        params: list[Any] = [task_id]
        if code_prefix:
            sql += " AND substr(code, 1, ?) = ?"
            params += [len(code_prefix), code_prefix]
        if before_run is not None:
            sql += " AND run_id < ?"
            params.append(before_run)
        with self._db("read findings") as conn:
            return {(r[0], r[1]) for r in self._q(conn, sql, params).fetchall()}

    # -- per-task state ------------------------------------------------------------------
    def get_state(self, task_id: str, key: str, default: Any = None) -> Any:
        with self._db(f"read state {task_id}/{key}") as conn:
            row = self._q(
                conn,
                "SELECT value FROM rota_state WHERE task_id = ? AND key = ?",
                (task_id, key),
            ).fetchone()
        return default if row is None else json.loads(row[0])

    def set_state(self, task_id: str, key: str, value: Any) -> None:
        """Keep a small JSON value for the task (a log offset, a statistics snapshot).

        Raises TypeError/ValueError for values JSON cannot represent exactly (objects,
        NaN): state that silently changes between runs would be worse than an error.
        """
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
        d = self._dialect
        with self._db(f"save state {task_id}/{key}") as conn:
            self._q(
                conn,
                "INSERT INTO rota_state (task_id, key, value, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (task_id, key) DO UPDATE "
                "SET value = excluded.value, updated_at = excluded.updated_at",
                (task_id, key, text, d.ts_in(datetime.now(UTC))),
            )

    # -- alerts ---------------------------------------------------------------------------
    def previous_status(self, task_id: str) -> Severity | None:
        """The state of the task's newest finished run (None: it never ran, or only skipped).

        A run that errored counts (its state is unknown); abandoned and skipped ones do not."""
        newest = self.recent_statuses(task_id, 1)
        return newest[0] if newest else None

    def recent_statuses(self, task_id: str, limit: int) -> list[Severity]:
        """States of the task's newest finished runs, newest first (skipped runs left out,
        as in :meth:`previous_status`)."""
        sql = (
            "SELECT status FROM rota_runs WHERE task_id = ? AND finished_at IS NOT NULL "
            "AND status IN ('ok', 'warning', 'critical', 'unknown') AND skip_reason IS NULL "
            "ORDER BY started_at DESC, id DESC LIMIT ?"
        )
        with self._db("read recent states") as conn:
            rows = self._q(conn, sql, (task_id, limit)).fetchall()
        return [Severity(r[0]) for r in rows]

    def alert_attempt(
        self,
        *,
        run_id: int | None,
        task_id: str,
        channel: str,
        previous: Severity | None,
        current: Severity,
        message: str,
        at: datetime,
    ) -> int:
        """Record a delivery as ``sending`` before it is tried; returns the row's id."""
        with self._db("record an alert") as conn:
            rows = self._q(
                conn,
                "INSERT INTO rota_alerts (run_id, task_id, channel, previous, current, message, "
                "status, attempted_at) VALUES (?, ?, ?, ?, ?, ?, 'sending', ?) RETURNING id",
                (
                    run_id,
                    task_id,
                    channel,
                    previous.value if previous is not None else None,
                    current.value,
                    message,
                    self._dialect.ts_in(at),
                ),
            ).fetchall()
            return int(rows[0][0])

    def alert_result(self, alert_id: int, *, ok: bool, detail: str) -> None:
        """Complete a delivery's row: ``sent`` or ``failed`` and why."""
        with self._db("record an alert's delivery") as conn:
            self._q(
                conn,
                "UPDATE rota_alerts SET status = ?, detail = ?, finished_at = ? WHERE id = ?",
                (
                    "sent" if ok else "failed",
                    detail,
                    self._dialect.ts_in(datetime.now(UTC)),
                    alert_id,
                ),
            )

    def last_sent(self, task_id: str, channel: str) -> tuple[datetime, Severity] | None:
        """When ``channel`` was last sent an alert about ``task_id`` and the state it was
        told then (None: never; failed deliveries do not count)."""
        sql = (
            "SELECT attempted_at, current FROM rota_alerts WHERE task_id = ? AND channel = ? "
            "AND status = 'sent' ORDER BY attempted_at DESC, id DESC LIMIT 1"
        )
        with self._db("read alerts") as conn:
            row = self._q(conn, sql, (task_id, channel)).fetchone()
        return None if row is None else (self._dialect.ts_out(row[0]), Severity(row[1]))

    def alerts(self, *, limit: int = 50, task_id: str | None = None) -> list[dict[str, Any]]:
        """Delivery records, newest first."""
        sql = (
            "SELECT id, run_id, task_id, channel, previous, current, message, status, detail, "
            "attempted_at, finished_at FROM rota_alerts"
        )
        params: list[Any] = []
        if task_id is not None:
            sql += " WHERE task_id = ?"
            params.append(task_id)
        sql += " ORDER BY attempted_at DESC, id DESC LIMIT ?"
        keys = (
            *("id", "run_id", "task_id", "channel", "previous", "current", "message"),
            *("status", "detail", "attempted_at", "finished_at"),
        )
        d = self._dialect
        with self._db("read alerts") as conn:
            rows = self._q(conn, sql, [*params, limit]).fetchall()
        out = []
        for r in rows:
            rec = dict(zip(keys, r, strict=True))
            rec["attempted_at"] = d.ts_out(rec["attempted_at"])
            rec["finished_at"] = d.ts_out(rec["finished_at"]) if rec["finished_at"] else None
            out.append(rec)
        return out

    # -- housekeeping --------------------------------------------------------------------
    def prune(self, *, older_than: datetime) -> int:
        """Delete runs started before ``older_than``, with their findings, metrics and steps.

        Rows still ``running`` are kept: they may belong to a run in progress. Returns the
        number of runs deleted.
        """
        d = self._dialect
        with self._db("prune runs") as conn, d.transaction(conn):
            # Children first, explicitly: the schema cascades too, but this does not
            # depend on SQLite's per-connection foreign_keys setting.
            victims = "SELECT id FROM rota_runs WHERE started_at < ? AND status <> 'running'"
            cutoff = d.ts_in(older_than)
            for child in ("rota_findings", "rota_metrics", "rota_steps"):
                self._q(conn, f"DELETE FROM {child} WHERE run_id IN ({victims})", (cutoff,))
            cur = self._q(
                conn,
                "DELETE FROM rota_runs WHERE started_at < ? AND status <> 'running'",
                (cutoff,),
            )
            self._q(conn, "DELETE FROM rota_alerts WHERE attempted_at < ?", (cutoff,))
            return int(cur.rowcount)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with suppress(*self._dialect.errors):
                self._conn.close()

    # -- rows to objects -----------------------------------------------------------------
    def _run(self, row: Any) -> RunRecord:
        d = self._dialect
        return RunRecord(
            id=int(row[0]),
            run_group=row[1],
            task_id=row[2],
            mode=row[3],
            target=row[4],
            status=row[5],
            started_at=d.ts_out(row[6]),
            finished_at=None if row[7] is None else d.ts_out(row[7]),
            duration_s=None if row[8] is None else float(row[8]),
            changed=bool(row[9]),
            summary=row[10],
            error=row[11],
            host=row[12],
            pid=int(row[13]),
            skip_reason=row[14],
        )


def dump_json(value: Any) -> str:
    """Evidence and details as JSON that both databases accept, whatever a task put in.

    A run's record must not be lost because a query returned a Decimal or a float NaN
    (which PostgreSQL's jsonb rejects), so such values are converted, not refused.
    """
    return json.dumps(_jsonable(value), ensure_ascii=False, allow_nan=False)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):  # as report.jsonout writes it: NaN and infinities are null
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, dict):
        return {_text(str(k)): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_jsonable(v) for v in items]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):  # seconds, as report.jsonout writes durations
        return value.total_seconds()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, bytes):
        return _text(value.decode("utf-8", "replace"))
    from decimal import Decimal  # here: decimal is slow to import and rarely needed

    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value():
            return int(value)
        return _jsonable(float(value))
    return _text(str(value))


def _text(value: str) -> str:
    # PostgreSQL text cannot hold NUL; a log line or command output sometimes does.
    return value.replace("\x00", "\ufffd") if "\x00" in value else value
