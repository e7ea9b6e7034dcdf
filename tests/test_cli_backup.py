"""`rota backup list`: real backups on disk, real verification runs in the history."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rota.tasks.backup import files as bf
from rota_sandbox.backups import make_backup
from rota_sandbox.postgres import Cluster


def _config(tmp_path: Path, url: str) -> Path:
    cfg = tmp_path / "rota.toml"
    cfg.write_text(
        f'[database]\nurl = "{url}"\n'
        f'[backups]\npattern = "{tmp_path}/backups/rylie_full_*.dump.gz"\ntemp_dir = "{tmp_path}"\n'
        f'[history]\nurl = "sqlite:///{tmp_path / "history.db"}"\n'
    )
    return cfg


def test_it_lists_backups_with_age_size_and_last_verdict(
    tmp_path: Path, pg_url: str, pg_cluster: Cluster, rota: Any
) -> None:
    now = datetime.now(UTC)
    newest = make_backup(pg_url, tmp_path / "backups", now, pg_cluster.bindir)
    bf.write_sidecar(newest, bf.sha256_file(newest))
    older = make_backup(pg_url, tmp_path / "backups", now - timedelta(days=2), pg_cluster.bindir)
    cfg = _config(tmp_path, pg_url)
    assert rota("-c", str(cfg), "run", "backup.verify").code == 0
    r = rota("-c", str(cfg), "backup", "list", "--format", "json")
    assert r.code == 0, r.err
    rows = json.loads(r.out)
    assert [row["file"] for row in rows] == [str(newest), str(older)]
    assert rows[0]["verdict"] == "passed" and rows[0]["size_bytes"] == newest.stat().st_size
    assert rows[1]["verdict"] is None and rows[1]["age_s"] >= 2 * 86400 - 5
    table = rota("-c", str(cfg), "backup", "list")
    assert newest.name in table.out and "passed" in table.out and "never verified" in table.out


def test_it_says_what_is_missing_without_a_pattern(tmp_path: Path, rota: Any) -> None:
    cfg = tmp_path / "rota.toml"
    cfg.write_text(f'[history]\nurl = "sqlite:///{tmp_path / "h.db"}"\n')
    r = rota("-c", str(cfg), "backup", "list")
    assert r.code == 4
    assert "[backups] pattern" in r.err and "Traceback" not in r.err


def test_it_lists_backups_named_by_date_with_the_time_from_their_names(
    tmp_path: Path, rota: Any
) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    taken = datetime.now().astimezone() - timedelta(hours=5)  # local, as date writes it
    dated = backups / f"rylie_full_{taken:%Y%m%d_%H%M%S}.dump.gz"
    undated = backups / "rylie_full_manual.dump.gz"
    for path in (dated, undated):
        path.write_bytes(b"\x1f\x8b")
    cfg = tmp_path / "rota.toml"
    cfg.write_text(
        f'[backups]\npattern = "{backups}/rylie_full_*.dump.gz"\n'
        f'[history]\nurl = "sqlite:///{tmp_path / "history.db"}"\n'
    )
    r = rota("-c", str(cfg), "backup", "list", "--format", "json")
    assert r.code == 0, r.err
    rows = {Path(row["file"]).name: row for row in json.loads(r.out)}
    assert rows[dated.name]["time_from"] == "name"
    assert abs(rows[dated.name]["age_s"] - 5 * 3600) < 120
    assert rows[undated.name]["time_from"] == "mtime" and rows[undated.name]["age_s"] < 120
