"""rota's command line: parses, calls the core, renders. Nothing else lives here.

Errors are translated at this edge only: a :class:`~rota.errors.RotaError` becomes one line
on stderr and its exit code (``--debug`` adds the traceback); a usage error exits 4, never
2, because 2 means "critical" to everything that reads rota's exit codes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from rota import __version__
from rota.cli.common import State
from rota.errors import ConfigError, ExitCode, RotaError

app = typer.Typer(
    name="rota",
    help="The maintenance runbook as code: scheduled, safe (check mode by default), recorded.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rota {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "-c",
            "--config",
            help="Config file (default: $ROTA_CONFIG or ./rota.toml); also accepted after the command.",
            show_default=False,
        ),
    ] = None,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="Show tracebacks for errors; also accepted after the command."
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    ctx.obj = State(config_path=config, debug=debug)


def _register() -> None:
    # One command group per module; each has register(app). Keep one entry per line.
    from importlib import import_module

    for name in (
        "rota.cli.info",
        "rota.cli.runs",
        "rota.cli.sandbox",
        "rota.cli.backup",
        "rota.cli.logs",
        "rota.cli.alerts",
        "rota.cli.triage",
        "rota.cli.security",
        "rota.cli.procedure",
    ):
        import_module(name).register(app)


_register()


def hoist_global_options(argv: list[str]) -> list[str]:
    """Move ``-c/--config FILE`` and ``--debug`` to the front wherever they were written, so
    that ``rota run -c rota.toml --all`` means ``rota -c rota.toml run --all``.

    No command has options of its own with these names; ``--`` ends the search.
    """
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg == "--debug":
            front.append(arg)
        elif arg in ("-c", "--config") and i + 1 < len(argv):
            front.extend(argv[i : i + 2])
            i += 1
        elif arg.startswith("--config=") or (arg.startswith("-c") and len(arg) > 2):
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    argv = hoist_global_options(list(argv if argv is not None else sys.argv[1:]))
    debug = "--debug" in argv or bool(os.environ.get("ROTA_DEBUG"))
    try:
        code = typer.main.get_command(app).main(args=argv, prog_name="rota", standalone_mode=False)
    except typer.Abort:
        typer.echo("rota: interrupted", err=True)
        code = 130
    except typer.TyperException as exc:  # usage errors: unknown option, bad value, ...
        cmd_ctx = getattr(exc, "ctx", None)
        hint = f" (see `{cmd_ctx.command_path} --help`)" if cmd_ctx is not None else ""
        typer.echo(f"rota: {exc.format_message()}{hint}", err=True)
        code = ExitCode.USAGE
    except ConfigError as exc:
        if debug:
            raise
        typer.echo(f"rota: {exc}", err=True)
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        code = exc.exit_code
    except RotaError as exc:
        if debug:
            raise
        typer.echo(f"rota: {exc}", err=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        typer.echo("rota: interrupted", err=True)
        code = 130
    except Exception as exc:
        if debug:
            raise
        typer.echo(
            f"rota: internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)",
            err=True,
        )
        code = ExitCode.INTERNAL
    sys.exit(int(code or 0))
