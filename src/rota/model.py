"""What a run produces: findings, metrics, steps, and their roll-up per task and per run.

These are plain dataclasses so that every writer (console, JSON, Nagios, Markdown), the
history store and the dashboard share one shape. ``to_dict`` gives the public JSON contract
documented in ``docs/json-output.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from rota import __version__


class Severity(StrEnum):
    """How bad a finding is. Ordered: ``worst()`` picks critical over unknown over warning."""

    OK = "ok"
    WARNING = "warning"
    UNKNOWN = "unknown"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def exit_code(self) -> int:
        """The Monitoring Plugins exit code: ok 0, warning 1, critical 2, unknown 3."""
        return _EXIT[self]

    @classmethod
    def worst(cls, severities: Any) -> Severity:
        result = cls.OK
        for s in severities:
            if _RANK[s] > _RANK[result]:
                result = s
        return result


_RANK = {Severity.OK: 0, Severity.WARNING: 1, Severity.UNKNOWN: 2, Severity.CRITICAL: 3}
_EXIT = {Severity.OK: 0, Severity.WARNING: 1, Severity.CRITICAL: 2, Severity.UNKNOWN: 3}


class StepStatus(StrEnum):
    PLANNED = "planned"  # check mode: what apply would do
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Finding:
    """One observation about one subject, with a stable dotted ``code``.

    ``evidence`` holds the numbers and the query or command that showed them, so a reader
    can re-check the finding by hand; ``remedy`` says what to do about it.
    """

    code: str
    severity: Severity
    message: str
    subject: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    remedy: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "subject": self.subject,
            "evidence": self.evidence,
            "remedy": self.remedy,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        return cls(
            code=d["code"],
            severity=Severity(d["severity"]),
            message=d["message"],
            subject=d.get("subject", ""),
            evidence=d.get("evidence") or {},
            remedy=d.get("remedy", ""),
        )


@dataclass(frozen=True)
class Metric:
    """A number worth keeping as a time series (``db.connections.active``, 12, ``count``)."""

    name: str
    value: float
    unit: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "unit": self.unit, "labels": self.labels}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Metric:
        return cls(d["name"], float(d["value"]), d.get("unit", ""), d.get("labels") or {})


@dataclass(frozen=True)
class Step:
    """An action a task took, or in check mode would take.

    A planned step's ``detail`` says what, why, which lock it takes and an estimate
    (keys ``sql``/``command``, ``reason``, ``lock``, ``estimate_s`` by convention).
    """

    action: str
    status: StepStatus
    duration_s: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.status is StepStatus.DONE and bool(self.detail.get("changed", True))

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "status": self.status.value,
            "duration_s": round(self.duration_s, 3),
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Step:
        return cls(
            d["action"], StepStatus(d["status"]), d.get("duration_s", 0.0), d.get("detail") or {}
        )


@dataclass(frozen=True)
class AlertSent:
    """One delivery of a task's state change to one alert channel (see rota.alerts)."""

    channel: str
    status: str  # "sent" | "failed" | "held" (not yet: fewer bad runs in a row than ``after``)
    previous: Severity | None
    current: Severity
    detail: str  # "HTTP 202", or why it failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "status": self.status,
            "previous": self.previous.value if self.previous is not None else None,
            "current": self.current.value,
            "detail": self.detail,
        }


@dataclass
class TaskOutcome:
    """Everything one task produced in one run. Its status is its worst finding."""

    task_id: str
    started_at: datetime
    finished_at: datetime | None = None
    findings: list[Finding] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    # Set when the task did not run to completion (exception, timeout, lock busy).
    error: str | None = None
    # Set when the task was deliberately not run (not configured, outside the window).
    skip_reason: str | None = None
    # Deliveries of this run's state change to the alert channels (none: no change).
    alerts: list[AlertSent] = field(default_factory=list)

    @property
    def skipped(self) -> bool:
        return self.skip_reason is not None

    @property
    def status(self) -> Severity:
        severities = [f.severity for f in self.findings]
        if self.error or self.skipped:
            # A task that did not finish cannot vouch that all is well.
            severities.append(Severity.UNKNOWN)
        return Severity.worst(severities)

    @property
    def duration_s(self) -> float:
        if self.finished_at is None:
            return 0.0
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def changed(self) -> bool:
        return any(s.changed for s in self.steps)

    @property
    def summary(self) -> str:
        """One line: the worst finding's message, or a count when all is well."""
        if self.error and not self.findings:
            return self.error
        if self.skip_reason:
            return f"skipped: {self.skip_reason}"
        bad = [f for f in self.findings if f.severity is not Severity.OK]
        if not bad:
            checks = len(self.findings)
            return f"all {checks} checks ok" if checks != 1 else self.findings[0].message
        worst = max(bad, key=lambda f: f.severity.rank)
        more = len(bad) - 1
        return worst.message + (f" (+{more} more)" if more else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.task_id,
            "status": self.status.value,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "duration_s": round(self.duration_s, 3),
            "changed": self.changed,
            "summary": self.summary,
            "error": self.error,
            "skipped": self.skip_reason,
            "findings": [f.to_dict() for f in self.findings],
            "metrics": [m.to_dict() for m in self.metrics],
            "steps": [s.to_dict() for s in self.steps],
            "alerts": [a.to_dict() for a in self.alerts],
        }


@dataclass
class RunReport:
    """One invocation of ``rota run``: several task outcomes, one mode, one target."""

    target: str
    mode: str  # "check" | "apply"
    started_at: datetime
    finished_at: datetime | None = None
    tasks: list[TaskOutcome] = field(default_factory=list)

    @property
    def status(self) -> Severity:
        """The worst task status; tasks skipped because they were not selected explicitly
        and are not configured (or wait for the maintenance window) do not count."""
        return Severity.worst(t.status for t in self.tasks if not (t.skipped and t.error is None))

    def to_dict(self) -> dict[str, Any]:
        return {
            "rota": __version__,
            "target": self.target,
            "mode": self.mode,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "status": self.status.value,
            "tasks": [t.to_dict() for t in self.tasks],
        }


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat(timespec="seconds") if dt else None
