"""The task registry: built-ins and plugins, loaded the same way and validated at start-up.

Every distribution that wants to add tasks declares an entry point in the ``rota.tasks``
group naming a function ``register(registry)``; rota's own tasks use exactly that
(``builtin = "rota.tasks:register"``). The registry belongs to an :class:`App`, never to
import time, so tests build registries of their own without leaking plugins.
A malformed task, a duplicate id or a plugin that fails to import is a
:class:`~rota.errors.RegistryError` naming the culprit, never a silent skip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from importlib.metadata import entry_points

from rota.errors import RegistryError, UsageError
from rota.task import ID_PATTERN, PRIORITIES, TEMPLATE_FIELDS, Task

ENTRY_POINT_GROUP = "rota.tasks"


class Registry:
    """Tasks by id, in registration order."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}
        self._source = "direct"

    def add(self, task: Task) -> Task:
        """Validate and register ``task``; returns it (so it can be used as a decorator)."""
        if not isinstance(task, Task):
            raise RegistryError(
                f"{self._source}: registered {task!r}, which is not a rota Task "
                "(build one with the rota.task.task decorator)"
            )
        problems = validate_task(task)
        if problems:
            raise RegistryError(
                f"{self._source}: task {task.id!r} is malformed: " + "; ".join(problems)
            )
        if task.id in self._tasks:
            other = self._tasks[task.id].source
            raise RegistryError(
                f"duplicate task id {task.id!r}: registered by {other} and by {self._source}"
            )
        registered = replace(task, source=self._source)
        self._tasks[task.id] = registered
        return registered

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        for ep in sorted(entry_points(group=group), key=lambda e: (e.name != "builtin", e.name)):
            dist = ep.dist.name if ep.dist else "?"
            try:
                hook = ep.load()
            except Exception as exc:
                raise RegistryError(f"plugin {ep.name} ({dist}) failed to load: {exc}") from exc
            self.load(hook, source=f"{ep.name} ({dist})")

    def load(self, hook: Callable[[Registry], None], *, source: str) -> None:
        if not callable(hook):
            raise RegistryError(
                f"plugin {source}: entry point is not a register(registry) function"
            )
        previous, self._source = self._source, source
        try:
            hook(self)
        finally:
            self._source = previous

    def __iter__(self) -> Iterator[Task]:
        return iter(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._tasks

    def get(self, task_id: str) -> Task:
        try:
            return self._tasks[task_id]
        except KeyError:
            raise UsageError(f"no task {task_id!r}{_suggest(task_id, self._tasks)}") from None

    def select(self, selectors: Iterable[str]) -> list[Task]:
        """Tasks matching ids or prefixes (``db`` or ``db.*`` selects every ``db.`` task)."""
        chosen: dict[str, Task] = {}
        for sel in selectors:
            key = sel.removesuffix(".*").removesuffix(".")
            if key in self._tasks:
                chosen[key] = self._tasks[key]
                continue
            matches = [t for t in self._tasks.values() if t.id.startswith(key + ".")]
            if not matches:
                raise UsageError(f"no task or prefix matches {sel!r}{_suggest(key, self._tasks)}")
            for t in matches:
                chosen[t.id] = t
        return list(chosen.values())


def validate_task(task: Task) -> list[str]:
    """Every problem with a task's metadata (empty when it is well-formed)."""
    from rota.frequency import Frequency
    from rota.units import parse_duration

    problems = []
    if not ID_PATTERN.match(task.id or ""):
        problems.append("id must be dotted lower case, like 'db.vacuum'")
    for name in TEMPLATE_FIELDS:
        value = getattr(task, name)
        if not value or (isinstance(value, tuple) and not all(str(v).strip() for v in value)):
            problems.append(f"runbook field {name!r} is empty")
    if not task.title.strip():
        problems.append("title is empty")
    if not task.section.strip():
        problems.append("section is empty")
    if task.priority not in PRIORITIES:
        problems.append(f"priority {task.priority!r} is not one of {', '.join(PRIORITIES)}")
    try:
        Frequency.parse(task.frequency)
    except ValueError as exc:
        problems.append(f"frequency: {exc}")
    for name in ("time_estimate", "timeout"):
        try:
            parse_duration(getattr(task, name))
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
    if not callable(task.run):
        problems.append("run is not callable")
    return problems


def _suggest(key: str, tasks: dict[str, Task]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(tasks), n=1)
    return f"; did you mean {close[0]}?" if close else " (see `rota tasks`)"


class App:
    """One rota instance: its registry (and later its alert channels and writers)."""

    def __init__(self, *, plugins: bool = True) -> None:
        self.registry = Registry()
        if plugins:
            self.registry.load_entry_points()
