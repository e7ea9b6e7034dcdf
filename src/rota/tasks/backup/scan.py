"""One pass over a backup file: checksum, gzip integrity, format, and a seekable copy.

``backup.verify`` reads the file once: the sha256 is computed, the gzip stream (every
member) is decompressed to its end, so truncation and CRC errors show, the format is told
from the first decompressed bytes (``PGDMP`` is a custom archive, text is plain SQL), and a
custom archive is written to a temporary file, because ``pg_restore -j`` cannot read a pipe.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

_CHUNK = 1 << 20
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


def head_format(head: bytes) -> str:
    if head.startswith(CUSTOM_MAGIC):
        return "custom"
    text = head[:512]
    if text and all(b in b"\t\n\r" or 32 <= b < 127 or b >= 128 for b in text):
        return "plain"
    return "unknown"


def scan(path: Path, copy_custom_to: Path | None) -> Scan:
    """Read ``path`` once. ``copy_custom_to`` receives the decompressed custom archive
    (only written when the file is gzip'd and holds one). Raises ScanError."""
    h = hashlib.sha256()
    size = 0
    out: IO[bytes] | None = None
    tail = b""
    content = 0
    fmt = "unknown"
    head = b""
    with open(path, "rb") as f:
        first = f.read(_CHUNK)
        if not first:
            raise ScanError("the file is empty")
        gz = first.startswith(_GZIP_MAGIC)
        d = zlib.decompressobj(wbits=31) if gz else None
        chunk = first
        try:
            while chunk:
                h.update(chunk)
                size += len(chunk)
                data = chunk
                if d is not None:
                    data = _inflate(d, chunk)
                    while d.eof and d.unused_data:
                        # Concatenated gzip members (gzip -c a b) are one valid stream.
                        rest = d.unused_data
                        d = zlib.decompressobj(wbits=31)
                        data += _inflate(d, rest)
                if len(head) < 512:
                    head += data[: 512 - len(head)]
                    fmt = head_format(head)
                if (
                    out is None
                    and gz
                    and fmt == "custom"
                    and copy_custom_to is not None
                    and len(head) >= 5
                ):
                    out = open(copy_custom_to, "wb")  # noqa: SIM115 - closed in finally
                if out is not None and data:
                    out.write(data)
                content += len(data)
                tail = (tail + data)[-256:]
                chunk = f.read(_CHUNK)
            if d is not None and not d.eof:
                raise _with_hash(
                    ScanError(
                        f"gzip stream ends early after {size} bytes "
                        "(truncated: the writer stopped or the copy is incomplete)"
                    ),
                    h,
                )
        except ScanError as exc:
            # Hash the rest, so a checksum mismatch is reported as such.
            while chunk := f.read(_CHUNK):
                h.update(chunk)
            raise _with_hash(exc, h) from None
        finally:
            if out is not None:
                out.close()
    return Scan(
        sha256=h.hexdigest(),
        size=size,
        gzip=gz,
        format=fmt,
        content_bytes=content,
        copied_to=copy_custom_to if out is not None else None,
        complete_trailer=PLAIN_TRAILER in tail,
    )


def _with_hash(exc: ScanError, h: Any) -> ScanError:
    exc.sha256 = h.hexdigest()
    return exc


def _inflate(d: zlib._Decompress, chunk: bytes) -> bytes:
    try:
        return d.decompress(chunk)
    except zlib.error as exc:
        raise ScanError(f"gzip data is corrupt: {exc}") from None


def gzip_isize(path: Path) -> int:
    """The uncompressed size stored in a gzip file's trailer (modulo 4 GiB)."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        if f.tell() < 18:
            return 0
        f.seek(-4, 2)
        return int.from_bytes(f.read(4), "little")
