"""db.tuning against a real PostgreSQL: wraparound, sequences, slow statements, settings."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from rota.history import open_history
from rota.model import Finding, Severity, TaskOutcome
from rota.readonly import assert_read_only
from rota.tasks.db.tuning import tuning
from rota.testing import findings, run_task
from rota_sandbox.traffic import SLOW_CALLS

# What the test cluster's own configuration earns, each for a stated reason: the sandbox
# runs with fsync and full_page_writes off (disposable data), the default 128MB of
# shared_buffers on a machine with far more RAM, and no idle-transaction timeout.
SANDBOX_SETTINGS = {
    ("fsync", Severity.CRITICAL),
    ("full_page_writes", Severity.WARNING),
    ("shared_buffers", Severity.WARNING),
    ("idle_in_transaction_session_timeout", Severity.WARNING),
}


def config(url: str, thresholds: str = "") -> str:
    # Without the engine's advisory-lock statement, only this test's statements are new.
    return (
        f'[database]\nurl = "{url}"\nadvisory_locks = false\n[database.thresholds]\n{thresholds}\n'
    )


def _problems(outcome: TaskOutcome, code: str) -> list[Finding]:
    return [f for f in findings(outcome, code) if f.severity is not Severity.OK]


def test_a_clean_database_gives_only_the_sandbox_settings_findings(pg_url: str) -> None:
    # Checkpoint counters are cluster-wide: every database the other tests of the session
    # created or dropped requested a checkpoint, which reads as max_wal_size too small.
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_stat_reset_shared(CASE WHEN current_setting('server_version_num')::int "
            ">= 170000 THEN 'checkpointer' ELSE 'bgwriter' END)"
        )
    out = assert_read_only(lambda: run_task(tuning, config(pg_url)), urls=(pg_url,))
    assert out.error is None, out.error
    bad = {(f.subject, f.severity) for f in out.findings if f.severity is not Severity.OK}
    assert bad == SANDBOX_SETTINGS
    for code in ("db.wraparound.xid", "db.wraparound.mxid", "db.sequence.exhaustion"):
        (ok,) = findings(out, code)
        assert ok.severity is Severity.OK and "query" in ok.evidence
    fsync = next(f for f in out.findings if f.subject == "fsync")
    assert "fsync = on" in fsync.remedy


def test_it_finds_the_planted_sequence_near_its_maximum(pg_faulty_url: str) -> None:
    out = run_task(tuning, config(pg_faulty_url))
    assert out.error is None, out.error
    (f,) = _problems(out, "db.sequence.exhaustion")
    assert f.subject == "public.audit_log_id_seq"
    assert f.severity is Severity.WARNING
    assert 84 < f.evidence["percent"] < 86
    assert f.evidence["limit"] == 2**31 - 1
    assert f.evidence["columns"] == ["audit_log.id integer"]
    assert "ALTER TABLE audit_log ALTER COLUMN id TYPE bigint" in f.remedy


def test_an_int_column_fed_by_a_bigint_sequence_runs_out_at_two_to_the_31(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute("CREATE TABLE events (id int NOT NULL DEFAULT 0)")
        c.execute("CREATE SEQUENCE events_id_seq AS bigint OWNED BY events.id")
        c.execute("ALTER TABLE events ALTER COLUMN id SET DEFAULT nextval('events_id_seq')")
        c.execute("SELECT setval('events_id_seq', %s)", (int(0.9 * 2**31),))
        c.execute("CREATE TABLE tags (id smallint GENERATED ALWAYS AS IDENTITY, t text)")
        c.execute("SELECT setval(pg_get_serial_sequence('tags', 'id'), 32000)")
    out = run_task(tuning, config(pg_url))
    assert out.error is None, out.error
    found = {f.subject: f for f in _problems(out, "db.sequence.exhaustion")}
    events = found["public.events_id_seq"]
    assert events.severity is Severity.WARNING
    assert events.evidence["limited_by"] == "column type"
    assert events.evidence["sequence_type"] == "bigint"
    assert events.evidence["limit"] == 2**31 - 1
    assert events.evidence["columns"] == ["events.id integer"]
    tags = found["public.tags_id_seq"]
    assert tags.severity is Severity.CRITICAL  # 97.7% of smallint
    assert tags.evidence["values_left"] == 767


def test_slow_statements_are_deltas_between_runs(pg_url: str, tmp_path: Path) -> None:
    history = open_history(f"sqlite:///{tmp_path / 'history.db'}")
    marker = "SELECT count(*) FROM messages WHERE role = %s"
    with psycopg.connect(pg_url, autocommit=True, application_name="app") as app:
        for _ in range(5):
            app.execute(marker, ("user",))
        first = run_task(tuning, config(pg_url, 'slow_query = "1h"'), history=history)
        for _ in range(7):
            app.execute(marker, ("assistant",))
        app.execute("SELECT count(*) FROM conversations")
        second = run_task(tuning, config(pg_url, 'slow_query = "0ms"'), history=history)
    assert first.error is None and second.error is None, (first.error, second.error)

    def mine(out: TaskOutcome) -> Finding:
        (f,) = [
            f
            for f in findings(out, "db.queries.slow")
            if "FROM messages WHERE role" in f.evidence.get("statement", "")
        ]
        return f

    one = mine(first)
    assert one.evidence["calls"] == 5
    assert one.evidence["window"].startswith("since stats reset at ")
    assert one.severity is Severity.OK
    two = mine(second)
    assert two.evidence["calls"] == 7
    assert two.evidence["window"] == "since the last run"
    assert two.severity is Severity.WARNING  # every mean is past a 0 ms threshold
    assert {"total_ms", "mean_ms", "rows", "shared_blks_hit", "shared_blks_read"} <= set(
        two.evidence
    )
    statements = [f.evidence.get("statement", "") for f in findings(second, "db.queries.slow")]
    # Only what ran between the runs, and none of rota's own catalog reads.
    assert len(statements) == 2, statements
    assert not any("/* rota */" in s for s in statements)


def test_the_planted_seq_scans_lead_the_statements(pg_faulty_url: str) -> None:
    out = run_task(tuning, config(pg_faulty_url))
    assert out.error is None, out.error
    found = findings(out, "db.queries.slow")
    assert found[0].message.startswith("#1 by total time")
    assert "FROM messages" in found[0].evidence["statement"]
    (scan,) = [f for f in found if "messages WHERE conversation_id = $1" in f.evidence["statement"]]
    assert scan.evidence["calls"] == SLOW_CALLS
    assert scan.evidence["shared_blks_hit"] + scan.evidence["shared_blks_read"] > SLOW_CALLS


def test_without_the_extension_slow_statements_are_unknown_with_the_fix(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute("DROP EXTENSION pg_stat_statements")
    out = run_task(tuning, config(pg_url))
    assert out.error is None, out.error
    (f,) = findings(out, "db.queries.slow")
    assert f.severity is Severity.UNKNOWN
    assert "CREATE EXTENSION pg_stat_statements" in f.message


def test_it_reports_a_table_and_its_toast_table_past_their_freeze_limit(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute(
            "CREATE TABLE frozen_late (id int, body text) WITH (autovacuum_enabled = false, "
            "autovacuum_freeze_max_age = 100000, toast.autovacuum_freeze_max_age = 100000)"
        )
        # Burn 100k transaction IDs so the new table is older than its own freeze limit.
        c.execute(
            "DO $$ BEGIN FOR i IN 1..100500 LOOP PERFORM pg_current_xact_id(); COMMIT; "
            "END LOOP; END $$"
        )
    out = run_task(tuning, config(pg_url))
    assert out.error is None, out.error
    found = {f.subject: f for f in _problems(out, "db.wraparound.xid")}
    table = found["public.frozen_late"]
    assert table.severity is Severity.WARNING
    assert table.evidence["freeze_max_age"] == 100000
    assert table.evidence["age"] > 100000
    assert table.evidence["ids_left"] == 2**31 - 1 - table.evidence["age"]
    assert "VACUUM (FREEZE, VERBOSE) public.frozen_late" in table.remedy
    (toast,) = [f for f in found.values() if f.evidence.get("toast_of") == "frozen_late"]
    assert toast.subject.startswith("pg_toast.pg_toast_")
    assert toast.subject.endswith("(TOAST of frozen_late)")


@pytest.mark.parametrize("setting", ["autovacuum", "track_counts"])
def test_the_settings_review_says_why_each_warning_matters(pg_url: str, setting: str) -> None:
    out = run_task(tuning, config(pg_url))
    assert out.error is None, out.error
    (f,) = [x for x in findings(out, "db.settings") if x.subject == setting]
    assert f.severity is Severity.OK  # on in the sandbox
    idle = next(x for x in out.findings if x.subject == "idle_in_transaction_session_timeout")
    assert "blocks VACUUM" in idle.message and "ALTER ROLE" in idle.remedy
    buffers = next(x for x in out.findings if x.subject == "shared_buffers")
    assert buffers.evidence["ram_known"] is True
    assert buffers.evidence["value_bytes"] == 128 << 20


def test_it_reports_a_table_past_its_multixact_freeze_limit(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute(
            "CREATE TABLE shared_rows (id int PRIMARY KEY) WITH (autovacuum_enabled = false, "
            "autovacuum_multixact_freeze_max_age = 10000)"
        )
        c.execute("INSERT INTO shared_rows VALUES (1)")
    # Two lockers of one row make a multixact; a fresh second locker per transaction makes a
    # new one each time, so 10,500 transactions age the table past its 10,000 limit.
    holder = psycopg.connect(pg_url)
    holder.execute("SELECT * FROM shared_rows WHERE id = 1 FOR SHARE")
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute(
            "DO $$ BEGIN FOR i IN 1..10500 LOOP "
            "PERFORM 1 FROM shared_rows WHERE id = 1 FOR SHARE; COMMIT; END LOOP; END $$"
        )
    holder.rollback()
    holder.close()
    out = run_task(tuning, config(pg_url))
    assert out.error is None, out.error
    found = {f.subject: f for f in _problems(out, "db.wraparound.mxid")}
    table = found["public.shared_rows"]
    assert table.severity is Severity.WARNING
    assert table.evidence["freeze_max_age"] == 10000
    assert table.evidence["age"] > 10000
