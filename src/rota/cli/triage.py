"""``rota triage`` and ``rota incident``: a performance emergency, from the first look to
the postmortem. The work is in :mod:`rota.triage`; this parses and renders."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from rota.cli.common import State, check_format, state, write_output
from rota.errors import UsageError

if TYPE_CHECKING:
    from rota.triage import ActionResult, Snapshot

FORMATS = ("table", "json")
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table or json.")]
COLOURS = {"ok": "green", "warning": "yellow", "critical": "bold red", "unknown": "magenta"}
PROBE_COLOURS = {"ok": "green", "unknown": "magenta", "skipped": "dim"}

incident_app = typer.Typer(
    help="Incidents: the record of an emergency, from the first triage to the postmortem. "
    "rota triage opens one and adds each snapshot; --apply adds each action; add what "
    "people saw and did with note, end it with close --summary, then draft the postmortem "
    "from its timeline (snapshots, actions, notes, and the task runs recorded meanwhile).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.command("triage")(triage)
    app.add_typer(incident_app, name="incident")


def triage(
    ctx: typer.Context,
    apply_id: Annotated[
        str | None,
        typer.Option(
            "--apply",
            metavar="ID",
            help="Perform proposal ID (INCIDENT.N, as printed, e.g. 12.3) and nothing else.",
        ),
    ] = None,
    incident: Annotated[
        int | None,
        typer.Option(
            "--incident", help="Record in this incident (default: the open one, or a new one)."
        ),
    ] = None,
    title: Annotated[
        str | None, typer.Option("--title", help="Title of the incident, if this opens one.")
    ] = None,
    slow: Annotated[
        str, typer.Option("--slow", help="A statement running longer than this is a suspect.")
    ] = "1s",
    window: Annotated[
        str, typer.Option("--window", help="How far back the logs are read (by line time).")
    ] = "15m",
    fmt: FormatOpt = "table",
) -> None:
    """Identify the bottleneck of a performance emergency, then mitigate it.

    Without --apply: a read-only snapshot in under 10 seconds. Database (sessions, blocking
    chains, long statements, idle transactions, locks waited on, cache hit ratio, top
    statements since the last triage), service (health latency, cache), process memory
    and CPU, logs (errors, 5xx and latency of the last 15 minutes) and host (load, disk,
    I/O wait) are probed at once; a probe that fails is unknown and the others go on.
    Suspects are ranked by score, each with its evidence and a proposed mitigation; the
    snapshot is recorded in an incident (the open one, or a new one).

    With --apply ID: perform that one proposal (cancel a statement, terminate a backend,
    clear the cache), after checking that its target is still the one proposed (a pid
    reused by another session is refused), and record the result in the incident.

    Exit 0/1/2/3 by the worst suspect (ok/warning/critical/unknown); with --apply, 0 done,
    1 refused (nothing was sent), 2 failed.
    """
    fmt = check_format(fmt, FORMATS)
    st = state(ctx)
    if apply_id is not None:
        if incident is not None or title is not None:
            raise UsageError("--apply ID names its incident; leave out --incident and --title")
        _apply(st, apply_id, fmt)
        return
    from rota.triage import Options, run
    from rota.units import parse_duration

    try:
        options = Options(slow_query_s=parse_duration(slow), log_window_s=parse_duration(window))
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--slow/--window: {exc}") from None
    cfg = st.validated()
    snap = run(st.app(), cfg, st.history(), options=options, incident_id=incident, title=title)
    if fmt == "json":
        from rota.redact import redact
        from rota.report.jsonout import dumps

        typer.echo(dumps(redact(snap.to_dict(), cfg.secrets())))
    else:
        _print_snapshot(st, snap)
    raise typer.Exit(snap.status.exit_code)


def _apply(st: State, proposal_id: str, fmt: str) -> None:
    from rota.triage import apply

    cfg = st.validated()
    result = apply(st.app(), cfg, st.history(), proposal_id)
    if fmt == "json":
        from rota.redact import redact
        from rota.report.jsonout import dumps

        typer.echo(dumps(redact(result.to_dict(), cfg.secrets())))
    else:
        _print_result(st, result)
    raise typer.Exit(result.severity.exit_code)


# --- rendering a snapshot ---------------------------------------------------------------------


def _print_snapshot(st: State, snap: Snapshot) -> None:
    from rota.redact import Redactor
    from rota.report.console import Column, print_table

    r = Redactor(st.config().secrets())
    console = st.console()
    status = snap.status.value
    console.print(
        f"[bold]rota triage[/] · {escape(snap.target)} · "
        f"{snap.started_at.strftime('%Y-%m-%d %H:%M:%S')} UTC · snapshot in {snap.took_s:.1f}s · "
        f"incident {snap.incident_id} · [{COLOURS[status]}]{status.upper()}[/]"
    )
    print_table(
        console,
        [
            Column("probe", wrap=False),
            Column("status", wrap=False),
            Column("took", justify="right", drop=1),
            Column("what it saw"),
        ],
        [
            [
                p.name,
                f"[{PROBE_COLOURS.get(p.status, '')}]{p.status}[/]",
                f"{p.took_s:.2f}s",
                escape(r.text(p.reason or _probe_line(p.name, p.data))),
            ]
            for p in snap.probes
        ],
        title="probes",
    )
    if not snap.suspects:
        console.print("no suspect: every probe that answered looks normal")
        return
    print_table(
        console,
        [
            Column("#", wrap=False, justify="right"),
            Column("score", wrap=False, justify="right"),
            Column("severity", wrap=False, drop=2),
            Column("suspect"),
            Column("proposals", drop=1),
        ],
        [
            [
                str(i),
                f"{s.score:.0f}",
                f"[{COLOURS[s.severity.value]}]{s.severity.value}[/]",
                escape(r.text(f"{s.title} [{s.code}]")),
                ", ".join(p.id for p in s.proposals) or "-",
            ]
            for i, s in enumerate(snap.suspects, start=1)
        ],
        title="suspects, most likely first",
    )
    for s in snap.suspects[:3]:
        console.print(
            f"[bold]{escape(s.code)}[/] {escape(r.text(s.subject))}: {escape(r.text(s.mitigation))}"
        )
    if snap.proposals:
        console.print()
        console.print("[bold]proposed mitigations[/] (rota triage --apply ID performs one):")
        for p in snap.proposals:
            console.print(
                f"  [bold]{p.id}[/]  risk {p.risk}: {escape(r.text(p.title))}\n"
                f"        {escape(r.text(p.command))}\n"
                f"        [dim]{escape(p.risk_note)}[/]"
            )


def _probe_line(name: str, d: dict[str, Any]) -> str:
    """One line of what a probe saw, for the probes table."""
    if name == "database":
        c = d.get("connections") or {}
        ratio = (d.get("cache_hit_ratio") or {}).get("ratio")
        parts = [
            f"{c.get('used')}/{c.get('usable')} connections",
            f"{len(d.get('blocking') or [])} blocking chain(s)",
            f"{len(d.get('long_running') or [])} long statement(s)",
            f"{len(d.get('idle_in_transaction') or [])} idle in transaction",
            f"{len(d.get('locks_waited') or [])} lock wait(s)",
        ]
        if ratio is not None:
            parts.append(f"buffer hit {ratio:.1%}")
        return ", ".join(parts)
    if name == "service":
        h = d.get("health") or {}
        line = f"health HTTP {h.get('status')} in {h.get('latency_s', 0):.3f}s"
        if "cache" in d:
            line += f", cache hit {d['cache'].get('hit_ratio', 0):.1%}"
        return line
    if name == "process":
        groups = d.get("groups") or []
        parts = []
        for g in groups[:3]:
            part = f"{g.get('name')} (pid {g.get('pid')}) {float(g.get('rss_bytes') or 0) / (1 << 20):.0f} MB"
            growth = g.get("growth") or {}
            rate = growth.get("bytes_per_s")
            if rate and growth.get("leaking"):
                part += f", growing {float(rate) * 60 / (1 << 20):.1f} MB/min"
            parts.append(part)
        return ", ".join(parts) or "no process"
    if name == "logs":
        lat = d.get("latency") or {}
        line = f"{d.get('requests', 0)} requests, {d.get('server_errors', 0)} 5xx, {d.get('errors', 0)} errors"
        if lat.get("p95") is not None:
            line += f", p95 {lat['p95']:g} ms"
        line += f" in the last {float(d.get('window_s', 0)) / 60:g} min"
        if d.get("partial"):
            line += f" (partial: read from {d.get('covered_from') or '-'})"
        return line
    if name == "host":
        disks = ", ".join(f"{f['role']} {f['percent']:g}%" for f in d.get("filesystems") or [])
        return (
            f"load {d.get('load_per_cpu')}/CPU, I/O wait {d.get('iowait_percent')}%, "
            f"RAM {d.get('memory_percent')}%" + (f", disk {disks}" if disks else "")
        )
    return ""


def _print_result(st: State, result: ActionResult) -> None:
    from rota.redact import Redactor

    r = Redactor(st.config().secrets())
    colour = {"done": "green", "refused": "yellow"}.get(result.status, "bold red")
    p = result.proposal
    st.console().print(
        f"[bold]{p.id}[/] [{colour}]{result.status}[/]: {escape(r.text(result.detail))} "
        f"({result.took_s:.2f}s)\n  {escape(r.text(p.command))}"
    )
    for key, value in result.facts.items():
        st.console().print(f"  [dim]{key}:[/] {escape(str(value))}")


# --- rota incident ---------------------------------------------------------------------------


def _store(st: State) -> Any:
    from rota.triage import incidents

    return incidents(st.history(), st.config(secrets=False))


@incident_app.command("open")
def open_(
    ctx: typer.Context,
    title: Annotated[str, typer.Argument(help="What is happening, in a few words.")],
) -> None:
    """Open an incident (rota triage opens one by itself when none is open)."""
    st = state(ctx)
    found = _store(st).open(title, target=st.config(secrets=False).target.name)
    st.console().print(f"opened incident {found.id}: {escape(found.title)}")


@incident_app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option("--status", help="Only open or only closed incidents.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many, newest first.")] = 50,
    fmt: FormatOpt = "table",
) -> None:
    """Incidents, newest first."""
    fmt = check_format(fmt, FORMATS)
    if status not in (None, "open", "closed"):
        raise UsageError("--status: choose open or closed")
    st = state(ctx)
    found = _store(st).recent(status=status, limit=limit)
    if fmt == "json":
        from rota.report.jsonout import dumps

        typer.echo(dumps([i.to_dict() for i in found]))
        return
    if not found:
        st.console().print("no incidents recorded; `rota triage` opens one")
        return
    from rota.report.console import Column, print_table

    print_table(
        st.console(),
        [
            Column("id", wrap=False, justify="right"),
            Column("status", wrap=False),
            Column("severity", wrap=False, drop=2),
            Column("opened", wrap=False),
            Column("closed", wrap=False, drop=1),
            Column("events", justify="right", drop=3),
            Column("title"),
        ],
        [
            [
                str(i.id),
                i.status,
                f"[{COLOURS.get(i.severity, '')}]{i.severity}[/]",
                i.opened_at.strftime("%Y-%m-%d %H:%M"),
                i.closed_at.strftime("%Y-%m-%d %H:%M") if i.closed_at else "-",
                str(i.events),
                escape(i.title),
            ]
            for i in found
        ],
        title="incidents",
    )


@incident_app.command("show")
def show(
    ctx: typer.Context,
    incident_id: Annotated[int, typer.Argument(metavar="ID", help="The incident's id.")],
    fmt: FormatOpt = "table",
) -> None:
    """An incident and its timeline: triage snapshots, actions, notes and the task runs
    recorded while it was open."""
    from rota.triage.postmortem import timeline

    fmt = check_format(fmt, FORMATS)
    st = state(ctx)
    store = _store(st)
    found = store.require(incident_id)
    entries = timeline(store, st.history(), found)
    if fmt == "json":
        from rota.report.jsonout import dumps

        typer.echo(dumps({**found.to_dict(), "timeline": [e.to_dict() for e in entries]}))
        return
    from rota.report.console import Column, print_table

    console = st.console()
    closed = f", closed {found.closed_at:%Y-%m-%d %H:%M:%S}" if found.closed_at else ""
    console.print(
        f"[bold]incident {found.id}[/]: {escape(found.title)} · {found.status} · worst "
        f"[{COLOURS.get(found.severity, '')}]{found.severity}[/] · opened "
        f"{found.opened_at:%Y-%m-%d %H:%M:%S}{closed} UTC"
    )
    if found.summary:
        console.print(escape(found.summary))
    print_table(
        console,
        [Column("time (UTC)", wrap=False), Column("event", wrap=False), Column("what")],
        [[f"{e.at:%H:%M:%S}", e.kind, escape(e.summary)] for e in entries],
        title="timeline",
    )


@incident_app.command("note")
def note(
    ctx: typer.Context,
    incident_id: Annotated[int, typer.Argument(metavar="ID", help="The incident's id.")],
    text: Annotated[str, typer.Argument(help="What was seen, decided or done by hand.")],
) -> None:
    """Add a note to an incident's timeline (what was seen, decided, or done by hand)."""
    st = state(ctx)
    store = _store(st)
    store.require(incident_id)
    if not text.strip():
        raise UsageError("a note needs text")
    event = store.add_event(incident_id, "note", text, {"text": text})
    st.console().print(f"noted in incident {incident_id} (event {event.seq})")


@incident_app.command("close")
def close(
    ctx: typer.Context,
    incident_id: Annotated[int, typer.Argument(metavar="ID", help="The incident's id.")],
    summary: Annotated[
        str, typer.Option("--summary", help="What happened and what ended it.")
    ] = "",
) -> None:
    """Close an incident, with a summary for its postmortem."""
    st = state(ctx)
    _store(st).close(incident_id, summary)
    st.console().print(
        f"closed incident {incident_id}; draft its postmortem with "
        f"`rota incident postmortem {incident_id}`"
    )


@incident_app.command("postmortem")
def postmortem(
    ctx: typer.Context,
    incident_id: Annotated[int, typer.Argument(metavar="ID", help="The incident's id.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the draft to a file.")
    ] = None,
) -> None:
    """A Markdown postmortem draft: summary, impact window, timeline, suspects and their
    evidence, actions taken, and what to follow up."""
    from rota.triage.postmortem import render

    st = state(ctx)
    store = _store(st)
    text = render(store, st.history(), store.require(incident_id))
    write_output(text, output, st.console(stderr=True))
