"""The sandbox's PostgreSQL cluster, against real server binaries."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from rota.errors import SandboxError
from rota_sandbox.postgres import EXTENSIONS, NOT_FOUND, Cluster, find_pg_bindir


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A cluster of its own for tests that kill or break it; initialised once."""
    cluster = Cluster(tmp_path_factory.mktemp("scratch") / "data")
    cluster.init()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def stopped(scratch: Cluster) -> Iterator[Cluster]:
    scratch.stop()
    yield scratch
    scratch.stop()


def _wait_until(condition: object, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.05)
    return False


def test_it_finds_the_server_binaries() -> None:
    bindir = find_pg_bindir()
    for tool in ("initdb", "pg_ctl", "postgres", "pg_dump", "pg_restore"):
        assert os.access(bindir / tool, os.X_OK), tool


def test_it_honours_rota_pg_bin(monkeypatch: pytest.MonkeyPatch) -> None:
    real = find_pg_bindir()
    monkeypatch.setenv("ROTA_PG_BIN", str(real))
    assert find_pg_bindir() == real


def test_it_explains_missing_binaries_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ROTA_PG_BIN", str(tmp_path / "no-such-postgres" / "bin"))
    with pytest.raises(SandboxError) as caught:
        Cluster(tmp_path / "data").init()
    message = str(caught.value)
    assert message == NOT_FOUND
    assert "\n" not in message
    assert "apt-get install postgresql-15" in message and "ROTA_PG_BIN" in message
    assert not (tmp_path / "data").exists()


def test_it_listens_on_localhost_with_the_sandbox_settings(pg_cluster: Cluster) -> None:
    assert pg_cluster.url("app") == f"postgresql://postgres@127.0.0.1:{pg_cluster.port}/app"
    with psycopg.connect(pg_cluster.url()) as conn:
        settings = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                (
                    [
                        "listen_addresses",
                        "shared_preload_libraries",
                        "fsync",
                        "synchronous_commit",
                        "full_page_writes",
                        "track_io_timing",
                        "unix_socket_directories",
                        "port",
                    ],
                ),
            ).fetchall()
        )
        # pg_stat_statements is usable only when preloaded: this query fails otherwise.
        conn.execute("SELECT count(*) FROM pg_stat_statements").fetchone()
    assert settings["listen_addresses"] == "127.0.0.1"
    assert settings["shared_preload_libraries"] == "pg_stat_statements"
    assert (
        settings["fsync"] == settings["synchronous_commit"] == settings["full_page_writes"] == "off"
    )
    assert settings["track_io_timing"] == "on"
    assert settings["unix_socket_directories"] == str(pg_cluster.datadir)
    assert int(settings["port"]) == pg_cluster.port
    assert pg_cluster.log_path.parent == pg_cluster.datadir
    assert pg_cluster.log_path.stat().st_size > 0


def test_it_is_found_again_from_its_directory_alone(pg_cluster: Cluster) -> None:
    other = Cluster(pg_cluster.datadir)
    assert other.is_running()
    assert other.pid == pg_cluster.pid
    assert other.url("x") == pg_cluster.url("x")


def test_its_databases_carry_the_monitoring_extensions(pg_cluster: Cluster) -> None:
    url = pg_cluster.create_database("ext_check")
    try:
        with psycopg.connect(url) as conn:
            names = {row[0] for row in conn.execute("SELECT extname FROM pg_extension")}
            # Both contrib extensions answer, which proves they are usable, not just listed.
            conn.execute("SELECT * FROM pgstattuple('pg_class')").fetchone()
            conn.execute("SELECT bt_index_check('pg_class_oid_index')").fetchone()
    finally:
        pg_cluster.drop_database("ext_check")
    assert set(EXTENSIONS) <= names


def test_it_starts_quickly_and_stops_leaving_no_process(stopped: Cluster) -> None:
    started = time.monotonic()
    stopped.start()
    elapsed = time.monotonic() - started
    pid = stopped.pid
    assert pid is not None and stopped.is_running()
    assert len(stopped.processes()) >= 4  # postmaster, checkpointer, writers, launcher...
    assert elapsed < 5

    stopped.stop()
    assert not stopped.is_running()
    assert stopped.processes() == []
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not (stopped.datadir / "postmaster.pid").exists()


def test_it_stops_and_restarts_after_the_postmaster_is_killed(stopped: Cluster) -> None:
    stopped.start()
    pid = stopped.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert _wait_until(lambda: not stopped.is_running())

    stopped.stop()  # orphaned children and a stale pid file are left to clean up
    assert _wait_until(lambda: stopped.processes() == [])
    assert not (stopped.datadir / "postmaster.pid").exists()

    stopped.start()
    with psycopg.connect(stopped.url()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_it_survives_a_killed_backend_and_still_stops(stopped: Cluster) -> None:
    stopped.start()
    with psycopg.connect(stopped.url(), autocommit=True) as conn:
        backend = conn.info.backend_pid
        os.kill(backend, signal.SIGKILL)

    # The postmaster resets every backend after a crash, then accepts connections again.
    def answers() -> bool:
        try:
            with psycopg.connect(stopped.url(), connect_timeout=2) as conn:
                return conn.execute("SELECT 1").fetchone() == (1,)
        except psycopg.OperationalError:
            return False

    assert _wait_until(answers, timeout=20)
    stopped.stop()
    assert stopped.processes() == []


def test_it_stops_without_the_server_binaries(
    stopped: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    stopped.start()
    monkeypatch.setenv("ROTA_PG_BIN", "/nonexistent/bin")
    attached = Cluster(stopped.datadir)  # e.g. `rota sandbox down` after an upgrade
    attached.stop()
    assert not stopped.is_running()
    assert stopped.processes() == []


def test_a_stale_pid_file_naming_another_server_is_left_alone(
    stopped: Cluster, pg_cluster: Cluster
) -> None:
    # After a crash and a reboot, the old pid may belong to someone else's postmaster.
    (stopped.datadir / "postmaster.pid").write_text(f"{pg_cluster.pid}\n{stopped.datadir}\n")
    assert not stopped.is_running()
    stopped.stop()
    assert pg_cluster.is_running()
    assert not (stopped.datadir / "postmaster.pid").exists()
    stopped.start()
    assert stopped.is_running() and stopped.pid != pg_cluster.pid


def test_a_failed_start_names_the_cause_and_leaves_nothing_running(
    scratch: Cluster,
) -> None:
    scratch.stop()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        blocked = Cluster(scratch.datadir, port=port)
        with pytest.raises(SandboxError) as caught:
            blocked.start()
    message = str(caught.value)
    assert message.startswith("PostgreSQL did not start: ")
    assert "already in use" in message and "\n" not in message
    assert not blocked.is_running()
    assert blocked.processes() == []


def test_it_refuses_to_initialise_twice(scratch: Cluster) -> None:
    with pytest.raises(SandboxError, match="already exists"):
        scratch.init()
