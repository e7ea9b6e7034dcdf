"""rota.testing's helpers: one task through the real engine, findings by code, ready-files."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rota.history import open_history
from rota.model import Finding, Severity, TaskOutcome
from rota.task import Context, Item
from rota.testing import findings, run_task, wait_for_file
from samples import make_task


def _says_its_config(ctx: Context) -> Iterator[Item]:
    url = ctx.config.database.url or ""
    yield Finding("t.config", Severity.OK, ctx.config.target.name, evidence={"url": url})


SAYS_ITS_CONFIG = make_task("t.config", _says_its_config, codes=("t.config",))


def test_run_task_reads_a_database_url_or_toml_as_the_config() -> None:
    url = "postgresql://rota@127.0.0.1:5/rylie?sslmode=disable"
    [from_url] = run_task(SAYS_ITS_CONFIG, url).findings
    assert from_url.evidence["url"] == url
    [from_toml] = run_task(SAYS_ITS_CONFIG, '[target]\nname = "prod"\n').findings
    assert from_toml.message == "prod" and from_toml.evidence["url"] == ""


def test_run_task_records_the_run_in_the_history_it_is_given(tmp_path: Path) -> None:
    history = open_history(f"sqlite:///{tmp_path / 'h.db'}")
    out = run_task(SAYS_ITS_CONFIG, history=history)
    assert out.error is None and [r.status for r in history.runs("t.config")] == ["ok"]
    history.close()


def test_run_task_runs_a_task_asked_for_by_id_as_unknown_when_it_is_not_configured() -> None:
    needs_db = make_task("t.db", needs=("postgres",))
    assert run_task(needs_db).skip_reason == "[database] url is not set"
    assert run_task(needs_db, explicit=True).error == "not configured: [database] url is not set"


def test_findings_with_a_code_are_those_with_it_or_under_it() -> None:
    codes = ["db.index", "db.index.invalid", "db.indexes.count", "db.bloat.index"]
    out = TaskOutcome("t", datetime.now(UTC), findings=[Finding(c, Severity.OK, c) for c in codes])
    assert [f.code for f in findings(out, "db.index")] == ["db.index", "db.index.invalid"]
    assert [f.code for f in findings(out, "db.index.invalid")] == ["db.index.invalid"]
    assert findings(out, "db.ind") == []
    assert findings(out) == out.findings


def test_wait_for_file_returns_what_the_writer_wrote_once_it_wrote_it(tmp_path: Path) -> None:
    ready = tmp_path / "ready"

    def writer() -> None:
        time.sleep(0.2)  # the thing being waited for: not ready at once
        ready.write_text("pid 42")

    thread = threading.Thread(target=writer)
    thread.start()
    assert wait_for_file(ready) == "pid 42"
    thread.join()


def test_wait_for_file_fails_naming_the_file_when_it_never_comes(tmp_path: Path) -> None:
    (tmp_path / "empty").touch()  # there but empty: not ready either
    for name in ("missing", "empty"):
        with pytest.raises(
            pytest.fail.Exception, match=re.escape(f"{tmp_path / name} was not written")
        ):
            wait_for_file(tmp_path / name, timeout=0.1)
