"""``backup.verify``, before the restore: sweep leftovers, T0 freshness, T1 integrity."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import statistics
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

from rota.errors import TargetUnavailable
from rota.locks import pid_alive
from rota.model import Metric, Severity
from rota.targets.pgtools import PgToolError
from rota.task import Item
from rota.tasks.backup import files as bf
from rota.tasks.backup import restore as br
from rota.tasks.backup.drill import Drill, parse_owner, quote_ident
from rota.tasks.backup.scan import SPACE_RESERVE, ScanError, gzip_isize, scan
from rota.tasks.common import finding
from rota.units import format_duration, format_size

_TEMP_RE = re.compile(r"^rota_verify_(\d+)_[0-9a-f]+\.dump$")
_MTIME_SLACK_S = 3600  # a dump takes a while; beyond this the mtime tells another story


# -- safety: leftovers of an earlier crashed run ------------------------------------------
SWEEP_SQL = """
SELECT d.datname, count(a.pid) AS sessions,
       array_agg(DISTINCT coalesce(a.application_name, '')) FILTER (WHERE a.pid IS NOT NULL) AS apps
FROM pg_database d LEFT JOIN pg_stat_activity a ON a.datid = d.oid
WHERE d.datname LIKE %s
GROUP BY d.datname ORDER BY 1
"""


def sweep(d: Drill) -> Generator[Item, None, str]:
    """Drop scratch databases and temp files left by crashed runs, and only those.

    A scratch database is a leftover when nobody is connected to it, or when every session
    in it belongs to a rota run on this machine whose process is gone (backends of a killed
    restore linger a moment). Anything else is another run's drill in progress (another
    rota setup verifying against the same server): reported, never dropped.

    Returns why the scratch server is unreachable ("" when it answered): the tiers that
    need no database run all the same, and the restore is reported as not done."""
    pattern = br.SCRATCH_PREFIX.replace("_", r"\_") + "%"
    me = parse_owner(d.owner)
    host = me[0] if me else ""
    names: list[str] = []
    in_use: list[dict[str, Any]] = []
    try:
        rows = d.admin.query(SWEEP_SQL, (pattern,))
    except TargetUnavailable as exc:
        rows, unreachable = [], str(exc)
    else:
        unreachable = ""
    for r in rows:
        owners = [parse_owner(app) for app in (r["apps"] or [])]
        if r["sessions"] and not all(
            o is not None and o[0] == host and not pid_alive(o[1]) for o in owners
        ):
            in_use.append({"database": r["datname"], "sessions": r["sessions"], "by": r["apps"]})
            continue
        d.admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(r['datname'])} WITH (FORCE)")
        names.append(r["datname"])
    files = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(d.temp_dir):
            m = _TEMP_RE.match(entry.name)
            if m and not pid_alive(int(m.group(1))):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    files.append(entry.path)
    where = d.admin.where
    evidence: dict[str, Any] = {"databases": names, "temp_files": files}
    if in_use:
        evidence["in_use_by_other_runs"] = in_use
    if unreachable:
        evidence["databases_not_checked"] = unreachable
    if names or files:
        yield finding(
            "backup.leftover_scratch",
            Severity.WARNING,
            f"swept {len(names)} scratch database(s) and {len(files)} temp file(s) left by an earlier crashed verification",
            where,
            {**evidence, "sql": "DROP DATABASE <name> WITH (FORCE)"},
            "An earlier backup.verify was killed mid-restore; look at why (OOM killer, timeout, reboot).",
        )
    else:
        more = f"; {len(in_use)} in use by another run, left alone" if in_use else ""
        if unreachable:
            more = "; scratch databases not checked (server unreachable)"
        yield finding(
            "backup.leftover_scratch",
            Severity.OK,
            f"no leftovers from earlier verifications{more}",
            where,
            evidence,
        )
    return unreachable


# -- T0 freshness ---------------------------------------------------------------------------
def freshness(d: Drill) -> Generator[Item, None, Any]:
    t0 = time.monotonic()
    pattern = str(d.cfg.pattern)
    backups = bf.list_backups(pattern, d.cfg.name_timezone)
    if not backups:
        yield finding(
            "backup.missing",
            Severity.CRITICAL,
            f"no backup matches {pattern}",
            pattern,
            {"pattern": pattern},
            "Check that backup.create (or the backup cron job) runs and writes there.",
        )
        return None
    yield finding(
        "backup.missing",
        Severity.OK,
        f"{len(backups)} backups match {pattern}",
        pattern,
        {"count": len(backups)},
    )
    newest = backups[-1]
    by_mtime = max(backups, key=lambda b: b.mtime)
    subject = str(newest.path)
    age = (d.now - newest.time).total_seconds()
    ev: dict[str, Any] = {
        "file": subject,
        "time": newest.time.isoformat(timespec="seconds"),
        "time_from": newest.time_from,
        "name_time": newest.when.isoformat() if newest.when else None,
        "mtime": newest.mtime.isoformat(timespec="seconds"),
        "age_s": round(age),
        "max_age_s": d.cfg.max_age,
        "command": f"ls {pattern}",
    }
    if newest.when is not None:
        ev.update(name_stamp=newest.stamp, name_zone=newest.zone)
    if newest.when is None:
        # Not a fault (many backup scripts name files so), and not worth a warning every
        # day: the finding and its evidence say where the age comes from.
        yield finding(
            "backup.mtime_mismatch",
            Severity.OK,
            f"{newest.path.name} has no time in its name; its age is its mtime's",
            subject,
            ev,
            "A time in the name (date +%Y%m%d_%H%M%S) keeps a copy from changing the backup's age.",
        )
    else:
        skew = (newest.mtime - newest.when).total_seconds()
        # A name with only a date (or hour) says the backup was taken within that day.
        slack = _MTIME_SLACK_S + newest.precision.total_seconds()
        if skew < -300 or skew > slack or by_mtime.path != newest.path:
            yield finding(
                "backup.mtime_mismatch",
                Severity.WARNING,
                f"{newest.path.name}: mtime differs from the time in its name by {format_duration(skew)}"
                + (
                    f"; by mtime the newest is {by_mtime.path.name}"
                    if by_mtime.path != newest.path
                    else ""
                ),
                subject,
                {**ev, "skew_s": round(skew), "newest_by_mtime": str(by_mtime.path)},
                "The file was copied or touched after it was written; rota trusts the name (ls -t would not).",
            )
        else:
            yield finding(
                "backup.mtime_mismatch",
                Severity.OK,
                "mtime agrees with the time in the name",
                subject,
                ev,
            )
    yield Metric("backup.age_seconds", round(age), "s")
    if age > d.cfg.max_age:
        yield finding(
            "backup.stale",
            Severity.CRITICAL,
            f"newest backup {newest.path.name} is {format_duration(age)} old (RPO {format_duration(d.cfg.max_age)})",
            subject,
            ev,
            "Backups have stopped: check the backup job, its logs and free disk space.",
        )
    else:
        yield finding(
            "backup.stale",
            Severity.OK,
            f"newest backup is {format_duration(age)} old",
            subject,
            ev,
        )
    recent = [b.size for b in backups[-8:-1] if b.size > 0]
    if len(recent) >= 2:
        median = statistics.median(recent)
        change = (newest.size - median) / median * 100 if median else 0.0
        sev = Severity.WARNING if abs(change) > d.cfg.size_change else Severity.OK
        yield finding(
            "backup.size_anomaly",
            sev,
            f"{newest.path.name} is {format_size(newest.size)}, {change:+.0f}% against the median "
            f"of the last {len(recent)} ({format_size(median)})",
            subject,
            {
                "size_bytes": newest.size,
                "median_bytes": median,
                "change_percent": round(change, 1),
                "limit_percent": d.cfg.size_change,
            },
            "A backup much smaller than usual often means a failed or partial dump; much larger, runaway growth.",
        )
    yield Metric("backup.size_bytes", newest.size, "B")
    d.phase("freshness", t0)
    return newest


# -- T1 integrity ---------------------------------------------------------------------------
def integrity(d: Drill, b: bf.BackupFile, temp: Path) -> Generator[Item, None, Any]:
    t0 = time.monotonic()
    subject = str(b.path)
    if b.path.is_dir():
        return (yield from _integrity_dir(d, b, t0))
    copy_to: Path | None = temp
    # gzip keeps the decompressed size modulo 4 GiB: an estimate, so the scan also watches
    # free space while it writes and falls back to a pipe rather than fill the disk.
    need = max(b.size, gzip_isize(b.path)) * 1.1 + SPACE_RESERVE
    try:
        free = shutil.disk_usage(d.temp_dir).free
    except OSError:
        free = 0
    if free < need:
        copy_to = None
    d.receipt["seekable_copy"] = {
        "dir": str(d.temp_dir),
        "free_bytes": free,
        "needed_bytes": int(need),
        "used": copy_to is not None,
    }
    try:
        expected = bf.read_sidecar(b.path)
    except (OSError, ValueError) as exc:
        expected = None
        yield finding(
            "backup.checksum_mismatch", Severity.WARNING, f"sidecar unreadable: {exc}", subject
        )
    try:
        s = scan(b.path, copy_to)
    except ScanError as exc:
        if expected and exc.sha256 and exc.sha256 != expected:
            yield finding(
                "backup.checksum_mismatch",
                Severity.CRITICAL,
                f"{b.path.name}: sha256 does not match its sidecar",
                subject,
                {"file": subject, "sha256": exc.sha256, "expected": expected},
                "The file changed after it was written (bit rot, a partial copy): use another backup.",
            )
        yield finding(
            "backup.corrupt",
            Severity.CRITICAL,
            f"{b.path.name}: {exc}",
            subject,
            {"file": subject, "size_bytes": b.size, "command": f"gzip -t {b.path}"},
            "Restore from the previous backup and find out why this one is damaged (disk full, "
            "a killed dump, an interrupted copy).",
        )
        return None
    d.receipt.update(sha256=s.sha256, format=s.format, gzip=s.gzip, content_bytes=s.content_bytes)
    if s.copy_abandoned:
        d.receipt["seekable_copy"].update(used=False, abandoned=s.copy_abandoned)
    ev = {
        "file": subject,
        "sha256": s.sha256,
        "expected": expected,
        "command": f"sha256sum -c {b.path.name}.sha256",
    }
    if expected is None:
        yield finding(
            "backup.checksum_mismatch",
            # Backups made by the runbook's own script have none; the gzip CRC and the
            # archive's table of contents are still checked, so this is advice, not a fault.
            Severity.OK,
            f"{b.path.name} has no .sha256 sidecar (integrity judged by gzip CRC and archive TOC)",
            subject,
            ev,
            "Write one when the backup is made (backup.create does), so copies can be checked.",
        )
    elif expected != s.sha256:
        yield finding(
            "backup.checksum_mismatch",
            Severity.CRITICAL,
            f"{b.path.name}: sha256 does not match its sidecar",
            subject,
            ev,
            "The file changed after it was written (bit rot, a partial copy): use another backup.",
        )
        return None
    else:
        yield finding(
            "backup.checksum_mismatch", Severity.OK, "sha256 matches the sidecar", subject, ev
        )
    if s.format == "unknown":
        yield finding(
            "backup.corrupt",
            Severity.CRITICAL,
            f"{b.path.name} is neither a pg_dump custom archive nor plain SQL",
            subject,
            {"file": subject, "gzip": s.gzip},
            "Check what wrote this file; restore from another backup.",
        )
        return None
    if s.format == "plain":
        if not s.complete_trailer:
            yield finding(
                "backup.corrupt",
                Severity.CRITICAL,
                f"{b.path.name}: plain SQL dump lacks pg_dump's closing 'dump complete' line (cut short)",
                subject,
                {"file": subject, "content_bytes": s.content_bytes},
                "pg_dump stopped before the end; find out why and take a new backup.",
            )
            return None
        d.phase("integrity", t0)
        yield finding(
            "backup.corrupt",
            Severity.OK,
            f"{b.path.name}: complete plain SQL dump",
            subject,
            {"format": "plain", "gzip": s.gzip},
        )
        return ("plain", b.path, s.gzip)
    archive = s.copied_to or b.path
    piped = s.gzip and s.copied_to is None
    ok = yield from _toc(d, b, archive if not piped else None, t0)
    return ("custom", archive, piped) if ok else None


def _integrity_dir(d: Drill, b: bf.BackupFile, t0: float) -> Generator[Item, None, Any]:
    if not (b.path / "toc.dat").is_file():
        yield finding(
            "backup.corrupt",
            Severity.CRITICAL,
            f"{b.path.name} is a directory without toc.dat",
            str(b.path),
            {"file": str(b.path)},
            "Not a pg_dump -Fd archive: restore from another backup.",
        )
        return None
    d.receipt.update(format="directory", gzip=False)
    ok = yield from _toc(d, b, b.path, t0)
    return ("custom", b.path, False) if ok else None


def _toc(d: Drill, b: bf.BackupFile, archive: Path | None, t0: float) -> Generator[Item, None, Any]:
    subject = str(b.path)
    try:
        pg_restore = d.tools.find("pg_restore")
        if archive is None:
            res = d.tools.run(
                [shutil.which("gzip") or "gzip", "-dc", str(b.path)],
                [str(pg_restore), "-l"],
                capture=True,
                reads_part=True,  # the gzip stream was read to its end by the scan already
            )
        else:
            res = d.tools.run([str(pg_restore), "-l", str(archive)], capture=True)
    except PgToolError as exc:
        yield finding(
            "backup.corrupt",
            Severity.CRITICAL,
            f"{b.path.name}: pg_restore cannot read its table of contents: {exc.stderr}",
            subject,
            {"file": subject, "command": f"pg_restore -l {b.path.name}", "error": str(exc)},
            "The archive is damaged, or newer than this pg_restore: set [backups] bindir to a newer client.",
        )
        return False
    toc = res.stdout.decode(errors="replace")
    dumped_by = _toc_field(toc, "Dumped by pg_dump version")
    dumped_from = _toc_field(toc, "Dumped from database version")
    entries = [ln for ln in toc.splitlines() if ln and not ln.startswith(";")]
    data = [ln for ln in entries if " TABLE DATA " in ln]
    restore_ver = d.tools.version(pg_restore)
    d.receipt.update(
        pg_dump_version=dumped_by,
        server_version=dumped_from,
        pg_restore_version=".".join(map(str, restore_ver)),
        toc_entries=len(entries),
    )
    ev = {
        "file": subject,
        "toc_entries": len(entries),
        "table_data_entries": len(data),
        "dumped_by": dumped_by,
        "dumped_from": dumped_from,
        "pg_restore": str(pg_restore),
        "command": f"pg_restore -l {b.path.name}",
    }
    dump_major = (
        int(dumped_by.split(".")[0]) if dumped_by and dumped_by.split(".")[0].isdigit() else 0
    )
    if dump_major > restore_ver[0]:
        yield finding(
            "backup.restore_failed",
            Severity.UNKNOWN,
            f"pg_restore {restore_ver[0]} is older than the pg_dump {dumped_by} that made {b.path.name}",
            subject,
            ev,
            f"Install the PostgreSQL {dump_major} client, or set [backups] bindir to it.",
        )
        return False
    d.phase("integrity", t0)
    yield finding(
        "backup.corrupt",
        Severity.OK,
        f"{b.path.name}: intact custom archive, {len(entries)} TOC entries",
        subject,
        ev,
    )
    return True


def _toc_field(toc: str, label: str) -> str:
    m = re.search(re.escape(label) + r":\s*(\S+)", toc)
    return m.group(1) if m else ""
