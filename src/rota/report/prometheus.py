"""The Prometheus writer: a run in the text exposition format (version 0.0.4).

Meant for node_exporter's textfile collector (``rota run --due --format prometheus -o
/var/lib/node_exporter/textfile/rota.prom``; the file is replaced atomically), or any
scraper of a file. Per task:

    rota_task_status{task="backup.verify"} 0          # 0 ok, 1 warning, 2 critical, 3 unknown
    rota_task_duration_seconds{task="backup.verify"} 8.1
    rota_task_last_run_timestamp_seconds{task="backup.verify"} 1.7956e+09
    rota_task_findings{task="backup.verify",severity="warning"} 0

and each metric a task yields, named ``rota_<metric name>`` with its unit turned into the
base unit Prometheus names use (``ms`` → ``_seconds`` ÷ 1000, ``bytes`` → ``_bytes``,
``%`` → ``_percent``) and its labels plus ``task``. Names and label names are cleaned to
Prometheus' character set; label values escaped. A skipped task gets no duration sample
(a gap, not a false zero), like the Nagios writer's ``U``. A run in which no task ran
exits 3 (unknown), as the Nagios writer does: the file then says nothing is known.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from rota.model import RunReport, Severity
from rota.report.common import is_skipped

__all__ = ["render_prometheus"]

# unit → (name suffix, factor to the base unit)
_UNITS: dict[str, tuple[str, float]] = {
    "s": ("seconds", 1.0),
    "sec": ("seconds", 1.0),
    "secs": ("seconds", 1.0),
    "second": ("seconds", 1.0),
    "seconds": ("seconds", 1.0),
    "ms": ("seconds", 1e-3),
    "millisecond": ("seconds", 1e-3),
    "milliseconds": ("seconds", 1e-3),
    "us": ("seconds", 1e-6),
    "µs": ("seconds", 1e-6),
    "b": ("bytes", 1.0),
    "byte": ("bytes", 1.0),
    "bytes": ("bytes", 1.0),
    "kb": ("bytes", 1e3),
    "mb": ("bytes", 1e6),
    "gb": ("bytes", 1e9),
    "tb": ("bytes", 1e12),
    "%": ("percent", 1.0),
    "percent": ("percent", 1.0),
    "pct": ("percent", 1.0),
    "ratio": ("ratio", 1.0),
}
_SEVERITIES = (Severity.OK, Severity.WARNING, Severity.CRITICAL, Severity.UNKNOWN)
_BAD_NAME = re.compile(r"[^a-zA-Z0-9_:]")
_BAD_LABEL = re.compile(r"[^a-zA-Z0-9_]")

_HELP = {
    "rota_task_status": "Worst finding of the task's run: 0 ok, 1 warning, 2 critical, 3 unknown.",
    "rota_task_duration_seconds": "How long the task's run took.",
    "rota_task_last_run_timestamp_seconds": "When the task's run finished (Unix time).",
    "rota_task_findings": "Findings of the task's run, by severity.",
}


def render_prometheus(report: RunReport) -> str:
    """The exposition text (ends with a newline); exit codes stay the CLI's business."""
    families: dict[str, tuple[str, str, dict[tuple[tuple[str, str], ...], float]]] = {}

    def add(name: str, kind: str, help_: str, labels: dict[str, str], value: float) -> None:
        family = families.setdefault(name, (kind, help_, {}))
        family[2][tuple(sorted(labels.items()))] = value  # the same series twice: the last wins

    def own(name: str, labels: dict[str, str], value: float) -> None:
        add(name, "gauge", _HELP[name], labels, value)

    for t in report.tasks:
        task = {"task": t.task_id}
        own("rota_task_status", task, t.status.exit_code)
        if not is_skipped(t):
            own("rota_task_duration_seconds", task, t.duration_s)
        if t.finished_at is not None:
            own("rota_task_last_run_timestamp_seconds", task, t.finished_at.timestamp())
        for sev in _SEVERITIES:
            n = sum(1 for f in t.findings if f.severity is sev)
            own("rota_task_findings", {**task, "severity": sev.value}, n)
        for m in t.metrics:
            suffix, factor = _UNITS.get(m.unit.strip().lower(), ("", 1.0))
            name = metric_name(m.name, suffix)
            if name in _HELP:
                name = f"{name}_metric"  # a task's metric never shadows rota's own series
            labels = {label_name(k): str(v) for k, v in m.labels.items()} | task
            help_ = f"rota metric {m.name}" + (f" ({m.unit})" if m.unit else "")
            add(name, "gauge", help_, labels, m.value * factor)
    lines: list[str] = []
    for name, (kind, help_, samples) in families.items():
        lines.append(f"# HELP {name} {_escape_help(help_)}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(_samples(name, samples.items()))
    return "\n".join(lines) + "\n" if lines else ""


def metric_name(name: str, suffix: str = "") -> str:
    """``backup.restore_seconds`` + ``seconds`` → ``rota_backup_restore_seconds``."""
    base = _BAD_NAME.sub("_", name.strip()).strip("_") or "metric"
    if suffix and not base.endswith(f"_{suffix}"):
        base = f"{base}_{suffix}"
    return f"rota_{base}"


def label_name(name: str) -> str:
    clean = _BAD_LABEL.sub("_", name) or "label"
    if clean[0].isdigit():
        clean = f"_{clean}"
    return "label_task" if clean == "task" else clean  # ``task`` names the task


def _samples(name: str, items: Iterable[tuple[tuple[tuple[str, str], ...], float]]) -> list[str]:
    out = []
    for labels, value in items:
        body = ",".join(f'{k}="{_escape_value(v)}"' for k, v in labels)
        out.append(f"{name}{{{body}}} {_number(value)}")
    return out


def _number(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v))


def _escape_value(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n")
