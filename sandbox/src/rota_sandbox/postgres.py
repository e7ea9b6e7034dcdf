"""The sandbox's PostgreSQL cluster: find the server binaries, init, start, stop.

PostgreSQL refuses to run as root. When rota runs as root (CI, containers) the server
binaries run as the unprivileged ``postgres`` OS user through ``setpriv``, keeping only the
ambient ``CAP_DAC_OVERRIDE`` so the server can still reach a data directory under a
root-owned 0700 parent (pytest's temp dirs). As any other user they run directly. Client
tools (psql, pg_dump, pg_restore) and psycopg need none of this.

A cluster is described entirely by its data directory: the port, postmaster pid and socket
directory of a running server are read back from ``postmaster.pid``, so a ``Cluster`` made
in another process (``rota sandbox status``) sees the same server.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from rota.errors import SandboxError

if TYPE_CHECKING:
    import psycopg

__all__ = ["EXTENSIONS", "SERVER_SETTINGS", "Cluster", "find_pg_bindir"]

NOT_FOUND = (
    "PostgreSQL server binaries not found (initdb); install them: "
    "apt-get install postgresql-15, or set ROTA_PG_BIN"
)

#: Extensions every sandbox database carries; rota's database tasks read them.
EXTENSIONS = ("pg_stat_statements", "pgstattuple", "amcheck")

#: Written to postgresql.conf by :meth:`Cluster.init`, so a server started by hand with
#: ``pg_ctl -D`` behaves exactly like one started by rota. Durability is off because the
#: sandbox is disposable and the tests create and drop many databases.
SERVER_SETTINGS: dict[str, str] = {
    "shared_preload_libraries": "'pg_stat_statements'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "track_io_timing": "on",
    "pg_stat_statements.track": "all",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
    "log_min_duration_statement": "'1s'",
    "max_connections": "50",
    # Lets rehearsals (and tests) leave a prepared transaction holding the xmin horizon.
    "max_prepared_transactions": "5",
    # Lets them create a logical replication slot, the other classic xmin holder.
    "wal_level": "logical",
}

LOG_NAME = "postgresql.log"
# Unix socket paths are limited to 107 bytes (sun_path) on Linux, ".s.PGSQL.NNNNN" included.
_MAX_SOCKET_DIR = 90
_PG_CTL_TIMEOUT = 60


def find_pg_bindir() -> Path:
    """The directory holding ``initdb``/``pg_ctl``/``postgres``.

    Looked up in order: ``$ROTA_PG_BIN``, ``pg_config --bindir``, ``initdb`` on PATH, the
    newest ``/usr/lib/postgresql/*/bin``. An explicit ``ROTA_PG_BIN`` is never second-guessed.
    """
    env = os.environ.get("ROTA_PG_BIN")
    if env:
        if _has_initdb(Path(env)):
            return Path(env)
        raise SandboxError(NOT_FOUND)
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and _has_initdb(Path(out)):
            return Path(out)
    on_path = shutil.which("initdb")
    if on_path:
        # Debian links /usr/local/bin/initdb to the versioned dir; pg_ctl must come from it too.
        return Path(on_path).resolve().parent
    candidates = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if _has_initdb(Path(p))]
    if candidates:
        return max(candidates, key=lambda p: _version_key(p.parent.name))
    raise SandboxError(NOT_FOUND)


def _has_initdb(bindir: Path) -> bool:
    return os.access(bindir / "initdb", os.X_OK)


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """One PostgreSQL cluster in ``datadir`` (its PGDATA), reachable on 127.0.0.1.

    ``init()`` once, then ``start()``/``stop()`` any number of times. The socket directory
    and the server log (``postgresql.log``) live inside ``datadir``.
    """

    def __init__(self, datadir: Path, port: int | None = None, bindir: Path | None = None) -> None:
        self.datadir = Path(datadir).absolute()
        self._bindir = Path(bindir) if bindir is not None else None
        self._port = port

    def __repr__(self) -> str:
        return f"Cluster({str(self.datadir)!r}, port={self._port})"

    # -- state -----------------------------------------------------------------------------

    @property
    def bindir(self) -> Path:
        """The server binaries' directory, looked up on first use (see :func:`find_pg_bindir`).

        Lazy, so that a cluster can be inspected and stopped without the binaries.
        """
        if self._bindir is None:
            self._bindir = find_pg_bindir()
        return self._bindir

    @property
    def log_path(self) -> Path:
        return self.datadir / LOG_NAME

    @property
    def initialized(self) -> bool:
        return (self.datadir / "PG_VERSION").is_file()

    @property
    def pid(self) -> int | None:
        """The postmaster's pid from ``postmaster.pid``; None when there is no such file."""
        lines = self._pidfile_lines()
        if not lines:
            return None
        try:
            return int(lines[0])
        except ValueError:
            return None

    @property
    def port(self) -> int | None:
        """The running server's port, else the port asked for (None: chosen at start)."""
        lines = self._pidfile_lines()
        if len(lines) >= 4 and lines[3].strip().isdigit() and self.is_running():
            return int(lines[3])
        return self._port

    def is_running(self) -> bool:
        """True when the postmaster named in ``postmaster.pid`` is alive."""
        pid = self.pid
        return pid is not None and self._owns(pid)

    def _owns(self, pid: int) -> bool:
        """Whether ``pid`` is a live server process of this cluster.

        A pid file can outlive its server (kill -9, reboot) and its pid be reused, even by
        another cluster's postmaster: the working directory tells them apart, since every
        server process runs in its data directory.
        """
        try:
            proc = psutil.Process(pid)
            return (
                proc.status() != psutil.STATUS_ZOMBIE
                and proc.name() in ("postgres", "postmaster")
                and proc.cwd() == str(self.datadir.resolve())
            )
        except psutil.Error:
            return False

    def url(self, dbname: str = "postgres") -> str:
        port = self.port
        if port is None:
            raise SandboxError(f"the sandbox PostgreSQL in {self.datadir} is not running")
        return f"postgresql://postgres@127.0.0.1:{port}/{dbname}"

    def processes(self) -> list[psutil.Process]:
        """Every live process of this cluster (postmaster and children, orphans included).

        Server processes keep the data directory as their working directory, which is what
        identifies them after the postmaster is gone and they have been re-parented.
        """
        target = str(self.datadir.resolve())
        found = []
        for proc in psutil.process_iter(["cwd", "status"]):
            try:
                if proc.info["cwd"] == target and proc.info["status"] != psutil.STATUS_ZOMBIE:
                    found.append(proc)
            except (psutil.Error, KeyError):
                continue
        return found

    # -- lifecycle -------------------------------------------------------------------------

    def init(self) -> None:
        """Create the cluster (``initdb``) and write rota's server settings."""
        if self.initialized:
            raise SandboxError(f"a PostgreSQL cluster already exists in {self.datadir}")
        initdb = str(self.bindir / "initdb")  # fails before anything is created
        self._prepare_datadir()
        argv = [initdb, "-D", str(self.datadir), "--no-sync", "-U", "postgres", "--auth=trust"]
        argv += ["-E", "UTF8", "--locale=C.UTF-8"]
        result = self._run(argv, timeout=180)
        if result.returncode != 0:
            raise SandboxError(f"initdb failed: {_last_line(result.stderr or result.stdout)}")
        settings = "".join(f"{key} = {value}\n" for key, value in SERVER_SETTINGS.items())
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# rota sandbox\n" + settings)

    def start(self) -> None:
        """Start the server on 127.0.0.1 and wait until it accepts connections.

        Idempotent. With no port given, a free one is picked, and picked again if another
        process grabs it between the check and the bind.
        """
        if not self.initialized:
            raise SandboxError(f"no PostgreSQL cluster in {self.datadir}; run init() first")
        if self.is_running():
            return
        self._remove_stale_lock_files()
        attempts = 3 if self._port is None else 1
        for attempt in range(attempts):
            port = self._port if self._port is not None else free_port()
            error = self._start_on(port)
            if error is None:
                self._port = port
                self._install_extensions()
                return
            if attempt + 1 < attempts and "already in use" in error:
                continue
            raise SandboxError(f"PostgreSQL did not start: {error}")

    def _start_on(self, port: int) -> str | None:
        sockdir = str(self.datadir) if len(str(self.datadir)) <= _MAX_SOCKET_DIR else ""
        options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{sockdir}'"
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        argv = [
            str(self.bindir / "pg_ctl"),
            "start",
            "-D",
            str(self.datadir),
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            str(_PG_CTL_TIMEOUT),
            "-s",
            "-o",
            options,
        ]
        result = self._run(argv, timeout=_PG_CTL_TIMEOUT + 10)
        if result.returncode == 0 and self.is_running():
            return None
        # A half-started postmaster (crashed during recovery, timed out) must not linger.
        self.stop()
        return self._log_error(offset) or _last_line(result.stderr) or "pg_ctl start failed"

    def stop(self, timeout: float = 30) -> None:
        """Stop the server with a fast shutdown and wait. Tolerates crashed or half-started ones.

        The postmaster gets SIGINT, which is all ``pg_ctl stop -m fast`` does, so stopping
        needs neither the binaries nor the postgres user. If it is still there after
        ``timeout`` seconds it gets SIGQUIT (immediate shutdown), then SIGKILL; orphaned
        server processes of this data directory are killed and stale lock files removed.
        """
        pid = self.pid
        if pid is not None and self._owns(pid):
            for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5), (signal.SIGKILL, 5)):
                if self._signal_and_wait(pid, sig, wait):
                    break
        leftovers = self.processes()
        for proc in leftovers:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(leftovers, timeout=5)
        self._remove_stale_lock_files()

    def _remove_stale_lock_files(self) -> None:
        # A killed postmaster leaves its pid and socket lock files. Until someone reaps it
        # it is a zombie, which the next postmaster takes for a live server, and refuses
        # to start.
        for lock in [self.datadir / "postmaster.pid", *self.datadir.glob(".s.PGSQL.*.lock")]:
            try:
                owner = int(lock.read_text().splitlines()[0])
            except (OSError, ValueError, IndexError):
                continue
            if not self._owns(owner):
                with contextlib.suppress(FileNotFoundError):
                    lock.unlink()

    def _signal_and_wait(self, pid: int, sig: signal.Signals, wait: float) -> bool:
        """Send ``sig`` to ``pid``; True once it has exited (within ``wait`` seconds)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while self._owns(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def destroy(self) -> None:
        """Stop the server and delete the data directory."""
        self.stop()
        shutil.rmtree(self.datadir, ignore_errors=True)

    # -- databases -------------------------------------------------------------------------

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create database ``name`` (optionally cloned from ``template``); return its URL."""
        from psycopg import sql

        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
        with self.connect() as conn:
            conn.execute(statement)
        url = self.url(name)
        if template is None:
            install_extensions(url)
        return url

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, disconnecting its sessions."""
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        """An autocommit connection to ``dbname`` as the superuser ``postgres``."""
        import psycopg

        return psycopg.connect(self.url(dbname), autocommit=True, connect_timeout=10)

    def _install_extensions(self) -> None:
        # In template1 so every database created later, by rota or by hand, has them.
        for dbname in ("template1", "postgres"):
            install_extensions(self.url(dbname))

    # -- helpers ---------------------------------------------------------------------------

    def _prepare_datadir(self) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if os.geteuid() == 0:
            owner = _server_user()
            os.chown(self.datadir, owner.pw_uid, owner.pw_gid)
        self.datadir.chmod(0o700)

    def _run(self, argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        """Run a server binary as the server user; a timeout is a failed run, not an error."""
        try:
            return subprocess.run(
                _as_server_user(argv),
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                cwd="/",
            )
        except subprocess.TimeoutExpired:
            message = f"{Path(argv[0]).name} did not finish within {timeout:g} s"
            return subprocess.CompletedProcess(argv, 1, "", message)
        except OSError as exc:
            return subprocess.CompletedProcess(argv, 1, "", f"cannot run {argv[0]}: {exc}")

    def _pidfile_lines(self) -> list[str]:
        try:
            return (self.datadir / "postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return []

    def _log_error(self, offset: int) -> str:
        """The first FATAL/PANIC line the server logged since ``offset``, with its cause.

        A port conflict is logged as a LOG line ("could not bind ... already in use") before
        the FATAL one, which alone would not say why.
        """
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as log:
                log.seek(offset)
                lines = log.read().splitlines()
        except FileNotFoundError:
            return ""
        fatal = cause = ""
        for line in lines:
            match = re.search(r"\b(FATAL|PANIC):\s+(.*)", line)
            if match and not fatal:
                fatal = match.group(2).strip()
            bind = re.search(r"(could not bind .*)", line)
            if bind and not cause:
                cause = bind.group(1).strip()
        return f"{fatal} ({cause})" if fatal and cause else fatal or cause


def install_extensions(url: str) -> None:
    """``CREATE EXTENSION IF NOT EXISTS`` each of :data:`EXTENSIONS` in the database at ``url``."""
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        for name in EXTENSIONS:
            conn.execute(f"CREATE EXTENSION IF NOT EXISTS {name}")


def _server_user() -> pwd.struct_passwd:
    name = os.environ.get("ROTA_PG_USER", "postgres")
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise SandboxError(
            f"PostgreSQL cannot run as root and OS user {name!r} does not exist; "
            f"create it (useradd --system {name}) or run rota as a normal user"
        ) from None


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    user = _server_user().pw_name
    if shutil.which("setpriv"):
        return [
            "setpriv",
            f"--reuid={user}",
            f"--regid={user}",
            "--init-groups",
            "--inh-caps=+dac_override",
            "--ambient-caps=+dac_override",
            *argv,
        ]
    return ["runuser", "-u", user, "--", *argv]


def _last_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""
