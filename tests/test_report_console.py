"""The terminal writer, rendered to an 80-column recording console with no terminal."""

from __future__ import annotations

import io

from rich.console import Console

from rota.model import Finding, RunReport, Severity
from rota.report.console import print_run, print_tasks
from samples import registered_tasks, report_with, weekly_report


def render(report: RunReport, *, verbose: bool = False, width: int = 80) -> str:
    console = Console(record=True, width=width, file=io.StringIO())
    print_run(console, report, verbose=verbose)
    return console.export_text()


def lines_of(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


def test_it_lists_every_task_with_its_status_duration_and_summary() -> None:
    lines = lines_of(render(weekly_report()))
    row = next(line for line in lines if " db.vacuum " in line)
    assert row.split()[:4] == ["CRITICAL", "db.vacuum", "12s", "no"]
    assert "public.messages is 41.7% dead rows" in row
    assert any(line.split()[:2] == ["SKIPPED", "backup.verify"] for line in lines)
    assert any(line.split()[:2] == ["UNKNOWN", "security.keys"] for line in lines)


def test_it_shows_each_problem_with_code_subject_message_and_remedy() -> None:
    text = render(weekly_report())
    assert "  CRITICAL db.bloat.table  public.messages" in text
    assert "    public.messages is 41.7% dead rows (2.1 GiB)" in text
    assert "remedy: Let autovacuum catch up; check autovacuum_vacuum_scale_factor." in text
    assert "error: TargetUnavailable: OpenAI admin API did not answer within 10s" in text


def test_it_hides_evidence_and_passed_checks_unless_verbose() -> None:
    quiet, loud = render(weekly_report()), render(weekly_report(), verbose=True)
    assert "n_dead_tup" not in quiet and "public.users is 1.2% dead rows" not in quiet
    assert "n_dead_tup: 4812330" in loud
    assert "bytes: 2254857830 (2.1 GiB)" in loud
    assert "FROM pg_stat_user_tables" in loud
    assert "  OK       db.bloat.table  public.users  public.users is 1.2% dead rows" in loud


def test_it_shows_planned_steps_as_what_apply_would_do() -> None:
    text = " ".join(render(weekly_report()).split())
    assert (
        "↳ would do: VACUUM FULL public.messages — 41.7% of the table is dead rows "
        "(lock: ACCESS EXCLUSIVE, ~2m 20s)"
    ) in text
    assert "↳ would do: VACUUM ANALYZE — weekly statistics refresh (~20s)" in text
    assert "check mode: nothing was changed; 2 planned steps need --apply" in text


def test_it_shows_done_and_failed_steps_with_their_durations_in_apply_mode() -> None:
    text = " ".join(render(weekly_report("apply")).split())
    assert "↳ done: VACUUM FULL public.messages (2m 11s)" in text
    assert (
        "↳ failed: VACUUM FULL public.conversations (5.0s): LockNotAvailable: "
        "canceling statement due to lock timeout"
    ) in text
    assert "apply mode: 1 task changed the target, 1 step failed" in text


def test_it_ends_with_the_overall_status_and_counts() -> None:
    lines = [line for line in lines_of(render(weekly_report())) if line]
    assert lines[-2] == "CRITICAL · 6 tasks: 1 critical, 1 unknown, 1 warning, 2 ok, 1 skipped"


def test_it_stays_within_80_columns_and_indents_wrapped_lines() -> None:
    text = render(weekly_report("apply"), verbose=True)
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 80
    lines = lines_of(text)
    i = next(n for n, line in enumerate(lines) if line.startswith("  ↳ failed: VACUUM FULL"))
    assert lines[i + 1].startswith("    ") and lines[i + 1][4] != " "
    assert lines[i + 1].endswith("lock timeout")


def test_it_prints_messages_as_written_without_interpreting_markup() -> None:
    report = report_with(
        Finding("monitor.health.body", Severity.WARNING, "body had [bold]x[/bold] and [red]")
    )
    assert "body had [bold]x[/bold] and [red]" in render(report)


def test_it_writes_no_colour_codes_when_not_a_terminal() -> None:
    out = io.StringIO()
    print_run(Console(file=out, width=80), weekly_report())
    assert "\x1b[" not in out.getvalue()
    assert "CRITICAL" in out.getvalue()


def test_it_colours_statuses_on_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=True, color_system="standard")
    print_run(console, weekly_report())
    assert "\x1b[1;31mCRITICAL" in out.getvalue()  # bold red


def test_it_says_so_when_no_task_ran() -> None:
    report = weekly_report()
    report.tasks.clear()
    text = render(report)
    assert "No tasks ran." in text
    assert "OK · 0 tasks" in text


def test_it_lists_registered_tasks_grouped_by_section() -> None:
    console = Console(record=True, width=80, file=io.StringIO())
    print_tasks(console, registered_tasks())
    lines = lines_of(console.export_text())
    assert lines[0].split() == ["Task", "Every", "Priority", "Changes", "Takes", "Title"]
    db = lines.index("Database maintenance")
    assert lines[db + 1].split() == [
        "db.vacuum",
        "weekly",
        "high",
        "yes",
        "5m",
        "Database",
        "vacuum",
    ]
    assert lines[db + 2].split()[:5] == ["db.analyze", "weekly", "medium", "yes", "1m"]
    assert lines.index("Monitoring and alerting") > db
    assert lines[-1] == "4 tasks, 2 can change the target (only with --apply)."
    assert max(len(line) for line in lines) <= 80


def test_it_says_so_when_no_task_is_registered() -> None:
    console = Console(record=True, width=80, file=io.StringIO())
    print_tasks(console, [])
    assert console.export_text().strip() == "No tasks registered."


def test_it_shows_each_alert_delivery_and_the_ones_held_back() -> None:
    from rota.model import AlertSent

    report = report_with(Finding("health.down", Severity.CRITICAL, "HTTP 503", "web"))
    report.tasks[0].alerts = [
        AlertSent("ops", "sent", Severity.OK, Severity.CRITICAL, "HTTP 200"),
        AlertSent("mail", "failed", Severity.OK, Severity.CRITICAL, "cannot reach smtp: refused"),
        AlertSent(
            "pager",
            "held",
            Severity.OK,
            Severity.CRITICAL,
            "1 of 3 runs in a row at warning or worse",
        ),
    ]
    text = render(report)
    assert "sent to ops (ok → critical)" in text
    assert "NOT delivered to mail (ok → critical): cannot reach smtp: refused" in text
    assert "held for pager: 1 of 3 runs in a row at warning or worse" in text


def _table_text(width: int, terminal: bool) -> str:
    import io

    from rich.console import Console

    from rota.report.console import Column, print_table

    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=terminal, color_system=None)
    columns = [
        Column("task", wrap=False),
        Column("section", drop=2),
        Column("frequency", drop=1),
        Column("estimate", drop=3),
        Column("overdue by"),
    ]
    rows = [
        ["monitor.health", "Monitoring and alerting", "daily", "5s", "[red]2h 10m[/]"],
        ["db.vacuum", "Database maintenance", "weekly", "10m", "never"],
    ]
    print_table(console, columns, rows, title="rota schedule")
    return buf.getvalue()


def test_a_table_drops_columns_by_priority_instead_of_cutting_cells_on_a_narrow_terminal():
    text = _table_text(50, terminal=True)
    assert "…" not in text
    assert all(len(line) <= 50 for line in text.splitlines())
    assert "monitor.health" in text and "overdue by" in text and "frequency" in text
    assert "section" not in text.splitlines()[2]  # dropped first: estimate, then section
    assert "not shown (too narrow): section, estimate" in " ".join(text.split())


def test_a_table_keeps_every_column_when_the_terminal_is_wide():
    text = _table_text(140, terminal=True)
    assert "Monitoring and alerting" in text and "not shown" not in text


def test_a_table_is_plain_and_aligned_when_stdout_is_not_a_terminal():
    lines = _table_text(40, terminal=False).splitlines()
    assert lines[0].split() == ["task", "section", "frequency", "estimate", "overdue", "by"]
    assert lines[1].startswith("monitor.health  Monitoring and alerting  daily")
    assert lines[2].index("weekly") == lines[1].index("daily")  # aligned, not truncated
    assert "…" not in "".join(lines) and "2h 10m" in lines[1] and "[red]" not in lines[1]
