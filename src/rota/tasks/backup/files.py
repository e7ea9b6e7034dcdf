"""Backup files on disk: names, timestamps, sidecars, manifests and retention.

Shared by ``backup.create``, ``backup.verify`` and ``rota backup list``. A backup's time is
the timestamp in its name (``rylie_full_20260301T020000Z.dump.gz``, or any shape
:mod:`rota.tasks.backup.names` reads), not its mtime, which a copy or a restore from tape
changes; the runbook's ``ls -t`` trusts mtime. A name without a time leaves the mtime.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rota.targets.files import write_atomically
from rota.tasks.backup import names

SIDECAR = ".sha256"
MANIFEST = ".manifest.json"
_NOT_BACKUPS = (SIDECAR, MANIFEST, ".tmp")
EXTENSIONS = {"custom-gzip": ".dump.gz", "custom": ".dump", "plain-gzip": ".sql.gz"}
_CHUNK = 4 << 20


@dataclass(frozen=True)
class BackupFile:
    path: Path
    when: datetime | None  # from the name; None when the name carries no timestamp
    mtime: datetime
    size: int
    precision: timedelta = names.SECOND  # of ``when``: a day when the name has only a date
    stamp: str = ""  # the part of the name ``when`` was read from
    zone: str = ""  # the zone it was read in ("Z", "+0100", "epoch", "CET", "UTC")

    @property
    def time(self) -> datetime:
        """When the backup was taken: the name's time; within a name that gives only the
        day (or hour, or minute), the mtime when it falls in it; the mtime without one."""
        if self.when is None:
            return self.mtime
        if self.precision > names.SECOND and self.when <= self.mtime < self.when + self.precision:
            return self.mtime
        return self.when

    @property
    def time_from(self) -> str:
        """ "name", "name+mtime" (the name's day, the mtime's time of day) or "mtime"."""
        if self.when is None:
            return "mtime"
        return "name" if self.time == self.when else "name+mtime"


# The runbook's names: rylie_full_<UTC timestamp>.dump.gz.
DEFAULT_TEMPLATE = "rylie_full_{timestamp}{ext}"


def stamp(when: datetime) -> str:
    """``YYYYmmddTHHMMSSZ`` in UTC, as the runbook's names carry it (naive times are UTC)."""
    utc = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return f"{utc:%Y%m%dT%H%M%SZ}"


def file_name(template: str, when: datetime, fmt: str) -> str:
    return template.format(timestamp=stamp(when), ext=EXTENSIONS[fmt])


def name_time(name: str, tz: str = "local") -> datetime | None:
    """The time in a backup's name (in UTC), read as :func:`names.read` does."""
    got = names.read(name, tz)
    return got.when if got else None


def list_backups(pattern: str, tz: str = "local") -> list[BackupFile]:
    """Files matching ``pattern`` (sidecars, manifests and temp files left out), oldest first
    by the time in their names; ``tz`` is ``[backups] name_timezone``, for names that carry
    no zone of their own."""
    out: list[BackupFile] = []
    for p in glob.glob(pattern):
        path = Path(p)
        if path.name.startswith(".") or path.name.endswith(_NOT_BACKUPS):
            continue
        try:
            st = path.stat()
        except OSError:
            continue
        size = st.st_size if path.is_file() else _tree_size(path)
        mtime = datetime.fromtimestamp(st.st_mtime, UTC)
        got = names.read(path.name, tz)
        if got is None:
            out.append(BackupFile(path, None, mtime, size))
        else:
            out.append(BackupFile(path, got.when, mtime, size, got.precision, got.text, got.zone))
    return sorted(out, key=lambda b: (b.time, b.path.name))


def _tree_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += (Path(root) / f).stat().st_size
            except OSError:
                pass
    return total


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def gzip_file(src: Path, dst: Path) -> None:
    """Compress ``src`` into ``dst`` (standard gzip, read by ``gunzip``), fsynced.

    rota's backups are a ``pg_dump -Fc`` archive written to a file first and compressed
    after, rather than piped: an archive written to a seekable file records where each
    table's data starts, so ``pg_restore -j`` (from the verification's seekable copy) starts
    the largest table at once instead of scanning for it. The archive is compressed inside
    already; level 1 costs least and the file is within a few bytes of gzip -6's.
    """
    import gzip

    from isal import igzip

    # IGzipFile is a GzipFile whose own signatures are not annotated: typed as what it is.
    gzip_class: type[gzip.GzipFile] = igzip.IGzipFile
    with open(src, "rb") as fin, open(dst, "wb") as raw:
        with gzip_class(fileobj=raw, mode="wb", compresslevel=1) as out:
            while chunk := fin.read(1 << 20):
                out.write(chunk)
        raw.flush()
        os.fsync(raw.fileno())


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR)


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + MANIFEST)


def write_sidecar(path: Path, digest: str) -> None:
    """``sha256sum`` format, so ``sha256sum -c`` checks it by hand too."""
    write_atomically(sidecar_path(path), f"{digest}  {path.name}\n")


def read_sidecar(path: Path) -> str | None:
    """The expected sha256 of ``path``; None without a sidecar. ValueError when unreadable."""
    side = sidecar_path(path)
    if not side.exists():
        return None
    text = side.read_text(encoding="utf-8", errors="replace").strip()
    m = re.match(r"^([0-9a-fA-F]{64})\b", text)
    if not m:
        raise ValueError(f"{side.name} does not start with a sha256 hex digest")
    return m.group(1).lower()


def write_manifest(path: Path, data: dict[str, Any]) -> None:
    write_atomically(manifest_path(path), json.dumps(data, indent=2, default=str) + "\n")


def read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(manifest_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def retention_keep(
    backups: Iterable[BackupFile], *, daily: int, weekly: int, monthly: int
) -> set[Path]:
    """Grandfather-father-son: the newest backup of each of the newest ``daily`` days,
    ``weekly`` ISO weeks and ``monthly`` months. The newest backup is always kept."""
    newest_first = sorted(backups, key=lambda b: b.time, reverse=True)
    keep: set[Path] = set()
    if newest_first:
        keep.add(newest_first[0].path)
    for count, key in (
        (daily, lambda t: t.strftime("%Y-%m-%d")),
        (weekly, lambda t: f"{t.isocalendar()[0]}-W{t.isocalendar()[1]:02d}"),
        (monthly, lambda t: t.strftime("%Y-%m")),
    ):
        seen: set[str] = set()
        for b in newest_first:
            k = key(b.time)
            if k in seen:
                continue
            if len(seen) >= count:
                break
            seen.add(k)
            keep.add(b.path)
    return keep
