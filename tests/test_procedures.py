"""rota procedure: the built-in critical-vulnerability procedure walked through against the
sandbox's real Node app, with the advisory source down and up, its state only in history."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from advisories_server import SANDBOX_NODE, AdvisoryServer, advisory_server, closed_port
from rota.app import TARGETS, TASKS, App
from rota.docs import render_page
from rota.errors import RegistryError, UsageError
from rota.history import History, open_history
from rota.history.procedures import ProcedureRuns
from rota.model import TaskOutcome
from rota.procedure import (
    Automatic,
    Manual,
    Procedure,
    RunTask,
    advance,
    progress,
    validate_procedure,
)
from rota.procedure import abort as abort_run
from rota.procedures import CRITICAL_VULNERABILITY as PROC
from rota.testing import run_task


@pytest.fixture(scope="module")
def app() -> App:
    return App()


@pytest.fixture
def server() -> Iterator[AdvisoryServer]:
    with advisory_server() as s:
        yield s


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the sandbox's Node app: a fix attempt can never touch the real one."""
    copy = tmp_path / "node"
    copy.mkdir()
    for name in ("package.json", "package-lock.json"):
        shutil.copy(SANDBOX_NODE / name, copy / name)
    return copy


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    h = open_history(f"sqlite:///{tmp_path}/history.db")
    yield h
    h.close()


def config(project: Path, url: str, tmp_path: Path) -> str:
    return (
        f"[history]\nurl = {json.dumps(f'sqlite:///{tmp_path}/history.db')}\n"
        f"[security]\nprojects = {json.dumps([str(project)])}\n"
        f'osv_url = {json.dumps(url)}\ntimeout = "5s"\n'
    )


def runner(app: App, cfg: str) -> RunTask:
    def run(task_id: str, apply: bool, ignore_window: bool) -> TaskOutcome:
        return run_task(app.tasks.get(task_id), cfg, apply=apply, explicit=True)

    return run


def kinds(runs: ProcedureRuns, run_id: int) -> list[tuple[str, str]]:
    return [(e.step_id, e.kind) for e in runs.events(run_id)]


def test_it_stops_at_a_failed_assessment_when_the_advisory_source_is_down(
    app: App, history: History, project: Path, tmp_path: Path
) -> None:
    runs = ProcedureRuns(history)
    run = runs.start(PROC.id, who="alice")

    result = advance(
        PROC, runs, run.id, runner(app, config(project, closed_port(), tmp_path)), who="alice"
    )

    assert result.run.status == "running"
    assert result.step is not None and result.step.id == "assess"
    assert result.failed is not None and result.failed.detail["status"] == "unknown"
    assert "status unknown" in result.failed.detail["why"]
    assert kinds(runs, run.id) == [("assess", "started"), ("assess", "failed")]
    assert result.waiting is None


def test_it_assesses_the_exposure_and_waits_for_the_mitigation(
    app: App, history: History, project: Path, server: AdvisoryServer, tmp_path: Path
) -> None:
    runs = ProcedureRuns(history)
    run = runs.start(PROC.id, who="alice")

    result = advance(
        PROC, runs, run.id, runner(app, config(project, server.url, tmp_path)), who="alice"
    )

    assert kinds(runs, run.id) == [
        ("assess", "started"),
        ("assess", "passed"),
        ("mitigate", "started"),
    ]
    assert result.waiting is not None and result.waiting.id == "mitigate"
    passed = runs.events(run.id)[1]
    assert passed.detail["status"] == "critical"  # the audit ran: exposure, not a failure
    exposed = {f["subject"] for f in passed.detail["findings"] if f.get("production")}
    assert any("body-parser" in s for s in exposed)


def test_a_confirmation_records_who_confirmed_and_goes_on(
    app: App, history: History, project: Path, server: AdvisoryServer, tmp_path: Path
) -> None:
    runs = ProcedureRuns(history)
    run = runs.start(PROC.id, who="alice")
    run_task_ = runner(app, config(project, server.url, tmp_path))
    advance(PROC, runs, run.id, run_task_, who="alice")

    result = advance(
        PROC,
        runs,
        run.id,
        run_task_,
        who="bob",
        confirm="mitigate",
        note="route /upload disabled",
    )

    events = runs.events(run.id)
    confirmed = [e for e in events if e.kind == "confirmed"]
    assert [(e.step_id, e.who) for e in confirmed] == [("mitigate", "bob")]
    assert any(e.kind == "note" and e.detail["text"] == "route /upload disabled" for e in events)
    # No [security] test_command: the fix is not written, so preparing it does not pass.
    assert result.step is not None and result.step.id == "prepare-fix"
    assert result.failed is not None and "skipped" in result.failed.detail["why"]
    assert json.loads((project / "package.json").read_text()) == json.loads(
        (SANDBOX_NODE / "package.json").read_text()
    )


def test_it_refuses_to_confirm_a_step_the_run_does_not_wait_at(
    app: App, history: History, project: Path, server: AdvisoryServer, tmp_path: Path
) -> None:
    runs = ProcedureRuns(history)
    run = runs.start(PROC.id, who="alice")
    run_task_ = runner(app, config(project, server.url, tmp_path))
    advance(PROC, runs, run.id, run_task_, who="alice")

    with pytest.raises(UsageError, match="waits at mitigate"):
        advance(PROC, runs, run.id, run_task_, who="bob", confirm="deploy")
    with pytest.raises(UsageError, match="no step 'nope'"):
        advance(PROC, runs, run.id, run_task_, who="bob", confirm="nope")


def test_a_new_history_object_resumes_the_run_where_it_stopped(
    app: App, project: Path, server: AdvisoryServer, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/history.db"
    first = open_history(url)
    run = ProcedureRuns(first).start(PROC.id, who="alice")
    advance(
        PROC,
        ProcedureRuns(first),
        run.id,
        runner(app, config(project, server.url, tmp_path)),
        who="alice",
    )
    first.close()

    second = open_history(url)
    try:
        state = progress(PROC, ProcedureRuns(second), run.id)
    finally:
        second.close()

    assert state.waiting is not None and state.waiting.id == "mitigate"
    assert state.run.started_by == "alice"


def test_abort_ends_the_run_and_nothing_continues_it(history: History) -> None:
    def never(task_id: str, apply: bool, ignore_window: bool) -> TaskOutcome:
        raise AssertionError("an aborted run runs nothing")

    runs = ProcedureRuns(history)
    run = runs.start(PROC.id, who="alice")

    ended = abort_run(runs, run.id, who="carol", reason="false alarm")

    assert ended.status == "aborted" and ended.finished_by == "carol"
    assert kinds(runs, run.id) == [("", "note")]
    with pytest.raises(UsageError, match="aborted"):
        advance(PROC, runs, run.id, never, who="alice")


def test_a_procedure_naming_an_unknown_task_fails_at_start_up_with_a_did_you_mean() -> None:
    import rota.procedures
    import rota.targets
    import rota.tasks

    app = App(plugins=False)
    app.load(TARGETS, rota.targets.register, source="builtin (rota)")
    app.load(TASKS, rota.tasks.register, source="builtin (rota)")
    app.load("rota.procedures", rota.procedures.register, source="builtin (rota)")
    app.check_pending()  # the built-ins hold
    app.procedures.add(
        Procedure(
            id="typo",
            title="Typo",
            section="Emergency procedures",
            purpose="p",
            prerequisites=("p",),
            expected_outcome="o",
            rollback="r",
            time_estimate="1m",
            steps=(Automatic(id="audit", title="Audit", task="security.dependencys"),),
        )
    )

    with pytest.raises(RegistryError, match="did you mean security.dependencies"):
        app.check_pending()


def test_a_malformed_procedure_is_refused_when_registered() -> None:
    bad = Procedure(
        id="Bad Id",
        title="",
        section="s",
        purpose="p",
        prerequisites=(),
        expected_outcome="o",
        rollback="r",
        time_estimate="1m",
        steps=(Manual(id="a", title="A", instruction="do", confirm=""), Manual("a", "A", "x", "y")),
    )
    problems = validate_procedure(bad)
    assert any("id must be" in p for p in problems)
    assert "title is empty" in problems and "prerequisites is empty" in problems
    assert any("says nothing to confirm" in p for p in problems)
    assert any("duplicate step id" in p for p in problems)
    assert validate_procedure(PROC) == []


def test_the_page_marks_automatic_and_manual_steps() -> None:
    page = render_page(PROC.page())

    assert page.startswith(
        "## Handling critical security vulnerabilities (`critical-vulnerability`)"
    )
    assert "1. [automatic: `security.dependencies`, check mode] Assess" in page
    assert "2. [manual] Apply temporary mitigation" in page
    assert "3. [automatic: `security.dependencies`, apply] Prepare" in page
    assert "`rota incident" in page
    assert "people included" in page and "machine time" not in page


# --- the command line, each call a new process -------------------------------------------------


def test_the_cli_walks_the_run_across_processes(
    rota: Callable[..., Any], project: Path, server: AdvisoryServer, tmp_path: Path
) -> None:
    cfg = tmp_path / "rota.toml"
    cfg.write_text(config(project, server.url, tmp_path))
    cli = rota  # the conftest fixture: `python -m rota` in a subprocess

    started = cli("procedure", "start", "critical-vulnerability", "-c", str(cfg), "--by", "alice")
    assert started.code == 0, started.err
    assert "waiting for step mitigate" in started.out
    assert "rota procedure continue 1 --confirm mitigate" in started.out

    status = cli("procedure", "status", "1", "--format", "json", "-c", str(cfg))
    data = json.loads(status.out)
    assert data["waiting_for"]["step"] == "mitigate"
    assert [s["state"] for s in data["steps"]][:2] == ["done", "waiting"]

    went_on = cli(
        "procedure", "continue", "1", "--confirm", "mitigate", "--by", "bob", "-c", str(cfg)
    )
    assert went_on.code == 2  # prepare-fix fails: no test_command, nothing written
    assert "step prepare-fix failed" in went_on.out

    data = json.loads(cli("procedure", "status", "1", "-f", "json", "-c", str(cfg)).out)
    assert {"step": "mitigate", "kind": "confirmed", "who": "bob"}.items() <= next(
        e for e in data["events"] if e["kind"] == "confirmed"
    ).items()
    assert data["current"] == "prepare-fix"

    aborted = cli("procedure", "abort", "1", "--note", "drill over", "-c", str(cfg))
    assert aborted.code == 0 and "aborted run 1" in aborted.out
    again = cli("procedure", "continue", "1", "-c", str(cfg))
    assert again.code == 4 and "aborted" in again.err

    listed = json.loads(cli("procedure", "list", "--format", "json", "-c", str(cfg)).out)
    assert [p["id"] for p in listed] == ["critical-vulnerability"]
    assert [s["kind"] for s in listed[0]["steps"]].count("manual") == 4


def test_rota_docs_writes_the_procedure_page_and_links_it(
    rota: Callable[..., Any], tmp_path: Path
) -> None:
    result = rota("docs", "--out-dir", str(tmp_path / "runbook"))

    assert result.code == 0, result.err
    index = (tmp_path / "runbook" / "index.md").read_text()
    assert "(critical-vulnerability.md) (`critical-vulnerability`)" in index
    page = (tmp_path / "runbook" / "critical-vulnerability.md").read_text()
    assert "### Procedure" in page and "[manual]" in page
