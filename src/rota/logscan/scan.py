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

The cache holds one entry per current file (entries for files gone are dropped), pickled
to a cache file chosen by the caller (``logs.analyze`` uses
``<rota state dir>/logscan/<sha1 of the globs>.pickle``). Its version and the parse
settings are part of it: a change of either re-reads everything.

Files are read in parallel worker processes when there is enough to read (2 cores:
each core takes whole files, biggest first).
"""

from __future__ import annotations

import glob
import os
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rota.logscan.analyze import ParseSettings, analyze_file
from rota.logscan.reader import gzip_isize, head, head_hash, is_gzip
from rota.logscan.results import Results

__all__ = ["CACHE_VERSION", "FileEntry", "ScanCache", "ScanOutcome", "expand", "scan"]

CACHE_VERSION = 1
PARALLEL_MIN_BYTES = 16 << 20  # below this, starting workers costs more than it saves


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
    result: Results


@dataclass
class ScanCache:
    settings: ParseSettings = field(default_factory=ParseSettings)
    entries: dict[str, FileEntry] = field(default_factory=dict)  # by path
    version: int = CACHE_VERSION

    @classmethod
    def load(cls, path: Path | None, settings: ParseSettings) -> ScanCache:
        """The cache at ``path``, or an empty one if missing, stale or unreadable."""
        if path is not None and path.is_file():
            try:
                with open(path, "rb") as f:
                    cache = pickle.load(f)
                if (
                    isinstance(cache, ScanCache)
                    and cache.version == CACHE_VERSION
                    and cache.settings == settings
                ):
                    return cache
            except Exception:
                pass  # a damaged cache only costs a full read
        return cls(settings)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as f:
            pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)


@dataclass
class ScanOutcome:
    results: Results
    files: list[dict[str, Any]]  # per file: path, action (cached/appended/read), bytes read
    bytes_read: int
    seconds: float
    cache: ScanCache


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
                return _entry(
                    path, st, compressed, hd, match.offset, match.line_count, match.result
                )
            return _Job(path, match.offset, True, match.line_count, match, st, hd, "appended")
        if compressed == match.compressed:
            if compressed:
                return _entry(path, st, True, hd, match.offset, match.line_count, match.result)
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


def _entry(
    path: Path,
    st: os.stat_result,
    compressed: bool,
    hd: bytes,
    offset: int,
    lines: int,
    result: Results,
) -> FileEntry:
    return FileEntry(
        str(path),
        st.st_dev,
        st.st_ino,
        st.st_size,
        st.st_mtime_ns,
        compressed,
        len(hd),
        head_hash(hd),
        offset,
        lines,
        result,
    )


def _run(job: _Job, settings: ParseSettings) -> tuple[Results, int, int, int]:
    res, report, lines = analyze_file(job.path, job.start, job.compressed, job.first_line, settings)
    return res, report.end, lines, report.bytes_read


def scan(
    patterns: list[str] | list[Path],
    *,
    settings: ParseSettings | None = None,
    cache: ScanCache | None = None,
    jobs: int | None = None,
) -> ScanOutcome:
    """Scan the files the globs match, reusing and updating ``cache`` (a fresh one if None)."""
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
    outputs = _execute(work, settings, jobs)
    new_entries: dict[str, FileEntry] = {}
    files: list[dict[str, Any]] = []
    bytes_read = 0
    for item in planned:
        if isinstance(item, FileEntry):
            entry = item
            if entry.path not in cache.entries or cache.entries[entry.path] is not entry:
                entry = _entry(
                    Path(entry.path),
                    os.stat(entry.path),
                    entry.compressed,
                    head(Path(entry.path), entry.compressed),
                    entry.offset,
                    entry.line_count,
                    entry.result,
                )
            files.append({"path": entry.path, "action": "cached", "bytes_read": 0})
        else:
            res, end, lines, nbytes = outputs[id(item)]
            if item.base is not None:
                res = Results().merge(item.base.result).merge(res)
            entry = _entry(
                item.path,
                item.stat,
                item.compressed,
                item.head,
                end,
                item.first_line + lines,
                res,
            )
            bytes_read += nbytes
            files.append({"path": entry.path, "action": item.action, "bytes_read": nbytes})
        new_entries[entry.path] = entry
    cache.entries = new_entries
    total = Results()
    for entry in new_entries.values():
        total.merge(entry.result)
    return ScanOutcome(total, files, bytes_read, time.perf_counter() - started, cache)


def _execute(
    work: list[_Job], settings: ParseSettings, jobs: int | None
) -> dict[int, tuple[Results, int, int, int]]:
    workers = min(jobs or os.cpu_count() or 1, len(work))
    todo = sum(max(j.stat.st_size - j.start, 0) for j in work)
    if workers <= 1 or todo < PARALLEL_MIN_BYTES:
        return {id(j): _run(j, settings) for j in work}
    from concurrent.futures import ProcessPoolExecutor  # only when there is enough to read

    ordered = sorted(work, key=lambda j: j.stat.st_size - j.start, reverse=True)
    with ProcessPoolExecutor(max_workers=workers) as ex:
        futures = {id(j): ex.submit(_run, j, settings) for j in ordered}
        return {k: f.result() for k, f in futures.items()}
