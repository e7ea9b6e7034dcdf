"""The SARIF writer: the parts of the SARIF 2.1.0 schema code-scanning tools rely on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rota import __version__
from rota.app import App
from rota.model import Finding, Severity
from rota.report.sarif import SCHEMA, render_sarif
from samples import healthy_report, report_with, weekly_report

LEVELS = {"none", "note", "warning", "error"}


def assert_valid_sarif(doc: dict[str, Any]) -> None:
    """The schema's required properties and enums for what rota writes (sarifLog, run,
    tool, toolComponent, reportingDescriptor, result, message, location)."""
    assert doc["version"] == "2.1.0"
    assert doc["$schema"] == SCHEMA
    assert isinstance(doc["runs"], list) and len(doc["runs"]) == 1
    run = doc["runs"][0]
    driver = run["tool"]["driver"]
    assert isinstance(driver["name"], str) and driver["name"]
    rule_ids = [r["id"] for r in driver.get("rules", [])]
    assert len(rule_ids) == len(set(rule_ids)), "rule ids must be unique"
    for rule in driver.get("rules", []):
        assert isinstance(rule["id"], str)
        for key in ("shortDescription", "help"):
            if key in rule:
                assert isinstance(rule[key]["text"], str)
    for inv in run.get("invocations", []):
        assert isinstance(inv["executionSuccessful"], bool)
    for result in run["results"]:
        assert isinstance(result["message"]["text"], str) and result["message"]["text"]
        assert result["level"] in LEVELS
        assert result["ruleId"] in rule_ids
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        for loc in result.get("locations", []):
            physical = loc["physicalLocation"]
            assert isinstance(physical["artifactLocation"]["uri"], str)
            if "region" in physical:
                assert physical["region"]["startLine"] >= 1


def sarif(report: Any, cwd: Path | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(render_sarif(report, cwd))
    assert_valid_sarif(doc)
    return doc


def test_it_writes_one_run_by_rota_with_its_version() -> None:
    driver = sarif(weekly_report())["runs"][0]["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("rota", __version__)


def test_results_are_the_findings_that_are_not_ok_with_their_levels() -> None:
    run = sarif(weekly_report())["runs"][0]
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert "db.connections.active" not in levels  # ok findings are not results
    assert "error" in levels.values() and "warning" in levels.values()


def test_a_task_that_did_not_finish_is_a_result_not_a_silence() -> None:
    run = sarif(weekly_report())["runs"][0]
    [error] = [r for r in run["results"] if r["ruleId"] == "rota.task.error"]
    assert error["level"] == "error"
    assert "security.keys did not finish" in error["message"]["text"]
    assert run["invocations"][0]["executionSuccessful"] is False


def test_it_locates_a_finding_in_the_file_its_evidence_names(tmp_path: Path) -> None:
    lock = tmp_path / "app" / "package-lock.json"
    report = report_with(
        Finding(
            "security.deps.vulnerable",
            Severity.CRITICAL,
            "body-parser 1.19.0: GHSA-qwcr-r2fm-qrc7",
            "body-parser@1.19.0",
            {"file": str(lock)},
            "Upgrade express.",
        ),
        Finding(
            "security.deps.unaudited",
            Severity.UNKNOWN,
            "flask not pinned",
            "flask",
            {"file": "/elsewhere/requirements.txt", "line": 3},
        ),
        task_id="security.dependencies",
    )
    run = sarif(report, cwd=tmp_path)["runs"][0]
    vuln, unaudited = run["results"]
    assert vuln["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "app/package-lock.json"
    )
    assert vuln["level"] == "error" and unaudited["level"] == "error"
    outside = unaudited["locations"][0]["physicalLocation"]
    assert outside["artifactLocation"]["uri"] == "file:///elsewhere/requirements.txt"
    assert outside["region"] == {"startLine": 3}
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["security.deps.vulnerable"]["help"]["text"] == "Upgrade express."
    assert set(rules) == {"security.deps.vulnerable", "security.deps.unaudited"}


def test_it_is_a_registered_format_with_the_runs_exit_code() -> None:
    writer = App().writers.get("sarif")
    assert writer.render(weekly_report())[1] == 2
    text, code = writer.render(healthy_report())
    assert code == 0 and json.loads(text)["runs"][0]["results"] == []
