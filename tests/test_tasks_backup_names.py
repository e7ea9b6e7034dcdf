"""Times in backup file names, written the ways people write them."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rota.config import parse_config
from rota.errors import ConfigError
from rota.tasks.backup import files as bf
from rota.tasks.backup import names

SECOND, MINUTE, HOUR, DAY = (
    timedelta(seconds=1),
    timedelta(minutes=1),
    timedelta(hours=1),
    names.DAY,
)


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


# name -> (time in UTC, the part read, precision); names without a zone read as UTC here.
REAL_WORLD = {
    # date +%Y%m%d_%H%M%S, the runbook's own cron job
    "rylie_full_20261204_110000.dump.gz": (_utc(2026, 12, 4, 11), "20261204_110000", SECOND),
    # rota's own names
    "rylie_full_20261204T110000Z.dump.gz": (_utc(2026, 12, 4, 11), "20261204T110000Z", SECOND),
    "db-20261204-031500.sql.gz": (_utc(2026, 12, 4, 3, 15), "20261204-031500", SECOND),
    "app_20261204T031500.dump": (_utc(2026, 12, 4, 3, 15), "20261204T031500", SECOND),
    "dump20261204031500.sql": (_utc(2026, 12, 4, 3, 15), "20261204031500", SECOND),
    "backup-20261204-0300.dump": (_utc(2026, 12, 4, 3), "20261204-0300", MINUTE),
    "hourly_2026120403.dump": (_utc(2026, 12, 4, 3), "2026120403", HOUR),
    "db_2026-12-04.sql.gz": (_utc(2026, 12, 4), "2026-12-04", DAY),
    "db_2026_12_04.sql": (_utc(2026, 12, 4), "2026_12_04", DAY),
    "dump_20261204.sql": (_utc(2026, 12, 4), "20261204", DAY),
    "app.2026-12-04T03-00-00.dump": (_utc(2026, 12, 4, 3), "2026-12-04T03-00-00", SECOND),
    "mydb-2026-12-04_03-00.sql.gz": (_utc(2026, 12, 4, 3), "2026-12-04_03-00", MINUTE),
    "backup 2026-12-04 03:00:00.sql": (_utc(2026, 12, 4, 3), "2026-12-04 03:00:00", SECOND),
    "db-2026-12-04-0300.dump": (_utc(2026, 12, 4, 3), "2026-12-04-0300", MINUTE),
    "pg_dump_1764817200.sql": (_utc(2025, 12, 4, 3), "1764817200", SECOND),
    # a zone in the name wins over the configured one
    "db_20261204_030000+0100.dump": (_utc(2026, 12, 4, 2), "20261204_030000+0100", SECOND),
    "x_2026-12-04T03:00:00.123456-05:30.sql": (
        _utc(2026, 12, 4, 8, 30),
        "2026-12-04T03:00:00.123456-05:30",
        SECOND,
    ),
    # tricky: other digits around the time
    "db_20261204_full_20261205_030000.sql": (_utc(2026, 12, 5, 3), "20261205_030000", SECOND),
    "v15_db_20261204_030000.dump": (_utc(2026, 12, 4, 3), "20261204_030000", SECOND),
    "db-2026-12-04-3.sql": (_utc(2026, 12, 4), "2026-12-04", DAY),  # a sequence number
    "db_20261204_030000-0042.dump": (_utc(2026, 12, 4, 3), "20261204_030000", SECOND),
    "db_20261204_2500.sql": (_utc(2026, 12, 4), "20261204", DAY),  # 25:00 is no time
    "db_2026-12-04_1048576.sql": (_utc(2026, 12, 4), "2026-12-04", DAY),  # a size after it
}

NO_TIME = [
    "rylie_full_latest.dump.gz",
    "backup_1048576.dump",  # a size in bytes
    "backup_1073741824.dump",  # 1 GiB: ten digits, but before 2015 as epoch seconds
    "db_00042.dump",  # a sequence number
    "backup_202612040300001.dump",  # fifteen digits: not cut into a date
    "backup_20261304.dump",  # month 13
    "db_2026-02-30.sql",  # 30 February
    "db_12-04-2026.sql",  # day first: which day is ambiguous, so not read
    "db_1999-12-04.sql",  # outside 2000-2099
    "pg15.sql.gz",
]


@pytest.mark.parametrize("name", sorted(REAL_WORLD))
def test_it_reads_the_time_in_names_people_give_backups(name: str) -> None:
    when, text, precision = REAL_WORLD[name]
    got = names.read(name, "UTC")
    assert got is not None, name
    assert (got.when, got.text, got.precision) == (when, text, precision)


@pytest.mark.parametrize("name", NO_TIME)
def test_it_reads_no_time_into_digits_that_are_not_one(name: str) -> None:
    assert names.read(name, "UTC") is None


@pytest.fixture
def berlin_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's local time zone is Europe/Berlin (as TZ sets it for ``date``)."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_names_without_a_zone_are_in_local_time_as_date_writes_them(berlin_machine: None) -> None:
    winter = names.read("rylie_full_20261204_110000.dump.gz")
    summer = names.read("rylie_full_20260704_110000.dump.gz")
    assert winter is not None and winter.when == _utc(2026, 12, 4, 10) and winter.zone == "CET"
    assert summer is not None and summer.when == _utc(2026, 7, 4, 9) and summer.zone == "CEST"
    # rota's own names say UTC, whatever the machine's zone
    own = names.read("rylie_full_20261204T110000Z.dump.gz")
    assert own is not None and own.when == _utc(2026, 12, 4, 11)


def test_the_configured_zone_reads_names_without_one() -> None:
    got = names.read("db_20261204_110000.dump", "America/New_York")
    assert got is not None and got.when == _utc(2026, 12, 4, 16) and got.zone == "America/New_York"
    stamped = names.read("db_20261204_110000+0100.dump", "America/New_York")
    assert stamped is not None and stamped.when == _utc(2026, 12, 4, 10)


def test_an_unknown_time_zone_is_a_config_error_naming_the_key() -> None:
    assert parse_config('[backups]\nname_timezone = "Europe/Berlin"\n').backups.name_timezone
    assert parse_config("").backups.name_timezone == "local"
    with pytest.raises(ConfigError) as err:
        parse_config('[backups]\nname_timezone = "Mars/Olympus"\n')
    assert any("backups.name_timezone" in p and "Mars/Olympus" in p for p in err.value.problems)


def _touch(path: Path, when: datetime) -> Path:
    path.write_bytes(b"x")
    os.utime(path, (when.timestamp(), when.timestamp()))
    return path


def test_a_name_with_only_a_date_takes_its_time_of_day_from_the_mtime(tmp_path: Path) -> None:
    taken = _utc(2026, 12, 4, 3, 12)
    _touch(tmp_path / "db_2026-12-04.sql.gz", taken)
    # copied two days later: the name's day wins, the copy's mtime does not
    _touch(tmp_path / "db_2026-12-01.sql.gz", _utc(2026, 12, 3, 9))
    old, new = bf.list_backups(str(tmp_path / "db_*.sql.gz"), "UTC")
    assert (new.time, new.time_from, new.precision) == (taken, "name+mtime", DAY)
    assert (old.time, old.time_from) == (_utc(2026, 12, 1), "name")


def test_backups_are_ordered_by_the_time_in_their_names_whatever_the_shape(
    tmp_path: Path,
) -> None:
    now = _utc(2026, 12, 5, 12)
    for name in (
        "app_20261203_030000.dump",
        "app_2026-12-04T03-00-00Z.dump",
        "app_1764817200.dump",  # 2025-12-04
        "app_nightly.dump",  # no time: its mtime
    ):
        _touch(tmp_path / name, now)
    listed = bf.list_backups(str(tmp_path / "app_*.dump"), "UTC")
    assert [b.path.name for b in listed] == [
        "app_1764817200.dump",
        "app_20261203_030000.dump",
        "app_2026-12-04T03-00-00Z.dump",
        "app_nightly.dump",
    ]
    assert [b.time_from for b in listed] == ["name", "name", "name", "mtime"]
