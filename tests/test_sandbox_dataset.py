"""The sandbox platform's data and planted faults, in a real PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from rota.testing import FAULTY_TEMPLATE, DatabaseTemplate
from rota_sandbox import dataset, traffic
from rota_sandbox.postgres import Cluster

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TINY = 0.02


@pytest.fixture
def scratch_db(pg_cluster: Cluster) -> Iterator[str]:
    """An empty database (extensions only), dropped after the test."""
    pg_cluster.drop_database("dataset_scratch")
    url = pg_cluster.create_database("dataset_scratch")
    yield url
    pg_cluster.drop_database("dataset_scratch")


def _fingerprint(url: str) -> dict[str, Any]:
    """Row counts and a digest of every platform table's rows."""
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) "
                f"FROM {table} t"
            ).fetchone()
            for table in dataset.SCHEMA_TABLES
        }


def _one(url: str, query: str, *params: Any) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(query, params or None).fetchone()
    return row[0] if row else None


def test_it_loads_the_same_rows_for_the_same_seed(pg_cluster: Cluster, scratch_db: str) -> None:
    first = dataset.load(scratch_db, scale=TINY, seed=7, now=NOW)
    digest = _fingerprint(scratch_db)
    # Loading again replaces the tables; a second database gets the very same rows.
    assert dataset.load(scratch_db, scale=TINY, seed=7, now=NOW) == first
    assert _fingerprint(scratch_db) == digest
    other = pg_cluster.create_database("dataset_other_seed")
    try:
        dataset.load(other, scale=TINY, seed=8, now=NOW)
        assert _fingerprint(other)["messages"] != digest["messages"]
    finally:
        pg_cluster.drop_database("dataset_other_seed")
    assert set(first) == set(dataset.SCHEMA_TABLES)
    assert all(count > 0 for count in first.values())
    # The loader's own statements are not left to crowd the platform's in the statistics.
    loader = _one(
        scratch_db,
        "SELECT count(*) FROM pg_stat_statements WHERE query LIKE '%generate_series%' "
        "AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    assert loader == 0


def test_it_grows_linearly_with_scale(scratch_db: str, pg_template: DatabaseTemplate) -> None:
    small = dataset.load(scratch_db, scale=TINY, now=NOW, churn=False, faults=False)
    large = pg_template.counts  # same seed, TEST_SCALE = 2.5 x TINY
    for table in ("users", "conversations", "audit_log"):
        assert large[table] == pytest.approx(small[table] * 2.5, rel=0.01), table
    for table in ("messages", "api_keys", "sessions"):
        assert large[table] == pytest.approx(small[table] * 2.5, rel=0.15), table
    assert large["users"] == 100 and large["conversations"] == 1000
    assert 9_000 < large["messages"] < 11_000


def test_it_spreads_activity_over_the_six_months_before_now(scratch_db: str) -> None:
    dataset.load(scratch_db, scale=TINY, now=NOW, churn=False, faults=False)
    with psycopg.connect(scratch_db) as conn:
        oldest, newest = conn.execute(
            "SELECT min(created_at), max(created_at) FROM messages"
        ).fetchone() or (None, None)
        orphans = conn.execute(
            "SELECT count(*) FROM conversations c JOIN users u ON u.id = c.user_id "
            "WHERE c.created_at < u.created_at - interval '2 hours'"
        ).fetchone()
    assert oldest is not None and newest is not None
    assert (NOW - oldest).days >= 170
    assert newest <= NOW and (NOW - newest).days < 2
    assert orphans == (0,)


def test_the_clean_database_has_no_bloat_and_no_planted_fault(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        waste = conn.execute(
            "SELECT dead_tuple_percent + free_percent FROM pgstattuple('messages')"
        ).fetchone()
        invalid = conn.execute("SELECT count(*) FROM pg_index WHERE NOT indisvalid").fetchone()
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes")}
        options = conn.execute(
            "SELECT count(*) FROM pg_class WHERE reloptions IS NOT NULL AND relkind = 'r'"
        ).fetchone()
        sequence = conn.execute("SELECT last_value FROM audit_log_id_seq").fetchone()
    assert waste is not None and waste[0] < 10
    assert invalid == (0,)
    assert {name for name, _, _ in dataset.DECLARED_INDEXES} <= indexes
    assert "conversations_user_id_idx" not in indexes
    assert "messages_latency_ms_idx" not in indexes
    assert options == (0,)
    assert sequence is not None and sequence[0] < 10_000


def test_it_leaves_messages_bloated_with_autovacuum_off(pg_faulty_url: str) -> None:
    with psycopg.connect(pg_faulty_url) as conn:
        dead, free = conn.execute(
            "SELECT dead_tuple_percent, free_percent FROM pgstattuple('messages')"
        ).fetchone() or (0, 0)
        options = dict(
            conn.execute(
                "SELECT relname, reloptions FROM pg_class WHERE relname = ANY(%s)",
                (list(dataset.CHURNED_TABLES),),
            ).fetchall()
        )
        dead_tuples = dict(
            conn.execute("SELECT relname, n_dead_tup FROM pg_stat_user_tables").fetchall()
        )
    assert dead + free > 30
    assert dead > 0
    for table in dataset.CHURNED_TABLES:
        assert options[table] == ["autovacuum_enabled=off"]
        assert dead_tuples[table] > 100


def test_it_leaves_an_invalid_index_from_a_failed_concurrent_build(pg_faulty_url: str) -> None:
    valid = _one(
        pg_faulty_url,
        "SELECT indisvalid FROM pg_index WHERE indexrelid = %s::regclass",
        dataset.PLANTED_FAULTS["invalid_index"],
    )
    duplicates = _one(
        pg_faulty_url,
        "SELECT count(*) FROM (SELECT lower(email) FROM users GROUP BY 1 HAVING count(*) > 1) d",
    )
    assert valid is False
    assert duplicates > 0  # why the build failed, and why a plain REINDEX would fail again


def test_it_plants_a_duplicate_and_an_unused_index(pg_faulty_url: str) -> None:
    with psycopg.connect(pg_faulty_url) as conn:
        keys = dict(
            conn.execute(
                "SELECT indexrelid::regclass::text, indkey::int2[] FROM pg_index "
                "WHERE indrelid = 'conversations'::regclass"
            ).fetchall()
        )
        scans = dict(
            conn.execute(
                "SELECT indexrelname, idx_scan FROM pg_stat_user_indexes s "
                "JOIN pg_index i ON i.indexrelid = s.indexrelid "
                "WHERE NOT i.indisunique AND i.indisvalid"
            ).fetchall()
        )
    duplicate = keys[dataset.PLANTED_FAULTS["duplicate_index"]]
    covering = keys["conversations_user_id_updated_at_idx"]
    assert len(duplicate) < len(covering) and covering[: len(duplicate)] == duplicate
    unused = dataset.PLANTED_FAULTS["unused_index"]
    assert scans.pop(unused) == 0
    assert scans and all(count > 0 for count in scans.values()), scans


def test_it_leaves_a_declared_foreign_key_index_missing(pg_faulty_url: str) -> None:
    missing = dataset.PLANTED_FAULTS["missing_index"]
    declarations = dataset.index_declarations()
    assert f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {missing} ON messages" in declarations
    query = "SELECT * FROM messages WHERE conversation_id = 42 ORDER BY created_at"
    with psycopg.connect(pg_faulty_url, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass(%s)", (missing,)).fetchone() == (None,)
        plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN {query}"))
        assert "Seq Scan on messages" in plan
        # The apply-indexes script fixes it, and running it twice is harmless.
        for _ in range(2):
            for statement in declarations.splitlines():
                conn.execute(statement)
        conn.execute("ANALYZE messages")
        plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN {query}"))
    assert missing in plan


def test_it_runs_the_audit_log_sequence_near_its_int_limit(pg_faulty_url: str) -> None:
    with psycopg.connect(pg_faulty_url) as conn:
        last, maximum, kind = conn.execute(
            "SELECT last_value, max_value, data_type::text FROM pg_sequences "
            "WHERE sequencename = 'audit_log_id_seq'"
        ).fetchone() or (0, 1, "")
    assert kind == "integer" and maximum == 2**31 - 1
    assert 0.84 < last / maximum < 0.86


def test_it_records_the_slow_platform_query_in_pg_stat_statements(pg_faulty_url: str) -> None:
    with psycopg.connect(pg_faulty_url) as conn:
        top = conn.execute(
            "SELECT query, calls FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND query ILIKE '%FROM messages%' ORDER BY total_exec_time DESC"
        ).fetchall()
    by_query = {query: calls for query, calls in top}
    slow = [q for q in by_query if "WHERE conversation_id = $1" in q]
    assert slow and by_query[slow[0]] >= traffic.SLOW_CALLS


def test_a_plain_clone_keeps_the_stored_faults_but_not_the_statistics(
    pg_cluster: Cluster, pg_template_faulty: DatabaseTemplate
) -> None:
    url = pg_cluster.create_database("clone_without_runtime", template=FAULTY_TEMPLATE)
    statements = (
        "SELECT count(*) FROM pg_stat_statements WHERE query LIKE '%conversation_id = $1%' "
        "AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    try:
        # Stored in the database's files: copied by CREATE DATABASE ... TEMPLATE.
        assert _one(url, "SELECT count(*) FROM pg_index WHERE NOT indisvalid") == 1
        assert (
            _one(url, "SELECT dead_tuple_percent + free_percent FROM pgstattuple('messages')") > 30
        )
        assert _one(url, "SELECT to_regclass('messages_latency_ms_idx') IS NOT NULL") is True
        # Kept in server memory per database: not copied.
        assert _one(url, statements) == 0
        assert (
            _one(url, "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'messages'") == 0
        )
        traffic.plant_runtime_faults(url)
        assert _one(url, statements) > 0
        assert (
            _one(url, "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'messages'") > 0
        )
    finally:
        pg_cluster.drop_database("clone_without_runtime")


def test_cloning_a_template_is_fast(pg_cluster: Cluster, pg_template: DatabaseTemplate) -> None:
    started = time.monotonic()
    pg_cluster.create_database("clone_timing", template=pg_template.name)
    elapsed = time.monotonic() - started
    pg_cluster.drop_database("clone_timing")
    assert elapsed < 1.5  # about 0.1 s on 2 idle cores; generous for loaded CI machines


def _states(url: str, pids: list[int]) -> dict[int, str]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid, state FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)
        ).fetchall()
    return dict(rows)


def test_it_holds_an_idle_and_an_idle_in_transaction_session(pg_url: str) -> None:
    idle = traffic.idle_connection(pg_url, label="rota-test-idle")
    try:
        in_tx, plain = idle.backend_pids
        assert _states(pg_url, idle.backend_pids) == {in_tx: "idle in transaction", plain: "idle"}
    finally:
        idle.close()
    deadline = time.monotonic() + 5
    while _states(pg_url, idle.backend_pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _states(pg_url, idle.backend_pids) == {}


def test_idle_sessions_end_by_themselves_after_the_given_time(pg_url: str) -> None:
    idle = traffic.idle_connection(pg_url, seconds=0.5, detached=True)
    assert len(_states(pg_url, idle.backend_pids)) == 2
    deadline = time.monotonic() + 10
    while _states(pg_url, idle.backend_pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _states(pg_url, idle.backend_pids) == {}
    idle.close()  # already gone: closing again is harmless
