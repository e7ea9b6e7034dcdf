"""The sandbox: a small but real copy of the platform, on this machine, in seconds.

``up`` builds it in a directory: a PostgreSQL cluster with the platform's schema and a
lived-in dataset, the platform's service (a real Node.js app, Express on that database,
installed once with ``npm ci`` into rota's cache) over HTTP and HTTPS with a local CA, a
month of rotated logs, real ``pg_dump`` backups, the app's ``.env`` and Node project, and a
``rota.toml`` pointing every section at all of that. ``status`` reports what is running;
``down`` stops every process it started and removes the directory, also after a crash.

The directory is recognised by its ``sandbox.json`` marker: ``down`` never removes a
directory without one, so a mistyped ``--dir`` cannot delete anything else.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rota.errors import SandboxError
from rota.locks import state_dir

MARKER = "sandbox.json"
DB_NAME = "rylie"
Progress = Callable[[str], None]


def default_dir() -> Path:
    return state_dir() / "sandbox"


@dataclass
class SandboxInfo:
    dir: str
    db_url: str
    pg_port: int
    http_url: str
    https_url: str
    platform_pid: int
    postgres_pid: int
    config: str
    scale: float
    seed: int
    started_at: str
    logger: str = "pino"
    pid_file: str = ""
    rows: dict[str, int] = field(default_factory=dict)
    extra_pids: list[int] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path) -> SandboxInfo:
        data = json.loads((directory / MARKER).read_text(encoding="utf-8"))
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def up(
    directory: Path | None = None,
    *,
    scale: float = 1,
    seed: int = 42,
    headers: str = "good",
    logger: str = "pino",
    idle_connection: bool = False,
    progress: Progress | None = None,
) -> SandboxInfo:
    """Build and start a sandbox in ``directory``; raises SandboxError if one is there.

    ``headers`` is the security-header profile (good, weak, poor) and ``logger`` the shape
    of the service's logs (pino, winston, morgan); see :mod:`rota_sandbox.launcher`.
    """
    from concurrent.futures import ThreadPoolExecutor

    from rota_sandbox import backups, dataset, launcher, logs, nodeapp, surface, tls, traffic
    from rota_sandbox.postgres import Cluster, find_pg_bindir

    d = (directory or default_dir()).resolve()
    if (d / MARKER).exists():
        raise SandboxError(
            f"a sandbox is already up in {d}; use it, or `rota sandbox down --dir {d}` first"
        )
    if d.exists() and any(d.iterdir()):
        raise SandboxError(f"{d} exists and is not empty; choose another --dir")
    if headers not in launcher.HEADER_PROFILES:
        raise SandboxError(
            f"unknown header profile {headers!r}: use {', '.join(launcher.HEADER_PROFILES)}"
        )
    if logger not in launcher.LOGGERS:
        raise SandboxError(f"unknown logger {logger!r}: use {', '.join(launcher.LOGGERS)}")
    say = progress or (lambda _msg: None)
    # Fail before creating anything when PostgreSQL or Node.js is missing.
    bindir = find_pg_bindir()
    node = nodeapp.find_node()
    d.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    now = datetime.now(UTC)
    # The marker goes first, so a sandbox that fails half-way can still be taken down.
    (d / MARKER).write_text(json.dumps({"dir": str(d), "starting": True}), encoding="utf-8")

    # The Node app installs (npm ci, first run only) while PostgreSQL starts and loads.
    def install_app() -> tuple[Path, float]:
        t0 = time.monotonic()
        return nodeapp.install(node, progress=say), time.monotonic() - t0

    installer = ThreadPoolExecutor(1, thread_name_prefix="rota-npm")
    app_dir = installer.submit(install_app)
    installer.shutdown(wait=False)
    try:
        t = time.monotonic()
        say("starting PostgreSQL")
        cluster = Cluster(d / "pg")
        cluster.init()
        cluster.start()
        cluster.create_database(DB_NAME)
        url = cluster.url(DB_NAME)
        timings["postgres_s"] = time.monotonic() - t

        t = time.monotonic()
        say(f"loading the platform's data (scale {scale:g})")
        rows = dataset.load(url, scale=scale, seed=seed, now=now)
        (d / "indexes.sql").write_text(dataset.index_declarations(), encoding="utf-8")
        timings["data_s"] = time.monotonic() - t

        t = time.monotonic()
        say("writing logs, backups and the app's files")
        pki = tls.make_pki(d / "tls")
        token_file = d / "secrets" / "admin_token"
        token_file.parent.mkdir(mode=0o700)
        token = secrets.token_urlsafe(32)
        token_file.write_text(token + "\n", encoding="utf-8")
        token_file.chmod(0o600)
        logs.generate_logs(d / "logs", seed=seed, now=now)
        backups.make_history(url, d / "backups", bindir, now=now)
        surface.write_app_project(
            d / "app", seed=seed, secrets={"DATABASE_URL": url, "ADMIN_API_KEY": token}
        )
        timings["files_s"] = time.monotonic() - t

        say("starting the platform service")
        app, timings["node_install_s"] = app_dir.result()
        t = time.monotonic()
        plat = launcher.start_platform(
            d / "platform",
            log_dir=d / "logs",
            token_file=token_file,
            pki=pki,
            headers=headers,
            database_url=url,
            logger=logger,
            app_dir=app,
        )
        timings["platform_s"] = time.monotonic() - t

        warm_up(plat.http_url, seed=seed)

        extra: list[int] = []
        if idle_connection:
            handle = traffic.idle_connection(url, detached=True, label=str(d))
            extra.append(int(handle.pid))

        config = d / "rota.toml"
        config.write_text(
            _rota_toml(
                d, url, plat.https_url, pki.ca_cert.relative_to(d), plat.pid_file, node_app=app
            ),
            encoding="utf-8",
        )
        info = SandboxInfo(
            dir=str(d),
            db_url=url,
            pg_port=cluster.port or 0,
            http_url=plat.http_url,
            https_url=plat.https_url,
            platform_pid=plat.pid,
            postgres_pid=cluster.pid or 0,
            config=str(config),
            scale=scale,
            seed=seed,
            started_at=now.isoformat(timespec="seconds"),
            logger=logger,
            pid_file=str(plat.pid_file),
            rows=rows,
            extra_pids=extra,
            timings={k: round(v, 2) for k, v in timings.items()},
        )
        (d / MARKER).write_text(json.dumps(asdict(info), indent=2), encoding="utf-8")
        return info
    except BaseException:
        app_dir.cancel()
        down(d)
        raise


def warm_up(http_url: str, *, requests: int = 600, seed: int = 42, clients: int = 4) -> None:
    """Send the service a morning's traffic, so its cache and request log look lived-in.

    Conversation ids are drawn from a skewed distribution (a few hot conversations, a
    long tail), which gives the hit ratio a real platform's cache shows, not 0 or 100%.
    ``clients`` send at once, as users do: the messages route runs the platform's slow
    query against the database, and one client alone would wait for each in turn.
    """
    import random
    import urllib.error
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    rng = random.Random(seed)
    paths = []
    for _ in range(requests):
        conv = min(int(rng.paretovariate(0.6)), 5000)
        paths.append(
            rng.choice(
                [f"/api/conversations/{conv}"] * 4
                + [f"/api/messages?conversation={conv}", f"/api/users/{conv % 400 + 1}"]
            )
        )

    def get(path: str) -> None:
        try:
            with urllib.request.urlopen(http_url + path, timeout=5) as r:
                r.read()
        except (urllib.error.URLError, OSError):
            pass  # the service answers some requests with 5xx (and unknown ids with 404)

    with ThreadPoolExecutor(clients, thread_name_prefix="rota-warm-up") as pool:
        list(pool.map(get, paths))


def status(directory: Path | None = None) -> dict[str, Any]:
    """What is running in the sandbox at ``directory``; raises SandboxError if none is."""
    from rota_sandbox import launcher
    from rota_sandbox.postgres import Cluster

    d = (directory or default_dir()).resolve()
    if not (d / MARKER).exists():
        raise SandboxError(f"no sandbox in {d}; start one with `rota sandbox up`")
    try:
        info = SandboxInfo.load(d)
    except (ValueError, TypeError):
        return {"dir": str(d), "state": "broken (half-built); run `rota sandbox down`"}
    cluster = Cluster(d / "pg")
    pg_up = cluster.is_running()
    running = launcher.platform_status(d / "platform")
    plat_up = running is not None and running.pid == info.platform_pid
    return {
        "dir": str(d),
        "state": "up" if pg_up and plat_up else "degraded",
        "postgres": {"running": pg_up, "url": info.db_url, "pid": info.postgres_pid},
        "platform": {
            "running": plat_up,
            "pid": info.platform_pid,
            "pid_file": info.pid_file,
            "logger": info.logger,
            "http": info.http_url,
            "https": info.https_url,
        },
        "config": info.config,
        "scale": info.scale,
        "seed": info.seed,
        "rows": info.rows,
        "started_at": info.started_at,
        "disk_bytes": _du(d),
    }


def down(directory: Path | None = None) -> list[str]:
    """Stop everything the sandbox at ``directory`` started and remove it. Tolerates crashes."""
    from rota_sandbox import launcher
    from rota_sandbox.postgres import Cluster

    d = (directory or default_dir()).resolve()
    if not (d / MARKER).exists():
        raise SandboxError(f"no sandbox in {d}; nothing to take down")
    done: list[str] = []
    try:
        info: SandboxInfo | None = SandboxInfo.load(d)
    except (ValueError, TypeError, OSError):
        info = None
    if (d / "platform").exists() and launcher.stop_platform(d / "platform"):
        done.append("stopped the platform service")
    for pid in info.extra_pids if info else []:
        if _kill_own(pid, d):
            done.append(f"stopped helper process {pid}")
    if (d / "pg").exists():
        Cluster(d / "pg").stop()
        done.append("stopped PostgreSQL")
    shutil.rmtree(d, ignore_errors=True)
    if d.exists():
        raise SandboxError(f"stopped everything, but could not remove {d}; remove it by hand")
    done.append(f"removed {d}")
    return done


def _kill_own(pid: int, d: Path) -> bool:
    """Kill ``pid`` only if it is one of ours (its command line names the sandbox dir)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        if str(d) not in " ".join(proc.cmdline()):
            return False
        proc.terminate()
        proc.wait(3)
    except psutil.TimeoutExpired:
        proc.kill()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return True


def _du(d: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(d):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def _rota_toml(
    d: Path, url: str, https_url: str, ca_file: Path, pid_file: Path, node_app: Path | None = None
) -> str:
    from rota_sandbox.launcher import CMDLINE_PATTERN

    # The Node app's lockfile pins express 4.17.1 and friends on purpose (nodeapp.VULNERABLE).
    # The source stays OSV's API: offline, security.dependencies says it could not reach it.
    security = f'\n[security]\nprojects = ["{node_app}"]\n' if node_app is not None else ""

    return f"""# rota configuration for the local sandbox in {d}.
# Written by `rota sandbox up`; removed by `rota sandbox down`.
# Relative paths are relative to this file.

[target]
name = "rylie-sandbox"
environment = "sandbox"

[database]
url = "{url}"
high_churn_tables = ["conversations", "messages"]
lock_timeout = "5s"
statement_timeout = "60s"
index_file = "indexes.sql"

[logs]
paths = ["logs/*.log*"]
retention_days = 30

[backups]
pattern = "backups/rylie_full_*.dump.gz"
dir = "backups"
max_age = "26h"
rto_target = "5m"

[http]
base_url = "{https_url}"
ca_file = "{ca_file}"
admin_token = "file:secrets/admin_token"

[process]
# The platform service: `ps aux | grep node.*server` in the runbook; the pid file says which.
match = "{CMDLINE_PATTERN}"
pid_file = "{pid_file.relative_to(d)}"

[history]
url = "sqlite:///{d}/history.db"
{security}
[schedule]
# The sandbox is for rehearsals: its window is always open.
window = "daily 00:00-00:00 UTC"
"""
