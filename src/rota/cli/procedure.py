"""``rota procedure``: walk through a runbook procedure, automatic steps run by rota and
manual ones confirmed by people. The work is in :mod:`rota.procedure`; this parses and
renders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from rota.cli.common import State, check_format, state
from rota.errors import ExitCode

if TYPE_CHECKING:
    from rota.history.procedures import ProcedureRuns
    from rota.model import TaskOutcome
    from rota.procedure import Procedure, Progress

FORMATS = ("table", "json")
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table or json.")]
ByOpt = Annotated[
    str | None, typer.Option("--by", help="Who is doing this (default: the OS user).")
]
STATE_COLOURS = {
    "done": "green",
    "failed": "bold red",
    "waiting": "yellow",
    "running": "cyan",
    "aborted": "magenta",
    "pending": "dim",
}

procedure_app = typer.Typer(
    help="Procedures: a runbook procedure as code. start runs the automatic steps and stops "
    "where a person must act; continue --confirm STEP records who confirmed it and goes on. "
    "A run's state is in the history store, so any process can continue it.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(procedure_app, name="procedure")


def _runs(st: State) -> ProcedureRuns:
    from rota.history.procedures import ProcedureRuns

    return ProcedureRuns(st.history(), st.config(secrets=False).secrets())


def _run_task(st: State) -> Any:
    """Run one task through the engine, as ``rota run TASK`` does."""
    from rota.cli.runs import execute

    def run(task_id: str, apply: bool, ignore_window: bool) -> TaskOutcome:
        task = st.app().tasks.get(task_id)
        report = execute(
            st,
            [task],
            apply=apply,
            explicit={task_id},
            ignore_window=ignore_window,
            progress=True,
        )
        return report.tasks[0]

    return run


def _who(by: str | None) -> str:
    from rota.procedure import current_user

    return " ".join(by.split()) if by and by.strip() else current_user()


@procedure_app.command("list")
def list_(ctx: typer.Context, fmt: FormatOpt = "table") -> None:
    """The registered procedures and their steps."""
    fmt = check_format(fmt, FORMATS)
    st = state(ctx)
    procs = list(st.app().procedures)
    if fmt == "json":
        from rota.report.jsonout import dumps

        typer.echo(
            dumps(
                [
                    {
                        "id": p.id,
                        "title": p.title,
                        "section": p.section,
                        "source": p.source,
                        "steps": [
                            {
                                "id": s.id,
                                "title": s.title,
                                "kind": s.kind,
                                "task": getattr(s, "task", None),
                            }
                            for s in p.steps
                        ],
                    }
                    for p in procs
                ]
            )
        )
        return
    for p in procs:
        st.console().print(f"[bold]{p.id}[/]  {escape(p.title)}  [dim]({p.source})[/]")
        for n, s in enumerate(p.steps, 1):
            mark = f"automatic: {s.task}" if hasattr(s, "task") else "manual"
            st.console().print(f"  {n}. {s.id}  {escape(s.title)}  [dim]\\[{mark}][/]")


@procedure_app.command("start")
def start(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The procedure's id (see `rota procedure list`).")],
    by: ByOpt = None,
) -> None:
    """Start a run: automatic steps run until a manual one needs a confirmation."""
    from rota.procedure import advance

    st = state(ctx)
    proc = st.app().procedures.get(name)
    st.validated()  # its automatic steps run tasks: the config must hold
    who = _who(by)
    runs = _runs(st)
    run = runs.start(proc.id, who=who)
    st.console(stderr=True).print(f"started run {run.id} of {proc.id}")
    result = advance(proc, runs, run.id, _run_task(st), who=who)
    raise typer.Exit(_show(st, proc, result))


@procedure_app.command("continue")
def continue_(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(metavar="RUN", help="The run's number.")],
    confirm: Annotated[
        str | None,
        typer.Option("--confirm", metavar="STEP", help="Confirm the manual step the run waits at."),
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="Add a note to the record.")] = None,
    by: ByOpt = None,
) -> None:
    """Go on with a run: record --note and --confirm, rerun a failed step, run what follows."""
    from rota.procedure import advance

    st = state(ctx)
    runs = _runs(st)
    proc = st.app().procedures.get(runs.require(run_id).procedure_id)
    st.validated()
    result = advance(proc, runs, run_id, _run_task(st), who=_who(by), confirm=confirm, note=note)
    raise typer.Exit(_show(st, proc, result))


@procedure_app.command("status")
def status(
    ctx: typer.Context,
    run_id: Annotated[
        int | None, typer.Argument(metavar="[RUN]", help="A run (default: list recent runs).")
    ] = None,
    fmt: FormatOpt = "table",
) -> None:
    """A run's steps and record, or the recent runs."""
    fmt = check_format(fmt, FORMATS)
    st = state(ctx)
    runs = _runs(st)
    from rota.report.jsonout import dumps

    if run_id is None:
        found = runs.recent()
        if fmt == "json":
            typer.echo(dumps([r.to_dict() for r in found]))
            return
        if not found:
            st.console().print("no procedure runs recorded; `rota procedure start NAME`")
            return
        for r in found:
            st.console().print(
                f"{r.id:>4}  {r.procedure_id}  {r.status}  "
                f"{r.started_at:%Y-%m-%d %H:%M} by {escape(r.started_by)}"
            )
        return
    from rota.procedure import progress

    proc = st.app().procedures.get(runs.require(run_id).procedure_id)
    result = progress(proc, runs, run_id)
    if fmt == "json":
        typer.echo(dumps(result.to_dict(proc)))
        return
    _show(st, proc, result, record=True)


@procedure_app.command("abort")
def abort(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(metavar="RUN", help="The run's number.")],
    note: Annotated[str | None, typer.Option("--note", help="Why, for the record.")] = None,
    by: ByOpt = None,
) -> None:
    """End a run as aborted."""
    from rota.procedure import abort as abort_run

    st = state(ctx)
    run = abort_run(_runs(st), run_id, who=_who(by), reason=note or "")
    st.console().print(f"aborted run {run.id} of {run.procedure_id}")


def _show(st: State, proc: Procedure, result: Progress, *, record: bool = False) -> int:
    """Print the run's steps and what to do next; returns the exit code."""
    from rota.procedure import step_state

    out = st.console()
    run = result.run
    out.print(
        f"[bold]run {run.id}[/] of {proc.id} ({escape(proc.title)}): {run.status}, "
        f"started {run.started_at:%Y-%m-%d %H:%M} by {escape(run.started_by)}"
    )
    for n, s in enumerate(proc.steps, 1):
        state_ = step_state(s, result)
        mark = f"automatic: {s.task}" if hasattr(s, "task") else "manual"
        colour = STATE_COLOURS.get(state_, "")
        out.print(f"  {n}. [{colour}]{state_:<8}[/] {s.id}  {escape(s.title)} [dim]\\[{mark}][/]")
    if record:
        out.print("record:")
        for e in result.events:
            text = e.detail.get("text") or e.detail.get("why") or ""
            out.print(
                f"  {e.seq:>3} {e.at:%Y-%m-%d %H:%M:%S} {e.kind:<9} {e.step_id or '-'} "
                f"by {escape(e.who)}{'  ' + escape(str(text)) if text else ''}"
            )
    if result.failed is not None:
        d = result.failed.detail
        out.print(
            f"[bold red]step {result.failed.step_id} failed:[/] {escape(str(d.get('why') or d.get('error') or ''))}"
        )
        for f in d.get("findings", [])[:10]:
            out.print(f"  [{f['severity']}] {escape(f['message'])}")
        out.print(f"fix the cause, then `rota procedure continue {run.id}` runs it again")
        return ExitCode.CRITICAL
    waiting = result.waiting
    if waiting is not None:
        out.print(f"[yellow]waiting for step {waiting.id}:[/] {escape(waiting.instruction)}")
        out.print(f"confirm: {escape(waiting.confirm)}")
        out.print(f"then: rota procedure continue {run.id} --confirm {waiting.id}")
    elif run.status == "done":
        out.print("[green]every step passed: the procedure is done[/]")
    return ExitCode.OK
