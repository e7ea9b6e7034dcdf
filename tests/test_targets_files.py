"""The files target on real directories: listing, integrity, and a removal that refuses danger."""

from __future__ import annotations

import gzip
import os
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from conftest import hold_open
from rota.errors import TargetUnavailable
from rota.targets.files import (
    Files,
    Refused,
    check_integrity,
    configured_dirs,
    disk_usage,
    open_files,
    parse_name,
)


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """A small logrotate layout: live, yesterday plain, older compressed."""
    d = tmp_path / "logs"
    d.mkdir()
    (d / "app.log").write_text("today\n")
    (d / "app.log-20261127").write_text("yesterday\n")
    for day in (24, 25, 26):
        (d / f"app.log-202611{day}.gz").write_bytes(gzip.compress(f"day {day}\n".encode()))
    return d


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """A real process holding a rotated file open until the test ends."""
    path = tmp_path / "logs" / "app.log-20261125.gz"
    with hold_open(path) as proc:
        yield path, proc


@pytest.mark.parametrize(
    ("name", "family", "kind", "day", "number", "compressed"),
    [
        ("app.log", "app.log", "live", None, None, False),
        ("app.log-20261127", "app.log", "dated", date(2026, 11, 27), None, False),
        ("app.log-20261126.gz", "app.log", "dated", date(2026, 11, 26), None, True),
        ("app.log-2026-11-26.xz", "app.log", "dated", date(2026, 11, 26), None, True),
        ("app-20261126.log.gz", "app.log", "dated", date(2026, 11, 26), None, True),
        ("app.log.1", "app.log", "numbered", None, 1, False),
        ("app.log.12.gz", "app.log", "numbered", None, 12, True),
        ("2026-11-28.log", "*.log", "dated", date(2026, 11, 28), None, False),
        ("app.log-20261399", "app.log-20261399", "live", None, None, False),
    ],
)
def test_it_reads_family_and_rotation_position_from_logrotate_names(
    name: str, family: str, kind: str, day: date | None, number: int | None, compressed: bool
) -> None:
    info = parse_name(name)
    assert (info.family, info.kind, info.day, info.number, info.compressed) == (
        family,
        kind,
        day,
        number,
        compressed,
    )


def test_configured_directories_are_resolved_through_dotdot_and_symlinks(
    tmp_path: Path, logs: Path
) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "link").symlink_to(logs)
    dirs = configured_dirs(
        [f"{tmp_path}/a/b/../../logs/*.log*", f"{tmp_path}/link/*.log", f"{tmp_path}/nope/*.log"]
    )
    assert dirs == {str(logs.resolve()): ["*.log*", "*.log"]}


def test_it_lists_every_match_with_its_stat_and_family(logs: Path) -> None:
    files = Files([f"{logs}/*.log*"])
    listed = files.listing()
    assert [f.name for f in listed] == sorted(os.listdir(logs))
    live = next(f for f in listed if f.name == "app.log")
    assert live.size == 6 and live.is_regular and not live.rotated
    fam = files.families()
    assert list(fam) == [f"{logs}/app.log"]
    # newest first: live, then by the date in the name
    assert [f.name for f in fam[f"{logs}/app.log"]][:3] == [
        "app.log",
        "app.log-20261127",
        "app.log-20261126.gz",
    ]


def test_it_removes_an_old_rotated_file_only_with_apply(logs: Path) -> None:
    old = logs / "app.log-20261124.gz"
    with pytest.raises(PermissionError):
        Files([f"{logs}/*.log*"]).remove(str(old))
    assert old.exists()
    detail = Files([f"{logs}/*.log*"], readonly=False).remove(str(old))
    assert not old.exists()
    assert detail["path"] == str(old) and detail["bytes_freed"] > 0


def test_it_refuses_the_live_file_and_the_newest_file_when_there_is_no_live_one(
    logs: Path,
) -> None:
    files = Files([f"{logs}/*.log*"], readonly=False)
    with pytest.raises(Refused, match="live"):
        files.remove(str(logs / "app.log"))
    (logs / "app.log").unlink()
    with pytest.raises(Refused, match="live"):
        files.remove(str(logs / "app.log-20261127"))
    assert (logs / "app.log-20261127").exists()


def test_it_refuses_a_symlink_even_one_pointing_outside(tmp_path: Path, logs: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("keep me")
    link = logs / "app.log-20200101.gz"
    link.symlink_to(secret)
    files = Files([f"{logs}/*.log*"], readonly=False)
    assert next(f for f in files.listing() if f.name == link.name).is_symlink
    with pytest.raises(Refused, match="symlink .* outside"):
        files.remove(str(link))
    assert link.is_symlink() and secret.read_text() == "keep me"


def test_it_refuses_paths_outside_the_configured_directories(tmp_path: Path, logs: Path) -> None:
    outside = tmp_path / "app.log-20200101.gz"
    outside.write_bytes(gzip.compress(b"x"))
    files = Files([f"{logs}/*.log*"], readonly=False)
    for path in (str(outside), f"{logs}/../app.log-20200101.gz", "app.log-20200101.gz"):
        with pytest.raises(Refused):
            files.remove(path)
    assert outside.exists()


def test_it_refuses_a_directory(logs: Path) -> None:
    (logs / "app.log-20200101").mkdir()
    with pytest.raises(Refused, match="not a regular file"):
        Files([f"{logs}/*.log*"], readonly=False).remove(str(logs / "app.log-20200101"))


def test_it_refuses_a_file_a_process_holds_open(
    logs: Path, holder: tuple[Path, subprocess.Popen[bytes]]
) -> None:
    path, proc = holder
    holders = open_files()
    st = path.stat()
    assert proc.pid in holders.by_inode[(st.st_dev, st.st_ino)]
    with pytest.raises(Refused, match=f"held open by process {proc.pid}"):
        Files([f"{logs}/*.log*"], readonly=False).remove(str(path))
    assert path.exists()


def test_integrity_reads_to_the_end_and_names_what_is_wrong(tmp_path: Path) -> None:
    data = b"".join(b"line %d of the log\n" % i for i in range(50_000))
    good = gzip.compress(data)
    cases = {
        "good.gz": good,
        "two-members.gz": good + gzip.compress(b"more\n") + b"\0\0",
        "truncated.gz": good[: len(good) // 2],
        "crc.gz": good[:-8] + bytes([good[-8] ^ 1]) + good[-7:],
        "garbage.gz": os.urandom(4096),
        "empty.gz": b"",
        "trailing.gz": good + b"not gzip",
    }
    results = {}
    for name, payload in cases.items():
        (tmp_path / name).write_bytes(payload)
        results[name] = check_integrity(tmp_path / name)
    assert results["good.gz"].ok and results["good.gz"].uncompressed_bytes == len(data)
    assert results["two-members.gz"].ok
    assert not results["truncated.gz"].ok and "truncated" in results["truncated.gz"].error
    assert "CRC" in results["crc.gz"].error
    assert "not compressed" in results["garbage.gz"].error
    assert "empty" in results["empty.gz"].error
    assert "trailing garbage" in results["trailing.gz"].error
    limited = check_integrity(tmp_path / "good.gz", limit=1000)
    assert limited.ok and not limited.complete and limited.compressed_bytes == 1000


def test_integrity_never_follows_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real.gz").write_bytes(gzip.compress(b"x"))
    (tmp_path / "link.gz").symlink_to(tmp_path / "real.gz")
    assert not check_integrity(tmp_path / "link.gz").ok


def test_disk_usage_matches_statvfs(tmp_path: Path) -> None:
    u = disk_usage(tmp_path)
    st = os.statvfs(tmp_path)
    assert u.total == st.f_blocks * st.f_frsize
    assert 0 <= u.percent <= 100


def test_it_is_opened_by_the_engine_as_the_files_target_only_when_paths_are_set(
    tmp_path: Path, logs: Path
) -> None:
    from rota.config import parse_config
    from rota.task import Context
    from rota.tasks.logs.rotation import rotation

    cfg = parse_config(f'[logs]\npaths = ["{logs}/*.log*"]\n')
    ctx = Context(task=rotation, config=cfg)
    target = ctx.target("files")
    assert isinstance(target, Files) and target.readonly
    assert ctx.target("files") is target  # opened once per task run
    ctx.close()
    with pytest.raises(TargetUnavailable, match=r"\[logs\] paths"):
        Context(task=rotation, config=parse_config("")).target("files")
