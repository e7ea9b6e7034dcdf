"""One pass over a backup file: checksum, gzip integrity, format, and a seekable copy.

``backup.verify`` reads the file once: the sha256 is computed, the gzip stream (every
member) is decompressed to its end, so truncation and CRC errors show, the format is told
from the first decompressed bytes (``PGDMP`` is a custom archive, text is plain SQL), and a
custom archive is written to a temporary file, because ``pg_restore -j`` cannot read a pipe.

The copy gives way to a pipe when the disk fills: the space check before the scan can only
estimate the decompressed size (gzip records it modulo 4 GiB), so free space is checked
again while writing and the copy is abandoned, not the verification, if it runs low.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from isal import isal_zlib

_CHUNK = 1 << 20
# Free space is looked at again after every this many bytes written to the copy...
_SPACE_EVERY = 256 << 20
# ...and the copy is given up when less than this would remain (others need the disk too).
SPACE_RESERVE = 64 << 20
# isal (a dependency) inflates ~1.7x faster than zlib; zlib's errors are caught as well.
_INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error, getattr(isal_zlib, "error"))  # noqa: B009
_GZIP_MAGIC = b"\x1f\x8b"
CUSTOM_MAGIC = b"PGDMP"
PLAIN_TRAILER = b"PostgreSQL database dump complete"


class ScanError(Exception):
    """The file is not a readable backup (truncated, bad CRC, not gzip, empty).

    ``sha256`` is the whole file's hash all the same, so the sidecar can still be checked."""

    sha256 = ""


@dataclass
class Scan:
    sha256: str
    size: int
    gzip: bool
    format: str  # custom | plain | unknown
    content_bytes: int  # after decompression
    copied_to: Path | None  # the seekable custom archive, when one was written
    complete_trailer: bool  # plain SQL: ends with pg_dump's "dump complete" comment
    copy_abandoned: str = ""  # why a seekable copy was started and given up (disk space)


def head_format(head: bytes) -> str:
    if head.startswith(CUSTOM_MAGIC):
        return "custom"
    text = head[:512]
    if text and all(b in b"\t\n\r" or 32 <= b < 127 or b >= 128 for b in text):
        return "plain"
    return "unknown"


_SNIFF_ERRORS: tuple[type[Exception], ...] = (OSError, *_INFLATE_ERRORS)


def sniff(path: Path) -> tuple[str, bool]:
    """The format the first bytes announce ("custom", "plain" or "unknown"; a directory is
    "custom", as pg_dump -Fd) and whether it is gzipped. Only a guess until :func:`scan`
    has read the whole file: it lets the scratch database be made ready meanwhile."""
    if path.is_dir():
        return "custom", False
    try:
        with open(path, "rb") as f:
            first = f.read(64 * 1024)
        gz = first.startswith(_GZIP_MAGIC)
        head = isal_zlib.decompressobj(wbits=31).decompress(first, 512) if gz else first
    except _SNIFF_ERRORS:
        return "unknown", False
    return head_format(head[:512]), gz


def scan(path: Path, copy_custom_to: Path | None) -> Scan:
    """Read ``path`` once. ``copy_custom_to`` receives the decompressed custom archive
    (only written when the file is gzip'd and holds one). Raises ScanError."""
    # sha256 runs in a helper thread on the compressed chunks while this one inflates and
    # writes (both release the GIL), so the pass costs about the slower of the two.
    with ThreadPoolExecutor(1, thread_name_prefix="rota-sha256") as hasher:
        h = hashlib.sha256()
        pending: Future[None] | None = None

        def feed(chunk: bytes) -> None:
            nonlocal pending
            if pending is not None:
                pending.result()
            pending = hasher.submit(h.update, chunk)

        def digest() -> str:
            if pending is not None:
                pending.result()
            return h.hexdigest()

        return _scan(path, copy_custom_to, feed, digest)


def _scan(
    path: Path, copy_to: Path | None, feed: Callable[[bytes], None], digest: Callable[[], str]
) -> Scan:
    size = 0
    out: IO[bytes] | None = None
    tail = b""
    content = 0
    written = 0
    next_check = _SPACE_EVERY
    abandoned = ""
    fmt = "unknown"
    head = b""
    with open(path, "rb") as f:
        first = f.read(_CHUNK)
        if not first:
            raise ScanError("the file is empty")
        gz = first.startswith(_GZIP_MAGIC)
        d = isal_zlib.decompressobj(wbits=31) if gz else None
        chunk = first
        try:
            while chunk:
                feed(chunk)
                size += len(chunk)
                data = chunk
                if d is not None:
                    data = _inflate(d, chunk)
                    while d.eof and d.unused_data:
                        # Concatenated gzip members (gzip -c a b) are one valid stream.
                        rest = d.unused_data
                        d = isal_zlib.decompressobj(wbits=31)
                        data += _inflate(d, rest)
                if len(head) < 512:
                    head += data[: 512 - len(head)]
                    fmt = head_format(head)
                if (
                    out is None
                    and not abandoned
                    and gz
                    and fmt == "custom"
                    and copy_to is not None
                    and len(head) >= 5
                ):
                    out = open(copy_to, "wb")  # noqa: SIM115 - closed in finally
                if out is not None and data:
                    if written + len(data) >= next_check:
                        next_check += _SPACE_EVERY
                        abandoned = _space_left(copy_to, len(data))
                    if abandoned:
                        _abandon(out, copy_to)
                        out = None
                    else:
                        try:
                            out.write(data)
                            written += len(data)
                        except OSError as exc:  # ENOSPC despite the checks: pipe instead
                            abandoned = f"writing the copy failed: {exc.strerror or exc}"
                            _abandon(out, copy_to)
                            out = None
                content += len(data)
                tail = (tail + data)[-256:]
                chunk = f.read(_CHUNK)
            if d is not None and not d.eof:
                raise ScanError(
                    f"gzip stream ends early after {size} bytes "
                    "(truncated: the writer stopped or the copy is incomplete)"
                )
        except ScanError as exc:
            # Hash the rest, so a checksum mismatch is reported as such.
            while chunk := f.read(_CHUNK):
                feed(chunk)
            raise _with_hash(exc, digest()) from None
        finally:
            if out is not None:
                out.close()
    return Scan(
        sha256=digest(),
        size=size,
        gzip=gz,
        format=fmt,
        content_bytes=content,
        copied_to=copy_to if out is not None else None,
        complete_trailer=PLAIN_TRAILER in tail,
        copy_abandoned=abandoned,
    )


def _space_left(copy_to: Path | None, more: int) -> str:
    """'' while the copy's disk keeps SPACE_RESERVE free after ``more`` bytes, else why not."""
    assert copy_to is not None
    try:
        free = shutil.disk_usage(copy_to.parent).free
    except OSError as exc:
        return f"cannot read free space: {exc.strerror or exc}"
    # Room for the next stretch too, so the reserve holds until the next look.
    if free - more - _SPACE_EVERY < SPACE_RESERVE:
        return f"{copy_to.parent} ran low on space ({free} bytes free) while decompressing"
    return ""


def _abandon(out: IO[bytes], copy_to: Path | None) -> None:
    out.close()
    if copy_to is not None:
        with contextlib.suppress(OSError):
            os.unlink(copy_to)


def _with_hash(exc: ScanError, sha256: str) -> ScanError:
    exc.sha256 = sha256
    return exc


def _inflate(d: isal_zlib.Decompress, chunk: bytes) -> bytes:
    try:
        return d.decompress(chunk)
    except _INFLATE_ERRORS as exc:
        raise ScanError(f"gzip data is corrupt: {exc}") from None


def gzip_isize(path: Path) -> int:
    """The uncompressed size stored in a gzip file's trailer (modulo 4 GiB)."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        if f.tell() < 18:
            return 0
        f.seek(-4, 2)
        return int.from_bytes(f.read(4), "little")
