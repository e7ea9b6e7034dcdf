"""The sandbox platform service: a real Node.js process (Express, helmet, pino/winston/morgan,
pg) serving HTTP and HTTPS on 127.0.0.1, started and stopped by rota_sandbox.launcher."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest

from rota.errors import SandboxError
from rota.history import open_history
from rota.model import TaskOutcome
from rota.tasks.logs.analyze import analyze
from rota.testing import run_task
from rota_sandbox.launcher import (
    CMDLINE_PATTERN,
    PID_FILE,
    STATE_FILE,
    PlatformInfo,
    platform_status,
    start_platform,
    stop_platform,
)
from rota_sandbox.tls import Pki, make_pki

TOKEN = "sandbox-admin-token-0123456789"


@dataclass
class Sandbox:
    info: PlatformInfo
    pki: Pki
    token_file: Path
    log_file: Path
    client: httpx.Client  # HTTPS, trusting the sandbox CA

    def hook(self, path: str) -> httpx.Response:
        response = httpx.post(f"{self.info.http_url}/__sandbox/{path}")
        response.raise_for_status()
        return response

    def log_lines(self) -> list[dict[str, object]]:
        """Every line of the log; request lines have a ``path``, the app's own lines not."""
        return [json.loads(line) for line in self.log_file.read_text().splitlines()]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def launch(root: Path, pki: Pki, **kwargs: Any) -> tuple[PlatformInfo, Path]:
    token_file = root / "admin-token"
    token_file.write_text(TOKEN + "\n")
    info = start_platform(
        root / "state", log_dir=root / "logs", token_file=token_file, pki=pki, **kwargs
    )
    return info, token_file


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Sandbox]:
    root = tmp_path_factory.mktemp("platform")
    info, token_file = launch(root, pki, error_rate=0.0, latency_ms=0.0, seed=7)
    client = httpx.Client(
        base_url=info.https_url, verify=ssl.create_default_context(cafile=str(pki.ca_cert))
    )
    try:
        yield Sandbox(info, pki, token_file, info.log_file, client)
    finally:
        client.close()
        stop_platform(info.state_dir)


@pytest.fixture(autouse=True)
def _defaults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Put drill settings back after each test, so tests do not depend on their order."""
    yield
    if "sandbox" in request.fixturenames:
        sandbox: Sandbox = request.getfixturevalue("sandbox")
        for hook in (
            "headers?profile=good",
            "health?status=ok",
            "faults?error_rate=0&latency_ms=0",
        ):
            sandbox.hook(hook)
        sandbox.token_file.write_text(TOKEN + "\n")


def exits_within(process: psutil.Process, seconds: float) -> bool:
    """Whether ``process`` exits (a zombie counts: it runs no more) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.01)
    return False


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --------------------------------------------------------------------------- health and TLS


def test_it_reports_healthy_with_uptime_version_and_checks(sandbox: Sandbox) -> None:
    response = sandbox.client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["uptime_s"] >= 0 and re.fullmatch(r"\d+\.\d+\.\d+", body["version"])


def test_the_tls_handshake_needs_the_sandbox_ca(sandbox: Sandbox) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{sandbox.info.https_url}/api/health")
    trust = ssl.create_default_context(cafile=str(sandbox.pki.ca_cert))
    verified = httpx.get(f"{sandbox.info.https_url}/api/health", verify=trust)
    assert verified.status_code == 200


def test_the_health_drill_hook_turns_health_to_503_and_back(sandbox: Sandbox) -> None:
    sandbox.hook("health?status=down")
    down = sandbox.client.get("/api/health")
    assert down.status_code == 503 and down.json()["status"] == "down"
    sandbox.hook("health?status=ok")
    assert sandbox.client.get("/api/health").status_code == 200


# --------------------------------------------------------------------------- security headers


def test_the_good_profile_sends_every_recommended_header_over_https(sandbox: Sandbox) -> None:
    headers = sandbox.client.get("/").headers
    hsts = headers["Strict-Transport-Security"]
    assert int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 31_536_000  # type: ignore[union-attr]
    assert "includeSubDomains" in hsts
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "camera=()" in headers["Permissions-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"
    assert "Server" not in headers and "X-Powered-By" not in headers
    assert "Secure" in headers["Set-Cookie"] and "HttpOnly" in headers["Set-Cookie"]
    assert "SameSite=Strict" in headers["Set-Cookie"]


def test_the_weak_profile_is_helmets_defaults(sandbox: Sandbox) -> None:
    sandbox.hook("headers?profile=weak")
    headers = sandbox.client.get("/").headers
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'self'" in csp
    assert "style-src 'self' https: 'unsafe-inline'" in csp  # what a graded check marks down
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    assert headers["X-XSS-Protection"] == "0" and headers["Origin-Agent-Cluster"] == "?1"
    assert "X-Powered-By" not in headers and "Permissions-Policy" not in headers
    assert "Secure" not in headers["Set-Cookie"] and "HttpOnly" in headers["Set-Cookie"]


def test_hsts_is_never_sent_over_plain_http(sandbox: Sandbox) -> None:
    headers = httpx.get(f"{sandbox.info.http_url}/").headers
    assert "Strict-Transport-Security" not in headers
    assert headers["X-Frame-Options"] == "DENY"


def test_the_poor_profile_drops_hsts_and_csp_and_leaks_the_server(sandbox: Sandbox) -> None:
    sandbox.hook("headers?profile=poor")
    headers = sandbox.client.get("/").headers
    assert "Strict-Transport-Security" not in headers
    assert "Content-Security-Policy" not in headers
    assert "X-Content-Type-Options" not in headers
    assert headers["X-XSS-Protection"] == "1; mode=block"
    assert re.search(r"/\d+\.\d+", headers["Server"])
    assert headers["X-Powered-By"] == "Express"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Set-Cookie"].endswith("; Path=/")


def test_head_requests_get_the_headers_without_a_body(sandbox: Sandbox) -> None:
    response = sandbox.client.head("/")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"]
    assert response.content == b""


# --------------------------------------------------------------------------- cache


def test_the_hit_ratio_rises_with_repeated_requests_and_resets_after_a_clear(
    sandbox: Sandbox,
) -> None:
    sandbox.client.post("/api/cache/clear", headers=bearer(TOKEN))
    first = sandbox.client.get("/api/conversations/101")
    assert first.headers["X-Cache"] == "MISS"
    for _ in range(3):
        assert sandbox.client.get("/api/conversations/101").headers["X-Cache"] == "HIT"
    sandbox.client.get("/api/users/7")
    stats = sandbox.client.get("/api/health/cache").json()
    assert (stats["hits"], stats["misses"], stats["keys"]) == (3, 2, 2)
    assert stats["hit_ratio"] == 0.6
    assert stats["memory_bytes"] > 0 and stats["max_keys"] > 0 and stats["evictions"] == 0

    cleared = sandbox.client.post("/api/cache/clear", headers=bearer(TOKEN))
    assert cleared.json() == {"cleared": 2}
    after = sandbox.client.get("/api/health/cache").json()
    assert (after["hits"], after["misses"], after["keys"], after["hit_ratio"]) == (0, 0, 0, 0.0)
    assert sandbox.client.get("/api/conversations/101").headers["X-Cache"] == "MISS"


def test_it_refuses_cache_clear_without_a_token(sandbox: Sandbox) -> None:
    response = sandbox.client.post("/api/cache/clear")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "error" in response.json()


def test_it_refuses_cache_clear_with_a_wrong_token(sandbox: Sandbox) -> None:
    sandbox.client.get("/api/conversations/5")
    response = sandbox.client.post("/api/cache/clear", headers=bearer(TOKEN + "x"))
    assert response.status_code == 401
    assert sandbox.client.get("/api/health/cache").json()["keys"] >= 1


def test_it_accepts_both_tokens_while_a_rotation_is_in_progress(sandbox: Sandbox) -> None:
    sandbox.token_file.write_text(f"{TOKEN}\nnew-token-after-rotation\n")
    assert sandbox.client.post("/api/cache/clear", headers=bearer(TOKEN)).status_code == 200
    new = sandbox.client.post("/api/cache/clear", headers=bearer("new-token-after-rotation"))
    assert new.status_code == 200
    sandbox.token_file.write_text("new-token-after-rotation\n")
    assert sandbox.client.post("/api/cache/clear", headers=bearer(TOKEN)).status_code == 401


# --------------------------------------------------------------------------- routes and logs


def test_unknown_routes_are_404_and_wrong_methods_are_405(sandbox: Sandbox) -> None:
    assert sandbox.client.get("/api/nothing-here").status_code == 404
    wrong = sandbox.client.get("/api/cache/clear")
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"
    assert sandbox.client.get("/api/messages", params={"conversation": "42"}).status_code == 200


def test_every_request_is_logged_as_a_json_line_with_the_runbook_fields(sandbox: Sandbox) -> None:
    user = uuid.uuid4().hex[:12]
    response = sandbox.client.get(f"/api/users/{user}")
    raw = next(line for line in sandbox.log_file.read_text().splitlines() if user in line)
    assert '"duration":"' in raw  # what the runbook's grep -oP 'duration":"[^"]*' needs
    record = json.loads(raw)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"])
    assert record["level"] == "info" and record["msg"] == "API request"
    assert (record["method"], record["path"], record["status"]) == (
        "GET",
        f"/api/users/{user}",
        200,
    )
    assert re.fullmatch(r"\d+\.\dms", record["duration"])
    assert record["request_id"] == response.headers["X-Request-Id"]
    assert "err" not in record


def test_a_5xx_is_logged_at_error_level_with_its_error_message(sandbox: Sandbox) -> None:
    sandbox.hook("faults?error_rate=1")
    conversation = uuid.uuid4().hex[:10]
    response = sandbox.client.get(f"/api/conversations/{conversation}")
    assert response.status_code >= 500
    record = next(
        r for r in sandbox.log_lines() if r.get("path") == f"/api/conversations/{conversation}"
    )
    assert record["level"] == "error" and record["status"] == response.status_code
    assert isinstance(record["err"], str) and record["err"]
    assert record["err"] not in response.text  # internals stay in the log, not the response
    assert sandbox.client.get("/api/health/cache").status_code == 200  # faults hit the API only


def test_a_401_is_logged_as_a_warning(sandbox: Sandbox) -> None:
    response = sandbox.client.post("/api/cache/clear")
    record = next(
        r for r in sandbox.log_lines() if r.get("request_id") == response.headers["X-Request-Id"]
    )
    assert (record["level"], record["status"]) == ("warn", 401)


def test_sighup_reopens_the_log_after_logrotate_moved_it(sandbox: Sandbox) -> None:
    rotated = sandbox.log_file.with_name("app.log-rotated-by-test")
    sandbox.log_file.rename(rotated)
    os.kill(sandbox.info.pid, signal.SIGHUP)
    deadline = time.monotonic() + 2
    while not sandbox.log_file.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    marker = uuid.uuid4().hex[:12]
    sandbox.client.get(f"/api/users/{marker}")
    assert marker in sandbox.log_file.read_text()
    assert marker not in rotated.read_text()


def test_drill_hooks_stay_out_of_the_request_log(sandbox: Sandbox) -> None:
    sandbox.hook("health?status=ok")
    assert not any(str(r.get("path", "")).startswith("/__sandbox/") for r in sandbox.log_lines())


# --------------------------------------------------------------------------- the process


def test_the_service_is_found_by_its_cmdline_pattern(sandbox: Sandbox) -> None:
    if shutil.which("pgrep") is None:
        pytest.skip("pgrep is not installed")
    found = subprocess.run(["pgrep", "-f", CMDLINE_PATTERN], capture_output=True, text=True)
    assert str(sandbox.info.pid) in found.stdout.split()
    process = psutil.Process(sandbox.info.pid)
    assert process.memory_info().rss > 0
    assert Path(process.cmdline()[0]).name == "node"
    assert process.cmdline()[1].endswith("/server.js")


def test_the_launcher_writes_the_pid_file(sandbox: Sandbox) -> None:
    assert sandbox.info.pid_file == sandbox.info.state_dir / PID_FILE
    assert sandbox.info.pid_file.read_text().strip() == str(sandbox.info.pid)


def test_status_reads_the_running_service_back_from_its_state_dir(sandbox: Sandbox) -> None:
    status = platform_status(sandbox.info.state_dir)
    assert status is not None and status.pid == sandbox.info.pid
    assert status.https_url == sandbox.info.https_url


def test_starting_a_second_service_on_one_state_dir_is_refused(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match="already running"):
        start_platform(
            sandbox.info.state_dir,
            log_dir=sandbox.log_file.parent,
            token_file=sandbox.token_file,
            pki=sandbox.pki,
        )


def test_sigterm_stops_the_service_within_a_second(tmp_path: Path, pki: Pki) -> None:
    started = time.monotonic()
    info, _ = launch(tmp_path, pki)
    ready = time.monotonic() - started
    assert ready < 5, f"start to ready took {ready:.2f}s"
    process = psutil.Process(info.pid)
    os.kill(info.pid, signal.SIGTERM)
    assert exits_within(process, 1.0), "still running 1 s after SIGTERM"
    assert not (info.state_dir / STATE_FILE).exists()  # removed on its way out
    assert platform_status(info.state_dir) is None
    assert stop_platform(info.state_dir) is False  # reaps it; nothing left to stop
    assert info.pid_file.exists()  # killed from outside: a stale pid file, as in real life
    assert not psutil.pid_exists(info.pid)


def test_stop_platform_stops_a_running_service(tmp_path: Path, pki: Pki) -> None:
    info, _ = launch(tmp_path, pki)
    assert stop_platform(info.state_dir) is True
    assert not psutil.pid_exists(info.pid)
    assert not info.pid_file.exists()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{info.http_url}/api/health")
    assert stop_platform(info.state_dir) is False


def test_stop_platform_tolerates_a_missing_state_dir(tmp_path: Path) -> None:
    assert stop_platform(tmp_path / "never-started") is False


def test_stop_platform_never_kills_a_process_that_reused_the_pid(tmp_path: Path) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        state = tmp_path / "state"
        state.mkdir()
        stale = {"pid": bystander.pid, "http_url": "http://127.0.0.1:1", "https_url": "x",
                 "http_port": 1, "https_port": 2, "cmdline_pattern": CMDLINE_PATTERN,
                 "log_file": "app.log", "headers": "good", "started_at": "then"}  # fmt: skip
        (state / STATE_FILE).write_text(json.dumps(stale))
        assert stop_platform(state) is False
        assert bystander.poll() is None, "an unrelated process was killed"
        assert not (state / STATE_FILE).exists()
    finally:
        bystander.kill()
        bystander.wait()


def test_health_reports_the_database_down_when_it_cannot_connect(tmp_path: Path, pki: Pki) -> None:
    info, _ = launch(tmp_path, pki, database_url="postgresql://nobody@127.0.0.1:1/none")
    try:
        response = httpx.get(f"{info.http_url}/api/health", timeout=10)
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "down" and body["checks"]["database"] == "down"
        assert body["error"]
        assert "nobody@" not in " ".join(psutil.Process(info.pid).cmdline())  # not in ps
    finally:
        stop_platform(info.state_dir)


def test_it_can_start_with_the_poor_profile_and_redirect_http_to_https(
    tmp_path: Path, pki: Pki
) -> None:
    info, _ = launch(tmp_path, pki, headers="poor", http_redirect=True)
    try:
        redirect = httpx.get(f"{info.http_url}/api/health")
        assert redirect.status_code == 308
        assert redirect.headers["Location"] == f"{info.https_url}/api/health"
        trust = ssl.create_default_context(cafile=str(pki.ca_cert))
        final = httpx.get(f"{info.https_url}/", verify=trust)
        assert "Content-Security-Policy" not in final.headers
    finally:
        stop_platform(info.state_dir)


def test_a_service_that_cannot_start_is_reported_with_its_output(tmp_path: Path, pki: Pki) -> None:
    (tmp_path / "admin-token").write_text(TOKEN)
    broken = Pki(
        pki.ca_cert, pki.ca_key, pki.ca_cert, pki.ca_cert, pki.not_before, pki.not_after, ()
    )
    with pytest.raises(SandboxError, match="exited"):
        start_platform(tmp_path / "state", log_dir=tmp_path / "logs",
                       token_file=tmp_path / "admin-token", pki=broken)  # fmt: skip


# --------------------------------------------------------------------------- the database


def test_with_a_database_the_api_serves_real_rows_through_the_cache(
    tmp_path: Path, pki: Pki, pg_url: str
) -> None:
    with psycopg.connect(pg_url) as conn:
        cid, public_id, title = conn.execute(
            "SELECT id, public_id, title FROM conversations ORDER BY id LIMIT 1"
        ).fetchone()  # type: ignore[misc]
        (messages,) = conn.execute(
            "SELECT count(*) FROM messages WHERE conversation_id = %s", (cid,)
        ).fetchone()  # type: ignore[misc]
    info, _ = launch(tmp_path, pki, database_url=pg_url, error_rate=0.0, latency_ms=0.0)
    try:
        with httpx.Client(base_url=info.http_url) as client:
            first = client.get(f"/api/conversations/{cid}")
            assert first.headers["X-Cache"] == "MISS"
            assert (first.json()["id"], first.json()["title"]) == (
                str(cid),
                title,
            )  # pg: int8 as text
            assert client.get(f"/api/conversations/{cid}").headers["X-Cache"] == "HIT"
            by_uuid = client.get(f"/api/conversations/{public_id}")
            assert by_uuid.status_code == 200 and by_uuid.json()["id"] == str(cid)
            assert client.get("/api/conversations/987654321").status_code == 404
            listed = client.get("/api/messages", params={"conversation": cid}).json()
            assert len(listed["messages"]) == messages
            stats = client.get("/api/health/cache").json()
            assert (stats["hits"], stats["misses"], stats["keys"]) == (1, 3, 2)  # a 404 is not kept
            health = client.get("/api/health").json()
            assert health["checks"]["database"] == "ok"
        with psycopg.connect(pg_url) as conn:
            apps = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'rylie-api'"
            ).fetchone()
        assert apps is not None and apps[0] >= 1  # the service's pool, as db.connections sees it
    finally:
        stop_platform(info.state_dir)


# --------------------------------------------------------------------------- log shapes


LOG_SHAPES = {
    # one request line, as each logger writes it
    "pino": re.compile(
        r'\{"level":"info","time":"[\d-]+T[\d:.]+Z","method":"GET","path":"/api/users/\d+",'
        r'"status":200,"duration":"\d+\.\dms","request_id":"[0-9a-f-]{36}","msg":"API request"\}'
    ),
    "winston": re.compile(
        r'\{"duration":"\d+\.\dms","level":"info","message":"API request","method":"GET",'
        r'"path":"/api/users/\d+","request_id":"[0-9a-f-]{36}","status":200,'
        r'"timestamp":"[\d-]+T[\d:.]+Z"\}'
    ),
    "morgan": re.compile(
        r"127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "
        r'"GET /api/users/\d+ HTTP/1\.1" 200 \d+ "-" "python-httpx/[\d.]+"'
    ),
}


def _analyze(tmp_path: Path, log_dir: Path) -> TaskOutcome:
    history = f"sqlite:///{tmp_path / 'history.db'}"
    config = f'[history]\nurl = "{history}"\n[logs]\npaths = ["{log_dir}/*.log*"]\n'
    return run_task(analyze, config, history=open_history(history), explicit=True)


@pytest.mark.parametrize("logger", sorted(LOG_SHAPES))
def test_each_log_shape_is_written_and_logs_analyze_reads_it(
    tmp_path: Path, pki: Pki, logger: str
) -> None:
    info, _ = launch(tmp_path, pki, logger=logger, error_rate=0.0, latency_ms=0.0)
    try:
        with httpx.Client(base_url=info.http_url) as client:
            for i in range(30):
                client.get(f"/api/conversations/{i % 5 + 1}")
            for i in range(20):
                client.get(f"/api/users/{i + 1}")
            client.post("/__sandbox/faults?error_rate=1")
            failed = [client.get(f"/api/conversations/{1000 + i}") for i in range(12)]
        assert all(r.status_code >= 500 for r in failed)
        # winston writes through its stream pipeline and morgan when the response finished:
        # wait for the last line rather than for a guess.
        deadline = time.monotonic() + 5
        while "/api/conversations/1011" not in info.log_file.read_text():
            assert time.monotonic() < deadline, "the last request was never logged"
            time.sleep(0.02)
    finally:
        stop_platform(info.state_dir)
    lines = info.log_file.read_text().splitlines()
    assert sum(bool(LOG_SHAPES[logger].fullmatch(line)) for line in lines) == 20
    if logger == "morgan":  # a 5xx's cause is the application's line, next to morgan's
        causes = [line for line in lines if " ERROR [api] GET /api/conversations/" in line]
        assert len(causes) == 12

    outcome = _analyze(tmp_path, info.log_file.parent)
    metrics = {m.name: m.value for m in outcome.metrics if not m.labels}
    assert metrics["logs.unparsed"] == 0
    assert metrics["logs.requests"] == 62
    assert metrics["logs.errors"] == (24 if logger == "morgan" else 12)
    routes = {
        m.labels["route"]: m.value for m in outcome.metrics if m.name == "logs.route.requests"
    }
    assert routes == {"/api/conversations/:id": 42, "/api/users/:id": 20}
    groups = " ".join(f.message for f in outcome.findings if f.code == "logs.errors.group")
    assert "Failed to fetch conversation <NUM>" in groups
    timed = [m for m in outcome.metrics if m.name == "logs.latency.p95"]
    assert bool(timed) == (logger != "morgan")  # combined has no response time


def test_the_service_rotates_its_log_by_date_as_logrotate_would(tmp_path: Path, pki: Pki) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    live = log_dir / "app.log"
    live.write_text('{"level":"info","msg":"two days ago"}\n')
    (log_dir / "app.log-20200101").write_text('{"level":"info","msg":"older"}\n')
    yesterday = time.time() - 86_400
    os.utime(live, (yesterday, yesterday))  # the live file was last written yesterday
    info, _ = launch(tmp_path, pki, error_rate=0.0, latency_ms=0.0)
    try:
        httpx.get(f"{info.http_url}/api/users/1")
    finally:
        stop_platform(info.state_dir)
    stamp = time.strftime("%Y%m%d", time.gmtime(yesterday))
    assert "two days ago" in (log_dir / f"app.log-{stamp}").read_text()
    assert (log_dir / "app.log-20200101.gz").exists()  # delaycompress: the one before is gzipped
    assert not (log_dir / "app.log-20200101").exists()
    assert "/api/users/1" in live.read_text() and "two days ago" not in live.read_text()
