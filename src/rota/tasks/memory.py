"""Performance: the runbook's "Memory Usage Monitoring" (``ps -o rss`` and ``top`` on
``node.*server``), with limits, OOM kills and growth over time.

Each selected process and its descendants form a group, judged as one: its RSS (summed
over the tree) against ``[process] memory_warning``/``memory_critical``, its share of the
limit that would end it (the cgroup's ``memory.max``, or the V8 heap limit of a Node.js
process), and OOM kills in its cgroup since the last run.

Growth is the slope of the group's RSS over ``leak_window``, fitted with Theil–Sen (the
median of the slopes between every pair of samples), which a single spike or a garbage
collection does not move. The samples are this task's own ``memory.tree_rss_bytes``
metrics in the history, keyed by the process's pid and start time, so a restart starts a
new series and the slope only ever covers the current process's life. A leak is growth of
at least ``leak_warning`` per hour that also adds up, over the samples' span, to 1 MiB and
1% of RSS; it is critical when, at that pace, the nearest limit is less than a day away.

No finding ever restarts anything. Under ``--apply``, when a threshold, limit or leak
finding is present, the task sends the signal a Node.js process asked for
(``--heapsnapshot-signal``, else ``--report-on-signal``), at most once a day per process,
so its heap snapshot or report is there to read; otherwise it says how to enable one.

A daily run gives one sample a day; to see a leak within ``leak_window`` run the task more
often (``[tasks."monitor.memory"] frequency = "every 30m"``). A leak test in CI does the
same by running ``rota run monitor.memory`` repeatedly against the service under load,
with a short ``leak_window`` and a small ``min_samples``.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rota.model import Finding, Metric, Severity, Step, StepStatus
from rota.task import Context, Item, task
from rota.units import format_duration, format_size

if TYPE_CHECKING:
    from rota.config.schema import ProcessConfig
    from rota.targets.process import Processes, ProcessSample

CODES = (
    "memory.rss",
    "memory.limit",
    "memory.leak",
    "memory.restart",
    "memory.oom_kill",
    "memory.diagnostic",
)
SERIES = "memory.tree_rss_bytes"
# Theil–Sen is O(n²) in the samples: a few hundred are plenty for a slope.
MAX_SAMPLES = 300
# A leak that reaches the limit within this long is critical: before the next daily check,
# the process may be OOM-killed.
LEAK_CRITICAL_HORIZON_S = 24 * 3600
# One diagnostic per process at most this often: a heap snapshot pauses the process.
DIAGNOSTIC_EVERY = timedelta(hours=24)
_COMMAND_CHARS = 120
# A leak must also add up over the samples' span, to at least this much and this share of
# RSS: the page-level noise between runs seconds apart, extrapolated to an hour, would
# otherwise look like one.
MIN_GROWTH_BYTES = 1024 * 1024
MIN_GROWTH_SHARE = 0.01


@task(
    id="monitor.memory",
    title="Memory usage monitoring",
    section="Performance optimization",
    frequency="daily",
    priority="high",
    mutates=True,
    needs=("process",),
    purpose="Catch a service that is running out of memory, or leaking it, before the "
    "kernel or V8 ends it: RSS against thresholds and limits, OOM kills, and growth over time.",
    prerequisites=[
        "[process] in rota.toml: match (a regex on the command line, default 'node.*server'), "
        "or pid_file, unit or cgroup",
        "rota runs as the service's user or as root, to read PSS and swap (smaps_rollup) and "
        "NODE_OPTIONS",
        "A history store: growth is measured from earlier runs' samples",
        'To measure growth, runs more often than daily: [tasks."monitor.memory"] frequency = '
        '"every 30m" (a CI leak test runs `rota run monitor.memory` repeatedly instead)',
        "For a diagnostic under --apply: node started with --heapsnapshot-signal=SIGUSR2 or "
        "--report-on-signal (on the command line or in NODE_OPTIONS)",
    ],
    procedure=[
        "Find the processes as `pgrep -f` would, each with its descendants, and read RSS, PSS "
        "and swap per process (ps -o pid,rss,command; /proc/PID/smaps_rollup).",
        "Sum each process tree's RSS and compare it with memory_warning and memory_critical.",
        "Compare the cgroup's working set with its memory.max, and each Node.js process's RSS "
        "with its V8 heap limit (--max-old-space-size), against limit_warning/limit_critical.",
        "Count OOM kills in the cgroup (memory.events oom_kill) since the last run.",
        "Fit the growth of the tree's RSS over leak_window (Theil–Sen, over the current "
        "process's life only) and project when it reaches the limit; note restarts.",
        "When a threshold, limit or leak finding is present, plan a diagnostic: with --apply, "
        "send the signal the process asked for (heap snapshot or diagnostic report). rota "
        "never restarts the service.",
    ],
    expected_outcome="RSS below the thresholds and under limit_warning of every limit, no "
    "OOM kill since the last run, and no growth above leak_warning per hour.",
    rollback="Nothing to roll back: the check only reads. A diagnostic signal leaves a heap "
    "snapshot or report file in the process's working directory (or --diagnostic-dir); "
    "delete it when done.",
    time_estimate="2s",
    manual_time="10 minutes",
    timeout="5m",
    codes=CODES,
)
def memory(ctx: Context) -> Iterator[Item]:
    procs = ctx.target("process")
    cfg = ctx.config.process
    samples = procs.find()
    now = datetime.now(UTC)
    groups = process_trees(samples)
    yield from _restarts(ctx, groups)
    troubled: list[tuple[list[ProcessSample], str]] = []
    for members in groups:
        yield from _metrics(members)
        why: list[str] = []
        for item in (
            _usage(members, cfg),
            _limits(members, cfg),
            _leak(ctx, members, cfg, now),
        ):
            for x in item:
                if isinstance(x, Finding) and x.severity is not Severity.OK:
                    why.append(x.message)
                yield x
        if why:
            troubled.append((members, why[0]))
    yield from _oom(ctx, samples)
    for members, reason in troubled:
        yield from _diagnostic(ctx, procs, members, reason, now)


@dataclass(frozen=True)
class _Limit:
    kind: str  # "memory.max" | "heap"
    pid: int
    name: str
    used: int
    limit: int
    where: str  # the cgroup, or the option that set it

    @property
    def share(self) -> float:
        return self.used / self.limit if self.limit else 0.0


def theil_sen(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """(slope, intercept) of the Theil–Sen line through ``points`` (x, y): the slope is the
    median of the slopes between every pair of points at different x, the intercept the
    median of ``y - slope * x``. One outlier moves it hardly at all, where least squares
    would follow it. Raises ValueError with fewer than two distinct x."""
    slopes = [
        (y2 - y1) / (x2 - x1)
        for i, (x1, y1) in enumerate(points)
        for x2, y2 in points[i + 1 :]
        if x2 != x1
    ]
    if not slopes:
        raise ValueError("a slope needs two points at different times")
    slope = statistics.median(slopes)
    intercept = statistics.median(y - slope * x for x, y in points)
    return slope, intercept


# -- groups and who they are ------------------------------------------------------------


def process_trees(samples: list[ProcessSample]) -> list[list[ProcessSample]]:
    """The selected processes, each first in a list with its descendants."""
    by_root: dict[int, list[ProcessSample]] = {}
    for s in samples:
        by_root.setdefault(s.root, []).append(s)
    return list(by_root.values())


def _short(command: str) -> str:
    return command if len(command) <= 60 else command[:57] + "..."


def _who(s: ProcessSample) -> str:
    return f"pid {s.pid} ({_short(s.command)})"


def _labels(s: ProcessSample) -> dict[str, str]:
    return {"pid": str(s.pid), "name": s.name}


def tree_rss(members: list[ProcessSample]) -> int:
    return sum(s.rss for s in members)


def _sum(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _signed(n: float) -> str:
    return ("+" if n >= 0 else "-") + format_size(abs(n))


def _process_evidence(s: ProcessSample) -> dict[str, Any]:
    return {
        "pid": s.pid,
        "ppid": s.ppid,
        "name": s.name,
        "command": s.command[:_COMMAND_CHARS],
        "rss_bytes": s.rss,
        "pss_bytes": s.pss,
        "swap_bytes": s.swap,
        "uptime_s": s.uptime_s,
        "cpu_percent": s.cpu_percent,
    }


# -- metrics and findings ---------------------------------------------------------------


def _metrics(members: list[ProcessSample]) -> Iterator[Item]:
    root = members[0]
    for s in members:
        yield Metric("memory.rss_bytes", s.rss, "bytes", _labels(s))
        if s.pss is not None:
            yield Metric("memory.pss_bytes", s.pss, "bytes", _labels(s))
        if s.swap is not None:
            yield Metric("memory.swap_bytes", s.swap, "bytes", _labels(s))
    # The growth series: pid and start time name one life of the process, so a restart
    # (even one that reuses the pid, as in a container) starts a new series.
    yield Metric(SERIES, tree_rss(members), "bytes", {**_labels(root), "started": root.started})
    yield Metric("memory.tree_processes", len(members), "count", _labels(root))


def _usage(members: list[ProcessSample], cfg: ProcessConfig) -> Iterator[Item]:
    root = members[0]
    rss = tree_rss(members)
    pss = _sum([s.pss for s in members])
    swap = _sum([s.swap for s in members])
    warn, crit = cfg.memory_warning, cfg.memory_critical
    sev = Severity.OK
    if crit is not None and rss >= crit:
        sev = Severity.CRITICAL
    elif warn is not None and rss >= warn:
        sev = Severity.WARNING
    parts = [f"RSS {format_size(rss)}"]
    if pss is not None:
        parts.append(f"PSS {format_size(pss)}")
    if swap:
        parts.append(f"swap {format_size(swap)}")
    n = len(members)
    tree = f" over {n} processes" if n > 1 else ""
    limits = [
        f"{name} {format_size(v)}" for name, v in (("warning", warn), ("critical", crit)) if v
    ]
    message = f"{_who(root)}: {', '.join(parts)}{tree}"
    if limits:
        message += f" ({', '.join(limits)})"
    pids = ",".join(str(s.pid) for s in members)
    yield Finding(
        "memory.rss",
        sev,
        message,
        _who(root),
        {
            "rss_bytes": rss,
            "pss_bytes": pss,
            "swap_bytes": swap,
            "processes": [_process_evidence(s) for s in members],
            "warning_bytes": warn,
            "critical_bytes": crit,
            "command": f"ps -o pid,ppid,rss,command -p {pids}",
        },
        ""
        if sev is Severity.OK
        else "See what holds the memory before anyone restarts the service: a heap snapshot "
        "(memory.diagnostic) or the process's own metrics. A restart only hides a leak.",
    )


def limit_evidence(lim: _Limit) -> dict[str, Any]:
    """One limit as a finding's evidence shows it."""
    return {
        "kind": lim.kind,
        "pid": lim.pid,
        "used_bytes": lim.used,
        "limit_bytes": lim.limit,
        "share": round(lim.share, 4),
        "set_by": lim.where,
    }


def limits_of(members: list[ProcessSample]) -> list[_Limit]:
    root = members[0]
    out: list[_Limit] = []
    cg = root.cgroup
    if cg is not None and cg.memory_max:
        used = cg.working_set if cg.working_set is not None else tree_rss(members)
        out.append(
            _Limit("memory.max", root.pid, root.name, used, cg.memory_max, cg.limit_path or cg.path)
        )
    for s in members:
        if s.heap_limit:
            option = f"--max-old-space-size={s.heap_limit // (1024 * 1024)}"
            out.append(_Limit("heap", s.pid, s.name, s.rss, s.heap_limit, option))
    return out


def _limits(members: list[ProcessSample], cfg: ProcessConfig) -> Iterator[Item]:
    root = members[0]
    limits = limits_of(members)
    for lim in limits:
        labels = {"pid": str(lim.pid), "name": lim.name, "limit": lim.kind}
        yield Metric("memory.limit_share", round(lim.share, 4), "ratio", labels)
        if lim.kind == "memory.max":
            yield Metric("memory.cgroup_max_bytes", lim.limit, "bytes", {"cgroup": lim.where})
            yield Metric(
                "memory.cgroup_working_set_bytes", lim.used, "bytes", {"cgroup": lim.where}
            )
    evidence: dict[str, Any] = {
        "limits": [limit_evidence(lim) for lim in limits],
        "warning_share": cfg.limit_warning,
        "critical_share": cfg.limit_critical,
    }
    if root.cgroup is not None:
        evidence["cgroup"] = root.cgroup.path
        evidence["cgroup_version"] = root.cgroup.version
        evidence["memory_current_bytes"] = root.cgroup.memory_current
    if not limits:
        yield Finding(
            "memory.limit",
            Severity.OK,
            f"{_who(root)}: no memory limit applies (no cgroup memory.max, no "
            "--max-old-space-size); only the host's memory bounds it",
            _who(root),
            evidence,
        )
        return
    worst = max(limits, key=lambda lim: lim.share)
    sev = (
        Severity.CRITICAL
        if worst.share >= cfg.limit_critical
        else Severity.WARNING
        if worst.share >= cfg.limit_warning
        else Severity.OK
    )
    if worst.kind == "memory.max":
        what = f"memory.max of {worst.where}"
        used = "working set"
    else:
        what = f"the V8 heap limit of pid {worst.pid} ({worst.where})"
        used = "RSS"
    yield Finding(
        "memory.limit",
        sev,
        f"{_who(root)}: {used} is {worst.share:.0%} of {what} "
        f"({format_size(worst.used)} of {format_size(worst.limit)})",
        _who(root),
        evidence,
        ""
        if sev is Severity.OK
        else (
            "Near memory.max the kernel reclaims cache, then OOM-kills: find what grows "
            "(memory.leak, a heap snapshot), or raise the limit (MemoryMax=, the container's "
            "memory limit) if the load grew for good."
            if worst.kind == "memory.max"
            else "RSS counts code and buffers too, so this overstates the heap; near the "
            "limit V8 collects constantly, then aborts with 'JavaScript heap out of memory'. "
            "Take a heap snapshot, or raise --max-old-space-size if the load grew for good."
        ),
    )


def _leak(
    ctx: Context, members: list[ProcessSample], cfg: ProcessConfig, now: datetime
) -> Iterator[Item]:
    root = members[0]
    rss = tree_rss(members)
    window = cfg.leak_window
    base: dict[str, Any] = {
        "pid": root.pid,
        "started": datetime.fromtimestamp(root.create_time, UTC).isoformat(timespec="seconds"),
        "window_s": window,
        "min_samples": cfg.min_samples,
        "method": "Theil–Sen: the median of the slopes between every pair of samples",
    }
    if ctx.history is None:
        yield Finding(
            "memory.leak",
            Severity.OK,
            f"{_who(root)}: growth not measured: no history store keeps earlier samples",
            _who(root),
            base,
        )
        return
    since = max(now - timedelta(seconds=window), datetime.fromtimestamp(root.create_time, UTC))
    past = ctx.history.metric_series(
        SERIES,
        task_id=ctx.task.id,
        labels={"pid": str(root.pid), "started": root.started},
        since=since,
        limit=MAX_SAMPLES - 1,
    )
    points = [(t.timestamp(), v) for t, v in past] + [(now.timestamp(), float(rss))]
    n = len(points)
    span = points[-1][0] - points[0][0]
    evidence = {**base, "samples": n, "span_s": round(span, 3)}
    if n < cfg.min_samples or span <= 0:
        more = max(cfg.min_samples - n, 1)
        yield Finding(
            "memory.leak",
            Severity.OK,
            f"{_who(root)}: {n} of {cfg.min_samples} samples since it started (within "
            f"{format_duration(window)}); {more} more run{'s' if more > 1 else ''} needed to "
            "judge growth",
            _who(root),
            {
                **evidence,
                "hint": 'run it more often: [tasks."monitor.memory"] frequency = "every 30m"',
            },
        )
        return
    slope, _ = theil_sen(points)
    per_hour = slope * 3600
    yield Metric("memory.rss_growth_bytes_per_hour", round(per_hour, 1), "", _labels(root))
    first, last = points[0][1], points[-1][1]
    added = slope * span
    floor = max(MIN_GROWTH_BYTES, MIN_GROWTH_SHARE * rss)
    evidence.update(
        {
            "growth_bytes_per_hour": round(per_hour, 1),
            "fitted_growth_bytes": round(added),
            "min_growth_bytes": round(floor),
            "first_rss_bytes": int(first),
            "last_rss_bytes": int(last),
            "warning_bytes_per_hour": cfg.leak_warning,
        }
    )
    over = f"over {format_duration(span)} ({n} samples"
    if per_hour < cfg.leak_warning:
        yield Finding(
            "memory.leak",
            Severity.OK,
            f"{_who(root)}: RSS steady, {_signed(per_hour)}/h {over}; a leak is "
            f"{format_size(cfg.leak_warning)}/h)",
            _who(root),
            evidence,
        )
        return
    if added < floor:
        yield Finding(
            "memory.leak",
            Severity.OK,
            f"{_who(root)}: RSS steady, {_signed(added)} {over}): too little to call a leak "
            f"until it adds up to {format_size(floor)}",
            _who(root),
            evidence,
        )
        return
    # When does it hit the nearest limit at this pace?
    reach: tuple[float, str] | None = None
    for lim in limits_of(members):
        hours = max(lim.limit - lim.used, 0) / per_hour
        name = "memory.max" if lim.kind == "memory.max" else "the V8 heap limit"
        if reach is None or hours < reach[0]:
            reach = (hours, name)
    message = (
        f"{_who(root)}: RSS grows {format_size(per_hour)}/h {over}, "
        f"{format_size(first)} → {format_size(last)})"
    )
    sev = Severity.WARNING
    if reach is not None:
        evidence["hours_to_limit"] = round(reach[0], 2)
        evidence["limit"] = reach[1]
        message += f"; reaches {reach[1]} in about {format_duration(reach[0] * 3600)}"
        if reach[0] * 3600 <= LEAK_CRITICAL_HORIZON_S:
            sev = Severity.CRITICAL
    yield Finding(
        "memory.leak",
        sev,
        message,
        _who(root),
        evidence,
        "Take a heap snapshot now and another after more growth, and compare them (Chrome "
        "DevTools, Memory tab: objects allocated between snapshots) to find what is kept. "
        "A restart buys time; plan it for a quiet hour, it is not a fix.",
    )


def _restarts(ctx: Context, groups: list[list[ProcessSample]]) -> Iterator[Item]:
    """Processes that replaced, or went missing since, the ones the last run saw."""
    previous: list[dict[str, Any]] = ctx.load_state("processes", None) or []
    current: list[dict[str, Any]] = [
        {
            "pid": m[0].pid,
            "started": m[0].started,
            "name": m[0].name,
            "command": m[0].command[:_COMMAND_CHARS],
            "rss": tree_rss(m),
            "uptime_s": m[0].uptime_s,
            "seen": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        for m in groups
    ]
    ctx.save_state("processes", current)
    if not previous:
        return

    def key(p: dict[str, Any]) -> tuple[int, str]:
        return (int(p["pid"]), str(p["started"]))

    known = {key(p) for p in previous}
    now_keys = {key(p) for p in current}
    gone = [p for p in previous if key(p) not in now_keys]
    for new in (p for p in current if key(p) not in known):
        old = next((p for p in gone if p["command"] == new["command"]), None) or next(
            (p for p in gone if p["name"] == new["name"]), None
        )
        evidence: dict[str, Any] = {"new": new}
        if old is None:
            yield Finding(
                "memory.restart",
                Severity.OK,
                f"pid {new['pid']} ({_short(new['command'])}) is new since the last run",
                f"pid {new['pid']}",
                evidence,
            )
            continue
        gone.remove(old)
        evidence["old"] = old
        evidence["rss_change_bytes"] = new["rss"] - old["rss"]
        same_pid = old["pid"] == new["pid"]
        who = f"pid {new['pid']}" if same_pid else f"pid {old['pid']} → pid {new['pid']}"
        yield Finding(
            "memory.restart",
            Severity.OK,
            f"{_short(new['command'])} restarted ({who}{', a new start time' if same_pid else ''}"
            f"): RSS {format_size(old['rss'])} before, {format_size(new['rss'])} now; growth is measured "
            "from the new start",
            f"pid {new['pid']}",
            evidence,
        )
    for old in gone:
        yield Finding(
            "memory.restart",
            Severity.OK,
            f"pid {old['pid']} ({_short(old['command'])}) no longer runs",
            f"pid {old['pid']}",
            {"old": old},
        )


def oom_finding(path: str, count: int | None, previous: int | None) -> Finding:
    """The ``memory.oom_kill`` finding for cgroup ``path`` whose ``memory.events`` counts
    ``count`` OOM kills (None: unreadable), ``previous`` at the last run (None: no run saw
    it). The counter only goes down when the cgroup was recreated (a unit restarted)."""
    evidence: dict[str, Any] = {"cgroup": path, "oom_kill": count, "previous": previous}
    remedy = (
        "The kernel killed a process of this cgroup for memory: `journalctl -k | grep -i "
        "'killed process'` names it and its size. Find what grows (memory.leak, a heap "
        "snapshot), or raise the limit if the load grew for good."
    )
    if count is None:
        return Finding(
            "memory.oom_kill",
            Severity.OK,
            f"OOM kills in cgroup {path} cannot be counted: its memory.events is not readable",
            path,
            evidence,
        )
    if previous is None:
        if count:
            return Finding(
                "memory.oom_kill",
                Severity.WARNING,
                f"{count} OOM kill{'s' if count > 1 else ''} in cgroup {path} before rota "
                "first looked",
                path,
                evidence,
                remedy,
            )
        return Finding(
            "memory.oom_kill", Severity.OK, f"no OOM kill in cgroup {path}", path, evidence
        )
    new = count - previous if count >= previous else count
    if new > 0:
        since = "since the last run" if count >= previous else "since it was recreated"
        return Finding(
            "memory.oom_kill",
            Severity.CRITICAL,
            f"{new} OOM kill{'s' if new > 1 else ''} in cgroup {path} {since} ({count} in all)",
            path,
            {**evidence, "new": new},
            remedy,
        )
    return Finding(
        "memory.oom_kill",
        Severity.OK,
        f"no OOM kill in cgroup {path} since the last run ({count} in all)",
        path,
        evidence,
    )


def _oom(ctx: Context, samples: list[ProcessSample]) -> Iterator[Item]:
    seen: dict[str, int | None] = {}
    for s in samples:
        if s.cgroup is not None and s.cgroup.path not in seen:
            seen[s.cgroup.path] = s.cgroup.oom_kills
    previous: dict[str, int] = ctx.load_state("oom_kills", None) or {}
    for path, count in seen.items():
        if count is not None:
            yield Metric("memory.oom_kills", count, "count", {"cgroup": path})
        yield oom_finding(path, count, previous.get(path))
    if not seen:
        yield Finding(
            "memory.oom_kill",
            Severity.OK,
            "OOM kills cannot be counted: no memory cgroup is visible for these processes",
            samples[0].command[:_COMMAND_CHARS],
        )
    ctx.save_state("oom_kills", {**previous, **{p: c for p, c in seen.items() if c is not None}})


# -- diagnostics under --apply -----------------------------------------------------------


def _diagnostic(
    ctx: Context, procs: Processes, members: list[ProcessSample], why: str, now: datetime
) -> Iterator[Item]:
    root = members[0]
    offers: list[tuple[ProcessSample, str, str, str]] = []  # (process, kind, signal, files)
    declared: list[str] = []
    for s in members:
        if s.node is None:
            continue
        where = s.node.diagnostic_dir or s.cwd or "its working directory"
        if s.node.heapsnapshot_signal:
            declared.append(f"pid {s.pid} --heapsnapshot-signal={s.node.heapsnapshot_signal}")
            if s.node.heapsnapshot_signal in s.catches:
                offers.append(
                    (s, "heap snapshot", s.node.heapsnapshot_signal, f"{where}/Heap.*.heapsnapshot")
                )
        if s.node.report_signal:
            declared.append(f"pid {s.pid} --report-on-signal ({s.node.report_signal})")
            if s.node.report_signal in s.catches:
                report_dir = s.node.report_dir or where
                offers.append(
                    (s, "diagnostic report", s.node.report_signal, f"{report_dir}/report.*.json")
                )
    if not offers:
        node = any(s.node is not None for s in members)
        if declared:
            message = (
                f"{_who(root)}: no diagnostic available: {'; '.join(declared)} was asked for, "
                "but the process does not catch that signal (a Node.js too old for it?)"
            )
        elif node:
            message = (
                f"{_who(root)}: no diagnostic available: node was not started with "
                "--heapsnapshot-signal or --report-on-signal"
            )
        else:
            message = f"{_who(root)}: no diagnostic available for a process that is not Node.js"
        yield Finding(
            "memory.diagnostic",
            Severity.OK,
            message,
            _who(root),
            {"declared": declared, "pids": [s.pid for s in members]},
            'Start node with --heapsnapshot-signal=SIGUSR2 (or NODE_OPTIONS="--heapsnapshot-'
            'signal=SIGUSR2"), so `rota run monitor.memory --apply` can take a heap snapshot '
            "when memory goes wrong; --report-on-signal gives a lighter diagnostic report."
            if node
            else "",
        )
        return
    # A heap snapshot says more about a leak than a report: prefer it, from the biggest.
    offers.sort(key=lambda o: (o[1] != "heap snapshot", -o[0].rss))
    s, kind, sig, files = offers[0]
    action = f"{kind} of pid {s.pid} ({sig})"
    taken: dict[str, str] = ctx.load_state("diagnostics", None) or {}
    life = f"{s.pid}@{s.started}"
    last = taken.get(life)
    if last is not None and now - datetime.fromisoformat(last) < DIAGNOSTIC_EVERY:
        yield Step(
            action,
            StepStatus.SKIPPED,
            0.0,
            {
                "reason": f"a {kind} of this process was taken at {last}; rota takes at "
                f"most one every {format_duration(DIAGNOSTIC_EVERY.total_seconds())}",
                "files": files,
            },
        )
        return

    def send() -> dict[str, Any]:
        procs.signal(s.pid, sig)
        ctx.save_state("diagnostics", {**taken, life: now.isoformat(timespec="seconds")})
        return {"sent": sig, "pid": s.pid}

    heap = kind == "heap snapshot"
    yield ctx.action(
        action,
        send,
        reason=f"{why}; a {kind} shows "
        + ("which objects hold the memory" if heap else "the heap, native memory and handles"),
        lock="the process pauses while V8 writes the snapshot (about a second per 100 MB "
        "of heap) and may need as much memory again as its heap"
        if heap
        else "the process pauses briefly while node writes the report",
        estimate_s=max(1.0, s.rss / (100 * 1024 * 1024)) if heap else 1.0,
        command=f"kill -{sig.removeprefix('SIG')} {s.pid}",
        files=files,
        never="rota never restarts the service",
    )


TASKS = [memory]
