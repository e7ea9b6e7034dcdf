"""rota's built-in tasks, registered through the same entry point plugins use."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rota.registry import Registry


def register(registry: Registry) -> None:
    """Entry point ``rota.tasks: builtin``: add every built-in task to ``registry``."""
    from rota.tasks import cache, monitor

    for module in (monitor, cache):
        for t in module.TASKS:
            registry.add(t)
