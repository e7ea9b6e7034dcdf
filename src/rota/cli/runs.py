"""Commands that run tasks or read what runs recorded: run, due, daemon, history, report."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rota.cli.common import (
    State,
    check_format,
    parse_period,
    render,
    report_formats,
    state,
    write_output,
)
from rota.errors import UsageError

if TYPE_CHECKING:
    from rota.history import RunRecord
    from rota.model import RunReport
    from rota.schedule import DueInfo
    from rota.task import Task

LIST_FORMATS = ("table", "json")
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="From: today, a duration back (1h, 7d) or ISO time.")
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="Up to: today, a duration back (1h, 7d) or ISO time.")
]


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("due")(due)
    app.command("daemon")(daemon)
    app.command("history")(history)
    app.command("report")(report)


def run(
    ctx: typer.Context,
    selectors: Annotated[
        list[str] | None,
        typer.Argument(help="Task ids or prefixes (db, db.vacuum).", show_default=False),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Run every enabled task.")] = False,
    due_only: Annotated[bool, typer.Option("--due", help="Run the tasks that are due.")] = False,
    apply: Annotated[
        bool,
        typer.Option(
            "--apply", help="Perform changes (default: check mode, which changes nothing)."
        ),
    ] = False,
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help="table, json, nagios, prometheus, markdown or html."),
    ] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to a file.")
    ] = None,
    wait: Annotated[
        float, typer.Option("--wait", help="Seconds to wait for a task another run holds.")
    ] = 0,
    ignore_window: Annotated[
        bool, typer.Option("--ignore-window", help="Apply changes outside the maintenance window.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show evidence for every finding.")
    ] = False,
) -> None:
    """Run tasks (check mode unless --apply) and report; exit 0/1/2/3 = ok/warning/critical/unknown."""
    st = state(ctx)
    fmt = check_format(fmt, report_formats(st, "table"))
    picked = [bool(selectors), all_, due_only]
    if sum(picked) != 1:
        raise UsageError("name tasks to run, or give exactly one of --all and --due")
    cfg = st.validated()
    registry = st.app().tasks
    if all_:
        chosen = [t for t in registry if cfg.override(t.id).enabled]
    elif due_only:
        chosen = due_tasks(st)
        if not chosen and fmt == "table":
            st.console(stderr=True).print("nothing is due (see `rota due`)")
            raise typer.Exit(0)
    else:
        chosen = registry.select(selectors or [])
    explicit = {s for s in selectors or [] if s in registry}
    rep = execute(
        st,
        chosen,
        apply=apply,
        wait=wait,
        explicit=explicit,
        ignore_window=ignore_window,
        progress=fmt == "table",
    )
    raise typer.Exit(render_run(st, rep, fmt, output, verbose=verbose))


def execute(
    st: State,
    chosen: list[Task],
    *,
    apply: bool,
    wait: float = 0,
    explicit: set[str] | None = None,
    ignore_window: bool = False,
    progress: bool = True,
) -> RunReport:
    """Run ``chosen`` through the engine, with a progress display on a terminal."""
    from rota.engine import Engine

    engine = Engine(st.validated(), st.history(), app=st.app())
    err = st.console(stderr=True)
    if not progress or not err.is_terminal or not chosen:
        return engine.run(
            chosen, apply=apply, wait=wait, explicit=explicit or (), ignore_window=ignore_window
        )
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        job = bar.add_task("starting", total=len(chosen))

        def on_event(event: str, task: Task, outcome: object) -> None:
            if event == "start":
                bar.update(job, description=f"{'apply' if apply else 'check'} {task.id}")
            else:
                bar.advance(job)

        engine.on_event = on_event
        return engine.run(
            chosen, apply=apply, wait=wait, explicit=explicit or (), ignore_window=ignore_window
        )


def render_run(
    st: State, rep: RunReport, fmt: str, output: Path | None, *, verbose: bool = False
) -> int:
    """Show ``rep`` in ``fmt``; returns the exit code (the report's status)."""
    if fmt in ("table", "console"):
        from rota.report.console import print_run

        print_run(st.console(), rep, verbose=verbose)
        code = rep.status.exit_code
        if output is not None:
            text, _ = render(
                st,
                rep,
                "markdown"
                if output.suffix == ".md"
                else "html"
                if output.suffix in (".html", ".htm")
                else "json",
            )
            write_output(text, output, st.console(stderr=True))
        return code
    text, code = render(st, rep, fmt)
    write_output(text, output, st.console(stderr=True))
    return code


def due_list(st: State, now: datetime | None = None) -> list[DueInfo]:
    from rota.schedule import due_info

    cfg = st.config(secrets=False)
    hist = st.history()
    successes = hist.last_successes()
    now = now or datetime.now(UTC)
    out = []
    for t in st.app().tasks:
        ov = cfg.override(t.id)
        grace = ov.grace if ov.grace is not None else cfg.schedule.grace
        out.append(
            due_info(
                t,
                frequency=ov.frequency or t.frequency,
                grace=f"{grace}s" if grace is not None else None,
                last_run=hist.last_run(t.id),
                last_success=successes.get(t.id),
                now=now,
            )
        )
    return out


def due_tasks(st: State) -> list[Task]:
    """Tasks that are due, enabled and configured (a task that cannot run is never due)."""
    cfg = st.config()
    return [
        d.task
        for d in due_list(st)
        if d.is_due and cfg.override(d.task.id).enabled and not st.app().missing(cfg, d.task.needs)
    ]


def _state(st: State, d: DueInfo) -> str:
    """never | ok | due | overdue, or why the task cannot run (disabled, not configured)."""
    cfg = st.config(secrets=False)
    if not cfg.override(d.task.id).enabled:
        return "disabled"
    if st.app().missing(cfg, d.task.needs):
        return "not configured"
    return d.state


def due(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Show each task's schedule: last run and status, next due, overdue by."""
    from rota.report.jsonout import dumps
    from rota.units import format_duration

    fmt = check_format(fmt, LIST_FORMATS)
    st = state(ctx)
    items = due_list(st)
    if fmt == "json":
        rows = [
            {
                "id": d.task.id,
                "section": d.task.section,
                "frequency": d.frequency.text,
                "priority": d.task.priority,
                "estimate": d.task.time_estimate,
                "state": _state(st, d),
                "last_run": d.last_run.started_at.isoformat() if d.last_run else None,
                "last_status": d.last_run.status if d.last_run else None,
                "next_due": d.next_due.isoformat() if d.next_due else None,
                "overdue_s": round(d.overdue_s),
            }
            for d in items
        ]
        typer.echo(dumps(rows))
        return
    from rota.report.console import Column, print_table

    # Dropped right to left when the terminal is narrow: what is due stays.
    columns = [
        Column("task", wrap=False),
        Column("section", drop=4),
        Column("frequency", drop=3),
        Column("priority", drop=2),
        Column("estimate", drop=6),
        Column("last run", drop=5),
        Column("status", drop=1),
        Column("next due", wrap=False),
        Column("overdue by"),
    ]
    styles = {"never": "yellow", "due": "yellow", "overdue": "red", "ok": "green"}
    cells: list[list[str]] = []
    for d in items:
        last = d.last_run
        state_text = _state(st, d)
        shown = format_duration(d.overdue_s) if d.overdue_s and state_text in styles else state_text
        cells.append(
            [
                d.task.id,
                d.task.section,
                d.frequency.text,
                d.task.priority,
                d.task.time_estimate,
                last.started_at.strftime("%Y-%m-%d %H:%M") if last else "never",
                last.status if last else "-",
                "now" if d.next_due is None else d.next_due.strftime("%Y-%m-%d %H:%M"),
                f"[{styles.get(state_text, 'dim')}]{shown}[/]",
            ]
        )
    print_table(st.console(), columns, cells, title="rota schedule")


def daemon(
    ctx: typer.Context,
    apply: Annotated[
        bool, typer.Option("--apply", help="Let due mutating tasks apply changes (in the window).")
    ] = False,
    once: Annotated[bool, typer.Option("--once", help="Run what is due once and exit.")] = False,
    interval: Annotated[
        float | None,
        typer.Option(
            "--interval", help="Seconds between looks (default: [schedule] check_interval)."
        ),
    ] = None,
) -> None:
    """Keep running what is due, until interrupted."""
    st = state(ctx)
    cfg = st.validated()
    pause = interval if interval is not None else cfg.schedule.check_interval
    err = st.console(stderr=True)
    worst = 0
    while True:
        todo = due_tasks(st)
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        if todo:
            rep = execute(st, todo, apply=apply, progress=False)
            ran = [t for t in rep.tasks if not t.skipped]
            err.print(f"{stamp} ran {len(ran)} due task(s): {rep.status.value}")
            for t in rep.tasks:
                err.print(f"  {t.task_id}: {t.status.value} - {t.summary}")
            worst = max(worst, rep.status.exit_code)
        else:
            err.print(f"{stamp} nothing due")
        if once:
            raise typer.Exit(worst)
        time.sleep(pause)


def history(
    ctx: typer.Context,
    task_id: Annotated[
        str | None, typer.Argument(help="Task id or prefix.", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many runs.")] = 20,
    run_id: Annotated[int | None, typer.Option("--run", help="Show one run in full.")] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """List recorded runs, newest first (or one run in full with --run)."""
    from rota.report.jsonout import dumps

    fmt = check_format(fmt, LIST_FORMATS)
    st = state(ctx)
    hist = st.history()
    if run_id is not None:
        outcome = hist.outcome(run_id)
        if fmt == "json":
            typer.echo(dumps(outcome.to_dict()))
            return
        from rota.model import RunReport
        from rota.report.console import print_run

        record = hist.run(run_id)
        mode = record.mode if record is not None else "check"
        rep = RunReport(
            st.config().target.name, mode, outcome.started_at, outcome.finished_at, [outcome]
        )
        print_run(st.console(), rep, verbose=True)
        return
    start, end = parse_period(since, until, st.config().logs.timezone)
    fetch = limit if end is None else 100000
    if task_id and task_id not in st.app().tasks:
        st.app().tasks.select([task_id])  # raises a clear error for an unknown prefix
        runs = hist.runs(prefix=task_id, since=start, limit=fetch)
    else:
        runs = hist.runs(task_id, since=start, limit=fetch)
    if end is not None:
        runs = [r for r in runs if r.started_at <= end][:limit]
    if fmt == "json":
        rows = [
            {
                "run": r.id,
                "task": r.task_id,
                "mode": r.mode,
                "status": r.status,
                "started_at": r.started_at.isoformat(),
                "duration_s": r.duration_s,
                "changed": r.changed,
                "summary": r.summary,
                "error": r.error,
            }
            for r in runs
        ]
        typer.echo(dumps(rows))
        return
    if not runs:
        st.console().print("no runs recorded yet; try `rota run --all`")
        return
    from rich.markup import escape

    from rota.report.console import Column, print_table
    from rota.units import format_duration

    colours = {
        "ok": "green",
        "warning": "yellow",
        "critical": "red",
        "unknown": "magenta",
        "running": "cyan",
    }
    columns = [
        Column("run", wrap=False, justify="right"),
        Column("started", wrap=False),
        Column("task", wrap=False),
        Column("mode", drop=2),
        Column("status"),
        Column("took", drop=1),
        Column("summary"),
    ]
    cells = [
        [
            str(r.id),
            r.started_at.strftime("%Y-%m-%d %H:%M"),
            r.task_id,
            r.mode,
            f"[{colours.get(r.status, 'white')}]{r.status}[/]",
            format_duration(r.duration_s),
            escape(r.summary or (r.error or "")),
        ]
        for r in runs
    ]
    print_table(
        st.console(), columns, cells, title=f"rota history{' ' + task_id if task_id else ''}"
    )


def report(
    ctx: typer.Context,
    since: Annotated[
        str,
        typer.Option("--since", help="From: today, a duration back (1h, 7d) or an ISO time."),
    ] = "7d",
    until: UntilOpt = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="markdown, html or json.")
    ] = "markdown",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
) -> None:
    """A report of the latest run of each task within a period, from the history."""
    from rota.model import RunReport

    fmt = check_format(fmt, ("markdown", "html", "json"))
    st = state(ctx)
    start, end = parse_period(since, until, st.config().logs.timezone)
    assert start is not None
    hist = st.history()
    latest: dict[str, RunRecord] = {}
    for r in hist.runs(since=start, limit=100000):
        if end is not None and r.started_at > end:
            continue
        if r.status not in ("running", "abandoned") and r.task_id not in latest:
            latest[r.task_id] = r
    outcomes = sorted((hist.outcome(r.id) for r in latest.values()), key=lambda o: o.task_id)
    mode = "apply" if any(r.mode == "apply" for r in latest.values()) else "check"
    rep = RunReport(st.config().target.name, mode, start, end or datetime.now(UTC), outcomes)
    text, _ = render(st, rep, fmt)
    write_output(text, output, st.console(stderr=True))
