"""The platform's Node.js app: its pinned dependency tree, and its install into rota's cache."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from rota.errors import SandboxError
from rota_sandbox import nodeapp

APP = nodeapp.APP_SOURCE


def _lock() -> dict[str, dict[str, str]]:
    lock = json.loads((APP / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["lockfileVersion"] == 3
    packages: dict[str, dict[str, str]] = lock["packages"]
    return packages


def test_the_lockfile_pins_vulnerable_versions_direct_and_transitive() -> None:
    packages = _lock()
    direct = json.loads((APP / "package.json").read_text(encoding="utf-8"))["dependencies"]
    for name, (version, _advisories) in nodeapp.VULNERABLE.items():
        locked = packages[f"node_modules/{name}"]
        assert locked["version"] == version, name
        assert locked["integrity"].startswith("sha512-"), name
    assert direct["express"] == nodeapp.VULNERABLE["express"][0]  # direct
    transitive = set(nodeapp.VULNERABLE) - set(direct)
    assert {"body-parser", "path-to-regexp", "qs"} <= transitive
    # They come with express 4.17.1, which pins each of them exactly.
    wanted = packages["node_modules/express"]["dependencies"]
    assert all(wanted[name] == nodeapp.VULNERABLE[name][0] for name in transitive)


def test_every_direct_dependency_is_pinned_to_one_version_and_locked() -> None:
    packages = _lock()
    direct = json.loads((APP / "package.json").read_text(encoding="utf-8"))["dependencies"]
    assert {"express", "pg", "helmet", "pino", "winston", "morgan"} <= set(direct)
    for name, spec in direct.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", spec), f"{name} {spec} is a range"
        assert packages[f"node_modules/{name}"]["version"] == spec
    assert packages[""]["dependencies"] == direct  # the lockfile matches package.json


def test_the_readme_lists_every_pinned_advisory() -> None:
    readme = (APP / "README.md").read_text(encoding="utf-8")
    for name, (version, advisories) in nodeapp.VULNERABLE.items():
        row = next(line for line in readme.splitlines() if line.startswith(f"| {name} |"))
        assert f"| {version} |" in row
        assert all(ghsa in row for ghsa in advisories), name


def test_the_cache_key_covers_every_app_file_and_no_node_modules(tmp_path: Path) -> None:
    files = {p.as_posix() for p in nodeapp.app_files()}
    assert {"package.json", "package-lock.json", "server.js", "lib/app.js"} <= files
    assert not any("node_modules" in f for f in files)
    copy = tmp_path / "app"
    for rel in nodeapp.app_files():
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_bytes((APP / rel).read_bytes())
    (copy / "node_modules" / "x").mkdir(parents=True)
    (copy / "node_modules" / "x" / "index.js").write_text("installed, not shipped")
    assert nodeapp.app_key(copy) == nodeapp.app_key()
    (copy / "server.js").write_text((APP / "server.js").read_text() + "\n// changed\n")
    assert nodeapp.app_key(copy) != nodeapp.app_key()


def test_an_installed_app_is_reused_without_npm() -> None:
    first = nodeapp.install()
    marker = first / nodeapp.MARKER
    before = marker.stat().st_mtime_ns
    tools = nodeapp.find_node()
    no_npm = nodeapp.NodeTools(tools.node, Path("/nonexistent/npm"), tools.version)
    assert nodeapp.install(no_npm) == first  # npm is never run: it would fail
    assert marker.stat().st_mtime_ns == before
    assert first.name == nodeapp.app_key() and first.parent == nodeapp.cache_root()


def test_a_half_done_install_is_replaced_by_a_complete_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    killed = nodeapp.cache_root() / nodeapp.app_key()
    (killed / "node_modules").mkdir(parents=True)  # npm ci killed half-way: no marker
    said: list[str] = []
    app = nodeapp.install(progress=said.append)
    assert app == killed and said and "npm ci" in said[0]
    assert (app / nodeapp.MARKER).read_text().strip() == nodeapp.app_key()
    for name, (version, _) in nodeapp.VULNERABLE.items():
        installed = json.loads((app / "node_modules" / name / "package.json").read_text())
        assert installed["version"] == version
    assert [p.name for p in nodeapp.cache_root().iterdir() if not p.name.startswith(".")] == [
        app.name
    ]
    loads = subprocess.run(
        ["node", "-e", "require('express'); require('helmet'); require('pg'); require('pino')"],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert loads.returncode == 0, loads.stderr


def test_missing_node_or_npm_is_one_line_saying_how_to_get_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_node = shutil.which("node")
    assert real_node is not None
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SandboxError) as no_node:
        nodeapp.find_node()
    assert str(no_node.value) == f"Node.js not found (node); install it: {nodeapp.INSTALL_HINT}"
    (tmp_path / "node").symlink_to(real_node)
    with pytest.raises(SandboxError, match=r"^npm not found \(node is .*\); install it: apt-get"):
        nodeapp.find_node()
