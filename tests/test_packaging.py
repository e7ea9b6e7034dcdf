"""rota and rota-sandbox are two distributions: the runtime carries neither the sandbox nor
its dependencies, and rota without the sandbox says in one line how to get it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import rota

ROOT = Path(__file__).resolve().parents[1]
INSTALL = "pip install 'rota[sandbox]' (from a checkout: pip install -e ./sandbox)"

# Makes rota_sandbox unimportable, exactly as when its distribution is not installed.
HIDE_SANDBOX = textwrap.dedent(
    """
    import sys

    class NotInstalled:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] == "rota_sandbox":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NotInstalled())
    """
)
CLI_WITHOUT_SANDBOX = HIDE_SANDBOX + "from rota.cli import main\nmain(sys.argv[1:])\n"


def _project(pyproject: Path) -> dict:  # type: ignore[type-arg]
    return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]


def _names(requirements: list[str]) -> set[str]:
    return {Requirement(r).name for r in requirements}


def _python(code: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(cwd / "state"), "COLUMNS": "120"}
    env.pop("ROTA_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )


def test_the_runtime_distribution_does_not_depend_on_cryptography_or_the_sandbox() -> None:
    project = _project(ROOT / "pyproject.toml")
    assert not {"cryptography", "rota-sandbox"} & _names(project["dependencies"])
    assert project["optional-dependencies"]["sandbox"] == ["rota-sandbox"]
    installed = [Requirement(r) for r in metadata.requires("rota") or []]
    runtime = {r.name for r in installed if r.marker is None}
    assert "cryptography" not in runtime and "rota-sandbox" not in runtime
    assert any(
        r.name == "rota-sandbox" and r.marker and r.marker.evaluate({"extra": "sandbox"})
        for r in installed
    )


def test_the_rota_package_has_no_sandbox_inside() -> None:
    package = Path(rota.__file__).parent
    assert not list((package / "sandbox").glob("**/*.py"))


def test_the_sandbox_distribution_carries_the_sandbox_and_cryptography() -> None:
    project = _project(ROOT / "sandbox" / "pyproject.toml")
    assert project["name"] == "rota-sandbox"
    assert project["version"] == _project(ROOT / "pyproject.toml")["version"]
    assert {"rota", "cryptography"} <= _names(project["dependencies"])
    installed = _names(metadata.requires("rota-sandbox") or [])
    assert {"rota", "cryptography"} <= installed
    assert metadata.version("rota-sandbox") == metadata.version("rota")
    assert (ROOT / "sandbox" / "src" / "rota_sandbox" / "tls.py").is_file()


def test_importing_the_cli_and_the_pytest_plugin_loads_neither_sandbox_nor_cryptography(
    tmp_path: Path,
) -> None:
    r = _python(
        "import sys, rota.cli, rota.testing; "
        "print(sorted(m for m in ('rota_sandbox', 'cryptography') if m in sys.modules))",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_the_platform_service_is_the_node_app_not_a_python_module(tmp_path: Path) -> None:
    r = _python(
        "import importlib.util, rota_sandbox.launcher as l; "
        "print(importlib.util.find_spec('rota_sandbox.platform'), l.CMDLINE_PATTERN)",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["None", "node.*server"]


def test_the_sandbox_distribution_ships_the_node_app_without_node_modules() -> None:
    from rota_sandbox import nodeapp

    pyproject = tomllib.loads((ROOT / "sandbox" / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["rota_sandbox"]
    package = ROOT / "sandbox" / "src" / "rota_sandbox"
    shipped = {
        p.relative_to(package).as_posix() for pattern in patterns for p in package.glob(pattern)
    }
    assert {f"node/{f.as_posix()}" for f in nodeapp.app_files()} <= shipped
    # No pattern can reach an installed node_modules: each names files of one directory.
    assert all("**" not in p and p.rpartition("/")[0] in ("", "node", "node/lib") for p in patterns)


@pytest.mark.parametrize(
    "command",
    [("demo",), ("sandbox", "up"), ("sandbox", "status"), ("sandbox", "down")],
    ids=" ".join,
)
def test_without_the_sandbox_each_sandbox_command_says_how_to_install_it_in_one_line(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    where = ("--dir", str(tmp_path / "sb")) if command[0] == "sandbox" else ()
    r = _python(CLI_WITHOUT_SANDBOX, *command, *where, cwd=tmp_path)
    assert r.returncode == 4  # a usage error: 2 means "critical" to whatever reads rota's codes
    assert r.stderr.splitlines() == [
        f"rota: `rota {' '.join(command)}` needs the sandbox, which is not installed: {INSTALL}"
    ]
    assert r.stdout == ""
    assert not (tmp_path / "sb").exists()


def test_without_the_sandbox_its_commands_still_have_help(tmp_path: Path) -> None:
    r = _python(CLI_WITHOUT_SANDBOX, "sandbox", "up", "--help", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "--scale" in r.stdout


def test_without_the_sandbox_a_test_needing_postgres_fails_rather_than_skips(
    tmp_path: Path,
) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(HIDE_SANDBOX)
    (tmp_path / "test_needs_pg.py").write_text(
        "def test_it(pg_url):\n    pass\n\ndef test_plain():\n    pass\n"
    )
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 error" in r.stdout and "1 passed" in r.stdout and "skipped" not in r.stdout
    assert f"the pg_cluster fixture needs the sandbox, which is not installed: {INSTALL}" in (
        r.stdout
    )
