"""The history store, against SQLite (a temp file) and a real PostgreSQL (``pg_url``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from rota.errors import HistoryError
from rota.history import History, RunRecord, open_history, redact_url
from rota.history.migrations import MIGRATIONS, Migration
from rota.model import Finding, Metric, Severity, Step, StepStatus, TaskOutcome
from rota.testing import wait_for_file

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture
def url(history_url: str) -> str:
    return history_url


def start(h: History, task_id: str = "db.vacuum", at: datetime = T0, **kw: Any) -> int:
    args: dict[str, Any] = {
        "task_id": task_id,
        "mode": "check",
        "target": "prod",
        "started_at": at,
        "run_group": "g1",
        "host": "web1",
        "pid": 4242,
    }
    args.update(kw)
    return h.start_run(**args)


def record(
    h: History,
    task_id: str = "db.vacuum",
    at: datetime = T0,
    *,
    took: float = 2.0,
    findings: list[Finding] | None = None,
    metrics: list[Metric] | None = None,
    steps: list[Step] | None = None,
    error: str | None = None,
    **kw: Any,
) -> int:
    run_id = start(h, task_id, at, **kw)
    h.finish_run(
        run_id,
        TaskOutcome(
            task_id,
            at,
            at + timedelta(seconds=took),
            findings=findings if findings is not None else [ok(task_id)],
            metrics=metrics or [],
            steps=steps or [],
            error=error,
        ),
    )
    return run_id


def ok(task_id: str = "db.vacuum") -> Finding:
    return Finding(f"{task_id}.ok", Severity.OK, "all good")


def sample_outcome(task_id: str = "db.vacuum", at: datetime = T0) -> TaskOutcome:
    return TaskOutcome(
        task_id,
        at,
        at + timedelta(seconds=3.25),
        findings=[
            Finding(
                "db.bloat.table",
                Severity.WARNING,
                "messages is 41% bloat",
                subject="public.messages",
                evidence={
                    "ratio": 0.41,
                    "query": "SELECT * FROM pgstattuple($1)",
                    "nested": [1, {"a": "b"}],
                },
                remedy="VACUUM FULL public.messages in the window",
            ),
            Finding("db.bloat.table", Severity.OK, "users is fine", subject="public.users"),
            Finding("db.vacuum.ünïcode", Severity.CRITICAL, "naïve — ☃", evidence={"ü": "☃"}),
        ],
        metrics=[
            Metric("db.bloat.ratio", 0.41, "ratio", {"table": "messages"}),
            Metric("db.bloat.ratio", 0.02, "ratio", {"table": "users"}),
            Metric("db.connections.active", 12, "count"),
        ],
        steps=[
            Step(
                "VACUUM ANALYZE public.messages",
                StepStatus.DONE,
                1.5,
                {"reason": "bloat", "lock": "none"},
            ),
            Step("VACUUM FULL public.messages", StepStatus.PLANNED, 0.0, {"estimate_s": 30.0}),
        ],
    )


# -- migrations ---------------------------------------------------------------------------


def test_it_applies_every_migration_once_and_records_it_by_name(url: str) -> None:
    with open_history(url) as first:
        assert first.applied_migrations() == [m.name for m in MIGRATIONS]
        run_id = start(first)
    with open_history(url) as second:
        # Reopening changes nothing: the same names, no new ones, and the data is intact.
        assert second.applied_migrations() == [m.name for m in MIGRATIONS]
        assert second.migrate() == []
        run = second.last_run("db.vacuum")
        assert run is not None and run.id == run_id


def test_it_applies_a_new_migration_once_in_order(history: History) -> None:
    extra = Migration("9001_extra_table", ("CREATE TABLE rota_extra (x INTEGER NOT NULL)",))
    later = Migration("9002_extra_index", ("CREATE INDEX rota_extra_x ON rota_extra (x)",))
    assert history.migrate((*MIGRATIONS, extra, later)) == ["9001_extra_table", "9002_extra_index"]
    # Run again, it would fail if it re-ran CREATE TABLE; it must find nothing to do.
    assert history.migrate((*MIGRATIONS, extra, later)) == []
    assert history.applied_migrations()[-2:] == ["9001_extra_table", "9002_extra_index"]


def test_it_rolls_back_a_failing_migration_and_does_not_record_it(history: History) -> None:
    broken = Migration(
        "9003_half_done",
        ("CREATE TABLE rota_half (x INTEGER)", "CREATE TABLE rota_half (x INTEGER)"),
    )
    with pytest.raises(HistoryError, match="cannot migrate"):
        history.migrate((*MIGRATIONS, broken))
    assert "9003_half_done" not in history.applied_migrations()
    # The first statement was rolled back with the second: a fixed version applies cleanly.
    fixed = Migration("9003_half_done", ("CREATE TABLE rota_half (x INTEGER)",))
    assert history.migrate((*MIGRATIONS, fixed)) == ["9003_half_done"]


def test_it_rejects_duplicate_migration_names(history: History) -> None:
    twice = Migration("9004_twice", ("CREATE TABLE rota_twice (x INTEGER)",))
    with pytest.raises(ValueError, match="duplicate"):
        history.migrate((*MIGRATIONS, twice, twice))


# -- runs ---------------------------------------------------------------------------------


def test_it_records_the_run_as_running_before_the_task_starts(history: History, url: str) -> None:
    run_id = start(history)
    # Another connection (another rota process, the dashboard) sees the audit row at once.
    with open_history(url) as other:
        run = other.last_run("db.vacuum")
    assert run == RunRecord(
        id=run_id,
        run_group="g1",
        task_id="db.vacuum",
        mode="check",
        target="prod",
        status="running",
        started_at=T0,
        finished_at=None,
        duration_s=None,
        changed=False,
        summary="",
        error=None,
        host="web1",
        pid=4242,
    )


def test_it_completes_the_run_row_when_the_run_finishes(history: History) -> None:
    run_id = start(history, mode="apply")
    outcome = sample_outcome()
    history.finish_run(run_id, outcome)
    run = history.last_run("db.vacuum")
    assert run is not None
    assert (run.id, run.status, run.mode) == (run_id, "critical", "apply")
    assert run.finished_at == T0 + timedelta(seconds=3.25)
    assert run.duration_s == pytest.approx(3.25)
    assert run.changed is True  # the DONE step changed something
    assert run.summary == outcome.summary == "naïve — ☃ (+1 more)"
    assert run.error is None


def test_it_round_trips_an_outcome_with_findings_metrics_and_steps(history: History) -> None:
    run_id = start(history)
    outcome = sample_outcome()
    history.finish_run(run_id, outcome)
    back = history.outcome(run_id)
    assert back == outcome
    assert back.findings[0].evidence["nested"] == [1, {"a": "b"}]
    assert back.started_at.tzinfo is not None and back.started_at.utcoffset() == timedelta(0)


def test_it_round_trips_an_errored_outcome(history: History) -> None:
    run_id = start(history)
    outcome = TaskOutcome("db.vacuum", T0, T0 + timedelta(seconds=1), error="TimeoutError: 10m")
    history.finish_run(run_id, outcome)
    assert history.outcome(run_id) == outcome
    run = history.last_run("db.vacuum")
    assert run is not None and (run.status, run.error) == ("unknown", "TimeoutError: 10m")


def test_it_stores_evidence_json_cannot_hold_as_plain_values(history: History) -> None:
    run_id = start(history)
    evidence = {
        "size": Decimal("1024"),
        "ratio": Decimal("0.25"),
        "at": T0,
        "path": Path("/var/log/app.log"),
        "nan": float("nan"),
        "nul": "a\x00b",
        "tags": {"b", "a"},
        "took": timedelta(minutes=1, seconds=30),
    }
    history.finish_run(
        run_id,
        TaskOutcome(
            "db.vacuum",
            T0,
            T0,
            findings=[Finding("db.x", Severity.OK, "line\x00with nul", evidence=evidence)],
            metrics=[Metric("db.nan", float("nan")), Metric("db.inf", float("inf"))],
        ),
    )
    back = history.outcome(run_id)
    assert back.findings[0].evidence == {
        "size": 1024,
        "ratio": 0.25,
        "at": T0.isoformat(),
        "path": "/var/log/app.log",
        "nan": None,  # as run -f json writes it (docs/json-output.md)
        "nul": "a\ufffdb",
        "tags": ["a", "b"],
        "took": 90.0,
    }
    assert back.findings[0].message == "line\ufffdwith nul"
    assert [m.name for m in back.metrics] == ["db.nan", "db.inf"]
    assert back.metrics[1].value == float("inf")
    # NaN has no place in a trend: the series skips it.
    assert history.metric_series("db.nan") == []


def test_it_refuses_to_finish_a_run_it_does_not_know(history: History) -> None:
    with pytest.raises(HistoryError, match="no run 999"):
        history.finish_run(999, TaskOutcome("db.vacuum", T0, T0))
    with pytest.raises(HistoryError, match="no run 999"):
        history.outcome(999)


def test_it_marks_runs_of_dead_processes_on_this_host_abandoned(history: History) -> None:
    dead = start(history, "db.vacuum", pid=111)
    alive = start(history, "db.analyze", pid=222)
    elsewhere = start(history, "db.indexes", pid=111, host="web2")
    finished = record(history, "logs.cleanup", pid=111)
    asked: list[int] = []

    def is_alive(pid: int) -> bool:
        asked.append(pid)
        return pid == 222

    abandoned = history.abandon_stale(host="web1", is_alive=is_alive)
    assert [r.id for r in abandoned] == [dead]
    assert abandoned[0].status == "abandoned"
    assert abandoned[0].error is not None and "process 111" in abandoned[0].error
    assert sorted(asked) == [111, 222]  # only running rows of this host are checked
    status = {r.id: r.status for r in history.runs(limit=10)}
    assert status == {dead: "abandoned", alive: "running", elsewhere: "running", finished: "ok"}
    assert history.abandon_stale(host="web1", is_alive=is_alive) == []


def test_it_ignores_errored_abandoned_running_and_skipped_runs_as_successes(
    history: History,
) -> None:
    good = record(history, at=T0, mode="apply")
    good_check = record(history, at=T0 + timedelta(hours=1))
    record(history, at=T0 + timedelta(hours=2), error="TargetUnavailable: refused")
    start(history, at=T0 + timedelta(hours=3), pid=999_999)
    history.abandon_stale(host="web1", is_alive=lambda pid: False)
    start(history, at=T0 + timedelta(hours=4), pid=os.getpid())  # still running
    skipped = start(history, at=T0 + timedelta(hours=5))
    history.finish_run(
        skipped, TaskOutcome("db.vacuum", T0, T0, skip_reason="outside the maintenance window")
    )
    last = history.last_success("db.vacuum")
    assert last is not None and last.id == good_check
    last_apply = history.last_success("db.vacuum", mode="apply")
    assert last_apply is not None and last_apply.id == good
    assert history.last_success("db.never") is None
    last_run = history.last_run("db.vacuum")
    assert last_run is not None and last_run.id == skipped and last_run.skipped


def test_it_finds_the_last_success_of_every_task_in_one_call(history: History) -> None:
    record(history, "db.vacuum", T0)
    newest_vacuum = record(history, "db.vacuum", T0 + timedelta(days=7))
    record(history, "db.vacuum", T0 + timedelta(days=8), error="boom")
    analyze = record(history, "db.analyze", T0 + timedelta(days=1), mode="apply")
    start(history, "logs.cleanup")  # never finished: not a success
    found = history.last_successes()
    assert {k: v.id for k, v in found.items()} == {
        "db.analyze": analyze,
        "db.vacuum": newest_vacuum,
    }
    assert {k: v.id for k, v in history.last_successes(mode="apply").items()} == {
        "db.analyze": analyze
    }


def test_it_lists_the_durations_of_successful_runs_newest_first(history: History) -> None:
    record(history, at=T0, took=10)
    record(history, at=T0 + timedelta(days=1), took=12.5)
    record(history, at=T0 + timedelta(days=2), took=99, error="timed out")
    record(history, at=T0 + timedelta(days=3), took=11)
    record(history, "db.analyze", at=T0 + timedelta(days=4), took=1)
    assert history.durations("db.vacuum") == [11, 12.5, 10]
    assert history.durations("db.vacuum", limit=2) == [11, 12.5]


def test_it_lists_runs_by_task_prefix_and_since_newest_first(history: History) -> None:
    a = record(history, "db.vacuum", T0)
    b = record(history, "db.index_usage", T0 + timedelta(hours=1))
    c = record(history, "dbx.other", T0 + timedelta(hours=2))
    d = record(history, "logs.cleanup", T0 + timedelta(hours=3))
    assert [r.id for r in history.runs()] == [d, c, b, a]
    assert [r.id for r in history.runs(prefix="db")] == [b, a]
    assert [r.id for r in history.runs(prefix="db.")] == [b, a]
    # "_" is not a wildcard: the prefix is matched literally.
    assert [r.id for r in history.runs(prefix="db.index_usage")] == [b]
    assert [r.id for r in history.runs(prefix="db.index")] == []
    assert [r.id for r in history.runs("db.vacuum")] == [a]
    assert [r.id for r in history.runs(since=T0 + timedelta(hours=1))] == [d, c, b]
    assert [r.id for r in history.runs(limit=2)] == [d, c]
    assert history.last_run("db.nothing") is None


# -- metrics and findings -----------------------------------------------------------------


def test_it_filters_a_metric_series_by_labels_task_and_since(history: History) -> None:
    for day, (messages, users) in enumerate([(0.1, 0.01), (0.2, 0.01), (0.3, 0.02)]):
        record(
            history,
            at=T0 + timedelta(days=day),
            metrics=[
                Metric(
                    "db.bloat.ratio", messages, "ratio", {"table": "messages", "schema": "public"}
                ),
                Metric("db.bloat.ratio", users, "ratio", {"table": "users", "schema": "public"}),
            ],
        )
    record(
        history,
        "db.other",
        at=T0 + timedelta(days=5),
        metrics=[Metric("db.bloat.ratio", 0.9, "ratio", {"table": "messages"})],
    )
    series = history.metric_series(
        "db.bloat.ratio", task_id="db.vacuum", labels={"table": "messages"}
    )
    assert series == [(T0, 0.1), (T0 + timedelta(days=1), 0.2), (T0 + timedelta(days=2), 0.3)]
    assert [
        v for _, v in history.metric_series("db.bloat.ratio", labels={"table": "messages"})
    ] == [
        0.1,
        0.2,
        0.3,
        0.9,
    ]
    both = history.metric_series("db.bloat.ratio", labels={"table": "users", "schema": "public"})
    assert [v for _, v in both] == [0.01, 0.01, 0.02]
    assert history.metric_series("db.bloat.ratio", labels={"table": "users", "schema": "x"}) == []
    recent = history.metric_series(
        "db.bloat.ratio", labels={"table": "messages"}, since=T0 + timedelta(days=1, hours=1)
    )
    assert [v for _, v in recent] == [0.3, 0.9]
    # The newest points are kept when limited, still oldest first.
    assert [
        v for _, v in history.metric_series("db.bloat.ratio", task_id="db.vacuum", limit=2)
    ] in (
        [0.3, 0.02],
        [0.02, 0.3],
    )
    newest = history.metric_series("db.bloat.ratio", labels={"table": "messages"}, limit=2)
    assert [v for _, v in newest] == [0.3, 0.9]


def test_it_reports_findings_seen_in_earlier_runs(history: History) -> None:
    def group(code: str, subject: str) -> Finding:
        return Finding(code, Severity.WARNING, "error group", subject=subject)

    first = record(history, "logs.analyze", findings=[group("logs.group.new", "fp1"), ok("logs")])
    second = record(
        history,
        "logs.analyze",
        T0 + timedelta(days=1),
        findings=[group("logs.group.new", "fp1"), group("logs.group.new", "fp2")],
    )
    record(history, "db.other", findings=[group("logs.group.new", "fp9")])
    assert history.seen_findings("logs.analyze", code_prefix="logs.group.") == {
        ("logs.group.new", "fp1"),
        ("logs.group.new", "fp2"),
    }
    assert history.seen_findings("logs.analyze", code_prefix="logs.group.", before_run=second) == {
        ("logs.group.new", "fp1")
    }
    assert history.seen_findings("logs.analyze", before_run=first) == set()
    assert ("logs.ok", "") in history.seen_findings("logs.analyze")


# -- state --------------------------------------------------------------------------------


def test_it_upserts_task_state(history: History, url: str) -> None:
    assert history.get_state("logs.analyze", "offset") is None
    assert history.get_state("logs.analyze", "offset", 0) == 0
    history.set_state("logs.analyze", "offset", 1024)
    history.set_state("logs.analyze", "offset", 2048)
    history.set_state(
        "logs.analyze", "snapshot", {"inode": 7, "files": ["a.log", "b.log"], "ok": True}
    )
    history.set_state("db.analyze", "offset", "other task")
    history.set_state("logs.analyze", "nothing", None)
    with open_history(url) as other:
        assert other.get_state("logs.analyze", "offset") == 2048
        assert other.get_state("logs.analyze", "snapshot") == {
            "inode": 7,
            "files": ["a.log", "b.log"],
            "ok": True,
        }
        assert other.get_state("db.analyze", "offset") == "other task"
        assert other.get_state("logs.analyze", "nothing", "default") is None


def test_it_refuses_state_json_cannot_represent_exactly(history: History) -> None:
    with pytest.raises(ValueError):
        history.set_state("t.x", "k", float("nan"))
    with pytest.raises(TypeError):
        history.set_state("t.x", "k", object())
    assert history.get_state("t.x", "k", "unset") == "unset"


def test_it_lets_a_worker_thread_save_state_while_the_main_thread_records(history: History) -> None:
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for i in range(100):
                history.set_state("logs.analyze", "offset", i)
                history.get_state("logs.analyze", "offset")
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    for i in range(20):
        record(history, at=T0 + timedelta(minutes=i))
    thread.join()
    assert errors == []
    assert history.get_state("logs.analyze", "offset") == 99
    assert len(history.runs(limit=100)) == 20


# -- time, pruning ------------------------------------------------------------------------


def test_it_returns_timezone_aware_utc_times_for_any_aware_input(history: History) -> None:
    paris = timezone(timedelta(hours=2))
    run_id = start(history, started_at=datetime(2025, 3, 1, 14, 0, tzinfo=paris))
    run = history.last_run("db.vacuum")
    assert run is not None and run.id == run_id
    assert run.started_at == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert run.started_at.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="naive"):
        start(history, started_at=datetime(2025, 3, 1, 12, 0))


def test_it_prunes_old_runs_with_their_children_but_keeps_running_ones(history: History) -> None:
    old = record(history, at=T0, metrics=[Metric("m", 1)], steps=[Step("a", StepStatus.DONE)])
    old_running = start(history, at=T0, pid=os.getpid())
    new = record(history, at=T0 + timedelta(days=100), metrics=[Metric("m", 2)])
    assert history.prune(older_than=T0 + timedelta(days=30)) == 1
    assert {r.id for r in history.runs()} == {old_running, new}
    assert history.metric_series("m") == [(T0 + timedelta(days=100), 2.0)]
    assert history.seen_findings("db.vacuum") == {("db.vacuum.ok", "")}
    with pytest.raises(HistoryError):
        history.outcome(old)
    assert history.prune(older_than=T0 + timedelta(days=30)) == 0


# -- several processes --------------------------------------------------------------------

WRITER = """
import os, pathlib, sys, time
from datetime import UTC, datetime
from rota.history import open_history
from rota.model import Finding, Metric, Severity, TaskOutcome

url, name, n, ready, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
pathlib.Path(ready).write_text("imported")
while not os.path.exists(go):  # start with the other writer, not when imports happen to end
    time.sleep(0.001)
h = open_history(url)  # both open a fresh store at once: migrations must not collide
for i in range(n):
    now = datetime.now(UTC)
    run_id = h.start_run(task_id="t." + name, mode="check", target="x", started_at=now,
                         run_group=name, host="h", pid=os.getpid())
    h.finish_run(run_id, TaskOutcome("t." + name, now, datetime.now(UTC),
                 findings=[Finding("t.ok", Severity.OK, "ok", subject=str(i))],
                 metrics=[Metric("t.n", i, labels={"writer": name})]))
    h.set_state("t.shared", name, i)
h.close()
"""


def test_two_processes_write_to_one_store_at_the_same_time(url: str, tmp_path: Path) -> None:
    n = 150
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    ready = {name: tmp_path / f"{name}.ready" for name in ("a", "b")}
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, name, str(n), str(ready[name]), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    try:
        for path in ready.values():
            wait_for_file(path)
    except BaseException:
        for p in procs:
            p.kill()
        raise
    go.write_text("go")
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err
    with open_history(url) as h:
        assert h.applied_migrations() == [m.name for m in MIGRATIONS]
        for name in ("a", "b"):
            runs = h.runs(f"t.{name}", limit=1000)
            assert len(runs) == n
            assert {r.status for r in runs} == {"ok"}
            assert [v for _, v in h.metric_series("t.n", labels={"writer": name})] == [
                float(i) for i in range(n)
            ]
            assert h.get_state("t.shared", name) == n - 1


# -- opening and failing ------------------------------------------------------------------


def test_it_opens_the_default_file_under_xdg_state_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    with open_history(None) as h:
        assert h.dialect == "sqlite"
        assert h.url == f"sqlite:///{str(tmp_path).lstrip('/')}/xdg/rota/history.db"
    assert (tmp_path / "xdg" / "rota" / "history.db").is_file()
    with open_history(None, default_path=tmp_path / "elsewhere" / "h.db") as h:
        start(h)
    assert (tmp_path / "elsewhere" / "h.db").is_file()


def test_it_falls_back_to_local_state_in_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with open_history(None):
        pass
    assert (tmp_path / ".local" / "state" / "rota" / "history.db").is_file()


def test_it_accepts_the_usual_spellings_of_a_sqlite_location(tmp_path: Path) -> None:
    for url in (
        f"sqlite:///{tmp_path}/a.db",
        f"sqlite:////{tmp_path}/b.db",
        str(tmp_path / "c.db"),
    ):
        with open_history(url) as h:
            assert h.url.startswith("sqlite:///")
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["a.db", "b.db", "c.db"]
    with open_history("sqlite:///:memory:") as mem:
        assert mem.url == "sqlite:///:memory:"
        assert mem.migrate() == []
        start(mem)
        assert len(mem.runs()) == 1


def test_it_uses_wal_so_readers_do_not_block_the_writer(tmp_path: Path) -> None:
    with open_history(f"sqlite:///{tmp_path}/h.db"):
        pass
    import sqlite3

    conn = sqlite3.connect(tmp_path / "h.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def assert_one_line(exc: HistoryError, *, starts: str, hides: str = "s3cret") -> str:
    text = str(exc)
    assert "\n" not in text
    assert text.startswith(starts)
    assert hides not in text
    return text


def test_it_explains_an_unwritable_path_in_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(HistoryError) as info:
        open_history(f"sqlite:///{blocker}/sub/history.db")
    text = assert_one_line(
        info.value, starts=f"history: cannot open sqlite:///{str(blocker).lstrip('/')}"
    )
    assert text.endswith(f"{blocker} is not a directory")


def test_it_explains_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "history.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(HistoryError) as info:
        open_history(str(bad))
    assert "file is not a database" in assert_one_line(info.value, starts="history: cannot open")


def test_it_rejects_an_unknown_scheme_without_showing_the_password() -> None:
    with pytest.raises(HistoryError) as info:
        open_history("mysql://rota:s3cret@db.example/rota")
    text = assert_one_line(info.value, starts="history: unsupported URL mysql://rota:***@db")
    assert "postgresql://" in text


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://rota:s3cret@127.0.0.1:1/rota",
        "postgres://rota:s3cret@127.0.0.1:1/rota?sslmode=disable",
        "postgresql://rota@127.0.0.1:1/rota?password=s3cret",
        "postgresql://rota:s3cret@127.0.0.1:notaport/rota",
        "postgresql://rota:s3cret@/rota?host=/nonexistent",
    ],
)
def test_it_explains_an_unreachable_postgres_without_the_password(url: str) -> None:
    with pytest.raises(HistoryError) as info:
        open_history(url)
    assert_one_line(info.value, starts="history: cannot open postgres")


def test_it_redacts_passwords_from_urls() -> None:
    assert redact_url("postgresql://u:p%40ss@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact_url("postgresql://u:p@ss@h/db") == "postgresql://u:***@h/db"
    assert redact_url("postgresql://h/db?user=u&password=x&sslmode=require") == (
        "postgresql://h/db?user=u&password=***&sslmode=require"
    )
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert redact_url("sqlite:///tmp/x.db") == "sqlite:///tmp/x.db"


def test_it_shows_a_postgres_url_without_its_password(pg_url: str) -> None:
    # Under trust auth the server never asks for it, but the password must still not show.
    parts = urlsplit(pg_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    url = urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}:s3cret@{host}"))
    with open_history(url) as h:
        assert h.dialect == "postgresql"
        assert "s3cret" not in h.url and ":***@" in h.url
        assert "s3cret" not in repr(h)


def test_it_uses_native_types_in_postgres(pg_url: str) -> None:
    open_history(pg_url).close()
    with psycopg.connect(pg_url) as conn:
        types = dict(
            conn.execute(
                "SELECT table_name || '.' || column_name, data_type "
                "FROM information_schema.columns WHERE table_name LIKE 'rota%'"
            ).fetchall()
        )
    assert types["rota_runs.started_at"] == "timestamp with time zone"
    assert types["rota_runs.changed"] == "boolean"
    assert types["rota_findings.evidence"] == "jsonb"
    assert types["rota_metrics.labels"] == "jsonb"
    assert types["rota_metrics.value"] == "double precision"
    assert types["rota_state.value"] == "jsonb"


def test_it_reconnects_after_the_postgres_server_drops_the_connection(pg_url: str) -> None:
    with open_history(pg_url) as h, psycopg.connect(pg_url, autocommit=True) as admin:
        record(h)
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        # The call that meets the dead connection fails with one line...
        with pytest.raises(HistoryError) as info:
            h.runs()
        assert_one_line(info.value, starts="history: cannot read runs in postgresql://")
        # ...and the next one works on a fresh connection: a daemon is not stuck.
        assert len(h.runs()) == 1


def test_it_raises_history_error_once_closed(history: History) -> None:
    history.close()
    with pytest.raises(HistoryError, match="closed"):
        history.runs()
    history.close()  # closing twice is harmless


def test_importing_the_package_loads_neither_driver_nor_store() -> None:
    code = (
        "import sys, rota.history; "
        "print(sorted(m for m in ('psycopg', 'sqlite3', 'rota.history.store', 'rota.model') "
        "if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.replace("'", '"')) == []
