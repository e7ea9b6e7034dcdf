"""PostgreSQL client programs (pg_dump, pg_restore, psql) as a target.

Tasks never start these themselves: this adapter finds the right binaries (``[backups]
bindir``, else the version that matches the server, never Debian's ``/usr/bin`` wrapper
blindly), runs pipelines (``pg_dump | gzip``, ``gzip -dc | pg_restore``) with the exit
status of *every* process checked, keeps each process's stderr (the first lines go into
errors), enforces a timeout, and ends every process it started when the task is cancelled:
each stage runs in its own session (``start_new_session``: its own process group, no
terminal to prompt on), and the whole group gets SIGTERM, then SIGKILL after a short grace,
so helpers a tool forked die with it. Passwords travel in ``PGPASSWORD``, never on a
command line, and no message carries one.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from rota.errors import RotaError, TargetUnavailable
from rota.process import KILL_GRACE_S, kill_process_group
from rota.redact import Redactor
from rota.targets.postgres import Postgres

__all__ = ["PgToolError", "PgTools", "Pipeline", "conninfo"]

# Debian's pg_wrapper picks a version by its own rules; rota wants the one it asked for.
_WRAPPER_DIRS = ("/usr/bin", "/bin", "/usr/local/bin")
_STDERR_LINES = 3
_PR_SET_PDEATHSIG = 1


class PgToolError(RotaError):
    """A client program failed: which one, its exit status and its own first error lines."""

    def __init__(self, tool: str, returncode: int | None, stderr: str, *, timed_out: bool = False):
        self.tool = tool
        self.returncode = returncode
        self.stderr = stderr
        self.timed_out = timed_out
        if timed_out:
            what = "timed out"
        elif returncode is not None and returncode < 0:
            what = f"killed by signal {-returncode}"
        else:
            what = f"exited {returncode}"
        super().__init__(f"{tool} {what}: {stderr or 'no error output'}")


def conninfo(url: str, dbname: str | None = None) -> tuple[str, dict[str, str]]:
    """A libpq conninfo for ``url`` (optionally another database) without its password,
    and the environment that carries the password (``PGPASSWORD``) instead.

    For a bare URL; a task asks its session instead (:meth:`Postgres.dsn
    <rota.targets.postgres.Postgres.dsn>`, :meth:`~rota.targets.postgres.Postgres.libpq_env`).
    """
    pg = Postgres(url)
    password = pg.libpq_env(dbname).get("PGPASSWORD")
    return pg.dsn(dbname), {"PGPASSWORD": password} if password else {}


@dataclass
class Pipeline:
    """A finished pipeline: each stage's exit status and the captured stdout (if asked)."""

    returncodes: list[int]
    stdout: bytes = b""
    duration_s: float = 0.0
    stderr: dict[str, str] = field(default_factory=dict)


class PgTools:
    """Finds and runs PostgreSQL client programs.

    ``bindir`` pins the directory; without it, :meth:`find` picks the binaries matching
    the server's major version, or the newest that is at least that version.
    """

    def __init__(self, bindir: Path | None = None, *, timeout: float = 3600) -> None:
        self.bindir = Path(bindir) if bindir is not None else None
        self.timeout = timeout
        self._groups: set[int] = set()
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._versions: dict[Path, tuple[int, int]] = {}

    # -- finding binaries ----------------------------------------------------------------
    def candidates(self) -> list[Path]:
        """Directories that may hold the client programs, best first."""
        if self.bindir is not None:
            return [self.bindir]
        found: list[Path] = []
        versioned = sorted(
            (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")),
            key=lambda p: _version_key(p.parent.name),
            reverse=True,
        )
        found += versioned
        pg_config = shutil.which("pg_config")
        if pg_config:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                out = subprocess.run(
                    [pg_config, "--bindir"], capture_output=True, text=True, timeout=10
                ).stdout.strip()
                if out and Path(out) not in found:
                    found.append(Path(out))
        for name in ("pg_restore", "pg_dump"):
            on_path = shutil.which(name)
            if on_path:
                real = Path(on_path).resolve()
                if "pg_wrapper" not in real.name and str(real.parent) not in _WRAPPER_DIRS:
                    found.append(real.parent)
        return list(dict.fromkeys(found))

    def find(self, name: str, *, at_least: int | None = None, prefer: int | None = None) -> Path:
        """The binary ``name``: of major version ``prefer`` when there is one, else the
        newest whose major version is at least ``at_least``."""
        usable: list[tuple[Path, tuple[int, int]]] = []
        for d in self.candidates():
            path = d / name
            if os.access(path, os.X_OK):
                usable.append((path, self.version(path)))
        if not usable:
            where = str(self.bindir) if self.bindir else "/usr/lib/postgresql/*/bin or PATH"
            raise TargetUnavailable(
                f"{name} not found in {where}; install the PostgreSQL client "
                "(apt-get install postgresql-client-15) or set [backups] bindir"
            )
        if prefer is not None:
            for path, ver in usable:
                if ver[0] == prefer:
                    return path
        usable.sort(key=lambda pv: pv[1], reverse=True)
        path, ver = usable[0]
        if at_least is not None and ver[0] < at_least:
            raise TargetUnavailable(
                f"{name} {ver[0]}.{ver[1]} ({path}) is older than PostgreSQL {at_least}; "
                f"install the version {at_least} client or set [backups] bindir"
            )
        return path

    def version(self, path: Path) -> tuple[int, int]:
        """(major, minor) from ``path --version``."""
        if path not in self._versions:
            try:
                out = subprocess.run(
                    [str(path), "--version"], capture_output=True, text=True, timeout=20
                ).stdout
            except (OSError, subprocess.SubprocessError) as exc:
                raise TargetUnavailable(f"cannot run {path}: {exc}") from None
            m = re.search(r"(\d+)(?:\.(\d+))?", out)
            if not m:
                raise TargetUnavailable(f"cannot read the version of {path}: {out.strip()!r}")
            self._versions[path] = (int(m.group(1)), int(m.group(2) or 0))
        return self._versions[path]

    # -- running -------------------------------------------------------------------------
    def run(
        self,
        *stages: Sequence[str],
        stdin: Path | None = None,
        stdout: Path | None = None,
        capture: bool = False,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
        reads_part: bool = False,
        on_stderr: Callable[[str], bool] | None = None,
    ) -> Pipeline:
        """Run ``stages`` as one pipeline (stdout of each into stdin of the next).

        Every stage's exit status is checked: the first failing stage in pipeline order
        (a producer killed by SIGPIPE only because its consumer failed does not count) raises
        :class:`PgToolError` with its first stderr lines. ``stdout`` writes the last
        stage's output to a file; ``capture`` returns it instead. ``reads_part``: the last
        stage may stop reading early (``pg_restore -l`` reads only the table of contents),
        so a producer it leaves to SIGPIPE has not failed. ``on_stderr`` sees each stderr
        line of the last stage as it is written (``pg_restore -v`` progress); a line it
        returns True for was progress and is kept out of the error message.
        """
        if not stages:
            raise ValueError("no stages")
        if self._cancelled.is_set():
            raise PgToolError(Path(stages[0][0]).name, None, "cancelled", timed_out=True)
        limit = self.timeout if timeout is None else timeout
        full_env = {**os.environ, **(env or {})}
        procs: list[subprocess.Popen[bytes]] = []
        errs: list[IO[bytes]] = []
        reader: threading.Thread | None = None
        t0 = time.monotonic()
        with contextlib.ExitStack() as stack:
            src: IO[bytes] | int | None = (
                stack.enter_context(open(stdin, "rb")) if stdin else subprocess.DEVNULL
            )
            captured: IO[bytes] | None = None
            sink: IO[bytes] | int
            if stdout is not None:
                sink = stack.enter_context(open(stdout, "wb"))
            elif capture:
                sink = captured = stack.enter_context(tempfile.TemporaryFile())
            else:
                sink = subprocess.DEVNULL
            try:
                for i, argv in enumerate(stages):
                    err = stack.enter_context(tempfile.TemporaryFile())
                    errs.append(err)
                    last = i == len(stages) - 1
                    streamed = last and on_stderr is not None
                    try:
                        p = subprocess.Popen(
                            list(argv),
                            stdin=src,
                            stdout=sink if last else subprocess.PIPE,
                            stderr=subprocess.PIPE if streamed else err,
                            env=full_env,
                            start_new_session=True,
                            preexec_fn=_die_with_parent,
                        )
                    except OSError as exc:
                        raise TargetUnavailable(f"cannot run {argv[0]}: {exc.strerror}") from None
                    with self._lock:
                        self._groups.add(p.pid)  # its own session: the pid is its group
                    if procs and procs[-1].stdout is not None:
                        # Our copy of the pipe must close, so the producer sees SIGPIPE
                        # when the consumer dies instead of blocking forever.
                        procs[-1].stdout.close()
                    procs.append(p)
                    src = p.stdout
                    if streamed and on_stderr is not None and p.stderr is not None:
                        reader = threading.Thread(
                            target=_follow, args=(p.stderr, err, on_stderr), daemon=True
                        )
                        reader.start()
                rcs = self._wait(procs, t0 + limit, stages)
            finally:
                for p in procs:
                    # Killed even when the stage itself exited: a child it left behind
                    # would still be in its group.
                    kill_process_group(p.pid, 0 if p.poll() is not None else KILL_GRACE_S)
                    with contextlib.suppress(Exception):
                        p.wait(5)
                with self._lock:
                    self._groups.difference_update(p.pid for p in procs)
                if reader is not None:
                    reader.join(5)  # the pipe closes with the last process that holds it
            out = b""
            if captured is not None:
                captured.seek(0)
                out = captured.read()
            stderr = {Path(a[0]).name: _head(e) for a, e in zip(stages, errs, strict=True)}
        took = time.monotonic() - t0
        for i, (argv, rc) in enumerate(zip(stages, rcs, strict=True)):
            if rc in (-signal.SIGPIPE, 128 + signal.SIGPIPE) and (any(rcs[i + 1 :]) or reads_part):
                continue  # the consumer died first (its error explains) or had read enough
            if rc != 0:
                name = Path(argv[0]).name
                raise PgToolError(name, rc, stderr.get(name, ""))
        return Pipeline(rcs, out, took, stderr)

    def _wait(
        self, procs: list[subprocess.Popen[bytes]], deadline: float, stages: Sequence[Sequence[str]]
    ) -> list[int]:
        for p, argv in zip(procs, stages, strict=True):
            while True:
                left = deadline - time.monotonic()
                if self._cancelled.is_set():
                    raise PgToolError(Path(argv[0]).name, None, "cancelled", timed_out=True)
                if left <= 0:
                    raise PgToolError(
                        Path(argv[0]).name, None, "no result within the timeout", timed_out=True
                    )
                try:
                    _wait_exit(p, min(left, 0.5))
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._cancelled.is_set():  # the kill, not the tool, ended it
            raise PgToolError(Path(stages[0][0]).name, None, "cancelled", timed_out=True)
        return [int(p.returncode) for p in procs]

    def cancel(self) -> None:
        """End every running pipeline (the task timed out): SIGTERM to each stage's process
        group, SIGKILL after a short grace; later runs are refused."""
        self._cancelled.set()
        with self._lock:
            groups = list(self._groups)
        if not groups:
            return
        # In parallel: the grace runs once, not once per stage.
        killers = [threading.Thread(target=kill_process_group, args=(g,)) for g in groups]
        for k in killers:
            k.start()
        for k in killers:
            k.join()

    def close(self) -> None:
        self.cancel()


def _follow(stream: IO[bytes], keep: IO[bytes], on_line: Callable[[str], bool]) -> None:
    """Hand each line of ``stream`` to ``on_line``; write the ones it does not take to ``keep``."""
    with stream:
        for raw in stream:
            try:
                taken = on_line(raw.decode(errors="replace").rstrip("\r\n"))
            except Exception:
                taken = False  # a broken observer must not hide the tool's own words
            if not taken:
                keep.write(raw)


def _wait_exit(p: subprocess.Popen[bytes], timeout: float) -> None:
    """``p.wait(timeout)``, but woken the moment ``p`` exits: Popen.wait polls with sleeps
    of up to 50 ms, which every stage of every restore would otherwise add."""
    if p.poll() is not None:
        return
    try:
        fd = os.pidfd_open(p.pid)
    except (AttributeError, OSError):
        p.wait(timeout)
        return
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
    finally:
        os.close(fd)
    if not ready:
        raise subprocess.TimeoutExpired(p.args, timeout)
    p.wait(5)


def _die_with_parent() -> None:
    # If rota itself is killed, its pg_restore must not go on writing to a scratch
    # database nobody will drop until the next run.
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _head(stream: IO[bytes]) -> str:
    stream.seek(0)
    text = stream.read(64_000).decode(errors="replace")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # pg_restore's summary line ("errors ignored on restore") says less than the error.
    lines = [ln for ln in lines if not ln.startswith("pg_restore: warning: errors ignored")]
    return Redactor().text(" | ".join(lines[:_STDERR_LINES]))


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)
