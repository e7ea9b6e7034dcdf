"""logs.rotation on a real month of logrotate's output, with one fault planted at a time."""

from __future__ import annotations

import gzip
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rota.model import Finding, Severity, TaskOutcome
from rota.tasks.logs.rotation import rotation
from rota.testing import findings, run_task


@pytest.fixture
def month(log_month: Path) -> Path:
    return log_month


def config(logs: Path, extra: str = "") -> str:
    return f'[logs]\npaths = ["{logs}/*.log*"]\n{extra}'


def bad(outcome: TaskOutcome, code: str) -> list[Finding]:
    return [f for f in findings(outcome, code) if f.severity is not Severity.OK]


def truncate(path: Path) -> bytes:
    """Cut ``path`` to its first half, as a rotation interrupted mid-write leaves it; return
    what it held."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return data


def day_name(stem: str, back: int, gz: bool = True) -> str:
    day = datetime.now(UTC) - timedelta(days=back)
    return f"{stem}-{day:%Y%m%d}" + (".gz" if gz else "")


def test_a_healthy_month_is_all_ok_and_check_mode_changes_nothing(
    month: Path, assert_read_only: Any
) -> None:
    out = assert_read_only(lambda: run_task(rotation, config(month)), trees=(month,))
    assert out.error is None, out.error
    assert out.status is Severity.OK, [f.message for f in out.findings if f.severity != "ok"]
    codes = {f.code for f in out.findings}
    assert codes == {
        "logs.disk.usage",
        "logs.rotation.stale",
        "logs.rotation.gap",
        "logs.rotation.uncompressed",
        "logs.rotation.corrupt",
        "logs.retention.exceeded",
    }
    corrupt = findings(out, "logs.rotation.corrupt")
    assert [f.evidence["verified"] for f in corrupt] == [28, 28]
    metrics = {m.name: m.value for m in out.metrics}
    assert metrics["logs.dir.files"] == 60
    assert metrics["logs.dir.bytes"] == sum(p.stat().st_size for p in month.iterdir())


def test_it_finds_a_missing_day_in_the_daily_sequence(month: Path) -> None:
    (month / day_name("app.log", 10)).unlink()
    out = run_task(rotation, config(month))
    assert out.error is None, out.error
    [gap] = bad(out, "logs.rotation.gap")
    missing = (datetime.now(UTC) - timedelta(days=10)).date().isoformat()
    assert gap.subject == f"{month}/app.log"
    assert gap.evidence["missing"] == [missing] and gap.evidence["period_days"] == 1


def test_it_finds_rotation_that_stopped(month: Path) -> None:
    for back in range(1, 6):
        for p in month.glob(day_name("worker.log", back, gz=False) + "*"):
            p.unlink()
    out = run_task(rotation, config(month))
    assert out.error is None, out.error
    [gap] = bad(out, "logs.rotation.gap")
    assert gap.subject == f"{month}/worker.log" and "no rotated file since" in gap.message


def test_it_finds_an_old_rotated_file_left_uncompressed(month: Path) -> None:
    gz = month / day_name("app.log", 6)
    plain = month / gz.name.removesuffix(".gz")
    plain.write_bytes(gzip.decompress(gz.read_bytes()))
    gz.unlink()
    out = run_task(rotation, config(month))
    assert out.error is None, out.error
    [f] = bad(out, "logs.rotation.uncompressed")
    assert f.subject == str(plain) and f.evidence["bytes"] == plain.stat().st_size


def test_it_finds_a_truncated_archive(month: Path) -> None:
    gz = month / day_name("worker.log", 4)
    truncate(gz)
    out = run_task(rotation, config(month))
    assert out.error is None, out.error
    [f] = bad(out, "logs.rotation.corrupt")
    assert f.subject == str(gz) and "truncated" in f.message
    assert "gzip -tv" in f.evidence["command"]


def test_binary_garbage_in_rotated_files_is_reported_not_a_crash(month: Path) -> None:
    (month / day_name("app.log", 3)).write_bytes(os.urandom(5000))
    (month / day_name("app.log", 1, gz=False)).write_bytes(b"\xff\xfe\x00" * 3000)
    out = run_task(rotation, config(month))
    assert out.error is None, out.error
    [f] = bad(out, "logs.rotation.corrupt")
    assert f.subject == str(month / day_name("app.log", 3)) and "not compressed" in f.message


def test_it_finds_a_live_log_that_stopped_being_written(month: Path) -> None:
    live = month / "app.log"
    past = time.time() - 3 * 86_400
    os.utime(live, (past, past))
    out = run_task(rotation, config(month, 'stale_after = "36h"\n'))
    assert out.error is None, out.error
    [f] = bad(out, "logs.rotation.stale")
    assert f.subject == str(live) and f.evidence["stale_after_s"] == 36 * 3600


def test_it_reports_rotated_files_past_retention(month: Path) -> None:
    out = run_task(rotation, config(month, "retention_days = 10\n"))
    assert out.error is None, out.error
    found = bad(out, "logs.retention.exceeded")
    assert {f.subject for f in found} == {f"{month}/app.log", f"{month}/worker.log"}
    for f in found:
        assert f.evidence["count"] == 19  # days 11..29 back ended more than 10 days ago


def test_it_warns_when_the_filesystem_is_fuller_than_the_threshold(month: Path) -> None:
    out = run_task(
        rotation, config(month, "disk_warning_percent = 0\ndisk_critical_percent = 100\n")
    )
    assert out.error is None, out.error
    [f] = bad(out, "logs.disk.usage")
    assert f.severity is Severity.WARNING and f.subject == str(month)
    assert "df -P" in f.evidence["command"]


def test_a_missing_directory_is_unknown_with_the_pattern(tmp_path: Path) -> None:
    out = run_task(rotation, f'[logs]\npaths = ["{tmp_path}/nowhere/*.log"]\n')
    assert out.error is None, out.error
    [f] = findings(out, "logs.paths.missing")
    assert f.severity is Severity.UNKNOWN and "nowhere" in f.subject


def test_numbered_rotation_with_a_hole_is_a_gap(tmp_path: Path) -> None:
    d = tmp_path / "numbered"
    d.mkdir()
    now = time.time()
    (d / "api.log").write_text("live\n")
    for n in (1, 2, 4, 5):
        p = d / (f"api.log.{n}" + (".gz" if n > 1 else ""))
        p.write_bytes(gzip.compress(b"x\n") if n > 1 else b"x\n")
        os.utime(p, (now - n * 86_400, now - n * 86_400))
    out = run_task(rotation, config(d))
    assert out.error is None, out.error
    [gap] = bad(out, "logs.rotation.gap")
    assert gap.evidence["missing_numbers"] == [3]


def test_an_archive_read_clean_is_trusted_until_it_changes_or_reverify_after_passes(
    month: Path,
) -> None:
    def corrupt_ok(extra: str = "") -> list[Finding]:
        out = run_task(rotation, config(month, extra))
        assert out.error is None, out.error
        return findings(out, "logs.rotation.corrupt")

    first = corrupt_ok()
    assert sum(f.evidence["read_now"] for f in first) > 20  # a month of archives, read once
    assert all(f.evidence["trusted_unchanged"] == 0 for f in first)
    second = corrupt_ok()
    assert sum(f.evidence["read_now"] for f in second) == 0  # nothing changed: nothing read
    assert all("unchanged since they were read within 7d" in f.message for f in second)
    # An archive damaged in place (same name, new size) is read again, and caught.
    gz = month / day_name("worker.log", 4)
    data = truncate(gz)
    out = run_task(rotation, config(month))
    assert out.error is None, out.error
    [f] = bad(out, "logs.rotation.corrupt")
    assert f.subject == str(gz) and "truncated" in f.message
    # reverify_after = "0s" reads every archive every time.
    gz.write_bytes(data)
    always = corrupt_ok('reverify_after = "0s"\n')
    assert sum(f.evidence["trusted_unchanged"] for f in always) == 0
    assert sum(f.evidence["read_now"] for f in always) == sum(
        f.evidence["verified"] for f in always
    )
