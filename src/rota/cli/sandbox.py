"""`rota sandbox up|status|down` and `rota demo`.

The sandbox itself is its own distribution, ``rota-sandbox`` (package ``rota_sandbox``), so
that rota's runtime install carries neither it nor its dependencies. These commands stay
registered without it and say in one line how to install it.
"""

from __future__ import annotations

import importlib
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rota.cli.common import State, state
from rota.errors import SandboxError, UsageError

if TYPE_CHECKING:
    from rota_sandbox import SandboxInfo

#: How to get the sandbox: the ``sandbox`` extra, or the ./sandbox directory of a checkout.
INSTALL_HINT = "pip install 'rota[sandbox]' (from a checkout: pip install -e ./sandbox)"

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


def require_sandbox(ctx: typer.Context) -> None:
    """Raise :class:`SandboxError` naming the command and the install line if rota_sandbox
    is not installed; commands call this before importing it."""
    try:
        importlib.import_module("rota_sandbox")
    except ModuleNotFoundError as exc:
        if exc.name != "rota_sandbox":
            raise  # installed but broken (a dependency is missing): not this message's case
        raise SandboxError(
            f"`{ctx.command_path}` needs the sandbox, which is not installed: {INSTALL_HINT}"
        ) from None


@sandbox_app.command("up")
def up_cmd(
    ctx: typer.Context,
    directory: DirOption = None,
    scale: Annotated[
        float, typer.Option("--scale", help="Data volume; 1 loads in seconds, 50 reaches a few GB.")
    ] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the generated data.")] = 42,
    headers: Annotated[
        str,
        typer.Option(
            "--headers",
            help="Security header profile (helmet): good, weak (helmet's defaults) or poor.",
        ),
    ] = "good",
    idle: Annotated[
        bool, typer.Option("--idle-connection", help="Leave a connection idle in a transaction.")
    ] = False,
    logger: Annotated[
        str, typer.Option("--logger", help="Platform log shape: pino, winston or morgan.")
    ] = "pino",
) -> None:
    """Build and start a sandbox; prints where its rota.toml is."""
    if headers not in ("good", "weak", "poor"):
        raise UsageError("--headers: choose good, weak or poor")
    if scale <= 0:
        raise UsageError("--scale must be greater than zero")
    require_sandbox(ctx)
    st = state(ctx)
    info = _up_with_progress(
        st, directory, scale=scale, seed=seed, headers=headers, idle_connection=idle, logger=logger
    )
    out = st.console()
    out.print(f"sandbox up in {info.dir}")
    out.print(f"  database  {info.db_url}")
    out.print(f"  platform  {info.https_url}  (http: {info.http_url})")
    out.print(f"  rows      {', '.join(f'{k} {v:,}' for k, v in info.rows.items())}")
    out.print(f"  config    {info.config}")
    out.print(f"try: rota -c {info.config} run --all")


def _up_with_progress(st: State, directory: Path | None, **kw: Any) -> SandboxInfo:
    import rota_sandbox

    err = st.console(stderr=True)
    if not err.is_terminal:
        return rota_sandbox.up(directory, **kw)
    with err.status("building the sandbox") as spinner:
        return rota_sandbox.up(directory, progress=lambda m: spinner.update(m), **kw)


@sandbox_app.command("status")
def status_cmd(
    ctx: typer.Context,
    directory: DirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show what the sandbox is running."""
    require_sandbox(ctx)
    import rota_sandbox
    from rota.units import format_size

    info = rota_sandbox.status(directory)
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
    require_sandbox(ctx)
    import rota_sandbox

    for line in rota_sandbox.down(directory):
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
    require_sandbox(ctx)
    import rota_sandbox
    from rota.cli.common import render
    from rota.cli.runs import execute
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
        tasks = list(demo_state.app().tasks)
        rep = execute(demo_state, tasks, apply=False)
        print_run(out, rep)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        rdir = report_dir or Path(tempfile.gettempdir())
        rdir.mkdir(parents=True, exist_ok=True)
        paths = []
        for fmt, ext in (("markdown", "md"), ("html", "html")):
            text, _ = render(demo_state, rep, fmt)
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
            rota_sandbox.down(Path(info.dir))
            import shutil

            shutil.rmtree(Path(info.dir).parent, ignore_errors=True)
    err.print(f"demo finished in {time.monotonic() - t0:.1f}s")
