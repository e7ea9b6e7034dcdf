"""logs.cleanup on real directories: it removes what is past retention and nothing else."""

from __future__ import annotations

import gzip
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import hold_open
from rota.model import Severity, StepStatus, TaskOutcome
from rota.tasks.logs.cleanup import cleanup
from rota.testing import findings, run_task

RETENTION = 10
PAST = 19  # days 11..29 back of a 30-day month ended more than 10 days ago


@pytest.fixture
def month(log_month: Path) -> Path:
    return log_month


def config(month: Path, *, paths: str | None = None) -> str:
    return (
        f'[logs]\npaths = ["{paths or f"{month}/*.log*"}"]\nretention_days = {RETENTION}\n'
        '[schedule]\nwindow = "daily 00:00-00:00 UTC"\n'
    )


@pytest.fixture
def held(month: Path) -> Iterator[Path]:
    """The oldest rotated app.log, held open by a real process."""
    path = min(month.glob("app.log-*.gz"))
    with hold_open(path):
        yield path


def steps(out: TaskOutcome, status: StepStatus) -> dict[str, dict[str, Any]]:
    return {s.detail["path"]: s.detail for s in out.steps if s.status is status}


def age_days(p: Path) -> float:
    return (time.time() - p.stat().st_mtime) / 86_400


def test_check_mode_lists_each_file_its_age_and_size_and_changes_nothing(
    month: Path, assert_read_only: Any
) -> None:
    out = assert_read_only(lambda: run_task(cleanup, config(month)), trees=(month,))
    assert out.error is None and out.skip_reason is None, out.error or out.skip_reason
    planned = steps(out, StepStatus.PLANNED)
    assert len(planned) == 2 * PAST
    for path, detail in planned.items():
        p = Path(path)
        assert p.parent == month and p.name.endswith(".gz")
        assert detail["bytes"] == p.stat().st_size and detail["age_days"] > RETENTION
        assert detail["age_basis"] == "date in name" and detail["date_in_name"]
    [plan] = findings(out, "logs.cleanup.plan")
    assert plan.evidence["bytes"] == sum(d["bytes"] for d in planned.values())
    assert plan.evidence["files"] == 2 * PAST and "would remove" in plan.message


def test_apply_removes_files_past_retention_and_records_path_size_and_mtime(month: Path) -> None:
    before = {p.name: p.stat() for p in month.iterdir()}
    out = run_task(cleanup, config(month), apply=True)
    assert out.error is None and out.skip_reason is None, out.error or out.skip_reason
    done = steps(out, StepStatus.DONE)
    assert len(done) == 2 * PAST
    for path, detail in done.items():
        name = Path(path).name
        assert not Path(path).exists()
        assert detail["bytes"] == detail["bytes_freed"] == before[name].st_size
        assert detail["mtime"]
    left = sorted(p.name for p in month.iterdir())
    assert len(left) == 60 - 2 * PAST and "app.log" in left and "worker.log" in left
    [removed] = findings(out, "logs.cleanup.removed")
    assert removed.evidence["bytes"] == sum(d["bytes"] for d in done.values())
    assert {m.name: m.value for m in out.metrics}["logs.cleanup.files_removed"] == 2 * PAST
    again = run_task(cleanup, config(month), apply=True)  # nothing left to do
    assert again.error is None and again.skip_reason is None and again.steps == []


def test_it_never_removes_a_symlink_out_an_open_file_or_the_live_file(
    month: Path, tmp_path: Path, held: Path
) -> None:
    secret = tmp_path / "precious.db"
    secret.write_text("outside the log directory")
    old = time.time() - 90 * 86_400
    os.utime(secret, (old, old))
    link = month / "app.log-20200101.gz"
    link.symlink_to(secret)
    os.utime(link, (old, old), follow_symlinks=False)
    live = month / "worker.log"
    os.utime(live, (old, old))
    out = run_task(cleanup, config(month), apply=True)
    assert out.error is None and out.skip_reason is None, out.error or out.skip_reason
    skipped = steps(out, StepStatus.SKIPPED)
    assert "symlink" in skipped[str(link)]["reason"]
    assert "held open by process" in skipped[str(held)]["reason"]
    assert "live" in skipped[str(live)]["reason"]
    assert link.is_symlink() and secret.read_text() == "outside the log directory"
    assert held.exists() and live.exists()
    assert len(steps(out, StepStatus.DONE)) == 2 * PAST - 1
    [warn] = findings(out, "logs.cleanup.skipped")
    assert warn.severity is Severity.WARNING
    assert {s["path"] for s in warn.evidence["skipped"]} == {str(link), str(held)}


def test_a_dotdot_pattern_is_resolved_first_and_nothing_outside_is_touched(
    month: Path, tmp_path: Path
) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    outside = tmp_path / "app.log-20200101.gz"
    outside.write_bytes(gzip.compress(b"not a rotated log of this directory\n"))
    os.utime(outside, (1e9, 1e9))
    out = run_task(cleanup, config(month, paths=f"{tmp_path}/a/b/../../logs/*.log*"), apply=True)
    assert out.error is None and out.skip_reason is None, out.error or out.skip_reason
    done = steps(out, StepStatus.DONE)
    assert len(done) == 2 * PAST and all(Path(p).parent == month for p in done)
    assert outside.exists()


def test_a_file_without_a_date_is_judged_by_its_mtime(month: Path) -> None:
    stray = month / "app.log.3.gz"
    stray.write_bytes(gzip.compress(b"x\n"))
    recent = month / "app.log.4.gz"
    recent.write_bytes(gzip.compress(b"y\n"))
    old = time.time() - (RETENTION + 2) * 86_400
    os.utime(stray, (old, old))
    out = run_task(cleanup, config(month))
    assert out.error is None and out.skip_reason is None, out.error or out.skip_reason
    planned = steps(out, StepStatus.PLANNED)
    assert planned[str(stray)]["age_basis"] == "mtime" and str(recent) not in planned
    assert round(planned[str(stray)]["age_days"]) == round(age_days(stray))


def test_a_dated_file_with_a_recent_mtime_is_kept_and_said_so(month: Path) -> None:
    restored = min(month.glob("worker.log-*.gz"))
    os.utime(restored)  # as a copy without -p leaves it
    out = run_task(cleanup, config(month))
    assert out.error is None and out.skip_reason is None, out.error or out.skip_reason
    assert str(restored) not in steps(out, StepStatus.PLANNED)
    [plan] = findings(out, "logs.cleanup.plan")
    assert plan.evidence["kept_by_recent_mtime"] == [str(restored)]


def test_a_missing_log_directory_is_unknown_not_ok(tmp_path: Path) -> None:
    out = run_task(cleanup, f'[logs]\npaths = ["{tmp_path}/gone/*.log*"]\n')
    assert out.status.value == "unknown"
    missing = findings(out, "logs.paths.missing")
    assert missing and missing[0].subject == f"{tmp_path}/gone/*.log*"
