"""db.indexes, db.analyze and db.vacuum while a migration holds a table locked, against a
real PostgreSQL: the locked table is skipped and reported with its holder, and every
fault on every other table is still found."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from rota.model import Finding, Severity, TaskOutcome
from rota.targets.postgres import LockTimeout, Postgres
from rota.tasks.db.analyze import analyze
from rota.tasks.db.indexes import indexes
from rota.tasks.db.relations import LOCKED, Guard
from rota.tasks.db.vacuum import vacuum
from rota.testing import execute_and_flush, findings, run_task
from rota_sandbox.dataset import index_declarations


def run_all(url: str, tmp_path: Path) -> dict[str, TaskOutcome]:
    index_file = tmp_path / "apply-indexes.sql"
    index_file.write_text(index_declarations())
    # The session lock_timeout stays at its 5 s default: skipping must not cost it.
    toml = f"""
[database]
url = "{url}"
index_file = "{index_file}"
high_churn_tables = ["messages", "audit_log"]
[database.thresholds]
bloat_min_bytes = "500kB"
unused_index_stats_age = "0s"
"""
    return {t.id: run_task(t, toml) for t in (indexes, analyze, vacuum)}


def warnings(outcome: TaskOutcome, code: str) -> dict[str, Finding]:
    return {f.subject: f for f in findings(outcome, code) if f.severity is not Severity.OK}


@contextmanager
def migration(url: str, *statements: str) -> Iterator[psycopg.Connection[Any]]:
    """A second session inside an open transaction, as a migration would hold it."""
    conn = psycopg.connect(url, application_name="migrate")
    try:
        for s in statements:
            conn.execute(s)
        yield conn
    finally:
        conn.rollback()
        conn.close()


def test_a_locked_table_is_skipped_and_every_other_fault_still_reported(
    pg_faulty_url: str, tmp_path: Path
) -> None:
    # Overdue analyze on messages, on top of the planted index, vacuum and bloat faults.
    execute_and_flush(
        pg_faulty_url, "UPDATE messages SET tokens = coalesce(tokens, 0) + 1 WHERE id % 3 = 0"
    )
    with migration(
        pg_faulty_url,
        "LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE",
        "SELECT 'sk-proj-not-for-evidence' AS token",
    ) as holder:
        pid = holder.info.backend_pid
        t0 = time.monotonic()
        out = run_all(pg_faulty_url, tmp_path)
        elapsed = time.monotonic() - t0

    for task_id, outcome in out.items():
        assert outcome.error is None, (task_id, outcome.error)
        [locked] = warnings(outcome, "db.relation.locked").values()
        ev = locked.evidence
        assert locked.subject == "public.audit_log" and locked.severity is Severity.WARNING
        assert (ev["pid"], ev["application_name"], ev["mode"]) == (
            pid,
            "migrate",
            "ACCESS EXCLUSIVE",
        )
        assert ev["granted"] is True and ev["since"] and ev["state"] == "idle in transaction"
        # The holder's last statement, with its literal masked.
        assert ev["statement"] == "SELECT '…' AS token"
        assert "pg_locks" in ev["query"]
        assert f"pid {pid} (migrate) holds ACCESS EXCLUSIVE" in locked.message
        assert not [
            f for f in outcome.findings if f.subject == "public.audit_log" and f is not locked
        ]
    # Nothing waited on the lock: it was seen in pg_locks and left out.
    assert elapsed < 5

    idx = out["db.indexes"]
    invalid = warnings(idx, "db.index.invalid")["public.users_email_lower_key"]
    assert invalid.severity is Severity.CRITICAL and invalid.evidence["duplicate_groups"] >= 1
    assert "public.conversations_user_id_idx" in warnings(idx, "db.index.duplicate")
    assert "public.messages_latency_ms_idx" in warnings(idx, "db.index.unused")
    assert "public.messages_conversation_id_created_at_idx" in warnings(idx, "db.index.missing")

    assert "public.messages" in warnings(out["db.analyze"], "db.analyze.overdue")

    vac = out["db.vacuum"]
    assert set(warnings(vac, "db.vacuum.overdue")) == {"public.messages", "public.conversations"}
    bloat = warnings(vac, "db.bloat.table")["public.messages"].evidence
    assert bloat["method"] == "pgstattuple_approx" and bloat["bloat_percent"] >= 30
    assert "public.messages" in warnings(vac, "db.vacuum.rewrite")
    # The locked high-churn table is neither "not found" nor planned for anything.
    assert not [s for s in vac.steps if "audit_log" in s.action]


def test_a_migration_still_waiting_for_its_lock_is_named_too(pg_url: str) -> None:
    # A long reader holds ACCESS SHARE; the migration queues behind it for ACCESS EXCLUSIVE,
    # and any new reader would queue behind the migration.
    with migration(pg_url, "SELECT count(*) FROM audit_log") as reader:
        reader_pid = reader.info.backend_pid
        waiter = psycopg.connect(pg_url, application_name="migrate-wait")
        thread = threading.Thread(
            target=lambda: waiter.execute("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE")
        )
        thread.start()
        try:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                with psycopg.connect(pg_url, autocommit=True) as c:
                    row = c.execute(
                        "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid = %s",
                        (waiter.info.backend_pid,),
                    ).fetchone()
                if row and row[0]:
                    break
                time.sleep(0.05)
            outcome = run_task(analyze, pg_url)
        finally:
            reader.rollback()
            thread.join()
            waiter.rollback()
            waiter.close()
    assert outcome.error is None
    [locked] = warnings(outcome, "db.relation.locked").values()
    ev = locked.evidence
    assert ev["application_name"] == "migrate-wait" and ev["granted"] is False
    assert ev["blocked_by"] == [reader_pid]
    assert "waits for ACCESS EXCLUSIVE" in locked.message


def test_a_lock_taken_after_the_look_costs_one_short_wait_then_is_left_out(
    pg_url: str,
) -> None:
    pg = Postgres(pg_url, readonly=True)
    guard = Guard(pg, lock_timeout=0.2)
    guard.look()  # nothing locked yet
    sql = (
        f"SELECT c.relname, CASE WHEN c.oid = ANY ({LOCKED}) THEN c.oid::bigint END AS locked_by, "
        f"CASE WHEN c.oid <> ALL ({LOCKED}) THEN pg_relation_size(c.oid) END AS bytes "
        "FROM pg_class c WHERE c.relname IN ('users', 'audit_log')"
    )
    with migration(pg_url, "LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE"):
        t0 = time.monotonic()
        rows = {r["relname"]: r for r in guard.bulk(sql, "sizes")}
        elapsed = time.monotonic() - t0
    assert rows["users"]["bytes"] > 0 and rows["audit_log"]["bytes"] is None
    assert 0.2 <= elapsed < 2
    [f] = guard.findings()
    assert f.subject == "public.audit_log" and f.evidence["skipped"] == ["sizes"]
    pg.close()


def test_a_read_gives_up_after_its_own_lock_timeout_and_leaves_the_session_as_it_was(
    pg_url: str,
) -> None:
    pg = Postgres(pg_url, readonly=True, lock_timeout=5)
    with migration(pg_url, "LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE"):
        t0 = time.monotonic()
        with pytest.raises(LockTimeout, match="lock timeout"):
            pg.read("SELECT pg_relation_size('audit_log')", lock_timeout=0.1)
        assert time.monotonic() - t0 < 2
        # Inside an open transaction the read is a savepoint, and the transaction goes on.
        with pg.transaction() as conn:
            with pytest.raises(LockTimeout):
                pg.read("SELECT count(*) FROM audit_log", lock_timeout=0.1)
            assert pg.read("SELECT count(*) AS n FROM users", lock_timeout=0.1)[0]["n"] > 0
            assert conn.execute("SHOW lock_timeout").fetchone() == {"lock_timeout": "5s"}
    assert pg.scalar("SHOW lock_timeout") == "5s"
    assert pg.read("SELECT pg_relation_size('audit_log') AS b", lock_timeout=0.1)[0]["b"] > 0
    pg.close()


def test_each_task_that_reads_relations_declares_the_code() -> None:
    for t in (indexes, analyze, vacuum):
        assert "db.relation.locked" in t.codes, t.id
