"""The Nagios writer, parsed back with the Monitoring Plugins guidelines' grammar."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from decimal import Decimal

import pytest

from rota.model import Finding, Metric, RunReport, Severity, TaskOutcome
from rota.report.nagios import number, perfdata, quote_label, render_nagios, uom
from samples import T0, healthy_report, report_with, weekly_report

# monitoring-plugins.org/doc/guidelines.html, "Performance data":
# 'label'=value[UOM];[warn];[crit];[min];[max] — label quoted when needed with '' for a quote
# and never an "=", value/min/max in [-0-9.] (or U for unknown value), warn/crit in the range
# format, UOM one of s ms us % B KB MB GB TB c or nothing.
LABEL = r"(?:'(?:[^'=]|'')+'|[^'=\s|]+)"
NUM = r"-?(?:\d+(?:\.\d+)?|\.\d+)"
VALUE = rf"(?:{NUM}|U)"
UOM = r"(?:s|ms|us|%|B|KB|MB|GB|TB|c)?"
RANGE = rf"(?:@?(?:~|{NUM})?:?(?:{NUM})?)"
ITEM = rf"({LABEL})=({VALUE})({UOM})(?:;{RANGE}){{0,2}}(?:;(?:{NUM})?){{0,2}}"
PERF = re.compile(rf"{ITEM}(?= |$)")
PERFDATA = re.compile(rf"^{ITEM}(?: {ITEM})*$")
FIRST_LINE = re.compile(r"^ROTA (OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]+?)(?: \| (.+))?$")
LONG_LINE = re.compile(r"^\[(critical|unknown|warning|skipped)\] [a-z][a-z0-9_.]*: [^|]+$")


def parse(text: str) -> dict:
    """Split a check result into state, summary, perfdata {label: (value, uom)} and long lines."""
    assert text.endswith("\n")
    lines = text.rstrip("\n").split("\n")
    m = FIRST_LINE.match(lines[0])
    assert m, f"first line does not follow the guidelines: {lines[0]!r}"
    perf_texts = [m.group(3)] if m.group(3) else []
    long = []
    for line in lines[1:]:
        if line.startswith("| "):
            perf_texts.append(line[2:])
        else:
            assert LONG_LINE.match(line), f"long output line out of format: {line!r}"
            long.append(line)
    perf = {}
    for chunk in perf_texts:
        assert PERFDATA.match(chunk), f"perfdata does not follow the guidelines: {chunk!r}"
        for item in PERF.finditer(chunk):
            label, value, unit = item.groups()
            if label.startswith("'"):
                label = label[1:-1].replace("''", "'")
            perf[label] = (value, unit)
    return {"state": m.group(1), "summary": m.group(2), "perf": perf, "long": long}


def one(metric: Metric, task_id: str = "db.vacuum") -> dict:
    report = RunReport("production", "check", T0, T0 + timedelta(seconds=1))
    report.tasks.append(TaskOutcome(task_id, T0, T0, metrics=[metric]))
    return parse(render_nagios(report)[0])["perf"]


def test_it_reports_a_healthy_run_as_ok_with_a_task_count() -> None:
    text, code = render_nagios(healthy_report())
    out = parse(text)
    assert (out["state"], out["summary"], code) == ("OK", "2 tasks ok", 0)
    assert out["long"] == []


def test_it_reports_the_worst_state_the_counts_and_the_worst_tasks_summary() -> None:
    text, code = render_nagios(weekly_report())
    out = parse(text)
    assert out["state"] == "CRITICAL" and code == 2
    assert out["summary"] == (
        "1 critical, 1 unknown, 1 warning, 2 ok, 1 skipped: "
        "db.vacuum: public.messages is 41.7% dead rows (2.1 GiB) (+1 more)"
    )


def test_it_writes_one_long_output_line_per_problem_worst_first() -> None:
    out = parse(render_nagios(weekly_report())[0])
    assert out["long"] == [
        "[critical] db.vacuum: public.messages is 41.7% dead rows (2.1 GiB) (public.messages)",
        "[unknown] security.keys: TargetUnavailable: OpenAI admin API did not answer within 10s",
        "[warning] db.vacuum: public.conversations is 22.0% dead rows (public.conversations)",
        "[warning] logs.analyze: 312 errors today, 3.1× the 7-day average (/var/log/rylie/app.log)",
        "[skipped] backup.verify: outside the maintenance window (Sun 02:00-05:00)",
    ]


def test_it_turns_every_metric_into_perfdata_named_after_its_task() -> None:
    perf = parse(render_nagios(weekly_report())[0])["perf"]
    assert perf["db.vacuum.dead_percent[table:public.messages]"] == ("41.7", "%")
    assert perf["db.vacuum.table_bytes[table:public.messages]"] == ("2254857830", "B")
    assert perf["logs.analyze.latency_p95[route:/api/conversations/:id/messages]"] == ("840", "ms")
    assert perf["logs.analyze.errors_today"] == ("312", "")
    assert perf["db.connections.max_age"] == ("11520", "s")


def test_it_adds_each_tasks_duration_and_an_unknown_value_for_skipped_tasks() -> None:
    perf = parse(render_nagios(weekly_report())[0])["perf"]
    assert perf["db.vacuum.duration"] == ("12.4", "s")
    assert perf["backup.verify.duration"] == ("U", "")


def test_it_keeps_the_first_line_free_of_per_task_durations() -> None:
    first = render_nagios(weekly_report())[0].split("\n")[0]
    assert ".duration=" not in first


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("seconds", "s"),
        ("s", "s"),
        ("ms", "ms"),
        ("microseconds", "us"),
        ("bytes", "B"),
        ("MB", "MB"),
        ("percent", "%"),
        ("count", ""),
        ("counter", "c"),
        ("requests/s", ""),
        ("days", ""),
        ("", ""),
    ],
)
def test_it_maps_metric_units_to_the_guidelines_uoms(unit: str, expected: str) -> None:
    assert uom(unit) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e-7, "0.0000001"),
        (1e21, "1000000000000000000000"),
        (1234567.5, "1234567.5"),
        (12.0, "12"),
        (-0.0, "0"),
        (-3.25, "-3.25"),
        (7, "7"),
        (Decimal("2.50"), "2.5"),
        (Decimal("1E+3"), "1000"),
    ],
)
def test_it_never_writes_numbers_in_exponent_notation(value: float, text: str) -> None:
    assert number(value) == text


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_it_writes_u_without_a_unit_for_values_that_are_not_finite(value: float) -> None:
    assert one(Metric("ratio", value, "percent"))["db.vacuum.ratio"] == ("U", "")


def test_it_quotes_labels_that_need_it_and_doubles_quotes_inside() -> None:
    assert quote_label("db.vacuum.size") == "db.vacuum.size"
    assert quote_label("cache hit ratio") == "'cache hit ratio'"
    assert quote_label("owner's table") == "'owner''s table'"
    perf = one(Metric("size", 1, "bytes", {"table": "public.o'brien notes"}))
    assert perf["db.vacuum.size[table:public.o'brien notes]"] == ("1", "B")


def test_it_replaces_equals_signs_and_pipes_in_labels() -> None:
    label = quote_label("query=select|1")
    assert "=" not in label and "|" not in label
    perf = one(Metric("rows", 3, "", {"where": "id=1"}))
    assert perf == {"db.vacuum.rows[where:id_1]": ("3", ""), "db.vacuum.duration": ("0", "s")}


def test_it_does_not_repeat_the_task_id_already_in_a_metric_name() -> None:
    perf = one(Metric("db.vacuum.dead_percent", 5, "percent"))
    assert "db.vacuum.dead_percent" in perf
    assert not any(label.startswith("db.vacuum.db.vacuum") for label in perf)


def test_it_drops_trailing_empty_threshold_fields() -> None:
    assert perfdata("a", 1, "s") == "a=1s"
    assert perfdata("a", 1, "s", min_=0) == "a=1s;;;0"
    assert perfdata("a", 1, "%", warn="80", crit="90", min_=0, max_=100) == "a=1%;80;90;0;100"


def test_it_keeps_pipes_and_newlines_out_of_the_plugin_text() -> None:
    report = report_with(
        Finding("monitor.health.body", Severity.CRITICAL, "body was 'a|b'\nand more", "GET /|x")
    )
    text, code = render_nagios(report)
    out = parse(text)
    assert code == 2
    assert out["long"] == ["[critical] monitor.health: body was 'a/b' and more (GET //x)"]
    assert "|" not in out["summary"]


@pytest.mark.parametrize(
    ("severity", "state", "code"),
    [
        (Severity.OK, "OK", 0),
        (Severity.WARNING, "WARNING", 1),
        (Severity.CRITICAL, "CRITICAL", 2),
        (Severity.UNKNOWN, "UNKNOWN", 3),
    ],
)
def test_its_state_and_exit_code_follow_the_worst_severity(
    severity: Severity, state: str, code: int
) -> None:
    text, exit_code = render_nagios(report_with(Finding("x.y", severity, "message")))
    assert (parse(text)["state"], exit_code) == (state, code)


def test_it_reports_a_task_that_failed_as_unknown_with_its_error() -> None:
    report = RunReport("production", "check", T0, T0)
    report.tasks.append(TaskOutcome("security.tls", T0, T0, error="TimeoutError: 10s"))
    text, code = render_nagios(report)
    out = parse(text)
    assert (out["state"], code) == ("UNKNOWN", 3)
    assert out["long"] == ["[unknown] security.tls: TimeoutError: 10s"]


def test_it_reports_a_run_in_which_no_task_ran_as_unknown() -> None:
    text, code = render_nagios(RunReport("production", "check", T0, T0))
    assert (text, code) == ("ROTA UNKNOWN - no task ran\n", 3)


def test_it_reports_a_run_whose_tasks_were_all_skipped_as_unknown_not_ok() -> None:
    report = RunReport("production", "check", T0, T0)
    for task_id in ("db.vacuum", "backup.verify"):
        report.tasks.append(TaskOutcome(task_id, T0, T0, skip_reason="[database] url is not set"))
    text, code = render_nagios(report)
    assert code == 3
    assert text.splitlines()[0].startswith("ROTA UNKNOWN - no task ran (2 skipped)")
