"""The incremental scan engine: per-file results kept between runs, only new bytes read.

Each file is identified by its *content head* (SHA-1 of the first ``HEAD`` decompressed
bytes) rather than its name, because logrotate renames (``app.log`` → ``app.log-20261127``)
and compresses (→ ``.gz``) files whose lines were already counted:

- same inode, size and mtime as cached → the cached result is used, nothing is read;
- same head, at least as long as what was read → only the bytes after the saved offset
  are read (a live file that grew, or a renamed one that got a few more lines);
- a ``.gz`` whose head matches a plain file read before and whose gzip trailer size
  equals the bytes read → the cached result is used (``delaycompress`` rotation);
- shorter than the saved offset, or a head that changed → truncated or replaced: read
  again from the start.

The cache holds one entry per current file (entries for files gone are dropped) and the
running total of them all, written with ``marshal`` in built-in types only (each file's
result stays an undecoded blob until it is needed) to a cache file chosen by the caller
(``logs.analyze`` uses ``<rota state dir>/logscan/<sha1 of the globs>.cache``). Its
version and the parse settings are part of it: a change of either re-reads everything.

Files are read in parallel worker processes when there is enough to read (2 cores:
each core takes whole files, biggest first; with fewer files than cores, a big plain file
is cut into parts at newlines and its parts' line numbers are joined afterwards).
"""

from __future__ import annotations

import glob
import marshal
import multiprocessing
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import Any

from rota.logscan.analyze import ParseSettings, analyze_file
from rota.logscan.reader import MAX_LINE, gzip_isize, head, head_hash, is_gzip
from rota.logscan.results import Results
from rota.targets.files import write_atomically

__all__ = [
    "CACHE_VERSION",
    "FileEntry",
    "ScanCache",
    "ScanCancelled",
    "ScanOutcome",
    "expand",
    "scan",
]

# Context.on_cancel: takes a cleanup, returns a function that forgets it.
OnCancel = Callable[[Callable[[], None]], Callable[[], None]]


class ScanCancelled(Exception):
    """The scan's worker processes were stopped (the task ran past its timeout)."""


CACHE_VERSION = 2
PARALLEL_MIN_BYTES = 4 << 20  # below this, starting workers costs more than it saves
SPLIT_MIN_BYTES = 2 << 20  # smallest part a file is cut into for parallel reading


@dataclass
class FileEntry:
    path: str
    dev: int
    ino: int
    size: int
    mtime_ns: int
    compressed: bool
    head_len: int
    head_hash: str
    offset: int  # bytes of content consumed (complete lines)
    line_count: int
    rid: int  # names this result: kept across renames and compression, new when it changes
    state: bytes  # the result, marshalled (decoded only when needed)
    decoded: Results | None = field(default=None, repr=False, compare=False)

    @property
    def result(self) -> Results:
        if self.decoded is None:
            self.decoded = Results.from_state(marshal.loads(self.state))
        return self.decoded

    def row(self) -> tuple[Any, ...]:
        return (
            self.path,
            self.dev,
            self.ino,
            self.size,
            self.mtime_ns,
            self.compressed,
            self.head_len,
            self.head_hash,
            self.offset,
            self.line_count,
            self.rid,
            self.state,
        )


@dataclass
class ScanCache:
    """Per-file results plus their running total.

    ``total`` is the marshalled merge of every entry's result and ``total_rids`` the
    result ids it covers. A rerun where files only grew, were renamed or compressed, or
    appeared starts from the total and adds just the new lines, instead of decoding and
    merging every file's result; a file that went away (past retention) or was truncated
    or replaced is not subtracted: the total is rebuilt from the per-file results.
    """

    settings: ParseSettings = field(default_factory=ParseSettings)
    entries: dict[str, FileEntry] = field(default_factory=dict)  # by path
    version: int = CACHE_VERSION
    total: bytes | None = None
    total_rids: list[int] = field(default_factory=list)
    next_rid: int = 1

    @classmethod
    def load(cls, path: Path | None, settings: ParseSettings) -> ScanCache:
        """The cache at ``path``, or an empty one if missing, stale or unreadable."""
        if path is not None and path.is_file():
            try:
                data = marshal.loads(path.read_bytes())
                version, saved, rows, total, rids, next_rid = data
                if version == CACHE_VERSION and saved == _settings_row(settings):
                    entries = {row[0]: FileEntry(*row) for row in rows}
                    return cls(settings, entries, version, total, rids, next_rid)
            except Exception:
                pass  # a damaged or older cache only costs a full read
        return cls(settings)

    def save(self, path: Path) -> None:
        rows = [e.row() for e in self.entries.values()]
        data = (self.version, _settings_row(self.settings), rows, self.total, self.total_rids)
        write_atomically(path, marshal.dumps((*data, self.next_rid)))


def _settings_row(s: ParseSettings) -> tuple[Any, ...]:
    return (s.timezone, s.custom_regex, s.custom_time_format, s.custom_duration_unit)


def _state(res: Results) -> bytes:
    return marshal.dumps(res.to_state())


@dataclass
class ScanOutcome:
    results: Results
    files: list[dict[str, Any]]  # per file: path, action (cached/appended/read), bytes read
    bytes_read: int
    seconds: float
    cache: ScanCache
    rebuilt: bool = False  # the total was merged from every file's result, not updated


def expand(patterns: list[str]) -> list[Path]:
    """Files matched by the globs, each once, in a stable order."""
    seen: dict[str, Path] = {}
    for pattern in patterns:
        for name in sorted(glob.glob(os.path.expanduser(pattern))):
            p = Path(name)
            if p.is_file() and str(p) not in seen:
                seen[str(p)] = p
    return list(seen.values())


@dataclass
class _Job:
    path: Path
    start: int
    compressed: bool
    first_line: int
    base: FileEntry | None  # cached result the new lines are added to
    stat: os.stat_result
    head: bytes
    action: str


def _plan(path: Path, cache: ScanCache, pool: list[FileEntry]) -> _Job | FileEntry:
    st = path.stat()
    compressed = is_gzip(path)
    hd = head(path, compressed)
    cached = cache.entries.get(str(path))
    if (
        cached is not None
        and (cached.dev, cached.ino, cached.size, cached.mtime_ns, cached.compressed)
        == (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, compressed)
        and cached.head_hash == head_hash(hd[: cached.head_len])
    ):
        return cached
    match = _match_head(hd, st, pool)
    if match is not None:
        if compressed and not match.compressed:
            isize = gzip_isize(path)
            if isize == match.offset % (1 << 32):
                return _moved(path, st, compressed, hd, match)
            return _Job(path, match.offset, True, match.line_count, match, st, hd, "appended")
        if compressed == match.compressed:
            if compressed:
                return _moved(path, st, True, hd, match)
            if st.st_size >= match.offset:
                return _Job(path, match.offset, False, match.line_count, match, st, hd, "appended")
    action = "reread" if cached is not None else "read"
    return _Job(path, 0, compressed, 0, None, st, hd, action)


def _match_head(hd: bytes, st: os.stat_result, pool: list[FileEntry]) -> FileEntry | None:
    best: FileEntry | None = None
    for e in pool:
        if e.head_len == 0 or e.head_len > len(hd):
            continue
        if e.head_hash != head_hash(hd[: e.head_len]):
            continue
        if (e.dev, e.ino) == (st.st_dev, st.st_ino):
            return e
        if best is None or e.offset > best.offset:
            best = e
    return best


def _moved(
    path: Path, st: os.stat_result, compressed: bool, hd: bytes, match: FileEntry
) -> FileEntry:
    """A file whose content was read before under another name or form: same result."""
    return FileEntry(
        str(path),
        st.st_dev,
        st.st_ino,
        st.st_size,
        st.st_mtime_ns,
        compressed,
        len(hd),
        head_hash(hd),
        match.offset,
        match.line_count,
        match.rid,
        match.state,
        match.decoded,
    )


_Output = tuple[Results, int, int, int]  # results, end offset, lines, bytes from disk


def _run(job: _Job, settings: ParseSettings, start: int, stop: int | None) -> _Output:
    first = job.first_line if start == job.start else 0  # a later part is renumbered after
    res, report, lines = analyze_file(job.path, start, job.compressed, first, settings, stop=stop)
    return res, report.end, lines, report.bytes_read


def scan(
    patterns: list[str] | list[Path],
    *,
    settings: ParseSettings | None = None,
    cache: ScanCache | None = None,
    jobs: int | None = None,
    on_cancel: OnCancel | None = None,
) -> ScanOutcome:
    """Scan the files the globs match, reusing and updating ``cache`` (a fresh one if None).

    ``on_cancel`` (a task's ``Context.on_cancel``) learns how to stop the worker processes."""
    started = time.perf_counter()
    settings = settings or ParseSettings()
    if cache is None or cache.settings != settings:
        cache = ScanCache(settings)
    paths = expand([str(p) for p in patterns])
    pool = list(cache.entries.values())
    planned: list[_Job | FileEntry] = []
    head_bytes = 0
    for p in paths:
        try:
            planned.append(_plan(p, cache, pool))
        except OSError:
            continue  # vanished between glob and stat (rotation in progress)
        head_bytes += 1024
    work = [j for j in planned if isinstance(j, _Job)]
    outputs = _execute(work, settings, jobs, on_cancel)
    new_entries: dict[str, FileEntry] = {}
    files: list[dict[str, Any]] = []
    bytes_read = 0
    # What the saved total covers; each carried or grown result takes its id off, each
    # new read adds to it. Anything else (an id left over: a file gone, truncated or
    # replaced; an id wanted twice: a copy) means the total is rebuilt.
    cover = Counter(cache.total_rids) if cache.total is not None else Counter()
    additions: list[Results] = []
    exact = cache.total is not None or not cache.entries
    rid = cache.next_rid
    for item in planned:
        if isinstance(item, FileEntry):
            entry = item
            if cover[entry.rid] > 0:
                cover[entry.rid] -= 1
            else:
                exact = False
            files.append({"path": entry.path, "action": "cached", "bytes_read": 0})
        else:
            res, end, lines, nbytes = outputs[id(item)]
            additions.append(res)
            full = res
            if item.base is not None:
                full = Results().merge(item.base.result).merge(res)
                if cover[item.base.rid] > 0:
                    cover[item.base.rid] -= 1
                else:
                    exact = False
            st = item.stat
            entry = FileEntry(
                str(item.path),
                st.st_dev,
                st.st_ino,
                st.st_size,
                st.st_mtime_ns,
                item.compressed,
                len(item.head),
                head_hash(item.head),
                end,
                item.first_line + lines,
                rid,
                _state(full),
                full,
            )
            rid += 1
            bytes_read += nbytes
            files.append({"path": entry.path, "action": item.action, "bytes_read": nbytes})
        new_entries[entry.path] = entry
    rebuilt = not (exact and not +cover)
    if not rebuilt:
        total = Results.from_state(marshal.loads(cache.total)) if cache.total else Results()
        for res in additions:
            total.merge(res)
    else:
        total = Results()
        for entry in new_entries.values():
            total.merge(entry.result)
    total.problems.sort()  # the same order however the total was reached
    cache.entries = new_entries
    cache.total = _state(total)
    cache.total_rids = [e.rid for e in new_entries.values()]
    cache.next_rid = rid
    seconds = time.perf_counter() - started
    return ScanOutcome(total, files, bytes_read, seconds, cache, rebuilt)


def _execute(
    work: list[_Job], settings: ParseSettings, jobs: int | None, on_cancel: OnCancel | None
) -> dict[int, _Output]:
    workers = min(jobs or os.cpu_count() or 1, max(len(work), 2))
    todo = sum(max(j.stat.st_size - j.start, 0) for j in work)
    if workers <= 1 or todo < PARALLEL_MIN_BYTES:
        return {id(j): _run(j, settings, j.start, None) for j in work}
    import multiprocessing  # only when there is enough to read

    # Fewer files than cores (a rerun after one more day): a big plain file is read in
    # parts, one per core, cut just after a newline.
    parts = {id(j): _split(j, workers if len(work) < workers else 1) for j in work}
    ordered = sorted(
        ((j, a, b) for j in work for a, b in parts[id(j)]),
        key=lambda p: (p[2] or p[0].stat.st_size) - p[1],
        reverse=True,
    )
    # A Pool, not a ProcessPoolExecutor: a task that times out has its workers killed
    # (terminate) before the engine releases the task's locks.
    pool = multiprocessing.Pool(workers)
    stop = threading.Event()

    def terminate() -> None:
        stop.set()
        pool.terminate()

    forget = None
    try:
        pending = {(id(j), a): pool.apply_async(_run, (j, settings, a, b)) for j, a, b in ordered}
        forget = on_cancel(terminate) if on_cancel is not None else None
        out: dict[int, _Output] = {}
        for j in work:
            outputs = [_result(pending[(id(j), a)], stop) for a, _ in parts[id(j)]]
            out[id(j)] = _join(j.path.name, outputs)
        return out
    finally:
        if forget is not None:
            forget()
        pool.terminate()  # every result is in (or the scan was stopped): no work is lost
        pool.join()


def _result(pending: AsyncResult[_Output], stop: threading.Event) -> _Output:
    while True:
        try:
            return pending.get(timeout=0.2)
        except multiprocessing.TimeoutError:
            if stop.is_set():
                raise ScanCancelled("the log scan was stopped: the task timed out") from None


def _split(job: _Job, n: int) -> list[tuple[int, int | None]]:
    """``n`` byte ranges of a plain job, each ending just after a newline."""
    size = job.stat.st_size
    if job.compressed or n <= 1 or size - job.start < SPLIT_MIN_BYTES * n:
        return [(job.start, None)]
    cuts = [job.start]
    with open(job.path, "rb") as f:
        for i in range(1, n):
            f.seek(job.start + (size - job.start) * i // n)
            nl = f.read(MAX_LINE).find(b"\n")
            if nl != -1:
                cut = job.start + (size - job.start) * i // n + nl + 1
                if cuts[-1] < cut < size:
                    cuts.append(cut)
    ends: list[int | None] = [*cuts[1:], None]
    return list(zip(cuts, ends, strict=True))


def _join(name: str, outputs: list[_Output]) -> _Output:
    """One file's result from its parts: later parts' line numbers moved past earlier ones."""
    res, end, lines, nbytes = outputs[0]
    for part, part_end, part_lines, part_bytes in outputs[1:]:
        _renumber(part, name, lines)
        res.merge(part)
        end, lines, nbytes = part_end, lines + part_lines, nbytes + part_bytes
    return res, end, lines, nbytes


def _renumber(res: Results, name: str, offset: int) -> None:
    def moved(where: str) -> str:
        number, sep, rest = where[len(name) + 1 :].partition(":")
        return f"{name}:{int(number) + offset}{sep}{rest}" if number.isdigit() else where

    for g in res.groups.values():
        g.sample_at = moved(g.sample_at)
    res.unparsed_samples = [moved(s) for s in res.unparsed_samples]
