"""Log analysis: the runbook's shell pipelines vs rota, per log shape, on the same data.

For each shape (``--shapes``) a corpus of 30 daily files is generated (seeded, see
``_logshapes.py``; ``sandbox`` is the platform's own shape from ``rota_sandbox.logs``):
each single shape ``--shape-size`` in total, the ``mix`` (pino + winston + bunyan + plain
lines interleaved in every file) ``--size``. Then, on that data:

- shell: P1 `grep ERROR | cut -d: -f3- | sort | uniq -c | sort -nr | head -20` (top errors)
  plus P3 `grep "API request" | grep -oP duration | cut | sort -n` (latencies), the runbook's
  pipelines as written. They look for the sandbox's words, so on other shapes they find
  little and run at grep's speed; the "adapted" pair does the same work with each shape's
  own error marker, message key and duration key, which is what an operator would type;
- rota cold (no cache): every count, error groups (clustered), p50-p99 per route, timeline;
- rota rerun after one more day of logs (the incremental path).

rota runs as a child process that reports its own peak RSS and its workers'. Medians of
``--runs``; ratios are rota's time over the shell's (lower is better; the goals are for the
mix: cold <= 0.67x, rerun <= 0.2x, peak RSS <= 300 MB). The temp dir is removed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _logshapes import SHAPES, write_day

from rota_sandbox.logs import generate_big_log

ALL_SHAPES = ("sandbox", "pino", "winston", "bunyan", "plain", "mix")

ROTA = """
import resource, sys
from pathlib import Path
from rota.logscan.analyze import ParseSettings
from rota.logscan.scan import ScanCache, scan
cache_path = Path(sys.argv[2])
cache = ScanCache.load(cache_path, ParseSettings())
o = scan([sys.argv[1] + "/*.log"], cache=cache)
o.cache.save(cache_path)
r = o.results
r.top_groups(20); [lat.summary() for lat in r.routes.values()]
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(r.lines, r.errors, r.requests, len(r.groups), o.bytes_read, own, workers)
"""

# the runbook's pipelines, as written
P1 = "grep ERROR logs/*.log | cut -d: -f3- | sort | uniq -c | sort -nr | head -20 > p1.out"
P3 = (
    'grep "API request" logs/*.log | grep -oP \'duration":"[^"]*\' | cut -d: -f2 | sort -n > p3.out'
)
# per shape: (error line pattern, message pattern, duration pattern) for the adapted pair
_JSON_MSG = '"(msg|message)":"[^"]*'
ADAPTED = {
    "pino": ('"level":(50|60)|request errored', _JSON_MSG, '"responseTime":[0-9.]+'),
    "winston": ('"level":"error"', _JSON_MSG, '"duration":"[^"]*'),
    "bunyan": ('"level":(50|60)', _JSON_MSG, '"latency":[0-9.]+'),
    "plain": (" ERROR ", "ERROR .*", " [0-9]+ms$"),
    "mix": (
        '"level":(50|60)|"level":"error"|request errored| ERROR ',
        _JSON_MSG + "|ERROR .*",
        '"(responseTime|latency|duration)":"?[0-9.]+| [0-9]+ms$',
    ),
}


def adapted(shape: str) -> tuple[str, str]:
    if shape == "sandbox":
        return P1, P3
    err, msg, dur = ADAPTED[shape]
    p1 = f"grep -hE '{err}' logs/*.log | grep -oP '{msg}' | sort | uniq -c | sort -nr | head -20"
    p3 = f"grep -hoP '{dur}' logs/*.log | grep -oP '[0-9.]+' | sort -n > p3.out"
    return f"{p1} > p1.out", p3


def sh(cmd: str, cwd: Path) -> float:
    t = time.perf_counter()
    subprocess.run(["bash", "-c", cmd], cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


@dataclass
class RotaRun:
    seconds: float
    summary: str
    rss_mb: float  # the larger of the process's own peak and its biggest worker's


def rota(logs: Path, cache: Path) -> RotaRun:
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", ROTA, str(logs), str(cache)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    seconds = time.perf_counter() - t
    lines, errors, requests, groups, _bytes, own, workers = out
    summary = f"{lines} lines, {errors} errors, {requests} requests, {groups} groups"
    return RotaRun(seconds, summary, max(int(own), int(workers)) / 1024)


def generate(shape: str, logs: Path, size: int, days: int, now: datetime, seed: int) -> None:
    for back in range(days, 0, -1):
        day = now - timedelta(days=back)
        write(shape, logs / f"{day:%Y-%m-%d}.log", size // days, seed + back, day)


def write(shape: str, path: Path, size: int, seed: int, day: datetime) -> None:
    if shape == "sandbox":
        generate_big_log(path, size, seed=seed, now=day)
    else:
        write_day(path, size, shape, seed, day)


@dataclass
class Row:
    shape: str
    mb: float
    shell: float  # P1 + P3 as written
    shell_adapted: float
    cold: float
    rerun: float
    rss_mb: float
    summary: str


def bench_shape(shape: str, size: int, days: int, runs: int, tmp: Path) -> Row:
    base = tmp / shape
    logs = base / "logs"
    logs.mkdir(parents=True)
    now = datetime(2026, 11, 28, 23, 59, tzinfo=UTC)
    t0 = time.perf_counter()
    generate(shape, logs, size, days, now, seed=1000 * ALL_SHAPES.index(shape))
    total = sum(p.stat().st_size for p in logs.iterdir())
    print(
        f"  {shape}: {total / 1e6:.0f} MB generated in {time.perf_counter() - t0:.1f}s", flush=True
    )
    a1, a3 = adapted(shape)
    shell = [sh(P1, base) + sh(P3, base) for _ in range(runs)]
    shell_adapted = [sh(a1, base) + sh(a3, base) for _ in range(runs)]
    cold = [rota(logs, base / f"cold{i}.cache") for i in range(runs)]
    write(shape, logs / f"{now:%Y-%m-%d}.log", size // days, 99, now)
    reruns = []
    for _ in range(runs):
        shutil.copy(base / "cold0.cache", base / "inc.cache")
        reruns.append(rota(logs, base / "inc.cache"))
    row = Row(
        shape,
        total / 1e6,
        statistics.median(shell),
        statistics.median(shell_adapted),
        statistics.median(r.seconds for r in cold),
        statistics.median(r.seconds for r in reruns),
        max(r.rss_mb for r in cold + reruns),
        cold[0].summary,
    )
    shutil.rmtree(base, ignore_errors=True)
    return row


def report(rows: list[Row]) -> None:
    head = (
        f"{'shape':8} {'MB':>6} {'shell s':>8} {'adapt s':>8} {'cold s':>7} {'rerun s':>8} "
        f"{'cold/sh':>8} {'rerun/sh':>8} {'cold/ad':>8} {'rerun/ad':>8} {'RSS MB':>7} {'MB/s':>6}"
    )
    print(head)
    for r in rows:
        print(
            f"{r.shape:8} {r.mb:6.0f} {r.shell:8.2f} {r.shell_adapted:8.2f} {r.cold:7.2f} "
            f"{r.rerun:8.2f} {r.cold / r.shell:8.2f} {r.rerun / r.shell:8.2f} "
            f"{r.cold / r.shell_adapted:8.2f} {r.rerun / r.shell_adapted:8.2f} "
            f"{r.rss_mb:7.0f} {r.mb / r.cold:6.0f}"
        )
    for r in rows:
        print(f"  {r.shape}: {r.summary}")
    mix = next((r for r in rows if r.shape == "mix"), None)
    if mix is not None:
        print(
            f"goals (mix, vs adapted shell / as written): cold <= 0.67x: "
            f"{mix.cold / mix.shell_adapted:.2f}x / {mix.cold / mix.shell:.2f}x; "
            f"rerun <= 0.2x: {mix.rerun / mix.shell_adapted:.2f}x / {mix.rerun / mix.shell:.2f}x; "
            f"peak RSS <= 300 MB: {mix.rss_mb:.0f} MB"
        )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="1GB", help="size of the mix corpus, e.g. 1GB, 200MB")
    ap.add_argument("--shape-size", default=None, help="size of each single shape (size/4)")
    ap.add_argument("--shapes", default=",".join(ALL_SHAPES), help=",".join(ALL_SHAPES))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--days", type=int, default=30)
    args = ap.parse_args()
    from rota.units import parse_size

    size = parse_size(args.size)
    shape_size = parse_size(args.shape_size) if args.shape_size else size // 4
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    unknown = [s for s in shapes if s not in ALL_SHAPES]
    if unknown:
        ap.error(f"unknown shapes {unknown}; known: {', '.join(ALL_SHAPES)}")
    assert set(ALL_SHAPES) == {"sandbox", *SHAPES}
    load = os.getloadavg()
    print(f"cores={os.cpu_count()} load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    tmp = Path(tempfile.mkdtemp(prefix="rota-bench-logs-"))
    try:
        rows = []
        for shape in shapes:
            n = size if shape == "mix" else shape_size
            rows.append(bench_shape(shape, n, args.days, args.runs, tmp))
        report(rows)
        load = os.getloadavg()
        print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
