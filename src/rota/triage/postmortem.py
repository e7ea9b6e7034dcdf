"""An incident's timeline and its postmortem draft (the spec's "Document incident and
response").

The timeline merges the incident's own events (triage snapshots, actions, notes, the
close) with the task runs history recorded while it was open, in time order. The draft
is Markdown with the sections a postmortem needs: summary, impact window, timeline,
suspects and their evidence, actions taken, and what to follow up; rota fills in what
it recorded and leaves marked ``TODO`` what only people know.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rota.history import History
    from rota.history.incidents import Event, Incident, Incidents

# What to follow up after each kind of suspect, once the emergency is over.
FOLLOW_UP = {
    "db.blocking_chain": "Set idle_in_transaction_session_timeout and lock_timeout for the "
    "application role, and find why {subject} kept its transaction open.",
    "db.idle_in_transaction": "Find the code path that leaves a transaction open "
    "(a missing COMMIT/ROLLBACK on an error path); set idle_in_transaction_session_timeout.",
    "db.slow_query": "EXPLAIN (ANALYZE, BUFFERS) the statement of {subject}; add the index "
    "or rewrite it, and give the role a statement_timeout.",
    "db.statement.heavy": "Review {subject}'s plan against the previous release's; run "
    "rota run db.indexes.",
    "db.connections": "Size the application pools against max_connections, or add PgBouncer.",
    "db.cache_hit_ratio": "Check shared_buffers against the working set (rota run db.tuning).",
    "service.health": "Make the health check name the failing dependency; alert on it "
    "(rota run monitor.health).",
    "service.latency": "Track the health endpoint's latency (monitor.health) and alert on it.",
    "service.cache_hit_ratio": "Review cache TTLs, key cardinality and size (rota run "
    "cache.review).",
    "process.memory": "Find the leak from a heap snapshot; set a memory limit and a restart "
    "policy on the supervisor.",
    "process.cpu": "Profile the process under load and fix the hot path.",
    "logs.server_errors": "Fix the top error group; add an alert on the 5xx rate.",
    "logs.errors": "Fix the top error group (rota logs top --since 1h).",
    "logs.latency": "Fix the slowest route (rota logs latency); set a p95 alert "
    "([logs] p95_threshold).",
    "host.disk": "Review log retention and backup retention (rota run logs.cleanup, "
    "backup.create).",
    "host.load": "Plan capacity: more CPUs, or less work per request.",
    "host.iowait": "Move heavy I/O (backups, VACUUM FULL) into the maintenance window.",
    "host.memory": "Plan memory: limits per process, or a larger host.",
}


@dataclass
class Entry:
    """One line of a timeline."""

    at: datetime
    kind: str  # snapshot, action, note, close, run
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "kind": self.kind,
            "summary": self.summary,
            "detail": self.detail,
        }


def timeline(store: Incidents, history: History, incident: Incident) -> list[Entry]:
    """The incident's events and the task runs started while it was open, oldest first."""
    entries = [Entry(e.at, e.kind, e.summary, e.payload) for e in store.events(incident.id)]
    end = incident.closed_at or datetime.now(UTC)
    for run in history.runs(since=incident.opened_at, limit=1000):
        if run.started_at > end:
            continue
        what = f"{run.task_id} ({run.mode}): {run.status}"
        if run.summary:
            what += f" — {run.summary}"
        entries.append(
            Entry(
                run.started_at,
                "run",
                what,
                {"run": run.id, "task": run.task_id, "status": run.status, "changed": run.changed},
            )
        )
    entries.sort(key=lambda e: e.at)
    return entries


def render(store: Incidents, history: History, incident: Incident) -> str:
    """The postmortem draft, in Markdown."""
    events = store.events(incident.id)
    entries = timeline(store, history, incident)
    snapshots = [e for e in events if e.kind == "snapshot"]
    actions = [e for e in events if e.kind == "action"]
    notes = [e for e in events if e.kind == "note"]
    end = incident.closed_at or (entries[-1].at if entries else incident.opened_at)
    out = [f"# Incident {incident.id}: {incident.title}", ""]
    out += [
        f"- **Status**: {incident.status}",
        f"- **Target**: {incident.target}",
        f"- **Worst severity seen**: {incident.severity}",
        f"- **Opened**: {_when(incident.opened_at)}",
        f"- **Closed**: {_when(incident.closed_at) if incident.closed_at else 'not yet'}",
        "",
        "## Summary",
        "",
        incident.summary or "TODO: what happened, in two or three sentences.",
        "",
        "## Impact window",
        "",
        f"From {_when(incident.opened_at)} to {_when(end)} "
        f"({_span((end - incident.opened_at).total_seconds())}"
        + ("" if incident.closed_at else ", still open")
        + ").",
        "",
    ]
    out += _impact(snapshots)
    out += ["## Timeline", "", "| time (UTC) | event | what |", "| --- | --- | --- |"]
    for e in entries:
        out.append(f"| {_when(e.at)} | {e.kind} | {_cell(e.summary)} |")
    out += ["", "## Suspects and evidence", ""]
    out += _suspects(snapshots)
    out += ["## Actions taken", ""]
    if actions:
        for a in actions:
            p = a.payload.get("proposal") or {}
            status = a.payload.get("status", "?")
            out.append(
                f"- {_when(a.at)} — **{p.get('id', '?')}** `{p.get('command', '')}` "
                f"(risk {p.get('risk', '?')}): **{status}** — {a.payload.get('detail', '')}"
            )
    else:
        out.append("- None through rota. TODO: anything done by hand.")
    if notes:
        out += ["", "Notes from the responders:", ""]
        out += [f"- {_when(n.at)} — {n.summary}" for n in notes]
    out += ["", "## Follow-up", ""]
    out += _follow_up(snapshots)
    return "\n".join(out) + "\n"


def _impact(snapshots: list[Event]) -> list[str]:
    if not snapshots:
        return ["No triage snapshot was recorded.", ""]
    first, last = snapshots[0].payload, snapshots[-1].payload
    lines = [
        f"- First triage ({_when(snapshots[0].at)}): status **{first.get('status')}**, "
        f"{len(first.get('suspects') or [])} suspect(s).",
    ]
    if len(snapshots) > 1:
        lines.append(
            f"- Last triage ({_when(snapshots[-1].at)}): status **{last.get('status')}**, "
            f"{len(last.get('suspects') or [])} suspect(s)."
        )
    logs = ((first.get("probes") or {}).get("logs") or {}).get("data") or {}
    if logs.get("requests"):
        lines.append(
            f"- Requests in the {float(logs['window_s']) / 60:g} minutes before the first "
            f"triage: {logs['requests']}, {logs['server_errors']} answered 5xx."
        )
    lines.append("- TODO: who was affected, and how (errors, slowness, data).")
    return [*lines, ""]


def _suspects(snapshots: list[Event]) -> list[str]:
    if not snapshots:
        return ["None recorded.", ""]
    out: list[str] = []
    for label, snap in (("First triage", snapshots[0]), ("Last triage", snapshots[-1])):
        if label == "Last triage" and len(snapshots) == 1:
            break
        out += [f"### {label} ({_when(snap.at)})", ""]
        found = snap.payload.get("suspects") or []
        if not found:
            out += ["No suspect.", ""]
        for s in found[:10]:
            out.append(
                f"- **{s['code']}** (score {s['score']:g}, {s['severity']}): {_cell(s['title'])}"
            )
            for key, value in _evidence(s.get("evidence") or {}):
                out.append(f"  - {key}: {value}")
        unknown = [
            f"{name}: {p.get('reason')}"
            for name, p in (snap.payload.get("probes") or {}).items()
            if p.get("status") == "unknown"
        ]
        if unknown:
            out.append(f"- Probes that could not answer: {'; '.join(unknown)}")
        out.append("")
    return out


def _evidence(ev: dict[str, Any]) -> list[tuple[str, str]]:
    """The evidence worth a line each: numbers and short texts, not whole lists."""
    out = []
    for key, value in ev.items():
        if isinstance(value, dict) and key == "root":
            text = f"pid {value.get('pid')} ({value.get('application') or '-'}), state {value.get('state')}, statement `{_cell(str(value.get('statement') or ''))}`"
            out.append(("root", text))
        elif isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) < 200):
            out.append((key, _cell(str(value))))
    return out[:8]


def _follow_up(snapshots: list[Event]) -> list[str]:
    seen: set[str] = set()
    out = []
    for snap in snapshots:
        for s in snap.payload.get("suspects") or []:
            if s["severity"] == "ok" or s["code"] in seen or s["code"] not in FOLLOW_UP:
                continue
            seen.add(s["code"])
            out.append(f"- [ ] {FOLLOW_UP[s['code']].format(subject=s.get('subject') or 'it')}")
    out.append(
        "- [ ] Confirm the fix holds: `rota triage` shows no critical suspect, and the "
        "scheduled tasks pass (`rota run --due`)."
    )
    out.append("- [ ] TODO: the root cause, and the change that removes it.")
    return out


def _when(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _span(seconds: float) -> str:
    from rota.units import format_duration

    return format_duration(seconds)


def _cell(text: str) -> str:
    """Text safe in a Markdown table cell or list item: one line, no bare pipes."""
    return " ".join(text.split()).replace("|", "\\|")
