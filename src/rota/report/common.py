"""Wording and number formatting shared by the human-facing writers (console, Markdown, HTML).

Kept free of Rich so that the Markdown and HTML writers, and ``import rota.report``, stay cheap.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rota.model import RunReport, Severity, Step, StepStatus, TaskOutcome
from rota.text import one_line
from rota.units import format_duration, format_size

# Worst first: the order counts and sections are listed in.
SEVERITY_ORDER = (Severity.CRITICAL, Severity.UNKNOWN, Severity.WARNING, Severity.OK)

# Evidence keys whose value is a query or command: shown as a code block, never in a table.
CODE_KEYS = {"query": "sql", "sql": "sql", "command": "sh", "cmd": "sh", "shell": "sh"}


def task_state(outcome: TaskOutcome) -> str:
    """What a person should read in a status column: the severity, or ``skipped``.

    A task skipped on purpose (not configured, outside its window) is ``skipped``, and like
    ``RunReport.status`` the run's state ignores it; one skipped by an error stays ``unknown``.
    """
    if is_skipped(outcome):
        return "skipped"
    return outcome.status.value


def is_skipped(outcome: TaskOutcome) -> bool:
    return outcome.skipped and outcome.error is None


def nothing_ran(report: RunReport) -> bool:
    """True when no task of the run ran (none chosen, or every one skipped on purpose).

    A monitoring check that checked nothing cannot vouch that all is well: the Nagios and
    Prometheus writers report it as ``unknown`` (exit 3), not ``ok``.
    """
    return all(is_skipped(t) for t in report.tasks)


def status_counts(report: RunReport) -> dict[str, int]:
    """Tasks per state, worst first, leaving out states no task is in."""
    counts: dict[str, int] = {}
    for state in [*(s.value for s in SEVERITY_ORDER), "skipped"]:
        n = sum(1 for t in report.tasks if task_state(t) == state)
        if n:
            counts[state] = n
    return counts


def counts_text(report: RunReport) -> str:
    """``1 critical, 1 warning, 3 ok`` (``no tasks`` for an empty run)."""
    counts = status_counts(report)
    if not counts:
        return "no tasks"
    return ", ".join(f"{n} {state}" for state, n in counts.items())


def run_duration_s(report: RunReport) -> float:
    if report.finished_at is None:
        return sum(t.duration_s for t in report.tasks)
    return (report.finished_at - report.started_at).total_seconds()


def worst_task(report: RunReport) -> TaskOutcome | None:
    """The first task among those in the worst state (``None`` when every task is ok)."""
    bad = [t for t in report.tasks if t.status is not Severity.OK and not is_skipped(t)]
    if not bad:
        return None
    return max(bad, key=lambda t: t.status.rank)  # max keeps the first of equals


def problem_findings(outcome: TaskOutcome) -> list[Any]:
    """Non-ok findings, worst first, keeping the task's order among equals."""
    bad = [f for f in outcome.findings if f.severity is not Severity.OK]
    return sorted(bad, key=lambda f: -f.severity.rank)


def fmt_duration(seconds: float | None) -> str:
    """``0.4s``, ``12s``, ``2m 05s``: rota's one way of showing a duration."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    return format_duration(seconds)


def fmt_bytes(n: float) -> str:
    """Binary units, one decimal: ``2.1 GiB``."""
    return format_size(n)


def fmt_number(value: Any) -> str:
    """A number as a person reads it: no exponent, at most three decimals."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        f = float(value)
        if not math.isfinite(f):
            return str(f)
        text = format(Decimal(repr(round(f, 3))), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


def fmt_value(key: str, value: Any) -> str:
    """One evidence value on one line, with a human size for byte counts."""
    if value is None:
        return "-"
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        text = fmt_number(value)
        k = key.lower()
        if (k == "bytes" or k.endswith(("_bytes", "_size", "size"))) and abs(float(value)) >= 1024:
            text += f" ({fmt_bytes(float(value))})"
        elif k.endswith(("percent", "_pct", "ratio_pct")):
            text += "%"
        return text
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple | set | frozenset):
        return compact_json(value)
    from rota.report.jsonout import json_default

    plain = json_default(value)  # datetimes, paths, UUIDs... as their usual text
    return plain if isinstance(plain, str) else compact_json(plain)


def compact_json(value: Any) -> str:
    from rota.report.jsonout import clean, json_default

    return json.dumps(clean(value), ensure_ascii=False, default=json_default)


def pretty_json(value: Any) -> str:
    """Indented JSON, but one line per item of a list or mapping when the item fits."""
    from rota.report.jsonout import clean, json_default

    value = clean(value)
    if isinstance(value, list):
        items = [compact_json(v) for v in value]
        if all(len(i) <= 100 for i in items):
            return "[\n" + ",\n".join(f"  {i}" for i in items) + "\n]"
    if isinstance(value, dict):
        pairs = [
            f"{json.dumps(k, ensure_ascii=False)}: {compact_json(v)}" for k, v in value.items()
        ]
        if all(len(p) <= 100 for p in pairs):
            return "{\n" + ",\n".join(f"  {p}" for p in pairs) + "\n}"
    return json.dumps(value, ensure_ascii=False, indent=2, default=json_default)


@dataclass(frozen=True)
class Block:
    """A piece of evidence too long or too structured for a table cell."""

    key: str
    lang: str  # "sql", "sh", "json" or "" (plain text)
    text: str


def split_evidence(evidence: dict[str, Any]) -> tuple[list[tuple[str, str]], list[Block]]:
    """Evidence as (key, one-line value) rows plus code blocks (queries, commands, lists)."""
    rows: list[tuple[str, str]] = []
    blocks: list[Block] = []
    for key, value in evidence.items():
        k = str(key)
        if k.lower() in CODE_KEYS and isinstance(value, str):
            blocks.append(Block(k, CODE_KEYS[k.lower()], value.strip()))
        elif isinstance(value, str) and ("\n" in value or len(value) > 100):
            blocks.append(Block(k, "", value.rstrip()))
        elif isinstance(value, dict | list | tuple | set | frozenset):
            text = compact_json(value)
            if len(text) <= 80:
                rows.append((k, text))
            else:
                blocks.append(Block(k, "json", pretty_json(value)))
        else:
            rows.append((k, fmt_value(k, value)))
    return rows, blocks


def step_code(step: Step) -> Block | None:
    """The SQL or command a step runs, if its detail names one."""
    for key in ("sql", "query", "command", "cmd"):
        value = step.detail.get(key)
        if isinstance(value, str) and value.strip():
            return Block(key, CODE_KEYS[key], value.strip())
        if isinstance(value, list | tuple) and value:
            return Block(key, "sh", " ".join(str(v) for v in value))
    return None


def step_text(step: Step) -> str:
    """A step in one line.

    Planned: ``would do: VACUUM FULL public.messages — 42% dead (lock: ACCESS EXCLUSIVE, ~2m)``;
    done or failed: ``done: ... (3.1s)``, ``failed: ... (0.2s): LockNotAvailable: ...``.
    """
    d = step.detail
    reason = str(d.get("reason") or "").strip()
    if step.status is StepStatus.PLANNED:
        extras = []
        lock = d.get("lock")
        if lock and lock != "none":
            extras.append(f"lock: {lock}")
        est = d.get("estimate_s")
        if isinstance(est, int | float) and not isinstance(est, bool):
            extras.append(f"~{fmt_duration(float(est))}")
        text = f"would do: {step.action}"
        if reason:
            text += f" — {reason}"
        if extras:
            text += f" ({', '.join(extras)})"
        return text
    label = {StepStatus.DONE: "done", StepStatus.FAILED: "failed", StepStatus.SKIPPED: "skipped"}
    text = f"{label[step.status]}: {step.action}"
    if step.status is not StepStatus.SKIPPED:
        text += f" ({fmt_duration(step.duration_s)})"
    if step.status is StepStatus.DONE and d.get("changed") is False:
        text += " — nothing to change"
    error = d.get("error")
    if error:
        text += f": {one_line(str(error))}"
    elif reason and step.status is StepStatus.SKIPPED:
        text += f" — {reason}"
    return text


def step_extras(step: Step) -> list[tuple[str, str]]:
    """Detail keys worth showing beside a step beyond the conventional ones."""
    skip = {"reason", "lock", "estimate_s", "sql", "query", "command", "cmd", "error", "changed"}
    return [(str(k), fmt_value(str(k), v)) for k, v in step.detail.items() if k not in skip]


def mode_note(report: RunReport) -> str:
    """What the mode meant for this run: ``nothing was changed; 2 planned steps need --apply``."""
    planned = sum(1 for t in report.tasks for s in t.steps if s.status is StepStatus.PLANNED)
    if report.mode == "check":
        note = "nothing was changed"
        if planned:
            note += f"; {planned} planned step{'s' if planned != 1 else ''} need --apply"
        return note
    changed = sum(1 for t in report.tasks if t.changed)
    failed = sum(1 for t in report.tasks for s in t.steps if s.status is StepStatus.FAILED)
    note = f"{changed} task{'s' if changed != 1 else ''} changed the target"
    if failed:
        note += f", {failed} step{'s' if failed != 1 else ''} failed"
    return note


def title_for(report: RunReport, title: str | None) -> str:
    return title or f"rota {report.mode} report: {report.target}"


def when(report: RunReport) -> str:
    """``2025-01-06 03:00:00+00:00`` — the run's start, as the JSON has it but with a space."""
    return report.started_at.isoformat(sep=" ", timespec="seconds")


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
