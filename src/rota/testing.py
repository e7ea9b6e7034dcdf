"""pytest fixtures: a real PostgreSQL holding the sandbox platform's data.

Registered as the ``rota`` pytest plugin (entry point ``pytest11``), so any test in this
project, or in a package that extends rota, can ask for:

``pg_cluster``
    One cluster for the whole session (per xdist worker), in a temp dir, removed at the end.
``pg_template`` / ``pg_template_faulty``
    Template databases loaded once per session at :data:`TEST_SCALE`: a clean platform
    (no churn, no faults) and a neglected one (bloat, duplicate/unused/invalid indexes, a
    missing index, a sequence near its maximum).
``pg_url`` / ``pg_faulty_url``
    A fresh database per test, cloned from the matching template, dropped afterwards. The
    faulty clone also gets :func:`rota.sandbox.traffic.plant_runtime_faults`, because
    statistics and pg_stat_statements are not copied by ``CREATE DATABASE ... TEMPLATE``.

``rota_sandbox``
    A whole running sandbox for the session (PostgreSQL with data, the platform service
    over HTTP and HTTPS, logs, backups, the app's files and a ``rota.toml``), at
    :data:`SANDBOX_SCALE`; taken down at the end. Yields :class:`rota.sandbox.SandboxInfo`.
``assert_read_only``
    :func:`rota.readonly.assert_read_only`, for proving a task's check mode changed nothing.

:func:`execute_and_flush` runs statements and makes their statistics visible at once, for
tests that plant dead tuples or scans and then run a task that reads ``pg_stat_*``.

Importing this module only defines fixtures; PostgreSQL and psycopg are touched only when
a test asks for one of them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from rota.sandbox import SandboxInfo
    from rota.sandbox.postgres import Cluster

__all__ = [
    "FAULTY_TEMPLATE",
    "TEMPLATE",
    "TEST_SCALE",
    "TEST_SEED",
    "DatabaseTemplate",
    "execute_and_flush",
    "pg_cluster",
    "pg_faulty_url",
    "pg_template",
    "pg_template_faulty",
    "pg_url",
    "rota_sandbox",
]

TEMPLATE = "rota_template"
FAULTY_TEMPLATE = "rota_template_faulty"
TEST_SCALE = 0.05  # 100 users, 1k conversations, ~10k messages: loads in about 0.4 s
TEST_SEED = 42
SANDBOX_SCALE = 0.1


@dataclass(frozen=True)
class DatabaseTemplate:
    """A template database: clone it, never connect to it (connections are disallowed)."""

    name: str
    counts: dict[str, int] = field(default_factory=dict)
    faults: bool = False


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A running PostgreSQL cluster for the session; stopped and deleted afterwards."""
    from rota.sandbox.postgres import Cluster

    cluster = Cluster(tmp_path_factory.mktemp("pg") / "data")
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def pg_template(pg_cluster: Cluster) -> DatabaseTemplate:
    """The clean platform database (no churn, no faults), as a template."""
    return _make_template(pg_cluster, TEMPLATE, faults=False)


@pytest.fixture(scope="session")
def pg_template_faulty(pg_cluster: Cluster) -> DatabaseTemplate:
    """The neglected platform database (churn and every planted fault), as a template."""
    return _make_template(pg_cluster, FAULTY_TEMPLATE, faults=True)


@pytest.fixture
def pg_url(pg_cluster: Cluster, pg_template: DatabaseTemplate) -> Iterator[str]:
    """URL of a fresh clean platform database, dropped after the test."""
    yield from _clone(pg_cluster, pg_template)


@pytest.fixture
def pg_faulty_url(pg_cluster: Cluster, pg_template_faulty: DatabaseTemplate) -> Iterator[str]:
    """URL of a fresh neglected platform database, runtime faults included."""
    yield from _clone(pg_cluster, pg_template_faulty)


def _make_template(cluster: Cluster, name: str, *, faults: bool) -> DatabaseTemplate:
    from psycopg import sql

    from rota.sandbox import dataset

    url = cluster.create_database(name)
    counts = dataset.load(
        url,
        scale=TEST_SCALE,
        seed=TEST_SEED,
        now=datetime.now(UTC),
        churn=faults,
        faults=faults,
    )
    # A stray connection to a template makes every clone fail, so forbid them.
    with cluster.connect() as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false").format(
                sql.Identifier(name)
            )
        )
    return DatabaseTemplate(name=name, counts=counts, faults=faults)


def _clone(cluster: Cluster, template: DatabaseTemplate) -> Iterator[str]:
    from rota.sandbox import traffic

    name = f"t_{secrets.token_hex(6)}"
    url = cluster.create_database(name, template=template.name)
    try:
        if template.faults:
            traffic.plant_runtime_faults(url, seed=TEST_SEED)
        yield url
    finally:
        cluster.drop_database(name)


@pytest.fixture(scope="session")
def rota_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    """A running sandbox for the session (per xdist worker); taken down afterwards."""
    from rota import sandbox

    info = sandbox.up(
        tmp_path_factory.mktemp("sandbox") / "sb", scale=SANDBOX_SCALE, seed=TEST_SEED
    )
    try:
        yield info
    finally:
        sandbox.down(Path(info.dir))


@pytest.fixture
def assert_read_only() -> Callable[..., Any]:
    """``assert_read_only(run, urls=(...), trees=(...))``: call ``run``; fail on any change."""
    from rota.readonly import assert_read_only as check

    return check


def execute_and_flush(url: str, *statements: str) -> None:
    """Run ``statements`` (autocommit), then flush their statistics to ``pg_stat_*``."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)
        conn.execute("SELECT pg_stat_force_next_flush()")
    with psycopg.connect(url, autocommit=True) as conn:  # the flush happens when idle
        conn.execute("SELECT pg_sleep(0.01)")
