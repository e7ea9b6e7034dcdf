"""db.indexes against a real PostgreSQL: planted index faults found, and fixed with --apply."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from rota.model import Severity, StepStatus, TaskOutcome
from rota.tasks.db.analyze import analyze
from rota.tasks.db.indexes import indexes, parse_index_file
from rota.tasks.db.vacuum import vacuum
from rota.testing import findings, run_task
from rota_sandbox.dataset import index_declarations


def config(url: str, tmp_path: Path) -> str:
    """The tests' config, with the sandbox's declared indexes written to ``tmp_path``."""
    index_file = tmp_path / "apply-indexes.sql"
    index_file.write_text(index_declarations())
    return f"""
[database]
url = "{url}"
index_file = "{index_file}"
lock_timeout = "200ms"
lock_retry_delay = "50ms"
[database.thresholds]
bloat_min_bytes = "50kB"
unused_index_stats_age = "0s"
[schedule]
window = "daily 00:00-00:00 UTC"
"""


def by_code(outcome: TaskOutcome, code: str) -> dict[str, Any]:
    return {f.subject: f for f in findings(outcome, code) if f.severity is not Severity.OK}


def scalar(url: str, query: str) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query).fetchone()
        return row[0] if row else None


def test_it_finds_every_planted_index_fault(pg_faulty_url: str, tmp_path: Path) -> None:
    out = run_task(indexes, config(pg_faulty_url, tmp_path))
    assert out.error is None
    invalid = by_code(out, "db.index.invalid")["public.users_email_lower_key"]
    assert invalid.severity is Severity.CRITICAL and invalid.evidence["duplicate_groups"] >= 1
    dup = by_code(out, "db.index.duplicate")["public.conversations_user_id_idx"]
    assert dup.evidence["covered_by"] == "public.conversations_user_id_updated_at_idx"
    assert "query" in dup.evidence
    unused = by_code(out, "db.index.unused")
    assert "public.messages_latency_ms_idx" in unused
    assert unused["public.messages_latency_ms_idx"].evidence["idx_scan"] == 0
    assert not any("pkey" in s or s.endswith("_key") for s in unused)
    missing = by_code(out, "db.index.missing")
    assert list(missing) == ["public.messages_conversation_id_created_at_idx"]
    assert "CONCURRENTLY" in missing["public.messages_conversation_id_created_at_idx"].remedy
    bloat = by_code(out, "db.bloat.index")
    for f in bloat.values():
        assert f.evidence["bloat_bytes"] > 0 and f.evidence["bloat_percent"] >= 30


def test_it_says_when_statistics_are_too_young_to_judge_unused_indexes(pg_faulty_url: str) -> None:
    # Default unused_index_stats_age (7 days); the clone's statistics are seconds old.
    out = run_task(indexes, pg_faulty_url)
    [f] = findings(out, "db.index.unused")
    assert f.severity is Severity.OK and "cannot judge unused indexes yet" in f.message


def test_a_clean_database_gives_no_warnings(pg_url: str, tmp_path: Path) -> None:
    out = run_task(indexes, config(pg_url, tmp_path))
    bad = [
        f
        for f in out.findings
        if f.severity in (Severity.WARNING, Severity.CRITICAL) and f.code != "db.index.unused"
    ]
    assert bad == []
    # idx_scan is 0 everywhere in a fresh clone; with the default stats age it is not judged.
    out = run_task(indexes, pg_url)
    assert out.status is Severity.OK


def test_check_mode_of_all_maintenance_tasks_changes_nothing(
    pg_faulty_url: str, tmp_path: Path, assert_read_only: Any
) -> None:
    index_file = tmp_path / "apply-indexes.sql"
    index_file.write_text(index_declarations())
    toml = f"""
[database]
url = "{pg_faulty_url}"
index_file = "{index_file}"
high_churn_tables = ["conversations", "messages"]
[database.thresholds]
bloat_min_bytes = "50kB"
unused_index_stats_age = "0s"
[schedule]
window = "daily 00:00-00:00 UTC"
"""
    outcomes = assert_read_only(
        lambda: [run_task(t, toml) for t in (indexes, analyze, vacuum)],
        urls=(pg_faulty_url,),
    )
    steps = [s for t in outcomes for s in t.steps]
    assert steps and all(s.status is StepStatus.PLANNED for s in steps)
    assert all(t.error is None for t in outcomes)


def test_it_creates_a_declared_index_concurrently_and_valid(
    pg_faulty_url: str, tmp_path: Path
) -> None:
    out = run_task(indexes, config(pg_faulty_url, tmp_path), apply=True)
    [step] = [s for s in out.steps if s.action.startswith("create ")]
    assert step.status is StepStatus.DONE, step.detail
    assert "CONCURRENTLY" in step.detail["sql"] and step.detail["valid"] is True
    assert scalar(
        pg_faulty_url,
        "SELECT indisvalid FROM pg_index "
        "WHERE indexrelid = 'messages_conversation_id_created_at_idx'::regclass",
    )
    again = run_task(indexes, config(pg_faulty_url, tmp_path))
    assert by_code(again, "db.index.missing") == {}


def test_it_reports_an_invalid_unique_index_whose_data_still_violates_it(
    pg_faulty_url: str, tmp_path: Path
) -> None:
    out = run_task(indexes, config(pg_faulty_url, tmp_path), apply=True)
    assert not [s for s in out.steps if "users_email_lower_key" in s.action]
    assert not scalar(
        pg_faulty_url,
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email_lower_key'::regclass",
    )


def test_it_rebuilds_an_invalid_index(pg_faulty_url: str, tmp_path: Path) -> None:
    with psycopg.connect(pg_faulty_url, autocommit=True) as conn:
        conn.execute("UPDATE users SET email = id || '.' || email")  # duplicates resolved
    out = run_task(indexes, config(pg_faulty_url, tmp_path), apply=True)
    [step] = [s for s in out.steps if s.action == "rebuild public.users_email_lower_key"]
    assert step.status is StepStatus.DONE, step.detail
    assert "REINDEX INDEX CONCURRENTLY" in step.detail["sql"]
    assert step.detail["analyzed"] == "users"
    assert scalar(
        pg_faulty_url,
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email_lower_key'::regclass",
    )


def test_a_failed_concurrent_build_is_cleaned_up_and_reported(pg_url: str, tmp_path: Path) -> None:
    index_file = tmp_path / "apply-indexes.sql"
    index_file.write_text(
        "CREATE UNIQUE INDEX IF NOT EXISTS messages_role_key ON messages (role);\n"
    )
    toml = (
        f'[database]\nurl = "{pg_url}"\nindex_file = "{index_file}"\n'
        '[schedule]\nwindow = "daily 00:00-00:00 UTC"\n'
    )
    out = run_task(indexes, toml, apply=True)
    [step] = [s for s in out.steps if s.action.startswith("create ")]
    assert step.status is StepStatus.FAILED and "UniqueViolation" in step.detail["error"]
    assert any("dropped the invalid index" in f.message for f in out.findings)
    assert scalar(pg_url, "SELECT to_regclass('messages_role_key')") is None


def test_it_parses_declared_indexes_in_any_common_spelling() -> None:
    text = """
    -- apply-indexes
    CREATE INDEX CONCURRENTLY IF NOT EXISTS a_idx ON public.t (x);
    create unique index "B_Idx" on "S"."T" using btree (lower(y)) where z is not null;
    BEGIN;
    DROP TABLE t;
    """
    declared, problems = parse_index_file(text)
    assert [(d.name, d.schema, d.table) for d in declared] == [
        ("a_idx", "public", "t"),
        ("B_Idx", "S", "T"),
    ]
    assert declared[1].concurrent.startswith("create unique index CONCURRENTLY")
    assert len(problems) == 1 and "DROP TABLE" in problems[0]


@pytest.mark.parametrize(
    "spelling", ["(conversation_id, created_at)", "USING btree (conversation_id ASC, created_at)"]
)
def test_it_matches_a_declared_index_present_under_another_name(
    pg_url: str, tmp_path: Path, spelling: str
) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP INDEX messages_conversation_id_created_at_idx")
        conn.execute("CREATE INDEX other_name ON messages (conversation_id, created_at)")
    index_file = tmp_path / "i.sql"
    index_file.write_text(
        f"CREATE INDEX messages_conversation_id_created_at_idx ON messages {spelling};"
    )
    out = run_task(indexes, f'[database]\nurl = "{pg_url}"\nindex_file = "{index_file}"\n')
    found = findings(out, "db.index.missing")
    assert all(f.severity is Severity.OK for f in found)
    assert any("other_name" in f.message for f in found)


# -- bloat: estimated without pgstattuple, measured with it -----------------------------------


def drop_pgstattuple(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP EXTENSION pgstattuple")


def bloat_an_index(url: str) -> None:
    """events_id_idx holds 200k entries' worth of pages for 20k rows: nine in ten deleted,
    vacuumed (so the statistics are fresh) and never rebuilt."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE events (id bigint NOT NULL, kind text)")
        conn.execute("CREATE INDEX events_id_idx ON events (id)")
        conn.execute("CREATE INDEX events_kind_idx ON events (lower(kind))")
        conn.execute(
            "INSERT INTO events SELECT g, 'kind ' || (g % 7) FROM generate_series(1, 200000) g"
        )
        conn.execute("DELETE FROM events WHERE id % 10 <> 0")
        # Counted changes reach the statistics when the session is idle: before the ANALYZE,
        # or they would count as changes since it.
        conn.execute("SELECT pg_stat_force_next_flush()")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) events")


def test_without_pgstattuple_index_bloat_is_estimated_and_nothing_is_rebuilt(
    pg_url: str, tmp_path: Path
) -> None:
    drop_pgstattuple(pg_url)
    bloat_an_index(pg_url)
    out = run_task(indexes, config(pg_url, tmp_path), apply=True)
    assert out.status is Severity.WARNING and out.error is None
    assert [f for f in out.findings if f.severity is Severity.UNKNOWN] == []
    found = by_code(out, "db.bloat.index")
    f = found["public.events_id_idx"]
    ev = f.evidence
    # pgstatindex measures about 90% here; the estimate from statistics agrees.
    assert ev["method"] == "estimate" and 80 <= ev["bloat_percent"] <= 95
    assert ev["estimate_confidence"] == "medium" and ev["estimate_caveats"] == []
    assert ev["estimate_basis"]["expected_pages"] < ev["estimate_basis"]["relpages"] / 5
    assert "estimated from statistics (medium confidence" in f.message
    assert "needs a measurement" in f.message and "pg_stats" in ev["query"]
    assert "CREATE EXTENSION pgstattuple" in f.remedy
    # An expression index is estimated too, and says how little to trust it.
    kind = found["public.events_kind_idx"].evidence
    assert kind["estimate_confidence"] == "low"
    assert any("expression index" in c for c in kind["estimate_caveats"])
    # No REINDEX on an estimate alone, not even with --apply.
    assert not [s for s in out.steps if s.action.startswith("reindex ")]
    assert scalar(pg_url, "SELECT pg_relation_size('events_id_idx')") > 3 << 20


def test_without_pgstattuple_a_clean_database_has_no_index_bloat(pg_url: str) -> None:
    drop_pgstattuple(pg_url)
    toml = f'[database]\nurl = "{pg_url}"\n[database.thresholds]\nbloat_min_bytes = "50kB"\n'
    out = run_task(indexes, toml)
    assert out.status is Severity.OK, [
        f.message for f in out.findings if f.severity is not Severity.OK
    ]
    [summary] = findings(out, "db.bloat.index")
    assert summary.evidence["method"] == "estimate" and "not installed" in summary.message


def test_with_pgstattuple_index_bloat_is_measured_and_rebuilt(pg_url: str, tmp_path: Path) -> None:
    bloat_an_index(pg_url)
    out = run_task(indexes, config(pg_url, tmp_path))
    f = by_code(out, "db.bloat.index")["public.events_id_idx"]
    ev = f.evidence
    assert ev["method"] == "pgstatindex" and "pgstatindex" in ev["query"]
    assert ev["bloat_percent"] >= 80 and ev["avg_leaf_density"] < 20
    # The estimate that led to the measurement travels with it, and came close.
    assert ev["estimate_confidence"] == "medium"
    assert abs(ev["estimate_percent"] - ev["bloat_percent"]) < 10
    [step] = [s for s in out.steps if s.action == "reindex public.events_id_idx"]
    assert step.status is StepStatus.PLANNED
    assert "REINDEX INDEX CONCURRENTLY" in step.detail["sql"]
