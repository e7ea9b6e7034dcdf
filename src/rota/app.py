"""The composition root: one rota instance and every registry it runs on.

An :class:`App` holds typed registries for tasks, target kinds, output writers and alert
channel types. Each is filled from an entry-point group, rota's own entries through the
very same groups as a third-party plugin's (``builtin = "rota.tasks:register"``)::

    [project.entry-points."rota.tasks"]      register(registry: Registry[Task])
    [project.entry-points."rota.targets"]    register(registry: Registry[TargetKind])
    [project.entry-points."rota.writers"]    register(registry: Registry[Writer])
    [project.entry-points."rota.channels"]   register(registry: Registry[type[Channel]])
    [project.entry-points."rota.procedures"] register(registry: Registry[Procedure])

Nothing fails silently at start-up (pytest's ``check_pending`` is the model): a plugin that
does not load, registers nothing, or declares an entry point in a ``rota.*`` group rota does
not read is a :class:`~rota.errors.RegistryError`; a task that needs a target kind nobody
registered is one too, with a did-you-mean, and so is a procedure whose automatic step
runs a task nobody registered. :meth:`App.check` then holds a config to the
registries: ``[tasks.*]`` overrides must name tasks, and alert channels registered types
whose own checks pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, TypeVar

from rota.alerts.channels import check_channel_type
from rota.errors import ConfigError, RegistryError
from rota.procedure import Procedure, validate_procedure
from rota.registry import Registry, TaskRegistry, suggest
from rota.report import Writer, check_writer
from rota.targets import TargetKind, check_kind

if TYPE_CHECKING:
    from rota.alerts.channels import Channel
    from rota.config import Config

TASKS = "rota.tasks"
TARGETS = "rota.targets"
WRITERS = "rota.writers"
CHANNELS = "rota.channels"
PROCEDURES = "rota.procedures"
GROUPS = (TASKS, TARGETS, WRITERS, CHANNELS, PROCEDURES)


N = TypeVar("N", TargetKind, Writer)


def _named(what: str, kind: type[N], check: Callable[[N], list[str]]) -> Registry[N]:
    """A registry of frozen dataclasses with a ``name`` and a ``source`` it fills in."""
    return Registry(
        what,
        name_of=lambda item: item.name,
        check=check,
        kind=kind,
        stamp=lambda item, source: replace(item, source=source),
    )


def _channel_registry() -> Registry[type[Channel]]:
    return Registry(
        "alert channel type",
        name_of=lambda cls: cls.type,
        check=check_channel_type,
        kind=type,
        hint=" (register a subclass of rota.alerts.channels.Channel)",
    )


def _procedure_registry() -> Registry[Procedure]:
    return Registry(
        "procedure",
        name_of=lambda proc: proc.id,
        check=validate_procedure,
        kind=Procedure,
        stamp=lambda proc, source: replace(proc, source=source),
        hint=" (build one with rota.procedure.Procedure)",
    )


class App:
    """One rota instance: its registries, loaded from entry points (``plugins=False``:
    empty, for tests that register by hand)."""

    def __init__(self, *, plugins: bool = True) -> None:
        self.tasks = TaskRegistry()
        self.targets = _named("target kind", TargetKind, check_kind)
        self.writers = _named("output format", Writer, check_writer)
        self.channels: Registry[type[Channel]] = _channel_registry()
        self.procedures = _procedure_registry()
        if plugins:
            self.load_entry_points()

    @property
    def registries(self) -> dict[str, Registry[Any]]:
        return {
            TASKS: self.tasks,
            TARGETS: self.targets,
            WRITERS: self.writers,
            CHANNELS: self.channels,
            PROCEDURES: self.procedures,
        }

    # -- loading ------------------------------------------------------------------------
    def load_entry_points(self) -> None:
        """Every plugin of every group, built-ins first; then :meth:`check_pending`."""
        found = entry_points()
        unknown = [
            (group, ep)
            for group in found.groups
            if group.startswith("rota.") and group not in GROUPS
            for ep in found.select(group=group)
        ]
        if unknown:
            group, ep = unknown[0]
            raise RegistryError(
                f"plugin {_label(ep)} registers into entry-point group {group!r}, which rota "
                f"does not read"
                + suggest(group, GROUPS, fallback=f" (it reads {', '.join(GROUPS)})")
            )
        for group in GROUPS:
            for ep in sorted(
                found.select(group=group), key=lambda e: (e.name != "builtin", e.name)
            ):
                try:
                    hook = ep.load()
                except Exception as exc:
                    raise RegistryError(f"plugin {_label(ep)} failed to load: {exc}") from exc
                self.load(group, hook, source=_label(ep))
        self.check_pending()

    def load(self, group: str, hook: Callable[[Any], None], *, source: str) -> None:
        """Call a plugin's ``register(registry)`` with the registry of ``group``."""
        if group not in GROUPS:
            raise RegistryError(f"{source}: no entry-point group {group!r}{suggest(group, GROUPS)}")
        if not callable(hook):
            raise RegistryError(
                f"plugin {source}: entry point is not a register(registry) function"
            )
        registry = self.registries[group]
        before = len(registry)
        previous, registry.source = registry.source, source
        try:
            hook(registry)
        finally:
            registry.source = previous
        if len(registry) == before:
            raise RegistryError(f"plugin {source} registered nothing in {group}")

    def check_pending(self) -> None:
        """Every task's ``needs`` names a registered target kind, and every automatic step
        of a procedure a registered task."""
        problems = []
        for task in self.tasks:
            for need in task.needs:
                if need not in self.targets:
                    problems.append(
                        f"task {task.id} ({task.source}) needs target kind {need!r}, which no "
                        "plugin registers"
                        + suggest(
                            need,
                            self.targets.names(),
                            fallback=f" (known: {', '.join(self.targets.names())})",
                        )
                    )
        for proc in self.procedures:
            if proc.id in self.tasks:
                problems.append(
                    f"procedure {proc.id} ({proc.source}) has the id of a task: their pages "
                    "would overwrite each other"
                )
            for step in proc.steps:
                task_id = getattr(step, "task", None)
                if task_id is not None and task_id not in self.tasks:
                    problems.append(
                        f"procedure {proc.id} ({proc.source}) step {step.id} runs task "
                        f"{task_id!r}, which no plugin registers"
                        + suggest(task_id, self.tasks.names(), fallback=" (see `rota tasks`)")
                    )
        if problems:
            raise RegistryError("; ".join(problems))

    # -- holding a config to the registries ----------------------------------------------
    def check(self, config: Config) -> list[str]:
        """Every problem of ``config`` that only the registries can see."""
        problems = []
        for task_id in config.tasks:
            if task_id not in self.tasks:
                problems.append(
                    f'tasks."{task_id}": no such task' + suggest(task_id, self.tasks.names())
                )
        for i, channel in enumerate(config.alerts.channels):
            where = f"alerts.channels[{i}] ({channel.name})"
            if channel.type not in self.channels:
                problems.append(
                    f"{where}: type {channel.type!r} is not a channel type"
                    + suggest(
                        channel.type,
                        self.channels.names(),
                        fallback=f" (known: {', '.join(self.channels.names())})",
                    )
                )
                continue
            problems += [f"{where}: {p}" for p in self.channels.get(channel.type).check(channel)]
        return problems

    def validate(self, config: Config) -> Config:
        """``config`` if :meth:`check` finds nothing, else a ConfigError with every problem."""
        problems = self.check(config)
        if problems:
            where = config.source or "config"
            head = problems[0] if len(problems) == 1 else f"{len(problems)} problems found"
            raise ConfigError(f"{where}: {head}", problems[1:] if len(problems) == 1 else problems)
        return config

    def missing(self, config: Config, needs: tuple[str, ...]) -> str | None:
        """Why a task needing ``needs`` cannot run with ``config`` (None: it can)."""
        for need in needs:
            why = self.targets.get(need).configured(config)
            if why:
                return why
        return None


def _label(ep: EntryPoint) -> str:
    dist = ep.dist.name if ep.dist else "?"
    return f"{ep.name} ({dist})"
