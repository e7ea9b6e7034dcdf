"""Log management: the runbook's weekly "Log rotation verification".

Per configured log directory: the filesystem's use, and per log family (``app.log`` with
its rotated ``app.log-YYYYMMDD[.gz]`` or ``app.log.N[.gz]`` files) whether the live file is
still written, whether rotation produced a file every period with no gaps, whether rotated
files were compressed, whether the compressed ones decompress to their end, and whether
any outlived the retention. Everything but the integrity read is a ``stat``; the integrity
reads run in a thread pool (zlib releases the GIL) and are bounded by
``[logs] verify_max_bytes`` per file. An archive that decompressed cleanly is remembered
(its size, mtime and inode, in rota's state directory) and not read again until
``[logs] reverify_after`` has passed, so a weekly run reads the week's new archives, not
the whole month again.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from rota.locks import state_file
from rota.model import Finding, Metric, Severity
from rota.targets.files import Files, IntegrityResult, LogFile, content_age, write_atomically
from rota.task import Context, Item, task
from rota.units import format_duration, format_size

DAY = 86_400.0


@task(
    id="logs.rotation",
    title="Log rotation verification",
    section="Log management",
    frequency="weekly",
    priority="medium",
    needs=("files",),
    purpose="Make sure logs keep rotating, compressing and expiring as configured, so the "
    "disk never fills with logs and the history needed to investigate an incident is there, "
    "complete and readable.",
    prerequisites=[
        "[logs] paths: globs of the live and rotated log files",
        "Read access to the log directories (and to /proc to see who holds files open)",
    ],
    procedure=[
        "For each configured directory, measure the logs' total size and the use of the "
        "filesystem holding them (df).",
        "Group files into families (app.log with app.log-YYYYMMDD[.gz] or app.log.N[.gz]).",
        "Check each live file was written within [logs] stale_after.",
        "Infer the rotation period from the dates in the names (or the mtimes of numbered "
        "files) and list the periods with no rotated file, including since the newest one.",
        "Report rotated files left uncompressed (except the newest under delaycompress).",
        "Decompress every compressed rotated file to its end (gzip -t), in parallel; one "
        "unchanged since it last decompressed cleanly is read again after [logs] reverify_after.",
        "Report rotated files older than [logs] retention_days.",
    ],
    expected_outcome="Every live log written recently, one rotated file per period with no "
    "gaps, all but the newest compressed, every archive intact, none past retention, and "
    "the filesystem below the warning threshold.",
    rollback="Nothing to roll back: the task only reads.",
    time_estimate="30s",
    manual_time="30 minutes",
    timeout="15m",
    codes=(
        "logs.disk.usage",
        "logs.rotation.stale",
        "logs.rotation.gap",
        "logs.rotation.uncompressed",
        "logs.rotation.corrupt",
        "logs.retention.exceeded",
        "logs.paths.missing",
    ),
)
def rotation(ctx: Context) -> Iterator[Item]:
    files: Files = ctx.target("files")
    cfg = ctx.config.logs
    for pattern in files.missing_patterns():
        yield Finding(
            "logs.paths.missing",
            Severity.UNKNOWN,
            f"the directory of {pattern} does not exist; its logs cannot be checked",
            pattern,
            {"pattern": pattern},
            "Fix [logs] paths, or create the directory the service logs to.",
        )
    now = time.time()
    listing = files.listing()
    by_dir: dict[str, list[LogFile]] = defaultdict(list)
    for f in listing:
        by_dir[f.directory].append(f)
    t0 = time.perf_counter()
    verified, trusted = _verify_all(ctx, files, listing, now)
    verify_s = time.perf_counter() - t0
    yield Metric("logs.rotation.verify_seconds", round(verify_s, 3), "s")
    for directory in sorted(files.dirs):
        members = by_dir.get(directory, [])
        yield from _directory(ctx, files, directory, members, now)
        if not members:
            continue
        for family_path, family in sorted(files.families(members).items()):
            if ctx.cancelled.is_set():
                return
            yield from _stale(ctx, family_path, family, now)
            yield from _gaps(family_path, family, now)
            yield from _uncompressed(family_path, family, now)
            yield from _corrupt(family_path, family, verified, trusted, cfg.reverify_after)
            yield from _retention(ctx, family_path, family, now)


def _verify_all(
    ctx: Context, files: Files, listing: list[LogFile], now: float
) -> tuple[dict[str, IntegrityResult], set[str]]:
    """Integrity of every compressed rotated file, and which of them were trusted from an
    earlier run (unchanged since it decompressed cleanly, within ``reverify_after``)."""
    cfg = ctx.config.logs
    todo = [f for f in listing if f.is_regular and f.rotated and f.info.compressed]
    if not todo:
        return {}, set()
    where = _trust_file(cfg.paths)
    known = _load_trust(where) if cfg.reverify_after > 0 else {}
    results: dict[str, IntegrityResult] = {}
    trusted: set[str] = set()
    for f in todo:
        e = known.get(f.path)
        if e and e["id"] == _identity(f) and 0 <= now - e["at"] < cfg.reverify_after:
            results[f.path] = IntegrityResult(True, True, e["read"], e["out"])
            trusted.add(f.path)
    fresh = [f for f in todo if f.path not in trusted]

    def one(f: LogFile) -> IntegrityResult:
        if ctx.cancelled.is_set():
            return IntegrityResult(True, False, 0, 0, "cancelled")
        return files.check_integrity(f, limit=cfg.verify_max_bytes)

    # Largest first, so one big archive does not start last and finish alone.
    fresh.sort(key=lambda f: f.size, reverse=True)
    if fresh:
        with ThreadPoolExecutor(max_workers=max(1, min(len(fresh), os.cpu_count() or 1))) as pool:
            results |= dict(zip((f.path for f in fresh), pool.map(one, fresh), strict=True))
    if cfg.reverify_after > 0:
        keep = {
            f.path: {
                "id": _identity(f),
                "at": known[f.path]["at"] if f.path in trusted else now,
                "read": results[f.path].compressed_bytes,
                "out": results[f.path].uncompressed_bytes,
            }
            for f in todo
            if results[f.path].ok and results[f.path].complete
        }
        with contextlib.suppress(OSError):  # unsaved: the next run reads everything again
            write_atomically(where, json.dumps(keep))
    return results, trusted


def _identity(f: LogFile) -> list[float]:
    return [f.size, f.mtime, f.inode, f.device]


def _trust_file(patterns: list[str]) -> Path:
    return state_file("logs", patterns, ".verified.json")


def _load_trust(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _directory(
    ctx: Context, files: Files, directory: str, members: list[LogFile], now: float
) -> Iterator[Item]:
    cfg = ctx.config.logs
    regular = [f for f in members if f.is_regular]
    total = sum(f.size for f in regular)
    labels = {"dir": directory}
    yield Metric("logs.dir.bytes", total, "bytes", labels)
    yield Metric("logs.dir.files", len(regular), "count", labels)
    if regular:
        ages = [now - f.mtime for f in regular]
        yield Metric("logs.dir.oldest_age", round(max(ages)), "s", labels)
        yield Metric("logs.dir.newest_age", round(min(ages)), "s", labels)
    else:
        yield Finding(
            "logs.paths.missing",
            Severity.UNKNOWN,
            f"no log files match [logs] paths in {directory}",
            directory,
            {"patterns": files.dirs[directory]},
            "Check the globs in [logs] paths against the file names the service writes.",
        )
    usage = files.disk_usage(directory)
    pct = usage.percent
    yield Metric("logs.disk.used_percent", round(pct, 2), "percent", labels)
    yield Metric("logs.disk.free", usage.free, "bytes", labels)
    warn, crit = cfg.disk_warning_percent, cfg.disk_critical_percent
    sev = Severity.CRITICAL if pct >= crit else Severity.WARNING if pct >= warn else Severity.OK
    yield Finding(
        "logs.disk.usage",
        sev,
        f"filesystem of {directory} is {pct:.0f}% used ({format_size(usage.free)} free); "
        f"logs there take {format_size(total)}",
        directory,
        {
            "used_percent": round(pct, 2),
            "total_bytes": usage.total,
            "used_bytes": usage.used,
            "free_bytes": usage.free,
            "log_bytes": total,
            "log_files": len(regular),
            # Matched but never followed or counted: symlinks and other non-regular entries.
            "ignored": [f.name for f in members if not f.is_regular][:20],
            "warning_percent": warn,
            "critical_percent": crit,
            "command": f"df -P {directory}; du -sb {directory}",
        },
        ""
        if sev is Severity.OK
        else "Run logs.cleanup --apply, shorten retention, or find what else fills the filesystem (du -x).",
    )


def _stale(ctx: Context, family_path: str, family: list[LogFile], now: float) -> Iterator[Item]:
    limit = ctx.config.logs.stale_after
    live = next((f for f in family if f.info.kind == "live"), None)
    newest = live or family[0]
    age = now - newest.mtime
    evidence = {
        "file": newest.path,
        "last_write": _iso(newest.mtime),
        "age_s": round(age),
        "stale_after_s": limit,
        "command": f"stat -c '%y %n' {newest.path}",
    }
    what = "live log" if live else f"newest file of {os.path.basename(family_path)} (no live file)"
    if age > limit:
        yield Finding(
            "logs.rotation.stale",
            Severity.WARNING,
            f"{what} {newest.name} not written for {format_duration(age)} "
            f"(limit {format_duration(limit)})",
            newest.path,
            evidence,
            "Check the service is running and still logs here (a changed log path, a full "
            "disk, or logrotate's copytruncate/create not reopening the file).",
        )
    else:
        yield Finding(
            "logs.rotation.stale",
            Severity.OK,
            f"{what} {newest.name} written {format_duration(age)} ago",
            newest.path,
            evidence,
        )


def _period_days(days: list[date]) -> int:
    diffs = [(b - a).days for a, b in itertools.pairwise(days) if b > a]
    if not diffs:
        return 1
    return max(1, int(statistics.median(diffs)))


def _gaps(family_path: str, family: list[LogFile], now: float) -> Iterator[Item]:
    name = os.path.basename(family_path)
    dated = sorted({f.info.day for f in family if f.info.day is not None})
    numbered = sorted(f.info.number for f in family if f.info.number is not None)
    if not dated and not numbered:
        yield Finding(
            "logs.rotation.gap",
            Severity.OK,
            f"{name}: no rotated files yet; nothing to compare",
            family_path,
            {"files": [f.name for f in family]},
        )
        return
    problems: list[str] = []
    evidence: dict[str, Any] = {"command": f"ls -l {family_path}*"}
    if dated:
        period = _period_days(dated)
        missing: list[str] = []
        for a, b in itertools.pairwise(dated):
            if (b - a).days > period * 1.5:
                step = a + timedelta(days=period)
                while step < b and len(missing) < 60:
                    missing.append(step.isoformat())
                    step += timedelta(days=period)
        today = datetime.fromtimestamp(now).date()
        behind = (today - dated[-1]).days
        # dateyesterday names the newest file after yesterday; without it, after today.
        if behind > period + 1:
            problems.append(
                f"no rotated file since {dated[-1].isoformat()} ({behind} days; "
                f"period {period} day{'s' if period > 1 else ''})"
            )
        if missing:
            problems.append(f"{len(missing)} missing: {', '.join(missing[:10])}")
        evidence |= {
            "period_days": period,
            "first": dated[0].isoformat(),
            "last": dated[-1].isoformat(),
            "rotated_files": len(dated),
            "missing": missing,
            "days_since_last": behind,
        }
    if numbered:
        holes = sorted(set(range(numbered[0], numbered[-1] + 1)) - set(numbered))
        if holes:
            problems.append(
                f"numbered files missing: {', '.join(f'{name}.{n}' for n in holes[:10])}"
            )
        mtimes = {f.info.number: f.mtime for f in family if f.info.number is not None}
        newest_rotated = now - mtimes[numbered[0]]
        evidence |= {
            "numbers": [numbered[0], numbered[-1]],
            "missing_numbers": holes,
            "newest_rotated_age_s": round(newest_rotated),
        }
        if len(numbered) >= 3:
            spans = [mtimes[a] - mtimes[b] for a, b in itertools.pairwise(numbered)]
            period_s = max(DAY / 24, statistics.median(spans))
            evidence["period_s"] = round(period_s)
            if newest_rotated > 2 * period_s + DAY:
                problems.append(
                    f"no rotation for {format_duration(newest_rotated)} "
                    f"(usual period {format_duration(period_s)})"
                )
    if problems:
        yield Finding(
            "logs.rotation.gap",
            Severity.WARNING,
            f"{name}: rotation gap: {'; '.join(problems)}",
            family_path,
            evidence,
            "Check logrotate ran (its state file, cron/systemd timer, `logrotate -d`); a day "
            "with no lines leaves no file under notifempty, which is expected.",
        )
    else:
        yield Finding(
            "logs.rotation.gap",
            Severity.OK,
            f"{name}: one rotated file per period, no gaps",
            family_path,
            evidence,
        )


def _uncompressed(family_path: str, family: list[LogFile], now: float) -> Iterator[Item]:
    name = os.path.basename(family_path)
    rotated = [f for f in family if f.rotated]  # newest first
    plain = [f for f in rotated if not f.info.compressed]
    exempt = None
    # delaycompress keeps the newest rotated file plain (the service may still write to it
    # until it reopens its log); that is only evident when older ones are compressed, or
    # when there is no older one yet.
    if (
        rotated
        and not rotated[0].info.compressed
        and (len(rotated) == 1 or any(f.info.compressed for f in rotated[1:]))
    ):
        exempt = rotated[0]
    bad = [f for f in plain if f is not exempt]
    for f in bad:
        yield Finding(
            "logs.rotation.uncompressed",
            Severity.WARNING,
            f"rotated {f.name} is not compressed ({format_size(f.size)}, "
            f"{format_duration(now - f.mtime)} old)",
            f.path,
            {"bytes": f.size, "last_write": _iso(f.mtime), "command": f"ls -l {f.path}"},
            "Enable `compress` in the logrotate config, and gzip the leftover files by hand.",
        )
    if not bad:
        note = f" (newest, {exempt.name}, left for delaycompress)" if exempt else ""
        yield Finding(
            "logs.rotation.uncompressed",
            Severity.OK,
            f"{name}: all {len(rotated) - (1 if exempt else 0)} older rotated files compressed{note}",
            family_path,
            {"rotated_files": len(rotated), "delaycompress": exempt is not None},
        )


def _corrupt(
    family_path: str,
    family: list[LogFile],
    verified: dict[str, IntegrityResult],
    trusted: set[str],
    reverify_after: float,
) -> Iterator[Item]:
    name = os.path.basename(family_path)
    checked = [(f, verified[f.path]) for f in family if f.path in verified]
    bad = [(f, r) for f, r in checked if not r.ok]
    for f, r in bad:
        yield Finding(
            "logs.rotation.corrupt",
            Severity.WARNING,
            f"{f.name} is unreadable: {r.error}",
            f.path,
            {
                "error": r.error,
                "bytes": f.size,
                "read_bytes": r.compressed_bytes,
                "decompressed_bytes": r.uncompressed_bytes,
                "command": f"gzip -tv {f.path}",
            },
            "The archive lost data (disk full or a crash while compressing): keep what "
            "decompresses (zcat > file), and check free space during rotation.",
        )
    if not bad:
        partial = [f.name for f, r in checked if not r.complete]
        note = f"; {len(partial)} verified only up to [logs] verify_max_bytes" if partial else ""
        known = sum(1 for f, _ in checked if f.path in trusted)
        if known:
            note += (
                f"; {known} unchanged since they were read within {format_duration(reverify_after)}"
            )
        yield Finding(
            "logs.rotation.corrupt",
            Severity.OK,
            f"{name}: {len(checked)} compressed files decompress to the end{note}",
            family_path,
            {
                "verified": len(checked),
                "read_now": len(checked) - known,
                "trusted_unchanged": known,
                "compressed_bytes": sum(r.compressed_bytes for _, r in checked),
                "decompressed_bytes": sum(r.uncompressed_bytes for _, r in checked),
                "partly_verified": partial,
            },
        )


def _retention(ctx: Context, family_path: str, family: list[LogFile], now: float) -> Iterator[Item]:
    name = os.path.basename(family_path)
    days = ctx.config.logs.retention_days
    old = []
    for f in family:
        if f.rotated:
            age, basis = content_age(f, now)
            if age > days * DAY:
                old.append((f, age, basis))
    evidence: dict[str, Any] = {
        "retention_days": days,
        "cutoff": _iso(now - days * DAY),
    }
    if old:
        old.sort(key=lambda x: -x[1])
        evidence |= {
            "files": [
                {"path": f.path, "bytes": f.size, "age_days": round(age / DAY, 1), "basis": basis}
                for f, age, basis in old[:50]
            ],
            "count": len(old),
            "bytes": sum(f.size for f, _, _ in old),
        }
        yield Finding(
            "logs.retention.exceeded",
            Severity.WARNING,
            f"{name}: {len(old)} rotated files older than {days} days "
            f"({format_size(evidence['bytes'])}, oldest {old[0][1] / DAY:.0f} days)",
            family_path,
            evidence,
            "Run `rota run logs.cleanup --apply`, and check logrotate's `rotate`/`maxage` "
            "match the retention.",
        )
    else:
        yield Finding(
            "logs.retention.exceeded",
            Severity.OK,
            f"{name}: no rotated file older than {days} days",
            family_path,
            evidence,
        )


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


TASKS = [rotation]
