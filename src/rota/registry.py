"""Registries: named extension points that built-ins and plugins fill the same way.

A :class:`Registry` holds one kind of thing (tasks, target kinds, output writers, alert
channel types) by name, in registration order. Whatever is added is validated at once: a
malformed entry or a duplicate name is a :class:`~rota.errors.RegistryError` naming the
plugin that added it, never a silent skip. Looking up a name that is not there is a
:class:`~rota.errors.UsageError` with a did-you-mean. The registries belong to an
:class:`rota.app.App`, never to import time.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Generic, TypeVar

from rota.errors import RegistryError, UsageError
from rota.frequency import Frequency
from rota.task import ID_PATTERN, PRIORITIES, TEMPLATE_FIELDS, Task
from rota.units import parse_duration

T = TypeVar("T")


def suggest(name: str, choices: Iterable[str], *, fallback: str = "") -> str:
    """``"; did you mean X?"`` for the closest of ``choices``, else ``fallback``."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else fallback


class Registry(Generic[T]):
    """Entries of one kind by name. ``what`` names the kind in messages ("task")."""

    def __init__(
        self,
        what: str,
        *,
        name_of: Callable[[T], str],
        check: Callable[[T], list[str]],
        kind: type | tuple[type, ...],
        stamp: Callable[[T, str], T] | None = None,
        hint: str = "",
    ) -> None:
        self.what = what
        self._name_of = name_of
        self._check = check
        self._kind = kind
        self._stamp = stamp
        self._hint = hint
        self._items: dict[str, T] = {}
        self._sources: dict[str, str] = {}
        self.source = "direct"  # who is registering right now, for messages

    def add(self, item: T) -> T:
        """Validate and register ``item``; returns it (so ``add`` works as a decorator)."""
        if not isinstance(item, self._kind):
            raise RegistryError(
                f"{self.source}: registered {item!r} as a {self.what}, which it is not{self._hint}"
            )
        name = self._name_of(item)
        problems = self._check(item)
        if problems:
            raise RegistryError(
                f"{self.source}: {self.what} {name!r} is malformed: " + "; ".join(problems)
            )
        if name in self._items:
            raise RegistryError(
                f"duplicate {self.what} {name!r}: registered by "
                f"{self._sources[name]} and by {self.source}"
            )
        if self._stamp is not None:
            item = self._stamp(item, self.source)
        self._items[name] = item
        self._sources[name] = self.source
        return item

    def source_of(self, name: str) -> str:
        return self._sources[name]

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UsageError(
                f"no {self.what} {name!r}"
                + suggest(name, self._items, fallback=f" (known: {', '.join(self._items)})")
            ) from None

    def names(self) -> list[str]:
        return list(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items


class TaskRegistry(Registry[Task]):
    """Tasks by id; :meth:`select` takes ids and prefixes as the command line gives them."""

    def __init__(self) -> None:
        super().__init__(
            "task",
            name_of=lambda t: t.id,
            check=validate_task,
            kind=Task,
            stamp=lambda t, source: replace(t, source=source),
            hint=" (build one with the rota.task.task decorator)",
        )

    def get(self, name: str) -> Task:
        try:
            return self._items[name]
        except KeyError:
            raise UsageError(
                f"no task {name!r}" + suggest(name, self._items, fallback=" (see `rota tasks`)")
            ) from None

    def select(self, selectors: Iterable[str]) -> list[Task]:
        """Tasks matching ids or prefixes (``db`` or ``db.*`` selects every ``db.`` task)."""
        chosen: dict[str, Task] = {}
        for sel in selectors:
            key = sel.removesuffix(".*").removesuffix(".")
            if key in self._items:
                chosen[key] = self._items[key]
                continue
            matches = [t for t in self._items.values() if t.id.startswith(key + ".")]
            if not matches:
                raise UsageError(
                    f"no task or prefix matches {sel!r}"
                    + suggest(key, self._items, fallback=" (see `rota tasks`)")
                )
            for t in matches:
                chosen[t.id] = t
        return list(chosen.values())


def validate_task(task: Task) -> list[str]:
    """Every problem with a task's metadata (empty when it is well-formed)."""
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
    bad = [c for c in task.codes if not ID_PATTERN.match(c)]
    if bad:
        problems.append(f"codes must be dotted lower case: {', '.join(map(repr, bad))}")
    return problems
