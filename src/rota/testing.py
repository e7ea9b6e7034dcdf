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
    faulty clone also gets :func:`rota_sandbox.traffic.plant_runtime_faults`, because
    statistics and pg_stat_statements are not copied by ``CREATE DATABASE ... TEMPLATE``.

``rota_sandbox``
    A whole running sandbox for the session (PostgreSQL with data, the platform service
    over HTTP and HTTPS, logs, backups, the app's files and a ``rota.toml``), at
    :data:`SANDBOX_SCALE`; taken down at the end. Yields :class:`rota_sandbox.SandboxInfo`.
``assert_read_only``
    :func:`rota.readonly.assert_read_only`, for proving a task's check mode changed nothing.

:func:`execute_and_flush` runs statements and makes their statistics visible at once, for
tests that plant dead tuples or scans and then run a task that reads ``pg_stat_*``.

Helpers for the tests themselves:

:func:`run_task`
    One task through the real engine (config from a ``Config``, TOML or a database URL;
    history and apply mode as asked); returns its ``TaskOutcome``.
:func:`findings`
    An outcome's findings with a code, or under it (``db.index`` finds ``db.index.invalid``).
:func:`wait_for_file`
    Waits, with a deadline, for a ready-file a subprocess or thread writes when it is ready,
    instead of sleeping for a guess.

Importing this module only defines fixtures and helpers; PostgreSQL and psycopg are
touched only when a test asks for one of them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from rota_sandbox import SandboxInfo
    from rota_sandbox.postgres import Cluster

__all__ = [
    "FAULTY_TEMPLATE",
    "TEMPLATE",
    "TEST_SCALE",
    "TEST_SEED",
    "DatabaseTemplate",
    "execute_and_flush",
    "findings",
    "pg_cluster",
    "pg_faulty_url",
    "pg_template",
    "pg_template_faulty",
    "pg_url",
    "rota_sandbox",
    "run_task",
    "wait_for_file",
]

TEMPLATE = "rota_template"
FAULTY_TEMPLATE = "rota_template_faulty"
TEST_SCALE = 0.05  # 100 users, 1k conversations, ~10k messages: loads in about 0.4 s
TEST_SEED = 42
SANDBOX_SCALE = 0.1


def pytest_configure(config: pytest.Config) -> None:
    """Hold every task run in the session to its contract: a finding whose code the task
    does not declare fails the task (the engine reads ``ROTA_STRICT``; ``rota``
    subprocesses a test starts inherit it)."""
    os.environ.setdefault("ROTA_STRICT", "1")


@dataclass(frozen=True)
class DatabaseTemplate:
    """A template database: clone it, never connect to it (connections are disallowed)."""

    name: str
    counts: dict[str, int] = field(default_factory=dict)
    faults: bool = False


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A running PostgreSQL cluster for the session; stopped and deleted afterwards."""
    _require_sandbox("pg_cluster")
    from rota_sandbox.postgres import Cluster

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

    from rota_sandbox import dataset

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
    from rota_sandbox import traffic

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
    _require_sandbox("rota_sandbox")
    import rota_sandbox as sandbox

    info = sandbox.up(
        tmp_path_factory.mktemp("sandbox") / "sb", scale=SANDBOX_SCALE, seed=TEST_SEED
    )
    try:
        yield info
    finally:
        sandbox.down(Path(info.dir))


def _require_sandbox(fixture: str) -> None:
    """Fail the test asking for ``fixture`` if rota_sandbox (the ``rota-sandbox``
    distribution) is not installed. Fail, not skip: a test that needs PostgreSQL must never
    pass silently."""
    try:
        import_module("rota_sandbox")
    except ModuleNotFoundError as exc:
        if exc.name != "rota_sandbox":
            raise
        from rota.cli.sandbox import INSTALL_HINT

        pytest.fail(
            f"the {fixture} fixture needs the sandbox, which is not installed: {INSTALL_HINT}",
            pytrace=False,
        )


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


# -- helpers for running tasks and reading their outcomes -----------------------------------
# Names for the helpers' annotations only; what they run is imported inside them, as the
# fixtures above do, so that loading this plugin stays cheap.
if TYPE_CHECKING:
    from rota.config import Config
    from rota.history import History
    from rota.model import Finding, TaskOutcome
    from rota.task import Task


def run_task(
    task: Task,
    config: Config | str | None = None,
    *,
    apply: bool = False,
    history: History | None = None,
    explicit: bool = False,
    **engine_kwargs: Any,
) -> TaskOutcome:
    """Run ``task`` alone through the real :class:`~rota.engine.Engine`; return its outcome.

    ``config`` is a :class:`~rota.config.Config`, TOML text, or a database URL (a config
    with only ``[database] url``); None is the empty config. ``explicit`` runs it as asked
    for by id (unconfigured is ``unknown``, not skipped). ``engine_kwargs`` go to the
    Engine; without ``lock_dir`` the run's locks live in a temp dir of its own.
    """
    import contextlib
    import tempfile

    from rota.engine import Engine

    with contextlib.ExitStack() as stack:
        if "lock_dir" not in engine_kwargs:
            locks = tempfile.TemporaryDirectory(prefix="rota-locks-", ignore_cleanup_errors=True)
            engine_kwargs["lock_dir"] = Path(stack.enter_context(locks))
        engine = Engine(_as_config(config), history, **engine_kwargs)
        report = engine.run([task], apply=apply, explicit=[task.id] if explicit else ())
    return report.tasks[0]


def _as_config(config: Config | str | None) -> Config:
    import json
    import re

    from rota.config import parse_config

    if config is None:
        return parse_config("")
    if not isinstance(config, str):
        return config
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", config):  # never valid TOML: a URL
        return parse_config(f"[database]\nurl = {json.dumps(config)}\n")
    return parse_config(config)


def findings(outcome: TaskOutcome, code: str | None = None) -> list[Finding]:
    """``outcome``'s findings with ``code`` or a code under it: ``"db.index"`` matches
    ``db.index`` and ``db.index.invalid``, not ``db.indexes``. All of them when None."""
    if code is None:
        return list(outcome.findings)
    return [f for f in outcome.findings if f.code == code or f.code.startswith(code + ".")]


def wait_for_file(path: str | os.PathLike[str], timeout: float = 10.0) -> str:
    """Wait until ``path`` exists and is not empty (a ready-file); return its text.

    Write the ready-file atomically (write a temp file, then rename it) when its content
    matters: this returns as soon as the file has any content.
    """
    import contextlib
    import time

    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(FileNotFoundError):
            text = Path(path).read_text(encoding="utf-8")
            if text:
                return text
        if time.monotonic() >= deadline:
            pytest.fail(f"{path} was not written within {timeout:g}s", pytrace=False)
        time.sleep(0.01)
