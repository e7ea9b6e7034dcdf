"""The task contract: one maintenance procedure as data plus a run function.

A task is a :class:`Task`: the runbook template's fields (purpose, prerequisites,
procedure, expected outcome, rollback, time estimate), its schedule and priority, whether
it can change the target, and ``run(ctx)``, a generator that yields :class:`Finding`,
:class:`Metric` and :class:`Step` objects. A task never prints, never exits, and never
changes a target unless ``ctx.apply`` is true; every change goes through
:meth:`Context.action`, which in check mode records the plan instead of acting.

Tasks reach targets (PostgreSQL, HTTP, files, processes) only through ``ctx``, so every
target is written and tested once. Declare one with the :func:`task` decorator::

    @task(
        id="monitor.health",
        title="Health check verification",
        section="Monitoring and alerting",
        frequency="daily",
        priority="high",
        needs=("http",),
        purpose="...", prerequisites=["..."], procedure=["..."],
        expected_outcome="...", rollback="...", time_estimate="10s",
    )
    def health(ctx: Context) -> Iterator[Item]:
        yield Finding(...)

and hand it to ``registry.add(health)`` from the function named by an entry point in the
``rota.tasks`` group, exactly as rota's built-ins do.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, overload

from rota.errors import TargetUnavailable
from rota.model import Finding, Metric, Step, StepStatus
from rota.process import kill_process_group
from rota.targets import TargetRequest, builtin_kind
from rota.text import error_line

if TYPE_CHECKING:
    from rota.alerts.channels import Channel
    from rota.config import Config
    from rota.history import History
    from rota.registry import Registry
    from rota.security.advisories import Advisories
    from rota.targets import TargetKind
    from rota.targets.files import Files
    from rota.targets.http import Http
    from rota.targets.npmproject import NpmProject
    from rota.targets.pgtools import PgTools
    from rota.targets.postgres import Postgres
    from rota.targets.process import Processes
    from rota.targets.project import Project

Item = Finding | Metric | Step
RunFunction = Callable[["Context"], Iterator[Item]]

PRIORITIES = ("low", "medium", "high", "critical")
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
# Fields a runbook page cannot do without; a task missing one fails registry validation.
TEMPLATE_FIELDS = (
    "purpose",
    "prerequisites",
    "procedure",
    "expected_outcome",
    "rollback",
    "time_estimate",
)


@dataclass(frozen=True)
class Task:
    """One maintenance procedure. See the module docstring for the contract."""

    id: str
    title: str
    section: str
    frequency: str  # daily | weekly | monthly | quarterly | annually | "every 6h" | cron
    priority: str  # low | medium | high | critical
    purpose: str
    prerequisites: tuple[str, ...]
    procedure: tuple[str, ...]
    expected_outcome: str
    rollback: str
    time_estimate: str  # machine time as a duration ("30s", "5m")
    run: RunFunction
    mutates: bool = False
    needs: tuple[str, ...] = ()  # config sections that must be set ("database", "http")
    timeout: str = "10m"
    manual_time: str = ""  # what the procedure takes by hand, from the runbook's table
    codes: tuple[str, ...] = ()  # finding codes it can emit, for docs
    source: str = ""  # which plugin registered it; filled by the registry

    @property
    def prefix(self) -> str:
        return self.id.split(".", 1)[0]


def task(
    *,
    id: str,
    title: str,
    section: str,
    frequency: str,
    priority: str,
    purpose: str,
    prerequisites: list[str] | tuple[str, ...],
    procedure: list[str] | tuple[str, ...],
    expected_outcome: str,
    rollback: str,
    time_estimate: str,
    mutates: bool = False,
    needs: tuple[str, ...] = (),
    timeout: str = "10m",
    manual_time: str = "",
    codes: tuple[str, ...] = (),
) -> Callable[[RunFunction], Task]:
    """Turn a run function into a :class:`Task` (it is not registered anywhere yet)."""

    def wrap(fn: RunFunction) -> Task:
        return Task(
            id=id,
            title=title,
            section=section,
            frequency=frequency,
            priority=priority,
            purpose=purpose,
            prerequisites=tuple(prerequisites),
            procedure=tuple(procedure),
            expected_outcome=expected_outcome,
            rollback=rollback,
            time_estimate=time_estimate,
            run=fn,
            mutates=mutates,
            needs=tuple(needs),
            timeout=timeout,
            manual_time=manual_time,
            codes=tuple(codes),
        )

    return wrap


@dataclass
class Context:
    """What a running task may use: its config, its mode, targets, history and state.

    ``targets`` opens target adapters lazily (``ctx.target("postgres")``) and closes them
    after the task. ``cancelled`` is set when the task runs past its timeout; the work a
    thread cannot stop by itself is registered so the engine can end it before it releases
    the task's locks: :meth:`on_cancel` takes any cleanup (a target cancelling its query),
    :meth:`track_process` a subprocess's process group (killed), :meth:`track_session` a
    PostgreSQL session (its backend cancelled, then terminated, from another connection).
    """

    task: Task
    config: Config
    apply: bool = False
    history: History | None = None
    # The app's target kinds and channel types; None: rota's built-in ones.
    kinds: Registry[TargetKind] | None = None
    channel_types: Callable[[str], type[Channel]] | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    _cancel_hooks: list[Callable[[], None]] = field(default_factory=list)
    _sessions: list[Any] = field(default_factory=list)
    _targets: dict[str, Any] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    @property
    def mode(self) -> str:
        return "apply" if self.apply else "check"

    # -- targets -------------------------------------------------------------------------
    @overload
    def target(self, kind: Literal["postgres"]) -> Postgres: ...
    @overload
    def target(self, kind: Literal["http"]) -> Http: ...
    @overload
    def target(self, kind: Literal["files"]) -> Files: ...
    @overload
    def target(self, kind: Literal["pgtools"]) -> PgTools: ...
    @overload
    def target(self, kind: Literal["alerts"]) -> list[Channel]: ...
    @overload
    def target(self, kind: Literal["process"]) -> Processes: ...
    @overload
    def target(self, kind: Literal["advisories"]) -> Advisories: ...
    @overload
    def target(self, kind: Literal["project"]) -> Project: ...
    @overload
    def target(self, kind: Literal["npmproject"]) -> NpmProject: ...
    @overload
    def target(self, kind: str) -> object: ...
    def target(self, kind: str) -> Any:
        """The task's adapter for ``kind``: built-in kinds are typed (``postgres`` gives a
        :class:`~rota.targets.postgres.Postgres`); a plugin's kind gives ``object``, for
        the plugin to narrow with ``isinstance``."""
        if kind not in self._targets:
            if kind not in self.task.needs:
                # The engine skips a task whose needs are not configured; a target opened
                # behind its back would fail mid-run instead, or open what was never checked.
                raise TargetUnavailable(
                    f"{self.task.id} opens target {kind!r} without declaring it in needs"
                )
            spec = self.kinds.get(kind) if self.kinds is not None else builtin_kind(kind)
            adapter = spec.open(
                TargetRequest(
                    self.config,
                    readonly=not self.apply,
                    label=f"rota:{self.task.id}",
                    channel_types=self.channel_types,
                )
            )
            cancel = getattr(adapter, "cancel", None)
            if callable(cancel):
                self.on_cancel(cancel)
            if callable(getattr(adapter, "backend_pid", None)):
                self.track_session(adapter)
            self._targets[kind] = adapter
        return self._targets[kind]

    def close(self) -> None:
        for t in self._targets.values():
            close = getattr(t, "close", None)
            if close:
                try:
                    close()
                except Exception:
                    pass
        self._targets.clear()

    # -- what the engine stops on a timeout ----------------------------------------------
    def on_cancel(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Run ``hook`` if the task times out (at once if it already has); returns a
        function that forgets it, for work that finished."""
        with self._guard:
            late = self.cancelled.is_set()
            if not late:
                self._cancel_hooks.append(hook)
        if late:
            _quietly(hook)

        def forget() -> None:
            with self._guard, contextlib.suppress(ValueError):
                self._cancel_hooks.remove(hook)

        return forget

    def track_process(self, pgid: int) -> Callable[[], None]:
        """Kill process group ``pgid`` (SIGTERM, then SIGKILL) if the task times out while
        it runs; returns a function that forgets it once the process has been reaped."""
        return self.on_cancel(lambda: kill_process_group(pgid))

    def track_session(self, session: Any) -> None:
        """Cancel ``session``'s server-side work if the task times out: anything with a
        ``url`` and a ``backend_pid()`` (None while it is not connected)."""
        with self._guard:
            self._sessions.append(session)

    def backends(self) -> list[tuple[str, int]]:
        """(url, backend pid) of every tracked session connected right now."""
        with self._guard:
            sessions = list(self._sessions)
        found: list[tuple[str, int]] = []
        for s in sessions:
            try:
                pid = s.backend_pid()
            except Exception:
                continue
            if pid:
                found.append((str(s.url), int(pid)))
        return found

    def cancel(self) -> None:
        """Mark the task cancelled and run every cleanup (each failure is ignored)."""
        with self._guard:
            self.cancelled.set()
            hooks = list(self._cancel_hooks)
        for hook in hooks:
            _quietly(hook)

    # -- state kept between runs (log offsets, statistics snapshots) ---------------------
    def load_state(self, key: str, default: Any = None) -> Any:
        if self.history is None:
            return default
        return self.history.get_state(self.task.id, key, default)

    def save_state(self, key: str, value: Any) -> None:
        """Kept in the history store (in check mode too): it is rota's bookkeeping, never the target's."""
        if self.history is not None:
            self.history.set_state(self.task.id, key, value)

    # -- actions -------------------------------------------------------------------------
    def action(
        self,
        action: str,
        do: Callable[[], dict[str, Any] | None],
        *,
        reason: str,
        lock: str = "none",
        estimate_s: float | None = None,
        **detail: Any,
    ) -> Step:
        """Plan (check mode) or perform (apply mode) one change, and describe it as a Step.

        ``do`` performs the change and may return extra detail (e.g. bytes reclaimed, or
        ``{"changed": False}`` when nothing needed doing). It is never called in check mode.
        An exception from ``do`` becomes a failed step carrying the error, so the task can
        go on and report it as a finding.
        """
        info: dict[str, Any] = {"reason": reason, "lock": lock, **detail}
        if estimate_s is not None:
            info["estimate_s"] = round(estimate_s, 3)
        if not self.apply:
            return Step(action, StepStatus.PLANNED, 0.0, info)
        if self.cancelled.is_set():
            return Step(action, StepStatus.SKIPPED, 0.0, {**info, "error": "task timed out"})
        t0 = time.monotonic()
        try:
            extra = do() or {}
        except Exception as exc:
            return Step(
                action,
                StepStatus.FAILED,
                time.monotonic() - t0,
                {**info, "error": error_line(exc, typed=True)},
            )
        return Step(action, StepStatus.DONE, time.monotonic() - t0, {**info, **extra})


def _quietly(hook: Callable[[], None]) -> None:
    try:
        hook()
    except Exception:  # one broken cleanup must not keep the others from running
        pass
