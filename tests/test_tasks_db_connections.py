"""db.connections against a real PostgreSQL with planted sessions."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from rota.model import Severity
from rota.readonly import assert_read_only
from rota.tasks.db.connections import connections
from rota.tasks.db.stats import human_duration, percentile
from rota.testing import findings, run_task


def config(url: str, thresholds: str = "") -> str:
    return f'[database]\nurl = "{url}"\n[database.thresholds]\n{thresholds}\n'


@pytest.fixture
def idle_writer(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A session that wrote in a transaction and left it open."""
    conn = psycopg.connect(pg_url, application_name="leaky-worker")
    conn.execute("UPDATE users SET updated_at = updated_at WHERE id = (SELECT min(id) FROM users)")
    try:
        yield conn
    finally:
        conn.rollback()
        conn.close()


def test_a_clean_database_gives_only_ok_findings(pg_url: str) -> None:
    out = assert_read_only(lambda: run_task(connections, config(pg_url)), urls=(pg_url,))
    assert out.error is None
    assert {f.code for f in out.findings} == {
        "db.connections.utilization",
        "db.connections.idle_in_transaction",
        "db.connections.age",
        "db.connections.long_running",
        "db.locks.blocking",
        "db.xmin.horizon",
    }
    assert all(f.severity is Severity.OK for f in out.findings), out.findings
    util = findings(out, "db.connections.utilization")[0]
    # max_connections 50 in the sandbox, 3 reserved for superusers.
    assert util.evidence["usable"] == 47
    assert "pg_stat_activity" in util.evidence["query"]
    names = {m.name for m in out.metrics}
    assert {"db.connections.total", "db.connections.utilization", "db.xmin.age"} <= names


def test_it_reports_utilization_by_application_past_the_threshold(pg_url: str) -> None:
    extra = [psycopg.connect(pg_url, application_name="hungry-pool") for _ in range(4)]
    try:
        # 5 of 47 usable is 10.6%: past a 10% warning, below a 50% critical.
        out = run_task(
            connections, config(pg_url, "connections_warning = 10\nconnections_critical = 50")
        )
    finally:
        for c in extra:
            c.close()
    assert out.error is None, out.error
    (util,) = findings(out, "db.connections.utilization")
    assert util.severity is Severity.WARNING
    assert util.evidence["by_application"]["hungry-pool"] == 4
    assert util.evidence["by_state"]["idle"] >= 4
    assert util.evidence["used"] >= 5
    assert "PgBouncer" in util.remedy


def test_it_names_a_session_left_idle_in_transaction(
    pg_url: str, idle_writer: psycopg.Connection[Any]
) -> None:
    time.sleep(0.3)
    out = run_task(
        connections, config(pg_url, 'idle_in_transaction = "100ms"\nlong_running = "1h"')
    )
    assert out.error is None, out.error
    (f,) = findings(out, "db.connections.idle_in_transaction")
    pid = idle_writer.info.backend_pid
    assert f.severity is Severity.WARNING
    assert f.subject == f"pid {pid} (leaky-worker, postgres)"
    assert f.evidence["pid"] == pid
    assert f.evidence["state"] == "idle in transaction"
    assert f.evidence["statement"].startswith("UPDATE users SET updated_at = updated_at")
    assert f.evidence["idle_s"] >= 0.3
    assert f"pg_terminate_backend({pid})" in f.remedy
    # Reported once, not again as a long transaction.
    assert findings(out, "db.connections.long_running")[0].severity is Severity.OK


def test_an_hour_idle_in_transaction_is_critical(
    pg_url: str, idle_writer: psycopg.Connection[Any]
) -> None:
    time.sleep(0.3)
    # 12x the threshold is critical: 0.3 s against a 20 ms threshold.
    out = run_task(connections, config(pg_url, 'idle_in_transaction = "20ms"'))
    assert out.error is None, out.error
    (f,) = findings(out, "db.connections.idle_in_transaction")
    assert f.severity is Severity.CRITICAL


def test_it_reports_a_long_running_query_and_a_long_transaction(pg_url: str) -> None:
    sleeper = psycopg.connect(pg_url, autocommit=True, application_name="report-job")
    sleeper_pid = sleeper.info.backend_pid
    busy = psycopg.connect(pg_url, application_name="batch")
    busy.execute("SELECT 1")  # opens a transaction, then runs something slow in it
    t = threading.Thread(target=lambda: _ignore(sleeper, "SELECT pg_sleep(3)"))
    t.start()
    try:
        time.sleep(0.5)
        busy.execute("SELECT 2")
        out = run_task(
            connections, config(pg_url, 'long_running = "200ms"\nidle_in_transaction = "1h"')
        )
    finally:
        sleeper.cancel_safe()
        t.join(10)
        busy.rollback()
        sleeper.close()
        busy.close()
    assert out.error is None, out.error
    found = {f.evidence["application"]: f for f in findings(out, "db.connections.long_running")}
    q = found["report-job"]
    assert q.evidence["kind"] == "query"
    assert q.evidence["statement"] == "SELECT pg_sleep(3)"
    assert q.evidence["query_age_s"] >= 0.4
    assert q.subject == f"pid {sleeper_pid} (report-job, postgres)"
    tx = found["batch"]
    assert tx.evidence["kind"] == "transaction"
    assert tx.evidence["transaction_age_s"] >= 0.4
    assert all(f.severity is not Severity.OK for f in found.values())


def test_it_names_the_root_of_a_blocking_chain(pg_url: str) -> None:
    root = psycopg.connect(pg_url, application_name="migration")
    pid = root.info.backend_pid
    root.execute("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
    waiters = [psycopg.connect(pg_url, application_name=f"web-{i}") for i in range(2)]
    threads = [
        threading.Thread(target=lambda c=c: _ignore(c, "SELECT count(*) FROM sessions"))
        for c in waiters
    ]
    for t in threads:
        t.start()
    try:
        _wait_for_waiters(pg_url, 2)
        out = run_task(connections, config(pg_url, 'long_running = "1h"'))
    finally:
        root.rollback()
        for t in threads:
            t.join(10)
        root.close()
        for c in waiters:
            c.close()
    assert out.error is None, out.error
    (f,) = findings(out, "db.locks.blocking")
    assert f.severity is Severity.WARNING
    assert f.subject == f"pid {pid} (migration, postgres)"
    assert f.evidence["root_blocker"]["statement"] == "LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE"
    assert f.evidence["root_blocker"]["state"] == "idle in transaction"
    assert f.evidence["waiter_count"] == 2
    assert {w["application"] for w in f.evidence["waiters"]} == {"web-0", "web-1"}
    assert all(w["lock"] == "Lock:relation" for w in f.evidence["waiters"])
    assert f"pg_terminate_backend({pid})" in f.remedy


def _ignore(conn: psycopg.Connection[Any], sql: str) -> None:
    try:
        conn.execute(sql)
    except psycopg.Error:
        pass


def _wait_for_waiters(url: str, n: int) -> None:
    with psycopg.connect(url, autocommit=True) as c:
        for _ in range(100):
            row = c.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            ).fetchone()
            if row and row[0] >= n:
                return
            time.sleep(0.05)
    raise AssertionError("the waiters never queued")


def test_it_reports_old_connections_per_application(pg_url: str) -> None:
    old = [psycopg.connect(pg_url, application_name="sticky-pool") for _ in range(2)]
    try:
        time.sleep(0.4)
        out = run_task(connections, config(pg_url, 'connection_age = "300ms"'))
    finally:
        for c in old:
            c.close()
    assert out.error is None, out.error
    found = {f.subject: f for f in findings(out, "db.connections.age")}
    f = found["sticky-pool"]
    assert f.severity is Severity.WARNING
    assert f.evidence["count"] == 2 and f.evidence["older_than_threshold"] == 2
    assert f.evidence["max_s"] >= 0.4 and f.evidence["p95_s"] >= 0.4
    assert "backend_start" in f.evidence["oldest"]
    labels = {
        m.labels.get("application") for m in out.metrics if m.name == "db.connections.age_p95"
    }
    assert "sticky-pool" in labels


def test_it_names_the_session_holding_back_the_xmin_horizon(pg_url: str) -> None:
    holder = psycopg.connect(pg_url, application_name="analytics")
    pid = holder.info.backend_pid
    holder.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    holder.execute("SELECT count(*) FROM users")
    try:
        time.sleep(0.3)
        out = run_task(
            connections, config(pg_url, 'long_running = "100ms"\nidle_in_transaction = "1h"')
        )
    finally:
        holder.rollback()
        holder.close()
    assert out.error is None, out.error
    found = [f for f in findings(out, "db.xmin.horizon") if "analytics" in f.subject]
    assert len(found) == 1
    f = found[0]
    assert f.severity is Severity.WARNING
    assert f.subject == f"session pid {pid} (analytics, postgres)"
    assert f.evidence["holder"]["kind"] == "session"
    assert f.evidence["xid_age"] >= 0
    assert f.evidence["holder"]["held_s"] >= 0.3


def test_it_names_a_prepared_transaction_holding_back_vacuum(pg_cluster: Any, pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as c:
        row = c.execute("SHOW max_prepared_transactions").fetchone()
    if row is None or int(row[0]) == 0:
        pytest.skip("max_prepared_transactions = 0 in the test cluster: cannot PREPARE")
    gid = f"rota-test-{secrets.token_hex(4)}"  # pragma: no cover - depends on the cluster
    with psycopg.connect(pg_url) as c:
        c.execute("UPDATE users SET updated_at = updated_at WHERE id = (SELECT min(id) FROM users)")
        c.execute(f"PREPARE TRANSACTION '{gid}'")
    try:
        time.sleep(0.2)
        out = run_task(connections, config(pg_url, 'long_running = "100ms"'))
    finally:
        with psycopg.connect(pg_url, autocommit=True) as c:
            c.execute(f"ROLLBACK PREPARED '{gid}'")
    assert out.error is None, out.error
    found = [f for f in findings(out, "db.xmin.horizon") if gid in f.subject]
    assert found and found[0].evidence["holder"]["kind"] == "prepared transaction"


def test_a_role_without_pg_monitor_gets_unknown_with_the_grant(
    pg_url: str, idle_writer: psycopg.Connection[Any]
) -> None:
    role = f"rota_low_{secrets.token_hex(3)}"
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute(f"CREATE ROLE {role} LOGIN")
    try:
        low_url = pg_url.replace("postgres@", f"{role}@", 1)
        assert low_url != pg_url, pg_url
        out = run_task(connections, config(low_url, 'idle_in_transaction = "1ms"'))
    finally:
        with psycopg.connect(pg_url, autocommit=True) as c:
            c.execute(f"DROP ROLE {role}")
    assert out.error is None, out.error
    (f,) = findings(out, "db.connections.idle_in_transaction")
    assert f.severity is Severity.UNKNOWN
    assert f.evidence["hidden_sessions"] >= 1
    assert f"GRANT pg_monitor TO {role}" in f.remedy


def test_helpers_format_durations_and_percentiles() -> None:
    assert human_duration(3725) == "1h02m"
    assert human_duration(2.5) == "2.5s"
    assert human_duration(90061) == "1d01h"
    assert percentile([1, 2, 3, 4, 100], 95) == 100
    assert percentile([5.0], 50) == 5.0


def test_it_names_an_abandoned_replication_slot_holding_back_vacuum(pg_url: str) -> None:
    slot = f"rota_test_{secrets.token_hex(4)}"
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute("SELECT pg_create_logical_replication_slot(%s, 'test_decoding')", (slot,))
        # Consume some transaction IDs so the slot's catalog_xmin has an age.
        c.execute(
            "DO $$ BEGIN FOR i IN 1..50 LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$"
        )
    try:
        out = run_task(connections, config(pg_url, 'long_running = "100ms"'))
    finally:
        with psycopg.connect(pg_url, autocommit=True) as c:
            c.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
    assert out.error is None, out.error
    found = [f for f in findings(out, "db.xmin.horizon") if slot in f.subject]
    assert found, [f.subject for f in findings(out, "db.xmin.horizon")]
    f = found[0]
    assert f.subject == f"replication slot {slot}"
    assert f.evidence["holder"]["kind"] == "replication slot"
    assert f.evidence["xid_age"] >= 50
    assert f"pg_drop_replication_slot('{slot}')" in f.remedy
