"""``rota logs``: error groups, latency, recent errors and fingerprints at a terminal."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from rota.cli.common import check_format, state
from rota.cli.common import parse_time as _since  # one time grammar for every --since
from rota.errors import UsageError

if TYPE_CHECKING:
    from rota.logscan.results import Results

FORMATS = ("table", "json")


def register(app: typer.Typer) -> None:
    logs = typer.Typer(help="Log analysis: error groups, latency, recent errors, fingerprints.")
    logs.command("top")(top)
    logs.command("latency")(latency)
    logs.command("recent")(recent)
    logs.command("fingerprint")(fingerprint_cmd)
    app.add_typer(logs, name="logs")


FilesArg = Annotated[
    list[str] | None,
    typer.Argument(help="Files or globs (default: [logs] paths).", show_default=False),
]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table or json.")]
UntilOpt = Annotated[
    str | None, typer.Option(help="Before this time: today, 1h, 7d or an ISO time.")
]


def _scan(ctx: typer.Context, files: list[str] | None) -> tuple[Results, str]:
    from rota.logscan.runner import scan_configured

    cfg = state(ctx).config(secrets=False)  # logs are files: no key is needed to read them
    if fmt_error := _check_files(files, cfg.logs.paths):
        raise UsageError(fmt_error)
    return scan_configured(cfg.logs, files or None).results, cfg.logs.timezone


def _check_files(files: list[str] | None, paths: list[str]) -> str | None:
    if not files and not paths:
        return "no log files: give FILE... or set [logs] paths in the config"
    return None


def top(
    ctx: typer.Context,
    files: FilesArg = None,
    since: Annotated[str | None, typer.Option(help="today, 1h, 7d or an ISO time.")] = None,
    until: UntilOpt = None,
    limit: Annotated[int, typer.Option(help="How many groups.")] = 20,
    fmt: FormatOpt = "table",
) -> None:
    """The most common error groups (errors = level error/fatal/critical/panic or HTTP 5xx)."""
    fmt = check_format(fmt, FORMATS)
    res, tz = _scan(ctx, files)
    cutoff = _since(since, tz)
    end = _since(until, tz, option="--until")
    groups = res.top_groups(limit, since=cutoff, until=end)
    rows = []
    for g in groups:
        d = g.to_dict(res.errors)
        if cutoff is not None or end is not None:
            d["count"] = g.count_since(cutoff or 0.0, end)
        rows.append(d)
    if fmt == "json":
        typer.echo(json.dumps({"errors": res.errors, "lines": res.lines, "groups": rows}, indent=2))
        return
    from rich.table import Table

    t = Table(title=f"{res.errors:,} errors in {res.lines:,} lines")
    for col in ("count", "share", "first seen", "last seen", "group", "template"):
        t.add_column(col, justify="right" if col in ("count", "share") else "left")
    for d in rows:
        share = f"{d['share']:.1%}" if d["share"] is not None else ""
        t.add_row(
            str(d["count"]),
            share,
            d["first_seen"] or "",
            d["last_seen"] or "",
            d["group"],
            d["template"],
        )
    state(ctx).console().print(t)


def latency(ctx: typer.Context, files: FilesArg = None, fmt: FormatOpt = "table") -> None:
    """Per route and method: requests, p50/p90/p95/p99/max (ms, nearest rank), 5xx rate."""
    fmt = check_format(fmt, FORMATS)
    res, _ = _scan(ctx, files)
    rows = []
    for key, lat in sorted(res.routes.items(), key=lambda kv: -kv[1].requests):
        method, _, route = key.partition(" ")
        rows.append({"method": method, "route": route, **lat.summary()})
    if fmt == "json":
        typer.echo(json.dumps({"routes": rows}, indent=2))
        return
    from rich.table import Table

    t = Table(title="API latency (ms, nearest rank)")
    cols = ("method", "route", "count", "p50", "p90", "p95", "p99", "max", "error_rate")
    for col in cols:
        t.add_column(col, justify="left" if col in ("method", "route") else "right")
    for r in rows:
        t.add_row(*(f"{r[c]:.2%}" if c == "error_rate" else str(r.get(c, "")) for c in cols))
    state(ctx).console().print(t)


def recent(
    ctx: typer.Context,
    files: FilesArg = None,
    since: Annotated[str, typer.Option(help="today, 1h, 7d or an ISO time.")] = "today",
    until: UntilOpt = None,
    limit: Annotated[int, typer.Option(help="How many groups.")] = 20,
    fmt: FormatOpt = "table",
) -> None:
    """Errors since a time, by the timestamp in each line (not the file's name or mtime)."""
    fmt = check_format(fmt, FORMATS)
    res, tz = _scan(ctx, files)
    cutoff = _since(since, tz) or 0.0
    end = _since(until, tz, option="--until")
    groups = [
        {
            "group": g.id,
            "template": g.template,
            "count": g.count_since(cutoff, end),
            "sample": g.sample,
        }
        for g in res.top_groups(limit, since=cutoff, until=end)
    ]
    total = res.errors_since(cutoff, end)
    if fmt == "json":
        typer.echo(json.dumps({"since": cutoff, "errors": total, "groups": groups}, indent=2))
        return
    from rich.table import Table

    when = datetime.fromtimestamp(cutoff, UTC).isoformat(timespec="seconds")
    t = Table(title=f"{total:,} errors since {when}")
    for col in ("count", "group", "template"):
        t.add_column(col, justify="right" if col == "count" else "left")
    for g in groups:
        t.add_row(str(g["count"]), str(g["group"]), escape(str(g["template"])))
    state(ctx).console().print(t)


def fingerprint_cmd(
    files: Annotated[list[Path], typer.Argument(help="Log files (plain or .gz); - for stdin.")],
    explain: Annotated[
        bool,
        typer.Option(
            "--explain", help="Add which format and header rule took each line, and its header."
        ),
    ] = False,
) -> None:
    """One JSON line per input line: {"file", "line", "group", "template"}.

    Lines are grouped once the whole input is read (the distinct templates are clustered),
    so a line's group does not depend on where it came in the input."""
    from rota.logscan.grouping import LineGrouper
    from rota.logscan.reader import ReadReport, is_gzip, read_blocks

    for path in files:
        if str(path) != "-" and not path.is_file():
            raise UsageError(f"{path}: no such file")
    grouper = LineGrouper(keep_explain=explain)
    where: list[tuple[str, int]] = []  # (file, lines in it)
    for path in files:
        name = str(path)
        blocks: Iterator[list[bytes]]
        if name == "-":
            blocks = ([ln.rstrip(b"\r\n")] for ln in sys.stdin.buffer)
        else:
            blocks = read_blocks(path, 0, is_gzip(path), ReadReport())
        before = len(grouper)
        for block in blocks:
            for raw in block:
                grouper.add(raw.decode(errors="replace").rstrip("\r"))
        where.append((name, len(grouper) - before))
    out = sys.stdout
    groups = grouper.groups()
    for name, count in where:
        for n in range(1, count + 1):
            gid, template, why = next(groups)
            row: dict[str, object] = {"file": name, "line": n, "group": gid, "template": template}
            if why is not None:
                row.update(why)
            out.write(json.dumps(row) + "\n")
