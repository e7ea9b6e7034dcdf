"""security.dependencies: the sandbox's real Node app audited against a local OSV / npm
server, an unreachable source, a short answer and an offline export."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from advisories_server import SANDBOX_NODE, AdvisoryServer, advisory_server, closed_port, osv_export
from rota.model import Finding, Severity, TaskOutcome
from rota.tasks.security.deps import dependencies
from rota.testing import findings, run_task

LOCKFILE = str(SANDBOX_NODE / "package-lock.json")


@pytest.fixture
def server() -> Iterator[AdvisoryServer]:
    with advisory_server() as s:
        yield s


def config(projects: list[Path | str], **keys: Any) -> str:
    lines = ["[security]", f"projects = {json.dumps([str(p) for p in projects])}"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def vulnerable(outcome: TaskOutcome, package: str) -> dict[str, Finding]:
    return {
        f.evidence["id"]: f
        for f in findings(outcome, "security.deps.vulnerable")
        if f.evidence["package"] == package
    }


@pytest.mark.parametrize("source", ["osv", "npm"])
def test_it_finds_the_sandbox_apps_pinned_vulnerabilities(
    server: AdvisoryServer, source: str
) -> None:
    outcome = run_task(
        dependencies,
        config([SANDBOX_NODE], source=source, osv_url=server.url, npm_url=server.url),
    )
    assert outcome.error is None, outcome.error
    express = vulnerable(outcome, "express")
    assert set(express) == {"GHSA-rv95-896h-c2vc", "GHSA-qw6h-vgh9-j6wx"}
    redirect = express["GHSA-rv95-896h-c2vc"]
    assert redirect.evidence["production"] is True and redirect.evidence["direct"] is True
    assert redirect.evidence["fixed"] == "4.19.2"
    assert redirect.evidence["file"] == LOCKFILE
    assert redirect.evidence["paths"] == ["express"]
    assert redirect.severity is Severity.WARNING  # moderate, even in production
    assert "6.1" in redirect.message and "production, direct" in redirect.message
    assert "npm install express@^4.19.2" in redirect.remedy
    [body_parser] = vulnerable(outcome, "body-parser").values()
    assert body_parser.evidence["direct"] is False
    assert body_parser.evidence["paths"] == ["express > body-parser"]
    assert body_parser.severity is Severity.CRITICAL  # high and in production
    assert "overrides" in body_parser.remedy and "express" in body_parser.remedy
    [regexp] = vulnerable(outcome, "path-to-regexp").values()
    assert regexp.evidence["fixed"] == "0.1.10"
    assert outcome.status is Severity.CRITICAL
    assert not findings(outcome, "security.deps.clean")
    assert not findings(outcome, "security.deps.unaudited")


def test_the_osv_source_gives_aliases_and_the_vector(server: AdvisoryServer) -> None:
    outcome = run_task(dependencies, config([SANDBOX_NODE], osv_url=server.url))
    redirect = vulnerable(outcome, "express")["GHSA-rv95-896h-c2vc"]
    assert redirect.evidence["aliases"] == ["CVE-2024-29041"]
    assert redirect.evidence["cvss_vector"] == "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"
    assert redirect.evidence["affected"] == "<4.19.2"


def test_a_clean_project_is_clean_with_the_count(server: AdvisoryServer, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("requests==2.32.3\nurllib3==2.2.3\n")
    outcome = run_task(dependencies, config([tmp_path], osv_url=server.url))
    [clean] = findings(outcome, "security.deps.clean")
    assert clean.severity is Severity.OK
    assert clean.evidence["audited"] == 2
    assert outcome.status is Severity.OK


def test_a_dev_dependencys_advisory_is_a_warning(server: AdvisoryServer, tmp_path: Path) -> None:
    (tmp_path / "requirements-dev.txt").write_text("jinja2==3.1.2\n")
    (tmp_path / "requirements.txt").write_text("requests==2.31.0\n")
    outcome = run_task(dependencies, config([tmp_path], osv_url=server.url))
    [jinja] = vulnerable(outcome, "jinja2").values()
    assert jinja.evidence["production"] is False and jinja.severity is Severity.WARNING
    assert "jinja2>=3.1.3" in jinja.remedy
    [requests] = vulnerable(outcome, "requests").values()
    assert requests.evidence["aliases"] == ["CVE-2024-35195"]


def test_an_unreachable_source_is_unknown_never_clean() -> None:
    url = closed_port()
    outcome = run_task(dependencies, config([SANDBOX_NODE], osv_url=url, timeout="2s"))
    [unaudited] = findings(outcome, "security.deps.unaudited")
    assert unaudited.severity is Severity.UNKNOWN
    assert f"could not reach {url}: " in unaudited.message
    assert unaudited.evidence["file"] == LOCKFILE
    assert "express@4.17.1" in unaudited.evidence["packages"]
    assert not findings(outcome, "security.deps.clean")
    assert outcome.status is Severity.UNKNOWN


def test_an_empty_answer_is_unaudited_not_clean(server: AdvisoryServer) -> None:
    server.mode = "empty"
    outcome = run_task(dependencies, config([SANDBOX_NODE], osv_url=server.url))
    [unaudited] = findings(outcome, "security.deps.unaudited")
    assert "0 results for 109 queries" in unaudited.message
    assert outcome.status is Severity.UNKNOWN


def test_it_works_offline_from_an_osv_export(tmp_path: Path) -> None:
    export = osv_export(tmp_path / "osv")
    outcome = run_task(
        dependencies, config([SANDBOX_NODE], source="osv-export", osv_export=str(export))
    )
    assert set(vulnerable(outcome, "express")) == {"GHSA-rv95-896h-c2vc", "GHSA-qw6h-vgh9-j6wx"}
    assert not findings(outcome, "security.deps.unaudited")


def test_unreadable_lockfiles_and_unpinned_lines_are_unaudited(
    server: AdvisoryServer, tmp_path: Path
) -> None:
    broken, loose, empty = tmp_path / "broken", tmp_path / "loose", tmp_path / "empty"
    for d in (broken, loose, empty):
        d.mkdir()
    (broken / "package-lock.json").write_text('{"lockfileVersion": 3, "packages": ')
    (loose / "requirements.txt").write_text("requests==2.32.3\nflask>=2\n")
    outcome = run_task(
        dependencies, config([broken, loose, empty, tmp_path / "gone"], osv_url=server.url)
    )
    messages = [f.message for f in findings(outcome, "security.deps.unaudited")]
    assert any("not valid JSON" in m for m in messages)
    assert any("flask" in m and "not pinned with ==" in m for m in messages)
    assert any(m.startswith(f"not audited: no lockfile in {empty}") for m in messages)
    assert any("gone is not a directory" in m for m in messages)
    # The pinned package of the loose file was audited, but the file is not called clean.
    assert not findings(outcome, "security.deps.clean")


def test_it_notes_a_fix_that_is_a_new_major(server: AdvisoryServer, tmp_path: Path) -> None:
    shutil.copy(SANDBOX_NODE / "package-lock.json", tmp_path / "package-lock.json")
    lock = json.loads((tmp_path / "package-lock.json").read_text())
    lock["packages"]["node_modules/path-to-regexp"]["version"] = "0.1.7"
    (tmp_path / "package-lock.json").write_text(json.dumps(lock))
    from advisories_server import NPM_ADVISORIES

    NPM_ADVISORIES["path-to-regexp"][0]["vulnerable_versions"] = "<1.0.0"
    try:
        outcome = run_task(dependencies, config([tmp_path], source="npm", npm_url=server.url))
    finally:
        NPM_ADVISORIES["path-to-regexp"][0]["vulnerable_versions"] = "<0.1.10"
    [major] = findings(outcome, "security.deps.outdated_major")
    assert major.severity is Severity.OK and major.evidence["fixed"] == "1.0.0"


def test_rota_run_exits_3_when_the_source_is_unreachable(rota: Any, tmp_path: Path) -> None:
    project = tmp_path / "node"
    project.mkdir()
    shutil.copy(SANDBOX_NODE / "package-lock.json", project / "package-lock.json")
    cfg = tmp_path / "rota.toml"
    url = closed_port()
    cfg.write_text(
        f'[history]\nurl = "sqlite:///{tmp_path / "h.db"}"\n'
        f'[security]\nprojects = ["node"]\nosv_url = "{url}"\ntimeout = "2s"\n'
    )
    r = rota("-c", str(cfg), "run", "security.dependencies", "--format", "json")
    assert r.code == 3, r.out + r.err
    [task] = json.loads(r.out)["tasks"]
    assert task["status"] == "unknown"
    assert f"could not reach {url}" in task["summary"]
    sarif = rota("-c", str(cfg), "run", "security.dependencies", "--format", "sarif")
    assert sarif.code == 3
    [result] = json.loads(sarif.out)["runs"][0]["results"]
    assert result["level"] == "error" and result["ruleId"] == "security.deps.unaudited"
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "node/package-lock.json"
