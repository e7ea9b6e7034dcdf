"""The engine: audit first, isolation of failures, timeouts, locks, modes, redaction."""

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest

from rota.config import parse_config
from rota.engine import Engine
from rota.errors import LockBusy
from rota.history import History, open_history
from rota.locks import FileLock, lock_path
from rota.model import Finding, Metric, Severity, StepStatus, TaskOutcome
from rota.targets.postgres import Postgres
from rota.task import Context, Item
from rota.testing import findings, run_task, wait_for_file
from samples import make_task

# Every code this file's tasks yield: the engine holds a task to the codes it declares.
CODES = (
    "a",
    "b",
    "c",
    "x",
    "t.audit",
    "t.dur",
    "t.fine",
    "t.hold",
    "t.leak",
    "t.mode",
    "t.new",
    "t.stubborn",
)


def make(id: str, run, **kw):  # type: ignore[no-untyped-def]
    return make_task(id, run, **{"codes": CODES, **kw})


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    h = open_history(f"sqlite:///{tmp_path / 'history.db'}")
    yield h
    h.close()


def engine(history: History, tmp_path: Path, toml: str = "", **kw) -> Engine:  # type: ignore[no-untyped-def]
    """An engine to hold on to: for runs of several tasks, or a look at its locks."""
    return Engine(parse_config(toml, **kw), history, lock_dir=tmp_path / "state")


def test_it_records_the_run_as_running_before_the_task_starts(history: History) -> None:
    seen: list[str] = []

    def run(ctx: Context) -> Iterator[Item]:
        seen.append(history.runs("t.audit")[0].status)
        yield Finding("t.audit", Severity.OK, "fine")

    run_task(make("t.audit", run), history=history)
    assert seen == ["running"]
    assert history.runs("t.audit")[0].status == "ok"


def test_a_failing_task_is_unknown_with_the_reason_and_the_others_still_run(
    history: History, tmp_path: Path
) -> None:
    def boom(ctx: Context) -> Iterator[Item]:
        yield Metric("half.done", 1)
        raise ZeroDivisionError("division by zero")

    def fine(ctx: Context) -> Iterator[Item]:
        yield Finding("t.fine", Severity.WARNING, "a warning")

    rep = engine(history, tmp_path).run([make("t.boom", boom), make("t.fine", fine)])
    boom_out, fine_out = rep.tasks
    assert boom_out.status is Severity.UNKNOWN
    assert "ZeroDivisionError: division by zero" in (boom_out.error or "")
    assert boom_out.metrics == [Metric("half.done", 1)]
    assert fine_out.status is Severity.WARNING
    assert rep.status is Severity.UNKNOWN
    assert [r.status for r in history.runs()] == ["warning", "unknown"]


def test_a_task_past_its_timeout_is_cancelled_and_recorded_unknown(history: History) -> None:
    cancelled = threading.Event()

    def slow(ctx: Context) -> Iterator[Item]:
        ctx.on_cancel(cancelled.set)
        yield Metric("started", 1)
        ctx.cancelled.wait(30)

    t0 = time.monotonic()
    out = run_task(make("t.slow", slow, timeout="1s"), history=history)
    assert time.monotonic() - t0 < 8
    assert cancelled.is_set()
    assert out.error == "timed out after 1.0s"
    assert history.runs("t.slow")[0].status == "unknown"


def test_a_tasks_status_is_its_worst_finding(history: History) -> None:
    def mixed(ctx: Context) -> Iterator[Item]:
        yield Finding("a", Severity.OK, "ok")
        yield Finding("b", Severity.CRITICAL, "bad", "public.messages")
        yield Finding("c", Severity.WARNING, "meh")

    out = run_task(make("t.mixed", mixed), history=history)
    assert out.status is Severity.CRITICAL
    assert out.summary == "bad (+1 more)"


def _changer(calls: list[str]):  # type: ignore[no-untyped-def]
    def run(ctx: Context) -> Iterator[Item]:
        yield ctx.action(
            "VACUUM FULL public.messages",
            lambda: calls.append("did it") or {"bytes_reclaimed": 10},
            reason="bloat 45%",
            lock="ACCESS EXCLUSIVE",
            estimate_s=12,
            sql="VACUUM FULL public.messages",
        )

    return run


def test_check_mode_plans_actions_without_performing_them(history: History) -> None:
    calls: list[str] = []
    out = run_task(make("t.change", _changer(calls), mutates=True), history=history)
    assert calls == []
    (step,) = out.steps
    assert step.status is StepStatus.PLANNED
    assert step.detail == {
        "reason": "bloat 45%",
        "lock": "ACCESS EXCLUSIVE",
        "estimate_s": 12,
        "sql": "VACUUM FULL public.messages",
    }
    assert not out.changed


def test_apply_mode_performs_and_times_each_action(history: History) -> None:
    calls: list[str] = []
    out = run_task(make("t.change", _changer(calls), mutates=True), apply=True, history=history)
    assert calls == ["did it"]
    (step,) = out.steps
    assert step.status is StepStatus.DONE and step.detail["bytes_reclaimed"] == 10
    assert out.changed
    assert history.runs("t.change")[0].changed and history.runs("t.change")[0].mode == "apply"


def test_a_failed_action_is_a_failed_step_not_a_crash(history: History) -> None:
    def run(ctx: Context) -> Iterator[Item]:
        yield ctx.action("drop it", lambda: 1 / 0, reason="test")

    out = run_task(make("t.fail", run, mutates=True), apply=True, history=history)
    assert out.steps[0].status is StepStatus.FAILED
    assert out.steps[0].detail["error"] == "ZeroDivisionError: division by zero"


def test_mutating_work_waits_for_the_maintenance_window(history: History, tmp_path: Path) -> None:
    calls: list[str] = []
    eng = engine(history, tmp_path, '[schedule]\nwindow = "Sun 02:00-03:00 UTC"\n')
    eng.now = lambda: datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # a Saturday noon
    out = eng.run([make("t.change", _changer(calls), mutates=True)], apply=True).tasks[0]
    assert calls == [] and out.skipped
    assert "outside the maintenance window" in (out.skip_reason or "")
    assert history.runs("t.change") == []
    forced = eng.run(
        [make("t.change", _changer(calls), mutates=True)], apply=True, ignore_window=True
    )
    assert calls == ["did it"] and forced.tasks[0].changed


def test_an_unconfigured_task_is_skipped_in_bulk_but_unknown_when_named(
    history: History, tmp_path: Path
) -> None:
    def run(ctx: Context) -> Iterator[Item]:
        yield Finding("x", Severity.OK, "never here")

    t = make("t.db", run, needs=("postgres",))
    bulk = engine(history, tmp_path).run([t])
    assert bulk.tasks[0].skip_reason == "[database] url is not set"
    assert bulk.status is Severity.OK
    named = engine(history, tmp_path).run([t], explicit=["t.db"])
    assert named.tasks[0].error == "not configured: [database] url is not set"
    assert named.status is Severity.UNKNOWN


def test_secrets_never_reach_the_report_or_the_history(
    history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTA_T_TOKEN", "tok-very-secret-123")

    def leaky(ctx: Context) -> Iterator[Item]:
        token = ctx.config.http.admin_token.get_secret_value()  # type: ignore[union-attr]
        yield Finding(
            "t.leak",
            Severity.WARNING,
            f"sent {token}",
            evidence={"header": f"Bearer {token}", "url": "postgresql://a:pass1234@h/db"},
        )

    toml = '[http]\nbase_url = "http://127.0.0.1:1"\nadmin_token = "${ROTA_T_TOKEN}"\n'
    rep = engine(history, tmp_path, toml).run([make("t.leak", leaky)])
    stored = history.outcome(history.runs("t.leak")[0].id)
    for text in (str(rep.to_dict()), str(stored.to_dict())):
        assert "tok-very-secret-123" not in text and "pass1234" not in text
    assert stored.findings[0].message == "sent ***"


def _forty_second_check_runs(history: History, task_id: str) -> None:
    """Six earlier check-mode runs of ``task_id``, one a day, 40 s each."""
    base = datetime.now(UTC) - timedelta(days=10)
    for i in range(6):
        started = base + timedelta(days=i)
        rid = history.start_run(
            task_id=task_id,
            mode="check",
            target="rota",
            started_at=started,
            run_group="g",
            host="h",
            pid=1,
        )
        history.finish_run(rid, TaskOutcome(task_id, started, started + timedelta(seconds=40)))


def test_a_run_much_faster_than_its_history_is_a_finding(history: History) -> None:
    _forty_second_check_runs(history, "t.dur")

    def quick(ctx: Context) -> Iterator[Item]:
        yield Finding("t.dur", Severity.OK, "fine")

    out = run_task(make("t.dur", quick), history=history)
    anomaly = findings(out, "rota.duration.anomaly")
    assert anomaly and "much faster than the median of the last 6 runs (40s)" in anomaly[0].message


def test_a_busy_lock_skips_the_second_run_and_records_nothing_twice(
    history: History, tmp_path: Path
) -> None:
    started, release = threading.Event(), threading.Event()

    def hold(ctx: Context) -> Iterator[Item]:
        started.set()
        release.wait(10)
        yield Finding("t.hold", Severity.OK, "held")

    t = make("t.hold", hold)
    eng = engine(history, tmp_path)
    first: list[object] = []
    th = threading.Thread(target=lambda: first.append(eng.run([t])))
    th.start()
    assert started.wait(5)
    second = engine(history, tmp_path).run([t]).tasks[0]
    release.set()
    th.join(10)
    assert second.error is not None and "t.hold is already running (pid" in second.error
    assert len(history.runs("t.hold")) == 1


def test_runs_older_than_keep_days_are_pruned_after_a_run(history: History) -> None:
    old = datetime.now(UTC) - timedelta(days=40)
    rid = history.start_run(
        task_id="t.old", mode="check", target="rota", started_at=old, run_group="g", host="h", pid=1
    )
    history.finish_run(rid, TaskOutcome("t.old", old, old + timedelta(seconds=1)))

    def fine(ctx: Context) -> Iterator[Item]:
        yield Finding("t.new", Severity.OK, "fine")

    run_task(make("t.new", fine), "[history]\nkeep_days = 30\n", history=history)
    assert [r.task_id for r in history.runs()] == ["t.new"]


def test_apply_durations_are_compared_with_apply_history_only(history: History) -> None:
    _forty_second_check_runs(history, "t.mode")  # check runs only
    assert len(history.durations("t.mode", mode="check")) == 6
    assert history.durations("t.mode", mode="apply") == []

    def quick(ctx: Context) -> Iterator[Item]:
        yield Finding("t.mode", Severity.OK, "fine")

    out = run_task(make("t.mode", quick), apply=True, history=history)
    assert [f.code for f in out.findings] == ["t.mode"]  # no anomaly against check-mode history


# -- a timeout ends the work before the locks are released ----------------------------------
def _running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting for its reaper has stopped)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _lock_is_free(eng: Engine, task_id: str) -> bool:
    lock = FileLock(lock_path(eng.lock_dir, eng.config.target.name, task_id))
    try:
        lock.acquire()
    except LockBusy:
        return False
    lock.release()
    return True


def _db_toml(pg_url: str) -> str:
    return f'[database]\nurl = "{pg_url}"\n'


def _pg(pg_url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def _advisory_locks(pg_url: str) -> int:
    return int(
        _pg(
            pg_url,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )[0][0]
    )


def _sleeping_backends(pg_url: str) -> list[tuple[Any, ...]]:
    return _pg(
        pg_url,
        "SELECT pid, state FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%' "
        "AND state <> 'idle' AND pid <> pg_backend_pid()",
    )


def test_a_timeout_kills_the_tasks_subprocesses_before_its_lock_is_released(
    history: History, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    # sh and a child of its own: the whole process group goes, not only the leader.
    script = f"sleep 60 & echo $! > {pids}.tmp; echo $$ >> {pids}.tmp; mv {pids}.tmp {pids}; wait"
    freed: list[bool] = []

    def runs_a_tool(ctx: Context) -> Iterator[Item]:
        yield Metric("started", 1)
        ctx.target("pgtools").run(["sh", "-c", script])

    eng = engine(history, tmp_path)
    t = make("t.tool", runs_a_tool, timeout="1s", needs=("pgtools",))
    watcher = threading.Thread(target=lambda: freed.append(_wait_for_lock(eng, "t.tool")))
    t0 = time.monotonic()
    watcher.start()
    out = eng.run([t]).tasks[0]
    watcher.join(10)
    assert time.monotonic() - t0 < 8
    assert out.error == "timed out after 1.0s"
    started = [int(p) for p in pids.read_text().split()]
    assert len(started) == 2
    assert not any(_running(p) for p in started)
    assert freed == [True] and _lock_is_free(eng, "t.tool")
    assert history.runs("t.tool")[0].status == "unknown"


def _wait_for_lock(eng: Engine, task_id: str) -> bool:
    """Wait until the run holds ``task_id``'s lock, then until it lets go; True when every
    process the task started was gone by then."""
    # Probe the lock only once the task runs (it wrote its pids): a probe takes the lock
    # for a moment, and one at the run's start would make the run find it busy.
    started = [int(p) for p in wait_for_file(eng.lock_dir.parent / "pids").split()]
    deadline = time.monotonic() + 10
    while not _lock_is_free(eng, task_id):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return not any(_running(p) for p in started)


def test_a_timeout_cancels_the_tasks_query_on_the_server(
    history: History, tmp_path: Path, pg_url: str
) -> None:
    def sleeps(ctx: Context) -> Iterator[Item]:
        yield Metric("started", 1)
        ctx.target("postgres").query("SELECT pg_sleep(60)")

    eng = engine(history, tmp_path, _db_toml(pg_url))
    t0 = time.monotonic()
    out = eng.run([make("t.sleepy", sleeps, timeout="1s", needs=("postgres",))]).tasks[0]
    assert time.monotonic() - t0 < 8
    assert out.error == "timed out after 1.0s"
    assert _sleeping_backends(pg_url) == []
    assert _advisory_locks(pg_url) == 0 and _lock_is_free(eng, "t.sleepy")


def test_a_timeout_cancels_a_session_the_task_opened_and_tracked_itself(
    history: History, tmp_path: Path, pg_url: str
) -> None:
    def sleeps(ctx: Context) -> Iterator[Item]:
        # Not through ctx.target, so nothing but the engine's pg_cancel_backend stops it.
        pg = Postgres(pg_url, application_name="rota-test:own")
        ctx.track_session(pg)
        try:
            yield Metric("started", 1)
            pg.query("SELECT pg_sleep(60)")
        finally:
            pg.close()

    eng = engine(history, tmp_path, _db_toml(pg_url))
    eng.cancel_grace = 3
    t0 = time.monotonic()
    out = eng.run([make("t.own", sleeps, timeout="1s")]).tasks[0]
    assert time.monotonic() - t0 < 8
    assert out.error == "timed out after 1.0s"  # stopped, not "still stopping"
    assert _sleeping_backends(pg_url) == []


def test_a_backend_that_lingers_in_its_transaction_is_terminated(
    history: History, tmp_path: Path, pg_url: str
) -> None:
    stop = threading.Event()
    pids: list[int] = []

    def holds(ctx: Context) -> Iterator[Item]:
        pg = Postgres(pg_url, readonly=False, application_name="rota-test:linger")
        ctx.track_session(pg)
        yield Metric("started", 1)
        with pg.transaction() as conn:
            pids.append(pg.backend_pid() or 0)
            conn.execute("LOCK TABLE users IN SHARE MODE")
            try:
                conn.execute("SELECT pg_sleep(60)")
            except psycopg.Error:
                stop.wait(30)  # ignores the cancel, its transaction (and lock) still open

    eng = engine(history, tmp_path, _db_toml(pg_url))
    eng.cancel_grace = 0.5
    try:
        out = eng.run([make("t.linger", holds, timeout="1s")]).tasks[0]
        assert out.error == "timed out after 1.0s; still stopping"
        gone = _pg(pg_url, f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pids[0]}")
        assert gone == [(0,)]
        assert _pg(pg_url, "SELECT count(*) FROM pg_locks WHERE relation = 'users'::regclass") == [
            (0,)
        ]
    finally:
        stop.set()


def test_a_task_that_ignores_cancellation_keeps_its_locks_until_it_ends(
    history: History, tmp_path: Path, pg_url: str
) -> None:
    stop = threading.Event()

    def stubborn(ctx: Context) -> Iterator[Item]:
        yield Metric("started", 1)
        while not stop.is_set():  # never looks at ctx.cancelled
            time.sleep(0.01)
        yield Finding("t.stubborn", Severity.OK, "late")

    t = make("t.stubborn", stubborn, timeout="1s")
    eng = engine(history, tmp_path, _db_toml(pg_url))
    eng.cancel_grace = 0.3
    try:
        first = eng.run([t]).tasks[0]
        assert first.error == "timed out after 1.0s; still stopping"
        assert history.runs("t.stubborn")[0].status == "unknown"
        second = engine(history, tmp_path, _db_toml(pg_url)).run([t]).tasks[0]
        assert second.error is not None
        assert "t.stubborn is already running (pid" in second.error
        assert "still stopping after a timeout" in second.error
        assert len(history.runs("t.stubborn")) == 1  # never ran beside it
        assert _advisory_locks(pg_url) == 1
    finally:
        stop.set()
    deadline = time.monotonic() + 5
    while not _lock_is_free(eng, "t.stubborn") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _lock_is_free(eng, "t.stubborn")
    assert _advisory_locks(pg_url) == 0
    assert first.findings == []  # what it yielded after the timeout was not recorded
    stop.clear()
    third = engine(history, tmp_path, _db_toml(pg_url)).run(
        [make("t.stubborn", lambda ctx: iter([Finding("t.stubborn", Severity.OK, "ok")]))]
    )
    assert third.tasks[0].error is None and len(history.runs("t.stubborn")) == 2
