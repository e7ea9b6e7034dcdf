"""The Prometheus writer, read back by the Prometheus project's own text parser."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from rota.model import Metric, RunReport, TaskOutcome
from rota.report import BUILTIN
from rota.report.prometheus import label_name, metric_name, render_prometheus
from samples import T0, weekly_report

PROMETHEUS = next(w for w in BUILTIN if w.name == "prometheus")


def render(report: RunReport, fmt: str) -> tuple[str, int]:
    assert fmt == "prometheus"
    return PROMETHEUS.render(report)


def _parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_it_writes_a_status_duration_and_findings_series_per_task():
    rep = weekly_report()
    samples = _parse(render_prometheus(rep))
    for t in rep.tasks:
        assert samples[("rota_task_status", (("task", t.task_id),))] == t.status.exit_code
        total = sum(
            v for (name, labels), v in samples.items()
            if name == "rota_task_findings" and ("task", t.task_id) in labels
        )  # fmt: skip
        assert total == len(t.findings)
    # the skipped backup has no duration sample: a gap, not a false zero
    assert ("rota_task_duration_seconds", (("task", "backup.verify"),)) not in samples
    vacuum = ("rota_task_duration_seconds", (("task", "db.vacuum"),))
    assert samples[vacuum] == rep.tasks[0].duration_s


def test_it_turns_units_into_base_units_and_keeps_labels():
    t = TaskOutcome(
        "logs.analyze",
        T0,
        T0,
        metrics=[
            Metric("logs.route.p95", 12.5, "ms", {"route": 'GET /api/x "q"', "task": "other"}),
            Metric("backup.size", 2.5, "MB"),
            Metric("db.connections.active", 12, "count"),
            Metric("cache.hit_ratio", 87.5, "%"),
        ],
    )
    rep = RunReport("production", "check", T0, T0, [t])
    samples = _parse(render_prometheus(rep))
    route = (
        ("label_task", "other"),
        ("route", 'GET /api/x "q"'),
        ("task", "logs.analyze"),
    )
    assert samples[("rota_logs_route_p95_seconds", route)] == 0.0125
    assert samples[("rota_backup_size_bytes", (("task", "logs.analyze"),))] == 2_500_000
    assert samples[("rota_db_connections_active", (("task", "logs.analyze"),))] == 12
    assert samples[("rota_cache_hit_ratio_percent", (("task", "logs.analyze"),))] == 87.5


def test_each_metric_family_is_declared_once_with_its_samples_together():
    text = render_prometheus(weekly_report())
    names = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert len(names) == len(set(names))
    seen: list[str] = []
    for line in text.splitlines():
        if not line.startswith("#"):
            name = line.split("{")[0]
            if seen and seen[-1] != name:
                assert name not in seen, f"{name} is split into two groups"
            seen.append(name)


def test_names_and_label_names_are_cleaned_to_prometheus_characters():
    assert metric_name("backup.restore_seconds", "seconds") == "rota_backup_restore_seconds"
    assert metric_name("logs.p95 (GET)", "") == "rota_logs_p95__GET"
    assert label_name("http.route") == "http_route"
    assert label_name("5xx") == "_5xx"
    assert label_name("task") == "label_task"


def test_the_cli_format_gives_the_runs_exit_code():
    text, code = render(weekly_report(), "prometheus")
    assert code == weekly_report().status.exit_code
    assert text.endswith("\n") and "rota_task_status" in text
    empty = RunReport("x", "check", datetime(2026, 1, 1, tzinfo=UTC), None, [])
    assert render_prometheus(empty) == ""


def test_a_run_in_which_no_task_ran_exits_unknown():
    empty = RunReport("x", "check", datetime(2026, 1, 1, tzinfo=UTC), None, [])
    assert render(empty, "prometheus")[1] == 3
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    skipped = TaskOutcome("db.vacuum", t0, t0, skip_reason="[database] url is not set")
    text, code = render(RunReport("x", "check", t0, t0, [skipped]), "prometheus")
    assert code == 3 and 'rota_task_status{task="db.vacuum"}' in text
