"""What a triage produces: probes, ranked suspects, proposed mitigations, action results.

Plain dataclasses with ``to_dict`` (the ``--format json`` contract and the payload of an
incident's ``snapshot`` and ``action`` events), so the CLI, the store and the postmortem
share one shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rota.model import Severity

# Probe states: ``ok`` ran and answered; ``unknown`` failed or timed out (``reason`` says
# why); ``skipped`` has nothing to look at (its section is not configured).
PROBE_STATES = ("ok", "unknown", "skipped")

# What --apply can do, and how bad it is if the proposal was wrong.
ACTIONS = {
    "cancel_query": "pg_cancel_backend: the statement fails with an error; the session stays",
    "terminate_backend": "pg_terminate_backend: the session ends and its transaction rolls back",
    "clear_cache": "POST the cache clear endpoint: the cache refills on demand",
}
RISKS = ("low", "medium", "high")
# A suspect's severity follows its score (rota.triage.scoring has the rules).
CRITICAL_SCORE = 70.0
WARNING_SCORE = 40.0


def severity_of(score: float) -> Severity:
    """70 and up is critical, 40 and up a warning, below that ok (listed to watch)."""
    if score >= CRITICAL_SCORE:
        return Severity.CRITICAL
    if score >= WARNING_SCORE:
        return Severity.WARNING
    return Severity.OK


@dataclass
class Probe:
    """One look at one part of the platform."""

    name: str  # database, service, process, logs, host
    status: str = "ok"  # one of PROBE_STATES
    took_s: float = 0.0
    reason: str = ""  # why unknown or skipped
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "took_s": round(self.took_s, 3),
            "reason": self.reason,
            "data": self.data,
        }


@dataclass
class Proposal:
    """One mitigation ``rota triage --apply ID`` can perform, exactly as written here.

    ``guard`` is what must still hold when it is applied: for a backend its pid,
    ``backend_start`` (a reused pid belongs to a session that started later),
    ``xact_start``/``query_start`` and the query text; for the cache, the hit ratio
    threshold it must still be under."""

    action: str  # one of ACTIONS
    title: str
    risk: str  # one of RISKS
    risk_note: str
    command: str  # the exact statement or request
    target: str  # the target kind it goes through: postgres, http
    suspect: str  # the suspect's key (code and subject)
    guard: dict[str, Any] = field(default_factory=dict)
    n: int = 0  # numbered by the incident store: 1, 2, 3... across the incident
    id: str = ""  # "<incident>.<n>"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "n": self.n,
            "action": self.action,
            "title": self.title,
            "risk": self.risk,
            "risk_note": self.risk_note,
            "command": self.command,
            "target": self.target,
            "suspect": self.suspect,
            "guard": self.guard,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Proposal:
        return cls(
            action=d["action"],
            title=d.get("title", ""),
            risk=d.get("risk", "high"),
            risk_note=d.get("risk_note", ""),
            command=d.get("command", ""),
            target=d.get("target", ""),
            suspect=d.get("suspect", ""),
            guard=dict(d.get("guard") or {}),
            n=int(d.get("n") or 0),
            id=str(d.get("id") or ""),
        )


@dataclass
class Suspect:
    """A likely cause of the emergency, with the evidence and the score that rank it."""

    code: str  # stable, dotted: db.blocking_chain, service.health, process.memory ...
    title: str  # one line
    score: float  # 0-100; see rota.triage.scoring for the rules
    subject: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    mitigation: str = ""  # what to do, in words (also when nothing can be applied)
    proposals: list[Proposal] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.code}:{self.subject}"

    @property
    def severity(self) -> Severity:
        return severity_of(self.score)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "title": self.title,
            "score": round(self.score, 1),
            "severity": self.severity.value,
            "subject": self.subject,
            "evidence": self.evidence,
            "mitigation": self.mitigation,
            "proposals": [p.id or p.title for p in self.proposals],
        }


@dataclass
class Snapshot:
    """One triage: every probe, the suspects ranked by score, and the proposals."""

    target: str
    started_at: datetime
    took_s: float = 0.0
    probes: list[Probe] = field(default_factory=list)
    suspects: list[Suspect] = field(default_factory=list)
    incident_id: int | None = None

    @property
    def proposals(self) -> list[Proposal]:
        return [p for s in self.suspects for p in s.proposals]

    @property
    def status(self) -> Severity:
        """The worst suspect; a probe that could not answer counts as unknown."""
        found = [s.severity for s in self.suspects]
        found += [Severity.UNKNOWN for p in self.probes if p.status == "unknown"]
        return Severity.worst(found)

    def probe(self, name: str) -> Probe | None:
        return next((p for p in self.probes if p.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "incident": self.incident_id,
            "target": self.target,
            "started_at": self.started_at.isoformat(),
            "took_s": round(self.took_s, 3),
            "status": self.status.value,
            "probes": {p.name: p.to_dict() for p in self.probes},
            "suspects": [s.to_dict() for s in self.suspects],
            "proposals": [p.to_dict() for p in self.proposals],
        }


@dataclass
class ActionResult:
    """What ``--apply`` did with one proposal: ``done``, ``refused`` (its guard no longer
    held, nothing was sent) or ``failed`` (sent, and it did not work)."""

    proposal: Proposal
    status: str  # done | refused | failed
    detail: str
    took_s: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> Severity:
        return {"done": Severity.OK, "refused": Severity.WARNING}.get(
            self.status, Severity.CRITICAL
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "proposal": self.proposal.to_dict(),
            "status": self.status,
            "detail": self.detail,
            "took_s": round(self.took_s, 3),
            "facts": self.facts,
        }
