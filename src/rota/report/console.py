"""The terminal writer: a run and the task list, rendered with Rich.

Everything goes through the ``Console`` the caller passes in, so the CLI decides where
output goes and whether it is coloured; Rich drops colour by itself when the console is
not a terminal. Messages from tasks are inserted as ``Text``, never as markup, so a
``[bracket]`` in a finding is printed as written. This is the only module that imports
Rich; the CLI imports it lazily.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich import box
from rich.console import Console, JustifyMethod, RenderableType
from rich.padding import Padding
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from rota.model import Finding, RunReport, Severity, StepStatus, TaskOutcome
from rota.report.common import (
    Block,
    fmt_duration,
    is_skipped,
    mode_note,
    plural,
    problem_findings,
    run_duration_s,
    split_evidence,
    status_counts,
    step_code,
    step_extras,
    step_text,
    task_state,
    when,
)
from rota.task import Task

STYLE = {
    "ok": "green",
    "warning": "yellow",
    "critical": "bold red",
    "unknown": "magenta",
    "skipped": "dim",
}
STEP_STYLE = {
    StepStatus.PLANNED: "cyan",
    StepStatus.DONE: "green",
    StepStatus.FAILED: "bold red",
    StepStatus.SKIPPED: "dim",
}
PRIORITY_STYLE = {"critical": "bold red", "high": "yellow", "medium": "", "low": "dim"}


def print_run(console: Console, report: RunReport, *, verbose: bool = False) -> None:
    """The run: a header, a table of tasks, each problem and step, and a closing status line."""
    console.print(_header(report), highlight=False)
    if not report.tasks:
        console.print("No tasks ran.", style="dim")
    else:
        console.print(_task_table(report))
    for outcome in report.tasks:
        details = _task_details(outcome, verbose=verbose)
        if details:
            console.print()
            console.print(_task_heading(outcome), highlight=False)
            for item in details:
                console.print(item, highlight=False)
    console.print()
    console.print(_footer(report), highlight=False)


def print_tasks(console: Console, tasks: list[Task]) -> None:
    """The registered tasks, grouped by runbook section, in registry order."""
    if not tasks:
        console.print("No tasks registered.", style="dim")
        return
    # One table per section, all with the same fixed column widths, so they line up and
    # a section name never widens the id column.
    widths = {
        "Task": max(len(t.id) for t in tasks),
        "Every": max(5, *(len(t.frequency) for t in tasks)),
        "Priority": 8,
        "Changes": 7,
        "Takes": max(5, *(len(t.time_estimate) for t in tasks)),
    }

    def table(header: bool) -> Table:
        t = Table(
            box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=True, show_header=header
        )
        for name, width in widths.items():
            t.add_column(
                name, width=width, no_wrap=True, justify="right" if name == "Takes" else "left"
            )
        t.add_column("Title", ratio=1, overflow="fold")
        return t

    console.print(table(header=True))
    for section, members in _by_section(tasks):
        console.print(Text(section, style="bold underline"))
        body = table(header=False)
        for t in members:
            body.add_row(
                Text(t.id, style="bold"),
                Text(t.frequency),
                Text(t.priority, style=PRIORITY_STYLE.get(t.priority, "")),
                Text("yes", style="yellow") if t.mutates else Text("no", style="dim"),
                Text(t.time_estimate),
                Text(t.title),
            )
        console.print(body)
    mutating = sum(1 for t in tasks if t.mutates)
    console.print(
        Text(
            f"{plural(len(tasks), 'task')}, {mutating} can change the target (only with --apply).",
            style="dim",
        )
    )


# -- pieces ----------------------------------------------------------------------------------
def _header(report: RunReport) -> Text:
    text = Text()
    text.append(f"rota {report.mode}", style="bold")
    text.append(f" · {report.target} · {when(report)}")
    if report.finished_at is not None:
        text.append(f" · {fmt_duration(run_duration_s(report))}")
    return text


def _status(state: str, *, width: int = 0) -> Text:
    return Text(state.upper().ljust(width), style=STYLE.get(state, ""))


def _task_table(report: RunReport) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, expand=False)
    table.add_column("Status", no_wrap=True)
    table.add_column("Task", no_wrap=True, style="bold")
    table.add_column("Time", no_wrap=True, justify="right")
    table.add_column("Changed", no_wrap=True)
    table.add_column("Summary", ratio=1, overflow="fold")
    for t in report.tasks:
        changed = Text("yes", style="yellow") if t.changed else Text("no", style="dim")
        table.add_row(
            _status(task_state(t)),
            Text(t.task_id),
            Text("-" if is_skipped(t) else fmt_duration(t.duration_s)),
            changed,
            Text(t.summary, style="dim" if is_skipped(t) else ""),
        )
    return table


def _task_heading(outcome: TaskOutcome) -> Text:
    text = Text()
    text.append(outcome.task_id, style="bold")
    text.append(" ")
    text.append(_status(task_state(outcome)))
    return text


def _task_details(outcome: TaskOutcome, *, verbose: bool) -> list[RenderableType]:
    items: list[RenderableType] = []
    if outcome.error:
        items.append(_hang(2, Text("error: ", style=STYLE["unknown"]), Text(outcome.error)))
    for f in problem_findings(outcome):
        items.extend(_finding(f, verbose=verbose))
    if verbose:
        items.extend(_ok_finding(f) for f in outcome.findings if f.severity is Severity.OK)
    for step in outcome.steps:
        style = STEP_STYLE[step.status]
        body = Text(step_text(step), style=style if step.status is StepStatus.FAILED else "")
        items.append(_hang(2, Text("↳ ", style=style), body))
        if verbose:
            block = step_code(step)
            if block:
                items.append(_code(block, indent=6))
            items.extend(_kv(key, value, indent=6) for key, value in step_extras(step))
    for a in outcome.alerts:
        if a.status == "held":
            line = f"held for {a.channel}: {a.detail}"
            items.append(_hang(2, Text("alert ", style="dim"), Text(line, style="dim")))
            continue
        was = a.previous.value if a.previous is not None else "first run"
        ok = a.status == "sent"
        mark = Text("alert ", style="dim" if ok else STYLE["critical"])
        line = f"{'sent to' if ok else 'NOT delivered to'} {a.channel} ({was} → {a.current.value})"
        items.append(_hang(2, mark, Text(line + ("" if ok else f": {a.detail}"))))
    return items


def _finding(f: Finding, *, verbose: bool) -> list[RenderableType]:
    head = Text()
    head.append(f.code, style="bold")
    if f.subject:
        head.append("  ")
        head.append(f.subject, style="cyan")
    out: list[RenderableType] = [
        _hang(2, _status(f.severity.value, width=9), head),
        Padding(Text(f.message), (0, 0, 0, 4), expand=False),
    ]
    if f.remedy:
        out.append(_hang(4, Text("remedy: ", style="bold"), Text(f.remedy)))
    if verbose and f.evidence:
        rows, blocks = split_evidence(f.evidence)
        out.extend(_kv(key, value, indent=4) for key, value in rows)
        for block in blocks:
            out.append(_kv(block.key, "", indent=4))
            out.append(_code(block, indent=6))
    return out


def _ok_finding(f: Finding) -> RenderableType:
    body = Text()
    body.append(f.code)
    if f.subject:
        body.append(f"  {f.subject}", style="cyan")
    body.append(f"  {f.message}", style="dim")
    return _hang(2, _status("ok", width=9), body)


def _hang(indent: int, prefix: Text, body: Text) -> RenderableType:
    """``prefix`` then ``body``, with wrapped lines of ``body`` indented under its start."""
    grid = Table.grid(padding=0)
    grid.add_column(width=indent, no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("", prefix, body)
    return grid


def _kv(key: str, value: str, *, indent: int) -> RenderableType:
    return _hang(indent, Text(f"{key}: ", style="dim"), Text(value))


def _code(block: Block, *, indent: int) -> RenderableType:
    lexer = {"sql": "sql", "sh": "bash", "json": "json"}.get(block.lang, "text")
    # No background and no line numbers: copy-pasteable, and readable without colour.
    syntax = Syntax(
        block.text, lexer, theme="ansi_dark", background_color="default", word_wrap=True
    )
    return Padding(syntax, (0, 0, 0, indent), expand=False)


def _footer(report: RunReport) -> Text:
    counts = status_counts(report)
    state = report.status.value
    text = Text()
    text.append(_status(state))
    text.append(f" · {plural(len(report.tasks), 'task')}")
    if counts:
        text.append(": ")
        for n, (key, count) in enumerate(counts.items()):
            if n:
                text.append(", ")
            text.append(f"{count} {key}", style=STYLE.get(key, ""))
    text.append(f"\n{report.mode} mode: {mode_note(report)}", style="dim")
    return text


def _by_section(tasks: list[Task]) -> list[tuple[str, list[Task]]]:
    groups: dict[str, list[Task]] = {}
    for t in tasks:
        groups.setdefault(t.section, []).append(t)
    return list(groups.items())


@dataclass(frozen=True)
class Column:
    """A column of :func:`print_table`. ``drop`` orders what goes first when the terminal is
    too narrow (highest first; 0 is never dropped); ``wrap`` lets long cells fold."""

    name: str
    drop: int = 0
    wrap: bool = True
    justify: JustifyMethod = "left"


def print_table(
    console: Console, columns: list[Column], rows: list[list[str]], *, title: str = ""
) -> None:
    """Rows of Rich-markup cells as a table that fits the console.

    On a terminal, columns are dropped by priority until every kept column can show its
    header and longest word, and the rest wrap: a cell is never cut to ``sec…``. When
    stdout is not a terminal (a pipe, a file), a plain aligned table without colour, box
    or title is printed instead, whole, for ``grep``, ``awk`` and ``column``.
    """
    plain = [[Text.from_markup(cell).plain for cell in row] for row in rows]
    if not console.is_terminal:
        _print_plain(console, [c.name for c in columns], plain)
        return
    need = [_min_width(c, [row[i] for row in plain]) for i, c in enumerate(columns)]
    keep = list(range(len(columns)))
    for i in sorted(keep, key=lambda i: -columns[i].drop):
        # A column costs its width plus 3: one space of padding each side and a rule.
        if sum(need[k] + 3 for k in keep) + 1 <= console.width or columns[i].drop == 0:
            break
        keep.remove(i)
    hidden = [columns[i].name for i in range(len(columns)) if i not in keep]
    table = Table(
        title=title or None,
        title_justify="left",
        caption=f"not shown (too narrow): {', '.join(hidden)}" if hidden else None,
        caption_justify="left",
    )
    for i in keep:
        c = columns[i]
        table.add_column(
            c.name,
            justify=c.justify,
            no_wrap=not c.wrap,
            overflow="fold",
            min_width=need[i],
        )
    for row in rows:
        table.add_row(*(row[i] for i in keep))
    console.print(table)


def _min_width(column: Column, cells: list[str]) -> int:
    if not column.wrap:
        return max([len(column.name), *(len(c) for c in cells)])
    words = [len(w) for c in cells for w in c.split()]
    return max([len(column.name), *words])


def _print_plain(console: Console, header: list[str], rows: list[list[str]]) -> None:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    for row in [header, *rows]:
        line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        console.out(line.rstrip(), highlight=False)
