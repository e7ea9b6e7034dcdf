"""What every command shares: the loaded config, the app, the history store, consoles."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from rota.errors import UsageError

if TYPE_CHECKING:
    from datetime import datetime

    from rich.console import Console

    from rota.app import App
    from rota.config import Config
    from rota.history import History
    from rota.model import RunReport


@dataclass
class State:
    config_path: Path | None = None
    debug: bool = False
    _config: Any = None
    _config_has_secrets: bool = False
    _app: Any = None
    _validated: bool = False
    _history: Any = None
    _consoles: dict[bool, Any] = field(default_factory=dict)

    def config(self, *, required: bool = False, secrets: bool = True) -> Config:
        """The loaded config. ``secrets=False`` is for commands that touch no target: a
        secret whose variable or file is missing is then left unset instead of an error."""
        if self._config is None or (secrets and not self._config_has_secrets):
            from rota.config import load_config

            self._config = load_config(self.config_path, required=required, secrets=secrets)
            self._config_has_secrets = secrets
            self._validated = False
        return self._config

    def app(self) -> App:
        """The app: every registry, loaded from the installed plugins and checked."""
        if self._app is None:
            from rota.app import App

            self._app = App()
        return self._app

    def validated(self) -> Config:
        """The config, held to the app's registries as well (overrides name real tasks,
        channels real types): what any command that runs tasks starts from."""
        cfg = self.config()
        if not self._validated:
            self.app().validate(cfg)
            self._validated = True
        return cfg

    def history(self) -> History:
        if self._history is None:
            from rota.history import open_history

            self._history = open_history(self.config(secrets=False).history.url)
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


# --- One grammar for every command -------------------------------------------------------

# Text formats: ``table`` is the documented name on every command; ``console`` (the name
# `rota run` used first) is accepted everywhere as an alias.
FORMAT_ALIASES = {"console": "table"}


def check_format(fmt: str, allowed: tuple[str, ...]) -> str:
    """``fmt`` with aliases resolved, or a UsageError naming the choices."""
    name = FORMAT_ALIASES.get(fmt, fmt)
    if name not in allowed:
        raise UsageError(f"--format {fmt!r}: choose one of {', '.join(allowed)}")
    return name


def parse_time(text: str | None, tz_name: str = "UTC", *, option: str = "--since") -> float | None:
    """``today`` (midnight in ``tz_name``), a duration back from now (``1h``, ``7d``), or an
    ISO time (UTC when it has no offset), as a Unix timestamp; None for no text."""
    if not text:
        return None
    from datetime import UTC, datetime

    from rota.units import parse_duration

    if text == "today":
        from rota.tasks.logs.analyze import midnight

        return midnight(tz_name).timestamp()
    try:
        return datetime.now(UTC).timestamp() - parse_duration(text)
    except (ValueError, TypeError):
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option} {text!r}: give today, a duration (1h, 7d) or an ISO time"
        ) from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def parse_period(
    since: str | None, until: str | None, tz_name: str = "UTC"
) -> tuple[datetime | None, datetime | None]:
    """``--since``/``--until`` as aware datetimes (None: open-ended)."""
    from datetime import UTC, datetime

    start = parse_time(since, tz_name, option="--since")
    end = parse_time(until, tz_name, option="--until")
    if start is not None and end is not None and end < start:
        raise UsageError(f"--until {until!r} is before --since {since!r}")
    return (
        None if start is None else datetime.fromtimestamp(start, UTC),
        None if end is None else datetime.fromtimestamp(end, UTC),
    )


def render(st: State, report: RunReport, fmt: str) -> tuple[str, int]:
    """``report`` in the registered output format ``fmt``, and the run's exit code."""
    return st.app().writers.get(fmt).render(report)


def report_formats(st: State, *extra: str) -> tuple[str, ...]:
    """``extra`` (e.g. the terminal ``table``) and every registered output format."""
    return (*extra, *st.app().writers.names())
