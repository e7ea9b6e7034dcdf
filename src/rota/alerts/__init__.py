"""Alerts: a task's state change, sent to the channels that want it.

rota alerts on *changes*, not on every run: a task that was ok and is now critical, one
that is ok again (a resolve), one that went from warning to critical. The state is the
task's status (ok, warning, unknown, critical) as recorded in history; a skipped run
(outside its window, not configured) is no state. The first run of a task alerts when it
is already failing.

Each channel (``[[alerts.channels]]``) has a ``min_severity``: a change alerts it when the
old or the new state is at least that bad, so it hears both the problem and its
resolution; with ``remind_every`` it is sent the state again while it stays that bad.
With ``after`` N it hears a bad state only once the task has been that bad N runs in a
row (a flapping check stays quiet), and the resolve only if it heard the problem.
Deliveries are audited in history (``rota_alerts``): the row is written as
``sending`` before the attempt and completed after, so a crash mid-send leaves a trace.
A channel that cannot be reached never changes the run's status: the failure is recorded,
shown with the run, and listed by ``rota alerts history``.

:mod:`rota.alerts.channels` holds one transport per channel type (webhook, slack,
pagerduty, sendgrid), each with its contract in its docstring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from rota.model import Severity, TaskOutcome

__all__ = ["Alert", "Delivery", "changed", "covers", "wants"]

MAX_FINDINGS = 5


@dataclass(frozen=True)
class Alert:
    """One state change of one task, as every channel receives it."""

    target: str  # [target] name: which installation
    task_id: str
    title: str  # the task's title
    previous: Severity | None  # None: the task's first recorded run
    current: Severity
    summary: str  # one line: the worst finding's message, or the task's error
    at: datetime
    run_id: int | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)  # up to MAX_FINDINGS non-ok
    test: bool = False  # sent by ``rota alerts test``
    reminder: bool = False  # no change: the task is still in this state (remind_every)

    @property
    def resolved(self) -> bool:
        return self.current is Severity.OK

    @property
    def dedup_key(self) -> str:
        """Stable per target and task, so a resolve closes the incident its trigger opened."""
        return f"rota/{self.target}/{self.task_id}"

    def headline(self) -> str:
        """``[rota] CRITICAL db.vacuum on production: <summary> (was ok)``."""
        was = f" (was {self.previous.value})" if self.previous is not None else ""
        state = "RESOLVED" if self.resolved else self.current.value.upper()
        if self.reminder:
            state, was = f"still {state}", ""
        test = "[test] " if self.test else ""
        return f"{test}[rota] {state} {self.task_id} on {self.target}: {self.summary}{was}"

    def to_dict(self) -> dict[str, Any]:
        """The webhook payload (documented in README's alerts section)."""
        return {
            "source": "rota",
            "target": self.target,
            "task": self.task_id,
            "title": self.title,
            "status": self.current.value,
            "previous": self.previous.value if self.previous is not None else None,
            "resolved": self.resolved,
            "summary": self.summary,
            "findings": self.findings,
            "run_id": self.run_id,
            "at": self.at.isoformat(),
            "test": self.test,
            "reminder": self.reminder,
        }

    @classmethod
    def drill(cls, *, target: str, task_id: str, title: str, summary: str) -> Alert:
        """A marked test alert (a warning raised from ok), as a drill or a channel test sends."""
        from datetime import UTC

        return cls(
            target=target,
            task_id=task_id,
            title=title,
            previous=Severity.OK,
            current=Severity.WARNING,
            summary=summary,
            at=datetime.now(UTC),
            test=True,
        )

    @classmethod
    def of(
        cls,
        outcome: TaskOutcome,
        *,
        target: str,
        title: str,
        previous: Severity | None,
        run_id: int | None,
    ) -> Alert:
        bad = sorted(
            (f for f in outcome.findings if f.severity is not Severity.OK),
            key=lambda f: -f.severity.rank,
        )
        if outcome.error:
            summary = outcome.error
        elif bad:
            summary = bad[0].message + (f" (+{len(bad) - 1} more)" if len(bad) > 1 else "")
        else:
            summary = f"all {len(outcome.findings)} checks ok"
        return cls(
            target=target,
            task_id=outcome.task_id,
            title=title,
            previous=previous,
            current=outcome.status,
            summary=summary,
            at=outcome.finished_at or outcome.started_at,
            run_id=run_id,
            findings=[
                {
                    "code": f.code,
                    "severity": f.severity.value,
                    "message": f.message,
                    "subject": f.subject,
                }
                for f in bad[:MAX_FINDINGS]
            ],
        )


@dataclass(frozen=True)
class Delivery:
    """What one channel made of one alert."""

    ok: bool
    detail: str  # "HTTP 202", or why not: "cannot reach events.pagerduty.com: timed out"
    status_code: int | None = None


def changed(previous: Severity | None, current: Severity) -> bool:
    """Whether going from ``previous`` to ``current`` is a state change worth an alert."""
    if previous is None:
        return current is not Severity.OK
    return previous is not current


def covers(task_globs: list[str], task_id: str) -> bool:
    """Whether a channel's ``tasks`` globs take in ``task_id``."""
    return any(fnmatchcase(task_id, g) for g in task_globs)


def wants(min_severity: Severity, task_globs: list[str], task_id: str, alert: Alert) -> bool:
    """Whether a channel with these settings is sent ``alert``."""
    if not covers(task_globs, task_id):
        return False
    if alert.test:
        return True
    worst = max(alert.current.rank, alert.previous.rank if alert.previous else 0)
    return worst >= min_severity.rank
