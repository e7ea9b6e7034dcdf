"""Backups: ``backup.create`` — the runbook's nightly ``pg_dump | gzip``, done safely.

The dump runs inside a REPEATABLE READ snapshot that rota also counts rows in, so the
manifest's counts are exactly what the file holds. Every process's exit status is checked,
the file appears under its final name only when complete, and a ``.sha256`` sidecar and a
manifest go next to it. Retention is a separate step, planned first and applied only with
``--apply``, that deletes nothing but files matching the pattern inside ``[backups] dir``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rota.errors import TargetUnavailable
from rota.model import Finding, Metric, Severity, StepStatus
from rota.targets.pgtools import PgTools
from rota.task import Context, Item, task
from rota.tasks.backup import files as bf
from rota.units import format_duration, format_size

# Measured on the sandbox (see bench/backup_verify.py): pg_dump -Fc writes ~130 MB/s of
# database and the archive is ~9% of pg_database_size. The default format is the runbook's
# -Fc archive gzipped (same name, same gunzip | pg_restore), but dumped to a file before it
# is compressed, so the archive records its data offsets and a parallel restore starts the
# largest table at once (see files.gzip_file). An archive dumped with -Z0 and compressed once
# outside dumps faster but restores no faster and verifies slower (rota_sandbox.backups).
DUMP_BYTES_PER_S = 130e6
ARCHIVE_RATIO = 0.09

TABLES_SQL = """
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY 1
"""


@task(
    id="backup.create",
    title="Database backup",
    section="Backup verification",
    frequency="daily",
    priority="critical",
    mutates=True,
    needs=("postgres", "pgtools"),
    purpose="Make the nightly logical backup the recovery plan depends on, and prove at "
    "once that it is whole: every process's exit status checked, a checksum and a manifest "
    "written next to it, and old backups pruned by a retention policy.",
    prerequisites=[
        "[database] url (a role that can read every table)",
        "[backups] dir, writable, with room for one more backup",
        "pg_dump of at least the server's major version",
    ],
    procedure=[
        "Open a REPEATABLE READ snapshot on the live database and count each table's rows in it.",
        "pg_dump -Fc --snapshot=<it> to a temporary file, then gzip it; check every exit status.",
        "fsync, rename to rylie_full_<UTC timestamp>.dump.gz, write the .sha256 sidecar and manifest.",
        "Plan retention (keep_daily/keep_weekly/keep_monthly); with --apply delete what falls outside.",
    ],
    expected_outcome="A new complete backup with sidecar and manifest; old backups pruned.",
    rollback="Delete the new file; retention deletions cannot be undone, which is why they "
    "are planned first and only touch files matching the pattern inside [backups] dir.",
    time_estimate="2m",
    manual_time="15 minutes",
    timeout="2h",
    codes=("backup.created", "backup.create_failed", "backup.retention"),
)
def create(ctx: Context) -> Iterator[Item]:
    cfg = ctx.config.backups
    if cfg.dir is None:
        raise TargetUnavailable("[backups] dir is not set (where backup.create writes)")
    pg = ctx.target("postgres")
    tools = ctx.target("pgtools")
    major = pg.server_version_num // 10000
    pg_dump = tools.find("pg_dump", at_least=major, prefer=major)
    db_size = int(pg.scalar("SELECT pg_database_size(current_database())") or 0)
    database = str(pg.scalar("SELECT current_database()"))
    when = datetime.now(UTC).replace(microsecond=0)
    target = Path(cfg.dir) / bf.file_name(cfg.name_template, when, cfg.format)
    estimate = db_size / DUMP_BYTES_PER_S + 1
    plan: dict[str, Any] = {
        "command": _command_text(pg_dump, cfg.format, target),
        "database_bytes": db_size,
        "estimated_bytes": int(db_size * (ARCHIVE_RATIO if cfg.format != "plain-gzip" else 0.2)),
        "file": str(target),
    }
    result: dict[str, Any] = {}

    def do() -> dict[str, Any]:
        result.update(_dump(ctx, tools, pg_dump, cfg.format, target, database))
        return {"changed": True, "bytes": result["size_bytes"], "sha256": result["sha256"]}

    step = ctx.action(
        f"pg_dump {database} to {target.name}",
        do,
        reason="nightly backup (the runbook's pg_dump -Fc, gzipped)",
        lock="ACCESS SHARE on every table for the dump's duration",
        estimate_s=estimate,
        **plan,
    )
    yield step
    if step.status is StepStatus.FAILED:
        yield Finding(
            "backup.create_failed",
            Severity.CRITICAL,
            f"backup of {database} failed: {step.detail.get('error', 'unknown error')}",
            str(target),
            {**plan, "error": step.detail.get("error")},
            "Read the tool's message: disk full, permissions, a pg_dump older than the server, "
            "or a lock conflict. No partial file was left behind.",
        )
        return  # never prune old backups when the new one failed
    if step.status is StepStatus.DONE:
        yield Metric("backup.size_bytes", result["size_bytes"], "B")
        yield Metric("backup.dump_seconds", round(step.duration_s, 3), "s")
        yield Finding(
            "backup.created",
            Severity.OK,
            f"backup {target.name} written ({format_size(result['size_bytes'])} in "
            f"{format_duration(step.duration_s)})",
            str(target),
            {**plan, **result},
        )
    yield from _retention(ctx, Path(cfg.dir))


def _dump(
    ctx: Context, tools: PgTools, pg_dump: Path, fmt: str, target: Path, database: str
) -> dict[str, Any]:
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    pg = ctx.target("postgres")
    # The password travels in the environment, never on pg_dump's command line.
    dsn, env = pg.dsn(), pg.libpq_env()
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    started = datetime.now(UTC)
    try:
        with pg.transaction():
            pg.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snapshot = str(pg.scalar("SELECT pg_export_snapshot()"))
            counts: dict[str, int] = {}
            for row in pg.query(TABLES_SQL):
                name = row["name"]
                counts[name] = int(pg.scalar(f"SELECT count(*) FROM {name}"))
            dump = [str(pg_dump), f"--snapshot={snapshot}", f"--dbname={dsn}"]
            if fmt == "plain-gzip":
                dump.insert(1, "-Fp")
            else:
                dump.insert(1, "-Fc")
            if fmt == "custom":
                tools.run([*dump, "-f", str(tmp)], env=env)
            elif fmt == "custom-gzip":
                # to a file first: a seekable archive records its data offsets (see gzip_file)
                try:
                    tools.run([*dump, "-f", str(part)], env=env)
                    bf.gzip_file(part, tmp)
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        part.unlink()
            else:
                gzip = shutil.which("gzip")
                if gzip is None:
                    raise TargetUnavailable("gzip not found on PATH (apt-get install gzip)")
                tools.run(dump, [gzip, "-c"], stdout=tmp, env=env)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        digest = bf.sha256_file(tmp)
        # link() fails if the name exists, where rename() would silently replace an
        # earlier backup that happens to carry the same second in its name.
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise FileExistsError(
                f"{target.name} already exists; not overwriting a backup"
            ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    finished = datetime.now(UTC)
    size = target.stat().st_size
    bf.write_sidecar(target, digest)
    manifest = {
        "file": target.name,
        "database": database,
        "format": fmt,
        "server_version": str(pg.scalar("SHOW server_version")),
        "pg_dump_version": ".".join(map(str, tools.version(pg_dump))),
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "size_bytes": size,
        "sha256": digest,
        "row_counts": counts,
    }
    bf.write_manifest(target, manifest)
    return {**manifest, "free_bytes_before": free}


def _command_text(pg_dump: Path, fmt: str, target: Path) -> str:
    if fmt == "custom":
        return f"{pg_dump} -Fc --dbname=$DATABASE_URL -f {target}"
    if fmt == "custom-gzip":
        part = f"{target}.part"
        return f"{pg_dump} -Fc --dbname=$DATABASE_URL -f {part} && gzip -1 -c {part} > {target}"
    return f"set -o pipefail; {pg_dump} -Fp --dbname=$DATABASE_URL | gzip -c > {target}"


def _retention(ctx: Context, directory: Path) -> Iterator[Item]:
    cfg = ctx.config.backups
    pattern = Path(cfg.pattern).name if cfg.pattern else _template_glob(cfg.name_template)
    root = directory.resolve()
    backups = [
        b
        for b in bf.list_backups(str(directory / pattern), cfg.name_timezone)
        if b.path.resolve().parent == root and b.when is not None
    ]
    keep = bf.retention_keep(
        backups, daily=cfg.keep_daily, weekly=cfg.keep_weekly, monthly=cfg.keep_monthly
    )
    doomed = [b for b in backups if b.path not in keep]
    policy = f"keep_daily={cfg.keep_daily}, keep_weekly={cfg.keep_weekly}, keep_monthly={cfg.keep_monthly}"
    for b in doomed:

        def delete(path: Path = b.path) -> dict[str, Any]:
            freed = path.stat().st_size
            path.unlink()
            for extra in (bf.sidecar_path(path), bf.manifest_path(path)):
                with contextlib.suppress(FileNotFoundError):
                    extra.unlink()
            return {"bytes_reclaimed": freed}

        yield ctx.action(
            f"delete {b.path.name}",
            delete,
            reason=f"older than the retention policy ({policy})",
            command=f"rm {b.path}",
        )
    yield Finding(
        "backup.retention",
        Severity.OK,
        f"{len(backups)} backups, {len(keep)} kept by retention, "
        f"{len(doomed)} {'deleted' if ctx.apply else 'to delete'}",
        str(directory),
        {
            "policy": policy,
            "pattern": str(directory / pattern),
            "kept": sorted(p.name for p in keep),
        },
    )


def _template_glob(template: str) -> str:
    return template.replace("{timestamp}", "*").replace("{ext}", "*")


TASKS = [create]
