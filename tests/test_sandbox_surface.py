"""The platform's configuration surface: .env, package files and code with known problems."""

from __future__ import annotations

import base64
import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest

from rota_sandbox.surface import REFERENCED_KEYS, VULNERABLE, write_app_project

# Provider key rules as gitleaks and trufflehog publish them (notes/security.md §2).
OPENAI_GITLEAKS = re.compile(
    r"sk-(?:proj|svcacct|admin)-(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})T3BlbkFJ"
    r"(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})\b"
)
SENDGRID_GITLEAKS = re.compile(r"SG\.(?i:[a-z0-9=_\-\.]{66})")  # Go's mid-pattern (?i), scoped
SENDGRID_TRUFFLEHOG = re.compile(r"\bSG\.[\w\-]{20,24}\.[\w\-]{39,50}\b")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return write_app_project(tmp_path_factory.mktemp("app"), seed=42)


def parse_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines())
    return {p[0]: p[1] for p in pairs if len(p) == 2 and not p[0].startswith("#")}


# --------------------------------------------------------------------------- npm ranges


def _v(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("."))


def satisfies(version: str, spec: str) -> bool:
    """npm range semantics for the forms a lock file uses: x.y.z, ^, ~, N.x, >=, ranges, ||."""
    v = _v(version)
    for alternative in spec.split("||"):
        comparators = re.findall(r"(>=|<=|>|<|\^|~)?\s*([\dx.*]+)", alternative.strip())
        if all(_holds(v, op, target) for op, target in comparators):
            return True
    return False


def _holds(v: tuple[int, ...], op: str, target: str) -> bool:
    if "x" in target or "*" in target:
        fixed = [int(p) for p in target.split(".") if p not in ("x", "*")]
        return list(v[: len(fixed)]) == fixed
    t = _v(target)
    if op == "^":
        head = next((i for i, x in enumerate(t) if x != 0), len(t) - 1)
        return v >= t and v[: head + 1] == t[: head + 1]
    if op == "~":
        return v >= t and v[:2] == t[:2]
    return {"": v == t, ">=": v >= t, ">": v > t, "<=": v <= t, "<": v < t}[op]


def test_the_semver_helper_reads_npm_ranges() -> None:
    assert satisfies("4.17.20", "^4.17.20") and not satisfies("5.0.0", "^4.17.20")
    assert satisfies("0.21.1", "^0.21.1") and not satisfies("0.26.1", "^0.21.1")
    assert satisfies("1.3.8", "~1.3.7") and not satisfies("1.4.0", "~1.3.7")
    assert satisfies("1.5.0", ">= 1.5.0 < 2") and not satisfies("2.0.0", ">= 1.5.0 < 2")
    assert satisfies("2.1.2", "2.x") and satisfies("3.0.0", "^2.0.0 || ^3.0.0")


# --------------------------------------------------------------------------- .env


def test_it_writes_every_file_of_the_project(project: dict[str, Any]) -> None:
    for key in (
        "env_file",
        "env_example",
        "package_json",
        "package_lock",
        "server_js",
        "gitignore",
    ):
        assert project[key].is_file() and project[key].read_text()
        assert project[key].is_relative_to(project["app_dir"])


def test_provider_keys_have_their_real_formats(project: dict[str, Any]) -> None:
    env = parse_env(project["env_file"])
    assert OPENAI_GITLEAKS.fullmatch(env["OPENAI_API_KEY"])
    assert SENDGRID_GITLEAKS.fullmatch(env["SENDGRID_API_KEY"])
    assert SENDGRID_TRUFFLEHOG.fullmatch(env["SENDGRID_API_KEY"])
    assert len(env["SENDGRID_API_KEY"]) == 69
    assert re.fullmatch(r"[0-9a-f]{64}", env["JWT_SECRET"])
    assert env == project["env"]


def test_env_holds_the_variables_of_a_node_platform(project: dict[str, Any]) -> None:
    env = parse_env(project["env_file"])
    assert env["DATABASE_URL"].startswith("postgresql://") and env["NODE_ENV"] == "production"
    assert env["REDIS_URL"].startswith("redis://") and env["PORT"].isdigit()
    assert {"SESSION_SECRET", "ADMIN_API_KEY", "OPENAI_API_KEY", "SENDGRID_API_KEY"} <= set(
        project["secret_keys"]
    )
    assert "NODE_ENV" not in project["secret_keys"] and "PORT" not in project["secret_keys"]


def test_env_has_a_weak_secret_unused_variables_and_a_missing_one(project: dict[str, Any]) -> None:
    env = parse_env(project["env_file"])
    assert project["weak_keys"] == ["SESSION_SECRET"] and env["SESSION_SECRET"] == "changeme"
    assert project["unused_keys"] and set(project["unused_keys"]) <= set(env)
    example = parse_env(project["env_example"])
    assert project["missing_keys"] == ["SENTRY_DSN"]
    assert "SENTRY_DSN" in example and "SENTRY_DSN" not in env


def test_env_is_world_readable_and_not_git_ignored(project: dict[str, Any]) -> None:
    assert stat.S_IMODE(project["env_file"].stat().st_mode) == project["env_mode"] == 0o644
    ignored = project["gitignore"].read_text().splitlines()
    assert ".env" not in ignored and project["gitignore_covers_env"] is False


def test_the_code_reads_the_referenced_keys_and_none_of_the_unused(project: dict[str, Any]) -> None:
    source = project["server_js"].read_text()
    read = set(re.findall(r"process\.env(?:\.|\[')([A-Z_]+)", source))
    destructured = re.search(r"const \{([^}]*)\} = process\.env", source)
    assert destructured
    read |= set(re.findall(r"[A-Z][A-Z_]+", destructured.group(1)))
    assert read == set(REFERENCED_KEYS) == set(project["referenced_keys"])
    assert not read & set(project["unused_keys"])


def test_server_js_hardcodes_one_old_sendgrid_key_at_the_reported_line(
    project: dict[str, Any],
) -> None:
    (leak,) = project["hardcoded_secrets"]
    line = project["server_js"].read_text().splitlines()[leak["line"] - 1]
    assert leak["value"] in line and SENDGRID_TRUFFLEHOG.search(line)
    assert leak["value"] != project["env"]["SENDGRID_API_KEY"]
    assert not OPENAI_GITLEAKS.search(project["server_js"].read_text())


def test_secrets_override_env_values_and_add_new_ones(tmp_path: Path) -> None:
    result = write_app_project(
        tmp_path,
        secrets={
            "ADMIN_API_KEY": "token-from-sandbox",
            "DATABASE_URL": "postgresql:///x",
            "EXTRA_TOKEN": "t",
        },
    )
    env = parse_env(result["env_file"])
    assert env["ADMIN_API_KEY"] == "token-from-sandbox" and env["DATABASE_URL"] == "postgresql:///x"
    assert env["EXTRA_TOKEN"] == "t" and "EXTRA_TOKEN" in result["secret_keys"]


def test_it_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    a = write_app_project(tmp_path / "a", seed=1)
    b = write_app_project(tmp_path / "b", seed=1)
    c = write_app_project(tmp_path / "c", seed=2)
    assert a["env"] == b["env"] and a["env"] != c["env"]
    assert a["server_js"].read_text() == b["server_js"].read_text()
    assert a["package_lock"].read_bytes() == c["package_lock"].read_bytes()


# --------------------------------------------------------------------------- package files


def test_the_lock_is_version_3_and_agrees_with_package_json(project: dict[str, Any]) -> None:
    manifest = json.loads(project["package_json"].read_text())
    lock = json.loads(project["package_lock"].read_text())
    assert lock["lockfileVersion"] == 3 and lock["requires"] is True
    root = lock["packages"][""]
    assert (lock["name"], lock["version"]) == (manifest["name"], manifest["version"])
    assert root["dependencies"] == manifest["dependencies"]
    assert root["devDependencies"] == manifest["devDependencies"]
    for name, spec in {**manifest["dependencies"], **manifest["devDependencies"]}.items():
        assert satisfies(lock["packages"][f"node_modules/{name}"]["version"], spec), name


def test_every_dependency_resolves_to_a_locked_version_in_range(project: dict[str, Any]) -> None:
    packages = json.loads(project["package_lock"].read_text())["packages"]
    for path, entry in packages.items():
        wanted = {**entry.get("dependencies", {}), **entry.get("devDependencies", {})}
        optional = entry.get("peerDependenciesMeta", {})
        wanted |= {n: r for n, r in entry.get("peerDependencies", {}).items() if n not in optional}
        for name, spec in wanted.items():
            found = resolve(packages, path, name)
            assert found is not None, f"{path or 'root'} needs {name}"
            assert satisfies(packages[found]["version"], spec), f"{found} vs {spec}"


def resolve(packages: dict[str, Any], path: str, name: str) -> str | None:
    """Node's lookup: the nearest node_modules/<name> walking up from ``path``."""
    base = path
    while True:
        candidate = f"{base}/node_modules/{name}" if base else f"node_modules/{name}"
        if candidate in packages:
            return candidate
        if not base:
            return None
        base = base.rsplit("/node_modules/", 1)[0] if "/node_modules/" in base else ""


def test_only_dev_tools_are_marked_dev(project: dict[str, Any]) -> None:
    packages = json.loads(project["package_lock"].read_text())["packages"]
    dev = {p.removeprefix("node_modules/") for p, e in packages.items() if e.get("dev")}
    assert dev == {"prettier", "typescript"}


def test_resolved_urls_point_at_the_npm_registry_with_sha512_integrity(
    project: dict[str, Any],
) -> None:
    packages = json.loads(project["package_lock"].read_text())["packages"]
    assert len(packages) - 1 == project["locked_packages"] > 50
    for path, entry in list(packages.items())[1:]:
        name = path.rsplit("node_modules/", 1)[1]
        tarball = f"{name.rsplit('/', 1)[-1]}-{entry['version']}.tgz"
        assert entry["resolved"] == f"https://registry.npmjs.org/{name}/-/{tarball}"
        algo, _, digest = entry["integrity"].partition("-")
        assert algo == "sha512" and len(base64.b64decode(digest, validate=True)) == 64


def test_vulnerable_packages_are_locked_at_vulnerable_versions(project: dict[str, Any]) -> None:
    packages = json.loads(project["package_lock"].read_text())["packages"]
    for name, version in VULNERABLE.items():
        assert packages[f"node_modules/{name}"]["version"] == version
    assert {"lodash", "minimist", "axios", "express", "jsonwebtoken"} <= set(project["vulnerable"])
    # A second, newer axios sits nested under the SDKs: audits must see both copies.
    assert packages["node_modules/openai/node_modules/axios"]["version"] == "0.26.1"
