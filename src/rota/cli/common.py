"""What every command shares: the loaded config, the registry, the history store, consoles."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from rota.errors import UsageError

if TYPE_CHECKING:
    from datetime import datetime

    from rich.console import Console

    from rota.config import Config
    from rota.history import History
    from rota.registry import Registry


@dataclass
class State:
    config_path: Path | None = None
    debug: bool = False
    _config: Any = None
    _config_has_secrets: bool = False
    _registry: Any = None
    _history: Any = None
    _consoles: dict[bool, Any] = field(default_factory=dict)

    def config(self, *, required: bool = False, secrets: bool = True) -> Config:
        """The loaded config. ``secrets=False`` is for commands that touch no target: a
        secret whose variable or file is missing is then left unset instead of an error."""
        if self._config is None or (secrets and not self._config_has_secrets):
            from rota.config import load_config

            self._config = load_config(self.config_path, required=required, secrets=secrets)
            self._config_has_secrets = secrets
        return self._config

    def registry(self) -> Registry:
        if self._registry is None:
            from rota.registry import App

            self._registry = App().registry
        return self._registry

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


def check_overrides(cfg: Config, registry: Registry) -> list[str]:
    """``[tasks."x"]`` tables that name no registered task, with a did-you-mean each."""
    import difflib

    ids = [t.id for t in registry]
    problems = []
    for task_id in cfg.tasks:
        if task_id not in registry:
            close = difflib.get_close_matches(task_id, ids, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            problems.append(f'tasks."{task_id}": no such task{hint}')
    return problems


def require_known_overrides(st: State) -> None:
    """Refuse to run with an override for a task that does not exist: the user meant
    another task, whose override is then silently not applied."""
    from rota.config import config_path
    from rota.errors import ConfigError

    problems = check_overrides(st.config(), st.registry())
    if problems:
        where = st.config().source or config_path(st.config_path)
        if len(problems) == 1:
            raise ConfigError(f"{where}: {problems[0]}", problems[1:])
        raise ConfigError(f"{where}: {len(problems)} problems found", problems)
