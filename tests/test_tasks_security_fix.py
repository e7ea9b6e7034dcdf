"""security.dependencies --apply: "npm audit fix after testing" on a real git repository
holding the sandbox's Node app, against the local advisory server and the npm registry."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from advisories_server import SANDBOX_NODE, AdvisoryServer, advisory_server
from rota.model import Step, StepStatus, TaskOutcome
from rota.security.lockfiles import read_package_lock
from rota.security.semver import Version
from rota.tasks.security.deps import dependencies
from rota.testing import run_task

FILES = ("package.json", "package-lock.json")
TEST_SCRIPT = "node -e \"require('express'); require('body-parser')\""


@cache
def _registry_unreachable() -> str | None:
    if shutil.which("npm") is None or shutil.which("git") is None:
        return "npm or git is not installed"
    try:
        r = subprocess.run(
            ["npm", "view", "express", "version"], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        return "npm view express version timed out: the npm registry is unreachable"
    if r.returncode != 0:
        return f"npm view express version failed (no network to the npm registry): {r.stderr.strip()[:200]}"
    return None


@pytest.fixture
def npm_registry() -> None:
    reason = _registry_unreachable()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def server() -> Iterator[AdvisoryServer]:
    with advisory_server() as s:
        yield s


@pytest.fixture
def history(tmp_path: Path) -> Iterator[Any]:
    from rota.history import open_history

    h = open_history(f"sqlite:///{tmp_path}/state/history.db")
    yield h
    h.close()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository whose ``app`` directory is the sandbox's Node app, committed."""
    root = tmp_path / "repo"
    app = root / "app"
    app.mkdir(parents=True)
    package = json.loads((SANDBOX_NODE / "package.json").read_text())
    package["scripts"] = {"test": TEST_SCRIPT}
    (app / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    shutil.copy(SANDBOX_NODE / "package-lock.json", app / "package-lock.json")
    (root / ".gitignore").write_text("node_modules/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "dev@example.com")
    git(root, "config", "user.name", "Dev")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "app")
    return app


def config(project: Path, server: AdvisoryServer, **keys: Any) -> str:
    lines = ["[security]", f"projects = [{json.dumps(str(project))}]"]
    lines += [f"osv_url = {json.dumps(server.url)}"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def snapshot(project: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(project.iterdir()) if p.is_file()}


def fix_step(outcome: TaskOutcome) -> Step:
    [step] = [s for s in outcome.steps if s.action.startswith("npm audit fix")]
    return step


def branches(repo: Path) -> list[str]:
    return git(repo, "branch", "--format=%(refname:short)").split()


def worktrees(repo: Path) -> int:
    return git(repo, "worktree", "list", "--porcelain").count("worktree ")


def at_least(lock_text: str, name: str, version: str) -> bool:
    lock = read_package_lock(lock_text)
    found = [Version.parse(d.version) for d in lock.dependencies if d.name == name]
    return bool(found) and all(v >= Version.parse(version) for v in found)


def test_check_mode_plans_the_upgrades_and_changes_nothing(
    repo: Path, server: AdvisoryServer
) -> None:
    before = snapshot(repo)
    outcome = run_task(dependencies, config(repo, server, test_command="npm test"))
    assert outcome.error is None, outcome.error
    step = fix_step(outcome)
    assert step.status is StepStatus.PLANNED
    assert "dependencies.express: 4.17.1 -> 4.20.0" in step.detail["upgrades"]
    assert 'overrides."body-parser": (none) -> 1.20.3' in step.detail["overrides"]
    assert step.detail["test_command"] == "npm test"
    assert "GHSA-rv95-896h-c2vc" in step.detail["advisories"]
    assert snapshot(repo) == before
    assert branches(repo) == ["main"] and worktrees(repo) == 1


def test_without_a_test_command_the_fix_is_untested_and_not_written(
    repo: Path, server: AdvisoryServer, history: Any
) -> None:
    outcome = run_task(dependencies, config(repo, server), apply=True, history=history)
    step = fix_step(outcome)
    assert step.status is StepStatus.SKIPPED and step.detail["result"] == "untested"
    assert branches(repo) == ["main"]


def test_it_keeps_a_tested_fix_on_a_branch(
    npm_registry: None, repo: Path, server: AdvisoryServer, history: Any
) -> None:
    before = snapshot(repo)
    outcome = run_task(
        dependencies,
        config(repo, server, test_command="npm test"),
        apply=True,
        history=history,
    )
    step = fix_step(outcome)
    assert step.status is StepStatus.DONE, step.detail
    branch = step.detail["branch"]
    assert branch.startswith("rota/deps-fix-") and branch in branches(repo)
    lock = git(repo, "show", f"{branch}:app/package-lock.json")
    assert at_least(lock, "express", "4.20.0") and at_least(lock, "body-parser", "1.20.3")
    package = json.loads(git(repo, "show", f"{branch}:app/package.json"))
    assert package["dependencies"]["express"] == "4.20.0"  # written exact, kept exact
    assert package["overrides"]["body-parser"] == "1.20.3"
    message = git(repo, "log", "-1", "--format=%B", branch)
    assert "GHSA-rv95-896h-c2vc" in message and "express 4.17.1 -> 4.20.0" in message
    assert snapshot(repo) == before  # the working tree is byte-identical
    assert not (repo / "node_modules").exists()
    assert worktrees(repo) == 1  # only the main one: the scratch worktree is gone
    assert git(repo, "status", "--porcelain") == ""


def test_failing_tests_leave_nothing_but_the_report(
    npm_registry: None, repo: Path, server: AdvisoryServer, history: Any
) -> None:
    before = snapshot(repo)
    failing = "node -e \"console.log('boom: the suite failed'); process.exit(1)\""
    outcome = run_task(
        dependencies, config(repo, server, test_command=failing), apply=True, history=history
    )
    step = fix_step(outcome)
    assert step.status is StepStatus.FAILED
    assert "the tests failed" in step.detail["error"] and "exited 1" in step.detail["error"]
    assert "boom: the suite failed" in step.detail["output"]
    assert branches(repo) == ["main"] and worktrees(repo) == 1
    assert snapshot(repo) == before


def test_patch_mode_writes_the_patch_and_nothing_else(
    npm_registry: None, repo: Path, server: AdvisoryServer, history: Any
) -> None:
    before = snapshot(repo)
    outcome = run_task(
        dependencies,
        config(repo, server, test_command="npm test", fix_output="patch"),
        apply=True,
        history=history,
    )
    step = fix_step(outcome)
    assert step.status is StepStatus.DONE, step.detail
    patch = Path(step.detail["patch"])
    assert patch.parent == repo and patch.name.startswith("rota-deps-fix-")
    after = snapshot(repo)
    assert after.pop(patch.name) and after == before
    text = patch.read_text()
    assert "a/app/package.json" in text and '+    "body-parser": "1.20.3"' in text
    assert branches(repo) == ["main"] and worktrees(repo) == 1
    git(repo.parent, "apply", "--check", str(patch))  # it applies to the working tree


def test_outside_git_a_patch_is_made_with_difflib(
    npm_registry: None, tmp_path: Path, server: AdvisoryServer, history: Any
) -> None:
    project = tmp_path / "plain"
    project.mkdir()
    package = json.loads((SANDBOX_NODE / "package.json").read_text())
    package["scripts"] = {"test": TEST_SCRIPT}
    (project / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    shutil.copy(SANDBOX_NODE / "package-lock.json", project / "package-lock.json")
    outcome = run_task(
        dependencies,
        config(project, server, test_command="npm test", fix_output="patch"),
        apply=True,
        history=history,
    )
    step = fix_step(outcome)
    assert step.status is StepStatus.DONE, step.detail
    text = Path(step.detail["patch"]).read_text()
    assert text.startswith("--- a/package.json") and '"express": "4.20.0"' in text
