"""backup.verify (all tiers) against the runbook's restore pipeline, on the same backup.

The runbook restores with ``createdb scratch; gunzip -c backup | pg_restore --no-owner -d
scratch`` (no checksum, no counts, no drop). rota checks freshness, the sha256, gzip to the
end, the TOC, restores with ``pg_restore -j N`` from a seekable copy, validates counts and
schema against live, and drops its scratch database. Goal: rota ≤ 0.85× the pipeline.

Run: ``python bench/backup_verify.py [--scale 12] [--runs 3]`` (scale 12 ≈ 1.1 GB database).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rota.sandbox import dataset
from rota.sandbox.backups import make_backup
from rota.sandbox.postgres import Cluster
from rota.tasks import backup_files as bf


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=12)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rota-bench-backup-") as tmp:
        root = Path(tmp)
        cluster = Cluster(root / "data")
        try:
            cluster.init()
            cluster.start()
            return bench(cluster, root, args.scale, args.runs)
        finally:
            cluster.destroy()


def bench(cluster: Cluster, root: Path, scale: float, runs: int) -> int:
    url = cluster.create_database("app")
    t0 = time.perf_counter()
    dataset.load(url, scale=scale, churn=False, faults=False)
    with cluster.connect() as conn:
        row = conn.execute("SELECT pg_database_size('app')").fetchone()
    size = int(row[0]) if row else 0
    print(
        f"database: scale {scale}, {size / 1e9:.2f} GB, loaded in {time.perf_counter() - t0:.0f}s"
    )
    backup = make_backup(url, root / "backups", datetime.now(UTC), cluster.bindir)
    bf.write_sidecar(backup, bf.sha256_file(backup))
    print(f"backup: {backup.name}, {backup.stat().st_size / 1e6:.0f} MB")
    cfg = root / "rota.toml"
    cfg.write_text(
        f'[database]\nurl = "{url}"\n[backups]\npattern = "{root}/backups/rylie_full_*.dump.gz"\n'
        f'temp_dir = "{root}"\n[history]\nurl = "sqlite:///{root / "history.db"}"\n'
    )
    env = {**os.environ, "XDG_STATE_HOME": str(root / "state")}
    spec_times: list[float] = []
    rota_times: list[float] = []
    receipt: dict[str, object] = {}
    for i in range(runs):
        scratch = f"scratch{i}"
        scratch_url = cluster.create_database(scratch)
        t0 = time.perf_counter()
        subprocess.run(
            [
                "bash",
                "-c",
                f"gunzip -c {backup} | {cluster.bindir}/pg_restore --dbname='{scratch_url}' --no-owner",
            ],
            check=True,
        )
        spec_times.append(time.perf_counter() - t0)
        cluster.drop_database(scratch)
        t0 = time.perf_counter()
        r = subprocess.run(
            [sys.executable, "-m", "rota", "-c", str(cfg), "run", "backup.verify", "-f", "json"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        rota_times.append(time.perf_counter() - t0)
        report = json.loads(r.stdout)
        task = report["tasks"][0]
        if task["status"] != "ok":
            print(f"rota backup.verify was {task['status']}: {task['summary']}")
            return 1
        receipt = next(f for f in task["findings"] if f["code"] == "backup.receipt")["evidence"]
    spec, rota = statistics.median(spec_times), statistics.median(rota_times)
    print(f"{'what':58} {'median':>8}")
    print(f"{'runbook: gunzip -c | pg_restore --no-owner (restore only)':58} {spec:7.2f}s")
    print(f"{'rota run backup.verify (T0-T4, scratch dropped)':58} {rota:7.2f}s")
    print(
        f"ratio rota/runbook: {rota / spec:.2f} (goal <= 0.85), {runs} runs each, {os.cpu_count()} cores"
    )
    print(f"rota phases (last run): {receipt.get('phases_s')}, jobs={receipt.get('jobs')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
