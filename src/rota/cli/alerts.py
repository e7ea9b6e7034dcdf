"""``rota alerts test|history``: prove each channel delivers, and see what was sent."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from rota.cli.common import check_format, state
from rota.errors import UsageError

alerts_app = typer.Typer(
    help="Alerts: send a test to each channel, list past deliveries.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")


@alerts_app.command("test")
def test_(
    ctx: typer.Context,
    channel: Annotated[
        list[str] | None, typer.Option("--channel", help="Only this channel (repeatable).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Send a test alert to every [[alerts.channels]] entry; exit 1 if any delivery failed."""
    from rota.alerts import Alert
    from rota.alerts.dispatch import send
    from rota.redact import Redactor

    fmt = check_format(fmt, ("table", "json"))
    st = state(ctx)
    cfg = st.validated()
    channels = cfg.alerts.channels
    if not channels:
        raise UsageError("no [[alerts.channels]] configured; nothing to test")
    if channel:
        unknown = sorted(set(channel) - {c.name for c in channels})
        if unknown:
            names = ", ".join(c.name for c in channels)
            raise UsageError(f"no alert channel named {', '.join(unknown)} (configured: {names})")
        channels = [c for c in channels if c.name in channel]
    alert = Alert.drill(
        target=cfg.target.name,
        task_id="rota.alerts.test",
        title="Alert channel test",
        summary="a test alert from `rota alerts test`; nothing is wrong",
    )
    sent = send(
        alert,
        channels,
        st.history(),
        redact=Redactor(cfg.secrets()).text,
        types=st.app().channels.get,
    )
    if fmt == "json":
        typer.echo(json.dumps([s.to_dict() for s in sent], indent=2))
    else:
        console = st.console()
        for s in sent:
            mark = "[green]sent[/]" if s.status == "sent" else "[red]FAILED[/]"
            console.print(f"{mark}  {s.channel}: {s.detail}")
    raise typer.Exit(0 if all(s.status == "sent" for s in sent) else 1)


@alerts_app.command("history")
def history_(
    ctx: typer.Context,
    task: Annotated[str | None, typer.Option("--task", help="Only this task's alerts.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many, newest first.")] = 50,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Alert deliveries recorded in history: when, which task and channel, sent or failed."""
    fmt = check_format(fmt, ("table", "json"))
    st = state(ctx)
    rows = st.history().alerts(limit=limit, task_id=task)
    if fmt == "json":
        for r in rows:
            for k in ("attempted_at", "finished_at"):
                r[k] = r[k].isoformat() if r[k] else None
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        st.console().print("no alerts sent yet")
        return
    from rich.table import Table

    table = Table(title="alerts, newest first", title_justify="left")
    for col in ("when", "task", "change", "channel", "delivery"):
        table.add_column(col, overflow="fold")
    for r in rows:
        colour = {"sent": "green", "failed": "red"}.get(r["status"], "yellow")
        table.add_row(
            r["attempted_at"].isoformat(timespec="seconds").replace("T", " "),
            r["task_id"],
            f"{r['previous'] or '-'} → {r['current']}",
            r["channel"],
            f"[{colour}]{r['status']}[/] {r['detail']}",
        )
    st.console().print(table)
