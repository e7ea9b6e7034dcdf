"""The engine: runs tasks safely and records what happened.

For each task: skip it if it is not configured (or, for changes, outside the maintenance
window); take its locks (a file lock, plus a PostgreSQL advisory lock when a database is
configured); write the run row as ``running``; run the task in a worker thread with its
timeout; catch anything it raises and record it as ``unknown`` with the reason; add a
finding when it ran much faster or slower than usual; redact secrets; complete the run
row; release the locks. One task's failure never stops the others.

A timeout ends the work before the locks go: the task's cleanups run (its subprocesses'
process groups are killed, its targets cancel), its PostgreSQL sessions' backends are
cancelled (then terminated if they linger) from a separate connection, and the engine
waits, bounded, for the task's thread to end. A thread that still runs (Python code that
never looks at cancellation) keeps the locks until it ends, so a second run of the task
is refused as already running instead of starting beside it; the run is recorded as
``unknown``, "still stopping", and the rota process can still exit (the thread is a
daemon, and the operating system and the server drop both locks with the process).
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rota.alerts.dispatch import notify
from rota.app import App
from rota.errors import LockBusy, RotaError, TargetUnavailable
from rota.frequency import Window
from rota.locks import FileLock, lock_path, pid_alive, state_dir
from rota.model import AlertSent, Finding, Metric, RunReport, Severity, Step, TaskOutcome
from rota.redact import Redactor
from rota.targets.postgres import Postgres
from rota.task import Context, Task
from rota.text import error_line
from rota.units import format_duration, parse_duration

if TYPE_CHECKING:
    from rota.app import App
    from rota.config import Config
    from rota.history import History

# Grace after a timeout for the task's thread to end once its work has been cancelled.
CANCEL_GRACE_S = 5.0
# Grace for a cancelled backend to leave its query (and transaction) before it is terminated.
BACKEND_GRACE_S = 2.0
Event = Callable[[str, Task, TaskOutcome | None], None]


@dataclass
class Engine:
    config: Config
    history: History | None = None
    lock_dir: Path = field(default_factory=state_dir)
    on_event: Event | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    cancel_grace: float = CANCEL_GRACE_S
    # The registries tasks run on (target kinds, channel types); None: an App with every
    # installed plugin, made when first needed.
    app: App | None = None
    # Tests hold tasks to their contract: a finding whose code the task did not declare
    # fails the task instead of passing unnoticed (ROTA_STRICT=1, set by rota.testing).
    strict: bool = field(default_factory=lambda: os.environ.get("ROTA_STRICT") == "1")

    @property
    def registries(self) -> App:
        if self.app is None:
            self.app = App()
        return self.app

    def run(
        self,
        tasks: Iterable[Task],
        *,
        apply: bool = False,
        wait: float = 0,
        explicit: Iterable[str] = (),
        ignore_window: bool = False,
    ) -> RunReport:
        """Run ``tasks`` one after another and return the report.

        ``explicit`` names tasks the user asked for by id: when such a task is not
        configured it is ``unknown`` (the user asked for something rota cannot do) rather
        than quietly skipped as it is in ``--all`` and ``--due`` runs.
        """
        explicit = set(explicit)
        group = uuid.uuid4().hex[:12]
        report = RunReport(self.config.target.name, "apply" if apply else "check", self.now())
        if self.history is not None:
            self.history.abandon_stale(host=socket.gethostname(), is_alive=pid_alive)
        for task in tasks:
            self._emit("start", task, None)
            outcome = self.run_one(
                task,
                apply=apply,
                wait=wait,
                explicit=task.id in explicit,
                ignore_window=ignore_window,
                group=group,
            )
            report.tasks.append(outcome)
            self._emit("finish", task, outcome)
        report.finished_at = self.now()
        if self.history is not None:
            keep = timedelta(days=self.config.history.keep_days)
            self.history.prune(older_than=report.finished_at - keep)
        return report

    def run_one(
        self,
        task: Task,
        *,
        apply: bool = False,
        wait: float = 0,
        explicit: bool = False,
        ignore_window: bool = False,
        group: str = "",
    ) -> TaskOutcome:
        outcome = TaskOutcome(task.id, self.now())
        reason = self._not_runnable(task, apply=apply, ignore_window=ignore_window)
        if reason:
            if explicit and not reason.startswith("outside"):
                outcome.error = f"not configured: {reason}"
            else:
                outcome.skip_reason = reason
            outcome.finished_at = outcome.started_at
            return outcome

        held = _Held(FileLock(lock_path(self.lock_dir, self.config.target.name, task.id)))
        try:
            held.flock.acquire(wait=wait, label=task.id)
            held.advisory = self._advisory_lock(task, wait)
        except LockBusy as exc:
            held.flock.release()
            outcome.error = str(exc)
            outcome.finished_at = self.now()
            return outcome

        run_id = None
        previous: Severity | None = None
        stopping: threading.Thread | None = None
        try:
            if self.history is not None:
                if self.config.alerts.channels:
                    previous = self.history.previous_status(task.id)
                run_id = self.history.start_run(
                    task_id=task.id,
                    mode="apply" if apply else "check",
                    target=self.config.target.name,
                    started_at=outcome.started_at,
                    run_group=group,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                )
            stopping = self._execute(task, outcome, apply=apply, held=held)
            outcome.finished_at = self.now()
            self._check_duration(task, outcome, mode="apply" if apply else "check")
            self._redact(outcome)
            if self.history is not None and run_id is not None:
                self.history.finish_run(run_id, outcome)
        finally:
            if stopping is not None and stopping.is_alive():
                held.flock.note("still stopping after a timeout")
                threading.Thread(
                    target=held.release_after,
                    args=(stopping,),
                    name=f"rota-locks-{task.id}",
                    daemon=True,
                ).start()
            else:
                held.release()
        if self.history is not None and run_id is not None and self.config.alerts.channels:
            self._alert(task, outcome, previous, run_id)  # after the locks: it may wait on I/O
        return outcome

    def _alert(
        self, task: Task, outcome: TaskOutcome, previous: Severity | None, run_id: int
    ) -> None:
        try:
            outcome.alerts = notify(
                self.config,
                self.history,
                outcome,
                title=task.title,
                previous=previous,
                run_id=run_id,
                redact=Redactor(self.config.secrets()).text,
                types=self.registries.channels.get,
            )
        except Exception as exc:  # alerting never takes the run's result down with it
            outcome.alerts = [
                AlertSent(
                    "(alerts)", "failed", previous, outcome.status, error_line(exc, typed=True)
                )
            ]

    # -- pieces ------------------------------------------------------------------------
    def _not_runnable(self, task: Task, *, apply: bool, ignore_window: bool) -> str | None:
        why = self.registries.missing(self.config, task.needs)
        if why:
            return why
        if apply and task.mutates and self.config.schedule.window and not ignore_window:
            window = Window.parse(self.config.schedule.window)
            now = self.now()
            if not window.contains(now):
                opens = window.next_open(now)
                return f"outside the maintenance window ({window.text}; next opens {opens:%a %Y-%m-%d %H:%M %Z})"
        return None

    def _advisory_lock(self, task: Task, wait: float) -> Any:
        db = self.config.database
        if not db.url or not db.advisory_locks:
            return None

        pg = Postgres(
            db.url, readonly=True, connect_timeout=db.connect_timeout, application_name="rota:lock"
        )
        name = f"{self.config.target.name}:{task.id}"
        deadline = time.monotonic() + wait
        try:
            while not pg.try_advisory_lock(name):
                if time.monotonic() >= deadline:
                    pg.close()
                    raise LockBusy(
                        f"{task.id} is already running against {pg.where} (advisory lock held)"
                    )
                threading.Event().wait(0.2)
        except TargetUnavailable:
            # The task itself will report the database as unreachable; the file lock holds.
            pg.close()
            return None
        return pg

    def _execute(
        self, task: Task, outcome: TaskOutcome, *, apply: bool, held: _Held
    ) -> threading.Thread | None:
        """Run ``task`` in its own thread with its timeout. Returns that thread when it
        is still running after a timeout and the cancellation grace (it then owns
        ``held``: the locks and its targets go when it ends), else None."""
        app = self.registries
        ctx = Context(
            task=task,
            config=self.config,
            apply=apply,
            history=self.history,
            kinds=app.targets,
            channel_types=app.channels.get,
        )
        held.ctx = ctx
        override = self.config.override(task.id)
        timeout = override.timeout or parse_duration(task.timeout)
        failure: list[str] = []
        # Held while an item is added, so nothing lands in the outcome once it is recorded.
        collecting = threading.Lock()

        def work() -> None:
            try:
                for item in task.run(ctx):
                    with collecting:
                        if ctx.cancelled.is_set():
                            break
                        _collect(outcome, item, task, strict=self.strict)
            except TargetUnavailable as exc:
                failure.append(str(exc))
            except RotaError as exc:
                failure.append(str(exc))
            except Exception as exc:
                if not ctx.cancelled.is_set():
                    tb = traceback.extract_tb(exc.__traceback__)[-1]
                    where = f"{Path(tb.filename).name}:{tb.lineno}"
                    failure.append(f"task failed: {error_line(exc, typed=True)} (at {where})")

        # A daemon: a thread that ignores cancellation must not keep rota from exiting.
        worker = threading.Thread(target=work, name=f"rota-task-{task.id}", daemon=True)
        worker.start()
        worker.join(timeout)
        if not worker.is_alive():
            if failure:
                outcome.error = failure[0]
            return None
        outcome.error = f"timed out after {format_duration(timeout)}"
        backends = ctx.backends()  # before the cleanups, which may close sessions
        ctx.cancel()
        with collecting:
            pass  # an item being added when the cancel came is in; none will follow
        self._stop_backends(backends)
        worker.join(self.cancel_grace)
        if worker.is_alive():
            outcome.error += "; still stopping"
            return worker
        return None

    def _stop_backends(self, backends: list[tuple[str, int]]) -> None:
        """Cancel the server-side work of a timed-out task's sessions from a separate
        connection; terminate a backend still busy, or still inside a transaction (its
        locks held), after a short grace."""
        by_url: dict[str, list[int]] = {}
        for url, pid in backends:
            by_url.setdefault(url, []).append(pid)
        for url, pids in by_url.items():
            try:
                _stop_backends_at(url, pids, self.config.database.connect_timeout)
            except Exception:  # best effort: the thread's grace and the locks still hold
                pass

    def _check_duration(self, task: Task, outcome: TaskOutcome, *, mode: str) -> None:
        """A run far faster or slower than its history (or estimate) is itself a finding."""
        if outcome.error:
            return
        took = outcome.duration_s
        # Apply runs do the work check runs only plan: compare like with like.
        past = (
            self.history.durations(task.id, limit=20, mode=mode) if self.history is not None else []
        )
        if len(past) >= 5:
            median = statistics.median(past)
            basis = f"the median of the last {len(past)} runs ({format_duration(median)})"
        else:
            median = parse_duration(task.time_estimate)
            basis = f"its estimate ({format_duration(median)})"
        slow = took > 3 * median and took - median > 10
        fast = len(past) >= 5 and took < median / 3 and median - took > 10
        if slow or fast:
            word = "slower" if slow else "faster"
            outcome.findings.append(
                Finding(
                    code="rota.duration.anomaly",
                    severity=Severity.WARNING,
                    message=f"{task.id} took {format_duration(took)}, much {word} than {basis}",
                    subject=task.id,
                    evidence={
                        "duration_s": round(took, 3),
                        "baseline_s": round(median, 3),
                        "history_runs": len(past),
                    },
                    remedy="Look at what changed: data volume, locks, the target's load; "
                    "a much faster run may mean the task skipped work.",
                )
            )

    def _redact(self, outcome: TaskOutcome) -> None:
        r = Redactor(self.config.secrets())
        outcome.findings = [
            Finding(
                f.code,
                f.severity,
                r.text(f.message),
                r.text(f.subject),
                r(f.evidence),
                r.text(f.remedy),
            )
            for f in outcome.findings
        ]
        outcome.steps = [
            Step(s.action and r.text(s.action), s.status, s.duration_s, r(s.detail))
            for s in outcome.steps
        ]
        outcome.metrics = [Metric(m.name, m.value, m.unit, r(m.labels)) for m in outcome.metrics]
        if outcome.error:
            outcome.error = r.text(outcome.error)

    def _emit(self, event: str, task: Task, outcome: TaskOutcome | None) -> None:
        if self.on_event is not None:
            self.on_event(event, task, outcome)


@dataclass
class _Held:
    """What one run holds until its task's thread ends: its locks and its targets."""

    flock: FileLock
    advisory: Any = None
    ctx: Context | None = None

    def release(self) -> None:
        try:
            if self.ctx is not None:
                self.ctx.close()
        finally:
            try:
                if self.advisory is not None:
                    # Explicitly: the server drops a closed session's locks a moment later,
                    # long enough for the next run to find the lock still held.
                    with contextlib.suppress(Exception):
                        self.advisory.query("SELECT pg_advisory_unlock_all()")
                    self.advisory.close()
            finally:
                self.flock.release()

    def release_after(self, worker: threading.Thread) -> None:
        worker.join()
        self.release()


def _stop_backends_at(url: str, pids: list[int], connect_timeout: float) -> None:
    pg = Postgres(
        url,
        readonly=True,
        connect_timeout=connect_timeout,
        statement_timeout=10,
        application_name="rota:cancel",
    )
    try:
        pg.query(
            "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
            "WHERE pid = ANY(%s) AND state <> 'idle'",
            (pids,),
        )
        deadline = time.monotonic() + BACKEND_GRACE_S
        while True:
            busy = [
                r["pid"]
                for r in pg.query(
                    "SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s) AND state <> 'idle'",
                    (pids,),
                )
            ]
            if not busy:
                return
            if time.monotonic() >= deadline:
                pg.query("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (busy,))
                return
            time.sleep(0.05)
    finally:
        pg.close()


def _collect(outcome: TaskOutcome, item: Any, task: Task, *, strict: bool = False) -> None:
    if isinstance(item, Finding):
        if strict and item.code not in task.codes:
            raise RotaError(
                f"{task.id} yielded finding code {item.code!r}, which it does not declare "
                f"(codes: {', '.join(task.codes) or 'none'})"
            )
        outcome.findings.append(item)
    elif isinstance(item, Metric):
        outcome.metrics.append(item)
    elif isinstance(item, Step):
        outcome.steps.append(item)
    else:
        raise TypeError(
            f"{task.id} yielded {type(item).__name__}; tasks yield Finding, Metric or Step"
        )
