"""Streaming reads of plain and gzip logs that never crash on what real disks hold.

Lines come out in blocks (lists of complete lines without their newline) so the parser
loops in one place. Memory is bounded: reads are 1 MiB, and a line longer than
``MAX_LINE`` is dropped and counted as oversized instead of being accumulated. A gzip
file that ends early (a rotation interrupted, a disk that filled) yields every line it
has and records the problem; so does a corrupt one. Compression is recognised by the
gzip magic bytes, not by the name. ``isal`` (python-isal) decompresses about 1.7× faster
than zlib (a dependency); zlib takes over where isal cannot recover a damaged file.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from isal import igzip

# isal (a dependency) decompresses about 1.7x faster than gzip, with gzip's interface.
_gzip_impl: ModuleType = igzip

__all__ = [
    "BLOCK",
    "CHUNK",
    "HEAD",
    "MAX_LINE",
    "ReadReport",
    "gzip_isize",
    "head",
    "is_gzip",
    "read_blocks",
    "read_chunks",
]

BLOCK = 1 << 20
CHUNK = 8 << 20  # whole-buffer scanning: big enough to amortise, small enough to bound memory
MAX_LINE = 1 << 20  # 1 MiB: longer "lines" are binary dumps or runaway payloads
HEAD = 1024  # bytes of (decompressed) content that identify a file across renames


@dataclass
class ReadReport:
    """What one read did: bytes taken from disk, where it stopped, what went wrong."""

    bytes_read: int = 0  # from disk (compressed bytes for gzip)
    end: int = 0  # offset in the (decompressed) content after the last complete line
    oversized: int = 0
    problems: list[str] = field(default_factory=list)


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def gzip_isize(path: Path) -> int | None:
    """The uncompressed size mod 2**32 from the gzip trailer (no decompression)."""
    try:
        with open(path, "rb") as f:
            f.seek(-4, 2)
            return int.from_bytes(f.read(4), "little")
    except OSError:
        return None


def head(path: Path, compressed: bool) -> bytes:
    """The first ``HEAD`` bytes of the content; fewer for a short or unreadable file."""
    try:
        if compressed:
            with _gzip_impl.open(path, "rb") as g:
                data: bytes = g.read(HEAD)
                return data
        with open(path, "rb") as f:
            return f.read(HEAD)
    except (OSError, EOFError, zlib.error):
        return b""


def head_hash(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def read_blocks(
    path: Path, start: int, compressed: bool, report: ReadReport
) -> Iterator[list[bytes]]:
    """Complete lines from ``start`` on, in blocks. A plain file's unfinished last line is
    left for the next read (``report.end`` stops before it); a gzip file's is taken."""
    for data in read_chunks(path, start, compressed, report, BLOCK):
        lines = data.split(b"\n")
        lines.pop()  # after the final newline
        yield lines


def read_chunks(
    path: Path,
    start: int,
    compressed: bool,
    report: ReadReport,
    size: int = CHUNK,
    stop: int | None = None,
) -> Iterator[bytes]:
    """Like :func:`read_blocks` but each block is one bytes object of complete lines,
    every one ending in a newline (a gzip file's unfinished last line gets one), with
    oversized lines already taken out: what whole-buffer regexes want. ``stop`` (plain
    files only, just after a newline) ends the read there: one part of a split file."""
    report.end = start
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed in finally, also on generator close
    except OSError as exc:
        report.problems.append(f"cannot read {path}: {exc.strerror or exc}")
        return
    stream: Any = raw
    try:
        if compressed:
            stream = _gzip_impl.GzipFile(fileobj=raw, mode="rb")
            _skip(stream, start)
        else:
            raw.seek(start)
        # read1 hands over what was decompressed so far, so a truncated file still
        # yields the lines before the cut instead of failing the whole block
        read = stream.read1 if compressed else stream.read
        if stop is not None and not compressed:
            read = _bounded(raw, stop)
        pending = b""
        skipping = False  # inside an oversized line, dropping bytes until its newline
        failed: str | None = None
        position = start  # in the content, for a salvage read after damage
        while failed is None:
            parts: list[bytes] = []
            got = 0
            while got < size:  # read1 hands over one internal buffer at a time
                try:
                    more = read(size - got)
                except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
                    if stream.__class__ is not gzip.GzipFile:
                        # isal's read1 drops what it decompressed before the damage;
                        # zlib's hands it over, so it salvages from here on
                        stream.close()
                        raw.seek(0)
                        stream = gzip.GzipFile(fileobj=raw, mode="rb")
                        _skip(stream, position + got)
                        read = stream.read1
                        continue
                    what = "truncated" if isinstance(exc, EOFError) else "corrupt"
                    failed = f"{path}: {what} gzip ({exc})"
                    break
                if not more:
                    break
                parts.append(more)
                got += len(more)
                if not compressed:
                    break
            position += got
            chunk = parts[0] if len(parts) == 1 else b"".join(parts)
            if not chunk:
                break
            if skipping:
                nl = chunk.find(b"\n")
                if nl == -1:
                    report.end += len(chunk)
                    continue
                report.end += nl + 1
                chunk = chunk[nl + 1 :]
                skipping = False
            data = pending + chunk if pending else chunk
            cut = data.rfind(b"\n")
            if cut == -1:
                pending = data
            else:
                pending = data[cut + 1 :]
                report.end += cut + 1
                yield _without_oversized(data[: cut + 1], report)
            if len(pending) > MAX_LINE:
                report.oversized += 1
                report.end += len(pending)
                pending = b""
                skipping = True
        if failed is not None:
            report.problems.append(failed)
        if pending and compressed and not skipping:  # the last line, or what a cut left
            report.end += len(pending)
            yield pending + b"\n"
    finally:
        if not raw.closed:  # from disk: a plain read starts at ``start``, gzip at 0
            report.bytes_read += raw.tell() - (0 if compressed else start)
        stream.close()
        raw.close()


def _bounded(raw: Any, stop: int) -> Callable[[int], bytes]:
    def read(n: int) -> bytes:
        data: bytes = raw.read(max(0, min(n, stop - raw.tell())))
        return data

    return read


def _without_oversized(data: bytes, report: ReadReport) -> bytes:
    """``data`` (complete lines) without its lines longer than ``MAX_LINE``.

    If every aligned window of ``MAX_LINE // 2`` bytes holds a newline, no line can be
    longer than ``MAX_LINE``: a few ``find`` calls instead of measuring every line."""
    step = MAX_LINE // 2
    if all(data.find(b"\n", i, i + step) != -1 for i in range(0, len(data), step)):
        return data
    lines = data.split(b"\n")
    lines.pop()
    keep = [ln for ln in lines if len(ln) <= MAX_LINE]
    report.oversized += len(lines) - len(keep)
    if not keep:
        return b""
    keep.append(b"")
    return b"\n".join(keep)


def _skip(stream: Any, n: int) -> None:
    while n > 0:
        got = stream.read(min(n, BLOCK))
        if not got:
            return
        n -= len(got)
