"""The sandbox's backups: real pg_dump files that restore."""

from __future__ import annotations

import gzip
import os
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from rota.errors import SandboxError
from rota_sandbox import dataset
from rota_sandbox.backups import backup_name, make_backup, make_history
from rota_sandbox.postgres import Cluster

WHEN = datetime(2025, 5, 31, 2, 30, 5, tzinfo=UTC)


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            table: (conn.execute(f"SELECT count(*) FROM {table}").fetchone() or (0,))[0]
            for table in dataset.SCHEMA_TABLES
        }


def test_it_names_backups_by_utc_time() -> None:
    assert backup_name(WHEN) == "rylie_full_20250531T023005Z.dump.gz"
    in_paris = WHEN.astimezone(datetime.now().astimezone().tzinfo)
    assert backup_name(in_paris) == backup_name(WHEN)


def test_it_writes_a_gzipped_custom_format_dump(
    pg_cluster: Cluster, pg_url: str, tmp_path: Path
) -> None:
    path = make_backup(pg_url, tmp_path / "backups", WHEN, pg_cluster.bindir)
    assert path == tmp_path / "backups" / "rylie_full_20250531T023005Z.dump.gz"
    with gzip.open(path, "rb") as dump:
        assert dump.read(5) == b"PGDMP"  # pg_dump's custom-format magic
    assert path.stat().st_mtime == WHEN.timestamp()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left


def test_a_backup_restores_with_identical_counts(
    pg_cluster: Cluster, pg_url: str, tmp_path: Path
) -> None:
    path = make_backup(pg_url, tmp_path, WHEN, pg_cluster.bindir)
    scratch = pg_cluster.create_database("restore_scratch")
    argv = [str(pg_cluster.bindir / "pg_restore"), "--no-owner", "--exit-on-error", "-d", scratch]
    try:
        with open(path, "rb") as compressed:
            gunzip = subprocess.Popen(["gunzip", "-c"], stdin=compressed, stdout=subprocess.PIPE)
            restore = subprocess.run(
                argv, stdin=gunzip.stdout, capture_output=True, text=True, timeout=120
            )
            assert gunzip.wait(30) == 0
        assert restore.returncode == 0, restore.stderr
        assert _counts(scratch) == _counts(pg_url)
    finally:
        pg_cluster.drop_database("restore_scratch")


def test_a_failed_pg_dump_raises_instead_of_leaving_a_file(
    pg_cluster: Cluster, tmp_path: Path
) -> None:
    backups = tmp_path / "backups"
    with pytest.raises(SandboxError) as caught:
        make_backup(pg_cluster.url("no_such_database"), backups, WHEN, pg_cluster.bindir)
    message = str(caught.value)
    assert message.startswith("pg_dump failed (exit 1): ")
    assert 'database "no_such_database" does not exist' in message
    assert "\n" not in message
    assert list(backups.iterdir()) == []


def test_a_missing_pg_dump_raises_a_sandbox_error(pg_url: str, tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="cannot run pg_dump"):
        make_backup(pg_url, tmp_path, WHEN, tmp_path / "no-bin")
    assert list(tmp_path.iterdir()) == []


def test_it_makes_a_daily_history_oldest_first(
    pg_cluster: Cluster, pg_url: str, tmp_path: Path
) -> None:
    paths = make_history(pg_url, tmp_path, pg_cluster.bindir, count=3, now=WHEN)
    assert [p.name for p in paths] == [
        backup_name(WHEN - timedelta(days=2)),
        backup_name(WHEN - timedelta(days=1)),
        backup_name(WHEN),
    ]
    assert [p.stat().st_mtime for p in paths] == [
        (WHEN - timedelta(days=d)).timestamp() for d in (2, 1, 0)
    ]
    contents = {p.read_bytes() for p in paths}
    assert len(contents) == 1 and all(
        re.fullmatch(r"rylie_full_\d{8}T\d{6}Z\.dump\.gz", p.name) for p in paths
    )
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in paths)
