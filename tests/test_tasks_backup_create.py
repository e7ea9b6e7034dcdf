"""backup.create against real PostgreSQL and the real pg_dump; retention on real files."""

from __future__ import annotations

import gzip
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from rota.model import Severity, StepStatus
from rota.tasks.backup import files as bf
from rota.tasks.backup.create import create
from rota.tasks.backup.verify import verify
from rota.testing import findings, run_task
from rota_sandbox.postgres import Cluster


def config(tmp_path: Path, url: str, extra: str = "") -> str:
    return (
        f'[database]\nurl = "{url}"\n'
        f'[backups]\ndir = "{tmp_path}/backups"\n'
        f'pattern = "{tmp_path}/backups/rylie_full_*.dump.gz"\ntemp_dir = "{tmp_path}"\n' + extra
    )


def test_it_plans_the_dump_in_check_mode_and_writes_nothing(
    tmp_path: Path, pg_url: str, assert_read_only: Any
) -> None:
    (tmp_path / "backups").mkdir()
    out = assert_read_only(
        lambda: run_task(create, config(tmp_path, pg_url)),
        urls=(pg_url,),
        trees=(tmp_path / "backups",),
    )
    step = out.steps[0]
    assert step.status is StepStatus.PLANNED
    assert step.detail["database_bytes"] > 0
    assert step.detail["estimate_s"] > 0
    assert "pg_dump -Fc" in step.detail["command"] and "gzip -1 -c" in step.detail["command"]
    assert list((tmp_path / "backups").iterdir()) == []


def test_it_writes_a_backup_with_sidecar_and_manifest_that_verifies(
    tmp_path: Path, pg_url: str, pg_cluster: Cluster
) -> None:
    out = run_task(create, config(tmp_path, pg_url), apply=True)
    assert out.status is Severity.OK, [f.message for f in out.findings]
    [backup] = bf.list_backups(str(tmp_path / "backups" / "rylie_full_*.dump.gz"))
    assert backup.when is not None and abs((datetime.now(UTC) - backup.when).total_seconds()) < 60
    assert gzip.decompress(backup.path.read_bytes()).startswith(b"PGDMP")
    assert bf.read_sidecar(backup.path) == bf.sha256_file(backup.path)
    manifest = bf.read_manifest(backup.path)
    assert manifest is not None
    with psycopg.connect(pg_url) as conn:
        users = conn.execute("SELECT count(*) FROM users").fetchone()
    assert users is not None and manifest["row_counts"]["public.users"] == users[0]
    assert manifest["pg_dump_version"].startswith("15.")
    assert not [p for p in (tmp_path / "backups").iterdir() if p.name.startswith(".")]
    check = run_task(verify, config(tmp_path, pg_url))
    assert check.status is Severity.OK, [f.message for f in check.findings if f.severity != "ok"]
    # the runbook's own restore path reads it too: gunzip -c | pg_restore
    listing = subprocess.run(
        # pg_restore -l stops reading after the table of contents: gunzip's SIGPIPE is fine
        f"gunzip -c {backup.path} | {pg_cluster.bindir / 'pg_restore'} -l; exit ${{PIPESTATUS[1]}}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "TABLE DATA public messages" in listing


def test_it_writes_an_uncompressed_custom_archive_when_asked(tmp_path: Path, pg_url: str) -> None:
    out = run_task(create, config(tmp_path, pg_url, 'format = "custom"\n'), apply=True)
    assert out.status is Severity.OK
    [path] = (tmp_path / "backups").glob("rylie_full_*.dump")
    assert path.read_bytes().startswith(b"PGDMP")


def test_it_reports_a_failed_dump_and_leaves_no_partial_file(tmp_path: Path, pg_url: str) -> None:
    # A table the dump cannot read: pg_dump fails halfway while gzip would succeed.
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE ROLE rota_nobody LOGIN")
        try:
            conn.execute("CREATE TABLE secret (x int)")
            conn.execute("REVOKE ALL ON secret FROM PUBLIC")
            conn.execute("GRANT SELECT ON users, conversations, messages TO rota_nobody")
            url = pg_url.replace("postgres@", "rota_nobody@")
            out = run_task(create, config(tmp_path, url), apply=True)
        finally:
            conn.execute("DROP TABLE secret")
            conn.execute("REVOKE ALL ON users, conversations, messages FROM rota_nobody")
            conn.execute("DROP ROLE rota_nobody")
    failed = findings(out, "backup.create_failed")
    assert failed and failed[0].severity is Severity.CRITICAL
    assert "permission denied" in failed[0].message
    assert list((tmp_path / "backups").iterdir()) == []


def test_it_plans_retention_first_and_deletes_only_with_apply(tmp_path: Path, pg_url: str) -> None:
    d = tmp_path / "backups"
    d.mkdir()
    now = datetime.now(UTC)
    names = []
    for days in range(1, 41):  # yesterday and older: today's name is the new dump's
        p = d / bf.file_name(
            "rylie_full_{timestamp}{ext}", now - timedelta(days=days), "custom-gzip"
        )
        p.write_bytes(b"x")
        names.append(p.name)
    other = d / "keep-me.txt"
    other.write_text("not a backup")
    cfg_extra = "keep_daily = 3\nkeep_weekly = 2\nkeep_monthly = 2\n"
    planned = run_task(create, config(tmp_path, pg_url, cfg_extra))
    deletions = [s for s in planned.steps if s.action.startswith("delete ")]
    assert deletions and all(s.status is StepStatus.PLANNED for s in deletions)
    assert len(list(d.iterdir())) == 41
    done = run_task(create, config(tmp_path, pg_url, cfg_extra), apply=True)
    assert done.status is Severity.OK, [f.message for f in done.findings]
    left = sorted(
        p.name for p in d.iterdir() if p.name.startswith("rylie_full_") and p.name.endswith(".gz")
    )
    assert names[0] in left and names[1] in left  # the newest days survive
    assert len(left) <= 1 + 3 + 2 + 2
    assert other.exists()
    assert os.path.exists(bf.sidecar_path(d / max(left)))


def test_it_never_overwrites_a_backup_with_the_same_name(tmp_path: Path, pg_url: str) -> None:
    d = tmp_path / "backups"
    d.mkdir()
    now = datetime.now(UTC)
    # Every name this second and the next few could take is already taken.
    taken = []
    for s in range(0, 5):
        p = d / bf.file_name(
            "rylie_full_{timestamp}{ext}", now + timedelta(seconds=s), "custom-gzip"
        )
        p.write_bytes(b"precious")
        taken.append(p)
    out = run_task(create, config(tmp_path, pg_url), apply=True)
    failed = findings(out, "backup.create_failed")
    assert failed and "already exists; not overwriting a backup" in failed[0].message
    assert all(p.read_bytes() == b"precious" for p in taken)
    assert not [p for p in d.iterdir() if p.name.startswith(".")]  # no temp file left
