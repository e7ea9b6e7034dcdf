"""Shared fixtures: a real HTTP service on 127.0.0.1 and a runner for the rota CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from rota.testing import wait_for_file


@dataclass
class Platform:
    """A tiny platform: health and cache endpoints whose answers a test can change."""

    url: str = ""
    health_status: int = 200
    health_body: dict[str, Any] = field(
        default_factory=lambda: {"status": "ok", "checks": {"database": "ok"}}
    )
    cache: dict[str, Any] = field(
        default_factory=lambda: {"hits": 900, "misses": 100, "keys": 50, "evictions": 0}
    )
    clears: list[str] = field(default_factory=list)
    token: str = "admin-token-for-tests"


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A history store URL of each backend rota supports: a test using it runs twice."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state/history.db"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def history(history_url: str) -> Iterator[Any]:
    """An open history store on each backend (files that need another one define theirs)."""
    from rota.history import open_history

    h = open_history(history_url)
    yield h
    h.close()


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own rota state directory (caches, locks), never ~/.local/state."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))


@pytest.fixture(scope="session")
def logscan_corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The labelled log corpus (tests/corpus.py: real loggers' output and documented
    formats), both parts built once per session: {"tune": dir, "holdout": dir}."""
    import corpus

    root = tmp_path_factory.mktemp("logscan-corpus")
    for part in corpus.PARTS:
        corpus.generate(root / part, seed=0, part=part)
    return {part: root / part for part in corpus.PARTS}


@pytest.fixture
def platform() -> Iterator[Platform]:
    state = Platform()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/api/health":
                self._send(state.health_status, state.health_body)
            elif self.path == "/api/health/cache":
                self._send(200, state.cache)
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            if self.path == "/api/cache/clear":
                if self.headers.get("Authorization") != f"Bearer {state.token}":
                    self._send(401, {"error": "unauthorized"})
                    return
                state.clears.append(self.path)
                state.cache = {"hits": 0, "misses": 0, "keys": 0, "evictions": 0}
                self._send(200, {"cleared": 50})
            else:
                self._send(404, {})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def rota(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run the real `rota` command in a subprocess with an isolated state directory."""
    env = dict(os.environ)
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    env.pop("ROTA_CONFIG", None)
    env["COLUMNS"] = "120"

    def run(
        *args: str,
        input: str | None = None,
        extra_env: dict[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 120,
    ) -> Result:
        p = subprocess.run(
            [sys.executable, "-m", "rota", *args],
            capture_output=True,
            text=True,
            env={**env, **(extra_env or {})},
            cwd=cwd or tmp_path,
            input=input,
            timeout=timeout,
        )
        return Result(p.returncode, p.stdout, p.stderr)

    return run


def write_config(tmp_path: Path, platform: Platform, extra: str = "") -> Path:
    (tmp_path / "token").write_text(platform.token)
    cfg = tmp_path / "rota.toml"
    cfg.write_text(
        f'[target]\nname = "testplat"\n[http]\nbase_url = "{platform.url}"\nadmin_token = "file:token"\n'
        f'[history]\nurl = "sqlite:///{tmp_path / "history.db"}"\n' + extra
    )
    return cfg


@contextmanager
def hold_open(path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real process holding ``path`` open until the block ends."""
    ready = path.parent / f".{path.name}.held"
    code = f"import time, pathlib; f = open({str(path)!r}); pathlib.Path({str(ready)!r}).write_text('held'); time.sleep(30)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        wait_for_file(ready)
        ready.unlink()
        yield proc
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def log_month(tmp_path: Path) -> Path:
    """A month of the platform's logs, rotated as logrotate leaves them."""
    from rota_sandbox.logs import generate_logs

    d = tmp_path / "logs"
    generate_logs(d, days=30, lines_per_day=100)
    return d
