"""Per-task run locks, so the same task never runs twice at once.

A file lock (``flock``) excludes runs on this machine; when a database is configured, the
engine also takes a PostgreSQL advisory lock, which excludes rota on other machines that
look after the same database. Both are released by the operating system or the server if
the process dies, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from rota.errors import LockBusy


@dataclass
class FileLock:
    path: Path
    _fh: IO[str] | None = None
    _holder: dict[str, str | int] = field(default_factory=dict)

    def acquire(self, *, wait: float = 0, label: str = "") -> None:
        """Take the lock, waiting up to ``wait`` seconds; raise LockBusy naming the holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(self.path)
                    fh.close()
                    raise LockBusy(
                        f"{label or self.path.stem} is already running ({holder})"
                    ) from None
                time.sleep(0.1)
        self._fh = fh
        self._holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self._write()

    def note(self, state: str) -> None:
        """Say what the holder is doing (``still stopping after a timeout``), for the
        message a run refused by this lock shows."""
        if self._fh is not None:
            self._holder["state"] = state
            self._write()

    def _write(self) -> None:
        assert self._fh is not None
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(json.dumps(self._holder))
        self._fh.flush()

    def release(self) -> None:
        if self._fh is not None:
            try:
                self._fh.seek(0)
                self._fh.truncate()
                fcntl.flock(self._fh, fcntl.LOCK_UN)
            finally:
                self._fh.close()
                self._fh = None


def _read_holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "held by another rota process"
    holder = f"pid {info.get('pid')} on {info.get('host')} since {info.get('since')}"
    return f"{holder}, {info['state']}" if info.get("state") else holder


def lock_path(state_dir: Path, target: str, task_id: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{target}.{task_id}")
    return state_dir / "locks" / f"{safe}.lock"


def state_dir() -> Path:
    """rota's per-user state directory ($XDG_STATE_HOME/rota or ~/.local/state/rota)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "rota"


def state_file(folder: str, globs: list[str], suffix: str) -> Path:
    """A file of rota's state kept per set of configured globs (the same globs in any
    order find the same file): ``<state>/<folder>/<key><suffix>``."""
    key = hashlib.sha1(json.dumps(sorted(globs)).encode()).hexdigest()[:16]
    return state_dir() / folder / f"{key}{suffix}"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (owned by anyone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
