"""Log management: the runbook's log cleanup (``find /var/log/rylie -mtime +30 -delete``), made safe.

Removes rotated log files past ``[logs] retention_days``, judged by the date in the name
when there is one (cross-checked with the mtime, the younger wins) and by the mtime
otherwise. The cutoff is explicit (``age > N days``, not find's rounded ``+N``). Only the
files target removes anything, and it refuses a path outside the configured directories,
a symlink, the live (newest) file of a family, a non-regular file and a file a process
holds open; each refused file is a skipped step that says why.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from rota.model import Finding, Metric, Severity, Step, StepStatus
from rota.targets.files import Files, LogFile, content_age, name_age
from rota.task import Context, Item, task
from rota.units import format_size

DAY = 86_400.0


@task(
    id="logs.cleanup",
    title="Log cleanup",
    section="Log management",
    frequency="weekly",
    priority="medium",
    mutates=True,
    needs=("files",),
    purpose="Keep log directories from filling the disk by removing rotated logs once they "
    "are past retention, without ever touching a live log, a file still in use, or "
    "anything outside the configured directories.",
    prerequisites=[
        "[logs] paths: globs of the live and rotated log files",
        "[logs] retention_days: how long rotated logs are kept",
        "Write access to the log directories and, to see every process's open files, root",
    ],
    procedure=[
        "List the files [logs] paths matches, in their configured directories (.. and "
        "symlinks in the patterns resolved first).",
        "Take each rotated file's age from the date in its name, cross-checked with its "
        "mtime (the younger wins), or from its mtime alone.",
        "For each file older than retention_days: skip it, saying why, when it is a symlink, "
        "not a regular file, the live or newest file of its family, or held open by a "
        "process (/proc/*/fd); otherwise plan its removal (path, age, size).",
        "With --apply, remove each planned file and record its path, size and mtime.",
    ],
    expected_outcome="No rotated log older than the retention; the total freed recorded.",
    rollback="Removed logs cannot be restored from rota; restore them from the host's "
    "backups if they are needed. Check mode lists every file first.",
    time_estimate="10s",
    manual_time="15 minutes",
    timeout="10m",
    codes=(
        "logs.cleanup.plan",
        "logs.cleanup.removed",
        "logs.cleanup.skipped",
        "logs.cleanup.failed",
        "logs.paths.missing",
    ),
)
def cleanup(ctx: Context) -> Iterator[Item]:
    files: Files = ctx.target("files")
    for pattern in files.missing_patterns():
        # Nothing to remove is not the same as nothing found: say the logs were not seen.
        yield Finding(
            "logs.paths.missing",
            Severity.UNKNOWN,
            f"the directory of {pattern} does not exist; nothing there can be cleaned up",
            pattern,
            {"pattern": pattern},
            "Fix [logs] paths, or create the directory the service logs to.",
        )
    days = ctx.config.logs.retention_days
    now = time.time()
    cutoff = now - days * DAY
    listing = files.listing()
    candidates: list[tuple[LogFile, float, str]] = []
    kept_by_mtime: list[str] = []  # the name says past retention, a recent mtime says not
    for f in listing:
        age, basis = content_age(f, now)
        if age > days * DAY:
            candidates.append((f, age, basis))
        elif (name_age(f, now) or 0) > days * DAY:
            kept_by_mtime.append(f.path)
    candidates.sort(key=lambda c: (-c[1], c[0].path))
    holders = files.open_files() if candidates else None
    planned: list[tuple[LogFile, Step]] = []
    skipped: list[dict[str, Any]] = []
    for f, age, basis in candidates:
        if ctx.cancelled.is_set():
            return
        detail = _detail(f, age, basis)
        why = files.why_not_removable(f.path, holders)
        if why:
            live = "live (newest)" in why
            skipped.append({**detail, "why": why, "live": live})
            yield Step(f"remove {f.path}", StepStatus.SKIPPED, 0.0, {**detail, "reason": why})
            continue
        step = ctx.action(
            f"remove {f.path}",
            _remover(files, f.path),
            reason=f"past retention: {detail['age_days']} days old > {days} days (by {basis})",
            lock="none",
            estimate_s=0.001,
            **detail,
        )
        planned.append((f, step))
        yield step

    evidence: dict[str, Any] = {
        "retention_days": days,
        "cutoff": _iso(cutoff),
        "directories": sorted(files.dirs),
        "files_seen": len(listing),
        "kept_by_recent_mtime": kept_by_mtime[:50],
    }
    total = sum(f.size for f, _ in planned)
    if not ctx.apply:
        yield Metric("logs.cleanup.bytes_to_free", total, "bytes")
        yield Finding(
            "logs.cleanup.plan",
            Severity.OK,
            f"would remove {len(planned)} rotated files past {days} days, "
            f"freeing {format_size(total)}"
            if planned
            else f"no rotated log past {days} days; nothing to remove",
            ", ".join(sorted(files.dirs)),
            {**evidence, "files": len(planned), "bytes": total},
            "Run again with --apply to remove them." if planned else "",
        )
    else:
        done = [(f, s) for f, s in planned if s.status is StepStatus.DONE]
        failed = [(f, s) for f, s in planned if s.status is not StepStatus.DONE]
        freed = sum(int(s.detail.get("bytes_freed", f.size)) for f, s in done)
        yield Metric("logs.cleanup.bytes_freed", freed, "bytes")
        yield Metric("logs.cleanup.files_removed", len(done), "count")
        yield Finding(
            "logs.cleanup.removed",
            Severity.OK,
            f"removed {len(done)} rotated files past {days} days, freed {format_size(freed)}",
            ", ".join(sorted(files.dirs)),
            {**evidence, "files": len(done), "bytes": freed, "removed": [f.path for f, _ in done]},
        )
        for f, s in failed:
            yield Finding(
                "logs.cleanup.failed",
                Severity.WARNING,
                f"could not remove {f.name}: {s.detail.get('error', s.status.value)}",
                f.path,
                dict(s.detail),
                "Check the file's directory permissions, or what changed it during the run.",
            )
    worrying = [s for s in skipped if not s["live"]]
    if worrying:
        yield Finding(
            "logs.cleanup.skipped",
            Severity.WARNING,
            f"{len(worrying)} file(s) past retention left in place: {worrying[0]['why']}"
            + (" (and others)" if len(worrying) > 1 else ""),
            worrying[0]["path"],
            {"skipped": worrying[:50]},
            "A held-open file is freed once its process reopens its log (reload it); "
            "remove symlinks and stray files by hand after checking what they are.",
        )
    else:
        yield Finding(
            "logs.cleanup.skipped",
            Severity.OK,
            "no file past retention had to be left in place"
            + (f" (live files kept: {len(skipped)})" if skipped else ""),
            ", ".join(sorted(files.dirs)),
            {"live_kept": [s["path"] for s in skipped]},
        )


def _remover(files: Files, path: str) -> Callable[[], dict[str, Any]]:
    return lambda: files.remove(path)


def _detail(f: LogFile, age: float, basis: str) -> dict[str, Any]:
    return {
        "path": f.path,
        "bytes": f.size,
        "mtime": _iso(f.mtime),
        "age_days": round(age / DAY, 1),
        "age_basis": basis,
        "date_in_name": f.info.day.isoformat() if f.info.day else None,
    }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


TASKS = [cleanup]
