"""Output writers: each registered format renders a report with the run's exit code."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rota.app import App
from rota.errors import RegistryError, UsageError
from rota.model import RunReport
from rota.report import BUILTIN, Writer
from samples import healthy_report, weekly_report

FORMATS = [w.name for w in BUILTIN]


def render(report: RunReport, fmt: str) -> tuple[str, int]:
    return App().writers.get(fmt).render(report)


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_renders_every_format_with_the_runs_exit_code(fmt: str) -> None:
    text, code = render(weekly_report(), fmt)
    assert code == 2  # critical
    assert "public.messages" in text
    assert render(healthy_report(), fmt)[1] == 0


def test_it_renders_json_that_parses_back_to_the_reports_dict() -> None:
    text, _ = render(healthy_report(), "json")
    assert json.loads(text) == healthy_report().to_dict()


def test_it_refuses_an_unknown_format_with_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no output format 'yaml' .known: json, nagios"):
        render(weekly_report(), "yaml")


def test_it_refuses_a_writer_that_would_shadow_the_terminal_table() -> None:
    app = App(plugins=False)
    table = Writer("table", "mine", lambda report: ("", 0))

    with pytest.raises(RegistryError, match="'table' is the terminal table's name"):
        app.load("rota.writers", lambda r: r.add(table), source="mine")


def test_importing_it_loads_neither_rich_nor_any_writer() -> None:
    code = (
        "import sys, rota.report; "
        "print(sorted(m for m in sys.modules if m == 'rich' or m.startswith('rota.report.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
