"""The Nagios writer: a run as a Monitoring Plugins check result.

Output follows https://www.monitoring-plugins.org/doc/guidelines.html::

    ROTA CRITICAL - 1 critical, 1 warning: db.vacuum: public.messages is 41.7% dead | <perf>
    [critical] db.vacuum: public.messages is 41.7% dead rows (public.messages)
    [warning] logs.analyze: 312 errors today (/var/log/rylie/app.log)
    | db.vacuum.duration=12.4s;;;0 logs.analyze.duration=3.1s;;;0

where ``<perf>`` is one item per metric, such as
``db.vacuum.dead_percent[table:public.messages]=41.7%`` (``task.metric[label:value]``).

The first line carries the state, a summary and the metrics as perfdata; then one long-output
line per non-ok finding; the last line is more perfdata, one duration per task, kept off the
first line so that it stays short however many tasks ran (Nagios and Icinga both read
perfdata after a ``|`` in the long output). The exit code is the run's worst state, and
``UNKNOWN`` (3) when nothing ran: ``ROTA UNKNOWN - no task ran (13 skipped)``.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from rota.model import Metric, RunReport, Severity
from rota.report.common import (
    counts_text,
    is_skipped,
    nothing_ran,
    problem_findings,
    worst_task,
)
from rota.text import one_line

SERVICE = "ROTA"

# Metric unit → Monitoring Plugins UOM. Units not listed get no UOM (a plain number).
UOM = {
    "s": "s",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "ms": "ms",
    "millisecond": "ms",
    "milliseconds": "ms",
    "us": "us",
    "µs": "us",
    "microsecond": "us",
    "microseconds": "us",
    "%": "%",
    "percent": "%",
    "pct": "%",
    "b": "B",
    "byte": "B",
    "bytes": "B",
    "kb": "KB",
    "mb": "MB",
    "gb": "GB",
    "tb": "TB",
    "c": "c",
    "counter": "c",
    "total": "c",
    # "count" is a gauge (connections now, errors today): a plain number, not "c", which
    # graphers treat as an ever-increasing counter and turn into a rate.
    "count": "",
}

# Characters that force quoting: anything outside a conservative bare-label set.
_BARE_LABEL = re.compile(r"^[A-Za-z0-9_.:/\[\],-]+$")


def render_nagios(report: RunReport) -> tuple[str, int]:
    """The check result text (ends with a newline) and its exit code (0, 1, 2 or 3)."""
    status = Severity.UNKNOWN if nothing_ran(report) else report.status
    first = f"{SERVICE} {status.value.upper()} - {_summary(report)}"
    perf = [_metric_perfdata(t.task_id, m) for t in report.tasks for m in t.metrics]
    if perf:
        first += " | " + " ".join(perf)
    lines = [first, *_long_output(report)]
    # A skipped task has no duration: "U" keeps its graph a gap instead of a false zero.
    durations = [
        perfdata(f"{t.task_id}.duration", None if is_skipped(t) else t.duration_s, "s", min_=0)
        for t in report.tasks
    ]
    if durations:
        lines.append("| " + " ".join(durations))
    return "\n".join(lines) + "\n", status.exit_code


def _long_output(report: RunReport) -> list[str]:
    """One line per non-ok finding, task error and skipped task; worst first, then run order."""
    ranked: list[tuple[int, str]] = []
    for outcome in report.tasks:
        if outcome.error:
            ranked.append((Severity.UNKNOWN.rank, f"[unknown] {outcome.task_id}: {outcome.error}"))
        elif is_skipped(outcome):
            ranked.append((-1, f"[skipped] {outcome.task_id}: {outcome.skip_reason}"))
        for f in problem_findings(outcome):
            line = f"[{f.severity.value}] {outcome.task_id}: {f.message}"
            ranked.append((f.severity.rank, line + (f" ({f.subject})" if f.subject else "")))
    ranked.sort(key=lambda pair: -pair[0])  # stable: run order among equals
    return [_text(line) for _, line in ranked]


def _summary(report: RunReport) -> str:
    if not report.tasks:
        return "no task ran"
    if nothing_ran(report):
        return f"no task ran ({len(report.tasks)} skipped)"
    worst = worst_task(report)
    if worst is None:
        skipped = sum(1 for t in report.tasks if is_skipped(t))
        n = len(report.tasks) - skipped
        text = f"{n} task ok" if n == 1 else f"{n} tasks ok"
        return text + (f", {skipped} skipped" if skipped else "")
    return _text(f"{counts_text(report)}: {worst.task_id}: {one_line(worst.summary, 200)}")


def _text(s: str) -> str:
    # "|" starts perfdata and a newline ends the line: neither may appear in plugin text.
    return one_line(s).replace("|", "/")


def _metric_perfdata(task_id: str, metric: Metric) -> str:
    name = metric.name
    if not (name == task_id or name.startswith(task_id + ".")):
        name = f"{task_id}.{name}"
    if metric.labels:
        folded = ",".join(f"{k}:{v}" for k, v in sorted(metric.labels.items()))
        name += f"[{folded}]"
    return perfdata(name, metric.value, uom(metric.unit))


def uom(unit: str) -> str:
    """The UOM for a metric unit, or ``""`` for a plain number."""
    if unit in ("B", "KB", "MB", "GB", "TB", "s", "ms", "us", "%", "c"):
        return unit
    return UOM.get(unit.strip().lower(), "")


def perfdata(
    label: str,
    value: float | None,
    unit: str = "",
    *,
    warn: str = "",
    crit: str = "",
    min_: float | None = None,
    max_: float | None = None,
) -> str:
    """One ``'label'=value[UOM];[warn];[crit];[min];[max]`` item, trailing ``;`` dropped."""
    fields = [
        warn,
        crit,
        "" if min_ is None else number(min_),
        "" if max_ is None else number(max_),
    ]
    while fields and not fields[-1]:
        fields.pop()
    text = f"{quote_label(label)}={number(value)}{unit if _finite(value) else ''}"
    return ";".join([text, *fields])


def quote_label(label: str) -> str:
    """A label as the guidelines allow it: no ``=``, quoted when needed, ``'`` doubled."""
    # "=" ends a label and "|" or whitespace would end the perfdata item or line.
    clean = re.sub(r"\s+", " ", label.replace("=", "_").replace("|", "_")).strip() or "value"
    if _BARE_LABEL.match(clean):
        return clean
    return "'" + clean.replace("'", "''") + "'"


def number(value: float | int | Decimal | None) -> str:
    """A value in the class ``[-0-9.]``: no exponent, no trailing zeros; ``U`` when unknown."""
    if not _finite(value):
        return "U"
    assert value is not None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    d = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _finite(value: float | int | Decimal | None) -> bool:
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, Decimal):
        return value.is_finite()
    return math.isfinite(value)
