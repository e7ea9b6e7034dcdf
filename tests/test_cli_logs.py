import json
from datetime import UTC, datetime

from rota_sandbox.logs import generate_logs


def test_fingerprint_prints_one_json_line_per_input_line_grouping_by_template(tmp_path, rota):
    truth = generate_logs(tmp_path, days=2, lines_per_day=300, with_labels=True)
    r = rota("logs", "fingerprint", str(tmp_path / "app.log"), str(tmp_path / "worker.log"))
    rows = [json.loads(line) for line in r.out.splitlines()]
    files = truth["files"]
    assert len(rows) == files["app.log"]["lines"] + files["worker.log"]["lines"]
    by_pos = {(r["file"].rsplit("/", 1)[1], r["line"]): r["group"] for r in rows}
    label_to_groups: dict[str, set[str]] = {}
    for name, line, tid in truth["labels"]:
        if (name, line) in by_pos:
            label_to_groups.setdefault(tid, set()).add(by_pos[(name, line)])
    assert all(len(g) == 1 for g in label_to_groups.values())


def test_top_latency_and_recent_read_the_configured_logs(tmp_path, rota):
    truth = generate_logs(tmp_path / "logs", days=3, lines_per_day=400, now=datetime.now(UTC))
    cfg = tmp_path / "rota.toml"
    cfg.write_text('[logs]\npaths = ["logs/*"]\n')
    top = json.loads(rota("-c", cfg, "logs", "top", "--format", "json", "--limit", "50").out)
    assert top["errors"] == truth["error_lines"]
    assert sum(g["count"] for g in top["groups"]) == truth["error_lines"]
    lat = json.loads(rota("-c", cfg, "logs", "latency", "--format", "json").out)
    routes = {f"{r['method']} {r['route']}" for r in lat["routes"]}
    assert "GET /api/conversations/:id" in routes
    recent = json.loads(rota("-c", cfg, "logs", "recent", "--since", "today", "-f", "json").out)
    today = truth["now"][:10]
    assert recent["errors"] == sum(t["per_day"].get(today, 0) for t in truth["templates"].values())
    table = rota("-c", cfg, "logs", "top", "--limit", "3")
    assert table.code == 0 and f"{truth['error_lines']} errors in" in table.out


def test_it_says_what_is_wrong_in_one_line(tmp_path, rota):
    r = rota("logs", "fingerprint", str(tmp_path / "missing.log"))
    assert r.code == 4 and "missing.log" in r.err and "Traceback" not in r.err
    cfg = tmp_path / "rota.toml"
    cfg.write_text('[logs]\npaths = ["x/*"]\n')
    r = rota("-c", cfg, "logs", "top", "--format", "xml")
    assert r.code == 4 and "--format" in r.err


def test_top_and_recent_take_a_window_until_a_time(tmp_path, rota):
    truth = generate_logs(tmp_path / "logs", days=3, lines_per_day=400, now=datetime.now(UTC))
    cfg = tmp_path / "rota.toml"
    cfg.write_text('[logs]\npaths = ["logs/*"]\n')
    today = truth["now"][:10]
    before_today = sum(
        n for t in truth["templates"].values() for day, n in t["per_day"].items() if day < today
    )
    window = ("--since", "30d", "--until", "today", "-f", "json")
    recent = json.loads(rota("-c", cfg, "logs", "recent", *window).out)
    assert recent["errors"] == before_today
    top = json.loads(rota("-c", cfg, "logs", "top", *window, "--limit", "50").out)
    assert sum(g["count"] for g in top["groups"]) == before_today
    bad = rota("-c", cfg, "logs", "top", "--since", "today", "--until", "nonsense")
    assert bad.code == 4 and "--until" in bad.err
