"""Incidents in the history store: an emergency's record, from the first triage to the
postmortem.

An incident is one row of ``rota_incidents`` (title, open or closed, the worst severity
triage saw, when it opened and closed) and a timeline of events in
``rota_incident_events``, numbered 1, 2, 3... within the incident:

``snapshot``
    What ``rota triage`` saw: every probe's data, the ranked suspects and the proposed
    mitigations, each proposal numbered across the incident (``12.3`` is proposal 3 of
    incident 12).
``action``
    A mitigation performed (or refused) by ``rota triage --apply``, with its result.
``note``
    Free text from ``rota incident note``.
``close``
    The closing summary.

The store is the same one runs live in (SQLite or PostgreSQL, migration
``0005_incidents``); :class:`Incidents` works through :class:`~rota.history.History`'s
connection and lock. Everything written passes through rota's redaction first
(``secrets``: :meth:`rota.config.Config.secrets`), so a token a probe saw in a query or a
log line never reaches the store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rota.errors import HistoryError
from rota.history.store import History, dump_json
from rota.model import Severity
from rota.redact import Redactor

EVENT_KINDS = ("snapshot", "action", "note", "close")
INCIDENT_STATUSES = ("open", "closed")

_INCIDENT_COLUMNS = (
    "id, title, status, severity, target, opened_at, closed_at, summary, events, proposals"
)
_EVENT_COLUMNS = "id, incident_id, seq, kind, at, summary, payload"


@dataclass(frozen=True)
class Incident:
    """One row of ``rota_incidents``."""

    id: int
    title: str
    status: str  # open | closed
    severity: str  # the worst suspect triage saw: ok | warning | unknown | critical
    target: str
    opened_at: datetime
    closed_at: datetime | None
    summary: str
    events: int  # how many events its timeline holds
    proposals: int  # proposal numbers handed out so far

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "severity": self.severity,
            "target": self.target,
            "opened_at": self.opened_at.isoformat(),
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "summary": self.summary,
            "events": self.events,
            "proposals": self.proposals,
        }


@dataclass(frozen=True)
class Event:
    """One entry of an incident's timeline."""

    id: int
    incident_id: int
    seq: int
    kind: str  # one of EVENT_KINDS
    at: datetime
    summary: str
    payload: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "at": self.at.isoformat(),
            "summary": self.summary,
            "payload": self.payload,
        }


class Incidents:
    """The incidents of one history store. ``secrets`` are masked in everything written."""

    def __init__(self, history: History, secrets: list[str] | tuple[str, ...] = ()) -> None:
        self._h = history
        self._redact = Redactor(secrets)

    # -- incidents -----------------------------------------------------------------------
    def open(
        self, title: str, *, target: str, at: datetime | None = None, severity: str = "ok"
    ) -> Incident:
        """Open a new incident; returns it."""
        title = self._redact.text(" ".join(title.split()))
        if not title:
            raise ValueError("an incident needs a title")
        d = self._h._dialect
        when = at or datetime.now(UTC)
        with self._h._db("open an incident") as conn:
            rows = self._h._q(
                conn,
                "INSERT INTO rota_incidents (title, status, severity, target, opened_at) "
                "VALUES (?, 'open', ?, ?, ?) RETURNING id",
                (title, severity, target, d.ts_in(when)),
            ).fetchall()
        found = self.get(int(rows[0][0]))
        assert found is not None
        return found

    def get(self, incident_id: int) -> Incident | None:
        with self._h._db("read an incident") as conn:
            row = self._h._q(
                conn,
                f"SELECT {_INCIDENT_COLUMNS} FROM rota_incidents WHERE id = ?",
                (incident_id,),
            ).fetchone()
        return None if row is None else self._incident(row)

    def require(self, incident_id: int) -> Incident:
        """The incident, or a HistoryError naming what exists."""
        found = self.get(incident_id)
        if found is None:
            raise HistoryError(
                f"no incident {incident_id} in {self._h.url} (see `rota incident list`)"
            )
        return found

    def current(self, target: str | None = None) -> Incident | None:
        """The newest open incident (of ``target`` when given), or None."""
        sql = f"SELECT {_INCIDENT_COLUMNS} FROM rota_incidents WHERE status = 'open'"
        params: list[Any] = []
        if target is not None:
            sql += " AND target = ?"
            params.append(target)
        sql += " ORDER BY opened_at DESC, id DESC LIMIT 1"
        with self._h._db("read incidents") as conn:
            row = self._h._q(conn, sql, params).fetchone()
        return None if row is None else self._incident(row)

    def recent(self, *, status: str | None = None, limit: int = 50) -> list[Incident]:
        """Incidents, newest first (only ``open`` or ``closed`` ones when asked)."""
        sql = f"SELECT {_INCIDENT_COLUMNS} FROM rota_incidents"
        params: list[Any] = []
        if status is not None:
            if status not in INCIDENT_STATUSES:
                raise ValueError(f"status must be one of {', '.join(INCIDENT_STATUSES)}")
            sql += " WHERE status = ?"
            params.append(status)
        sql += " ORDER BY opened_at DESC, id DESC LIMIT ?"
        with self._h._db("read incidents") as conn:
            rows = self._h._q(conn, sql, [*params, limit]).fetchall()
        return [self._incident(r) for r in rows]

    def raise_severity(self, incident_id: int, severity: str) -> None:
        """Keep the worst severity seen: ``severity`` replaces the incident's if worse."""
        current = self.require(incident_id)
        if Severity(severity).rank <= Severity(current.severity).rank:
            return
        with self._h._db("update an incident") as conn:
            self._h._q(
                conn,
                "UPDATE rota_incidents SET severity = ? WHERE id = ?",
                (severity, incident_id),
            )

    def close(self, incident_id: int, summary: str = "", *, at: datetime | None = None) -> Event:
        """Close the incident with a ``close`` event; a closed incident cannot be closed again."""
        incident = self.require(incident_id)
        if incident.status == "closed":
            raise HistoryError(f"incident {incident_id} is already closed")
        when = at or datetime.now(UTC)
        text = self._redact.text(summary.strip())
        return self._append(
            incident_id, "close", text or "closed", {"summary": text}, when, None, closing=True
        )

    # -- the timeline --------------------------------------------------------------------
    def add_event(
        self,
        incident_id: int,
        kind: str,
        summary: str,
        payload: dict[str, Any],
        *,
        at: datetime | None = None,
        proposals: list[dict[str, Any]] | None = None,
    ) -> Event:
        """Append an event to the incident's timeline; returns it.

        ``proposals`` (a snapshot's) are numbered in the same transaction: each gets ``n``
        (1, 2, 3... across the incident) and ``id`` (``"<incident>.<n>"``), and the list is
        stored as the payload's ``proposals``. Only an open incident takes events."""
        if kind not in EVENT_KINDS or kind == "close":
            raise ValueError("event kind must be snapshot, action or note (close: close())")
        return self._append(incident_id, kind, summary, payload, at, proposals, closing=False)

    def _append(
        self,
        incident_id: int,
        kind: str,
        summary: str,
        payload: dict[str, Any],
        at: datetime | None,
        proposals: list[dict[str, Any]] | None,
        *,
        closing: bool,
    ) -> Event:
        d = self._h._dialect
        when = at or datetime.now(UTC)
        summary = self._redact.text(" ".join(summary.split()))
        wanted = len(proposals or [])
        with self._h._db(f"add a {kind} to incident {incident_id}") as conn, d.transaction(conn):
            # The UPDATE takes the incident's row lock (PostgreSQL) under the write lock
            # (SQLite) until commit: seq and proposal numbers are handed out once.
            row = self._h._q(
                conn,
                "UPDATE rota_incidents SET events = events + 1, proposals = proposals + ? "
                "WHERE id = ? AND status = 'open' RETURNING events, proposals",
                (wanted, incident_id),
            ).fetchone()
            if row is None:
                exists = self._h._q(
                    conn, "SELECT status FROM rota_incidents WHERE id = ?", (incident_id,)
                ).fetchone()
                if exists is None:
                    raise HistoryError(f"no incident {incident_id} in {self._h.url}")
                raise HistoryError(f"incident {incident_id} is closed; open a new one")
            seq, last = int(row[0]), int(row[1])
            body = dict(payload)
            if proposals is not None:
                first = last - wanted + 1
                numbered = []
                for i, p in enumerate(proposals):
                    numbered.append({**p, "n": first + i, "id": f"{incident_id}.{first + i}"})
                proposals[:] = numbered
                body["proposals"] = numbered
            body = self._redact(json.loads(dump_json(body)))
            ids = self._h._q(
                conn,
                "INSERT INTO rota_incident_events (incident_id, seq, kind, at, summary, payload) "
                "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    incident_id,
                    seq,
                    kind,
                    d.ts_in(when),
                    summary,
                    json.dumps(body, ensure_ascii=False),
                ),
            ).fetchall()
            if closing:
                self._h._q(
                    conn,
                    "UPDATE rota_incidents SET status = 'closed', closed_at = ?, summary = ? "
                    "WHERE id = ?",
                    (d.ts_in(when), str(body.get("summary") or ""), incident_id),
                )
        return Event(int(ids[0][0]), incident_id, seq, kind, d.ts_out(d.ts_in(when)), summary, body)

    def complete_event(self, event: Event, summary: str, payload: dict[str, Any]) -> Event:
        """Replace an event's summary and payload: an action is recorded before it is
        attempted and completed with its result after (audit first)."""
        summary = self._redact.text(" ".join(summary.split()))
        body = self._redact(json.loads(dump_json(payload)))
        with self._h._db(f"complete an event of incident {event.incident_id}") as conn:
            self._h._q(
                conn,
                "UPDATE rota_incident_events SET summary = ?, payload = ? WHERE id = ?",
                (summary, json.dumps(body, ensure_ascii=False), event.id),
            )
        return Event(event.id, event.incident_id, event.seq, event.kind, event.at, summary, body)

    def events(self, incident_id: int, kind: str | None = None) -> list[Event]:
        """The incident's timeline, oldest first (only events of ``kind`` when given)."""
        sql = f"SELECT {_EVENT_COLUMNS} FROM rota_incident_events WHERE incident_id = ?"
        params: list[Any] = [incident_id]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        sql += " ORDER BY seq"
        with self._h._db("read an incident's timeline") as conn:
            rows = self._h._q(conn, sql, params).fetchall()
        d = self._h._dialect
        return [
            Event(int(r[0]), int(r[1]), int(r[2]), r[3], d.ts_out(r[4]), r[5], json.loads(r[6]))
            for r in rows
        ]

    def proposal(self, incident_id: int, n: int) -> tuple[dict[str, Any], Event] | None:
        """Proposal ``n`` of the incident and the snapshot that proposed it, or None."""
        for event in reversed(self.events(incident_id, "snapshot")):
            for p in event.payload.get("proposals") or ():
                if p.get("n") == n:
                    return p, event
        return None

    # -- rows to objects -----------------------------------------------------------------
    def _incident(self, row: Any) -> Incident:
        d = self._h._dialect
        return Incident(
            id=int(row[0]),
            title=row[1],
            status=row[2],
            severity=row[3],
            target=row[4],
            opened_at=d.ts_out(row[5]),
            closed_at=None if row[6] is None else d.ts_out(row[6]),
            summary=row[7],
            events=int(row[8]),
            proposals=int(row[9]),
        )
