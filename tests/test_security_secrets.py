"""The secret rules against a labelled corpus, files, and real git history."""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from rota.security.secrets import (
    LOCKFILES,
    parse_allow,
    redact,
    scan_history,
    scan_project,
    scan_text,
    sha256,
)
from rota.targets.project import Project
from secrets_corpus import GITLEAKS_OPENAI, HELD_OUT, TUNING, Sample


def measure(samples: list[Sample]) -> tuple[dict[str, tuple[int, int]], list[str]]:
    """Per rule (found, total) over the positives, and the negatives anything fired on."""
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    false_positives = []
    for s in samples:
        matches = scan_text(s.text, s.file, generic=s.file not in LOCKFILES)
        if s.rule is None:
            if matches:
                false_positives.append(s.text)
            continue
        found[s.rule][1] += 1
        found[s.rule][0] += any(m.rule == s.rule for m in matches)
    return {r: (a, b) for r, (a, b) in found.items()}, false_positives


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def test_it_finds_at_least_95_percent_of_each_rules_tuning_keys() -> None:
    recall, _ = measure(TUNING)
    assert len(recall) >= 12
    for rule, (found, total) in recall.items():
        assert found / total >= 0.95, f"{rule}: {found}/{total}"


def test_it_fires_on_none_of_the_tuning_lookalikes() -> None:
    _, false_positives = measure(TUNING)
    assert false_positives == []


def test_it_reports_the_held_out_numbers_without_asserting_them() -> None:
    recall, false_positives = measure(HELD_OUT)
    assert sum(total for _, total in recall.values()) == sum(s.rule is not None for s in HELD_OUT)
    assert isinstance(false_positives, list)


def test_it_finds_all_nine_public_openai_samples_unquoted_in_a_dotenv_file() -> None:
    text = "\n".join(f"OPENAI_API_KEY_{i}={k}" for i, k in enumerate(GITLEAKS_OPENAI))
    matches = scan_text(text, ".env")
    assert [m.rule for m in matches] == ["openai-api-key"] * 9
    assert [m.line for m in matches] == list(range(1, 10))


def test_it_redacts_to_the_fixed_prefix_and_at_most_four_characters() -> None:
    [m] = scan_text(f'key = "{GITLEAKS_OPENAI[0]}"')
    assert m.secret_redacted == "sk-proj-Sevz…"
    assert redact("abcdefghijkl") == "abc…"
    assert GITLEAKS_OPENAI[0] not in json.dumps(m.to_dict())
    assert m.sha256 == sha256(GITLEAKS_OPENAI[0])


def test_it_does_not_end_a_key_inside_a_longer_token() -> None:
    assert scan_text("x = ghp_" + "a1B2" * 9 + "Z") == []  # 37 characters: not a token


def test_it_reports_a_providers_published_example_as_a_warning() -> None:
    [m] = scan_text("aws_access_key_id = AKIAIOSFODNN7EXAMPLE")
    assert m.example and m.severity == "warning"


def test_it_allows_known_test_values_by_hash_and_never_by_plain_value() -> None:
    key = GITLEAKS_OPENAI[1]
    assert scan_text(key, allow={sha256(key)}) == []
    assert parse_allow(f"sha256:{sha256(key).upper()}  # fixture\n\n") == {sha256(key)}
    with pytest.raises(ValueError, match="line 1"):
        parse_allow(key)


def test_it_skips_lockfile_hashes_binaries_and_node_modules(tmp_path: Path) -> None:
    key = GITLEAKS_OPENAI[2]
    lock = {"packages": {"": {}, "node_modules/x": {"integrity": "sha512-" + "Zm9v" * 22 + "=="}}}
    (tmp_path / "package-lock.json").write_text(json.dumps(lock, indent=2))
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "leak.js").write_text(f'k = "{key}"\n')
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\0\0" + key.encode())
    (tmp_path / "app.js").write_text(f'// ok\nconst client = new OpenAI({{ apiKey: "{key}" }});\n')
    project = Project(tmp_path)
    found = [(m.file, m.line, m.rule) for m in scan_project(project)]
    assert found == [("app.js", 2, "openai-api-key")]
    assert project.skipped["binary"] == 1


def test_it_finds_a_key_committed_then_removed_in_git_history(tmp_path: Path) -> None:
    key = "SG." + "aB3dE5gH7jK9mN1pQ3sT5v" + "." + "wX7yZ9aB1cD3eF5gH7jK9mN1pQ3sT5vW7xY9zA1bC3d"
    git(tmp_path, "init", "-q")
    (tmp_path / "mail.py").write_text("import os\n\nSENDGRID = '" + key + "'\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "add mail")
    (tmp_path / "mail.py").write_text("import os\n\nSENDGRID = os.environ['SENDGRID_API_KEY']\n")
    git(tmp_path, "commit", "-qam", "use the environment")
    project = Project(tmp_path)
    assert list(scan_project(project)) == []
    [m] = list(scan_history(project.history_hunks()))
    first = subprocess.run(
        ["git", "rev-list", "--max-parents=0", "HEAD"], cwd=tmp_path, capture_output=True, text=True
    ).stdout.strip()
    assert (m.rule, m.file, m.line, m.commit) == ("sendgrid-api-key", "mail.py", 3, first)
    assert m.to_dict()["secret_redacted"] == "SG.aB3d…"


def test_a_secret_read_from_a_file_is_a_reference_not_a_secret() -> None:
    # rota.toml's own syntax, found by scanning rota's sandbox config after the held-out run.
    assert scan_text('admin_token = "file:secrets/admin_token"\n', "rota.toml") == []
