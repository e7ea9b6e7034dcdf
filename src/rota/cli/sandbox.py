"""`rota sandbox up|status|down` and `rota demo`."""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rota.cli.common import State, state

if TYPE_CHECKING:
    from rota.sandbox import SandboxInfo

sandbox_app = typer.Typer(
    help="A real local copy of the platform to run, rehearse and test against.",
    no_args_is_help=True,
)

DirOption = Annotated[
    Path | None,
    typer.Option("--dir", "-d", help="Sandbox directory (default: ~/.local/state/rota/sandbox)."),
]


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")
    app.command("demo")(demo)


@sandbox_app.command("up")
def up_cmd(
    ctx: typer.Context,
    directory: DirOption = None,
    scale: Annotated[
        float, typer.Option("--scale", help="Data volume; 1 loads in seconds, 50 reaches a few GB.")
    ] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the generated data.")] = 42,
    headers: Annotated[
        str, typer.Option("--headers", help="Security header profile: good or poor.")
    ] = "good",
    idle: Annotated[
        bool, typer.Option("--idle-connection", help="Leave a connection idle in a transaction.")
    ] = False,
) -> None:
    """Build and start a sandbox; prints where its rota.toml is."""
    from rota.errors import UsageError

    if headers not in ("good", "poor"):
        raise UsageError("--headers: choose good or poor")
    if scale <= 0:
        raise UsageError("--scale must be greater than zero")
    st = state(ctx)
    info = _up_with_progress(
        st, directory, scale=scale, seed=seed, headers=headers, idle_connection=idle
    )
    out = st.console()
    out.print(f"sandbox up in {info.dir}")
    out.print(f"  database  {info.db_url}")
    out.print(f"  platform  {info.https_url}  (http: {info.http_url})")
    out.print(f"  rows      {', '.join(f'{k} {v:,}' for k, v in info.rows.items())}")
    out.print(f"  config    {info.config}")
    out.print(f"try: rota -c {info.config} run --all")


def _up_with_progress(st: State, directory: Path | None, **kw: Any) -> SandboxInfo:
    from rota import sandbox

    err = st.console(stderr=True)
    if not err.is_terminal:
        return sandbox.up(directory, **kw)
    with err.status("building the sandbox") as spinner:
        return sandbox.up(directory, progress=lambda m: spinner.update(m), **kw)


@sandbox_app.command("status")
def status_cmd(
    ctx: typer.Context,
    directory: DirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show what the sandbox is running."""
    from rota import sandbox
    from rota.units import format_size

    info = sandbox.status(directory)
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        raise typer.Exit(0 if info["state"] == "up" else 1)
    out = state(ctx).console()
    out.print(f"sandbox in {info['dir']}: {info['state']}")
    if "postgres" in info:
        pg, pl = info["postgres"], info["platform"]
        out.print(f"  postgres  {'running' if pg['running'] else 'stopped'}  {pg['url']}")
        out.print(
            f"  platform  {'running' if pl['running'] else 'stopped'}  {pl['https']}  pid {pl['pid']}"
        )
        out.print(f"  config    {info['config']}")
        out.print(f"  disk      {format_size(info['disk_bytes'])}")
    if info["state"] != "up":
        raise typer.Exit(1)


@sandbox_app.command("down")
def down_cmd(ctx: typer.Context, directory: DirOption = None) -> None:
    """Stop every sandbox process and remove its directory."""
    from rota import sandbox

    for line in sandbox.down(directory):
        state(ctx).console().print(line)


def demo(
    ctx: typer.Context,
    scale: Annotated[float, typer.Option("--scale", help="Data volume of the demo sandbox.")] = 1,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the sandbox running afterwards.")
    ] = False,
    report_dir: Annotated[
        Path | None, typer.Option("--report-dir", help="Where to write the report files.")
    ] = None,
) -> None:
    """Sandbox up, every task in check mode, a report, sandbox down."""
    from rota import sandbox
    from rota.cli.runs import execute
    from rota.report import render
    from rota.report.console import print_run

    st = state(ctx)
    out, err = st.console(), st.console(stderr=True)
    t0 = time.monotonic()
    directory = Path(tempfile.mkdtemp(prefix="rota-demo-")) / "sandbox"
    info = _up_with_progress(
        st, directory, scale=scale, seed=42, headers="poor", idle_connection=True
    )
    err.print(f"sandbox up in {time.monotonic() - t0:.1f}s: {info.dir}")
    try:
        demo_state = st.for_config(Path(info.config))
        tasks = list(demo_state.registry())
        rep = execute(demo_state, tasks, apply=False)
        print_run(out, rep)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        rdir = report_dir or Path(tempfile.gettempdir())
        rdir.mkdir(parents=True, exist_ok=True)
        paths = []
        for fmt, ext in (("markdown", "md"), ("html", "html")):
            text, _ = render(rep, fmt)
            p = rdir / f"rota-demo-{stamp}.{ext}"
            p.write_text(text, encoding="utf-8")
            paths.append(p)
        out.print(f"report: {paths[1]}  (markdown: {paths[0]})")
        demo_state.close()
    finally:
        if keep:
            err.print(
                f"sandbox kept: {info.dir}  (rota -c {info.config} ...; `rota sandbox down --dir {info.dir}`)"
            )
        else:
            sandbox.down(Path(info.dir))
            import shutil

            shutil.rmtree(Path(info.dir).parent, ignore_errors=True)
    err.print(f"demo finished in {time.monotonic() - t0:.1f}s")
