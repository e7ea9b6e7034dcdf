"""backup.verify (all tiers) against the runbook's restore pipeline, on the same backup.

The runbook's drill, timed whole as written: ``ls -t``, ``createdb``, ``gunzip -c backup |
pg_restore --no-owner``, two ``SELECT COUNT(*)`` and ``dropdb`` (no checksum, no comparison,
no drop on failure). rota checks freshness, the sha256, gzip to the
end, the TOC, restores with ``pg_restore -j N`` from a seekable copy, validates counts and
schema against live, and drops its scratch database. Goal: rota ≤ 0.85× the pipeline.

Both sides restore the same file, made by ``make_backup`` exactly as the runbook makes it
(``pg_dump -Fc | gzip``). An archive dumped with ``-Z0`` and compressed once outside was
measured too (see ``rota_sandbox.backups``): it restores no faster and verifies slower.

Each timed run starts after a CHECKPOINT and ``sync`` (outside the timing), and the two sides
alternate which goes first.

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

from rota.tasks.backup import files as bf
from rota_sandbox import dataset
from rota_sandbox.backups import make_backup
from rota_sandbox.postgres import Cluster


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=12)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=0, help="[backups] jobs (default: core count)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rota-bench-backup-") as tmp:
        root = Path(tmp)
        cluster = Cluster(root / "data")
        try:
            cluster.init()
            cluster.start()
            return bench(cluster, root, args.scale, args.runs, args.jobs)
        finally:
            cluster.destroy()


def bench(cluster: Cluster, root: Path, scale: float, runs: int, jobs: int = 0) -> int:
    url = cluster.create_database("app")
    t0 = time.perf_counter()
    dataset.load(url, scale=scale, churn=False, faults=False)
    with cluster.connect("app") as conn:
        # A live database in steady state has been vacuumed and analyzed; a fresh load
        # would have autovacuum busy on the first timed runs of both sides.
        conn.execute("VACUUM (ANALYZE)")
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
        f'temp_dir = "{root}"\n'
        + (f"jobs = {jobs}\n" if jobs else "")
        + f'[history]\nurl = "sqlite:///{root / "history.db"}"\n'
    )
    env = {**os.environ, "XDG_STATE_HOME": str(root / "state")}
    spec_times: list[float] = []
    rota_times: list[float] = []
    receipt: dict[str, object] = {}
    # The runbook's whole drill, as written: find, createdb, restore, two counts, dropdb.
    pg_env = {**env, "PGHOST": "127.0.0.1", "PGPORT": str(cluster.port), "PGUSER": "postgres"}
    b = cluster.bindir
    runbook = (
        "set -eo pipefail\n"
        f"LATEST_BACKUP=$(ls -t {root}/backups/rylie_full_*.dump.gz | head -1)\n"
        f"{b}/createdb rylie_backup_test\n"
        f"gunzip -c $LATEST_BACKUP | {b}/pg_restore --dbname=rylie_backup_test --no-owner\n"
        f'{b}/psql -d rylie_backup_test -c "SELECT COUNT(*) FROM users;" >/dev/null\n'
        f'{b}/psql -d rylie_backup_test -c "SELECT COUNT(*) FROM conversations;" >/dev/null\n'
        f"{b}/dropdb rylie_backup_test\n"
    )

    def settle() -> None:
        # Each timed run starts from the same quiet server: the previous run's dirty pages
        # and WAL are flushed first, outside the timing (a logged restore leaves ~1 GB).
        with cluster.connect() as conn:
            conn.execute("CHECKPOINT")
        os.sync()

    def drill() -> None:
        settle()
        t0 = time.perf_counter()
        subprocess.run(["bash", "-c", runbook], check=True, env=pg_env)
        spec_times.append(time.perf_counter() - t0)

    def verify() -> dict[str, object] | None:
        settle()
        t0 = time.perf_counter()
        r = subprocess.run(
            [sys.executable, "-m", "rota", "-c", str(cfg), "run", "backup.verify", "-f", "json"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        rota_times.append(time.perf_counter() - t0)
        task = json.loads(r.stdout)["tasks"][0]
        if task["status"] != "ok":
            print(f"rota backup.verify was {task['status']}: {task['summary']}")
            return None
        return dict(next(f for f in task["findings"] if f["code"] == "backup.receipt")["evidence"])

    for i in range(runs):
        # Alternate which side goes first, so neither always runs on a warmer cache.
        if i % 2:
            got = verify()
            drill()
        else:
            drill()
            got = verify()
        if got is None:
            return 1
        receipt = got
    spec, rota = statistics.median(spec_times), statistics.median(rota_times)
    print(f"{'what':58} {'median':>8}")
    print(f"{'runbook: createdb; gunzip -c | pg_restore; 2 counts; dropdb':58} {spec:7.2f}s")
    print(f"{'rota run backup.verify (T0-T4, scratch dropped)':58} {rota:7.2f}s")
    print(
        f"ratio rota/runbook: {rota / spec:.2f} (goal <= 0.85), {runs} runs each, {os.cpu_count()} cores"
    )
    print(
        f"rota runs: {[round(t, 2) for t in rota_times]}, runbook runs: {[round(t, 2) for t in spec_times]}"
    )
    print(f"rota phases (last run): {receipt.get('phases_s')}, jobs={receipt.get('jobs')}")
    print(f"restore settings: {receipt.get('restore_settings')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
