"""Files target: the log files that ``[logs] paths`` names, listed, verified and removed safely.

The *configured directories* are the directories of the globs, resolved first: ``..`` is
collapsed and symlinks are followed by ``realpath``, so ``/srv/app/../logs/*.log*`` configures
``/srv/logs`` and nothing else. A wildcard in the directory part is expanded, each match
being one configured directory. Every listed file is named by its configured directory plus
its own name; the name itself is never resolved, so a symlink stays visible as a symlink.

:meth:`Files.remove` is the only way this target changes anything, and it refuses (raises
:class:`Refused`) unless all of these hold at the moment of removal:

- the target was opened for ``--apply`` (check mode raises :class:`PermissionError`);
- the path's real parent is a configured directory;
- the path is a regular file and not a symlink. Symlinks are refused outright, even ones
  pointing inside the directory: logrotate never makes them, so one is somebody's deliberate
  pointer, and unlinking it would hide the file it names from the next run;
- it is not the live (newest) file of its log family (``app.log`` for ``app.log-20261127``);
- no process holds it open (``/proc/*/fd``; a process whose descriptors cannot be read and
  that runs as the file's owner counts as holding it, since the check cannot rule it out).

The unlink goes through a descriptor of the configured directory and re-checks the inode it
vetted, so a directory or file swapped in between cannot redirect it.
"""

from __future__ import annotations

import bz2
import glob
import lzma
import os
import re
import shutil
import stat
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from isal import isal_zlib

from rota.errors import RotaError

__all__ = [
    "DiskUsage",
    "Files",
    "IntegrityResult",
    "LogFile",
    "Refused",
    "check_integrity",
    "configured_dirs",
    "content_age",
    "disk_usage",
    "name_age",
    "open_files",
    "parse_name",
    "write_atomically",
]

COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst")
_CHUNK = 1 << 20

# logrotate's dateext names (-YYYYMMDD, -YYYY-MM-DD, .YYYYMMDD, optionally with an hour or an
# "extension" kept after the date) and numbered names (app.log.1, app.log.2.gz).
_DATED = re.compile(
    r"^(?P<stem>.+?)[-._](?P<date>\d{4}-?\d{2}-?\d{2})(?:[-_]?\d{2,6})?"
    r"(?P<ext>\.(?!(?:gz|bz2|xz|zst)$)[A-Za-z]\w{0,7})?(?P<comp>\.(?:gz|bz2|xz|zst))?$"
)
_NUMBERED = re.compile(r"^(?P<stem>.+?)\.(?P<num>\d{1,4})(?P<comp>\.(?:gz|bz2|xz|zst))?$")
# Files named only by their day (2026-11-28.log): one family per extension.
_DAY_ONLY = re.compile(
    r"^(?P<date>\d{4}-?\d{2}-?\d{2})(?P<ext>\.[A-Za-z]\w{0,7})(?P<comp>\.(?:gz|bz2|xz|zst))?$"
)


class Refused(RotaError):
    """A removal the target will not perform; ``reason`` says why in a few words."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"refusing to remove {path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class NameInfo:
    """What a log file's name says: its family, and its place in the rotation."""

    family: str  # the live file's name: "app.log"
    kind: str  # "live" | "dated" | "numbered"
    day: date | None = None
    number: int | None = None
    compressed: bool = False


def parse_name(name: str) -> NameInfo:
    """Family and rotation position of a file name (``app.log-20261126.gz`` → app.log, dated)."""
    compressed = name.endswith(COMPRESSED_SUFFIXES)
    m = _DAY_ONLY.match(name)
    if m and (d := _day(m["date"])):
        return NameInfo(f"*{m['ext']}", "dated", day=d, compressed=compressed)
    m = _DATED.match(name)
    if m and (d := _day(m["date"])):
        return NameInfo(m["stem"] + (m["ext"] or ""), "dated", day=d, compressed=compressed)
    m = _NUMBERED.match(name)
    if m:
        return NameInfo(m["stem"], "numbered", number=int(m["num"]), compressed=compressed)
    return NameInfo(name, "live", compressed=compressed)


def _day(text: str) -> date | None:
    digits = text.replace("-", "")
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


@dataclass(frozen=True)
class LogFile:
    """One file a glob matched, with its ``lstat`` (a symlink is described, not followed)."""

    path: str  # configured directory + name
    directory: str  # the configured directory (real path)
    name: str
    size: int
    mtime: float
    inode: int
    device: int
    uid: int
    is_symlink: bool
    is_regular: bool
    info: NameInfo

    @property
    def family_path(self) -> str:
        return os.path.join(self.directory, self.info.family)

    @property
    def rotated(self) -> bool:
        return self.info.kind != "live"


@dataclass(frozen=True)
class DiskUsage:
    total: int
    used: int
    free: int  # available to unprivileged users, as df reports it

    @property
    def percent(self) -> float:
        """Use% as ``df`` computes it: used over what users can have (used + available)."""
        room = self.used + self.free
        return 100.0 * self.used / room if room else 0.0


def disk_usage(directory: str | Path) -> DiskUsage:
    u = shutil.disk_usage(directory)
    return DiskUsage(u.total, u.used, u.free)


def configured_dirs(patterns: Iterable[str]) -> dict[str, list[str]]:
    """Real path of each directory the globs name -> the patterns' file parts there."""
    out: dict[str, list[str]] = {}
    for pattern in patterns:
        head, tail = os.path.split(os.path.abspath(os.path.expanduser(pattern)))
        heads = glob.glob(head, recursive=True) if glob.has_magic(head) else [head]
        for d in heads:
            if os.path.isdir(d):
                tails = out.setdefault(os.path.realpath(d), [])
                if tail not in tails:
                    tails.append(tail)
    return out


@dataclass(frozen=True)
class IntegrityResult:
    """Whether a compressed file decompresses to its end with every checksum right."""

    ok: bool
    complete: bool  # False when the byte limit stopped the read before the end
    compressed_bytes: int  # bytes of the file read
    uncompressed_bytes: int
    error: str = ""


# isal's (zlib's interface: unread input comes back in unconsumed_tail), bz2's and lzma's
# (they keep it inside and say when they need more).
_Decompressor = isal_zlib.Decompress | bz2.BZ2Decompressor | lzma.LZMADecompressor


# What a decompressor raises on bad data. isal's error is typed as an instance in its stub.
DECOMPRESS_ERRORS: tuple[type[Exception], ...] = (
    zlib.error,
    getattr(isal_zlib, "error"),  # noqa: B009
    OSError,
    EOFError,
    lzma.LZMAError,
    ValueError,
)


def write_atomically(path: Path, data: str | bytes) -> None:
    """Replace ``path`` with ``data`` in one step: a reader never sees half a file, and a
    crash leaves the old one (the temporary file beside it is removed on error)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _decompressor_factory(name: str) -> Callable[[], _Decompressor] | None:
    if name.endswith(".gz"):
        # isal (a dependency) inflates about 1.7x faster than zlib, with zlib's interface.
        return lambda: isal_zlib.decompressobj(wbits=31)
    if name.endswith(".bz2"):
        return bz2.BZ2Decompressor
    if name.endswith(".xz"):
        return lzma.LZMADecompressor
    return None


def check_integrity(path: str | Path, *, limit: int | None = None) -> IntegrityResult:
    """Decompress ``path`` (.gz, .bz2, .xz) to its end, discarding the output.

    Detects truncation (the stream ends before its end marker), CRC and length errors, and
    data that is not compressed at all. Concatenated members (``cat a.gz b.gz``) are valid,
    as ``gzip -t`` has it, and so is zero padding after the last one. ``limit`` bounds the
    compressed bytes read; a file cut short by it is ``complete=False``. Output is produced
    in bounded pieces, so a decompression bomb costs time, never memory. Never follows a
    symlink.
    """
    make = _decompressor_factory(str(path))
    if make is None:
        return IntegrityResult(False, False, 0, 0, "no integrity check for this compression")
    read = produced = members = 0
    d = make()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        return IntegrityResult(False, False, 0, 0, f"cannot open: {exc.strerror}")
    pending = b""
    members_out = 0  # bytes produced by the complete members so far
    with os.fdopen(fd, "rb", buffering=0) as f:
        while True:
            if not pending:
                want = _CHUNK if limit is None else min(_CHUNK, limit - read)
                if want <= 0:
                    return IntegrityResult(True, False, read, produced)
                pending = f.read(want)
                if not pending:
                    break
                read += len(pending)
            if d.eof:
                pending = pending.lstrip(b"\0")
                if not pending:
                    continue
                d = make()
            try:
                produced += _drain(d, pending)
            except DECOMPRESS_ERRORS as exc:
                why = _integrity_error(exc)
                if members and why.startswith("not compressed"):
                    why = f"trailing garbage after {members} complete member(s)"
                return IntegrityResult(False, True, read, produced, why)
            if d.eof:
                members += 1
                members_out = produced
                pending = d.unused_data
            else:
                pending = b""
    if read == 0:
        return IntegrityResult(False, True, 0, 0, "empty file: no compressed data")
    if not d.eof:
        if members and produced == members_out:
            # A few stray bytes after the last member: zlib rejects them as a header at
            # once, isal waits for more input; either way nothing of a new member came out.
            why = f"trailing garbage after {members} complete member(s)"
            return IntegrityResult(False, True, read, produced, why)
        return IntegrityResult(
            False, True, read, produced, "truncated: the stream ends before its end marker"
        )
    return IntegrityResult(True, True, read, produced)


def _drain(d: _Decompressor, data: bytes) -> int:
    """Feed ``data`` and pull all its output in bounded pieces; returns bytes produced."""
    n = len(d.decompress(data, _CHUNK))
    if isinstance(d, isal_zlib.Decompress):  # zlib's interface keeps unread input for the caller
        while d.unconsumed_tail and not d.eof:
            n += len(d.decompress(d.unconsumed_tail, _CHUNK))
    else:  # bz2 and lzma keep it inside and say when they need more
        while not d.eof and not d.needs_input:
            n += len(d.decompress(b"", _CHUNK))
    return n


def _integrity_error(exc: BaseException) -> str:
    # zlib and isal word the same faults differently; name them one way.
    text = str(exc)
    low = text.lower()
    if "incorrect header check" in low or (
        "invalid" in low and ("header" in low or "wrapper" in low)
    ):
        return f"not compressed data ({text})"
    if "incorrect data check" in low or "incorrect checksum" in low:
        return f"CRC mismatch ({text})"
    if "incorrect length check" in low or "incorrect length" in low:
        return f"length mismatch ({text})"
    return text or type(exc).__name__


@dataclass
class Holders:
    """Who holds files open: (device, inode) -> pids, plus processes that could not be read."""

    by_inode: dict[tuple[int, int], set[int]] = field(default_factory=dict)
    unreadable: dict[int, int] = field(default_factory=dict)  # pid -> uid

    def holding(self, f: LogFile) -> tuple[list[int], list[int]]:
        """Pids holding ``f`` open, and pids of its owner whose descriptors were unreadable."""
        held = sorted(self.by_inode.get((f.device, f.inode), ()))
        unsure = sorted(pid for pid, uid in self.unreadable.items() if uid == f.uid)
        return held, unsure


def open_files(proc: str = "/proc") -> Holders:
    """Scan ``/proc/*/fd`` once: every open regular file by (device, inode).

    ``readlink`` first, so pipes, sockets and anonymous inodes are dropped without a
    ``stat``; the ``stat`` of a descriptor's link reaches the open file itself, so a file
    renamed or hard-linked after it was opened is still recognised.
    """
    holders = Holders()
    me = os.getpid()
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        fd_dir = f"{proc}/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except PermissionError:
            try:
                holders.unreadable[pid] = os.stat(f"{proc}/{pid}").st_uid
            except OSError:
                pass
            continue
        except OSError:
            continue  # exited, or a kernel thread
        for fd in fds:
            link = f"{fd_dir}/{fd}"
            try:
                if not os.readlink(link).startswith("/"):
                    continue
                st = os.stat(link)
            except OSError:
                continue
            if pid == me and stat.S_ISDIR(st.st_mode):
                continue
            if stat.S_ISREG(st.st_mode):
                holders.by_inode.setdefault((st.st_dev, st.st_ino), set()).add(pid)
    return holders


def _process_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return "?"


class Files:
    """The log files under ``[logs] paths``: read-only unless opened for ``--apply``."""

    def __init__(self, patterns: Iterable[str], *, readonly: bool = True) -> None:
        self.patterns = list(patterns)
        self.readonly = readonly
        self.dirs = configured_dirs(self.patterns)

    # -- reading -------------------------------------------------------------------------
    def missing_patterns(self) -> list[str]:
        """Patterns whose directory does not exist (nothing can match them)."""
        return [p for p in self.patterns if not configured_dirs([p])]

    def listing(self) -> list[LogFile]:
        """Every file the globs match, by configured directory then name."""
        seen: set[str] = set()
        out: list[LogFile] = []
        for d in sorted(self.dirs):
            for tail in self.dirs[d]:
                for match in glob.glob(os.path.join(glob.escape(d), tail)):
                    path = os.path.join(d, os.path.basename(match))
                    if path in seen:
                        continue
                    seen.add(path)
                    f = self._describe(d, path)
                    if f is not None:
                        out.append(f)
        out.sort(key=lambda f: (f.directory, f.name))
        return out

    def _describe(self, directory: str, path: str) -> LogFile | None:
        try:
            st = os.lstat(path)
        except OSError:
            return None  # removed while listing
        name = os.path.basename(path)
        return LogFile(
            path=path,
            directory=directory,
            name=name,
            size=st.st_size,
            mtime=st.st_mtime,
            inode=st.st_ino,
            device=st.st_dev,
            uid=st.st_uid,
            is_symlink=stat.S_ISLNK(st.st_mode),
            is_regular=stat.S_ISREG(st.st_mode),
            info=parse_name(name),
        )

    def families(self, files: Iterable[LogFile] | None = None) -> dict[str, list[LogFile]]:
        """Family path (``/var/log/rylie/app.log``) -> its regular files, newest first."""
        fam: dict[str, list[LogFile]] = {}
        for f in self.listing() if files is None else files:
            if f.is_regular:
                fam.setdefault(f.family_path, []).append(f)
        for members in fam.values():
            members.sort(key=_recency, reverse=True)
        return fam

    def live(self, f: LogFile, family: list[LogFile] | None = None) -> bool:
        """The file its service writes to: the family's unsuffixed file, else its newest."""
        if f.info.kind == "live":
            return True
        members = family if family is not None else self.families().get(f.family_path, [])
        if any(m.info.kind == "live" for m in members):
            return False
        return bool(members) and members[0].path == f.path

    def check_integrity(self, f: LogFile, *, limit: int | None = None) -> IntegrityResult:
        return check_integrity(f.path, limit=limit)

    def disk_usage(self, directory: str) -> DiskUsage:
        return disk_usage(directory)

    def open_files(self) -> Holders:
        """One scan of every process's open files, to pass to :meth:`why_not_removable`."""
        return open_files()

    # -- removing ------------------------------------------------------------------------
    def why_not_removable(self, path: str, holders: Holders | None = None) -> str | None:
        """None when :meth:`remove` would remove ``path`` now, else the reason it would not."""
        try:
            self._vet(path, holders)
        except Refused as exc:
            return exc.reason
        return None

    def _vet(self, path: str, holders: Holders | None = None) -> tuple[LogFile, str]:
        if not os.path.isabs(path):
            raise Refused(path, "not an absolute path")
        name = os.path.basename(path)
        parent = os.path.realpath(os.path.dirname(path))
        if parent not in self.dirs:
            raise Refused(path, f"{parent} is not a configured log directory")
        f = self._describe(parent, os.path.join(parent, name))
        if f is None:
            raise Refused(path, "no such file")
        if f.is_symlink:
            target = os.path.realpath(f.path)
            where = "outside" if os.path.dirname(target) not in self.dirs else "inside"
            raise Refused(path, f"a symlink (to {target}, {where} the configured directories)")
        if not f.is_regular:
            raise Refused(path, "not a regular file")
        if self.live(f):
            raise Refused(path, f"the live (newest) file of the {f.info.family} family")
        held, unsure = (holders or open_files()).holding(f)
        if held:
            who = ", ".join(f"{pid} ({_process_name(pid)})" for pid in held[:5])
            raise Refused(path, f"held open by process {who}")
        if unsure:
            raise Refused(
                path,
                f"cannot see whether process {unsure[0]} (uid {f.uid}) holds it open; "
                "run rota as root or as the log's owner",
            )
        return f, parent

    def remove(self, path: str) -> dict[str, Any]:
        """Remove one rotated log file, or raise :class:`Refused` (see the module docstring)."""
        if self.readonly:
            raise PermissionError(f"refusing to remove {path} in check mode")
        f, parent = self._vet(path)
        dir_fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            st = os.stat(f.name, dir_fd=dir_fd, follow_symlinks=False)
            if (st.st_dev, st.st_ino) != (f.device, f.inode) or not stat.S_ISREG(st.st_mode):
                raise Refused(path, "the file changed while it was being checked")
            if os.path.realpath(parent) != os.path.realpath(f"/proc/self/fd/{dir_fd}"):
                raise Refused(path, "the directory changed while it was being checked")
            os.unlink(f.name, dir_fd=dir_fd)
        finally:
            os.close(dir_fd)
        return {
            "path": f.path,
            "bytes_freed": f.size,
            "mtime": datetime.fromtimestamp(f.mtime).astimezone().isoformat(timespec="seconds"),
        }


def name_age(f: LogFile, now: float) -> float | None:
    """Seconds since the end of the (local) day named in ``f``'s name, if it names one."""
    if f.info.day is None:
        return None
    return now - (datetime.combine(f.info.day, datetime.min.time()).timestamp() + 86_400)


def content_age(f: LogFile, now: float) -> tuple[float, str]:
    """Seconds since ``f``'s newest line, and what that rests on.

    A dated name gives the day its lines are from (with ``dateyesterday``; without it, the
    day after); the end of that local day is taken, which never makes a file look older
    than it is. It is cross-checked with the mtime, and the younger of the two wins, so a
    file restored or touched recently is not removed on the strength of its name alone.
    """
    by_mtime = now - f.mtime
    by_name = name_age(f, now)
    if by_name is None:
        return by_mtime, "mtime"
    if by_mtime < by_name - 86_400:
        return by_mtime, "mtime (younger than the date in its name)"
    return min(by_name, by_mtime), "date in name"


def _recency(f: LogFile) -> tuple[int, float, float]:
    """Sort key, newest last: live file, then by date in the name, lowest number, mtime."""
    if f.info.kind == "live":
        return (2, 0.0, f.mtime)
    if f.info.day is not None:
        return (1, float(f.info.day.toordinal()), f.mtime)
    return (1, -float(f.info.number or 0), f.mtime)
