"""Backups: ``backup.verify`` — the restore drill, in tiers, with a receipt.

T0 freshness (the newest backup by the time in its name), T1 integrity (checksum, gzip to
the end, format, the archive's table of contents), T2 a parallel restore into a scratch
database, T3 validation against live, T4 a receipt with each phase's duration and the
measured RPO and RTO. The scratch database is dropped whatever happens, and leftovers of a
crashed run are swept first.

``mutates`` is False: the live database and the backup files are never changed. The only
writes are to a scratch database rota creates for the drill and drops again, and to a
temporary file; restoring is the point of verification, so check mode does it too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rota.errors import TargetUnavailable
from rota.model import Finding, Metric, Severity
from rota.targets.pgtools import PgToolError, conninfo
from rota.targets.postgres import Postgres, describe_url
from rota.task import Context, Item, one_line, task
from rota.tasks.backup import files as bf
from rota.tasks.backup import restore as br
from rota.tasks.backup.checks import freshness, integrity, sweep
from rota.tasks.backup.drill import Drill
from rota.tasks.backup.drill import finding as _f
from rota.tasks.backup.drill import quote_ident as _quote
from rota.units import format_duration

_DRIFT_SHOWN = 10
RESTORE_OPTIONS = "-c maintenance_work_mem=512MB -c synchronous_commit=off -c work_mem=64MB"


@task(
    id="backup.verify",
    title="Backup verification (restore drill)",
    section="Backup verification",
    frequency="daily",
    priority="critical",
    mutates=False,
    needs=("database", "backups"),
    purpose="Prove the newest backup can actually be restored and holds the data it should: "
    "the runbook's restore test, done without its seven defects and with a receipt.",
    prerequisites=[
        "[backups] pattern (glob of the backup files)",
        "[database] url; a role with CREATEDB on it or on [backups] restore_url",
        "pg_restore at least the dump's version; free space for one decompressed backup",
    ],
    procedure=[
        "Sweep scratch databases and temp files left by a crashed earlier run.",
        "T0: newest backup by the timestamp in its name; cross-check mtime; age and size.",
        "T1: sha256 against the sidecar, gzip read to its end, format, pg_restore -l.",
        "T2: pg_restore -j N --no-owner --no-privileges --exit-on-error into rota_verify_<random> "
        "(plain SQL through psql -v ON_ERROR_STOP=1).",
        "T3: validation queries, row counts and schema fingerprint against live, newest created_at.",
        "T4: receipt with hash, versions, phase durations, counts and verdict; drop the scratch database.",
    ],
    expected_outcome="The newest backup is fresh, intact, restores within the RTO target and "
    "matches live within the growth expected since it was taken.",
    rollback="Nothing to roll back: the scratch database and temp file are removed in every "
    "outcome; the live database and the backups are only read.",
    time_estimate="5m",
    manual_time="30 minutes",
    timeout="2h",
    codes=(
        "backup.missing",
        "backup.stale",
        "backup.size_anomaly",
        "backup.mtime_mismatch",
        "backup.checksum_mismatch",
        "backup.corrupt",
        "backup.restore_failed",
        "backup.validation_failed",
        "backup.count_mismatch",
        "backup.schema_drift",
        "backup.rpo_exceeded",
        "backup.rto_exceeded",
        "backup.leftover_scratch",
        "backup.receipt",
    ),
)
def verify(ctx: Context) -> Iterator[Item]:
    drill = Drill(ctx)
    try:
        yield from _verify(drill)
    finally:
        drill.close()


def _verify(d: Drill) -> Iterator[Item]:
    expectations: list[tuple[str, br.Expectation]] = []
    for v in d.cfg.validate_:
        try:
            expectations.append((v.query, br.Expectation.parse(v.expect)))
        except br.ExpectationError as exc:
            yield _f(
                d,
                "backup.validation_failed",
                Severity.UNKNOWN,
                f"[[backups.validate]] {exc}",
                v.query[:80],
                {"query": v.query},
                "Write expect as '<op> <value>', e.g. \"> 0\".",
            )
            return
    yield from sweep(d)
    newest = yield from freshness(d)
    if newest is None:
        return
    d.receipt.update(file=str(newest.path), size_bytes=newest.size)
    temp = d.temp_dir / f"rota_verify_{os.getpid()}_{os.urandom(4).hex()}.dump"
    # The live side of validation (tables, fingerprint, counts) depends on nothing in the
    # backup: it is read while the integrity pass, which keeps one core busy, and the
    # restore run. Live is only read.
    pool = ThreadPoolExecutor(1, thread_name_prefix="rota-live")
    live: Live = Live(None, None)
    try:
        live = Live(str(d.live.scalar("SELECT current_database()")), None)
        live = Live(live.name, pool.submit(br.live_side, d.live))
    except TargetUnavailable:
        pass  # raised again where the live side is needed, after T1 has had its say
    archive = None
    try:
        archive = yield from integrity(d, newest, temp)
        if archive is not None:
            yield from _restore_and_validate(d, newest, archive, expectations, pool, live)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        if archive is None and live.side is not None and not live.side.done():
            d.live.cancel()  # nothing to compare with: do not wait for live's counts
        pool.shutdown(wait=True, cancel_futures=True)
    yield from _receipt(d, newest)


@dataclass(frozen=True)
class Live:
    """The live database's name and its side of validation, being read in the background."""

    name: str | None
    side: Future[br.LiveSide] | None


# -- T2 restore + T3 validation -----------------------------------------------------------------
def _restore_and_validate(
    d: Drill,
    b: bf.BackupFile,
    archive: tuple[str, Path, bool],
    expectations: list[tuple[str, br.Expectation]],
    pool: ThreadPoolExecutor,
    live: Live,
) -> Iterator[Item]:
    taken = {r["datname"] for r in d.admin.query("SELECT datname FROM pg_database")}
    live_name = live.name or str(d.live.scalar("SELECT current_database()"))
    name = br.scratch_name(taken | {live_name})
    ident = _quote(name)
    d.receipt["scratch_database"] = name
    created = False
    keeper: Postgres | None = None
    early: br.EarlyCounts | None = None
    try:
        d.admin.execute(f"CREATE DATABASE {ident} TEMPLATE template0")
        created = True
        # One idle session holds the database as this run's from now to the drop, so a
        # concurrent run's sweep (another setup, same server) sees it in use.
        keeper = _scratch_session(d, name)
        keeper.scalar("SELECT 1")
        side = live.side or pool.submit(br.live_side, d.live)
        early = _early_counts(d, archive, name)
        yield from _restore(d, b, archive, name, early)
        if d.receipt.get("restored"):
            yield from _validate(d, b, name, expectations, side, early)
    except TargetUnavailable as exc:
        yield _f(
            d,
            "backup.restore_failed",
            Severity.UNKNOWN,
            f"cannot restore {b.path.name}: {exc}",
            str(b.path),
            {"scratch_database": name},
            "Give rota's role CREATEDB on the server, or set [backups] restore_url to one where it has it.",
        )
    except Exception as exc:
        if not created:
            yield _f(
                d,
                "backup.restore_failed",
                Severity.UNKNOWN,
                f"cannot create the scratch database {name}: {one_line(exc)}",
                describe_url(d.server_url),
                {"sql": f"CREATE DATABASE {ident}"},
                "Give rota's role CREATEDB, or set [backups] restore_url to a server where it has it.",
            )
        else:
            raise
    finally:
        t0 = time.monotonic()
        if early is not None:
            early.close()
        if keeper is not None:
            keeper.close()
        with contextlib.suppress(Exception):
            d.admin.execute(f"DROP DATABASE IF EXISTS {ident} WITH (FORCE)")
        d.phase("drop", t0)


def _early_counts(d: Drill, archive: tuple[str, Path, bool], name: str) -> br.EarlyCounts | None:
    """Counting during the restore's tail needs ``pg_restore -j`` from a seekable archive
    and the list of what it will run; without them every table is counted afterwards."""
    kind, path, piped = archive
    if kind != "custom" or piped:
        return None
    try:
        listing = d.tools.run(
            [
                str(d.tools.find("pg_restore")),
                "-l",
                "--section=data",
                "--section=post-data",
                str(path),
            ],
            capture=True,
        )
    except (PgToolError, TargetUnavailable):
        return None
    return br.EarlyCounts(
        listing.stdout.decode(errors="replace"), lambda: _scratch_session(d, name)
    )


def _restore(
    d: Drill,
    b: bf.BackupFile,
    archive: tuple[str, Path, bool],
    name: str,
    early: br.EarlyCounts | None = None,
) -> Iterator[Item]:
    kind, path, piped = archive
    dsn, env = conninfo(d.server_url, dbname=name)
    scratch_url = _with_db(d.server_url, name)
    connect_timeout = d.ctx.config.database.connect_timeout
    jobs = d.cfg.jobs or os.cpu_count() or 1
    gzip = shutil.which("gzip") or "gzip"
    t0 = time.monotonic()
    deadline = t0 + max(d.cfg.rto_target * 4, 600)
    # The scratch sessions only: bigger sort memory builds the indexes and checks the
    # foreign keys in fewer passes; nothing here needs to survive a crash.
    options, refused = br.usable_options(scratch_url, RESTORE_OPTIONS, connect_timeout)
    d.receipt["restore_settings"] = {"pgoptions": options, "refused": refused}
    run_env = {**env, "PGAPPNAME": d.owner, "PG_COLOR": "never"}
    if options:
        run_env["PGOPTIONS"] = options
    if kind == "plain":
        psql = d.tools.find("psql")
        cmd = [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", os.devnull, f"--dbname={dsn}"]
        stages = [[gzip, "-dc", str(path)], cmd] if piped else [[*cmd, "-f", str(path)]]
        shown = f"gzip -dc {b.path.name} | psql -X -v ON_ERROR_STOP=1 -d {name}"
    else:
        pg_restore = d.tools.find("pg_restore")
        opts = ["--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={dsn}"]
        if piped:  # no room for a seekable copy: no -j from a pipe
            stages = [[gzip, "-dc", str(path)], [str(pg_restore), *opts]]
            jobs = 1
            shown = f"gzip -dc {b.path.name} | pg_restore --no-owner --no-privileges --exit-on-error -d {name}"
        else:
            stages = []
            sections = ["--section=data", "--section=post-data"]
            pre = [str(pg_restore), "--section=pre-data", *opts, str(path)]
            verbose = ["--verbose"] if early is not None else []  # progress for early counts
            rest = [str(pg_restore), f"--jobs={jobs}", *verbose, *sections, *opts, str(path)]
            shown = (
                f"pg_restore --section=pre-data; ALTER TABLE ... SET UNLOGGED; pg_restore -j {jobs} "
                f"--section=data --section=post-data --no-owner --no-privileges --exit-on-error -d {name} {path.name}"
            )
    d.receipt.update(restore_command=shown, jobs=jobs)
    try:
        if stages:
            d.tools.run(*stages, env=run_env, timeout=deadline - time.monotonic())
        else:
            d.tools.run(pre, env=run_env, timeout=deadline - time.monotonic())
            unlogged, why = br.set_unlogged(scratch_url, connect_timeout)
            d.receipt["restore_settings"].update(unlogged_tables=unlogged, logged_because=why)
            d.tools.run(
                rest,
                env=run_env,
                timeout=deadline - time.monotonic(),
                on_stderr=early.line if early is not None else None,
            )
    except PgToolError as exc:
        d.phase("restore", t0)
        yield _f(
            d,
            "backup.restore_failed",
            Severity.CRITICAL,
            f"{b.path.name} does not restore: {exc}",
            str(b.path),
            {
                "file": str(b.path),
                "command": shown,
                "tool": exc.tool,
                "exit": exc.returncode,
                "error": exc.stderr,
                "after_s": round(time.monotonic() - t0, 1),
            },
            "This backup cannot be relied on: fix the cause (the message above) and take a new one.",
        )
        return
    d.phase("restore", t0)
    took = d.receipt["phases_s"]["restore"]
    d.receipt["restored"] = True
    yield Metric("backup.restore_seconds", took, "s")
    ev = {"restore_s": took, "rto_target_s": d.cfg.rto_target, "command": shown, "jobs": jobs}
    if took > d.cfg.rto_target:
        yield _f(
            d,
            "backup.rto_exceeded",
            Severity.WARNING,
            f"restore took {format_duration(took)}, over the RTO target of {format_duration(d.cfg.rto_target)}",
            str(b.path),
            ev,
            "Raise [backups] jobs, restore onto faster storage, or revisit the RTO target.",
        )
    else:
        yield _f(
            d,
            "backup.rto_exceeded",
            Severity.OK,
            f"restored in {format_duration(took)}",
            str(b.path),
            ev,
        )


def _validate(
    d: Drill,
    b: bf.BackupFile,
    name: str,
    expectations: list[tuple[str, br.Expectation]],
    live: Future[br.LiveSide],
    early: br.EarlyCounts | None = None,
) -> Iterator[Item]:
    t0 = time.monotonic()
    scratch = _scratch_session(d, name)
    try:
        yield from _queries(d, b, scratch, expectations)
        counted = early.result() if early is not None else None
        if early is not None and early.problems:
            d.receipt["early_count_problems"] = early.problems[:3]
        yield from _compare(
            d, b, scratch, live.result(), lambda: _scratch_session(d, name), counted
        )
    finally:
        scratch.close()
        d.phase("validate", t0)


def _scratch_session(d: Drill, name: str) -> Postgres:
    """A read-only session in the scratch database, tagged as this run's, cancelled with it."""
    db = d.ctx.config.database
    pg = Postgres(
        _with_db(d.server_url, name),
        readonly=True,
        connect_timeout=db.connect_timeout,
        statement_timeout=max(db.statement_timeout, 600),
        application_name=d.owner,
    )
    d.ctx.on_cancel(pg.cancel)
    return pg


def _with_db(url: str, name: str) -> str:
    dsn, env = conninfo(url, dbname=name)
    if env.get("PGPASSWORD"):
        from psycopg.conninfo import make_conninfo

        return make_conninfo(dsn, password=env["PGPASSWORD"])
    return dsn


def _queries(
    d: Drill, b: bf.BackupFile, scratch: Postgres, expectations: list[tuple[str, br.Expectation]]
) -> Iterator[Item]:
    for query, exp in expectations:
        try:
            got = scratch.scalar(query)
        except Exception as exc:
            yield _f(
                d,
                "backup.validation_failed",
                Severity.CRITICAL,
                f"validation query failed: {one_line(exc)}",
                query[:80],
                {"query": query, "expect": exp.text},
                "Fix the query, or the backup lacks what it reads.",
            )
            continue
        ok = exp.check(got)
        yield _f(
            d,
            "backup.validation_failed",
            Severity.OK if ok else Severity.CRITICAL,
            f"{query[:60]!s} returned {got!r} (expected {exp.text})",
            query[:80],
            {"query": query, "expect": exp.text, "got": str(got)},
            "" if ok else "The restored backup does not hold what it should: compare with live.",
        )


def _compare(
    d: Drill,
    b: bf.BackupFile,
    scratch: Postgres,
    ls: br.LiveSide,
    second_session: Callable[[], Postgres] | None = None,
    early: br.Restored | None = None,
) -> Iterator[Item]:
    subject = str(b.path)
    live_tables = ls.tables
    restored_tables = br.tables(scratch)
    missing = sorted(set(live_tables) - set(restored_tables))
    extra = sorted(set(restored_tables) - set(live_tables))
    live_fp, live_items = ls.fingerprint, ls.items
    rest_fp, rest_items = br.fingerprint(scratch)
    ev = {
        "live": live_fp,
        "restored": rest_fp,
        "only_live": sorted(live_items - rest_items)[:_DRIFT_SHOWN],
        "only_restored": sorted(rest_items - live_items)[:_DRIFT_SHOWN],
    }
    d.receipt["schema"] = {"live": live_fp, "restored": rest_fp}
    if missing:
        yield _f(
            d,
            "backup.schema_drift",
            Severity.CRITICAL,
            f"the backup lacks {len(missing)} table(s) live has: {', '.join(missing[:5])}",
            subject,
            {**ev, "missing_tables": missing},
            "The dump excludes tables (pg_dump -T/-t?) or predates them; a restore would lose them.",
        )
    elif live_fp != rest_fp:
        yield _f(
            d,
            "backup.schema_drift",
            Severity.WARNING,
            f"schema differs from live ({len(live_items - rest_items)} items only live, "
            f"{len(rest_items - live_items)} only in the backup)",
            subject,
            {**ev, "extra_tables": extra},
            "Expected after a migration since the backup; otherwise find out who changed what.",
        )
    else:
        yield _f(
            d,
            "backup.schema_drift",
            Severity.OK,
            f"schema matches live (fingerprint {live_fp})",
            subject,
            ev,
        )
    common = {n: restored_tables[n] for n in restored_tables if n in live_tables}
    counted = br.count_restored(scratch, common, second_session, early)
    if early is not None:
        d.receipt["counted_during_restore"] = sorted(set(early.counts) & set(common))
    restored = counted.counts
    live = ls.counts
    d.receipt["counts"] = {n: {"live": live[n], "restored": restored[n]} for n in common}
    age_days = (d.now - b.time).total_seconds() / 86400
    manifest = bf.read_manifest(b.path) or {}
    dumped = {k.replace('"', ""): v for k, v in (manifest.get("row_counts") or {}).items()}
    bad = 0
    for n in sorted(common):
        lv, rv = live[n], restored[n]
        allow = br.count_allowance(lv, age_days, d.cfg.expected_growth)
        cev = {
            "live": lv,
            "restored": rv,
            "allowed_difference": allow,
            "age_days": round(age_days, 2),
            "sql": f"SELECT count(*) FROM {common[n]}",
        }
        if n in dumped and int(dumped[n]) != rv:
            bad += 1
            yield _f(
                d,
                "backup.count_mismatch",
                Severity.CRITICAL,
                f"{n}: restored {rv} rows, but the manifest says the dump held {dumped[n]}",
                n,
                {**cev, "manifest": dumped[n]},
                "Rows were lost between dump and restore: the file is damaged.",
            )
        elif lv - rv > allow:
            bad += 1
            yield _f(
                d,
                "backup.count_mismatch",
                Severity.CRITICAL,
                f"{n}: restored {rv} rows, live has {lv} ({lv - rv} more than the {allow} expected growth allows)",
                n,
                cev,
                "The backup is missing data: check the dump's scope and whether it was cut short.",
            )
        elif rv - lv > allow:
            bad += 1
            yield _f(
                d,
                "backup.count_mismatch",
                Severity.WARNING,
                f"{n}: restored {rv} rows, more than live's {lv}",
                n,
                cev,
                "Rows were deleted since the backup (retention, cleanup) or live lost data: make sure it is the former.",
            )
    if not bad:
        yield _f(
            d,
            "backup.count_mismatch",
            Severity.OK,
            f"row counts of {len(common)} tables agree with live",
            subject,
            {"tables": len(common)},
        )
    newest, where = counted.newest, counted.newest_in
    if newest is not None:
        rpo = max(0.0, (d.now - newest).total_seconds())
        d.receipt["rpo_s"] = round(rpo)
        yield Metric("backup.rpo_seconds", round(rpo), "s")
        rev = {
            "newest_created_at": newest.isoformat(),
            "table": where,
            "rpo_s": round(rpo),
            "max_age_s": d.cfg.max_age,
        }
        if rpo > d.cfg.max_age:
            yield _f(
                d,
                "backup.rpo_exceeded",
                Severity.WARNING,
                f"newest data in the backup is {format_duration(rpo)} old (RPO {format_duration(d.cfg.max_age)})",
                subject,
                rev,
                "A restore would lose more than the RPO allows: back up more often, or check writes stopped.",
            )
        else:
            yield _f(
                d,
                "backup.rpo_exceeded",
                Severity.OK,
                f"achieved RPO {format_duration(rpo)}",
                subject,
                rev,
            )


# -- T4 receipt ---------------------------------------------------------------------------------
def _receipt(d: Drill, b: bf.BackupFile) -> Iterator[Item]:
    worst = Severity.worst(f.severity for f in d.findings)
    d.receipt["verdict"] = (
        "passed" if worst is Severity.OK else ("warning" if worst is Severity.WARNING else "failed")
    )
    d.receipt["verified_at"] = d.now.isoformat(timespec="seconds")
    total = sum(d.receipt["phases_s"].values())
    msg = (
        f"{b.path.name} verified: restored and validated in {format_duration(total)}"
        if worst is Severity.OK
        else f"{b.path.name} verification {d.receipt['verdict']}"
    )
    yield Finding("backup.receipt", worst, msg, str(b.path), dict(d.receipt))


TASKS = [verify]
