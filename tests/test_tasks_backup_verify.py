"""backup.verify against real PostgreSQL, real pg_dump archives and damaged copies of them."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from rota.model import Severity, TaskOutcome
from rota.targets.postgres import Postgres
from rota.tasks.backup import files as bf
from rota.tasks.backup.drill import owner_tag, parse_owner
from rota.tasks.backup.restore import (
    SCRATCH_PREFIX,
    Expectation,
    ExpectationError,
    set_unlogged,
    usable_options,
)
from rota.tasks.backup.verify import RESTORE_OPTIONS, verify
from rota.testing import findings, run_task
from rota_sandbox.backups import make_backup
from rota_sandbox.postgres import Cluster

Backup = Callable[..., Path]


def config(tmp_path: Path, url: str, extra: str = "") -> str:
    """backup.verify's config for backups in ``tmp_path/backups``; makes its temp_dir."""
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return (
        f'[database]\nurl = "{url}"\n'
        f'[backups]\npattern = "{tmp_path}/backups/rylie_full_*.dump.gz"\n'
        f'dir = "{tmp_path}/backups"\ntemp_dir = "{tmp_path}/tmp"\njobs = 2\n' + extra
    )


@pytest.fixture
def backup(tmp_path: Path, pg_url: str, pg_cluster: Cluster) -> Backup:
    """``backup(when=None, sidecar=True)``: a real backup of ``pg_url`` in
    ``tmp_path/backups``, made with the test cluster's own pg_dump."""

    def make(when: datetime | None = None, sidecar: bool = True) -> Path:
        at = when or datetime.now(UTC)
        path = make_backup(pg_url, tmp_path / "backups", at, pg_cluster.bindir)
        if sidecar:
            bf.write_sidecar(path, bf.sha256_file(path))
        return path

    return make


def _codes(out: TaskOutcome, severity: Severity) -> set[str]:
    return {f.code for f in out.findings if f.severity is severity}


def _pg_dump(pg_cluster: Cluster, url: str, *options: str) -> bytes:
    """What the test cluster's own pg_dump writes for ``url`` with ``options``."""
    dump = [str(pg_cluster.bindir / "pg_dump"), *options, "--dbname", url]
    return subprocess.run(dump, capture_output=True, check=True).stdout


def _backup_path(tmp_path: Path) -> Path:
    """Where a backup taken now goes, under the name the runbook gives it; its folder made."""
    path = (
        tmp_path / "backups" / bf.file_name(bf.DEFAULT_TEMPLATE, datetime.now(UTC), "custom-gzip")
    )
    path.parent.mkdir(parents=True)
    return path


def _scratch_databases(url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (SCRATCH_PREFIX + "%",)
        ).fetchall()
    return [r[0] for r in rows]


def _assert_clean(tmp_path: Path, url: str) -> None:
    assert _scratch_databases(url) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_it_passes_a_good_backup_through_every_tier(
    tmp_path: Path, pg_url: str, assert_read_only: Any, backup: Backup
) -> None:
    backup()
    extra = '[[backups.validate]]\nquery = "SELECT count(*) FROM users"\nexpect = "> 0"\n'
    out = assert_read_only(
        lambda: run_task(verify, config(tmp_path, pg_url, extra)),
        urls=(pg_url,),
        trees=(tmp_path / "backups",),
    )
    assert out.status is Severity.OK, [f.message for f in out.findings if f.severity != "ok"]
    ok = _codes(out, Severity.OK)
    for code in (
        "backup.missing",
        "backup.stale",
        "backup.checksum_mismatch",
        "backup.corrupt",
        "backup.rto_exceeded",
        "backup.validation_failed",
        "backup.count_mismatch",
        "backup.schema_drift",
        "backup.rpo_exceeded",
        "backup.receipt",
    ):
        assert code in ok, code
    receipt = findings(out, "backup.receipt")[0].evidence
    assert receipt["verdict"] == "passed"
    assert (
        receipt["counts"]["public.messages"]["live"]
        == receipt["counts"]["public.messages"]["restored"]
    )
    assert {"integrity", "restore", "validate"} <= set(receipt["phases_s"])
    assert receipt["jobs"] == 2
    # Every table was counted while pg_restore still checked foreign keys, and agrees with live.
    assert receipt["counted_during_restore"] == sorted(receipt["counts"]), receipt
    assert len(receipt["counts"]) == 7
    assert all(c["live"] == c["restored"] for c in receipt["counts"].values())
    settings = receipt["restore_settings"]
    assert settings["pgoptions"] == RESTORE_OPTIONS and settings["refused"] == ""
    assert settings["unlogged_tables"] == 7, settings  # the platform's seven tables
    assert settings["schema_restored"] == "while T1 read the file"
    metrics = {m.name for m in out.metrics}
    assert {"backup.restore_seconds", "backup.rpo_seconds", "backup.size_bytes"} <= metrics
    _assert_clean(tmp_path, pg_url)


def test_it_reports_a_missing_backup(tmp_path: Path, pg_url: str) -> None:
    out = run_task(verify, config(tmp_path, pg_url))
    assert "backup.missing" in _codes(out, Severity.CRITICAL)


def test_it_picks_the_newest_backup_by_name_not_mtime(
    tmp_path: Path, pg_url: str, backup: Backup
) -> None:
    new = backup()
    old = (
        tmp_path
        / "backups"
        / bf.file_name(
            "rylie_full_{timestamp}{ext}", datetime.now(UTC) - timedelta(days=3), "custom-gzip"
        )
    )
    shutil.copyfile(new, old)  # a copy: fresh mtime, old name
    out = run_task(verify, config(tmp_path, pg_url))
    receipt = findings(out, "backup.receipt")[0].evidence
    assert receipt["file"] == str(new)
    assert "backup.mtime_mismatch" in _codes(out, Severity.WARNING)


@pytest.mark.parametrize(
    ("damage", "code"),
    [
        ("truncate", "backup.corrupt"),
        ("corrupt_archive", "backup.restore_failed"),
        ("empty", "backup.corrupt"),
        ("checksum", "backup.checksum_mismatch"),
    ],
)
def test_it_fails_a_damaged_backup_and_leaves_nothing_behind(
    tmp_path: Path, pg_url: str, damage: str, code: str, backup: Backup
) -> None:
    path = backup()
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "checksum":
        path.write_bytes(data[:-20] + bytes(20))
    elif damage == "corrupt_archive":
        # A well-formed gzip around an archive whose data blocks are garbage.
        archive = bytearray(gzip.decompress(data))
        mid = len(archive) // 2
        archive[mid : mid + 4000] = os.urandom(4000)
        path.write_bytes(gzip.compress(bytes(archive)))
    if damage != "checksum":
        bf.write_sidecar(path, bf.sha256_file(path))
    out = run_task(verify, config(tmp_path, pg_url))
    assert code in _codes(out, Severity.CRITICAL), [f.message for f in out.findings]
    assert out.status is Severity.CRITICAL
    failed = findings(out, "backup.restore_failed")
    if code != "backup.restore_failed":
        # The scratch database was readied while T1 read the file; T1 failed, so nothing
        # of that is reported, and the database is gone (_assert_clean below).
        assert failed == []
    if damage == "corrupt_archive":
        # pg_restore's own error, not the progress lines it prints for early counting
        assert "error:" in failed[0].message and "finished item" not in failed[0].message
    _assert_clean(tmp_path, pg_url)


def test_it_fails_a_plain_sql_dump_that_errors_halfway(
    tmp_path: Path, pg_url: str, pg_cluster: Cluster
) -> None:
    sql = _pg_dump(pg_cluster, pg_url, "-Fp")
    cut = sql.index(b"COPY public.messages")
    broken = sql[:cut] + b"SELECT no_such_function();\n" + sql[cut:]
    path = _backup_path(tmp_path)
    path.write_bytes(gzip.compress(broken))
    out = run_task(verify, config(tmp_path, pg_url))
    failed = findings(out, "backup.restore_failed")
    assert failed and failed[0].severity is Severity.CRITICAL
    assert "no_such_function" in failed[0].message
    _assert_clean(tmp_path, pg_url)


def test_it_restores_a_complete_plain_sql_dump(
    tmp_path: Path, pg_url: str, pg_cluster: Cluster
) -> None:
    sql = _pg_dump(pg_cluster, pg_url, "-Fp")
    path = _backup_path(tmp_path)
    path.write_bytes(gzip.compress(sql))
    out = run_task(verify, config(tmp_path, pg_url))
    assert "backup.count_mismatch" in _codes(out, Severity.OK)
    assert "backup.restore_failed" not in _codes(out, Severity.CRITICAL)


def test_it_finds_a_backup_missing_a_table(
    tmp_path: Path, pg_url: str, pg_cluster: Cluster
) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE invoices (id int PRIMARY KEY)")
        conn.execute("INSERT INTO invoices SELECT generate_series(1, 10)")
    path = _backup_path(tmp_path)
    pg_dump = pg_cluster.bindir / "pg_dump"
    subprocess.run(
        f"set -o pipefail; {pg_dump} -Fc -T invoices --dbname '{pg_url}' | gzip > {path}",
        shell=True,
        executable="/bin/bash",
        check=True,
    )
    out = run_task(verify, config(tmp_path, pg_url))
    drift = findings(out, "backup.schema_drift")[0]
    assert drift.severity is Severity.CRITICAL
    assert drift.evidence["missing_tables"] == ["public.invoices"]
    _assert_clean(tmp_path, pg_url)


def test_an_invalid_index_in_live_is_no_schema_drift_but_a_dropped_index_is(
    tmp_path: Path, pg_url: str, backup: Backup
) -> None:
    # pg_dump never dumps an invalid index (a failed CREATE INDEX CONCURRENTLY)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.UniqueViolation):  # many users share a role
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY users_role_unique ON users (role)")
        valid = conn.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_role_unique'::regclass"
        ).fetchone()
    assert valid == (False,)
    backup()
    out = run_task(verify, config(tmp_path, pg_url))
    assert "backup.schema_drift" in _codes(out, Severity.OK)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE INDEX users_created_at_again ON users (created_at)")
    out = run_task(verify, config(tmp_path, pg_url))
    drift = findings(out, "backup.schema_drift")[0]
    assert drift.severity is not Severity.OK
    assert any("users_created_at_again" in item for item in drift.evidence["only_live"])
    _assert_clean(tmp_path, pg_url)


def test_it_flags_a_backup_far_older_than_the_rpo(
    tmp_path: Path, pg_url: str, backup: Backup
) -> None:
    backup(when=datetime.now(UTC) - timedelta(days=10))
    out = run_task(verify, config(tmp_path, pg_url))
    assert "backup.stale" in _codes(out, Severity.CRITICAL)
    _assert_clean(tmp_path, pg_url)


def test_it_flags_counts_far_below_live(tmp_path: Path, pg_url: str, backup: Backup) -> None:
    backup()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO audit_log (actor_user_id, action, created_at) "
            "SELECT actor_user_id, action, created_at FROM audit_log"
        )
    out = run_task(verify, config(tmp_path, pg_url))
    bad = findings(out, "backup.count_mismatch")
    assert [f.subject for f in bad if f.severity is Severity.CRITICAL] == ["public.audit_log"]
    _assert_clean(tmp_path, pg_url)


def test_it_fails_validation_queries_that_miss_their_expectation(
    tmp_path: Path, pg_url: str, backup: Backup
) -> None:
    backup()
    extra = '[[backups.validate]]\nquery = "SELECT count(*) FROM users"\nexpect = "> 1000000"\n'
    out = run_task(verify, config(tmp_path, pg_url, extra))
    assert "backup.validation_failed" in _codes(out, Severity.CRITICAL)


def test_it_reads_the_expectation_grammar() -> None:
    assert Expectation.parse("> 0").check(3)
    assert not Expectation.parse(">= 10").check("9")
    assert Expectation.parse("== 'ok'").check("ok")
    assert Expectation.parse("!= null").check(1)
    with pytest.raises(ExpectationError):
        Expectation.parse("about 5")


def test_it_sweeps_the_scratch_database_of_a_killed_run(
    tmp_path: Path, pg_url: str, rota: Any, backup: Backup
) -> None:
    backup()
    (tmp_path / "tmp").mkdir()
    cfg = tmp_path / "rota.toml"
    cfg.write_text(
        f'[database]\nurl = "{pg_url}"\nadvisory_locks = false\n'
        f'[backups]\npattern = "{tmp_path}/backups/rylie_full_*.dump.gz"\n'
        f'temp_dir = "{tmp_path}/tmp"\n'
        f'[history]\nurl = "sqlite:///{tmp_path / "history.db"}"\n'
    )
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rota", "-c", str(cfg), "run", "backup.verify"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not _scratch_databases(pg_url):
            assert proc.poll() is None, "verification ended before its scratch database appeared"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _scratch_databases(pg_url)  # the crash left it behind
    r = rota("-c", str(cfg), "run", "backup.verify", "--format", "json")
    assert '"backup.leftover_scratch"' in r.out
    assert '"severity": "warning"' in r.out
    assert _scratch_databases(pg_url) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_another_runs_scratch_database_in_use_is_left_alone_and_a_dead_runs_is_swept(
    tmp_path: Path, pg_url: str, backup: Backup
) -> None:
    """Two rota setups verifying against one server: the sweep drops only what is abandoned."""
    backup()
    with psycopg.connect(pg_url, autocommit=True) as admin:
        for name in ("rota_verify_otherhost", "rota_verify_alivehere", "rota_verify_deadhere"):
            admin.execute(f"CREATE DATABASE {name}")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    holders = [
        psycopg.connect(
            pg_url.rsplit("/", 1)[0] + f"/{name}", application_name=owner_tag(host, pid)
        )
        for name, host, pid in (
            ("rota_verify_otherhost", "build-02", 4242),  # another machine: never ours to judge
            ("rota_verify_alivehere", None, os.getpid()),  # a run on this machine, still alive
            ("rota_verify_deadhere", None, dead.pid),  # a killed run's lingering session
        )
    ]
    try:
        out = run_task(verify, config(tmp_path, pg_url))
        sweep = findings(out, "backup.leftover_scratch")[0]
        assert sweep.severity is Severity.WARNING
        assert sweep.evidence["databases"] == ["rota_verify_deadhere"]
        in_use = {u["database"] for u in sweep.evidence["in_use_by_other_runs"]}
        assert in_use == {"rota_verify_otherhost", "rota_verify_alivehere"}
        assert sorted(_scratch_databases(pg_url)) == [
            "rota_verify_alivehere",
            "rota_verify_otherhost",
        ]
        assert "backup.rto_exceeded" in _codes(out, Severity.OK)  # the drill itself ran
        assert _codes(out, Severity.CRITICAL) == set()
    finally:
        for conn in holders:
            conn.close()
        with psycopg.connect(pg_url, autocommit=True) as admin:
            for name in _scratch_databases(pg_url):
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_the_scratch_sessions_carry_the_runs_owner_tag() -> None:
    tag = owner_tag("db-host.example", 1234)
    assert tag == "rota-verify:db-host.example:1234"
    assert parse_owner(tag) == ("db-host.example", 1234)
    assert parse_owner("rota:backup.verify") is None
    assert parse_owner("rota-verify:x:notapid") is None
    assert len(owner_tag("h" * 200, 4_194_304)) <= 63  # PostgreSQL's application_name limit


def test_it_drops_restore_settings_the_role_may_not_change(pg_url: str) -> None:
    role = "rota_plain_" + os.urandom(3).hex()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
    try:
        plain = Postgres(psycopg.conninfo.make_conninfo(pg_url, user=role))
        assert usable_options(plain, RESTORE_OPTIONS) == (RESTORE_OPTIONS, "")
        superuser_only = RESTORE_OPTIONS + " -c session_replication_role=replica"
        options, reason = usable_options(plain, superuser_only)
        assert options == ""
        assert "session_replication_role" in reason
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP ROLE {role}")


def test_it_makes_scratch_tables_unlogged_all_or_none(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        # The live-like database: a logged table referencing users, so switching users fails.
        live = Postgres(pg_url, readonly=False)
        assert set_unlogged(live)[0] == 0
        live.close()
        assert conn.execute(
            "SELECT count(*) FROM pg_class WHERE relpersistence = 'u'"
        ).fetchone() == (0,)
        name = SCRATCH_PREFIX + "unlogged_" + os.urandom(3).hex()
        conn.execute(f"CREATE DATABASE {name}")
    scratch = Postgres(psycopg.conninfo.make_conninfo(pg_url, dbname=name), readonly=False)
    try:
        with psycopg.connect(scratch.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE a (id int PRIMARY KEY)")
            conn.execute("CREATE TABLE b (id int GENERATED BY DEFAULT AS IDENTITY)")
            assert set_unlogged(scratch) == (2, "")
            rows = conn.execute("SELECT relpersistence FROM pg_class WHERE relname IN ('a', 'b')")
            assert {p for (p,) in rows} == {"u"}
            conn.execute("CREATE TABLE p (id int) PARTITION BY RANGE (id)")
            conn.execute("CREATE TABLE c (id int)")
            assert set_unlogged(scratch) == (0, "partitioned tables present")
            kept = conn.execute("SELECT relpersistence FROM pg_class WHERE relname = 'c'")
            assert kept.fetchone() == ("p",)
    finally:
        scratch.close()
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_a_backup_without_a_sidecar_passes_on_its_gzip_crc_and_archive_toc(
    tmp_path: Path, pg_url: str, backup: Backup
) -> None:
    backup(sidecar=False)  # as the runbook's own script leaves them
    out = run_task(verify, config(tmp_path, pg_url))
    assert out.status is Severity.OK, [f.message for f in out.findings if f.severity != "ok"]
    side = findings(out, "backup.checksum_mismatch")[0]
    assert side.severity is Severity.OK and "no .sha256 sidecar" in side.message
    assert "backup.corrupt" in _codes(out, Severity.OK)
    _assert_clean(tmp_path, pg_url)


def test_it_restores_through_a_pipe_when_the_seekable_copy_runs_out_of_space(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch, backup: Backup
) -> None:
    from rota.tasks.backup import scan as sc

    backup()
    # The check before the scan passes; the disk then "fills" while decompressing.
    monkeypatch.setattr(sc, "_SPACE_EVERY", 1 << 16)
    monkeypatch.setattr(sc, "SPACE_RESERVE", 1 << 62)
    out = run_task(verify, config(tmp_path, pg_url))
    assert out.status is Severity.OK, [f.message for f in out.findings if f.severity != "ok"]
    receipt = findings(out, "backup.receipt")[0].evidence
    assert receipt["seekable_copy"]["used"] is False
    assert "ran low on space" in receipt["seekable_copy"]["abandoned"]
    assert receipt["jobs"] == 1 and "gzip -dc" in receipt["restore_command"]
    # The schema was restored while T1 read the file, so a pipe restore loads UNLOGGED too.
    assert receipt["restore_settings"]["unlogged_tables"] == 7
    assert receipt["restore_settings"]["schema_restored"] == "while T1 read the file"
    assert "backup.count_mismatch" in _codes(out, Severity.OK)
    _assert_clean(tmp_path, pg_url)


def test_it_restores_an_archive_compressed_once_outside(
    tmp_path: Path, pg_url: str, pg_cluster: Cluster
) -> None:
    # pg_dump -Fc -Z0 | gzip: the layout some sites use to dump faster; the runbook's
    # doubly-compressed default is what every other test restores.
    dump = _pg_dump(pg_cluster, pg_url, "-Fc", "-Z0")
    assert dump[:5] == b"PGDMP"
    _backup_path(tmp_path).write_bytes(gzip.compress(dump, compresslevel=1))
    out = run_task(verify, config(tmp_path, pg_url))
    assert out.status is Severity.OK, [f.message for f in out.findings if f.severity != "ok"]
    receipt = findings(out, "backup.receipt")[0].evidence
    assert receipt["format"] == "custom" and receipt["seekable_copy"]["used"] is True
    assert receipt["content_bytes"] == len(dump)
    _assert_clean(tmp_path, pg_url)


def test_counting_in_two_sessions_gives_the_counts_and_newest_row_of_one(pg_url: str) -> None:
    from rota.targets.postgres import Postgres
    from rota.tasks.backup.restore import count_restored, tables

    with psycopg.connect(pg_url, autocommit=True) as conn:
        expected = {
            name: conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0]  # type: ignore[index]
            # schema_migrations has no created_at: counted alone, outside the newest-row scan
            for name in ("public.users", "public.messages", "public.schema_migrations")
        }
    one = Postgres(pg_url, readonly=True)
    seconds: list[Postgres] = []

    def second() -> Postgres:
        seconds.append(Postgres(pg_url, readonly=True))
        return seconds[-1]

    try:
        idents = tables(one)
        single = count_restored(one, idents)
        split = count_restored(one, idents, second)
    finally:
        one.close()
    assert len(seconds) == 1  # the second lane ran in its own session
    assert split.counts == single.counts and set(split.counts) == set(idents)
    for name, n in expected.items():
        assert split.counts[name] == n
    assert split.newest == single.newest and split.newest is not None
    assert split.newest_in == single.newest_in


def test_early_counts_wait_for_constraints_then_count_what_the_restore_committed(
    pg_url: str,
) -> None:
    from rota.targets.postgres import Postgres
    from rota.tasks.backup.restore import EarlyCounts

    listing = "\n".join(
        [
            ";",
            "; Selected TOC Entries:",
            "201; 0 16487 TABLE DATA public users postgres",
            "202; 0 16516 TABLE DATA public messages postgres",
            "203; 0 16999 TABLE DATA public ghost postgres",
            "301; 2606 16500 CONSTRAINT public users users_pkey postgres",
            "302; 2606 16524 CONSTRAINT public messages messages_pkey postgres",
            "401; 2606 16583 FK CONSTRAINT public messages messages_user_id_fkey postgres",
            "501; 1259 16604 INDEX public messages_user_id_idx postgres",
        ]
    )
    sessions: list[Postgres] = []

    def session() -> Postgres:
        sessions.append(Postgres(pg_url, readonly=True, application_name="rota-early-test"))
        return sessions[-1]

    early = EarlyCounts(listing, session)
    try:
        assert early.line("pg_restore: entering main parallel loop")
        assert early.line("pg_restore: finished item 201 TABLE DATA users")
        assert early.line("pg_restore: finished item 203 TABLE DATA ghost")
        assert early.line("pg_restore: finished item 301 CONSTRAINT users users_pkey")
        assert early.line("pg_restore: finished item 202 TABLE DATA messages")
        # messages_pkey (ALTER TABLE ... ADD CONSTRAINT, ACCESS EXCLUSIVE) is still to run:
        # nothing is counted yet, so no count can hold it up.
        assert early.result().counts == {} and sessions == []
        # pg_restore's problems are never taken as progress: they stay in its error message.
        assert not early.line("pg_restore: error: could not execute query: ERROR:  boom")
        assert not early.line("pg_restore: from TOC entry 302; 2606 16524 CONSTRAINT x")
        assert not early.line("Command was: ALTER TABLE ONLY public.messages")
        assert early.line("pg_restore: launching item 302 CONSTRAINT messages messages_pkey")
        # Leader and workers share stderr: a worker's "pg_restore:" and "error: " pieces can
        # land in front of the leader's text, whose event still counts; the worker's own
        # text follows alone and is kept.
        assert early.line(
            "pg_restore:pg_restore: error: finished item 302 CONSTRAINT messages messages_pkey"
        )
        assert not early.line(" could not read from input file: end of file")
        assert early.line(
            "pg_restore: finished item 401 FK CONSTRAINT messages messages_user_id_fkey"
        )
        got = early.result()
    finally:
        early.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        users, messages, newest = conn.execute(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM messages),"
            " greatest((SELECT max(created_at) FROM users), (SELECT max(created_at) FROM messages))"
        ).fetchone()  # type: ignore[misc]
        for _ in range(100):  # a backend leaves pg_stat_activity a moment after its client
            left = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'rota-early-test'"
            ).fetchone()
            if left == (0,):
                break
            time.sleep(0.05)
    # Both tables, counted once in one session; the table no one can name is left for later.
    assert got.counts == {"public.users": users, "public.messages": messages}
    assert got.newest == newest
    assert len(sessions) == 1 and left == (0,)  # and closed with the counter


# -- backups named as people name them ----------------------------------------------------------
def _renamed(backup: Backup, name: str) -> Path:
    """A real backup under a name a cron job gave it, with its sidecar."""
    made = backup(sidecar=False)
    path = made.rename(made.with_name(name))
    bf.write_sidecar(path, bf.sha256_file(path))
    return path


def test_a_backup_named_by_date_in_the_configured_zone_is_fresh_without_warnings(
    tmp_path: Path, pg_url: str, backup: Backup
) -> None:
    from zoneinfo import ZoneInfo

    # date +%Y%m%d_%H%M%S on a machine in Berlin: read in UTC it would seem from the future
    berlin = datetime.now(ZoneInfo("Europe/Berlin"))
    path = _renamed(backup, f"rylie_full_{berlin:%Y%m%d_%H%M%S}.dump.gz")
    out = run_task(verify, config(tmp_path, pg_url, 'name_timezone = "Europe/Berlin"\n'))
    assert out.status is Severity.OK, [f.message for f in out.findings if f.severity != "ok"]
    fresh = findings(out, "backup.mtime_mismatch")[0]
    assert fresh.message == "mtime agrees with the time in the name"
    assert fresh.evidence["time_from"] == "name"
    assert fresh.evidence["name_stamp"] == f"{berlin:%Y%m%d_%H%M%S}"
    assert fresh.evidence["name_zone"] == "Europe/Berlin"
    assert abs(findings(out, "backup.stale")[0].evidence["age_s"]) < 120
    assert findings(out, "backup.receipt")[0].evidence["file"] == str(path)


def test_a_backup_without_a_time_in_its_name_is_aged_by_mtime_without_a_daily_warning(
    tmp_path: Path, pg_url: str, backup: Backup
) -> None:
    _renamed(backup, "rylie_full_nightly.dump.gz")
    out = run_task(verify, config(tmp_path, pg_url))
    assert out.status is Severity.OK, [f.message for f in out.findings if f.severity != "ok"]
    said = findings(out, "backup.mtime_mismatch")[0]
    assert said.severity is Severity.OK and "no time in its name" in said.message
    assert said.evidence["time_from"] == "mtime" and said.evidence["name_time"] is None
    assert findings(out, "backup.stale")[0].evidence["time_from"] == "mtime"


# -- backup checks during an outage -------------------------------------------------------------
def _closed_port_url() -> str:
    """A database URL nobody answers on: a port just bound and released."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"postgresql://rota@127.0.0.1:{port}/rylie?connect_timeout=2"


_VALIDATE = '[[backups.validate]]\nquery = "SELECT count(*) FROM users"\nexpect = "> 0"\n'


def test_with_the_database_unreachable_freshness_and_integrity_still_report(
    tmp_path: Path, pg_url: str, backup: Backup
) -> None:
    path = backup()
    out = run_task(verify, config(tmp_path, _closed_port_url(), _VALIDATE))
    assert out.error is None, out.error  # findings, not a task that died on the database
    assert out.status is Severity.UNKNOWN
    ok = _codes(out, Severity.OK)
    for code in (
        "backup.missing",
        "backup.stale",
        "backup.mtime_mismatch",
        "backup.checksum_mismatch",
        "backup.corrupt",
        "backup.leftover_scratch",
    ):
        assert code in ok, (code, [f.message for f in out.findings])
    assert findings(out, "backup.checksum_mismatch")[0].message == "sha256 matches the sidecar"
    assert "intact custom archive" in findings(out, "backup.corrupt")[0].message
    restore = findings(out, "backup.restore_failed")[0]
    assert restore.severity is Severity.UNKNOWN
    assert "not restored" in restore.message and "unreachable" in restore.evidence["reason"]
    for code in ("backup.validation_failed", "backup.schema_drift", "backup.count_mismatch"):
        f = findings(out, code)[0]
        assert f.severity is Severity.UNKNOWN and f.evidence["reason"], code
    assert _codes(out, Severity.CRITICAL) == set() and _codes(out, Severity.WARNING) == set()
    receipt = findings(out, "backup.receipt")[0]
    assert receipt.severity is Severity.UNKNOWN
    assert receipt.evidence["verdict"] == "incomplete"
    assert receipt.evidence["tiers"] == {
        "freshness": "ok",
        "integrity": "ok",
        "restore": "unknown",
        "validation": "unknown",
    }
    assert receipt.evidence["sha256"] == bf.sha256_file(path)
    assert "freshness, integrity checked" in receipt.message
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_damaged_backup_is_critical_even_with_the_database_unreachable(
    tmp_path: Path, pg_url: str, backup: Backup
) -> None:
    path = backup()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    bf.write_sidecar(path, bf.sha256_file(path))
    out = run_task(verify, config(tmp_path, _closed_port_url()))
    assert out.status is Severity.CRITICAL
    assert "backup.corrupt" in _codes(out, Severity.CRITICAL)
    assert findings(out, "backup.restore_failed") == []
    assert findings(out, "backup.receipt")[0].evidence["verdict"] == "failed"


def test_with_only_live_unreachable_the_drill_restores_on_restore_url(
    tmp_path: Path, pg_url: str, backup: Backup
) -> None:
    backup()
    extra = f'restore_url = "{pg_url}"\n' + _VALIDATE
    out = run_task(verify, config(tmp_path, _closed_port_url(), extra))
    assert out.error is None, out.error
    ok = _codes(out, Severity.OK)
    assert {"backup.corrupt", "backup.rto_exceeded", "backup.validation_failed"} <= ok
    for code in ("backup.schema_drift", "backup.count_mismatch"):
        f = findings(out, code)[0]
        assert f.severity is Severity.UNKNOWN and "unreachable" in f.evidence["reason"], code
    assert out.status is Severity.UNKNOWN
    tiers = findings(out, "backup.receipt")[0].evidence["tiers"]
    assert tiers["restore"] == "ok" and tiers["validation"] == "unknown"
    _assert_clean(tmp_path, pg_url)
