from datetime import UTC, datetime

from rota.config import load_config
from rota.history import open_history
from rota.model import Severity
from rota.tasks.logs.analyze import analyze
from rota.testing import findings, run_task
from rota_sandbox.logs import NEW_TEMPLATE, generate_logs


def analyze_logs(cfg):
    """logs.analyze as `rota run logs.analyze` runs it: with the history its config names."""
    config = load_config(cfg)
    return run_task(analyze, config, history=open_history(config.history.url), explicit=True)


def _config(tmp_path, extra=""):
    cfg = tmp_path / "rota.toml"
    cfg.write_text(
        f'[history]\nurl = "sqlite:///{tmp_path}/h.db"\n[logs]\npaths = ["logs/*"]\n{extra}'
    )
    return cfg


def test_it_reports_groups_new_kinds_recent_errors_and_latency_without_changing_logs(
    tmp_path, assert_read_only
):
    truth = generate_logs(tmp_path / "logs", days=4, lines_per_day=500, now=datetime.now(UTC))
    cfg = _config(tmp_path, 'p95_threshold = "1s"\n')
    out = assert_read_only(lambda: analyze_logs(cfg), trees=(tmp_path / "logs",))
    codes = {f.code for f in out.findings}
    assert {"logs.errors.spike", "logs.errors.recent", "logs.latency", "logs.unparsed"} <= codes
    groups = findings(out, "logs.errors.group")
    assert sum(f.evidence["count"] for f in groups) == truth["error_lines"]
    new = findings(out, "logs.errors.new_group")
    assert [f.evidence["count"] for f in new] == [truth["templates"][NEW_TEMPLATE.id]["count"]]
    assert "column <STR> does not exist" in new[0].message
    slow = findings(out, "logs.latency.regression")
    assert any("/api/chat/completions" in f.subject for f in slow)
    today = truth["now"][:10]
    expected_today = sum(t["per_day"].get(today, 0) for t in truth["templates"].values())
    recent = findings(out, "logs.errors.recent")[0]
    assert recent.evidence["since_midnight"] == expected_today

    # A second run: the new group is no longer new and nothing was read again.
    again = analyze_logs(cfg)
    assert not findings(again, "logs.errors.new_group")
    read = findings(again, "logs.read")[0]
    assert "0 bytes read" in read.message


def test_it_is_unknown_when_no_file_matches(tmp_path):
    first = analyze_logs(_config(tmp_path)).findings[0]
    assert first.code == "logs.files" and first.severity is Severity.UNKNOWN


def test_an_error_group_that_only_widened_is_not_reported_as_new(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def write(name, users):
        lines = [f"{stamp} ERROR [auth] login refused for user {u} by policy" for u in users]
        (logs / name).write_text("\n".join(lines) + "\n")

    write("a.log", ["alice", "bob", "carol"])
    cfg = _config(tmp_path)
    first = analyze_logs(cfg)
    groups = findings(first, "logs.errors.group")
    assert [g.message.split(" ", 2)[2] for g in groups] == [
        "[auth] login refused for user <*> by policy"
    ]
    write("b.log", ["dave", "erin"])  # the same event, two more user names
    second = analyze_logs(cfg)
    assert not findings(second, "logs.errors.new_group")
    groups = findings(second, "logs.errors.group")
    assert len(groups) == 1 and groups[0].evidence["count"] == 5
