"""Commands that describe and set up: tasks, docs, config check, init, schedule export."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from rota.cli.common import state, write_output
from rota.errors import ConfigError, ExitCode, UsageError

PROFILES = ("rylie",)


def register(app: typer.Typer) -> None:
    app.command("tasks")(tasks)
    app.command("docs")(docs)
    app.command("init")(init)
    config_app = typer.Typer(help="Check the configuration.", no_args_is_help=True)
    config_app.command("check")(config_check)
    app.add_typer(config_app, name="config")
    schedule_app = typer.Typer(
        help="Export the schedule to cron, systemd or Kubernetes.", no_args_is_help=True
    )
    schedule_app.command("export")(schedule_export)
    app.add_typer(schedule_app, name="schedule")


def tasks(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """List the registered tasks: id, section, frequency, priority, estimate."""
    st = state(ctx)
    registered = list(st.registry())
    if fmt == "json":
        rows = [
            {
                "id": t.id,
                "title": t.title,
                "section": t.section,
                "frequency": t.frequency,
                "priority": t.priority,
                "mutates": t.mutates,
                "time_estimate": t.time_estimate,
                "needs": list(t.needs),
                "source": t.source,
            }
            for t in registered
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    if fmt != "table":
        raise UsageError(f"--format {fmt!r}: choose table or json")
    from rota.report.console import print_tasks

    print_tasks(st.console(), registered)


def docs(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Directory for the runbook pages.")
    ] = Path("runbook"),
) -> None:
    """Write every task's runbook page (the spec's template), an index, and the config reference."""
    from rota.config_reference import reference_markdown
    from rota.docs import write_docs

    st = state(ctx)
    paths = write_docs(list(st.registry()), out)
    ref = out / "config.md"
    ref.write_text(reference_markdown(), encoding="utf-8")
    st.console(stderr=True).print(
        f"wrote {len(paths) + 1} pages to {out}/ (index.md, config.md, one per task)"
    )


def init(
    ctx: typer.Context,
    profile: Annotated[
        str, typer.Option("--profile", "-p", help=f"Platform profile: {', '.join(PROFILES)}.")
    ] = "rylie",
    path: Annotated[Path, typer.Option("--path", help="Where to write the config.")] = Path(
        "rota.toml"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented rota.toml for a platform profile."""
    if profile not in PROFILES:
        raise UsageError(f"no profile {profile!r}; available: {', '.join(PROFILES)}")
    if path.exists() and not force:
        raise UsageError(f"{path} already exists; use --force to overwrite it")
    text = resources.files("rota.profiles").joinpath(f"{profile}.toml").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    st = state(ctx)
    st.console(stderr=True).print(
        f"wrote {path} (profile {profile}); set DATABASE_URL and ROTA_ADMIN_API_KEY, then run `rota config check`"
    )


def config_check(ctx: typer.Context) -> None:
    """Validate the config and report every problem at once (exit 0 when valid)."""
    from rota.config import config_path

    st = state(ctx)
    cfg = st.config(required=True)
    registry = st.registry()
    problems = []
    import difflib

    for task_id in cfg.tasks:
        if task_id not in registry:
            close = difflib.get_close_matches(task_id, [t.id for t in registry], n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            problems.append(f'tasks."{task_id}": no such task{hint}')
    if problems:
        raise ConfigError(
            f"{config_path(st.config_path)}: {len(problems)} problem(s) found", problems
        )
    console = st.console()
    console.print(f"{config_path(st.config_path)}: ok")
    for t in registry:
        missing = [why for need in t.needs if (why := cfg.is_configured(need))]
        if missing:
            console.print(f"  {t.id}: will be skipped ({'; '.join(missing)})")


def schedule_export(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", "-f", help="cron, systemd or k8s.")] = "cron",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Directory to write files to (default: stdout)."),
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="Let exported jobs of mutating tasks apply changes.")
    ] = False,
    image: Annotated[
        str, typer.Option("--image", help="Container image for k8s CronJobs.")
    ] = "rota:latest",
    rota_path: Annotated[
        str, typer.Option("--rota", help="Command that runs rota on the scheduling host.")
    ] = "rota",
) -> None:
    """Write schedule definitions for teams that schedule elsewhere."""
    from rota import schedule_export as se
    from rota.config import config_path

    if fmt not in se.FORMATS:
        raise UsageError(f"--format {fmt!r}: choose one of {', '.join(se.FORMATS)}")
    st = state(ctx)
    cfg = st.config()
    cfg_file = (
        Path("/etc/rota/rota.toml") if fmt == "k8s" else config_path(st.config_path).resolve()
    )
    job_list = se.jobs(list(st.registry()), cfg, rota=rota_path, config_path=cfg_file, apply=apply)
    files = se.render(fmt, job_list, image=image)
    if out is None:
        for name, text in files.items():
            if len(files) > 1:
                typer.echo(f"# ---- {name}")
            typer.echo(text, nl=False)
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        write_output(text, out / name, st.console(stderr=True))
    raise typer.Exit(ExitCode.OK)
