"""The rota command line, run for real in a subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from conftest import Platform, write_config
from rota.testing import wait_for_file


def test_it_prints_its_version_and_help_quickly(rota) -> None:  # type: ignore[no-untyped-def]
    r = rota("--version")
    assert r.code == 0 and re.fullmatch(r"rota \d+\.\d+\.\d+\n", r.out)
    t0 = time.monotonic()
    h = rota("--help")
    assert (
        time.monotonic() - t0 < 3
    )  # includes interpreter start under load; `make bench` times it properly
    assert h.code == 0 and "run" in h.out and "sandbox" in h.out


def test_a_usage_error_is_one_line_and_exit_4_never_2(rota) -> None:  # type: ignore[no-untyped-def]
    r = rota("run", "--format", "xml", "monitor.health")
    assert r.code == 4
    assert r.err.strip().splitlines() == [
        "rota: --format 'xml': choose one of table, json, nagios, prometheus, markdown, html, sarif"
    ]
    r = rota("frobnicate")
    assert r.code == 4 and "Traceback" not in r.err and "No such command" in r.err


def test_it_lists_tasks_as_a_table_and_as_json(rota) -> None:  # type: ignore[no-untyped-def]
    r = rota("tasks")
    assert r.code == 0 and "monitor.health" in r.out and "cache.review" in r.out
    rows = json.loads(rota("tasks", "--format", "json").out)
    health = next(t for t in rows if t["id"] == "monitor.health")
    assert (
        health["frequency"] == "daily"
        and health["mutates"] is False
        and health["source"] == "builtin (rota)"
    )


def test_config_check_reports_every_problem_with_keys_and_exits_4(rota, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[database]\nlock_timeout = 5s\n")
    r = rota("-c", str(cfg), "config", "check")
    assert r.code == 4 and "not valid TOML" in r.err and "Traceback" not in r.err
    cfg.write_text(
        '[database]\nlock_timeout = "soon"\nunknown_key = 1\n[logs]\nretention_days = "x"\n[tasks."monitor.helth"]\nenabled = false\n'
    )
    r = rota("-c", str(cfg), "config", "check")
    assert r.code == 4
    lines = r.err.strip().splitlines()
    assert lines[0].endswith("3 problems found")
    assert any(
        line.strip().startswith("database.lock_timeout (line 2): 'soon' is not a duration")
        for line in lines
    )
    assert any("database.unknown_key (line 3): unknown key" in line for line in lines)
    assert any("logs.retention_days (line 5)" in line for line in lines)
    cfg.write_text('[tasks."monitor.helth"]\nenabled = false\n')
    r = rota("-c", str(cfg), "config", "check")
    assert (
        r.code == 4 and 'tasks."monitor.helth": no such task; did you mean monitor.health?' in r.err
    )


def test_config_check_passes_a_valid_config_and_says_what_will_be_skipped(
    rota, tmp_path: Path, platform: Platform
) -> None:  # type: ignore[no-untyped-def]
    cfg = write_config(tmp_path, platform)
    r = rota("-c", str(cfg), "config", "check")
    assert r.code == 0, r.err
    assert r.out.startswith(f"{cfg}: ok")


def test_init_writes_the_rylie_profile_and_refuses_to_overwrite(rota, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = rota("init", "--profile", "rylie")
    assert r.code == 0
    text = (tmp_path / "rota.toml").read_text()
    assert (
        'url = "${DATABASE_URL}"' in text
        and 'high_churn_tables = ["conversations", "messages"]' in text
    )
    check = rota(
        "config",
        "check",
        extra_env={"DATABASE_URL": "postgresql://db/rylie", "ROTA_ADMIN_API_KEY": "x" * 24},
    )
    assert check.code == 0, check.err
    again = rota("init", "--profile", "rylie")
    assert again.code == 4 and "already exists; use --force" in again.err
    assert rota("init", "--profile", "nope").code == 4


def test_run_gives_the_json_contract_and_the_status_exit_code(
    rota, tmp_path: Path, platform: Platform
) -> None:  # type: ignore[no-untyped-def]
    cfg = write_config(tmp_path, platform)
    platform.cache = {"hits": 600, "misses": 400, "keys": 10, "evictions": 3}  # 60%: warning
    r = rota("-c", str(cfg), "run", "--all", "--format", "json")
    assert r.code == 1, r.err
    doc = json.loads(r.out)
    assert set(doc) == {"rota", "target", "mode", "started_at", "finished_at", "status", "tasks"}
    assert doc["target"] == "testplat" and doc["mode"] == "check" and doc["status"] == "warning"
    tasks = {t["id"]: t for t in doc["tasks"]}
    assert tasks["monitor.health"]["status"] == "ok"
    cache = tasks["cache.review"]
    assert cache["status"] == "warning" and cache["changed"] is False
    finding = next(f for f in cache["findings"] if f["code"] == "cache.hit_ratio")
    assert finding["severity"] == "warning" and finding["evidence"]["hit_ratio"] == 0.6
    assert {"name": "cache.hit_ratio", "value": 0.6, "unit": "ratio", "labels": {}} in cache[
        "metrics"
    ]


def test_run_gives_nagios_output_and_exit_codes(rota, tmp_path: Path, platform: Platform) -> None:  # type: ignore[no-untyped-def]
    cfg = write_config(tmp_path, platform)
    ok = rota("-c", str(cfg), "run", "monitor.health", "--format", "nagios")
    assert ok.code == 0 and ok.out.startswith("ROTA OK - ")
    assert "|" in ok.out.splitlines()[0]
    platform.health_status = 503
    crit = rota("-c", str(cfg), "run", "monitor.health", "--format", "nagios")
    assert crit.code == 2 and crit.out.startswith("ROTA CRITICAL - ")
    down = write_config(tmp_path, Platform(url="http://127.0.0.1:9"))
    unk = rota("-c", str(down), "run", "monitor.health", "--format", "nagios")
    assert unk.code == 3 and unk.out.startswith("ROTA UNKNOWN - ")
    assert "Traceback" not in unk.err


def test_run_writes_a_prometheus_textfile_in_one_piece(
    rota, tmp_path: Path, platform: Platform
) -> None:  # type: ignore[no-untyped-def]
    from prometheus_client.parser import text_string_to_metric_families

    cfg = write_config(tmp_path, platform)
    prom = tmp_path / "textfile" / "rota.prom"
    platform.health_status = 503
    r = rota("-c", str(cfg), "run", "monitor.health", "--format", "prometheus", "-o", str(prom))
    assert r.code == 2 and r.out == ""
    families = {f.name: f for f in text_string_to_metric_families(prom.read_text())}
    status = families["rota_task_status"].samples
    assert [(s.labels, s.value) for s in status] == [({"task": "monitor.health"}, 2.0)]
    latency = families["rota_http_latency_seconds"].samples  # "s" metrics end in _seconds
    assert {s.labels["path"] for s in latency} >= {"/api/health"}
    assert [p.name for p in prom.parent.iterdir()] == ["rota.prom"]  # no temp file left


def test_check_mode_never_clears_the_cache_and_apply_does(
    rota, tmp_path: Path, platform: Platform
) -> None:  # type: ignore[no-untyped-def]
    cfg = write_config(tmp_path, platform, '[schedule]\nwindow = "daily 00:00-00:00 UTC"\n')
    platform.cache = {"hits": 100, "misses": 900, "keys": 10, "evictions": 30}
    check = json.loads(rota("-c", str(cfg), "run", "cache.review", "--format", "json").out)
    step = check["tasks"][0]["steps"][0]
    assert step["status"] == "planned" and step["action"] == "clear cache" and platform.clears == []
    applied = json.loads(
        rota("-c", str(cfg), "run", "cache.review", "--apply", "--format", "json").out
    )
    step = applied["tasks"][0]["steps"][0]
    assert step["status"] == "done" and step["detail"]["keys_after"] == 0
    assert platform.clears == ["/api/cache/clear"] and applied["tasks"][0]["changed"] is True
    assert platform.token not in json.dumps(applied)
    week = json.loads(rota("-c", str(cfg), "report", "--format", "json").out)
    assert week["mode"] == "apply"  # the latest cache.review run applied a change


def test_due_history_and_report_follow_the_runs(rota, tmp_path: Path, platform: Platform) -> None:  # type: ignore[no-untyped-def]
    cfg = write_config(tmp_path, platform)
    due = json.loads(rota("-c", str(cfg), "due", "--format", "json").out)
    states = {d["id"]: d["state"] for d in due}
    assert states["monitor.health"] == states["cache.review"] == "never"
    assert states["db.vacuum"] == "not configured"  # never due: it cannot run here
    assert rota("-c", str(cfg), "run", "--due").code == 0
    due = json.loads(rota("-c", str(cfg), "due", "--format", "json").out)
    assert all(
        d["state"] == "ok" and d["last_status"] == "ok"
        for d in due
        if d["id"] in ("monitor.health", "cache.review")
    )
    table = rota("-c", str(cfg), "due")
    assert "monitor.health" in table.out and "daily" in table.out
    assert rota("-c", str(cfg), "run", "--due").err.strip() == "nothing is due (see `rota due`)"
    hist = json.loads(rota("-c", str(cfg), "history", "--format", "json").out)
    assert [h["task"] for h in hist] == ["cache.review", "monitor.health"]
    md = rota("-c", str(cfg), "report", "--since", "1d")
    assert md.code == 0 and "monitor.health" in md.out and "cache.review" in md.out
    html_path = tmp_path / "r.html"
    assert rota("-c", str(cfg), "report", "--format", "html", "-o", str(html_path)).code == 0
    assert "<html" in html_path.read_text().lower()


def test_docs_writes_a_template_page_per_task_and_an_index(rota, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = rota("docs", "--out-dir", str(tmp_path / "book"))
    assert r.code == 0 and "deprecated" not in r.err
    page = (tmp_path / "book" / "monitor.health.md").read_text()
    for heading in (
        "### Purpose",
        "### Prerequisites",
        "### Procedure",
        "### Expected Outcome",
        "### Rollback Procedure",
        "### Time Estimate",
    ):
        assert heading in page
    index = (tmp_path / "book" / "index.md").read_text()
    assert "monitor.health" in index and "cache.review" in index
    assert "lock_timeout" in (tmp_path / "book" / "config.md").read_text()


def test_schedule_export_writes_cron_systemd_and_k8s(
    rota, tmp_path: Path, platform: Platform
) -> None:  # type: ignore[no-untyped-def]
    cfg = write_config(tmp_path, platform, '[schedule]\nwindow = "Sun 02:00-05:00 Europe/Berlin"\n')
    cron = rota("-c", str(cfg), "schedule", "export", "--format", "cron")
    assert cron.code == 0
    line = next(
        ln for ln in cron.out.splitlines() if "cache.review" in ln and not ln.startswith("#")
    )
    assert line.startswith("0 2 1 * * ")  # monthly, at the window's opening
    assert "CRON_TZ=Europe/Berlin" in cron.out
    out = tmp_path / "units"
    assert (
        rota("-c", str(cfg), "schedule", "export", "-f", "systemd", "--out-dir", str(out)).code == 0
    )
    timer = (out / "rota-monitor-health.timer").read_text()
    assert re.search(r"OnCalendar=\*-\*-\* \d\d:\d\d:00 Europe/Berlin", timer)
    assert "ExecStart=" in (out / "rota-monitor-health.service").read_text()
    k8s = rota("-c", str(cfg), "schedule", "export", "--format", "k8s")
    assert k8s.out.count("kind: CronJob") == 2 and "concurrencyPolicy: Forbid" in k8s.out


def test_two_concurrent_runs_of_one_task_do_not_both_run(
    rota, tmp_path: Path, platform: Platform
) -> None:  # type: ignore[no-untyped-def]
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "rota_slow.py").write_text(
        "import os, pathlib, time\nfrom rota.task import task\nfrom rota.model import Finding, Severity\n"
        "def _run(ctx):\n"
        "    if os.environ.get('ROTA_T_READY'):  # say it runs, and so holds the task's lock\n"
        "        pathlib.Path(os.environ['ROTA_T_READY']).write_text('running')\n"
        "    time.sleep(3)\n    yield Finding('slow.ok', Severity.OK, 'slept')\n"
        "T = task(id='slow.sleep', title='Sleep', section='Test', frequency='daily', priority='low', purpose='p',"
        " prerequisites=['x'], procedure=['y'], expected_outcome='z', rollback='r', time_estimate='3s',"
        " codes=('slow.ok',))(_run)\n"
        "def register(registry):\n    registry.add(T)\n"
    )
    dist = plugin / "rota_slow-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rota-slow\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[rota.tasks]\nslow = rota_slow:register\n")
    cfg = write_config(tmp_path, platform)
    import os

    env = {**os.environ, "PYTHONPATH": str(plugin), "XDG_STATE_HOME": str(tmp_path / "state")}

    def start_running(name: str) -> subprocess.Popen[str]:
        """A run of slow.sleep in the background, returned once its task runs."""
        running = tmp_path / f"{name}.running"
        proc = subprocess.Popen(
            [sys.executable, "-m", "rota", "-c", str(cfg), "run", "slow.sleep", "--format", "json"],
            env={**env, "ROTA_T_READY": str(running)},
            stdout=subprocess.PIPE,
            text=True,
        )
        wait_for_file(running)
        return proc

    first = start_running("first")
    second = rota(
        "-c",
        str(cfg),
        "run",
        "slow.sleep",
        "--format",
        "json",
        extra_env={"PYTHONPATH": str(plugin)},
    )
    out, _ = first.communicate(timeout=30)
    assert json.loads(out)["status"] == "ok"
    assert second.code == 3
    assert "slow.sleep is already running (pid" in json.loads(second.out)["tasks"][0]["error"]
    third = start_running("third")
    t0 = time.monotonic()
    waited = rota(
        "-c",
        str(cfg),
        "run",
        "slow.sleep",
        "--wait",
        "20",
        "--format",
        "json",
        extra_env={"PYTHONPATH": str(plugin)},
    )
    third.communicate(timeout=30)
    assert waited.code == 0 and time.monotonic() - t0 > 3  # it waited for the third, then ran
    hist = json.loads(
        rota(
            "-c",
            str(cfg),
            "history",
            "slow.sleep",
            "--format",
            "json",
            extra_env={"PYTHONPATH": str(plugin)},
        ).out
    )
    assert len(hist) == 3  # first, third and the waiting run; the skipped one is not recorded
    assert all(h["status"] == "ok" for h in hist)


def test_the_daemon_runs_what_is_due_once_and_then_nothing(
    rota, tmp_path: Path, platform: Platform
) -> None:  # type: ignore[no-untyped-def]
    cfg = write_config(tmp_path, platform)
    first = rota("-c", str(cfg), "daemon", "--once")
    assert first.code == 0, first.err
    assert "ran 2 due task(s): ok" in first.err
    second = rota("-c", str(cfg), "daemon", "--once")
    assert second.code == 0 and "nothing due" in second.err


def test_history_shows_one_run_in_full(rota, tmp_path: Path, platform: Platform) -> None:  # type: ignore[no-untyped-def]
    cfg = write_config(tmp_path, platform)
    platform.health_status = 500
    assert rota("-c", str(cfg), "run", "monitor.health").code == 2
    runs = json.loads(rota("-c", str(cfg), "history", "monitor", "--format", "json").out)
    assert len(runs) == 1 and runs[0]["status"] == "critical"
    full = json.loads(
        rota("-c", str(cfg), "history", "--run", str(runs[0]["run"]), "--format", "json").out
    )
    assert full["findings"][0]["code"] == "monitor.health.status"
    assert full["findings"][0]["evidence"]["status"] == 500
    table = rota("-c", str(cfg), "history", "--run", str(runs[0]["run"]))
    assert "answered HTTP 500" in table.out


# --- issue 12: one CLI grammar that forgives ---------------------------------------------


def _strict_json(text: str) -> object:
    def refuse(constant: str) -> object:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_global_options_are_accepted_after_the_subcommand(
    rota, tmp_path: Path, platform: Platform
) -> None:  # type: ignore[no-untyped-def]
    cfg = write_config(tmp_path, platform)
    r = rota("run", "-c", str(cfg), "--all", "-f", "json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["target"] == "testplat"
    assert rota("due", f"--config={cfg}", "-f", "json").code == 0
    assert rota("schedule", "export", "-c", str(cfg)).code == 0
    r = rota("tasks", "--debug")
    assert r.code == 0 and "monitor.health" in r.out
    r = rota("run", "monitor.health", "-c", str(tmp_path / "missing.toml"))
    assert r.code == 4 and "missing.toml does not exist" in r.err


def test_every_command_accepts_table_and_its_alias_console(
    rota, tmp_path: Path, platform: Platform
) -> None:  # type: ignore[no-untyped-def]
    cfg = write_config(tmp_path, platform)
    for fmt in ("table", "console"):
        r = rota("-c", str(cfg), "run", "monitor.health", "-f", fmt)
        assert r.code == 0 and "monitor.health" in r.out, r.err
        for cmd in (["tasks"], ["due"], ["history"], ["alerts", "history"]):
            r = rota("-c", str(cfg), *cmd, "-f", fmt)
            assert r.code == 0, (cmd, r.err)
    r = rota("tasks", "-f", "xml")
    assert r.code == 4 and r.err.strip() == "rota: --format 'xml': choose one of table, json"


def test_o_names_a_file_everywhere_and_out_dir_a_directory(
    rota, tmp_path: Path, platform: Platform
) -> None:  # type: ignore[no-untyped-def]
    cfg = write_config(tmp_path, platform)
    cron = tmp_path / "rota.cron"
    assert rota("-c", str(cfg), "schedule", "export", "-o", str(cron)).code == 0
    assert "monitor.health" in cron.read_text()
    r = rota("-c", str(cfg), "schedule", "export", "-f", "systemd", "-o", str(tmp_path / "x"))
    assert r.code == 4 and "--out-dir" in r.err
    units = tmp_path / "units"
    assert (
        rota("-c", str(cfg), "schedule", "export", "-f", "systemd", "--out-dir", str(units)).code
        == 0
    )
    assert (units / "rota-monitor-health.timer").exists()
    # The old spellings still work, with a note.
    r = rota("-c", str(cfg), "schedule", "export", "-f", "systemd", "--out", str(tmp_path / "old"))
    assert r.code == 0 and "deprecated" in r.err and (tmp_path / "old").is_dir()
    r = rota("docs", "-o", str(tmp_path / "book"))
    assert r.code == 0 and "use --out-dir" in r.err and (tmp_path / "book" / "index.md").exists()
    assert "deprecated" in rota("docs", "--help").out.lower()


def test_report_and_history_take_the_same_time_grammar_as_logs(
    rota, tmp_path: Path, platform: Platform
) -> None:  # type: ignore[no-untyped-def]
    cfg = write_config(tmp_path, platform)
    assert rota("-c", str(cfg), "run", "monitor.health").code == 0
    for since in ("today", "1h", "2020-01-01T00:00:00"):
        r = rota("-c", str(cfg), "report", "--since", since, "-f", "json")
        assert r.code == 0, r.err
        assert [t["id"] for t in json.loads(r.out)["tasks"]] == ["monitor.health"]
        hist = json.loads(rota("-c", str(cfg), "history", "--since", since, "-f", "json").out)
        assert [h["task"] for h in hist] == ["monitor.health"]
    before = json.loads(rota("-c", str(cfg), "history", "--until", "1h", "-f", "json").out)
    assert before == []
    r = rota("-c", str(cfg), "report", "--until", "1h", "-f", "json")
    assert r.code == 0 and json.loads(r.out)["tasks"] == []
    r = rota("-c", str(cfg), "report", "--since", "last tuesday")
    assert r.code == 4 and "give today, a duration (1h, 7d) or an ISO time" in r.err


def test_commands_that_touch_no_target_do_not_need_its_secrets(
    rota, tmp_path: Path, platform: Platform
) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "rota.toml"
    cfg.write_text(
        f'[http]\nbase_url = "{platform.url}"\nadmin_token = "${{ROTA_T_UNSET_KEY}}"\n'
        f'[history]\nurl = "sqlite:///{tmp_path / "h.db"}"\n'
    )
    for cmd in (["due"], ["tasks"], ["schedule", "export"], ["docs", "--out-dir", "book"]):
        r = rota("-c", str(cfg), *cmd)
        assert r.code == 0, (cmd, r.err)
    assert "monitor.health" in rota("-c", str(cfg), "schedule", "export").out
    r = rota("-c", str(cfg), "run", "--all")  # a run uses the token: it is still required
    assert r.code == 4 and "ROTA_T_UNSET_KEY is not set" in r.err


def test_due_prints_a_plain_aligned_table_when_piped(
    rota, tmp_path: Path, platform: Platform
) -> None:  # type: ignore[no-untyped-def]
    cfg = write_config(tmp_path, platform)
    r = rota("-c", str(cfg), "due", extra_env={"COLUMNS": "80"})
    assert r.code == 0 and "…" not in r.out and "│" not in r.out
    lines = r.out.splitlines()
    assert lines[0].split()[:3] == ["task", "section", "frequency"]
    health = next(ln for ln in lines if ln.startswith("monitor.health"))
    assert "Monitoring and alerting" in health
    assert health.index("daily") == lines[0].index("frequency")


def test_a_misspelt_task_override_stops_a_run_with_a_suggestion(
    rota, tmp_path: Path, platform: Platform
) -> None:  # type: ignore[no-untyped-def]
    cfg = write_config(tmp_path, platform, '[tasks."monitor.helth"]\nenabled = false\n')
    for cmd in (["run", "--all"], ["run", "monitor.health"], ["daemon", "--once"]):
        r = rota("-c", str(cfg), *cmd)
        assert r.code == 4, (cmd, r.err)
        assert r.err.strip().splitlines() == [
            f'rota: {cfg}: tasks."monitor.helth": no such task; did you mean monitor.health?'
        ]


def test_history_of_one_run_is_strict_json_with_nan_as_null(
    rota, tmp_path: Path, platform: Platform
) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from rota.history import open_history
    from rota.model import Metric, TaskOutcome

    cfg = write_config(tmp_path, platform)
    hist = open_history(f"sqlite:///{tmp_path / 'history.db'}")
    now = datetime.now(UTC)
    run_id = hist.start_run(
        task_id="monitor.health",
        mode="check",
        target="t",
        started_at=now,
        run_group="g",
        host="h",
        pid=1,
    )
    outcome = TaskOutcome("monitor.health", now, now)
    outcome.metrics.append(Metric("monitor.health.latency", float("nan"), "ms"))
    hist.finish_run(run_id, outcome)
    hist.close()
    r = rota("-c", str(cfg), "history", "--run", str(run_id), "-f", "json")
    assert r.code == 0, r.err
    full = _strict_json(r.out)
    assert full["metrics"][0]["value"] is None  # type: ignore[index]
