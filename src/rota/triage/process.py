"""The process probe: memory and CPU of the service's processes, through the ``process``
target kind (``[process]`` selects them, as ``monitor.memory`` does).

Each selected process and its descendants are one group, judged as ``monitor.memory``
judges it: RSS over the tree, its share of the limit that would end it (the cgroup's
``memory.max`` or the V8 heap limit), OOM kills in its cgroup. Growth is its Theil–Sen
slope over the samples ``monitor.memory`` recorded in history for this life of the
process (within ``leak_window``) plus three fresh samples taken over about a second, so
a leak shows even where the task has never run; a growth that rests on the fresh
samples alone must also have risen at every sample. CPU is the process's average over
its life (what the target reports), so a process that has burned a core since it
started stands out.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rota.triage.session import Session

if TYPE_CHECKING:
    from rota.targets.process import Processes, ProcessSample

FRESH_SAMPLES = 3
SAMPLE_GAP_S = 0.5
MAX_GROUPS = 10


def process(s: Session) -> dict[str, Any]:
    """Each selected process tree: RSS, limits, OOM kills, growth and CPU."""
    from rota.tasks.memory import process_trees

    procs: Processes = s.open("process")
    rounds: list[tuple[float, list[ProcessSample]]] = []
    for i in range(FRESH_SAMPLES):
        if i:
            time.sleep(SAMPLE_GAP_S)
        rounds.append((time.time(), procs.find()))
    groups = process_trees(rounds[-1][1])
    out = [_group(s, members, rounds) for members in groups[:MAX_GROUPS]]
    out.sort(key=lambda g: -g["rss_bytes"])
    return {"selector": procs.selector, "groups": out}


def _group(
    s: Session, members: list[ProcessSample], rounds: list[tuple[float, list[ProcessSample]]]
) -> dict[str, Any]:
    from rota.tasks.memory import (
        MIN_GROWTH_BYTES,
        MIN_GROWTH_SHARE,
        limit_evidence,
        limits_of,
        tree_rss,
    )

    root = members[0]
    rss = tree_rss(members)
    fresh = []
    for at, samples in rounds:  # the same life of the root: same pid, same start
        tree = [p for p in samples if p.root == root.pid]
        if any(p.pid == root.pid and p.started == root.started for p in tree):
            fresh.append((at, float(tree_rss(tree))))
    past = _history(s, root)
    growth = _slope(past + fresh)
    rising = all(b[1] > a[1] for a, b in itertools.pairwise(fresh))
    grew = fresh[-1][1] - fresh[0][1] if fresh else 0.0
    floor = max(MIN_GROWTH_BYTES, MIN_GROWTH_SHARE * rss)
    # With few history samples the slope rests on the fresh ones: only a steady rise counts.
    leaking = growth is not None and (
        (
            len(past) >= s.config.process.min_samples
            and growth * 3600 >= s.config.process.leak_warning
        )
        or (rising and grew >= floor)
    )
    cgroup = root.cgroup
    return {
        "pid": root.pid,
        "name": root.name,
        "command": root.command[:120],
        "started": datetime.fromtimestamp(root.create_time, UTC).isoformat(timespec="seconds"),
        "uptime_s": root.uptime_s,
        "processes": len(members),
        "pids": [p.pid for p in members][:20],
        "rss_bytes": rss,
        "pss_bytes": sum(p.pss for p in members if p.pss is not None) or None,
        "swap_bytes": sum(p.swap for p in members if p.swap is not None) or None,
        "cpu_percent_lifetime": round(sum(p.cpu_percent or 0.0 for p in members), 1),
        "limits": [limit_evidence(lim) for lim in limits_of(members)],
        "oom_kills": cgroup.oom_kills if cgroup is not None else None,
        "growth": {
            "bytes_per_s": None if growth is None else round(growth, 1),
            "leaking": leaking,
            "history_samples": len(past),
            "fresh_samples": [[round(t - fresh[0][0], 3), int(v)] for t, v in fresh],
            "fresh_growth_bytes": int(grew),
            "min_growth_bytes": int(floor),
            "method": "Theil–Sen over monitor.memory's samples of this life and three fresh ones",
        },
    }


def _history(s: Session, root: ProcessSample) -> list[tuple[float, float]]:
    """monitor.memory's RSS samples of this life of ``root`` within leak_window."""
    from rota.tasks.memory import MAX_SAMPLES, SERIES

    if s.history is None:
        return []
    now = datetime.now(UTC)
    since = max(
        now - timedelta(seconds=s.config.process.leak_window),
        datetime.fromtimestamp(root.create_time, UTC),
    )
    series = s.history.metric_series(
        SERIES,
        labels={"pid": str(root.pid), "started": root.started},
        since=since,
        limit=MAX_SAMPLES - FRESH_SAMPLES,
    )
    return [(t.timestamp(), v) for t, v in series]


def _slope(points: list[tuple[float, float]]) -> float | None:
    from rota.tasks.memory import theil_sen

    try:
        return theil_sen(points)[0]
    except ValueError:  # fewer than two samples at different times
        return None
