"""What every command shares: the loaded config, the registry, the history store, consoles."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from rota.config import Config
    from rota.history import History
    from rota.registry import Registry


@dataclass
class State:
    config_path: Path | None = None
    debug: bool = False
    _config: Any = None
    _registry: Any = None
    _history: Any = None
    _consoles: dict[bool, Any] = field(default_factory=dict)

    def config(self, *, required: bool = False) -> Config:
        if self._config is None:
            from rota.config import load_config

            self._config = load_config(self.config_path, required=required)
        return self._config

    def registry(self) -> Registry:
        if self._registry is None:
            from rota.registry import App

            self._registry = App().registry
        return self._registry

    def history(self) -> History:
        if self._history is None:
            from rota.history import open_history

            self._history = open_history(self.config().history.url)
        return self._history

    def for_config(self, path: Path) -> State:
        """A state for another config file that shares this one's consoles (rota demo)."""
        return State(config_path=path, debug=self.debug, _consoles=self._consoles)

    def close(self) -> None:
        if self._history is not None:
            self._history.close()
            self._history = None

    def console(self, *, stderr: bool = False) -> Console:
        if stderr not in self._consoles:
            from rich.console import Console

            self._consoles[stderr] = Console(stderr=stderr, highlight=False)
        return self._consoles[stderr]


def state(ctx: typer.Context) -> State:
    obj = ctx.find_object(State)
    if obj is None:  # invoked without the root callback (tests calling a sub-app)
        obj = State()
        ctx.obj = obj
    return obj


def write_output(text: str, output: Path | None, console: Console) -> None:
    """Write ``text`` to ``output`` (reporting the path on stderr) or to stdout."""
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    from rota.targets.files import write_atomically

    # Replaced atomically: a reader (node_exporter's textfile collector, a web server)
    # never sees half a report.
    write_atomically(output, text)
    console.print(f"wrote {output}")
