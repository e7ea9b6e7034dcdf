"""When tasks are due: last successful run + frequency, and the grace before overdue.

A task never run is due now. A task past its due time by more than its grace period is
overdue. Mutating work in apply mode waits for the maintenance window; checks run whenever
they are due. Frequencies and windows themselves are :mod:`rota.frequency`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from rota.frequency import Frequency
from rota.units import parse_duration

if TYPE_CHECKING:
    from rota.history import RunRecord
    from rota.task import Task


@dataclass(frozen=True)
class DueInfo:
    """Where one task stands against its schedule."""

    task: Task
    frequency: Frequency
    last_run: RunRecord | None
    last_success: RunRecord | None
    next_due: datetime | None  # None: never succeeded, so due now
    grace_s: float
    now: datetime

    @property
    def is_due(self) -> bool:
        return self.next_due is None or self.next_due <= self.now

    @property
    def overdue_s(self) -> float:
        """Seconds past due (0 when not due)."""
        if self.next_due is None or self.next_due > self.now:
            return 0.0
        return (self.now - self.next_due).total_seconds()

    @property
    def state(self) -> str:
        """never | ok | due | overdue."""
        if self.last_success is None:
            return "never"
        if not self.is_due:
            return "ok"
        return "overdue" if self.overdue_s > self.grace_s else "due"


def due_info(
    task: Task,
    *,
    frequency: str,
    grace: str | None,
    last_run: RunRecord | None,
    last_success: RunRecord | None,
    now: datetime,
) -> DueInfo:
    freq = Frequency.parse(frequency)
    next_due = None
    if last_success is not None:
        next_due = freq.next_after(last_success.started_at)
    grace_s = parse_duration(grace) if grace else freq.default_grace
    return DueInfo(task, freq, last_run, last_success, next_due, grace_s, now)
