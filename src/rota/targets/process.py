"""Process target: the service's processes, their memory, and the cgroup that limits them.

:class:`Processes` finds the processes ``[process]`` selects (a regex on the command line
as ``pgrep -f`` takes it, a pid file, a systemd unit or a cgroup), each with all its
descendants, and reads their memory the way ``ps``/``top`` would, without running them:
psutil and ``/proc`` for RSS, PSS and swap (``/proc/PID/smaps_rollup``), and the cgroup
files for the limit the kernel enforces (``memory.max``, ``memory.current``, the
``oom_kill`` counter of ``memory.events``). On hosts whose memory controller is still on
cgroup v1 (hybrid hierarchies) the v1 files stand in: ``memory.limit_in_bytes``,
``memory.usage_in_bytes`` and ``memory.oom_control``.

For Node.js processes it reads the options node itself takes (those before the script on
the command line, and ``NODE_OPTIONS`` from ``/proc/PID/environ`` when readable): the V8
heap limit (``--max-old-space-size``) and the diagnostics the process offers on a signal
(``--heapsnapshot-signal``, ``--report-on-signal``).

:meth:`Processes.signal` is the only way this target affects a process, and it refuses
(raises) unless all of these hold: the target was opened for ``--apply``; the pid is one
this target found, still the same process (same start time); and the process catches the
signal (``SigCgt`` in ``/proc/PID/status``), so that a diagnostic signal can never end it.
"""

from __future__ import annotations

import os
import re
import shlex
import signal as signals
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from rota.errors import RotaError, TargetUnavailable

__all__ = [
    "CgroupMemory",
    "NodeInfo",
    "ProcessSample",
    "Processes",
    "SignalRefused",
    "caught_signals",
    "node_info",
    "node_options",
    "parse_memory_events",
]

MIB = 1024 * 1024
# A regex operator in the pattern: a command line holding the pattern's own text is then a
# tool looking for the service (pgrep -f, grep, a shell running one), not the service.
_OPERATORS = re.compile(r"[*+?\[\](){}|^$\\]")
# cgroup v1 writes "no limit" as the largest page-aligned counter; anything this large is.
_V1_UNLIMITED = 1 << 62
# node options that take their value as the next argument ("-r ./x.js").
_NODE_VALUE_OPTIONS = {
    "-r",
    "--require",
    "--import",
    "--loader",
    "--experimental-loader",
    "--input-type",
    "-C",
    "--conditions",
    "--title",
    "--inspect-port",
    "--env-file",
}
# ... and those whose value is the program, after which come the program's own arguments.
_NODE_PROGRAM_OPTIONS = {"-e", "--eval", "-p", "--print"}
NODE_NAMES = ("node", "nodejs")


class SignalRefused(RotaError):
    """A signal :meth:`Processes.signal` will not send; the message says why."""

    def __init__(self, pid: int, signal: str, reason: str) -> None:
        super().__init__(f"refusing to send {signal} to pid {pid}: {reason}")
        self.pid = pid
        self.reason = reason


@dataclass(frozen=True)
class CgroupMemory:
    """The memory accounting of one process's cgroup.

    ``memory_max`` is the limit that applies: the smallest ``memory.max`` from this cgroup
    up to the root (None: unlimited), set by ``limit_path``. ``memory_current`` and
    ``working_set`` are that cgroup's (this one's when nothing limits): the working set is
    ``memory.current`` less the inactive file cache the kernel reclaims first, which is what
    the kubelet and the OOM killer weigh. ``oom_kills`` and ``events`` come from this
    cgroup's own ``memory.events`` (None when unreadable).
    """

    path: str  # as /proc/PID/cgroup shows it: "/system.slice/rylie.service"
    dir: str  # where its files are: "/sys/fs/cgroup/system.slice/rylie.service"
    version: int  # 2, or 1 for a v1 memory controller
    memory_max: int | None
    limit_path: str | None
    memory_current: int | None
    working_set: int | None
    oom_kills: int | None
    events: dict[str, int] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class NodeInfo:
    """What node's own options say about one Node.js process."""

    options: tuple[str, ...]  # NODE_OPTIONS first, then the command line's: the last one wins
    heap_limit: int | None  # bytes, from --max-old-space-size (MiB)
    heapsnapshot_signal: str | None  # "SIGUSR2" with --heapsnapshot-signal=SIGUSR2
    report_signal: str | None  # with --report-on-signal: --report-signal, else SIGUSR2
    diagnostic_dir: str | None  # --diagnostic-dir; None: the process's working directory
    report_dir: str | None  # --report-directory; None: diagnostic_dir


@dataclass(frozen=True)
class ProcessSample:
    """One process as found: who it is, its memory now, its cgroup, and Node facts."""

    pid: int
    ppid: int
    name: str
    cmdline: tuple[str, ...]
    create_time: float  # Unix time
    uptime_s: float
    rss: int
    pss: int | None  # /proc/PID/smaps_rollup, when readable
    swap: int | None
    cpu_percent: float | None  # average over the process's life
    root: int  # pid of the selected process whose tree this one belongs to
    selected: bool  # the process the selector chose, heading its tree (not a descendant)
    cgroup: CgroupMemory | None
    node: NodeInfo | None  # None: not a Node.js process
    catches: frozenset[str]  # names of the signals it catches (SigCgt)
    cwd: str | None

    @property
    def command(self) -> str:
        return " ".join(self.cmdline) or f"[{self.name}]"

    @property
    def started(self) -> str:
        """The start time as a stable key: with the pid, it names one life of a process."""
        return f"{self.create_time:.2f}"

    @property
    def heap_limit(self) -> int | None:
        return self.node.heap_limit if self.node else None


@dataclass
class _Proc:
    pid: int
    ppid: int
    name: str
    cmdline: list[str]
    create_time: float
    hidden: bool  # the command line could not be read


class Processes:
    """The processes ``[process]`` selects; see the module docstring.

    ``match`` alone selects by command line. With ``pid_file``, ``unit`` or ``cgroup`` it
    only filters: a pid file's process must match it, and of a unit's or cgroup's processes
    only those matching it (and their descendants) count.
    """

    def __init__(
        self,
        *,
        match: str | None = None,
        pid_file: Path | None = None,
        unit: str | None = None,
        cgroup: str | None = None,
        readonly: bool = True,
    ) -> None:
        if match is None and pid_file is None and unit is None and cgroup is None:
            raise TargetUnavailable("no process selector: set [process] match")
        self.match = match
        self.pid_file = pid_file
        self.unit = (unit if "." in unit else f"{unit}.service") if unit else None
        self.readonly = readonly
        self._regex = re.compile(match) if match is not None else None
        self._mounts = _cgroup_mounts()
        self.cgroup = _relative_cgroup(cgroup, self._mounts) if cgroup else None
        self._found: dict[int, str] = {}  # pid -> started, from the last find()

    @property
    def selector(self) -> str:
        """What selects the processes, as a message names it."""
        where = self._where
        if self.match is None:
            return where
        return (
            f"{where} matching {self.match!r}"
            if where
            else f"command lines matching {self.match!r}"
        )

    @property
    def _where(self) -> str:
        if self.pid_file is not None:
            return f"pid file {self.pid_file}"
        if self.unit is not None:
            return f"systemd unit {self.unit}"
        if self.cgroup is not None:
            return f"cgroup {self.cgroup}"
        return ""

    def close(self) -> None:
        self._found.clear()

    # -- finding -------------------------------------------------------------------------
    def find(self) -> list[ProcessSample]:
        """Every selected process followed by its descendants, oldest selected first.

        Raises :class:`TargetUnavailable` with the reason when nothing is selected.
        """
        table = _process_table()
        children: dict[int, list[int]] = defaultdict(list)
        for p in table.values():
            children[p.ppid].append(p.pid)
        roots = self._roots(table, children)
        now = time.time()
        cgroups: dict[str, CgroupMemory | None] = {}
        samples: list[ProcessSample] = []
        seen: set[int] = set()
        for root in sorted(roots, key=lambda pid: (table[pid].create_time, pid)):
            for pid in [root, *_descendants(root, children)]:
                if pid in seen or pid == os.getpid():
                    continue
                seen.add(pid)
                sample = self._sample(table[pid], root, pid in roots, now, cgroups)
                if sample is not None:
                    samples.append(sample)
        if not samples:
            raise TargetUnavailable(f"no process of {self.selector} could be read: all have exited")
        self._found = {s.pid: s.started for s in samples}
        return samples

    def _roots(self, table: dict[int, _Proc], children: dict[int, list[int]]) -> set[int]:
        if self.pid_file is not None:
            return {self._from_pid_file(table)}
        in_scope = set(table)
        if self.unit is not None or self.cgroup is not None:
            in_scope = {pid for pid in table if self._in_cgroup(pid)}
            if not in_scope:
                raise TargetUnavailable(f"no process runs in {self._where}")
        if self._regex is not None:
            chosen = {pid for pid in in_scope if self._matches(table[pid])}
        else:
            # A unit's or cgroup's processes: those whose parent is outside it head a tree.
            chosen = {pid for pid in in_scope if table[pid].ppid not in in_scope}
        # A selected process below another selected one (a cluster worker) is part of its
        # tree, not a tree of its own.
        below = {d for pid in chosen for d in _descendants(pid, children)}
        roots = chosen - below
        if not roots:
            hidden = sum(1 for p in table.values() if p.hidden)
            note = (
                f" ({hidden} processes' command lines were not readable: run rota as the "
                "service's user or as root)"
                if hidden
                else ""
            )
            if self.unit is None and self.cgroup is None:
                raise TargetUnavailable(f"no process matches {self.match!r}{note}")
            raise TargetUnavailable(f"no process of {self.selector}{note}")
        return roots

    def _matches(self, p: _Proc) -> bool:
        assert self._regex is not None and self.match is not None
        if p.pid == os.getpid():
            return False
        text = " ".join(p.cmdline) or p.name
        if _OPERATORS.search(self.match) and self.match in text:
            return False  # pgrep -f "node.*server", or a shell running it: not the service
        return self._regex.search(text) is not None

    def _from_pid_file(self, table: dict[int, _Proc]) -> int:
        assert self.pid_file is not None
        try:
            text = self.pid_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise TargetUnavailable(
                f"cannot read pid file {self.pid_file}: {exc.strerror or exc}"
            ) from None
        if not text.isdigit():
            raise TargetUnavailable(f"pid file {self.pid_file} holds no pid: {text[:40]!r}")
        pid = int(text)
        p = table.get(pid)
        if p is None:
            raise TargetUnavailable(
                f"pid file {self.pid_file} names pid {pid}, which is not running: a stale pid file"
            )
        if self._regex is not None and not self._matches(p):
            cmd = " ".join(p.cmdline) or p.name
            raise TargetUnavailable(
                f"pid file {self.pid_file} names pid {pid} ({cmd[:80]}), which does not match "
                f"{self.match!r}: a stale pid file, or match is wrong"
            )
        return pid

    def _in_cgroup(self, pid: int) -> bool:
        for _, _, path in _proc_cgroups(pid):
            if self.unit is not None and self.unit in path.split("/"):
                return True
            if self.cgroup is not None and (
                path == self.cgroup or path.startswith(self.cgroup.rstrip("/") + "/")
            ):
                return True
        return False

    def _sample(
        self,
        p: _Proc,
        root: int,
        selected: bool,
        now: float,
        cgroups: dict[str, CgroupMemory | None],
    ) -> ProcessSample | None:
        try:
            proc = psutil.Process(p.pid)
            with proc.oneshot():
                if proc.create_time() != p.create_time:
                    return None  # the pid was reused since the table was read
                rss = int(proc.memory_info().rss)
                times = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return None
        except psutil.AccessDenied:
            return None
        uptime = max(now - p.create_time, 0.0)
        cpu = 100.0 * (times.user + times.system) / uptime if uptime > 0 else None
        pss, swap = _smaps_rollup(p.pid)
        status = _status(p.pid)
        if swap is None and "VmSwap" in status:
            swap = _kib(status["VmSwap"])
        cgroup = _cgroup_of(p.pid, self._mounts, cgroups)
        node = None
        if _is_node(p, proc):
            try:
                environ = proc.environ()
            except (psutil.Error, OSError):
                environ = {}
            node = node_info(p.cmdline, environ.get("NODE_OPTIONS", ""))
        try:
            cwd: str | None = proc.cwd()
        except (psutil.Error, OSError):
            cwd = None
        return ProcessSample(
            pid=p.pid,
            ppid=p.ppid,
            name=p.name,
            cmdline=tuple(p.cmdline),
            create_time=p.create_time,
            uptime_s=round(uptime, 3),
            rss=rss,
            pss=pss,
            swap=swap,
            cpu_percent=None if cpu is None else round(cpu, 2),
            root=root,
            selected=selected,
            cgroup=cgroup,
            node=node,
            catches=caught_signals(status.get("SigCgt", "0")),
            cwd=cwd,
        )

    # -- acting --------------------------------------------------------------------------
    def signal(self, pid: int, signal: str | int) -> None:
        """Send ``signal`` ("SIGUSR2" or its number) to ``pid``: only under ``--apply``,
        only to a process the last :meth:`find` returned and that still runs with the same
        start time, and only if it catches that signal. Raises PermissionError in check
        mode and :class:`SignalRefused` otherwise."""
        sig = _signal(signal)
        name = sig.name
        if self.readonly:
            raise PermissionError(f"refusing to send {name} to pid {pid} in check mode")
        started = self._found.get(pid)
        if started is None:
            raise SignalRefused(pid, name, "it is not one of the processes this target found")
        try:
            proc = psutil.Process(pid)
            same = f"{proc.create_time():.2f}" == started
        except psutil.NoSuchProcess:
            raise SignalRefused(pid, name, "it has exited") from None
        if not same:
            raise SignalRefused(pid, name, "the pid belongs to another process now (a restart)")
        if name not in caught_signals(_status(pid).get("SigCgt", "0")):
            raise SignalRefused(pid, name, f"it does not catch {name}, which would end it")
        proc.send_signal(sig)


# -- /proc --------------------------------------------------------------------------------


def _process_table() -> dict[int, _Proc]:
    table: dict[int, _Proc] = {}
    attrs = ["pid", "ppid", "name", "cmdline", "create_time", "status"]
    for proc in psutil.process_iter(attrs, ad_value=None):
        info = proc.info
        if info["status"] == psutil.STATUS_ZOMBIE or info["create_time"] is None:
            continue
        table[info["pid"]] = _Proc(
            pid=info["pid"],
            ppid=info["ppid"] or 0,
            name=info["name"] or "",
            cmdline=list(info["cmdline"] or []),
            create_time=float(info["create_time"]),
            hidden=info["cmdline"] is None,
        )
    return table


def _descendants(pid: int, children: dict[int, list[int]]) -> Iterator[int]:
    """Every descendant of ``pid``, parents before their children."""
    frontier = list(children.get(pid, ()))
    seen = {pid}
    while frontier:
        nxt: list[int] = []
        for child in sorted(frontier):
            if child in seen:
                continue
            seen.add(child)
            yield child
            nxt.extend(children.get(child, ()))
        frontier = nxt


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def _kib(text: str) -> int:
    return int(text.split()[0]) * 1024


def _smaps_rollup(pid: int) -> tuple[int | None, int | None]:
    """(PSS, swap) in bytes from /proc/PID/smaps_rollup; None for what is unreadable (another
    user's process without CAP_SYS_PTRACE, or a kernel older than 4.14)."""
    text = _read(f"/proc/{pid}/smaps_rollup")
    if not text:
        return None, None
    fields: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if value.strip().endswith("kB"):
            fields[key] = _kib(value)
    return fields.get("Pss"), fields.get("Swap")


def _status(pid: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (_read(f"/proc/{pid}/status") or "").splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def caught_signals(sigcgt: str) -> frozenset[str]:
    """Names of the signals a ``SigCgt`` mask (hex, from /proc/PID/status) says are caught."""
    try:
        mask = int(sigcgt, 16)
    except ValueError:
        return frozenset()
    names: set[str] = set()
    for sig in signals.Signals:
        if sig.value > 0 and mask >> (sig.value - 1) & 1:
            names.add(sig.name)
    return frozenset(names)


def _signal(value: str | int) -> signals.Signals:
    try:
        if isinstance(value, int):
            return signals.Signals(value)
        name = value.strip().upper()
        return signals.Signals[name if name.startswith("SIG") else f"SIG{name}"]
    except (KeyError, ValueError):
        raise ValueError(f"{value!r} is not a signal") from None


# -- Node.js ------------------------------------------------------------------------------


def _is_node(p: _Proc, proc: psutil.Process) -> bool:
    if p.name in NODE_NAMES or (p.cmdline and os.path.basename(p.cmdline[0]) in NODE_NAMES):
        return True
    try:  # process.title may have renamed it; the executable still says what it is
        return os.path.basename(proc.exe()) in NODE_NAMES
    except (psutil.Error, OSError):
        return False


def node_options(cmdline: Iterable[str]) -> list[str]:
    """The options node takes for itself: those between the executable and the script (or
    the ``-e`` program); what follows belongs to the program."""
    args = list(cmdline)[1:]
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or not arg.startswith("-") or arg == "-":
            break
        name = arg.split("=", 1)[0]
        if name in _NODE_PROGRAM_OPTIONS:
            break
        out.append(arg)
        if "=" not in arg and name in _NODE_VALUE_OPTIONS and i + 1 < len(args):
            out.append(args[i + 1])
            i += 1
        i += 1
    return out


def node_info(cmdline: Iterable[str], node_options_env: str = "") -> NodeInfo:
    """Read a Node.js process's options: ``NODE_OPTIONS`` first, then the command line's,
    which take precedence (node reads them in that order; the last of a flag wins)."""
    try:
        from_env = shlex.split(node_options_env)
    except ValueError:
        from_env = node_options_env.split()
    options = [*from_env, *node_options(cmdline)]
    flags: dict[str, str | None] = {}
    for opt in options:
        if not opt.startswith("--"):
            continue
        name, eq, value = opt[2:].partition("=")
        flags[name.replace("_", "-")] = value if eq else None
    heap = flags.get("max-old-space-size")
    heap_limit = None
    if heap:
        try:
            heap_limit = int(float(heap) * MIB)
        except ValueError:
            heap_limit = None
    report = None
    if "report-on-signal" in flags:
        report = _signal_name(flags.get("report-signal") or "SIGUSR2")
    snapshot = flags.get("heapsnapshot-signal")
    return NodeInfo(
        options=tuple(options),
        heap_limit=heap_limit,
        heapsnapshot_signal=_signal_name(snapshot) if snapshot else None,
        report_signal=report,
        diagnostic_dir=flags.get("diagnostic-dir") or None,
        report_dir=flags.get("report-directory") or flags.get("report-dir") or None,
    )


def _signal_name(value: str) -> str | None:
    try:
        return _signal(value).name
    except ValueError:
        return None


# -- cgroups ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Mount:
    version: int
    root: str  # the hierarchy's path the mount shows
    point: str  # where it is mounted
    memory: bool  # it holds the memory controller


def _cgroup_mounts() -> list[_Mount]:
    """Every cgroup mount: v2 first, then v1, each by the longest mount point."""
    mounts: list[_Mount] = []
    for line in (_read("/proc/self/mountinfo") or "").splitlines():
        left, _, right = line.partition(" - ")
        parts, rparts = left.split(), right.split()
        if len(parts) < 5 or len(rparts) < 3:
            continue
        root, point = _unescape(parts[3]), _unescape(parts[4])
        if rparts[0] == "cgroup2":
            controllers = (_read(os.path.join(point, "cgroup.controllers")) or "").split()
            mounts.append(_Mount(2, root, point, "memory" in controllers))
        elif rparts[0] == "cgroup":
            mounts.append(_Mount(1, root, point, "memory" in rparts[2].split(",")))
    return sorted(mounts, key=lambda m: (-m.version, -len(m.point)))


def _unescape(text: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def _relative_cgroup(path: str, mounts: list[_Mount]) -> str:
    """A configured cgroup as /proc/PID/cgroup shows it: one written under a mount point
    (/sys/fs/cgroup/system.slice/x.service) is turned into the hierarchy's path."""
    path = "/" + path.strip("/")
    for m in sorted(mounts, key=lambda m: -len(m.point)):
        point = m.point.rstrip("/")
        if path == point or path.startswith(point + "/"):
            return (m.root.rstrip("/") + path[len(point) :]) or "/"
    return path


def _proc_cgroups(pid: int) -> list[tuple[str, str, str]]:
    """(hierarchy id, controllers, path) of each line of /proc/PID/cgroup."""
    out = []
    for line in (_read(f"/proc/{pid}/cgroup") or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            out.append((parts[0], parts[1], parts[2]))
    return out


def _cgroup_of(
    pid: int, mounts: list[_Mount], cache: dict[str, CgroupMemory | None]
) -> CgroupMemory | None:
    lines = _proc_cgroups(pid)
    for m in (m for m in mounts if m.memory):
        for hier, controllers, path in lines:
            if m.version == 2 and hier != "0":
                continue
            if m.version == 1 and "memory" not in controllers.split(","):
                continue
            key = f"{m.version}:{path}"
            if key not in cache:
                cache[key] = _read_cgroup(path, m)
            if cache[key] is not None:
                return cache[key]
    return None


def _read_cgroup(path: str, mount: _Mount) -> CgroupMemory | None:
    """The memory accounting of cgroup ``path`` (as /proc/PID/cgroup names it) under
    ``mount``; None when it is not visible from here."""
    root = mount.root.rstrip("/")
    if root and not (path == root or path.startswith(root + "/")):
        return None  # outside what this mount shows (another cgroup namespace)
    rel = path[len(root) :].lstrip("/")
    base = Path(mount.point)
    leaf = base / rel if rel else base
    if not leaf.is_dir():
        return None
    v2 = mount.version == 2
    limit_file, usage_file = (
        ("memory.max", "memory.current")
        if v2
        else ("memory.limit_in_bytes", "memory.usage_in_bytes")
    )
    # The limit that applies is the smallest on the way up: a parent's caps its children.
    limit: int | None = None
    limit_dir: Path | None = None
    d = leaf
    while True:
        value = _number(_read(str(d / limit_file)))
        if value is not None and (v2 or value < _V1_UNLIMITED) and (limit is None or value < limit):
            limit, limit_dir = value, d
        if d == base or base not in d.parents:
            break
        d = d.parent
    accounted = limit_dir or leaf
    current = _number(_read(str(accounted / usage_file)))
    stat = parse_memory_events(_read(str(accounted / "memory.stat")) or "")
    inactive = stat.get("inactive_file" if v2 else "total_inactive_file")
    working_set = None
    if current is not None:
        working_set = max(current - (inactive or 0), 0)
    events_text = _read(str(leaf / ("memory.events" if v2 else "memory.oom_control")))
    events = parse_memory_events(events_text or "")
    return CgroupMemory(
        path=path,
        dir=str(leaf),
        version=mount.version,
        memory_max=limit,
        limit_path=None if limit_dir is None else _path_of(limit_dir, base, root),
        memory_current=current,
        working_set=working_set,
        oom_kills=events.get("oom_kill") if events_text is not None else None,
        events=events,
    )


def _path_of(d: Path, base: Path, root: str) -> str:
    rel = str(d.relative_to(base))
    return (root + "/" + rel if rel != "." else root) or "/"


def _number(text: str | None) -> int | None:
    """A cgroup file's single number; None for "max" (no limit) or an unreadable file."""
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.isdigit() else None


def parse_memory_events(text: str) -> dict[str, int]:
    """A cgroup ``key value`` file (``memory.events``, ``memory.stat``, v1's
    ``memory.oom_control``) as a dict; lines that are not ``name integer`` are skipped::

        low 0
        high 0
        max 12
        oom 3
        oom_kill 2
        oom_group_kill 0
    """
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out
