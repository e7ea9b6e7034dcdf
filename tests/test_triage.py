"""rota triage against a planted emergency: a real PostgreSQL with a blocking chain and a
slow query, a real HTTP service, a real leaking process, and real log files."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from conftest import Platform, write_config
from rota.app import App
from rota.config import load_config, parse_config
from rota.history import History, open_history
from rota.readonly import assert_read_only
from rota.testing import wait_for_file
from rota.triage import Options, Proposal, apply, incidents, run, snapshot
from rota.triage.actions import perform
from rota.triage.scoring import severity_of

LEAK_MB_PER_S = 20
LEAK_CAP_MB = 400


@dataclass
class Emergency:
    """What was planted, and how to reach it."""

    url: str
    config: Path
    root: psycopg.Connection[Any]  # holds a row lock in an open transaction
    waiters: list[psycopg.Connection[Any]]
    sleeper: psycopg.Connection[Any]  # runs pg_sleep
    leak: subprocess.Popen[bytes] | None
    threads: list[threading.Thread] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Kept: a terminated connection no longer knows its backend's pid.
        self.root_pid = int(self.root.info.backend_pid)
        self.sleeper_pid = int(self.sleeper.info.backend_pid)


def _in_thread(em: Emergency, name: str, conn: psycopg.Connection[Any], sql: str) -> None:
    def work() -> None:
        try:
            cur = conn.execute(sql)
            em.results[name] = cur.rowcount
        except psycopg.Error as exc:
            em.results[name] = exc

    t = threading.Thread(target=work, name=name, daemon=True)
    t.start()
    em.threads.append(t)


def _wait_for(url: str, sql: str, n: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as c:
        while time.monotonic() < deadline:
            row = c.execute(sql).fetchone()
            if row and row[0] >= n:
                return
            time.sleep(0.05)
    raise AssertionError(f"never reached {n}: {sql}")


def _leaky_process(tmp_path: Path, token: str) -> subprocess.Popen[bytes]:
    """A python child that grows by LEAK_MB_PER_S (up to LEAK_CAP_MB), named to match
    [process] match."""
    ready = tmp_path / "leak.ready"
    code = (
        "import pathlib, sys, time\n"
        "kept = []\n"
        f"pathlib.Path({str(ready)!r}).write_text('up')\n"
        f"while len(kept) < {LEAK_CAP_MB}:\n"
        "    kept.append(bytearray(1 << 20))\n"
        f"    time.sleep({1 / LEAK_MB_PER_S})\n"
        "time.sleep(120)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, f"rota-leaky-server-{token}"])
    wait_for_file(ready)
    return proc


def _logs(directory: Path) -> None:
    """A live log with the last minutes' requests (some 5xx) and one line from yesterday."""
    directory.mkdir()
    now = datetime.now(UTC)
    lines = [{"time": (now - timedelta(days=1)).isoformat(), "level": "error", "msg": "old"}]
    for i in range(40):
        at = now - timedelta(seconds=300 - i * 5)
        status = 503 if i % 4 == 0 else 200
        lines.append(
            {
                "time": at.isoformat().replace("+00:00", "Z"),
                "level": "error" if status >= 500 else "info",
                "msg": "API request",
                "method": "GET",
                "path": f"/api/conversations/{i}",
                "status": status,
                "duration": f"{20 + i}.0ms",
            }
        )
    (directory / "app.log").write_text("".join(json.dumps(x) + "\n" for x in lines))


def process_kind_available() -> bool:
    return "process" in App().targets


@pytest.fixture
def emergency(pg_url: str, platform: Platform, tmp_path: Path) -> Iterator[Emergency]:
    token = secrets.token_hex(4)
    _logs(tmp_path / "logs")
    extra = (
        f'[database]\nurl = "{pg_url}"\n'
        f'[logs]\npaths = ["{tmp_path}/logs/*.log*"]\n'
        f'[process]\nmatch = "rota-leaky-server-{token}"\n'
    )
    cfg = write_config(tmp_path, platform, extra)
    root = psycopg.connect(pg_url, application_name="stuck-worker")
    root.execute("UPDATE users SET updated_at = updated_at WHERE id = (SELECT min(id) FROM users)")
    waiters = [
        psycopg.connect(pg_url, autocommit=True, application_name=f"web-{i}") for i in range(2)
    ]
    sleeper = psycopg.connect(pg_url, autocommit=True, application_name="report-job")
    em = Emergency(pg_url, cfg, root, waiters, sleeper, None)
    for i, w in enumerate(waiters):
        _in_thread(
            em,
            f"web-{i}",
            w,
            "UPDATE users SET updated_at = now() WHERE id = (SELECT min(id) FROM users)",
        )
    _in_thread(em, "report-job", sleeper, "SELECT pg_sleep(60)")
    em.leak = _leaky_process(tmp_path, token)
    try:
        _wait_for(pg_url, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'", 2)
        _wait_for(
            pg_url,
            "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' "
            "AND now() - query_start > interval '1.2 s'",
            1,
        )
        yield em
    finally:
        em.leak.kill()
        em.leak.wait()
        for c in (sleeper, *waiters):
            c.cancel_safe()
        if not root.closed:
            root.rollback()
        for t in em.threads:
            t.join(10)
        for c in (root, sleeper, *waiters):
            c.close()


def _open(cfg: Path) -> tuple[App, Any, History]:
    config = load_config(cfg)
    return App(), config, open_history(config.history.url)


def test_it_ranks_the_blocking_chains_root_first_in_under_10_seconds_and_changes_nothing(
    emergency: Emergency,
) -> None:
    app, config, history = _open(emergency.config)
    with history:
        t0 = time.monotonic()
        snap = assert_read_only(
            lambda: run(app, config, history, title="checkout is slow"), urls=(emergency.url,)
        )
        took = time.monotonic() - t0
    assert took < 10 and snap.took_s < 10, (took, snap.took_s)
    assert {p.name: p.status for p in snap.probes} == {
        "database": "ok",
        "service": "ok",
        "process": "ok" if process_kind_available() else "unknown",
        "logs": "ok",
        "host": "ok",
    }, [(p.name, p.reason) for p in snap.probes]

    top = snap.suspects[0]
    assert top.code == "db.blocking_chain"
    assert top.subject == f"pid {emergency.root_pid}"
    assert top.evidence["root"]["pid"] == emergency.root_pid
    assert top.evidence["root"]["application"] == "stuck-worker"
    assert top.evidence["root"]["state"] == "idle in transaction"
    assert top.evidence["root"]["locks_held"] >= 1
    assert top.evidence["waiter_count"] == 2
    assert {w["application"] for w in top.evidence["waiters"]} == {"web-0", "web-1"}
    assert top.severity.value == "critical"
    (proposal,) = top.proposals
    assert proposal.id == f"{snap.incident_id}.1"
    assert proposal.action == "terminate_backend"
    assert proposal.command == f"SELECT pg_terminate_backend({emergency.root_pid})"
    assert proposal.guard["pid"] == emergency.root_pid
    assert proposal.guard["backend_start"] and proposal.guard["xact_start"]

    # The slow query is a suspect too, ranked below, with its own cancel proposal.
    slow = [s for s in snap.suspects if s.code == "db.slow_query"]
    assert [s.subject for s in slow] == [f"pid {emergency.sleeper_pid}"]
    assert slow[0].score < top.score
    assert slow[0].proposals[0].action == "cancel_query"
    assert slow[0].proposals[0].risk == "low"
    # The waiters are victims, not suspects of their own.
    assert not [s for s in snap.suspects if s.code == "db.idle_in_transaction"]

    db = snap.probe("database")
    assert db is not None
    # The first waiter waits on the root's transaction, the second on the first's tuple lock.
    waited = db.data["locks_waited"]
    assert {lock["pid"] for lock in waited} == {w.info.backend_pid for w in emergency.waiters}
    assert any(lock["blocked_by"] == [emergency.root_pid] for lock in waited)
    assert db.data["connections"]["by_state"]["active"] >= 3
    assert db.data["statements"]["available"] is True
    assert db.data["statements"]["window"].startswith("since stats reset")

    if process_kind_available():
        assert emergency.leak is not None
        mem = [s for s in snap.suspects if s.code == "process.memory"]
        assert [s.subject for s in mem] == [f"pid {emergency.leak.pid}"], snap.probe("process")
        assert mem[0].evidence["growth"]["leaking"] is True
        assert mem[0].score < top.score
    else:  # the process kind is not registered in this checkout
        proc = snap.probe("process")
        assert proc is not None and "process" in proc.reason

    log_probe = snap.probe("logs")
    assert log_probe is not None
    # Yesterday's error is outside the window: only the last 15 minutes count.
    assert (log_probe.data["errors"], log_probe.data["partial"]) == (10, False)
    assert log_probe.data["latency"]["p95"] == 57.0  # 20..59 ms: rank 38 of 40
    logs = [s for s in snap.suspects if s.code == "logs.server_errors"]
    assert logs and logs[0].evidence["server_errors"] == 10 and logs[0].evidence["requests"] == 40

    # Recorded: an incident with this snapshot, the proposals numbered in it.
    with open_history(config.history.url) as h:
        store = incidents(h, config)
        incident = store.require(snap.incident_id or 0)
        assert incident.title == "checkout is slow"
        assert incident.severity == "critical"
        (event,) = store.events(incident.id)
        assert event.kind == "snapshot"
        assert [p["id"] for p in event.payload["proposals"]] == [p.id for p in snap.proposals]
        assert event.payload["suspects"][0]["code"] == "db.blocking_chain"


def test_apply_terminates_exactly_the_root_and_the_waiters_proceed(
    emergency: Emergency, rota: Any
) -> None:
    first = rota("-c", str(emergency.config), "triage", "--format", "json")
    assert first.code == 2, first.err
    out = json.loads(first.out)
    top = out["suspects"][0]
    assert top["code"] == "db.blocking_chain" and top["subject"] == f"pid {emergency.root_pid}"
    proposal_id = top["proposals"][0]
    assert proposal_id == f"{out['incident']}.1"

    done = rota("-c", str(emergency.config), "triage", "--apply", proposal_id)
    assert done.code == 0, done.out + done.err
    assert f"{proposal_id} done: terminated pid {emergency.root_pid}" in done.out
    assert "ended: True" in done.out

    # Exactly that backend: the root is gone, the waiters ran, the slow query still runs.
    for t in emergency.threads[:2]:
        t.join(10)
    assert emergency.results == {"web-0": 1, "web-1": 1}
    with pytest.raises(psycopg.OperationalError):
        emergency.root.execute("SELECT 1")
    with psycopg.connect(emergency.url, autocommit=True) as c:
        row = c.execute(
            "SELECT state FROM pg_stat_activity WHERE pid = %s", (emergency.sleeper_pid,)
        ).fetchone()
    assert row == ("active",)

    # The same proposal again: its pid has ended, so nothing is sent.
    again = rota("-c", str(emergency.config), "triage", "--apply", proposal_id)
    assert again.code == 1
    assert f"pid {emergency.root_pid} has ended" in again.out

    pm = rota("-c", str(emergency.config), "incident", "postmortem", str(out["incident"]))
    assert pm.code == 0, pm.err
    text = pm.out
    assert f"# Incident {out['incident']}: triage: " in text
    assert "| snapshot | triage: " in text
    assert f"| action | {proposal_id} done: terminated pid {emergency.root_pid}" in text
    assert f"| action | {proposal_id} refused: pid {emergency.root_pid} has ended" in text
    assert f"**{proposal_id}** `SELECT pg_terminate_backend({emergency.root_pid})`" in text
    assert "(risk medium): **done**" in text
    assert "**db.blocking_chain**" in text
    assert "idle_in_transaction_session_timeout" in text  # the follow-up


def test_it_refuses_a_pid_that_now_belongs_to_another_session(emergency: Emergency) -> None:
    app, config, history = _open(emergency.config)
    with history:
        snap = run(app, config, history)
    slow = next(s for s in snap.suspects if s.code == "db.slow_query")
    cancel = slow.proposals[0]
    # The same pid, but a session that started at another time: a reused pid.
    reused = Proposal.from_dict(cancel.to_dict())
    start = datetime.fromisoformat(reused.guard["backend_start"]) - timedelta(seconds=5)
    reused.guard["backend_start"] = start.isoformat()
    result = perform(app, config, reused)
    assert result.status == "refused"
    assert f"pid {emergency.sleeper_pid} now belongs to another session" in result.detail
    assert "nothing was sent" in result.detail
    with psycopg.connect(emergency.url, autocommit=True) as c:
        row = c.execute(
            "SELECT query FROM pg_stat_activity WHERE pid = %s", (emergency.sleeper_pid,)
        ).fetchone()
    assert row == ("SELECT pg_sleep(60)",)

    # The proposal as made cancels exactly that statement; the session stays.
    with open_history(config.history.url) as h:
        result = apply(app, config, h, cancel.id)
    assert result.status == "done", result.detail
    assert result.facts["statement_ended"] is True
    emergency.threads[2].join(10)
    assert isinstance(emergency.results["report-job"], psycopg.errors.QueryCanceled)
    assert emergency.sleeper.execute("SELECT 1").fetchone() == (1,)


def test_it_refuses_a_root_that_moved_on_to_another_transaction(emergency: Emergency) -> None:
    app, config, history = _open(emergency.config)
    with history:
        snap = run(app, config, history)
    root = snap.suspects[0]
    assert root.code == "db.blocking_chain"
    emergency.root.commit()  # the waiters get their row; the worker starts over
    emergency.root.execute(
        "UPDATE users SET updated_at = updated_at WHERE id = (SELECT max(id) FROM users)"
    )
    with open_history(config.history.url) as h:
        result = apply(app, config, h, root.proposals[0].id)
        actions = incidents(h, config).events(snap.incident_id or 0, "action")
    assert result.status == "refused"
    assert f"pid {emergency.root_pid} has moved on to another transaction" in result.detail
    assert emergency.root.execute("SELECT 1").fetchone() == (1,)  # still connected
    (event,) = actions
    assert event.payload["status"] == "refused"
    assert event.summary.startswith(f"{root.proposals[0].id} refused: ")


def test_an_unreachable_database_or_service_makes_only_that_probe_unknown(
    tmp_path: Path, pg_url: str, platform: Platform
) -> None:
    app = App()
    cfg = write_config(
        tmp_path, platform, '[database]\nurl = "postgresql://rota@127.0.0.1:1/none"\n'
    )
    config = load_config(cfg)
    snap = snapshot(app, config)
    states = {p.name: (p.status, p.reason) for p in snap.probes}
    assert states["database"][0] == "unknown"
    assert "127.0.0.1:1/none unreachable" in states["database"][1]
    assert states["service"] == ("ok", "")
    assert states["host"] == ("ok", "")
    assert states["logs"][0] == "skipped" and "[logs] paths" in states["logs"][1]
    assert states["process"][0] in ("skipped", "unknown")
    assert snap.status.value == "unknown"

    # And the other way round: the service is down, the database answers.
    cfg.write_text(
        f'[http]\nbase_url = "http://127.0.0.1:1"\n[database]\nurl = "{pg_url}"\n'
        f'[history]\nurl = "sqlite:///{tmp_path}/h.db"\n'
    )
    snap = snapshot(app, load_config(cfg))
    states = {p.name: (p.status, p.reason) for p in snap.probes}
    assert states["service"][0] == "unknown" and "127.0.0.1:1" in states["service"][1]
    assert states["database"] == ("ok", "")


def test_a_probe_that_hangs_is_unknown_and_the_others_answer(tmp_path: Path) -> None:
    from rota.triage.probes import PROBES

    release = threading.Event()

    def hangs(_session: Any) -> dict[str, Any]:
        release.wait(30)
        return {}

    def fails(_session: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    config = parse_config("")
    options = Options(timeouts={"hangs": 0.3, "host": 3.0, "fails": 1.0})
    t0 = time.monotonic()
    snap = snapshot(
        App(), config, None, options, {"hangs": hangs, "fails": fails, "host": PROBES["host"]}
    )
    release.set()
    assert time.monotonic() - t0 < 3
    states = {p.name: (p.status, p.reason) for p in snap.probes}
    assert states["hangs"] == ("unknown", "timed out after 0.3s")
    assert states["fails"] == ("unknown", "RuntimeError: boom")
    assert states["host"][0] == "ok"


def test_a_collapsed_cache_hit_ratio_proposes_a_clear_and_apply_clears_it(
    tmp_path: Path, platform: Platform
) -> None:
    platform.cache = {"hits": 40, "misses": 960, "keys": 500, "evictions": 3000}
    cfg = write_config(tmp_path, platform)
    app, config, history = _open(cfg)
    with history:
        snap = run(app, config, history)
        top = snap.suspects[0]
        assert top.code == "service.cache_hit_ratio"
        assert top.severity.value == "critical"
        (proposal,) = top.proposals
        assert proposal.action == "clear_cache"
        assert proposal.command == "POST /api/cache/clear (Authorization: Bearer ***)"
        assert platform.clears == []  # check mode sent nothing
        result = apply(app, config, history, proposal.id)
    assert result.status == "done", result.detail
    assert platform.clears == ["/api/cache/clear"]
    assert result.facts == {"http_status": 200, "keys_before": 500, "keys_after": 0}
    for stored in tmp_path.glob("history.db*"):  # the WAL too
        assert platform.token.encode() not in stored.read_bytes()


def test_scores_map_to_severities_and_a_slow_query_ranks_below_a_blocking_chain() -> None:
    from rota.triage.model import Probe
    from rota.triage.scoring import suspects

    def session(pid: int, **kw: Any) -> dict[str, Any]:
        return {
            "pid": pid,
            "application": "app",
            "user": "u",
            "state": "active",
            "backend_start": "2026-01-01T00:00:00+00:00",
            "xact_start": "2026-01-01T00:00:01+00:00",
            "query_start": "2026-01-01T00:00:01+00:00",
            "query": "SELECT 1",
            "transaction_age_s": 30.0,
            **kw,
        }

    data = {
        "blocking": [
            {
                "root": session(1, state="idle in transaction"),
                "waiters": [],
                "waiter_count": 5,
                "depth": 1,
                "longest_wait_s": 30.0,
            }
        ],
        "long_running": [session(2, query_age_s=2.0)],
    }
    found = suspects([Probe("database", data=data)], parse_config(""))
    assert [(s.code, s.score) for s in found] == [
        ("db.blocking_chain", 100.0),
        ("db.slow_query", 24.0),
    ]
    assert [severity_of(x).value for x in (100, 70, 69.9, 40, 39.9)] == [
        "critical",
        "critical",
        "warning",
        "warning",
        "ok",
    ]


def test_every_probe_answers_against_the_sandbox_platform(rota_sandbox: Any, rota: Any) -> None:
    url = rota_sandbox.db_url
    root = psycopg.connect(url, application_name="stuck-worker")
    root.execute("UPDATE users SET updated_at = updated_at WHERE id = (SELECT min(id) FROM users)")
    waiter = psycopg.connect(url, autocommit=True, application_name="web")
    t = threading.Thread(
        target=lambda: waiter.execute(
            "UPDATE users SET updated_at = now() WHERE id = (SELECT min(id) FROM users)"
        ),
        daemon=True,
    )
    t.start()
    try:
        _wait_for(url, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'", 1)
        t0 = time.monotonic()
        res = rota("-c", rota_sandbox.config, "triage", "--format", "json")
        took = time.monotonic() - t0
    finally:
        root.rollback()
        t.join(10)
        root.close()
        waiter.close()
    out = json.loads(res.out)
    # One session blocked for a second or two: 50 + 8 + its wait + 10 for an idle root, a
    # warning until the wait reaches 2 s, then critical.
    assert (res.code, out["status"]) in ((1, "warning"), (2, "critical")), res.err
    assert took < 10 and out["took_s"] < 10
    states = {name: (p["status"], p["reason"]) for name, p in out["probes"].items()}
    for name in ("database", "service", "logs", "host"):
        assert states[name] == ("ok", ""), states
    sandbox_config = load_config(Path(rota_sandbox.config))
    if process_kind_available() and "process" in sandbox_config.model_fields_set:
        assert states["process"] == ("ok", ""), states
        assert out["probes"]["process"]["data"]["groups"][0]["rss_bytes"] > 0
    service = out["probes"]["service"]["data"]
    assert service["health"]["status"] == 200 and service["cache"]["hit_ratio"] is not None
    assert out["probes"]["logs"]["data"]["requests"] > 0  # the warm-up traffic
    top = out["suspects"][0]
    assert top["code"] == "db.blocking_chain"
    assert top["evidence"]["root"]["application"] == "stuck-worker"
