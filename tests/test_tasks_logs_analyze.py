from datetime import UTC, datetime

import pytest

from rota.config import load_config
from rota.engine import Engine
from rota.history import open_history
from rota.sandbox.logs import NEW_TEMPLATE, generate_logs
from rota.tasks.logs.analyze import analyze


@pytest.fixture
def rota(tmp_path, monkeypatch):
    """Runs logs.analyze through the real engine and history; returns its findings."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    def run(cfg):
        config = load_config(cfg)
        engine = Engine(config, open_history(config.history.url), lock_dir=tmp_path / "locks")
        outcome = engine.run([analyze], explicit={"logs.analyze"}).tasks[0]
        return [f.to_dict() for f in outcome.findings]

    return run


def _config(tmp_path, extra=""):
    cfg = tmp_path / "rota.toml"
    cfg.write_text(
        f'[history]\nurl = "sqlite:///{tmp_path}/h.db"\n[logs]\npaths = ["logs/*"]\n{extra}'
    )
    return cfg


def test_it_reports_groups_new_kinds_recent_errors_and_latency_without_changing_logs(
    tmp_path, rota, assert_read_only
):
    truth = generate_logs(tmp_path / "logs", days=4, lines_per_day=500, now=datetime.now(UTC))
    cfg = _config(tmp_path, 'p95_threshold = "1s"\n')
    findings = assert_read_only(lambda: rota(cfg), trees=(tmp_path / "logs",))
    codes = {f["code"] for f in findings}
    assert {"logs.errors.spike", "logs.errors.recent", "logs.latency", "logs.unparsed"} <= codes
    groups = [f for f in findings if f["code"] == "logs.errors.group"]
    assert sum(f["evidence"]["count"] for f in groups) == truth["error_lines"]
    new = [f for f in findings if f["code"] == "logs.errors.new_group"]
    assert [f["evidence"]["count"] for f in new] == [truth["templates"][NEW_TEMPLATE.id]["count"]]
    assert "column <STR> does not exist" in new[0]["message"]
    slow = [f for f in findings if f["code"] == "logs.latency.regression"]
    assert any("/api/chat/completions" in f["subject"] for f in slow)
    today = truth["now"][:10]
    expected_today = sum(t["per_day"].get(today, 0) for t in truth["templates"].values())
    recent = next(f for f in findings if f["code"] == "logs.errors.recent")
    assert recent["evidence"]["since_midnight"] == expected_today

    # A second run: the new group is no longer new and nothing was read again.
    findings2 = rota(cfg)
    assert not [f for f in findings2 if f["code"] == "logs.errors.new_group"]
    read = next(f for f in findings2 if f["code"] == "logs.read")
    assert "0 bytes read" in read["message"]


def test_it_is_unknown_when_no_file_matches(tmp_path, rota):
    findings = rota(_config(tmp_path))
    assert findings[0]["code"] == "logs.files" and findings[0]["severity"] == "unknown"


def test_an_error_group_that_only_widened_is_not_reported_as_new(tmp_path, rota):
    logs = tmp_path / "logs"
    logs.mkdir()
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def write(name, users):
        lines = [f"{stamp} ERROR [auth] login refused for user {u} by policy" for u in users]
        (logs / name).write_text("\n".join(lines) + "\n")

    write("a.log", ["alice", "bob", "carol"])
    cfg = _config(tmp_path)
    first = rota(cfg)
    groups = [f for f in first if f["code"] == "logs.errors.group"]
    assert [g["message"].split(" ", 2)[2] for g in groups] == [
        "[auth] login refused for user <*> by policy"
    ]
    write("b.log", ["dave", "erin"])  # the same event, two more user names
    second = rota(cfg)
    assert not [f for f in second if f["code"] == "logs.errors.new_group"]
    groups = [f for f in second if f["code"] == "logs.errors.group"]
    assert len(groups) == 1 and groups[0]["evidence"]["count"] == 5
