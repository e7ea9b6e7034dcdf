"""Output writers: one run report, several formats, chosen at the edge (the CLI).

A :class:`Writer` turns a :class:`~rota.model.RunReport` into text and the exit code that
format's readers expect. Writers live in the app's writer registry, filled from the
``rota.writers`` entry-point group; rota's own (``json``, ``nagios``, ``prometheus``,
``markdown``, ``html``, ``sarif``) are registered by :func:`register` exactly as a plugin's would be.
The terminal table lives in :mod:`rota.report.console` and is imported only by whoever
prints to a terminal, so importing this package never loads Rich.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rota.errors import ExitCode
from rota.model import RunReport

if TYPE_CHECKING:
    from rota.registry import Registry


@dataclass(frozen=True)
class Writer:
    """One output format. ``render(report)`` gives the text and the run's exit code
    (Monitoring Plugins 0-3 unless the format's readers expect otherwise)."""

    name: str
    description: str
    render: Callable[[RunReport], tuple[str, int]]
    source: str = ""


def check_writer(writer: Writer) -> list[str]:
    problems = []
    if not writer.name or not writer.name.replace("-", "").isalnum() or not writer.name.islower():
        problems.append("name must be one lower-case word, like 'json'")
    if writer.name in ("table", "console"):
        problems.append(f"{writer.name!r} is the terminal table's name")
    if not writer.description.strip():
        problems.append("description is empty")
    if not callable(writer.render):
        problems.append("render is not callable")
    return problems


def _json(report: RunReport) -> tuple[str, int]:
    from rota.report.jsonout import render_json

    return render_json(report), report.status.exit_code


def _nagios(report: RunReport) -> tuple[str, int]:
    from rota.report.nagios import render_nagios

    return render_nagios(report)


def _prometheus(report: RunReport) -> tuple[str, int]:
    from rota.report.common import nothing_ran
    from rota.report.prometheus import render_prometheus

    # A scrape of a run that ran nothing is no evidence that all is well.
    code = ExitCode.UNKNOWN if nothing_ran(report) else report.status.exit_code
    return render_prometheus(report), int(code)


def _markdown(report: RunReport) -> tuple[str, int]:
    from rota.report.markdown import render_markdown

    return render_markdown(report), report.status.exit_code


def _html(report: RunReport) -> tuple[str, int]:
    from rota.report.markdown import render_html

    return render_html(report), report.status.exit_code


def _sarif(report: RunReport) -> tuple[str, int]:
    from rota.report.sarif import render_sarif

    return render_sarif(report), report.status.exit_code


BUILTIN = (
    Writer("json", "The whole report as one JSON document (what the dashboard reads).", _json),
    Writer("nagios", "One status line with perfdata; exit 0/1/2/3 (Nagios, Icinga).", _nagios),
    Writer(
        "prometheus", "Prometheus text format, for node_exporter's textfile collector.", _prometheus
    ),
    Writer("markdown", "A Markdown report, findings with their evidence and remedies.", _markdown),
    Writer("html", "The Markdown report as one self-contained HTML page.", _html),
    Writer("sarif", "SARIF 2.1.0 for code scanning: rules, results, lockfile locations.", _sarif),
)


def register(registry: Registry[Writer]) -> None:
    """Entry point ``rota.writers: builtin``: rota's own output formats."""
    for writer in BUILTIN:
        registry.add(writer)


__all__ = ["BUILTIN", "Writer", "check_writer", "register"]
