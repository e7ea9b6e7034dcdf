"""security.env through the real engine on real trees and git repositories, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from rota.model import Severity
from rota.tasks.security.env import env_audit
from rota.testing import findings, run_task
from secrets_corpus import GITLEAKS_OPENAI


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def config(project: Path, **keys: object) -> str:
    lines = ["[env]", f"project = {json.dumps(str(project))}"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def clean_app(root: Path) -> Path:
    root.mkdir()
    git(root, "init", "-q")
    (root / ".gitignore").write_text(".env\n")
    (root / "app.js").write_text("const url = process.env.API_URL;\n")
    (root / ".env").write_text("API_URL=https://api.internal\n")
    os.chmod(root / ".env", 0o600)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "app")
    return root


def test_it_is_skipped_without_an_env_project() -> None:
    outcome = run_task(env_audit, "")
    assert outcome.error is None and not outcome.findings


def test_it_reports_a_clean_project_as_ok_and_notes_the_process_source_it_skipped(
    tmp_path: Path,
) -> None:
    outcome = run_task(env_audit, config(clean_app(tmp_path / "app")))
    assert outcome.error is None, outcome.error
    assert [f.code for f in outcome.findings] == ["security.env.audit"]
    [ok] = outcome.findings
    assert ok.severity is Severity.OK and "[process] is not set" in ok.message


def test_it_finds_each_problem_in_a_neglected_project(tmp_path: Path) -> None:
    root = clean_app(tmp_path / "app")
    (root / ".gitignore").write_text("node_modules\n")  # .env no longer ignored
    (root / ".env").write_text("API_URL=x\nSTALE=1\nSECRET_KEY=changeme\n")
    os.chmod(root / ".env", 0o644)
    (root / "mail.py").write_text("import os\nKEY = os.environ['SENDGRID_API_KEY']\n")
    (root / "ai.js").write_text(f'const k = "{GITLEAKS_OPENAI[3]}";\n')
    (root / "old.py").write_text("TOKEN = 'ghp_" + "Ab1Cd2Ef3Gh4" * 3 + "'\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "more")
    git(root, "rm", "-q", "old.py")
    git(root, "commit", "-qm", "remove the token")
    outcome = run_task(env_audit, config(root, required=["REDIS_URL"]))
    assert outcome.error is None, outcome.error
    got = {(f.code, f.evidence.get("name") or f.evidence.get("rule")) for f in outcome.findings}
    assert got >= {
        ("security.env.missing", "SENDGRID_API_KEY"),
        ("security.env.missing", "REDIS_URL"),
        ("security.env.unused", "STALE"),
        ("security.env.placeholder", "SECRET_KEY"),
        ("security.env.file_mode", ".env"),
        ("security.env.not_ignored", ".env"),
        ("security.secret.hardcoded", "openai-api-key"),
        ("security.secret.in_history", "github-token"),
    }
    [hist] = findings(outcome, "security.secret.in_history")
    assert hist.evidence["file"] == "old.py" and len(hist.evidence["commit"]) == 40
    assert hist.evidence["secret_redacted"] == "ghp_Ab1C…"
    assert GITLEAKS_OPENAI[3] not in json.dumps([f.to_dict() for f in outcome.findings])


def test_it_allows_a_known_test_value_by_its_hash(tmp_path: Path) -> None:
    import hashlib

    root = clean_app(tmp_path / "app")
    (root / "fixture.js").write_text(f'const k = "{GITLEAKS_OPENAI[4]}";\n')
    digest = hashlib.sha256(GITLEAKS_OPENAI[4].encode()).hexdigest()
    outcome = run_task(env_audit, config(root, allow=[digest], history=False))
    assert findings(outcome, "security.secret") == []


def test_scan_prints_json_lines_and_exits_1_when_it_finds_something(tmp_path, rota) -> None:  # type: ignore[no-untyped-def]
    root = clean_app(tmp_path / "app")
    assert rota("security", "scan", str(root)).code == 0
    (root / "k.py").write_text(f"OPENAI = '{GITLEAKS_OPENAI[6]}'\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "key")
    (root / "k.py").unlink()
    r = rota("security", "scan", str(root), "--history")
    assert r.code == 1
    [row] = [json.loads(line) for line in r.out.splitlines()]
    assert row["rule"] == "openai-api-key" and row["file"] == "k.py" and row["line"] == 1
    assert row["secret_redacted"] == "sk-admin-JWAR…" and len(row["commit"]) == 40
    bad = rota("security", "scan", str(tmp_path / "nowhere"))
    assert bad.code == 4 and len(bad.err.strip().splitlines()) == 1
