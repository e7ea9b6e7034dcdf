"""db.analyze against a real PostgreSQL: only tables past their autoanalyze trigger."""

from __future__ import annotations

from typing import Any

from rota.model import Severity, StepStatus, TaskOutcome
from rota.tasks.db.analyze import analyze
from rota.testing import execute_and_flush, findings, run_task


def config(url: str, extra: str = "") -> str:
    return (
        f'[database]\nurl = "{url}"\nlock_timeout = "200ms"\nlock_retry_delay = "50ms"\n{extra}\n'
        '[schedule]\nwindow = "daily 00:00-00:00 UTC"\n'
    )


def overdue(out: TaskOutcome) -> dict[str, Any]:
    return {
        f.subject: f for f in findings(out, "db.analyze.overdue") if f.severity is not Severity.OK
    }


def test_it_flags_a_table_past_its_autoanalyze_trigger(pg_url: str) -> None:
    execute_and_flush(
        pg_url, "UPDATE messages SET tokens = coalesce(tokens, 0) + 1 WHERE id % 3 = 0"
    )
    out = run_task(analyze, config(pg_url))
    f = overdue(out)["public.messages"]
    assert f.evidence["n_mod_since_analyze"] > f.evidence["trigger"] > 50
    assert "n_mod_since_analyze" in f.evidence["query"]
    assert [s.action for s in out.steps] == ["ANALYZE public.messages"]


def test_it_honours_a_per_table_scale_factor(pg_url: str) -> None:
    execute_and_flush(
        pg_url,
        "ALTER TABLE messages SET (autovacuum_analyze_scale_factor = 0.9)",
        "UPDATE messages SET tokens = coalesce(tokens, 0) + 1 WHERE id % 3 = 0",
    )
    assert overdue(run_task(analyze, config(pg_url))) == {}


def test_it_ignores_tiny_tables_and_a_clean_database_is_ok(pg_url: str) -> None:
    execute_and_flush(pg_url, "UPDATE schema_migrations SET name = name || '!'")
    out = run_task(analyze, config(pg_url))
    assert out.status is Severity.OK and out.steps == []


def test_apply_analyzes_only_the_tables_that_need_it(pg_url: str) -> None:
    execute_and_flush(
        pg_url, "UPDATE messages SET tokens = coalesce(tokens, 0) + 1 WHERE id % 3 = 0"
    )
    out = run_task(analyze, config(pg_url), apply=True)
    [step] = out.steps
    assert step.status is StepStatus.DONE and step.detail["sql"] == 'ANALYZE "public"."messages"'
    execute_and_flush(pg_url)
    assert overdue(run_task(analyze, config(pg_url))) == {}


def test_analyze_all_falls_back_to_the_runbooks_database_wide_analyze(
    pg_url: str, assert_read_only: Any
) -> None:
    out = assert_read_only(
        lambda: run_task(analyze, config(pg_url, "analyze_all = true")), urls=(pg_url,)
    )
    [step] = out.steps
    assert step.status is StepStatus.PLANNED and step.detail["sql"] == "ANALYZE"
