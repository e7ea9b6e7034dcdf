"""Procedure runs in the history store: who walked through which procedure, step by step.

A run is one row of ``rota_procedure_runs`` (the procedure's id, running, done or
aborted, when and by whom it started and ended) and its events in
``rota_procedure_events``, numbered 1, 2, 3... within the run, each naming a step:

``started``
    An automatic step's task is about to run (written before it, audit first), or a
    manual step was reached and awaits its confirmation.
``passed`` / ``failed``
    An automatic step's result, with what its task found.
``confirmed``
    Someone confirmed a manual step (``who``: the OS user, or ``--by``).
``skipped``
    A step passed over on purpose.
``note``
    Free text from ``rota procedure continue --note`` (or the reason of an abort).

The run's state is only here: :func:`rota.procedure.progress` derives the current step
from the events, so a run survives a restart and any process can continue it. The store
is the one runs live in (migration ``0006_procedures``); everything written passes
through rota's redaction first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rota.errors import HistoryError
from rota.history.store import History, dump_json
from rota.redact import Redactor

EVENT_KINDS = ("started", "passed", "failed", "confirmed", "skipped", "note")
RUN_STATUSES = ("running", "done", "aborted")

_RUN_COLUMNS = "id, procedure_id, status, started_at, finished_at, started_by, finished_by, events"
_EVENT_COLUMNS = "id, run_id, seq, step_id, kind, who, at, detail"


@dataclass(frozen=True)
class ProcedureRun:
    """One row of ``rota_procedure_runs``."""

    id: int
    procedure_id: str
    status: str  # running | done | aborted
    started_at: datetime
    finished_at: datetime | None
    started_by: str
    finished_by: str | None
    events: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "procedure": self.procedure_id,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "started_by": self.started_by,
            "finished_by": self.finished_by,
            "events": self.events,
        }


@dataclass(frozen=True)
class ProcedureEvent:
    """One entry of a run's record."""

    id: int
    run_id: int
    seq: int
    step_id: str
    kind: str  # one of EVENT_KINDS
    who: str
    at: datetime
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "step": self.step_id,
            "kind": self.kind,
            "who": self.who,
            "at": self.at.isoformat(),
            "detail": self.detail,
        }


class ProcedureRuns:
    """The procedure runs of one history store. ``secrets`` are masked in what is written."""

    def __init__(self, history: History, secrets: list[str] | tuple[str, ...] = ()) -> None:
        self._h = history
        self._redact = Redactor(secrets)

    def start(self, procedure_id: str, *, who: str, at: datetime | None = None) -> ProcedureRun:
        """A new running run of ``procedure_id``; returns it."""
        d = self._h._dialect
        when = at or datetime.now(UTC)
        with self._h._db("start a procedure run") as conn:
            rows = self._h._q(
                conn,
                "INSERT INTO rota_procedure_runs (procedure_id, status, started_at, started_by) "
                "VALUES (?, 'running', ?, ?) RETURNING id",
                (procedure_id, d.ts_in(when), who),
            ).fetchall()
        return self.require(int(rows[0][0]))

    def get(self, run_id: int) -> ProcedureRun | None:
        with self._h._db("read a procedure run") as conn:
            row = self._h._q(
                conn, f"SELECT {_RUN_COLUMNS} FROM rota_procedure_runs WHERE id = ?", (run_id,)
            ).fetchone()
        return None if row is None else self._run(row)

    def require(self, run_id: int) -> ProcedureRun:
        """The run, or a HistoryError pointing at the list."""
        found = self.get(run_id)
        if found is None:
            raise HistoryError(
                f"no procedure run {run_id} in {self._h.url} (see `rota procedure status`)"
            )
        return found

    def recent(self, *, status: str | None = None, limit: int = 50) -> list[ProcedureRun]:
        """Runs, newest first (only those of ``status`` when given)."""
        sql = f"SELECT {_RUN_COLUMNS} FROM rota_procedure_runs"
        params: list[Any] = []
        if status is not None:
            if status not in RUN_STATUSES:
                raise ValueError(f"status must be one of {', '.join(RUN_STATUSES)}")
            sql += " WHERE status = ?"
            params.append(status)
        sql += " ORDER BY started_at DESC, id DESC LIMIT ?"
        with self._h._db("read procedure runs") as conn:
            rows = self._h._q(conn, sql, [*params, limit]).fetchall()
        return [self._run(r) for r in rows]

    def record(
        self,
        run_id: int,
        step_id: str,
        kind: str,
        *,
        who: str,
        detail: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> ProcedureEvent:
        """Append an event to a running run; returns it."""
        if kind not in EVENT_KINDS:
            raise ValueError(f"event kind must be one of {', '.join(EVENT_KINDS)}")
        d = self._h._dialect
        when = at or datetime.now(UTC)
        body = self._redact(json.loads(dump_json(detail or {})))
        with self._h._db(f"record a step of procedure run {run_id}") as conn, d.transaction(conn):
            # The UPDATE takes the run's row lock (PostgreSQL) under the write lock (SQLite)
            # until commit: each seq is handed out once.
            row = self._h._q(
                conn,
                "UPDATE rota_procedure_runs SET events = events + 1 "
                "WHERE id = ? AND status = 'running' RETURNING events",
                (run_id,),
            ).fetchone()
            if row is None:
                run = self._h._q(
                    conn, "SELECT status FROM rota_procedure_runs WHERE id = ?", (run_id,)
                ).fetchone()
                if run is None:
                    raise HistoryError(f"no procedure run {run_id} in {self._h.url}")
                raise HistoryError(f"procedure run {run_id} is {run[0]}; start a new one")
            seq = int(row[0])
            ids = self._h._q(
                conn,
                "INSERT INTO rota_procedure_events (run_id, seq, step_id, kind, who, at, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    run_id,
                    seq,
                    step_id,
                    kind,
                    who,
                    d.ts_in(when),
                    json.dumps(body, ensure_ascii=False),
                ),
            ).fetchall()
        return ProcedureEvent(
            int(ids[0][0]), run_id, seq, step_id, kind, who, d.ts_out(d.ts_in(when)), body
        )

    def finish(
        self, run_id: int, status: str, *, who: str, at: datetime | None = None
    ) -> ProcedureRun:
        """End a running run as ``done`` or ``aborted``."""
        if status not in ("done", "aborted"):
            raise ValueError("a run finishes as done or aborted")
        d = self._h._dialect
        when = at or datetime.now(UTC)
        with self._h._db(f"finish procedure run {run_id}") as conn:
            changed = self._h._q(
                conn,
                "UPDATE rota_procedure_runs SET status = ?, finished_at = ?, finished_by = ? "
                "WHERE id = ? AND status = 'running' RETURNING id",
                (status, d.ts_in(when), who, run_id),
            ).fetchall()
        if not changed:
            run = self.require(run_id)
            raise HistoryError(f"procedure run {run_id} is already {run.status}")
        return self.require(run_id)

    def events(self, run_id: int) -> list[ProcedureEvent]:
        """The run's events, oldest first."""
        with self._h._db("read a procedure run's events") as conn:
            rows = self._h._q(
                conn,
                f"SELECT {_EVENT_COLUMNS} FROM rota_procedure_events WHERE run_id = ? ORDER BY seq",
                (run_id,),
            ).fetchall()
        d = self._h._dialect
        return [
            ProcedureEvent(
                int(r[0]), int(r[1]), int(r[2]), r[3], r[4], r[5], d.ts_out(r[6]), json.loads(r[7])
            )
            for r in rows
        ]

    def _run(self, row: Any) -> ProcedureRun:
        d = self._h._dialect
        return ProcedureRun(
            id=int(row[0]),
            procedure_id=row[1],
            status=row[2],
            started_at=d.ts_out(row[3]),
            finished_at=None if row[4] is None else d.ts_out(row[4]),
            started_by=row[5],
            finished_by=row[6],
            events=int(row[7]),
        )
