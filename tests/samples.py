"""Real-looking run reports and tasks for the writer and docs tests.

A weekly run against the Rylie platform: bloat on ``public.messages``, an error spike in the
logs, a key store that could not be reached, and healthy connections and cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from rota.model import Finding, Metric, RunReport, Severity, Step, StepStatus, TaskOutcome
from rota.task import Context, Item, Task, task

T0 = datetime(2025, 1, 6, 3, 0, 0, tzinfo=UTC)

BLOAT_QUERY = """SELECT relname, n_dead_tup, n_live_tup,
       pg_total_relation_size(relid) AS bytes
FROM pg_stat_user_tables
WHERE schemaname = 'public'
ORDER BY n_dead_tup DESC;"""


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def vacuum_outcome(mode: str = "check") -> TaskOutcome:
    if mode == "check":
        steps = [
            Step(
                "VACUUM FULL public.messages",
                StepStatus.PLANNED,
                0.0,
                {
                    "reason": "41.7% of the table is dead rows",
                    "lock": "ACCESS EXCLUSIVE",
                    "estimate_s": 140.0,
                    "sql": "SET lock_timeout = '5s'; VACUUM FULL public.messages;",
                },
            ),
            Step(
                "VACUUM ANALYZE",
                StepStatus.PLANNED,
                0.0,
                {"reason": "weekly statistics refresh", "lock": "none", "estimate_s": 20.0},
            ),
        ]
    else:
        steps = [
            Step(
                "VACUUM FULL public.messages",
                StepStatus.DONE,
                131.25,
                {
                    "reason": "41.7% of the table is dead rows",
                    "lock": "ACCESS EXCLUSIVE",
                    "sql": "VACUUM FULL public.messages;",
                    "reclaimed_bytes": 940_000_000,
                },
            ),
            Step(
                "VACUUM FULL public.conversations",
                StepStatus.FAILED,
                5.01,
                {
                    "reason": "31.0% of the table is dead rows",
                    "lock": "ACCESS EXCLUSIVE",
                    "error": "LockNotAvailable: canceling statement due to lock timeout",
                },
            ),
        ]
    return TaskOutcome(
        task_id="db.vacuum",
        started_at=_at(0),
        finished_at=_at(12.4 if mode == "check" else 150.0),
        findings=[
            Finding(
                code="db.bloat.table",
                severity=Severity.CRITICAL,
                message="public.messages is 41.7% dead rows (2.1 GiB)",
                subject="public.messages",
                evidence={
                    "bytes": 2_254_857_830,
                    "dead_percent": 41.7,
                    "threshold_percent": 30,
                    "n_dead_tup": 4_812_330,
                    "query": BLOAT_QUERY,
                },
                remedy="VACUUM FULL public.messages in the maintenance window (rota run "
                "db.vacuum --apply).",
            ),
            Finding(
                code="db.bloat.table",
                severity=Severity.WARNING,
                message="public.conversations is 22.0% dead rows",
                subject="public.conversations",
                evidence={"bytes": 310_000_000, "dead_percent": 22.0, "threshold_percent": 20},
                remedy="Let autovacuum catch up; check autovacuum_vacuum_scale_factor.",
            ),
            Finding(
                code="db.bloat.table",
                severity=Severity.OK,
                message="public.users is 1.2% dead rows",
                subject="public.users",
                evidence={"bytes": 8_192_000, "dead_percent": 1.2},
            ),
        ],
        metrics=[
            Metric("db.vacuum.dead_percent", 41.7, "percent", {"table": "public.messages"}),
            Metric("db.vacuum.dead_percent", 22.0, "percent", {"table": "public.conversations"}),
            Metric("table_bytes", 2_254_857_830, "bytes", {"table": "public.messages"}),
        ],
        steps=steps,
    )


def logs_outcome() -> TaskOutcome:
    return TaskOutcome(
        task_id="logs.analyze",
        started_at=_at(12.4),
        finished_at=_at(15.5),
        findings=[
            Finding(
                code="logs.errors.spike",
                severity=Severity.WARNING,
                message="312 errors today, 3.1× the 7-day average",
                subject="/var/log/rylie/app.log",
                evidence={
                    "errors_today": 312,
                    "average_7d": Decimal("100.5"),
                    "first_seen": datetime(2025, 1, 6, 0, 12, 9, tzinfo=UTC),
                    "file": Path("/var/log/rylie/app.log"),
                    "top_groups": [
                        {"fingerprint": "OpenAI timeout after <n>ms", "count": 201},
                        {"fingerprint": "SendGrid 429 Too Many Requests", "count": 77},
                    ],
                    "command": 'grep -c \'"level":"error"\' /var/log/rylie/app.log',
                },
                remedy="Look at the top error group; it started at 00:12.",
            ),
        ],
        metrics=[
            Metric("errors_today", 312, "count"),
            Metric("latency_p95", 840.0, "ms", {"route": "/api/conversations/:id/messages"}),
            Metric("scanned", 36_700_000, "bytes"),
        ],
    )


def connections_outcome() -> TaskOutcome:
    return TaskOutcome(
        task_id="db.connections",
        started_at=_at(15.5),
        finished_at=_at(15.9),
        findings=[
            Finding("db.connections.active", Severity.OK, "12 of 100 connections active"),
            Finding("db.connections.age", Severity.OK, "oldest connection 3h 12m old"),
        ],
        metrics=[
            Metric("active", 12, "count"),
            Metric("max_age", 11_520.0, "seconds"),
        ],
    )


def keys_outcome() -> TaskOutcome:
    return TaskOutcome(
        task_id="security.keys",
        started_at=_at(15.9),
        finished_at=_at(25.9),
        error="TargetUnavailable: OpenAI admin API did not answer within 10s",
    )


def cache_outcome() -> TaskOutcome:
    return TaskOutcome(
        task_id="cache.review",
        started_at=_at(25.9),
        finished_at=_at(26.3),
        findings=[Finding("cache.hit_ratio", Severity.OK, "cache hit ratio 97.2%")],
        metrics=[Metric("hit_ratio", 97.2, "percent")],
    )


def backup_outcome() -> TaskOutcome:
    return TaskOutcome(
        task_id="backup.verify",
        started_at=_at(26.3),
        finished_at=_at(26.3),
        skip_reason="outside the maintenance window (Sun 02:00-05:00)",
    )


def weekly_report(mode: str = "check") -> RunReport:
    """Six tasks: critical, warning, ok, unknown (error), ok, skipped."""
    return RunReport(
        target="production",
        mode=mode,
        started_at=T0,
        finished_at=_at(26.5 if mode == "check" else 170.0),
        tasks=[
            vacuum_outcome(mode),
            logs_outcome(),
            connections_outcome(),
            keys_outcome(),
            cache_outcome(),
            backup_outcome(),
        ],
    )


def healthy_report() -> RunReport:
    return RunReport(
        target="staging",
        mode="check",
        started_at=T0,
        finished_at=_at(0.8),
        tasks=[connections_outcome(), cache_outcome()],
    )


def report_with(*findings: Finding, task_id: str = "monitor.health") -> RunReport:
    """A one-task report carrying exactly these findings."""
    return RunReport(
        target="production",
        mode="check",
        started_at=T0,
        finished_at=_at(1),
        tasks=[TaskOutcome(task_id, _at(0), _at(1), findings=list(findings))],
    )


def _noop(ctx: Context) -> Iterator[Item]:
    yield from ()


def vacuum_task() -> Task:
    return task(
        id="db.vacuum",
        title="Database vacuum",
        section="Database maintenance",
        frequency="weekly",
        priority="high",
        purpose="Reclaim storage held by dead rows and refresh planner statistics.",
        prerequisites=[
            "A database role allowed to VACUUM the application's tables",
            "A backup newer than 24 hours (backup.verify passed)",
        ],
        procedure=[
            "Measure dead rows and size per table from pg_stat_user_tables",
            "Run VACUUM ANALYZE on every table",
            "Run VACUUM FULL on high-churn tables above the bloat threshold, in the window",
            "Measure again and record the space reclaimed",
        ],
        expected_outcome="Dead rows under 20% on every table; statistics under a week old.",
        rollback="Nothing to undo: VACUUM changes no data. Cancel a running VACUUM FULL with "
        "pg_cancel_backend(pid); the table is left as it was.",
        time_estimate="5m",
        mutates=True,
        needs=("postgres",),
        timeout="30m",
        manual_time="1-2 hours",
        codes=("db.bloat.table", "db.vacuum.stale_stats"),
    )(_noop)


def health_task() -> Task:
    return task(
        id="monitor.health",
        title="Health check verification",
        section="Monitoring and alerting",
        frequency="daily",
        priority="high",
        purpose="Confirm the service and its cache answer their health endpoints.",
        prerequisites=["The service's base URL"],
        procedure=["GET /api/health", "GET /api/health/cache", "Compare status and latency"],
        expected_outcome="Both endpoints answer 200 within 500 ms.",
        rollback="Read-only; nothing to roll back.",
        time_estimate="10s",
        needs=("http",),
    )(_noop)


def logs_task() -> Task:
    return task(
        id="logs.analyze",
        title="Log analysis",
        section="Log management",
        frequency="weekly",
        priority="medium",
        purpose="Find the most common errors and slow routes.",
        prerequisites=["Read access to the JSON logs"],
        procedure=["Group errors by fingerprint", "Compute latency percentiles per route"],
        expected_outcome="No new error group; p95 latency under 500 ms.",
        rollback="Read-only; nothing to roll back.",
        time_estimate="30s",
        manual_time="30 minutes",
        codes=("logs.errors.spike", "logs.latency.slow"),
    )(_noop)


def analyze_task() -> Task:
    return task(
        id="db.analyze",
        title="Planner statistics refresh",
        section="Database maintenance",
        frequency="weekly",
        priority="medium",
        purpose="Keep the planner's statistics current.",
        prerequisites=["A database role allowed to ANALYZE"],
        procedure=["Run ANALYZE"],
        expected_outcome="Every table analyzed within the last week.",
        rollback="Nothing to undo.",
        time_estimate="1m",
        mutates=True,
        needs=("postgres",),
    )(_noop)


def registered_tasks() -> list[Task]:
    """In registry order: sections interleave, as plugins would add them."""
    return [vacuum_task(), health_task(), logs_task(), analyze_task()]


def _nothing(ctx: Context) -> Iterator[Item]:
    yield from ()


def make_task(id: str = "demo.thing", run: Any = None, **overrides: Any) -> Task:
    """A well-formed task with placeholder runbook fields; ``overrides`` change any field."""
    fields: dict[str, Any] = dict(
        id=id,
        title=id,
        section="Test",
        frequency="daily",
        priority="low",
        purpose="p",
        prerequisites=["x"],
        procedure=["y"],
        expected_outcome="z",
        rollback="r",
        time_estimate="1s",
    )
    fields.update(overrides)
    return task(**fields)(run or _nothing)
