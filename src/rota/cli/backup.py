"""``rota backup list``: the backups on disk, their age and size, and their last verification."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rota.cli.common import check_format, state
from rota.errors import UsageError

if TYPE_CHECKING:
    from rota.history import History

backup_app = typer.Typer(
    help="Backups: list them with their last verification.", no_args_is_help=True
)
_RUNS_LOOKED_AT = 200


def register(app: typer.Typer) -> None:
    app.add_typer(backup_app, name="backup")


@backup_app.command("list")
def list_(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Backups matching [backups] pattern, newest first, with the last backup.verify verdict."""
    from rota.tasks.backup import files as bf
    from rota.units import format_duration, format_size

    fmt = check_format(fmt, ("table", "json"))
    st = state(ctx)
    cfg = st.config(secrets=False)  # listing files needs no key
    if not cfg.backups.pattern:
        raise UsageError("[backups] pattern is not set; nothing to list")
    now = datetime.now(UTC)
    backups = list(reversed(bf.list_backups(cfg.backups.pattern, cfg.backups.name_timezone)))
    verdicts = _verifications(st.history())
    rows: list[dict[str, Any]] = []
    for b in backups:
        v = verdicts.get(str(b.path), {})
        rows.append(
            {
                "file": str(b.path),
                "time": b.time.isoformat(timespec="seconds"),
                "time_from": b.time_from,
                "age_s": round((now - b.time).total_seconds()),
                "size_bytes": b.size,
                "verified_at": v.get("verified_at"),
                "verdict": v.get("verdict"),
                "run": v.get("run"),
            }
        )
    if fmt == "json":
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        st.console().print(f"no backups match {cfg.backups.pattern}")
        return
    from rich.table import Table

    table = Table(title=f"backups ({cfg.backups.pattern})", title_justify="left")
    for col in ("file", "age", "size", "last verified", "verdict"):
        table.add_column(col, overflow="fold")
    colours = {"passed": "green", "warning": "yellow", "failed": "red"}
    for r in rows:
        verdict = r["verdict"] or "never verified"
        table.add_row(
            r["file"].rsplit("/", 1)[-1],
            format_duration(r["age_s"]),
            format_size(r["size_bytes"]),
            (r["verified_at"] or "-")[:16].replace("T", " "),
            f"[{colours.get(verdict, 'magenta')}]{verdict}[/]",
        )
    st.console().print(table)


def _verifications(history: History) -> dict[str, dict[str, Any]]:
    """file → the newest backup.verify receipt naming it (verdict, time, run id)."""
    found: dict[str, dict[str, Any]] = {}
    for run in history.runs("backup.verify", limit=_RUNS_LOOKED_AT):
        if run.status == "running":
            continue
        for f in history.outcome(run.id).findings:
            if f.code != "backup.receipt":
                continue
            path = str(f.evidence.get("file", ""))
            if path and path not in found:
                found[path] = {
                    "verdict": f.evidence.get("verdict"),
                    "verified_at": f.evidence.get("verified_at") or run.started_at.isoformat(),
                    "run": run.id,
                }
    return found
