"""``rota.report.render``: one entry point for every file format, cheap to import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rota.errors import UsageError
from rota.report import FORMATS, render
from samples import healthy_report, weekly_report


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
    with pytest.raises(UsageError, match="unknown report format 'yaml'; choose one of json"):
        render(weekly_report(), "yaml")


def test_importing_it_loads_neither_rich_nor_any_writer() -> None:
    code = (
        "import sys, rota.report; "
        "print(sorted(m for m in sys.modules if m == 'rich' or m.startswith('rota.report.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
