"""The probes of a triage: database, service, process, logs, host; run at once, each
bounded by its own timeout.

A probe is a function of a :class:`Session` that returns a JSON-able dict of what it saw,
or raises. It reaches the platform only through targets opened from the app's registry,
read-only (``Session.open``), and reuses the queries and parsers the tasks already have:
``pg_stat_activity`` and the blocking-chain walk of ``db.connections``, the
``pg_stat_statements`` reads of ``db.tuning``, the cache statistics of ``cache.review``,
the line parser of the log scanner.

:func:`run_probes` starts every probe in its own thread and waits for each until its
timeout (and the snapshot's deadline): a probe that raises or runs out of time becomes
``unknown`` with the reason (its PostgreSQL query is cancelled at the server), one whose
section is not configured is ``skipped``, and neither stops the others.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rota.errors import TargetUnavailable
from rota.history.store import dump_json
from rota.text import error_line
from rota.triage.database import database
from rota.triage.model import Probe
from rota.triage.process import process
from rota.triage.session import TOP, NotConfigured, Options, Session

if TYPE_CHECKING:
    from rota.app import App
    from rota.config import Config
    from rota.history import History

LOG_TAIL_BYTES = 8 << 20  # per live log file: the last 8 MB (about 40,000 lines)
LOG_MAX_FILES = 20


ProbeFn = Callable[[Session], dict[str, Any]]


def run_probes(
    app: App,
    config: Config,
    history: History | None,
    options: Options,
    probes: dict[str, ProbeFn] | None = None,
) -> list[Probe]:
    """Every probe at once, each in its own thread; a failure or a timeout is ``unknown``."""
    chosen = probes if probes is not None else PROBES
    start = time.monotonic()
    deadline = start + options.deadline_s
    running: list[tuple[Probe, Session, threading.Thread, dict[str, Any], float]] = []
    for name, fn in chosen.items():
        probe = Probe(name)
        session = Session(app, config, history, options, name)
        box: dict[str, Any] = {}
        thread = threading.Thread(
            target=_run_one, args=(fn, session, box), name=f"rota-triage-{name}", daemon=True
        )
        thread.start()
        running.append((probe, session, thread, box, options.timeouts.get(name, 5.0)))
    out = []
    for probe, session, thread, box, timeout in running:
        thread.join(max(0.0, min(start + timeout, deadline) - time.monotonic()))
        if thread.is_alive():
            allowed = min(timeout, options.deadline_s)
            probe.status, probe.reason = "unknown", f"timed out after {allowed:g}s"
            probe.took_s = time.monotonic() - start
            session.cancel()  # the thread ends on its own once its query is cancelled
            thread.join(0.5)
        else:
            probe.took_s = box.get("took_s", 0.0)
            if "error" in box:
                exc = box["error"]
                probe.status = "skipped" if isinstance(exc, NotConfigured) else "unknown"
                probe.reason = error_line(
                    exc, typed=not isinstance(exc, TargetUnavailable | NotConfigured)
                )
            else:
                # JSON-able from here on (timestamps as ISO text), as it will be stored.
                probe.data = json.loads(dump_json(box.get("data", {})))
        if not thread.is_alive():
            session.close()
        out.append(probe)
    _database_filesystem(out)
    return out


def _run_one(fn: ProbeFn, session: Session, box: dict[str, Any]) -> None:
    t0 = time.monotonic()
    try:
        box["data"] = fn(session)
    except BaseException as exc:  # reported as the probe's reason, never raised further
        box["error"] = exc
    finally:
        box["took_s"] = time.monotonic() - t0


# --- service ---------------------------------------------------------------------------------


def service(s: Session) -> dict[str, Any]:
    """The health endpoint's status and latency, and the cache's statistics (hit ratio
    since the last triage when its counters allow)."""
    from rota.tasks.cache import cache_stats

    http = s.open("http")
    cfg = s.config.http
    health = http.get(cfg.health_path)
    body: Any = None
    try:
        body = health.json()
    except ValueError:
        pass
    data: dict[str, Any] = {
        "base_url": http.base_url,
        "health": {
            "path": cfg.health_path,
            "status": health.status,
            "latency_s": round(health.elapsed_s, 4),
            "reported": body.get("status") if isinstance(body, dict) else None,
            "checks": body.get("checks") if isinstance(body, dict) else None,
            "max_latency_s": cfg.max_latency,
        },
    }
    # The cache is one more look: if it fails, the health answer still stands.
    try:
        r = http.get(cfg.cache_health_path)
        body = r.json() if r.status == 200 else None
    except (TargetUnavailable, ValueError) as exc:
        data["cache_error"] = error_line(exc)
        return data
    stats = cache_stats(body) if isinstance(body, dict) else {}
    if r.status != 200 or "hit_ratio" not in stats:
        data["cache_error"] = f"{cfg.cache_health_path} gave no hit ratio (HTTP {r.status})"
    else:
        data["cache"] = _cache_window(s, stats, http.base_url)
    return data


def _cache_window(s: Session, stats: dict[str, float], base_url: str) -> dict[str, Any]:
    out: dict[str, Any] = {**stats, "window": "since the service started"}
    key = f"cache:{base_url}"
    before = s.load(key) or {}
    s.save(key, {k: stats[k] for k in ("hits", "misses") if k in stats})
    hits, misses = stats.get("hits"), stats.get("misses")
    if hits is not None and misses is not None and before:
        dh, dm = hits - before.get("hits", 0), misses - before.get("misses", 0)
        if dh >= 0 and dm >= 0 and dh + dm >= 20:  # enough lookups to say anything
            out["hit_ratio"] = round(dh / (dh + dm), 4)
            out["window"] = "since the last triage"
            out["lookups"] = dh + dm
    return out


# --- logs ------------------------------------------------------------------------------------


def logs(s: Session) -> dict[str, Any]:
    """Error groups, 5xx responses and latency percentiles of the last 15 minutes, by each
    line's own timestamp, from the tail of every live log file written in that window.

    Bounded twice, so a busy service's logs cannot hold up the snapshot: at most the last
    LOG_TAIL_BYTES of each file, and reading stops at 70% of the probe's budget. What was
    covered is in the answer: ``covered_from`` (the oldest line read in the window) and
    ``partial`` when a bound cut the window short."""
    from rota.logscan.analyze import LineParser
    from rota.logscan.results import Results
    from rota.logscan.runner import settings_for
    from rota.logscan.stats import Latency

    files = s.open("files")
    now = time.time()
    stop_at = time.monotonic() + 0.7 * s.budget
    cutoff = now - s.options.log_window_s
    settings = settings_for(s.config.logs)
    recent = [
        f for f in files.listing() if f.is_regular and not f.info.compressed and f.mtime >= cutoff
    ]
    recent.sort(key=lambda f: -f.mtime)
    res = Results()
    tails = [
        {
            "path": f.path,
            **_tail(
                Path(f.path),
                f.size,
                cutoff,
                stop_at,
                res,
                LineParser(res, settings, f.name),
                settings,
            ),
        }
        for f in recent[:LOG_MAX_FILES]
    ]
    every = Latency()
    for lat in res.routes.values():
        every.merge(lat)
    routes = [
        {"route": key, **lat.summary()} for key, lat in res.routes.items() if lat.requests >= 5
    ]
    routes.sort(key=lambda r: -float(r.get("p95") or 0))
    server_errors = sum(lat.errors for lat in res.routes.values())
    oldest = min((t["covered_from"] for t in tails if t["covered_from"]), default=None)
    return {
        "window_s": s.options.log_window_s,
        "covered_from": None if oldest is None else _iso(oldest),
        "partial": len(recent) > LOG_MAX_FILES or any(t["partial"] for t in tails),
        "files": tails,
        "lines": res.parsed,
        "requests": res.requests,
        "errors": res.errors,
        "server_errors": server_errors,
        "server_error_rate": round(server_errors / res.requests, 4) if res.requests else 0.0,
        "latency": every.summary() if every.requests else {},
        "routes": routes[:TOP],
        "groups": [
            {
                "group": g.id,
                "template": g.template,
                "level": g.level,
                "count": g.count,
                "sample": g.sample[:300],
            }
            for g in res.top_groups(TOP)
        ],
    }


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _tail(
    path: Path,
    size: int,
    cutoff: float,
    stop_at: float,
    res: Any,
    parser: Any,
    settings: Any,
) -> dict[str, Any]:
    """Parse the lines of ``path``'s tail whose own timestamp is ``cutoff`` or later."""
    from rota.logscan.formats import TimeReader, parse_line
    from rota.logscan.reader import ReadReport, read_chunks

    start = max(0, size - LOG_TAIL_BYTES)
    custom = settings.custom()
    times = TimeReader(settings.tz())
    kept = n = 0
    oldest: float | None = None
    stopped = False
    first = start > 0  # the first line of a tail is usually cut
    for block in read_chunks(path, start, False, ReadReport()):
        if time.monotonic() > stop_at:  # out of time: the newest lines are not read
            stopped = True
            break
        for raw in block.split(b"\n")[:-1]:
            n += 1
            if first:
                first = False
                continue
            line = raw.decode(errors="replace")
            rec = (custom.parse(line) if custom is not None else None) or parse_line(line)
            epoch = times.epoch(rec.ts) if rec is not None else None
            if epoch is None or epoch < cutoff:
                continue
            kept += 1
            oldest = epoch if oldest is None else min(oldest, epoch)
            parser.line(raw, n)
    return {
        "tail_bytes": size - start,
        "lines_in_window": kept,
        "covered_from": oldest,
        # The tail began inside the window (more than a minute after its start).
        "partial": stopped or (start > 0 and (oldest is None or oldest > cutoff + 60)),
    }


# --- host ------------------------------------------------------------------------------------


def host(s: Session) -> dict[str, Any]:
    """Load average per CPU, I/O wait and memory (psutil), and the use of the logs'
    filesystems (the database's is added from the database probe)."""
    import psutil

    load1, load5, load15 = os.getloadavg()
    cpus = os.cpu_count() or 1
    times = psutil.cpu_times_percent(interval=0.5)
    mem = psutil.virtual_memory()
    data: dict[str, Any] = {
        "cpus": cpus,
        "load": [round(load1, 2), round(load5, 2), round(load15, 2)],
        "load_per_cpu": round(load1 / cpus, 2),
        "iowait_percent": round(float(getattr(times, "iowait", 0.0)), 1),
        "cpu_busy_percent": round(100.0 - float(times.idle), 1),
        "memory_percent": round(float(mem.percent), 1),
        "filesystems": [],
    }
    try:
        files = s.open("files")
    except (NotConfigured, TargetUnavailable):
        return data
    seen: set[int] = set()
    for directory in sorted(files.dirs):
        data["filesystems"].extend(_filesystem("logs", directory, seen))
    return data


def _filesystem(role: str, directory: str, seen: set[int]) -> Iterator[dict[str, Any]]:
    from rota.targets.files import disk_usage

    try:
        dev = os.stat(directory).st_dev
        if dev in seen:
            return
        seen.add(dev)
        u = disk_usage(directory)
    except OSError:
        return
    yield {
        "role": role,
        "path": directory,
        "percent": round(u.percent, 1),
        "free_bytes": u.free,
        "total_bytes": u.total,
    }


def _database_filesystem(probes: list[Probe]) -> None:
    """The database's filesystem on the host probe, once the database probe found a local
    data directory (a statvfs: nothing to wait for)."""
    db = next((p for p in probes if p.name == "database" and p.status == "ok"), None)
    hst = next((p for p in probes if p.name == "host" and p.status == "ok"), None)
    if db is None or hst is None or not db.data.get("data_directory"):
        return
    directory = db.data["data_directory"]
    try:
        dev = os.stat(directory).st_dev
    except OSError:
        return
    for fs in hst.data["filesystems"]:  # the logs live on the same filesystem
        try:
            if os.stat(fs["path"]).st_dev == dev:
                fs["role"] += ", database"
                return
        except OSError:
            continue
    hst.data["filesystems"][:0] = list(_filesystem("database", directory, set()))


PROBES: dict[str, ProbeFn] = {
    "database": database,
    "service": service,
    "process": process,
    "logs": logs,
    "host": host,
}
