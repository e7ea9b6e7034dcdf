"""Log analysis: the runbook's three shell pipelines vs rota on the same seeded logs.

Generates ``--size`` (default 1 GB) of platform-like logs as 30 daily files, then times:
P1 `grep ERROR | cut -d: -f3- | sort | uniq -c | sort -nr | head -20`, P2 `grep ERROR`
on today's file, P3 `grep "API request" | grep -oP duration | cut | sort -n`, against rota
producing all of them plus error groups, percentiles and the timeline: cold (no cache)
and after one more day of logs (incremental). rota runs as a child process so its peak
RSS (ru_maxrss) is measured. Medians of ``--runs``; the temp dir is removed.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rota.sandbox.logs import generate_big_log

ROTA = """
import sys
from rota.logscan.scan import ScanCache, scan
from rota.logscan.analyze import ParseSettings
from pathlib import Path
cache_path = Path(sys.argv[2])
cache = ScanCache.load(cache_path, ParseSettings())
o = scan([sys.argv[1] + "/*.log"], cache=cache)
o.cache.save(cache_path)
r = o.results
r.top_groups(20); [lat.summary() for lat in r.routes.values()]
print(r.lines, r.errors, len(r.groups), o.bytes_read)
"""


def sh(cmd: str, cwd: Path) -> float:
    t = time.perf_counter()
    subprocess.run(["bash", "-c", cmd], cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def rota(logs: Path, cache: Path) -> tuple[float, int, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", ROTA, str(logs), str(cache)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    dt = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return dt, max(peak, before), out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="1GB", help="total size, e.g. 1GB, 200MB")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--days", type=int, default=30)
    args = ap.parse_args()
    from rota.units import parse_size

    size = parse_size(args.size)
    tmp = Path(tempfile.mkdtemp(prefix="rota-bench-logs-"))
    try:
        logs = tmp / "logs"
        logs.mkdir()
        now = datetime(2026, 11, 28, 23, 59, tzinfo=UTC)
        t0 = time.perf_counter()
        for back in range(args.days, 0, -1):
            day = now - timedelta(days=back)
            generate_big_log(logs / f"{day:%Y-%m-%d}.log", size // args.days, seed=back, now=day)
        total = sum(p.stat().st_size for p in logs.iterdir())
        print(
            f"cores={os.cpu_count()} data={total / 1e6:.0f} MB in {args.days} files "
            f"(generated in {time.perf_counter() - t0:.1f}s)"
        )
        last = max(p.name for p in logs.iterdir())
        p1 = "grep ERROR logs/*.log | cut -d: -f3- | sort | uniq -c | sort -nr | head -20"
        p2 = f"grep ERROR logs/{last} > p2.out"
        p3 = (
            'grep "API request" logs/*.log | grep -oP \'duration":"[^"]*\' '
            "| cut -d: -f2 | sort -n > p3.out"
        )
        shell = {
            name: [sh(c, tmp) for _ in range(args.runs)]
            for name, c in (("P1", p1), ("P2", p2), ("P3", p3))
        }
        cold = []
        peak = 0
        for i in range(args.runs):
            dt, rss, out = rota(logs, tmp / f"cold{i}.cache")
            cold.append(dt)
            peak = max(peak, rss)
        cache = tmp / "cold0.cache"
        new_day = now
        generate_big_log(logs / f"{new_day:%Y-%m-%d}.log", size // args.days, seed=99, now=new_day)
        reruns = []
        for _ in range(args.runs):
            shutil.copy(cache, tmp / "inc.cache")
            dt, rss, out_inc = rota(logs, tmp / "inc.cache")
            reruns.append(dt)
            peak = max(peak, rss)
        med = {k: statistics.median(v) for k, v in shell.items()}
        c, r = statistics.median(cold), statistics.median(reruns)
        both = med["P1"] + med["P3"]
        print(f"{'what':44} {'median s':>9} {'vs rota':>8}")
        for k, label in (
            ("P1", "P1 grep|cut|sort|uniq (top errors)"),
            ("P2", "P2 grep ERROR today"),
            ("P3", "P3 grep|grep -oP|cut|sort -n (durations)"),
        ):
            print(f"{label:44} {med[k]:9.3f}")
        print(f"{'P1 + P3 (shell error + latency)':44} {both:9.3f}")
        print(
            f"{'rota cold: all + groups, p50-p99, timeline':44} {c:9.3f} {both / c:7.2f}x  ({out})"
        )
        print(f"{'rota rerun after one more day':44} {r:9.3f} {both / r:7.2f}x  ({out_inc})")
        print(f"rota peak RSS (max over children): {peak / 1024:.0f} MB")
        print(f"goals: cold >= 1.5x: {both / c:.2f}x; rerun >= 5x: {both / r:.2f}x; peak < 300 MB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
