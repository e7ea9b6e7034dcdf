"""db.vacuum against a real PostgreSQL: overdue tables, measured bloat, and a rewrite that
never queues application traffic behind its lock."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg

from rota.model import Severity, StepStatus, TaskOutcome
from rota.tasks.db.vacuum import vacuum
from rota.testing import execute_and_flush, findings, run_task, wait_for_file

LOCK_TIMEOUT_S = 0.2


def config(url: str, extra: str = "") -> str:
    return f"""
[database]
url = "{url}"
high_churn_tables = ["messages"]
lock_timeout = "200ms"
lock_retries = 3
lock_retry_delay = "50ms"
{extra}
[database.thresholds]
bloat_min_bytes = "500kB"
[schedule]
window = "daily 00:00-00:00 UTC"
"""


def bad(outcome: TaskOutcome, code: str) -> dict[str, Any]:
    return {f.subject: f for f in findings(outcome, code) if f.severity is not Severity.OK}


def test_it_finds_overdue_vacuum_disabled_autovacuum_and_measured_bloat(pg_faulty_url: str) -> None:
    out = run_task(vacuum, config(pg_faulty_url))
    overdue = bad(out, "db.vacuum.overdue")
    assert set(overdue) == {"public.messages", "public.conversations"}
    m = overdue["public.messages"].evidence
    assert m["n_dead_tup"] > m["trigger"] and m["autovacuum_enabled"] is False
    assert set(bad(out, "db.vacuum.autovacuum_disabled")) == {
        "public.messages",
        "public.conversations",
    }
    bloat = bad(out, "db.bloat.table")["public.messages"].evidence
    assert bloat["method"] == "pgstattuple_approx" and 30 <= bloat["bloat_percent"] <= 50
    assert bloat["bloat_bytes"] > 500 * 1024 and "pgstattuple_approx" in bloat["query"]
    # The statistics estimate that led to the measurement travels with it.
    assert bloat["estimate_confidence"] in ("medium", "low") and bloat["estimate_percent"] > 15
    planned = {s.action: s for s in out.steps}
    assert planned["VACUUM FULL public.messages"].status is StepStatus.PLANNED
    tune = planned["tune autovacuum on public.messages"].detail["sql"]
    assert "autovacuum_enabled = on" in tune


def drop_pgstattuple(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP EXTENSION pgstattuple")


def test_without_pgstattuple_bloat_is_estimated_and_the_status_follows_the_estimate(
    pg_faulty_url: str,
) -> None:
    drop_pgstattuple(pg_faulty_url)
    out = run_task(vacuum, config(pg_faulty_url))
    assert out.status is Severity.WARNING and out.error is None
    assert [f for f in out.findings if f.severity is Severity.UNKNOWN] == []
    f = bad(out, "db.bloat.table")["public.messages"]
    ev = f.evidence
    # pgstattuple measures about 38% on this table; the estimate from statistics agrees.
    assert ev["method"] == "estimate" and 30 <= ev["bloat_percent"] <= 50
    assert ev["estimate_confidence"] == "medium" and ev["estimate_caveats"] == []
    assert ev["estimate_basis"]["expected_pages"] < ev["estimate_basis"]["relpages"]
    assert "estimated from statistics (medium confidence" in f.message
    assert "pg_stats" in ev["query"]
    # No rewrite on an estimate alone: said so, and nothing planned.
    rewrite = bad(out, "db.vacuum.rewrite")["public.messages"]
    assert rewrite.severity is Severity.WARNING and "needs a measurement" in rewrite.message
    assert "VACUUM FULL public.messages" not in {s.action for s in out.steps}
    assert "VACUUM (ANALYZE) public.messages" in {s.action for s in out.steps}


def test_without_pgstattuple_a_clean_database_is_ok(pg_url: str) -> None:
    drop_pgstattuple(pg_url)
    out = run_task(vacuum, config(pg_url))
    assert out.status is Severity.OK, [
        f.message for f in out.findings if f.severity is not Severity.OK
    ]
    [summary] = findings(out, "db.bloat.table")
    assert summary.evidence["method"] == "estimate" and "not installed" in summary.message
    [rewrite] = findings(out, "db.vacuum.rewrite")
    assert "no rewrite needed" in rewrite.message and rewrite.evidence["method"] == "estimate"


def test_an_estimate_from_stale_statistics_says_its_confidence_is_low(pg_url: str) -> None:
    drop_pgstattuple(pg_url)
    # Every row rewritten twice, no VACUUM or ANALYZE since: two thirds of the heap is dead.
    execute_and_flush(
        pg_url,
        "UPDATE messages SET tokens = coalesce(tokens, 0) + 1",
        "UPDATE messages SET tokens = tokens + 1",
    )
    out = run_task(vacuum, config(pg_url))
    ev = bad(out, "db.bloat.table")["public.messages"].evidence
    assert ev["method"] == "estimate" and ev["estimate_confidence"] == "low"
    assert any("statistics are stale" in c for c in ev["estimate_caveats"])
    assert ev["bloat_percent"] >= 50


def test_check_mode_changes_nothing(pg_faulty_url: str, assert_read_only: Any) -> None:
    out = assert_read_only(lambda: run_task(vacuum, config(pg_faulty_url)), urls=(pg_faulty_url,))
    assert out.error is None
    actions = {s.action: s for s in out.steps}
    # The rewrite, the vacuums and the autovacuum settings are all only planned.
    assert {
        "VACUUM FULL public.messages",
        "VACUUM (ANALYZE) public.conversations",
        "tune autovacuum on public.messages",
    } <= set(actions)
    assert all(s.status is StepStatus.PLANNED for s in out.steps)


def test_a_clean_database_gives_no_warnings(pg_url: str) -> None:
    out = run_task(vacuum, config(pg_url))
    assert [f for f in out.findings if f.severity is not Severity.OK] == []
    assert any("no rewrite needed" in f.message for f in findings(out, "db.vacuum.rewrite"))


def test_apply_shrinks_a_bloated_table_and_reports_the_bytes(pg_faulty_url: str) -> None:
    with psycopg.connect(pg_faulty_url) as conn:
        before = conn.execute("SELECT pg_total_relation_size('messages')").fetchone()[0]  # type: ignore[index]
    out = run_task(vacuum, config(pg_faulty_url), apply=True)
    steps = {s.action: s for s in out.steps}
    full = steps["VACUUM FULL public.messages"]
    assert full.status is StepStatus.DONE, full.detail
    with psycopg.connect(pg_faulty_url) as conn:
        after = conn.execute("SELECT pg_total_relation_size('messages')").fetchone()[0]  # type: ignore[index]
    assert after < before
    assert full.detail["bytes_reclaimed"] == before - after > 0
    # The rewritten table is not vacuumed again; the other overdue one is.
    assert "VACUUM (ANALYZE) public.messages" not in steps
    assert steps["VACUUM (ANALYZE) public.conversations"].status is StepStatus.DONE
    # Autovacuum settings are only proposed unless tune_autovacuum is on.
    assert steps["tune autovacuum on public.messages"].status is StepStatus.PLANNED


def test_it_applies_autovacuum_settings_only_when_opted_in(pg_faulty_url: str) -> None:
    run_task(vacuum, config(pg_faulty_url, "tune_autovacuum = true"), apply=True)
    with psycopg.connect(pg_faulty_url) as conn:
        opts = conn.execute(
            "SELECT reloptions FROM pg_class WHERE relname = 'messages'"
        ).fetchone()[0]  # type: ignore[index]
    assert "autovacuum_enabled=on" in opts and "autovacuum_vacuum_scale_factor=0.05" in opts


def test_vacuum_full_outside_a_window_is_refused(pg_faulty_url: str) -> None:
    toml = (
        f'[database]\nurl = "{pg_faulty_url}"\nhigh_churn_tables = ["messages"]\n'
        '[database.thresholds]\nbloat_min_bytes = "500kB"\n'
    )
    out = run_task(vacuum, toml, apply=True)
    [f] = findings(out, "db.vacuum.rewrite")
    assert f.severity is Severity.WARNING and "window" in f.message
    assert "VACUUM FULL public.messages" not in {s.action for s in out.steps}


def test_it_gives_up_on_a_held_lock_without_blocking_the_application(
    pg_faulty_url: str, tmp_path: Path
) -> None:
    hold_s = 3.0
    latencies: list[float] = []
    stop = threading.Event()
    writing = tmp_path / "writing"

    def writer() -> None:
        with psycopg.connect(pg_faulty_url, autocommit=True) as conn:
            cid = conn.execute("SELECT id FROM conversations LIMIT 1").fetchone()[0]  # type: ignore[index]
            while not stop.is_set():
                t0 = time.monotonic()
                conn.execute(
                    "INSERT INTO messages (conversation_id, role, content) VALUES (%s, 'user', 'hi')",
                    (cid,),
                )
                latencies.append(time.monotonic() - t0)
                if len(latencies) == 1:
                    writing.write_text("first insert done")
                time.sleep(0.05)

    holder = psycopg.connect(pg_faulty_url)
    holder.execute("LOCK TABLE messages IN ACCESS SHARE MODE")  # opens a transaction
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        wait_for_file(writing)
        t0 = time.monotonic()
        out = run_task(vacuum, config(pg_faulty_url), apply=True)
        elapsed = time.monotonic() - t0
        time.sleep(max(0.0, hold_s - elapsed))  # keep holding: a queued rota would block on
    finally:
        holder.rollback()
        holder.close()
        stop.set()
        thread.join()
    full = {s.action: s for s in out.steps}["VACUUM FULL public.messages"]
    assert full.status is StepStatus.FAILED
    [lock] = findings(out, "db.lock.timeout")
    assert lock.subject == "public.messages" and lock.evidence["attempts"] == 3
    # 3 x 200 ms waits plus 50 + 100 ms back-off, with room for the rest of the task.
    assert lock.evidence["waited_s"] < 3 * LOCK_TIMEOUT_S + 0.15 + 0.3
    assert elapsed < hold_s
    # Writers queue behind rota's lock request at most one lock_timeout at a time; had rota
    # queued without lock_timeout they would have waited for the whole hold (3 s).
    assert len(latencies) > 20
    assert max(latencies) < LOCK_TIMEOUT_S + 0.25, max(latencies)
