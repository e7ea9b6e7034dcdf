"""rota's built-in tasks, registered through the same entry point plugins use."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rota.registry import Registry
    from rota.task import Task

# One module per runbook area; each exposes TASKS, a list of rota.task.Task.
# Keep one entry per line: several people add to this list.
BUILTIN_MODULES = (
    "rota.tasks.monitor",
    "rota.tasks.cache",
    "rota.tasks.memory",
    "rota.tasks.logs.analyze",
    "rota.tasks.logs.rotation",
    "rota.tasks.logs.cleanup",
    "rota.tasks.backup.create",
    "rota.tasks.backup.verify",
    "rota.tasks.db.indexes",
    "rota.tasks.db.analyze",
    "rota.tasks.db.vacuum",
    "rota.tasks.db.connections",
    "rota.tasks.db.tuning",
    "rota.tasks.security.deps",
    "rota.tasks.security.env",
)


def register(registry: Registry[Task]) -> None:
    """Entry point ``rota.tasks: builtin``: add every built-in task to ``registry``."""
    for name in BUILTIN_MODULES:
        for t in import_module(name).TASKS:
            registry.add(t)
