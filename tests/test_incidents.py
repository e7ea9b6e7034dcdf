"""Incidents in the history store (SQLite and a real PostgreSQL), their timeline, the
postmortem draft, and the `rota incident` commands."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import Platform, write_config
from rota.config import parse_config
from rota.errors import HistoryError
from rota.history import History, open_history
from rota.history.incidents import Incidents
from rota.model import Finding, Severity, TaskOutcome
from rota.triage.postmortem import render, timeline

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
SECRET = "sk-proj-abcdefghijklmnopqrstuvwxyz012345"


@pytest.fixture
def url(history_url: str) -> str:
    return history_url


def store(h: History, *secrets: str) -> Incidents:
    return Incidents(h, secrets)


def proposal(pid: int) -> dict[str, Any]:
    return {
        "action": "terminate_backend",
        "title": f"terminate pid {pid}",
        "risk": "medium",
        "risk_note": "rolls back",
        "command": f"SELECT pg_terminate_backend({pid})",
        "target": "postgres",
        "suspect": f"db.blocking_chain:pid {pid}",
        "guard": {"pid": pid},
    }


def test_the_migration_adds_the_incident_tables(history: History) -> None:
    assert "0005_incidents" in history.applied_migrations()


def test_it_opens_an_incident_and_finds_it_as_the_current_one(history: History) -> None:
    s = store(history)
    assert s.current() is None
    first = s.open("  checkout\n is slow ", target="prod", at=T0)
    assert (first.id, first.title, first.status, first.severity) == (
        first.id,
        "checkout is slow",
        "open",
        "ok",
    )
    assert first.opened_at == T0 and first.closed_at is None
    other = s.open("queue backlog", target="staging", at=T0 + timedelta(minutes=1))
    assert s.current() == other
    assert s.current("prod") == first
    assert [i.id for i in s.recent()] == [other.id, first.id]
    with pytest.raises(ValueError, match="needs a title"):
        s.open("   ", target="prod")


def test_proposals_are_numbered_across_the_incidents_snapshots(history: History) -> None:
    s = store(history)
    inc = s.open("locks", target="prod", at=T0)
    first = [proposal(11), proposal(12)]
    e1 = s.add_event(inc.id, "snapshot", "one", {"status": "critical"}, at=T0, proposals=first)
    second = [proposal(13)]
    e2 = s.add_event(inc.id, "snapshot", "two", {}, at=T0 + timedelta(seconds=30), proposals=second)
    assert [p["id"] for p in first] == [f"{inc.id}.1", f"{inc.id}.2"]
    assert [p["id"] for p in second] == [f"{inc.id}.3"]
    assert (e1.seq, e2.seq) == (1, 2)
    assert e1.payload == {"status": "critical", "proposals": first}
    found = s.proposal(inc.id, 3)
    assert found is not None and found[0]["guard"] == {"pid": 13} and found[1].seq == 2
    assert s.proposal(inc.id, 4) is None
    assert s.require(inc.id).proposals == 3 and s.require(inc.id).events == 2


def test_events_take_seq_numbers_once_under_concurrent_writers(url: str, history: History) -> None:
    s = store(history)
    inc = s.open("busy", target="prod")
    errors: list[BaseException] = []

    def note(i: int) -> None:
        try:  # each writer on its own connection, as two rota processes would be
            with open_history(url) as mine:
                store(mine).add_event(
                    inc.id, "snapshot", f"triage {i}", {"i": i}, proposals=[proposal(i)]
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=note, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    events = s.events(inc.id)
    assert [e.seq for e in events] == list(range(1, 9))
    numbers = sorted(p["n"] for e in events for p in e.payload["proposals"])
    assert numbers == list(range(1, 9))


def test_closing_records_the_summary_and_ends_the_timeline(history: History) -> None:
    s = store(history)
    inc = s.open("locks", target="prod", at=T0)
    s.add_event(inc.id, "note", "saw it", {"text": "saw it"}, at=T0 + timedelta(minutes=1))
    event = s.close(inc.id, "vacuum stuck behind a migration", at=T0 + timedelta(minutes=9))
    assert event.kind == "close" and event.seq == 2
    closed = s.require(inc.id)
    assert closed.status == "closed"
    assert closed.closed_at == T0 + timedelta(minutes=9)
    assert closed.summary == "vacuum stuck behind a migration"
    assert s.current() is None
    with pytest.raises(HistoryError, match="already closed"):
        s.close(inc.id)
    with pytest.raises(HistoryError, match=f"incident {inc.id} is closed"):
        s.add_event(inc.id, "note", "late", {})
    with pytest.raises(HistoryError, match="no incident 999"):
        s.add_event(999, "note", "x", {})
    with pytest.raises(ValueError, match="close"):
        s.add_event(inc.id, "close", "x", {})
    assert [i.id for i in s.recent(status="closed")] == [inc.id]
    assert s.recent(status="open") == []


def test_an_action_is_recorded_before_it_is_tried_and_completed_after(history: History) -> None:
    s = store(history)
    inc = s.open("locks", target="prod")
    started = s.add_event(inc.id, "action", "applying 1.1", {"status": "started"})
    done = s.complete_event(started, "1.1 done: terminated pid 7", {"status": "done"})
    (event,) = s.events(inc.id)
    assert (event.id, event.seq, event.summary, event.payload) == (
        started.id,
        1,
        "1.1 done: terminated pid 7",
        {"status": "done"},
    )
    assert done == event


def test_secrets_never_reach_the_store(history: History) -> None:
    s = store(history, "hunter2-db-password")
    inc = s.open(f"leak of {SECRET}", target="prod")
    s.add_event(
        inc.id,
        "snapshot",
        "password=hunter2-db-password in a query",
        {"query": "ALTER ROLE app PASSWORD 'hunter2-db-password'", "url": "postgres://a:b@h/db"},
    )
    s.add_event(inc.id, "note", f"rotated {SECRET}", {"text": f"Bearer {SECRET}"})
    s.close(inc.id, "rotated hunter2-db-password")
    everything = json.dumps([s.require(inc.id).to_dict(), *[e.to_dict() for e in s.events(inc.id)]])
    assert "hunter2" not in everything and SECRET not in everything
    assert "postgres://a:***@h/db" in everything


def test_the_timeline_joins_the_task_runs_recorded_while_it_was_open(history: History) -> None:
    s = store(history)
    inc = s.open("slow pages", target="prod", at=T0)
    before = _run(history, "db.vacuum", T0 - timedelta(minutes=5))
    during = _run(history, "db.connections", T0 + timedelta(minutes=2), Severity.CRITICAL)
    s.add_event(
        inc.id, "snapshot", "triage: 1 suspect(s)", _snapshot(), at=T0 + timedelta(minutes=1)
    )
    s.add_event(
        inc.id,
        "action",
        "1.1 done: terminated pid 4242",
        {
            "status": "done",
            "detail": "terminated pid 4242",
            "proposal": {**proposal(4242), "id": "1.1"},
        },
        at=T0 + timedelta(minutes=3),
    )
    s.close(inc.id, "a batch job held a lock", at=T0 + timedelta(minutes=10))
    after = _run(history, "db.vacuum", T0 + timedelta(minutes=20))
    entries = timeline(s, history, s.require(inc.id))
    assert [(e.kind, e.at - T0) for e in entries] == [
        ("snapshot", timedelta(minutes=1)),
        ("run", timedelta(minutes=2)),
        ("action", timedelta(minutes=3)),
        ("close", timedelta(minutes=10)),
    ]
    assert entries[1].detail["run"] == during not in (before, after)
    assert entries[1].summary.startswith("db.connections (check): critical")

    text = render(s, history, s.require(inc.id))
    assert text.startswith(f"# Incident {inc.id}: slow pages\n")
    assert "## Summary\n\na batch job held a lock\n" in text
    assert "From 2026-03-01 12:00:00 to 2026-03-01 12:10:00 (10m" in text
    assert "| 2026-03-01 12:02:00 | run | db.connections (check): critical" in text
    assert "| 2026-03-01 12:03:00 | action | 1.1 done: terminated pid 4242 |" in text
    assert (
        "- 2026-03-01 12:03:00 — **1.1** `SELECT pg_terminate_backend(4242)` (risk medium): "
        "**done** — terminated pid 4242"
    ) in text
    assert "- **db.blocking_chain** (score 92, critical): pid 4242 (batch, app) blocks 3" in text
    assert "  - root: pid 4242 (batch), state idle in transaction" in text
    assert "- [ ] Set idle_in_transaction_session_timeout" in text
    for heading in (
        "## Impact window",
        "## Timeline",
        "## Suspects and evidence",
        "## Actions taken",
        "## Follow-up",
    ):
        assert heading in text


def _run(h: History, task_id: str, at: datetime, sev: Severity = Severity.OK) -> int:
    run_id = h.start_run(
        task_id=task_id, mode="check", target="prod", started_at=at, run_group="g", host="h", pid=1
    )
    h.finish_run(
        run_id,
        TaskOutcome(task_id, at, at + timedelta(seconds=1), [Finding(f"{task_id}.x", sev, "m")]),
    )
    return run_id


def _snapshot() -> dict[str, Any]:
    return {
        "status": "critical",
        "probes": {
            "logs": {
                "status": "ok",
                "data": {"window_s": 900, "requests": 1200, "server_errors": 90},
            },
            "process": {"status": "unknown", "reason": "no process matches 'node.*server'"},
        },
        "suspects": [
            {
                "code": "db.blocking_chain",
                "title": "pid 4242 (batch, app) blocks 3 session(s) for up to 20s",
                "score": 92.0,
                "severity": "critical",
                "subject": "pid 4242",
                "evidence": {
                    "root": {
                        "pid": 4242,
                        "application": "batch",
                        "state": "idle in transaction",
                        "statement": "UPDATE jobs SET ...",
                    },
                    "waiter_count": 3,
                    "longest_wait_s": 20.0,
                },
            }
        ],
    }


# --- the commands ------------------------------------------------------------------------------


def test_the_incident_commands_open_note_show_close_and_draft_a_postmortem(
    tmp_path: Path, platform: Platform, rota: Any
) -> None:
    cfg = str(write_config(tmp_path, platform))
    opened = rota("-c", cfg, "incident", "open", "payments failing")
    assert opened.code == 0, opened.err
    assert opened.out.strip() == "opened incident 1: payments failing"
    assert rota("-c", cfg, "incident", "note", "1", "rolled back release 42").code == 0
    listed = json.loads(rota("-c", cfg, "incident", "list", "--format", "json").out)
    assert [(i["id"], i["status"], i["events"]) for i in listed] == [(1, "open", 1)]
    shown = rota("-c", cfg, "incident", "show", "1")
    assert "note" in shown.out and "rolled back release 42" in shown.out
    closed = rota("-c", cfg, "incident", "close", "1", "--summary", "bad release; rolled back")
    assert closed.code == 0, closed.err
    out = tmp_path / "pm.md"
    pm = rota("-c", cfg, "incident", "postmortem", "1", "-o", str(out))
    assert pm.code == 0, pm.err
    text = out.read_text()
    assert text.startswith("# Incident 1: payments failing")
    assert "bad release; rolled back" in text
    assert "| note | rolled back release 42 |" in text
    assert "| close | bad release; rolled back |" in text

    missing = rota("-c", cfg, "incident", "show", "7")
    assert missing.code == 3
    assert missing.err.startswith("rota: no incident 7 in sqlite:///")
    again = rota("-c", cfg, "incident", "close", "1")
    assert (again.code, again.err.strip()) == (3, "rota: incident 1 is already closed")
    bad = rota("-c", cfg, "incident", "list", "--status", "maybe")
    assert (bad.code, bad.err.strip()) == (4, "rota: --status: choose open or closed")


def test_a_new_store_and_an_old_one_both_migrate_to_the_same_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/h.db"
    with open_history(url) as h:
        Incidents(h).open("x", target="t")
    with open_history(url) as h:  # opened again: nothing pending, the incident is there
        assert [i.title for i in Incidents(h).recent()] == ["x"]
        assert h.migrate() == []
    assert parse_config("").target.name  # config loads without an [incidents] section
