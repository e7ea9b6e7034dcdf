"""The PostgreSQL target and the advisory lock, against a real server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from rota.errors import TargetUnavailable
from rota.history import open_history
from rota.model import Finding, Metric, Severity
from rota.readonly import assert_read_only
from rota.redact import redact_url
from rota.targets.postgres import Postgres, describe_url
from rota.task import Context, Item
from rota.testing import run_task
from samples import make_task


def test_check_mode_sessions_refuse_writes_at_the_server(pg_url: str) -> None:
    pg = Postgres(pg_url, readonly=True)
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        pg.query("CREATE TABLE rota_should_not_exist (id int)")
    with pytest.raises(PermissionError, match="refusing to change"):
        pg.execute("DELETE FROM users")
    assert pg.scalar("SHOW default_transaction_read_only") == "on"
    pg.close()


def test_sessions_carry_lock_and_statement_timeouts(pg_url: str) -> None:
    pg = Postgres(pg_url, readonly=False, lock_timeout=2, statement_timeout=30)
    assert pg.scalar("SHOW lock_timeout") == "2s"
    assert pg.scalar("SHOW statement_timeout") == "30s"
    pg.close()


def test_a_locked_table_delays_a_check_but_never_hangs_it(pg_url: str) -> None:
    holder = psycopg.connect(pg_url)
    holder.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
    pg = Postgres(pg_url, readonly=True, statement_timeout=1)
    with pytest.raises(psycopg.errors.QueryCanceled):
        pg.query("SELECT count(*) FROM users")
    holder.rollback()
    holder.close()
    pg.close()


def test_an_unreachable_database_is_target_unavailable_with_the_reason() -> None:
    pg = Postgres("postgresql://nobody:secretpw@127.0.0.1:9/none", connect_timeout=2)
    with pytest.raises(TargetUnavailable) as info:
        pg.query("SELECT 1")
    assert "database 127.0.0.1:9/none unreachable" in str(info.value)
    assert "secretpw" not in str(info.value)


def test_urls_are_shown_without_passwords() -> None:
    assert redact_url("postgresql://app:hunter2@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert describe_url("postgresql://app:hunter2@db:5432/x") == "db:5432/x"


def _hold_task(started: threading.Event, release: threading.Event):  # type: ignore[no-untyped-def]
    def run(ctx: Context) -> Iterator[Item]:
        started.set()
        release.wait(15)
        yield Finding("db.hold", Severity.OK, "held")

    return make_task("db.hold", run, needs=("postgres",))


def test_the_advisory_lock_excludes_a_second_machine(pg_url: str, tmp_path: Path) -> None:
    started, release = threading.Event(), threading.Event()
    t = _hold_task(started, release)
    # Runs with their own histories and lock directories stand for rota on two machines.
    one = open_history(f"sqlite:///{tmp_path / 'a.db'}")
    two = open_history(f"sqlite:///{tmp_path / 'b.db'}")
    th = threading.Thread(target=lambda: run_task(t, pg_url, history=one, lock_dir=tmp_path / "a"))
    th.start()
    assert started.wait(10)
    second = run_task(t, pg_url, history=two, lock_dir=tmp_path / "b")
    release.set()
    th.join(15)
    assert second.status is Severity.UNKNOWN
    assert "db.hold is already running against" in (second.error or "")
    assert "(advisory lock held)" in (second.error or "")


def test_a_read_only_task_passes_the_read_only_assertion(pg_url: str) -> None:
    def count(ctx: Context) -> Iterator[Item]:
        n = ctx.target("postgres").scalar("SELECT count(*) FROM users")
        yield Metric("users", n)

    t = make_task("db.count", count, needs=("postgres",))
    out = assert_read_only(lambda: run_task(t, pg_url), urls=(pg_url,))
    assert out.metrics[0].value > 0


def test_the_read_only_assertion_catches_a_change(pg_url: str) -> None:
    def mutate() -> None:
        with psycopg.connect(pg_url, autocommit=True) as c:
            c.execute("CREATE INDEX ON users (created_at)")

    with pytest.raises(AssertionError, match="check mode changed the target"):
        assert_read_only(mutate, urls=(pg_url,))


# Connection details come only from the target: tasks ask it, they never parse a URL.


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("postgresql://rota@localhost:5432/app", True),
        ("postgresql://rota@127.0.0.1/app", True),
        ("postgresql://rota@[::1]:5433/app", True),
        ("host=/var/run/postgresql dbname=app", True),
        ("postgresql://rota@db.internal:5432/app", False),
        ("host=localhost,db2.internal dbname=app", False),  # a list: one of them is remote
    ],
)
def test_it_tells_a_local_server_from_a_remote_one(url: str, local: bool) -> None:
    assert Postgres(url).is_local is local


def test_its_dsn_carries_everything_but_the_password() -> None:
    pg = Postgres("postgresql://rota:s3cr3t-pw@db.internal:6432/app?sslmode=require")

    dsn = pg.dsn()
    other = pg.dsn("scratch")

    assert "s3cr3t-pw" not in dsn and "password" not in dsn
    assert "host=db.internal" in dsn and "port=6432" in dsn and "sslmode=require" in dsn
    assert "dbname=app" in dsn and "dbname=scratch" in other


def test_its_libpq_environment_gives_a_child_the_password_and_the_rest() -> None:
    env = Postgres("postgresql://rota:s3cr3t-pw@db.internal:6432/app?sslmode=require").libpq_env()

    assert env == {
        "PGHOST": "db.internal",
        "PGPORT": "6432",
        "PGDATABASE": "app",
        "PGUSER": "rota",
        "PGPASSWORD": "s3cr3t-pw",
        "PGSSLMODE": "require",
    }


def test_a_sibling_session_reaches_another_database_of_the_same_server(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE sibling_probe")
    pg = Postgres(pg_url, readonly=True, statement_timeout=7)
    sibling = pg.sibling("sibling_probe", application_name="rota:sibling")
    try:
        row = sibling.query(
            "SELECT current_database() AS db, current_setting('statement_timeout') AS st,"
            " current_setting('default_transaction_read_only') AS ro,"
            " current_setting('application_name') AS app"
        )[0]
        assert row == {"db": "sibling_probe", "st": "7s", "ro": "on", "app": "rota:sibling"}
        assert pg.sibling(readonly=False).readonly is False
    finally:
        sibling.close()
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("DROP DATABASE sibling_probe")
