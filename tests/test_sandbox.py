"""`rota sandbox up|status|down` and `rota demo`, for real: processes, ports, files."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import ssl
import time
from pathlib import Path

import httpx
import psutil
import psycopg

from rota_sandbox import MARKER, SandboxInfo
from rota_sandbox.nodeapp import INSTALL_HINT
from rota_sandbox.postgres import find_pg_bindir


def _ours(d: Path) -> list[psutil.Process]:
    """Processes whose command line or working directory points into ``d``."""
    found = []
    for p in psutil.process_iter(["cmdline", "cwd"]):
        try:
            text = " ".join(p.info["cmdline"] or []) + " " + (p.info["cwd"] or "")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if str(d) in text:
            found.append(p)
    return found


def test_the_session_sandbox_serves_the_platform_and_its_config_works(
    rota_sandbox: SandboxInfo, rota
) -> None:  # type: ignore[no-untyped-def]
    ca = ssl.create_default_context(cafile=str(Path(rota_sandbox.dir) / "tls" / "ca.pem"))
    r = httpx.get(rota_sandbox.https_url + "/api/health", verify=ca)
    assert r.status_code == 200 and r.json()["status"] == "ok"
    cache = httpx.get(rota_sandbox.https_url + "/api/health/cache", verify=ca).json()
    assert cache["hits"] > 0 and 0 < cache["hit_ratio"] < 1  # warmed up: it looks lived-in
    with psycopg.connect(rota_sandbox.db_url) as conn:
        assert (
            conn.execute("SELECT count(*) FROM users").fetchone()[0] == rota_sandbox.rows["users"]
        )
    assert list((Path(rota_sandbox.dir) / "backups").glob("rylie_full_*.dump.gz"))
    assert list((Path(rota_sandbox.dir) / "logs").glob("app.log-*.gz"))
    check = rota("-c", rota_sandbox.config, "config", "check")
    assert check.code == 0, check.err
    config = Path(rota_sandbox.config).read_text()
    assert '[process]\nmatch = "node.*server"\npid_file = "platform/platform.pid"' in re.sub(
        r"#[^\n]*\n", "", config
    )
    pid_file = Path(rota_sandbox.dir) / "platform" / "platform.pid"
    assert (
        pid_file.read_text().strip()
        == str(rota_sandbox.platform_pid)
        == str(psutil.Process(rota_sandbox.platform_pid).pid)
    )
    assert "node" in psutil.Process(rota_sandbox.platform_pid).cmdline()[0]
    run = rota("-c", rota_sandbox.config, "run", "monitor.health", "--format", "json")
    assert json.loads(run.out)["tasks"][0]["status"] == "ok"


def test_up_status_down_leave_nothing_behind(rota, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "sb"
    up = rota(
        "sandbox", "up", "--dir", str(d), "--scale", "0.05", "--idle-connection",
        "--logger", "morgan",
    )  # fmt: skip
    assert up.code == 0, up.err
    info = json.loads((d / MARKER).read_text())
    assert (d / "rota.toml").exists() and info["rows"]["messages"] > 0
    assert info["logger"] == "morgan"
    today = (d / "logs" / "app.log").read_text().splitlines()
    assert re.fullmatch(r'127\.0\.0\.1 - - \[.+\] "GET /api/\S+ HTTP/1\.1" \d{3} .*', today[-1])
    logs = rota("-c", str(d / "rota.toml"), "run", "logs.analyze", "--format", "json")
    metrics = {m["name"]: m["value"] for m in json.loads(logs.out)["tasks"][0]["metrics"]}
    assert metrics["logs.unparsed"] == 0 and metrics["logs.requests"] > 600  # warm-up included
    with psycopg.connect(info["db_url"]) as conn:
        states = {
            r[0] for r in conn.execute("SELECT state FROM pg_stat_activity WHERE datname = 'rylie'")
        }
    assert "idle in transaction" in states
    status = rota("sandbox", "status", "--dir", str(d), "--json")
    assert status.code == 0 and json.loads(status.out)["state"] == "up"
    again = rota("sandbox", "up", "--dir", str(d))
    assert (
        again.code == 4
        and again.err.strip()
        == f"rota: a sandbox is already up in {d}; use it, or `rota sandbox down --dir {d}` first"
    )
    assert _ours(d)
    down = rota("sandbox", "down", "--dir", str(d))
    assert down.code == 0 and "stopped PostgreSQL" in down.out
    assert not d.exists()
    time.sleep(0.3)
    assert _ours(d) == []


def test_a_crashed_sandbox_can_still_be_taken_down(rota, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "sb"
    assert rota("sandbox", "up", "--dir", str(d), "--scale", "0.05").code == 0
    info = json.loads((d / MARKER).read_text())
    os.kill(info["platform_pid"], signal.SIGKILL)
    os.kill(info["postgres_pid"], signal.SIGKILL)
    time.sleep(0.5)
    status = rota("sandbox", "status", "--dir", str(d), "--json")
    assert status.code == 1 and json.loads(status.out)["state"] == "degraded"
    down = rota("sandbox", "down", "--dir", str(d))
    assert down.code == 0 and not d.exists()
    time.sleep(0.3)
    assert _ours(d) == []


def test_not_up_and_missing_binaries_are_one_clear_line(rota, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = rota("sandbox", "status", "--dir", str(tmp_path / "none"))
    assert (
        r.code == 4
        and r.err.strip()
        == f"rota: no sandbox in {tmp_path / 'none'}; start one with `rota sandbox up`"
    )
    r = rota("sandbox", "down", "--dir", str(tmp_path / "none"))
    assert (
        r.code == 4
        and r.err.strip() == f"rota: no sandbox in {tmp_path / 'none'}; nothing to take down"
    )
    r = rota(
        "sandbox", "up", "--dir", str(tmp_path / "sb"), extra_env={"ROTA_PG_BIN": str(tmp_path)}
    )
    assert r.code == 4
    assert (
        r.err.strip()
        == "rota: PostgreSQL server binaries not found (initdb); install them: apt-get install postgresql-15, or set ROTA_PG_BIN"
    )
    assert not (tmp_path / "sb").exists()


def test_without_node_or_npm_sandbox_up_and_demo_fail_in_one_line(rota, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bin_dir = tmp_path / "bin"  # a PATH with no node on it
    bin_dir.mkdir()
    env = {"PATH": str(bin_dir), "ROTA_PG_BIN": str(find_pg_bindir()), "TMPDIR": str(tmp_path)}
    r = rota("sandbox", "up", "--dir", str(tmp_path / "sb"), extra_env=env)
    assert (r.code, r.err.strip()) == (
        4,
        f"rota: Node.js not found (node); install it: {INSTALL_HINT}",
    )
    assert not (tmp_path / "sb").exists()
    demo = rota("demo", extra_env=env)
    assert (demo.code, demo.err.strip()) == (4, r.err.strip())
    node = shutil.which("node")
    assert node is not None
    (bin_dir / "node").symlink_to(node)
    r = rota("sandbox", "up", "--dir", str(tmp_path / "sb"), extra_env=env)
    assert r.code == 4 and len(r.err.strip().splitlines()) == 1
    assert r.err.startswith("rota: npm not found") and INSTALL_HINT in r.err
    assert not (tmp_path / "sb").exists()


def test_an_unknown_logger_is_one_clear_line(rota, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = rota("sandbox", "up", "--dir", str(tmp_path / "sb"), "--logger", "bunyan")
    assert (r.code, r.err.strip()) == (
        4,
        "rota: unknown logger 'bunyan': use pino, winston, morgan",
    )
    assert not (tmp_path / "sb").exists()


def test_down_refuses_a_directory_that_is_not_a_sandbox(rota, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data.txt").write_text("keep me")
    r = rota("sandbox", "down", "--dir", str(precious))
    assert r.code == 4 and (precious / "data.txt").read_text() == "keep me"


def test_the_demo_runs_every_task_and_writes_a_report(rota, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = rota("demo", "--scale", "0.05", "--report-dir", str(tmp_path / "reports"), timeout=300)
    assert r.code == 0, r.err
    for task_id in ("monitor.health", "cache.review"):
        assert task_id in r.out
    html = next((tmp_path / "reports").glob("rota-demo-*.html"))
    assert f"report: {html}" in r.out.replace("\n", "")
    assert "monitor.health" in html.read_text()
    assert "demo finished in" in r.err
    assert not list(Path(p).name for p in (tmp_path / "state").glob("**/sandbox.json"))
