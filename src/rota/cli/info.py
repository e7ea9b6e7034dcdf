"""Commands that describe and set up: tasks, docs, config check, init, schedule export."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rota.cli.common import check_format, state, write_output
from rota.errors import ConfigError, ExitCode, UsageError

if TYPE_CHECKING:
    from rich.console import Console

PROFILES = ("rylie",)


def register(app: typer.Typer) -> None:
    app.command("tasks")(tasks)
    app.command("plugins")(plugins)
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
    from rota.report.jsonout import dumps

    fmt = check_format(fmt, ("table", "json"))
    st = state(ctx)
    registered = list(st.app().tasks)
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
        typer.echo(dumps(rows))
        return
    from rota.report.console import print_tasks

    print_tasks(st.console(), registered)


def plugins(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """What each entry-point group registered, and which plugin registered it."""
    from rota.report.jsonout import dumps

    fmt = check_format(fmt, ("table", "json"))
    app = state(ctx).app()
    rows = [
        {"group": group, "name": name, "source": registry.source_of(name)}
        for group, registry in app.registries.items()
        for name in registry.names()
    ]
    if fmt == "json":
        typer.echo(dumps(rows))
        return
    from rota.report.console import Column, print_table

    print_table(
        state(ctx).console(),
        [Column("group"), Column("name"), Column("registered by", drop=1)],
        [[r["group"], r["name"], r["source"]] for r in rows],
        title="rota plugins",
    )


def docs(
    ctx: typer.Context,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out-dir", help="Directory for the runbook pages [default: runbook]."),
    ] = None,
    old_out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Deprecated: use --out-dir (-o names a file elsewhere)."),
    ] = None,
) -> None:
    """Write every task's runbook page (the spec's template), an index, and the config reference."""
    from rota.config_reference import reference_markdown
    from rota.docs import write_docs

    st = state(ctx)
    out = _out_dir(st.console(stderr=True), out_dir, old_out) or Path("runbook")
    from rota.triage.page import PAGE

    procedures = tuple(proc.page() for proc in st.app().procedures)
    paths = write_docs(list(st.app().tasks), out, pages=(PAGE, *procedures))
    ref = out / "config.md"
    ref.write_text(reference_markdown(), encoding="utf-8")
    st.console(stderr=True).print(
        f"wrote {len(paths) + 1} pages to {out}/ (index.md, config.md, one per task and procedure)"
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
    app = st.app()
    problems = app.check(cfg)
    if problems:
        raise ConfigError(
            f"{config_path(st.config_path)}: {len(problems)} problem(s) found", problems
        )
    console = st.console()
    console.print(f"{config_path(st.config_path)}: ok")
    for t in app.tasks:
        missing = app.missing(cfg, t.needs)
        if missing:
            console.print(f"  {t.id}: will be skipped ({missing})")


def schedule_export(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", "-f", help="cron, systemd or k8s.")] = "cron",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file (cron, k8s; default: stdout)."),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out-dir", help="Directory to write the files to (systemd: two per task)."),
    ] = None,
    old_out: Annotated[
        Path | None, typer.Option("--out", help="Deprecated: use --out-dir.")
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
    err = st.console(stderr=True)
    if output is not None and output.is_dir():
        # `-o DIR` was the directory before -o meant a file on every command.
        err.print(f"note: -o names a file now; writing to directory {output} as --out-dir")
        out_dir, output = out_dir or output, None
    out = _out_dir(err, out_dir, old_out)
    if output is not None and out is not None:
        raise UsageError("give -o FILE or --out-dir DIR, not both")
    cfg = st.config(secrets=False)
    cfg_file = (
        Path("/etc/rota/rota.toml") if fmt == "k8s" else config_path(st.config_path).resolve()
    )
    app = st.app()
    job_list = se.jobs(
        list(app.tasks),
        cfg,
        missing=lambda needs: app.missing(cfg, needs),
        rota=rota_path,
        config_path=cfg_file,
        apply=apply,
    )
    files = se.render(fmt, job_list, image=image)
    if output is not None:
        if len(files) > 1:
            raise UsageError(
                f"--format {fmt} writes {len(files)} files; give --out-dir DIR instead of -o"
            )
        write_output(next(iter(files.values())), output, err)
        return
    if out is None:
        for name, text in files.items():
            if len(files) > 1:
                typer.echo(f"# ---- {name}")
            typer.echo(text, nl=False)
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        write_output(text, out / name, err)
    raise typer.Exit(ExitCode.OK)


def _out_dir(err: Console, out_dir: Path | None, old: Path | None) -> Path | None:
    """``--out-dir``, or the deprecated spelling with a note on stderr."""
    if old is None:
        return out_dir
    if out_dir is not None:
        raise UsageError("give --out-dir only (--out is its deprecated spelling)")
    err.print("note: --out/-o for a directory is deprecated; use --out-dir")
    return old
