"""The pgtools target: real pg_dump/pg_restore/psql, real pipelines, real failures."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from rota.errors import TargetUnavailable
from rota.process import KILL_GRACE_S
from rota.targets.pgtools import PgToolError, PgTools, conninfo


def test_it_finds_client_programs_of_the_servers_major_version() -> None:
    tools = PgTools()
    path = tools.find("pg_restore", at_least=15, prefer=15)
    assert tools.version(path)[0] == 15
    assert not str(path).startswith("/usr/bin/")


def test_it_refuses_a_client_older_than_required() -> None:
    with pytest.raises(TargetUnavailable, match="older than PostgreSQL 99"):
        PgTools().find("pg_dump", at_least=99)


def test_it_says_where_it_looked_for_a_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(TargetUnavailable, match="bindir"):
        PgTools(tmp_path).find("pg_dump")


def test_it_moves_the_password_from_the_url_into_the_environment() -> None:
    dsn, env = conninfo("postgresql://app:s3cret-pass@db.example:5433/live", dbname="scratch")
    assert "s3cret" not in dsn
    assert "dbname=scratch" in dsn and "port=5433" in dsn
    assert env == {"PGPASSWORD": "s3cret-pass"}


def test_it_dumps_through_a_pipeline_and_checks_every_exit_status(
    tmp_path: Path, pg_url: str
) -> None:
    tools = PgTools()
    dump = str(tools.find("pg_dump"))
    dsn, env = conninfo(pg_url)
    out = tmp_path / "a.dump.gz"
    res = tools.run([dump, "-Fc", f"--dbname={dsn}"], ["gzip", "-c"], stdout=out, env=env)
    assert res.returncodes == [0, 0] and out.stat().st_size > 1000
    # The producer fails while the consumer succeeds: still an error, naming the producer.
    bad, _ = conninfo(pg_url, dbname="nope_no_such_db")
    with pytest.raises(PgToolError) as err:
        tools.run(
            [dump, "-Fc", f"--dbname={bad}"], ["gzip", "-c"], stdout=tmp_path / "b.gz", env=env
        )
    assert err.value.tool == "pg_dump"
    assert "nope_no_such_db" in err.value.stderr


def test_it_blames_the_consumer_not_the_producer_it_broke(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * (4 << 20))
    with pytest.raises(PgToolError) as err:
        PgTools().run(["cat", str(big)], ["sh", "-c", "echo broken >&2; exit 3"])
    assert err.value.tool == "sh" and err.value.returncode == 3
    assert "broken" in str(err.value)


def test_it_keeps_passwords_out_of_error_messages(pg_url: str) -> None:
    tools = PgTools()
    with pytest.raises(PgToolError) as err:
        tools.run(
            [
                "sh",
                "-c",
                "echo 'failed for postgresql://u:hunter22@h/db password=hunter22' >&2; exit 1",
            ]
        )
    assert "hunter22" not in str(err.value)


def test_it_times_out_and_kills_the_process_group() -> None:
    t0 = time.monotonic()
    with pytest.raises(PgToolError, match="timeout"):
        PgTools().run(["sleep", "30"], ["cat"], timeout=0.5)
    assert time.monotonic() - t0 < 5


def test_cancel_kills_a_running_pipeline() -> None:
    tools = PgTools()
    threading.Timer(0.3, tools.cancel).start()
    t0 = time.monotonic()
    with pytest.raises(PgToolError, match="cancelled"):
        tools.run(["sleep", "30"])
    assert time.monotonic() - t0 < 5


def test_it_streams_stderr_lines_and_keeps_the_ones_not_taken_for_the_error() -> None:
    seen: list[str] = []

    def progress(line: str) -> bool:
        seen.append(line)
        return line.startswith("step ")

    script = "echo 'step 1' >&2; sleep 0.2; echo 'step 2' >&2; echo 'disk full' >&2; exit 4"
    with pytest.raises(PgToolError) as err:
        PgTools().run(["sh", "-c", script], on_stderr=progress)
    assert seen == ["step 1", "step 2", "disk full"]  # every line, in order
    assert err.value.returncode == 4
    assert err.value.stderr == "disk full"  # progress kept out of the error
    ok = PgTools().run(["sh", "-c", "echo 'step 1' >&2; echo note >&2"], on_stderr=progress)
    assert ok.returncodes == [0] and ok.stderr == {"sh": "note"}


def test_a_broken_stderr_observer_hides_nothing() -> None:
    def broken(line: str) -> bool:
        raise RuntimeError("observer bug")

    with pytest.raises(PgToolError) as err:
        PgTools().run(["sh", "-c", "echo 'real cause' >&2; exit 2"], on_stderr=broken)
    assert err.value.stderr == "real cause"


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_each_stage_runs_in_a_session_and_process_group_of_its_own() -> None:
    probe = [sys.executable, "-c", "import os; print(os.getsid(0), os.getpgid(0), os.getpid())"]
    out = PgTools().run(probe, capture=True).stdout.split()
    sid, pgid, pid = (int(x) for x in out)
    assert sid == pgid == pid  # killable as a group, with no terminal to prompt on
    assert sid != os.getsid(0)


def test_cancel_ends_the_children_a_tool_left_behind(tmp_path: Path) -> None:
    pidfile = tmp_path / "child"
    tools = PgTools()
    threading.Timer(0.5, tools.cancel).start()
    with pytest.raises(PgToolError, match="cancelled"):
        tools.run(["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"])
    child = int(pidfile.read_text())
    # The group is signalled from cancel's own threads: allow the child a moment to exit.
    deadline = time.monotonic() + KILL_GRACE_S + 2
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(child)


def test_cancel_kills_a_tool_that_ignores_sigterm_after_a_grace(tmp_path: Path) -> None:
    pidfile = tmp_path / "stubborn"
    tools = PgTools()
    threading.Timer(0.5, tools.cancel).start()
    t0 = time.monotonic()
    with pytest.raises(PgToolError, match="cancelled"):
        tools.run(["sh", "-c", f"trap '' TERM; echo $$ > {pidfile}; sleep 60"])
    took = time.monotonic() - t0
    assert KILL_GRACE_S <= took < KILL_GRACE_S + 4
    assert not _running(int(pidfile.read_text()))
