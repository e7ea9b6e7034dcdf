"""SARIF 2.1.0: a run report for code-scanning tools (GitHub code scanning, GitLab, IDEs).

One SARIF run, tool ``rota``. Rules are the finding codes seen, with the remedy as help;
results are the findings that are not ok, plus one per task that did not finish (an error
or timeout is no evidence that all is well, so it must not vanish from the scan). Levels:
critical and unknown are ``error`` (a gate must not pass what could not be checked),
warning is ``warning``. A finding whose evidence names a ``file`` is located there, as a
URI relative to the working directory when it lies below it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rota import __version__
from rota.model import Finding, RunReport, Severity, TaskOutcome

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
VERSION = "2.1.0"
INFORMATION_URI = "https://github.com/rota/rota"
LEVELS = {
    Severity.CRITICAL: "error",
    Severity.UNKNOWN: "error",
    Severity.WARNING: "warning",
    Severity.OK: "note",
}
TASK_ERROR = "rota.task.error"


def render_sarif(report: RunReport, cwd: Path | None = None) -> str:
    base = (cwd or Path.cwd()).resolve()
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for outcome in report.tasks:
        for f in outcome.findings:
            if f.severity is Severity.OK:
                continue
            rule = rules.setdefault(f.code, _rule(f.code, outcome.task_id, f.remedy))
            if f.remedy and not rule["help"]["text"]:
                rule["help"] = {"text": f.remedy}
            results.append(_result(f, outcome.task_id, base))
        if outcome.error:
            rules.setdefault(
                TASK_ERROR,
                _rule(TASK_ERROR, "", "Read the reason, fix what stopped the task, run it again."),
            )
            results.append(_task_error(outcome))
    index = {code: i for i, code in enumerate(rules)}
    for r in results:
        r["ruleIndex"] = index[r["ruleId"]]
    doc = {
        "$schema": SCHEMA,
        "version": VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "rota",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": list(rules.values()),
                    }
                },
                "automationDetails": {"id": f"rota/{report.target}/{report.mode}/"},
                "invocations": [
                    {
                        "executionSuccessful": not any(t.error for t in report.tasks),
                        "startTimeUtc": _utc(report.started_at),
                        **({"endTimeUtc": _utc(report.finished_at)} if report.finished_at else {}),
                    }
                ],
                "results": results,
                "properties": {"target": report.target, "status": report.status.value},
            }
        ],
    }
    return json.dumps(doc, indent=2, default=str)


def _rule(code: str, task_id: str, remedy: str) -> dict[str, Any]:
    return {
        "id": code,
        "name": code.replace(".", "_"),
        "shortDescription": {"text": code},
        "help": {"text": remedy},
        "properties": {"task": task_id} if task_id else {},
    }


def _result(f: Finding, task_id: str, base: Path) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": f.code,
        "level": LEVELS[f.severity],
        "message": {"text": f.message},
        "properties": {"severity": f.severity.value, "task": task_id, "subject": f.subject},
    }
    file = f.evidence.get("file")
    if isinstance(file, str) and file:
        location: dict[str, Any] = {"artifactLocation": {"uri": _uri(file, base)}}
        line = f.evidence.get("line")
        if isinstance(line, int) and line > 0:
            location["region"] = {"startLine": line}
        result["locations"] = [{"physicalLocation": location}]
    # Stable across runs, so a scanner tracks one finding instead of a new one each month.
    result["partialFingerprints"] = {"rotaFinding/v1": f"{f.code}:{f.subject}"}
    return result


def _task_error(outcome: TaskOutcome) -> dict[str, Any]:
    return {
        "ruleId": TASK_ERROR,
        "level": "error",
        "message": {"text": f"{outcome.task_id} did not finish: {outcome.error}"},
        "properties": {"severity": Severity.UNKNOWN.value, "task": outcome.task_id},
        "partialFingerprints": {"rotaFinding/v1": f"{TASK_ERROR}:{outcome.task_id}"},
    }


def _uri(file: str, base: Path) -> str:
    path = Path(file)
    if not path.is_absolute():
        return path.as_posix()
    resolved = path.resolve()
    if resolved.is_relative_to(base):
        return resolved.relative_to(base).as_posix()
    return resolved.as_uri()


def _utc(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
