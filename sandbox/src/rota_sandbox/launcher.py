"""Launching the sandbox's platform service: start it detached, find it, stop it.

The service is a Node.js app (Express on PostgreSQL, see ``node/README.md``), installed
once into rota's cache by :mod:`rota_sandbox.nodeapp` and run as::

    node ~/.cache/rota/sandbox-node/<key>/server.js --state-dir DIR ...

so that the runbook's ``ps aux | grep node.*server`` finds it. This module spawns that
process, waits until it answers, writes its pid file, and later finds it again through the
state file it writes (``<state-dir>/platform.json``), checking the pid's command line
before signalling it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rota.errors import SandboxError
from rota_sandbox import nodeapp
from rota_sandbox.headers import HEADER_PROFILES

if TYPE_CHECKING:
    from rota_sandbox.tls import Pki

__all__ = [
    "CMDLINE_PATTERN",
    "DATABASE_URL_ENV",
    "HOST",
    "LOGGERS",
    "OUT_FILE",
    "PID_FILE",
    "STATE_FILE",
    "PlatformInfo",
    "platform_status",
    "start_platform",
    "stop_platform",
]

#: ``pgrep -f`` pattern that finds the service: the runbook's own ``node.*server``.
CMDLINE_PATTERN = "node.*server"
#: The state file the service writes into its state dir once it listens.
STATE_FILE = "platform.json"
#: The pid file the launcher writes into the state dir once the service answers.
PID_FILE = "platform.pid"
#: The service's entry point, in the installed app's directory.
ENTRY = "server.js"
#: The log shapes the service can write: pino JSON (the default), winston JSON, or morgan's
#: combined access log with plain application lines.
LOGGERS = ("pino", "winston", "morgan")
#: The service's stdout and stderr, in its state dir.
OUT_FILE = "platform.out"
#: The service reads its database URL from this variable (never from argv).
DATABASE_URL_ENV = "ROTA_SANDBOX_DATABASE_URL"
#: The service listens on loopback only.
HOST = "127.0.0.1"


@dataclass(frozen=True)
class PlatformInfo:
    """A running platform service, as the orchestrator and the tasks need to reach it."""

    pid: int
    http_url: str
    https_url: str
    http_port: int
    https_port: int
    cmdline_pattern: str
    state_dir: Path
    log_file: Path
    headers: str
    started_at: str
    logger: str = "pino"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / PID_FILE


# Popen handles of services this process started: kept so they are reaped (no zombies, no
# ResourceWarning) when stop_platform runs in the same process, as in tests.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def start_platform(
    state_dir: Path,
    *,
    log_dir: Path,
    token_file: Path,
    pki: Pki,
    headers: str = "good",
    database_url: str | None = None,
    timeout: float = 10,
    http_port: int = 0,
    https_port: int = 0,
    error_rate: float = 0.02,
    latency_ms: float = 4.0,
    seed: int | None = None,
    http_redirect: bool = False,
    cache_max_keys: int = 500,
    logger: str = "pino",
    app_dir: Path | None = None,
) -> PlatformInfo:
    """Launch the service detached (own session) and return once it answers HTTP.

    ``app_dir`` is the installed Node app (:func:`rota_sandbox.nodeapp.install`, which runs
    when it is None). Raises :class:`SandboxError` if node or npm is missing, if one is
    already running for ``state_dir``, if an input file is missing, or if the service dies
    or is not ready within ``timeout`` seconds (with the tail of ``platform.out``).
    """
    state_dir = Path(state_dir).resolve()
    if headers not in HEADER_PROFILES:
        raise SandboxError(f"unknown header profile {headers!r}: use {', '.join(HEADER_PROFILES)}")
    if logger not in LOGGERS:
        raise SandboxError(f"unknown logger {logger!r}: use {', '.join(LOGGERS)}")
    for label, path in (("certificate", pki.cert), ("key", pki.key), ("token file", token_file)):
        if not Path(path).is_file():
            raise SandboxError(f"platform {label} not found: {path}")
    running = platform_status(state_dir)
    if running is not None:
        raise SandboxError(f"platform already running for {state_dir} (pid {running.pid})")
    tools = nodeapp.find_node()
    app = Path(app_dir) if app_dir is not None else nodeapp.install(tools)
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    (state_dir / PID_FILE).unlink(missing_ok=True)
    argv = [
        str(tools.node),
        str(app / ENTRY),
        "--state-dir", str(state_dir),
        "--http-port", str(http_port),
        "--https-port", str(https_port),
        "--cert", str(Path(pki.cert).resolve()),
        "--key", str(Path(pki.key).resolve()),
        "--log-dir", str(Path(log_dir).resolve()),
        "--token-file", str(Path(token_file).resolve()),
        "--headers", headers,
        "--logger", logger,
        "--error-rate", str(error_rate),
        "--latency-ms", str(latency_ms),
        "--cache-max-keys", str(cache_max_keys),
    ]  # fmt: skip
    if seed is not None:
        argv += ["--seed", str(seed)]
    if http_redirect:
        argv.append("--http-redirect")
    env = dict(os.environ)
    # Through the environment, not argv: a password in argv is visible to every local user.
    env.pop(DATABASE_URL_ENV, None)
    if database_url:
        env[DATABASE_URL_ENV] = database_url
    out_path = state_dir / OUT_FILE
    with open(out_path, "ab") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=state_dir,
            env=env,
            start_new_session=True,  # outlives the CLI call and its terminal's Ctrl-C
        )
    _CHILDREN[proc.pid] = proc
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _CHILDREN.pop(proc.pid, None)
            raise SandboxError(
                f"platform exited with code {proc.returncode}: {_tail(out_path) or 'no output'}"
            )
        info = _read_info(state_dir)
        if info is not None and info.pid == proc.pid and _answers(info.http_port):
            info.pid_file.write_text(f"{proc.pid}\n", encoding="utf-8")
            return info
        time.sleep(0.02)
    _terminate(proc)
    raise SandboxError(f"platform not ready after {timeout:g}s: {_tail(out_path) or 'no output'}")


def stop_platform(state_dir: Path, timeout: float = 5) -> bool:
    """Stop the service of ``state_dir``: SIGTERM, then SIGKILL after ``timeout`` seconds.

    Returns True if a running service was stopped, False if there was none (no state file,
    a dead pid, or a pid now used by another program, which is left alone).
    """
    state_dir = Path(state_dir).resolve()
    state_path = state_dir / STATE_FILE
    _reap_finished()
    info = _read_info(state_dir)
    if info is None:
        return False
    proc = _verified_process(info.pid, state_dir)
    if proc is None:
        state_path.unlink(missing_ok=True)
        info.pid_file.unlink(missing_ok=True)
        return False
    import psutil

    child = _CHILDREN.pop(info.pid, None)
    try:
        proc.terminate()
        if child is not None:
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(5)
        else:
            try:
                proc.wait(timeout)
            except psutil.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    except psutil.NoSuchProcess:
        pass
    state_path.unlink(missing_ok=True)
    info.pid_file.unlink(missing_ok=True)
    return True


def platform_status(state_dir: Path) -> PlatformInfo | None:
    """The running service of ``state_dir``, or None (stale state files are ignored)."""
    state_dir = Path(state_dir).resolve()
    _reap_finished()
    info = _read_info(state_dir)
    if info is None or _verified_process(info.pid, state_dir) is None:
        return None
    return info


def _read_info(state_dir: Path) -> PlatformInfo | None:
    try:
        d = json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))
        return PlatformInfo(
            pid=int(d["pid"]),
            http_url=d["http_url"],
            https_url=d["https_url"],
            http_port=int(d["http_port"]),
            https_port=int(d["https_port"]),
            cmdline_pattern=d["cmdline_pattern"],
            state_dir=state_dir,
            log_file=Path(d["log_file"]),
            headers=d["headers"],
            started_at=d["started_at"],
            logger=d.get("logger", "pino"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _verified_process(pid: int, state_dir: Path) -> Any:
    """A psutil.Process for ``pid`` only if it is this state dir's platform service.

    The pid comes from a file that may be stale: after a reboot or a crash the number may
    belong to an unrelated program, which must never be signalled.
    """
    import psutil

    if pid <= 0 or pid == os.getpid():
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        argv = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    if len(argv) < 2 or not Path(argv[0]).name.startswith("node") or Path(argv[1]).name != ENTRY:
        return None
    try:
        claimed = argv[argv.index("--state-dir") + 1]
    except (ValueError, IndexError):
        return None
    return proc if Path(claimed).resolve() == state_dir else None


def _reap_finished() -> None:
    # A service of ours that exited on its own (SIGTERM from elsewhere, a crash) stays a
    # zombie until waited for; its state file may already be gone.
    import psutil

    for pid, child in list(_CHILDREN.items()):
        if child.poll() is None:
            try:
                exiting = psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                exiting = True
            if not exiting:
                continue
            # Node's main thread has exited; the process can be reaped once its other
            # threads are gone too, a moment later.
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(2)
        if child.returncode is not None:
            del _CHILDREN[pid]


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    _CHILDREN.pop(proc.pid, None)
    proc.terminate()
    try:
        proc.wait(3)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(3)


def _answers(port: int) -> bool:
    conn = http.client.HTTPConnection(HOST, port, timeout=1)
    try:
        conn.request("GET", "/__sandbox/state")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return " | ".join(text.strip().splitlines()[-lines:])
