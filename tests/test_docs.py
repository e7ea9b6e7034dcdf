"""Runbook pages and the schedule index, rendered from task metadata."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from rota.docs import missing_template_fields, render_index, render_task_page, write_docs
from rota.task import TEMPLATE_FIELDS
from samples import health_task, logs_task, registered_tasks, vacuum_task

# The "Maintenance Runbook Template" of spec/maintenance-procedures.md, heading for heading.
TEMPLATE_HEADINGS = [
    "## [Task Name]",
    "### Purpose",
    "### Prerequisites",
    "### Procedure",
    "### Expected Outcome",
    "### Rollback Procedure",
    "### Time Estimate",
]


def headings(page: str) -> list[str]:
    return [line for line in page.splitlines() if line.startswith("#")]


def section(page: str, heading: str) -> list[str]:
    """The lines under ``### heading`` up to the next blank line."""
    lines = page.splitlines()
    start = lines.index(f"### {heading}") + 1
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return lines[start:end]


def test_a_page_follows_the_runbook_template_then_adds_schedule_and_findings() -> None:
    page = render_task_page(vacuum_task())
    assert headings(page) == [
        "## Database vacuum (`db.vacuum`)",
        *TEMPLATE_HEADINGS[1:],
        "### Schedule",
        "### Findings",
    ]


def test_each_template_section_starts_right_under_its_heading() -> None:
    lines = render_task_page(vacuum_task()).splitlines()
    for heading in TEMPLATE_HEADINGS[1:]:
        i = lines.index(heading)
        assert lines[i + 1].strip(), f"{heading} is not followed by its content"
        assert lines[i - 1] == "", f"{heading} is not preceded by a blank line"


def test_it_renders_prerequisites_as_bullets_and_the_procedure_numbered() -> None:
    page = render_task_page(vacuum_task())
    assert section(page, "Purpose") == [
        "Reclaim storage held by dead rows and refresh planner statistics."
    ]
    assert section(page, "Prerequisites") == [
        "- A database role allowed to VACUUM the application's tables",
        "- A backup newer than 24 hours (backup.verify passed)",
    ]
    assert section(page, "Procedure") == [
        "1. Measure dead rows and size per table from pg_stat_user_tables",
        "2. Run VACUUM ANALYZE on every table",
        "3. Run VACUUM FULL on high-churn tables above the bloat threshold, in the window",
        "4. Measure again and record the space reclaimed",
    ]
    assert section(page, "Rollback Procedure")[0].startswith("Nothing to undo: VACUUM")


def test_it_gives_machine_time_and_the_time_by_hand_when_known() -> None:
    assert section(render_task_page(vacuum_task()), "Time Estimate") == [
        "5m of machine time (1-2 hours when done by hand)."
    ]
    assert section(render_task_page(health_task()), "Time Estimate") == ["10s of machine time."]


def test_it_says_a_mutating_task_needs_apply_and_a_read_only_one_does_not() -> None:
    mutating = section(render_task_page(vacuum_task()), "Schedule")
    assert mutating[:2] == ["- Frequency: Weekly", "- Priority: High"]
    assert mutating[2].startswith("- Changes the target: yes. `rota run db.vacuum` only shows")
    assert "`--apply`" in mutating[2]
    read_only = section(render_task_page(health_task()), "Schedule")
    assert "- Changes the target: no (read-only; safe to run at any time)." in read_only
    assert "- Targets: `http` (see `rota plugins`)" in read_only


def test_it_lists_finding_codes_only_when_the_task_declares_them() -> None:
    assert section(render_task_page(vacuum_task()), "Findings") == [
        "- `db.bloat.table`",
        "- `db.vacuum.stale_stats`",
    ]
    assert "### Findings" not in render_task_page(health_task())


def test_it_keeps_a_multi_line_procedure_step_inside_its_list_item() -> None:
    task = dataclasses.replace(health_task(), procedure=("Run:\nSELECT 1;", "Check"))
    assert section(render_task_page(task), "Procedure") == ["1. Run:", "   SELECT 1;", "2. Check"]


def test_it_finds_no_missing_fields_in_a_complete_task() -> None:
    assert missing_template_fields(vacuum_task()) == []


def test_it_names_every_empty_template_field_in_template_order() -> None:
    task = dataclasses.replace(
        vacuum_task(), purpose="  ", prerequisites=(), procedure=("", " "), time_estimate=""
    )
    assert missing_template_fields(task) == [
        "purpose",
        "prerequisites",
        "procedure",
        "time_estimate",
    ]
    page = render_task_page(task)
    assert section(page, "Purpose") == ["*Not documented yet.*"]
    assert section(page, "Procedure") == ["*Not documented yet.*"]


@pytest.mark.parametrize("field", TEMPLATE_FIELDS)
def test_it_notices_each_template_field_when_empty(field: str) -> None:
    empty: Any = "" if isinstance(getattr(vacuum_task(), field), str) else ()
    assert missing_template_fields(dataclasses.replace(vacuum_task(), **{field: empty})) == [field]


def test_the_index_has_the_runbooks_schedule_table_per_section_in_registry_order() -> None:
    index = render_index(registered_tasks())
    assert headings(index) == [
        "# Maintenance runbook",
        "## Database maintenance",
        "## Monitoring and alerting",
        "## Log management",
    ]
    assert index.count("| Task | Frequency | Priority | Estimated Time |") == 3
    db = index.split("## Database maintenance")[1].split("## ")[0]
    vacuum_row = "| [Database vacuum](db.vacuum.md) (`db.vacuum`) | Weekly | High |"
    assert f"{vacuum_row} 5m (by hand: 1-2 hours) |" in db
    assert (
        "| [Planner statistics refresh](db.analyze.md) (`db.analyze`) | Weekly | Medium | 1m |"
        in db
    )


def test_the_index_shows_an_unusual_frequency_as_written() -> None:
    task = dataclasses.replace(logs_task(), frequency="0 */6 * * *")
    assert "| `0 */6 * * *` |" in render_index([task])


def test_write_docs_writes_the_index_and_one_page_per_task(tmp_path: Path) -> None:
    tasks = registered_tasks()
    written = write_docs(tasks, tmp_path / "runbook")
    assert [p.name for p in written] == [
        "index.md",
        "db.vacuum.md",
        "monitor.health.md",
        "logs.analyze.md",
        "db.analyze.md",
    ]
    assert written[1].read_text(encoding="utf-8") == render_task_page(tasks[0])
    links = re.findall(r"\]\(([^)]+\.md)\)", written[0].read_text(encoding="utf-8"))
    assert sorted(links) == sorted(p.name for p in written[1:])
    assert all((tmp_path / "runbook" / link).is_file() for link in links)


def test_it_writes_the_triage_page_in_the_runbook_template_and_links_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from rota.docs import write_docs
    from rota.triage.page import PAGE

    write_docs([], tmp_path, pages=(PAGE,))
    page = (tmp_path / "triage.md").read_text()
    headings = [line for line in page.splitlines() if line.startswith("### ")]

    assert headings == [
        "### Purpose",
        "### Prerequisites",
        "### Procedure",
        "### Expected Outcome",
        "### Rollback Procedure",
        "### Time Estimate",
        "### Commands",
    ]
    assert "rota triage --apply" in page
    assert "[Handling performance emergencies](triage.md)" in (tmp_path / "index.md").read_text()
