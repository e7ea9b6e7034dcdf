"""``rota security``: scan any tree for secrets and environment problems."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from rota.errors import UsageError


def register(app: typer.Typer) -> None:
    security = typer.Typer(help="Security checks on a source tree: secrets and .env files.")
    security.command("scan")(scan)
    app.add_typer(security, name="security")


def scan(
    path: Annotated[Path, typer.Argument(help="The directory to scan.", show_default=False)],
    history: Annotated[
        bool, typer.Option("--history", help="Also scan every ref's git history.")
    ] = False,
    env: Annotated[
        bool, typer.Option("--env/--no-env", help="Also audit .env files against the code.")
    ] = True,
    files: Annotated[
        list[str] | None,
        typer.Option("--env-file", help='Globs of dotenv files (default ".env", ".env.*").'),
    ] = None,
) -> None:
    """One JSON line per finding: {"file", "line", "rule", "secret_redacted"} (and "commit"
    for history). Exit 1 when anything is found, 0 when clean, 4 on bad input.

    Known test values are allowed by SHA-256 in PATH/.rota-secrets.allow, one a line."""
    from rota.errors import TargetUnavailable
    from rota.security.envaudit import audit_project
    from rota.targets.project import Project

    if not path.is_dir():
        raise UsageError(f"{path}: not a directory")
    try:
        project = Project(path.resolve())
        result = audit_project(
            project,
            files=files or [".env", ".env.*"],
            history=history,
            process_env=False,
            skip_placed_secrets=False,
        )
    except ValueError as e:
        raise UsageError(str(e)) from e
    except TargetUnavailable as e:
        raise UsageError(str(e)) from e
    out = sys.stdout
    rows: list[dict[str, object]] = [m.to_dict() for m in result.hardcoded]
    rows += [m.to_dict() for m in result.in_history]
    if env:
        for p in result.problems:
            rows.append(
                {
                    "file": p.file,
                    "line": p.line,
                    "rule": p.code,
                    "secret_redacted": None,
                    "name": p.name,
                    "message": p.message,
                }
            )
    for row in rows:
        out.write(json.dumps(row) + "\n")
    raise typer.Exit(1 if rows else 0)
