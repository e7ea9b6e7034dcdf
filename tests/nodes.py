"""Real Node.js processes for the process target's and monitor.memory's tests.

Each script is a file named so a ``[process] match`` pattern finds it, started in its own
session (so a test ends it and every child it made) and with a ready-file it writes once
its set-up is done, so tests wait for that instead of sleeping for a guess.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rota.testing import wait_for_file

# Grows by 4 MiB every 100 ms, touching every page, up to 600 MiB; never frees.
LEAKY = """
const hog = [];
setInterval(() => { if (hog.length < 150) hog.push(Buffer.alloc(4 * 1024 * 1024, 1)); }, 100);
"""
# Holds 8 MiB and does nothing more.
FLAT = """
const keep = Buffer.alloc(8 * 1024 * 1024, 1);
setInterval(() => { keep[0]++; }, 100);
"""
# A child node that starts a grandchild (sleep); neither matches the parent's name.
PARENT = """
const { spawn } = require('child_process');
const code = "require('child_process').spawn('sleep', ['300'], {stdio: 'ignore'}); setInterval(() => {}, 1000)";
spawn(process.execPath, ['-e', code], {stdio: 'ignore'});
setInterval(() => {}, 1000);
"""
_READY = "\nrequire('fs').writeFileSync(process.env.ROTA_TEST_READY, String(process.pid));\n"


def token(prefix: str) -> str:
    """A name no other test's process has: ``leaky-server-1f2e3d4c``."""
    return f"{prefix}-{secrets.token_hex(4)}"


class Nodes:
    """Node processes a test starts, all killed (with their children) by :meth:`close`."""

    def __init__(self, where: Path) -> None:
        self.dir = where
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        name: str,
        code: str,
        *options: str,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        prefix: tuple[str, ...] = (),
    ) -> subprocess.Popen[bytes]:
        """``node OPTIONS DIR/NAME.js ARGS`` in ``self.dir``; returns once its set-up ran.

        ``prefix`` goes before ``node`` (a shell that joins a cgroup, then execs node)."""
        script = self.dir / f"{name}.js"
        script.write_text(code + _READY, encoding="utf-8")
        ready = self.dir / f"{name}.{len(self.procs)}.ready"
        environ = {k: v for k, v in os.environ.items() if k != "NODE_OPTIONS"}
        proc = subprocess.Popen(
            [*prefix, "node", *options, str(script), *args],
            cwd=self.dir,
            env={**environ, **(env or {}), "ROTA_TEST_READY": str(ready)},
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        wait_for_file(ready)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)

    def close(self) -> None:
        for proc in self.procs:
            self.stop(proc)


@contextmanager
def memory_cgroup(limit: int, name: str = "rota-test") -> Iterator[Path]:
    """A new cgroup under this process's own, named ``name-<random>`` and limited to
    ``limit`` bytes without swap, or a skip when this host does not let a test make one
    (no memory controller, no rights). Start processes in it with :func:`join`."""
    lines = [line.split(":", 2) for line in Path("/proc/self/cgroup").read_text().splitlines()]
    v2 = next((path for hier, _, path in lines if hier == "0"), None)
    v1 = next((path for _, ctl, path in lines if "memory" in ctl.split(",")), None)
    base = Path("/sys/fs/cgroup")
    made: Path | None = None
    try:
        if v2 is not None and "memory" in _text(base / v2.lstrip("/") / "cgroup.subtree_control"):
            made = base / v2.lstrip("/") / token(name)
            made.mkdir()
            (made / "memory.max").write_text(str(limit))
            if (made / "memory.swap.max").exists():
                (made / "memory.swap.max").write_text("0")
        elif v1 is not None and (base / "memory").is_dir():
            made = base / "memory" / v1.lstrip("/") / token(name)
            made.mkdir()
            (made / "memory.limit_in_bytes").write_text(str(limit))
            (made / "memory.swappiness").write_text("0")
            if (made / "memory.memsw.limit_in_bytes").exists():
                (made / "memory.memsw.limit_in_bytes").write_text(str(limit))
        else:
            pytest.skip("no cgroup memory controller this test may use")
    except OSError as exc:
        if made is not None and made.exists():
            made.rmdir()
        pytest.skip(f"cannot make a memory cgroup here: {exc}")
    assert made is not None
    try:
        yield made
    finally:
        deadline = time.monotonic() + 10
        while made.exists():
            try:
                made.rmdir()
            except OSError:
                assert time.monotonic() < deadline, f"{made} kept its processes"
                time.sleep(0.05)


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def join(cgroup: Path) -> tuple[str, ...]:
    """A ``prefix`` for :meth:`Nodes.start`: a shell that moves itself into ``cgroup``, then
    execs node (same pid)."""
    return ("sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(cgroup))
