"""Procedures as code: a runbook procedure a person walks through with rota, step by step.

A :class:`Procedure` has the runbook template's fields (purpose, prerequisites, expected
outcome, rollback, time estimate) and ordered steps, each either

:class:`Automatic`
    run one registered task through the engine, in check mode or with ``apply``; the
    step passes when the task finished (no error), its status is one of ``passes`` and,
    when ``requires_done`` is set, every task step whose action starts with it was done
    (and there was at least one);
:class:`Manual`
    an instruction for a person and what they must confirm; it passes when someone
    confirms it (``rota procedure continue RUN --confirm STEP``).

Procedures are registered like tasks (entry-point group ``rota.procedures``) and checked
the same way: :func:`validate_procedure` when added, and :meth:`rota.app.App.check_pending`
holds every automatic step to the task registry. A run's state lives only in the history
store (:mod:`rota.history.procedures`): :func:`advance` reads it, does what is due and
records it, so a run survives a restart and any process can continue it.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rota.errors import UsageError
from rota.model import Severity, StepStatus

if TYPE_CHECKING:
    from rota.docs import Page
    from rota.history.procedures import ProcedureEvent, ProcedureRun, ProcedureRuns
    from rota.model import TaskOutcome

# Procedure and step ids: lower case, words joined by dots or dashes ("critical-vulnerability").
PROCEDURE_ID = re.compile(r"^[a-z][a-z0-9]*([.-][a-z0-9]+)*$")
TEMPLATE_FIELDS = (
    "title",
    "section",
    "purpose",
    "prerequisites",
    "expected_outcome",
    "rollback",
    "time_estimate",
)
# Non-OK findings kept in a step's recorded detail.
DETAIL_FINDINGS = 50


def at_most(severity: Severity) -> tuple[Severity, ...]:
    """Every status no worse than ``severity`` (rank order: ok, warning, unknown, critical)."""
    return tuple(s for s in Severity if s.rank <= severity.rank)


ANY_STATUS = tuple(Severity)
AUDITED = (Severity.OK, Severity.WARNING, Severity.CRITICAL)  # the task ran: not unknown


@dataclass(frozen=True)
class Automatic:
    """A step rota does: run task ``task`` (check mode unless ``apply``)."""

    id: str
    title: str
    task: str
    apply: bool = False
    passes: tuple[Severity, ...] = at_most(Severity.WARNING)
    # A prefix of the task's step actions that must all be done ("npm audit fix").
    requires_done: str = ""
    # A procedure is started by a person in an emergency: its apply steps may run outside
    # the configured maintenance window (they are the ones that write only a branch).
    ignore_window: bool = False
    detail: str = ""  # what the step is for, on the page

    @property
    def kind(self) -> str:
        return "automatic"


@dataclass(frozen=True)
class Manual:
    """A step a person does: ``instruction``, then confirms ``confirm``."""

    id: str
    title: str
    instruction: str
    confirm: str

    @property
    def kind(self) -> str:
        return "manual"


ProcedureStep = Automatic | Manual


@dataclass(frozen=True)
class Procedure:
    """A runbook procedure: the template's fields and ordered steps."""

    id: str
    title: str
    section: str
    purpose: str
    prerequisites: tuple[str, ...]
    expected_outcome: str
    rollback: str
    time_estimate: str
    steps: tuple[ProcedureStep, ...]
    source: str = ""  # the plugin that registered it, filled in by the registry

    def step(self, step_id: str) -> ProcedureStep:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise UsageError(
            f"procedure {self.id} has no step {step_id!r} "
            f"(steps: {', '.join(s.id for s in self.steps)})"
        )

    def tasks(self) -> list[str]:
        return [s.task for s in self.steps if isinstance(s, Automatic)]

    def page(self) -> Page:
        """The procedure's runbook page (rendered by :func:`rota.docs.render_page`)."""
        from rota.docs import Page

        return Page(
            id=self.id,
            title=self.title,
            section=self.section,
            purpose=self.purpose,
            prerequisites=self.prerequisites,
            procedure=tuple(describe_step(s) for s in self.steps),
            expected_outcome=self.expected_outcome,
            rollback=self.rollback,
            time_estimate=self.time_estimate,
            wall_clock=True,
            commands=(
                f"rota procedure start {self.id}        # runs the automatic steps, stops at a manual one",
                "rota procedure status RUN              # where the run is, who did what",
                "rota procedure continue RUN --confirm STEP [--note TEXT] [--by NAME]",
                "rota procedure abort RUN",
            ),
        )


def describe_step(step: ProcedureStep) -> str:
    """One line of a page's Procedure section, marked [automatic: task] or [manual]."""
    if isinstance(step, Automatic):
        mode = "apply" if step.apply else "check mode"
        text = f"[automatic: `{step.task}`, {mode}] {step.title} (`{step.id}`)"
        return text + (f": {step.detail}" if step.detail else ".")
    return (
        f"[manual] {step.title} (`{step.id}`): {step.instruction} "
        f"Confirm with `--confirm {step.id}`: {step.confirm}"
    )


def validate_procedure(proc: Procedure) -> list[str]:
    """Every problem with a procedure's metadata (empty when it is well-formed); whether
    its tasks exist is :meth:`rota.app.App.check_pending`'s to say."""
    problems = []
    if not PROCEDURE_ID.match(proc.id or ""):
        problems.append("id must be lower case words joined by dots or dashes")
    for name in TEMPLATE_FIELDS:
        value = getattr(proc, name)
        if isinstance(value, str):
            empty = not value.strip()
        else:
            empty = not value or not all(str(v).strip() for v in value)
        if empty:
            problems.append(f"{name} is empty")
    if not proc.steps:
        problems.append("it has no steps")
    seen: set[str] = set()
    for i, step in enumerate(proc.steps, 1):
        where = f"step {i}"
        if not isinstance(step, (Automatic, Manual)):
            problems.append(f"{where} is neither rota.procedure.Automatic nor Manual")
            continue
        if not PROCEDURE_ID.match(step.id or ""):
            problems.append(f"{where}: id must be lower case words joined by dots or dashes")
        elif step.id in seen:
            problems.append(f"{where}: duplicate step id {step.id!r}")
        seen.add(step.id)
        if not step.title.strip():
            problems.append(f"{where} ({step.id}): title is empty")
        if isinstance(step, Automatic):
            if not step.task.strip():
                problems.append(f"{where} ({step.id}): names no task")
            if not step.passes:
                problems.append(f"{where} ({step.id}): passes on no status")
        else:
            if not step.instruction.strip():
                problems.append(f"{where} ({step.id}): instruction is empty")
            if not step.confirm.strip():
                problems.append(f"{where} ({step.id}): says nothing to confirm")
    return problems


def current_user() -> str:
    """Who is at the keyboard: the OS user (``--by`` overrides it on the command line)."""
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in a container: still record something
        return os.environ.get("USER") or f"uid {os.getuid()}"


# -- running: state from history, one step at a time -------------------------------------------

# An automatic step's task, run through the engine: (task id, apply, ignore_window) -> outcome.
RunTask = Callable[[str, bool, bool], "TaskOutcome"]
DONE_KINDS = ("passed", "confirmed", "skipped")


@dataclass
class Progress:
    """Where a run stands, derived from its events."""

    run: ProcedureRun
    events: list[ProcedureEvent]
    step: ProcedureStep | None  # the first step not passed (None: every step passed)
    failed: ProcedureEvent | None = None  # the current step's failure, if it just failed
    ran: list[str] = field(default_factory=list)  # steps this call ran or confirmed

    @property
    def waiting(self) -> Manual | None:
        """The manual step awaiting a confirmation."""
        if self.run.status == "running" and isinstance(self.step, Manual):
            return self.step
        return None

    def to_dict(self, proc: Procedure) -> dict[str, Any]:
        return {
            "run": self.run.to_dict(),
            "current": self.step.id if self.step else None,
            "waiting_for": (
                {"step": self.waiting.id, "confirm": self.waiting.confirm} if self.waiting else None
            ),
            "failed": self.failed.to_dict() if self.failed else None,
            "steps": [
                {
                    "id": s.id,
                    "title": s.title,
                    "kind": s.kind,
                    "task": s.task if isinstance(s, Automatic) else None,
                    "state": step_state(s, self),
                }
                for s in proc.steps
            ],
            "events": [e.to_dict() for e in self.events],
        }


def done_steps(events: list[ProcedureEvent]) -> set[str]:
    """Steps whose last step event passed, was confirmed or skipped."""
    last: dict[str, str] = {}
    for e in events:
        if e.kind != "note":
            last[e.step_id] = e.kind
    return {step for step, kind in last.items() if kind in DONE_KINDS}


def step_state(step: ProcedureStep, progress: Progress) -> str:
    """done | failed | waiting | running | pending | aborted, for display."""
    if step.id in done_steps(progress.events):
        return "done"
    if progress.step is None or step.id != progress.step.id:
        return "pending"
    kinds = [e.kind for e in progress.events if e.step_id == step.id and e.kind != "note"]
    if progress.run.status == "aborted":
        return "aborted"
    if kinds and kinds[-1] == "failed":
        return "failed"
    if isinstance(step, Manual):
        return "waiting" if kinds else "pending"
    return "running" if kinds and kinds[-1] == "started" else "pending"


def progress(proc: Procedure, runs: ProcedureRuns, run_id: int) -> Progress:
    """The run's state as its events tell it (nothing is run or recorded)."""
    run = runs.require(run_id)
    events = runs.events(run_id)
    done = done_steps(events)
    current = next((s for s in proc.steps if s.id not in done), None)
    failed = None
    if current is not None:
        mine = [e for e in events if e.step_id == current.id and e.kind != "note"]
        if mine and mine[-1].kind == "failed":
            failed = mine[-1]
    return Progress(run, events, current, failed)


def advance(
    proc: Procedure,
    runs: ProcedureRuns,
    run_id: int,
    run_task: RunTask,
    *,
    who: str,
    confirm: str | None = None,
    note: str | None = None,
) -> Progress:
    """Go on with a running run: record ``note`` and the confirmation of ``confirm`` (which
    must be the manual step it waits at), then run automatic steps in order until a manual
    step needs a confirmation, a step fails, or every step passed (the run is then done).
    A failed automatic step is run again by the next call."""
    state = progress(proc, runs, run_id)
    if state.run.status != "running":
        raise UsageError(f"procedure run {run_id} is {state.run.status}; start a new one")
    if note:
        step_id = state.step.id if state.step else ""
        runs.record(run_id, step_id, "note", who=who, detail={"text": note})
    if confirm is not None:
        proc.step(confirm)  # a UsageError naming the steps if there is no such step
        if state.step is None or confirm != state.step.id or not isinstance(state.step, Manual):
            at = f"waits at {state.step.id}" if state.step else "has no step left"
            raise UsageError(
                f"step {confirm} of run {run_id} is not awaiting a confirmation (the run {at})"
            )
    ran: list[str] = []
    for step in proc.steps[proc.steps.index(state.step) :] if state.step else ():
        if isinstance(step, Manual):
            if confirm == step.id:
                runs.record(run_id, step.id, "confirmed", who=who, detail={"confirm": step.confirm})
                ran.append(step.id)
                confirm = None
                continue
            mine = [e for e in runs.events(run_id) if e.step_id == step.id and e.kind != "note"]
            if not mine or mine[-1].kind != "started":
                runs.record(run_id, step.id, "started", who=who, detail={"confirm": step.confirm})
            break
        ran.append(step.id)
        if not _run_automatic(step, runs, run_id, run_task, who):
            break
    else:
        runs.finish(run_id, "done", who=who)
    after = progress(proc, runs, run_id)
    after.ran = ran
    return after


def _run_automatic(
    step: Automatic, runs: ProcedureRuns, run_id: int, run_task: RunTask, who: str
) -> bool:
    mode = "apply" if step.apply else "check"
    # Audit first: the attempt is on record before the task starts.
    runs.record(run_id, step.id, "started", who=who, detail={"task": step.task, "mode": mode})
    try:
        outcome = run_task(step.task, step.apply, step.ignore_window)
    except Exception as exc:  # the engine catches task errors; this is rota failing around it
        runs.record(
            run_id,
            step.id,
            "failed",
            who=who,
            detail={"task": step.task, "mode": mode, "error": f"{type(exc).__name__}: {exc}"},
        )
        return False
    ok, why = judge(step, outcome)
    detail = outcome_detail(step, outcome)
    detail["why"] = why
    runs.record(run_id, step.id, "passed" if ok else "failed", who=who, detail=detail)
    return ok


def judge(step: Automatic, outcome: TaskOutcome) -> tuple[bool, str]:
    """Whether ``outcome`` passes ``step``, and why in a few words."""
    status = outcome.status
    if outcome.error:
        return False, f"the task failed: {outcome.error}"
    if outcome.skip_reason:
        return False, f"the task was skipped: {outcome.skip_reason}"
    if status not in step.passes:
        allowed = ", ".join(s.value for s in step.passes)
        return False, f"status {status.value}; the step passes on {allowed}"
    if step.requires_done:
        mine = [s for s in outcome.steps if s.action.startswith(step.requires_done)]
        if not mine:
            return False, f"the task made no {step.requires_done!r} step"
        undone = [s for s in mine if s.status is not StepStatus.DONE]
        if undone:
            return False, f"{undone[0].action}: {undone[0].status.value}"
    return True, f"status {status.value}"


def outcome_detail(step: Automatic, outcome: TaskOutcome) -> dict[str, Any]:
    """What is kept of a task's outcome in the step's event."""
    bad = [f for f in outcome.findings if f.severity is not Severity.OK]
    return {
        "task": step.task,
        "mode": "apply" if step.apply else "check",
        "status": outcome.status.value,
        "summary": outcome.summary,
        "error": outcome.error,
        "findings": [
            {
                "code": f.code,
                "severity": f.severity.value,
                "subject": f.subject,
                "message": f.message,
                # The dependency audit's exposure: is the package in production?
                **({"production": f.evidence["production"]} if "production" in f.evidence else {}),
            }
            for f in bad[:DETAIL_FINDINGS]
        ],
        "more_findings": max(0, len(bad) - DETAIL_FINDINGS),
        "steps": [{"action": s.action, "status": s.status.value} for s in outcome.steps],
    }


def abort(runs: ProcedureRuns, run_id: int, *, who: str, reason: str = "") -> ProcedureRun:
    """End a running run as aborted; ``reason`` is kept as a note first."""
    run = runs.require(run_id)
    if run.status != "running":
        raise UsageError(f"procedure run {run_id} is already {run.status}")
    if reason:
        runs.record(run_id, "", "note", who=who, detail={"text": reason, "abort": True})
    return runs.finish(run_id, "aborted", who=who)
