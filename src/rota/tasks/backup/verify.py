"""Backups: ``backup.verify`` — the restore drill, in tiers, with a receipt.

T0 freshness (the newest backup by the time in its name), T1 integrity (checksum, gzip to
the end, format, the archive's table of contents), T2 a parallel restore into a scratch
database, T3 validation against live, T4 a receipt with each phase's duration and the
measured RPO and RTO. The scratch database is dropped whatever happens, and leftovers of a
crashed run are swept first. T0 and T1 need no database: when the server is unreachable
they run all the same, and only T2 and T3 are ``unknown``, each with the reason.

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
from typing import Any

from rota.errors import TargetUnavailable
from rota.model import Finding, Metric, Severity
from rota.targets.pgtools import PgToolError
from rota.targets.postgres import Postgres
from rota.task import Context, Item, task
from rota.tasks.backup import files as bf
from rota.tasks.backup import restore as br
from rota.tasks.backup.checks import freshness, integrity, sweep
from rota.tasks.backup.drill import Drill
from rota.tasks.backup.drill import quote_ident as _quote
from rota.tasks.backup.scan import sniff
from rota.tasks.common import finding
from rota.text import error_line
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
    needs=("postgres", "backups", "pgtools"),
    purpose="Prove the newest backup can actually be restored and holds the data it should: "
    "the runbook's restore test, done without its seven defects and with a receipt.",
    prerequisites=[
        "[backups] pattern (glob of the backup files)",
        "[database] url; a role with CREATEDB on it or on [backups] restore_url",
        "pg_restore at least the dump's version; free space for one decompressed backup",
    ],
    procedure=[
        "Sweep scratch databases and temp files left by a crashed earlier run.",
        "T0: newest backup by the time in its name (20261204_110000, 2026-12-04T03-00-00Z, "
        "epoch seconds...; zone from the name, else [backups] name_timezone), mtime when it "
        "has none; cross-check mtime; age and size.",
        "T1: sha256 against the sidecar, gzip read to its end, format, pg_restore -l. Meanwhile "
        "rota_verify_<random> is created and the schema (pre-data) restored into it, tables UNLOGGED.",
        "T2: pg_restore -j N --section=data --section=post-data --no-owner --no-privileges "
        "--exit-on-error (plain SQL through psql -v ON_ERROR_STOP=1).",
        "T3: validation queries, row counts (taken while pg_restore checks foreign keys) and schema "
        "fingerprint against live, newest created_at.",
        "T4: receipt with hash, versions, phase durations, counts and verdict; drop the scratch database.",
        "With the database server unreachable, T0 and T1 still run and report; T2 and T3 are "
        "unknown with the reason, and the verdict is 'incomplete'.",
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
        for item in _verify(drill):
            if isinstance(item, Finding):
                drill.findings.append(item)  # the receipt's verdict is drawn from them
            yield item
    finally:
        drill.close()


def _verify(d: Drill) -> Iterator[Item]:
    expectations: list[tuple[str, br.Expectation]] = []
    for v in d.cfg.validate_:
        try:
            expectations.append((v.query, br.Expectation.parse(v.expect)))
        except br.ExpectationError as exc:
            yield finding(
                "backup.validation_failed",
                Severity.UNKNOWN,
                f"[[backups.validate]] {exc}",
                v.query[:80],
                {"query": v.query},
                "Write expect as '<op> <value>', e.g. \"> 0\".",
            )
            return
    # T0 and T1 need no database: with the server down (the outage a restore drill is
    # for) they still run and report; only the restore and the comparison with live wait.
    unreachable = yield from sweep(d)
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
    if unreachable:  # nothing to compare live with: live is not asked
        live = Live(None, None, unreachable if d.restores_on_live else "")
    else:
        try:
            live = Live(str(d.live.scalar("SELECT current_database()")), None)
            live = Live(live.name, pool.submit(br.live_side, d.live))
        except TargetUnavailable as exc:
            live = Live(None, None, str(exc))
    # The scratch database is made ready (created, held, the backup's schema restored
    # into it) while T1 reads the file; nothing of it is reported or used before T1 passed.
    preparing = ThreadPoolExecutor(1, thread_name_prefix="rota-scratch")
    ready = None if unreachable else preparing.submit(_prepare, d, newest, live.name)
    archive = None
    try:
        archive = yield from integrity(d, newest, temp)
        if archive is not None and ready is None:
            yield from _not_restored(d, newest, unreachable, expectations, live)
        elif archive is not None and ready is not None:
            scratch = ready.result()
            yield from _restore_and_validate(d, newest, archive, expectations, pool, live, scratch)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        if archive is None and live.side is not None and not live.side.done():
            d.live.cancel()  # nothing to compare with: do not wait for live's counts
        pool.shutdown(wait=True, cancel_futures=True)
        preparing.shutdown(wait=True)
        if ready is not None:
            _discard(d, ready.result())
    yield from _receipt(d, newest)


@dataclass(frozen=True)
class Live:
    """The live database's name and its side of validation, being read in the background."""

    name: str | None
    side: Future[br.LiveSide] | None
    down: str = ""  # why live cannot be read (unreachable), when it cannot


def _not_restored(
    d: Drill,
    b: bf.BackupFile,
    reason: str,
    expectations: list[tuple[str, br.Expectation]],
    live: Live,
) -> Iterator[Item]:
    """The tiers that need the database server, when it is unreachable: unknown, each
    saying why, after T0 and T1 reported what they could without it."""
    where = d.admin.where
    yield finding(
        "backup.restore_failed",
        Severity.UNKNOWN,
        f"{b.path.name} not restored: {reason}",
        where,
        {"tier": "T2 restore", "reason": reason, "server": where, "file": str(b.path)},
        "Freshness and integrity were checked without the server; the restore drill runs "
        "again when it is reachable (or set [backups] restore_url to another server).",
    )
    if expectations:
        yield finding(
            "backup.validation_failed",
            Severity.UNKNOWN,
            f"{len(expectations)} validation quer{'y' if len(expectations) == 1 else 'ies'} "
            "not run: nothing was restored",
            where,
            {"tier": "T3 validation", "reason": reason, "queries": [q for q, _ in expectations]},
        )
    yield from _not_compared(d, b, live.down or f"nothing was restored ({reason})")


def _not_compared(d: Drill, b: bf.BackupFile, reason: str) -> Iterator[Item]:
    """T3's comparison with live, when live or the restored copy cannot be read."""
    ev = {"tier": "T3 validation", "reason": reason, "live": d.live.where}
    for code, what in (("backup.schema_drift", "schema"), ("backup.count_mismatch", "row counts")):
        yield finding(
            code,
            Severity.UNKNOWN,
            f"{what} not compared with live: {reason}",
            str(b.path),
            ev,
        )


# -- T2 restore + T3 validation -----------------------------------------------------------------
@dataclass
class Scratch:
    """The scratch database, made ready while T1 reads the backup (see :func:`_prepare`)."""

    name: str = ""
    created: bool = False
    keeper: Postgres | None = None  # holds the database as this run's until the drop
    options: str = ""  # PGOPTIONS the scratch sessions accept (RESTORE_OPTIONS or "")
    refused: str = ""  # why not, when the server refused them
    error: Exception | None = None  # the database could not be made
    pre_data: PgToolError | None = None  # the schema did not restore
    pre_data_s: float = 0.0
    unlogged: tuple[int, str] | None = None  # set_unlogged's answer, after a schema restore
    early: br.EarlyCounts | None = None


def _prepare(d: Drill, b: bf.BackupFile, live_name: str | None) -> Scratch:
    """Create the scratch database, hold it, probe the restore settings and, for a custom
    archive, restore its schema (pre-data) and make the tables UNLOGGED: all of it while T1
    reads the file, from the file itself. Failures are kept for :func:`_restore_and_validate`
    to report once T1 has passed; the database is dropped in every outcome (:func:`_discard`)."""
    s = Scratch()
    try:
        taken = {r["datname"] for r in d.admin.query("SELECT datname FROM pg_database")}
        # No live name: live is unreachable, so the scratch server is another one.
        s.name = br.scratch_name(taken | ({live_name} if live_name else set()))
        d.admin.execute(f"CREATE DATABASE {_quote(s.name)} TEMPLATE template0")
        s.created = True
        # One idle session holds the database as this run's from now to the drop, so a
        # concurrent run's sweep (another setup, same server) sees it in use.
        s.keeper = _scratch_session(d, s.name)
        s.keeper.scalar("SELECT 1")
        # The scratch sessions only: bigger sort memory builds the indexes and checks the
        # foreign keys in fewer passes; nothing here needs to survive a crash.
        probe = d.admin.sibling(s.name, application_name=d.owner)
        s.options, s.refused = br.usable_options(probe, RESTORE_OPTIONS)
        kind, gz = sniff(b.path)
        if kind == "custom":  # plain SQL goes through psql whole
            _restore_schema(d, s, b.path, gz)
    except Exception as exc:
        s.error = exc
    return s


def _restore_schema(d: Drill, s: Scratch, path: Path, gz: bool) -> None:
    """pre-data into the scratch database, then its tables UNLOGGED (all or none)."""
    t0 = time.monotonic()
    pg_restore = str(d.tools.find("pg_restore"))
    pre = [pg_restore, "--section=pre-data", *_RESTORE_FLAGS, _dbname_arg(d, s.name)]
    env = _restore_env(d, s)
    try:
        if gz:  # pg_restore reads the table of contents only: gzip may end on SIGPIPE
            gunzip = [shutil.which("gzip") or "gzip", "-dc", str(path)]
            d.tools.run(gunzip, pre, env=env, reads_part=True)
        else:
            d.tools.run([*pre, str(path)], env=env)
        with contextlib.closing(_scratch_session(d, s.name, readonly=False)) as scratch:
            s.unlogged = br.set_unlogged(scratch)
    except PgToolError as exc:
        s.pre_data = exc
    finally:
        s.pre_data_s = time.monotonic() - t0


def _discard(d: Drill, s: Scratch) -> None:
    """Close every session in the scratch database and drop it (any outcome)."""
    if not s.name:
        return
    t0 = time.monotonic()
    if s.early is not None:
        s.early.close()
    if s.keeper is not None:
        s.keeper.close()
    with contextlib.suppress(Exception):
        d.admin.execute(f"DROP DATABASE IF EXISTS {_quote(s.name)} WITH (FORCE)")
    d.phase("drop", t0)


_RESTORE_FLAGS = ("--no-owner", "--no-privileges", "--exit-on-error")


def _dbname_arg(d: Drill, name: str) -> str:
    return f"--dbname={d.admin.dsn(name)}"  # no password: that travels in the environment


def _restore_env(d: Drill, s: Scratch) -> dict[str, str]:
    run_env = {**d.admin.libpq_env(s.name), "PGAPPNAME": d.owner, "PG_COLOR": "never"}
    if s.options:
        run_env["PGOPTIONS"] = s.options
    return run_env


def _restore_and_validate(
    d: Drill,
    b: bf.BackupFile,
    archive: tuple[str, Path, bool],
    expectations: list[tuple[str, br.Expectation]],
    pool: ThreadPoolExecutor,
    live: Live,
    s: Scratch,
) -> Iterator[Item]:
    d.receipt["scratch_database"] = s.name
    if isinstance(s.error, TargetUnavailable):
        yield finding(
            "backup.restore_failed",
            Severity.UNKNOWN,
            f"cannot restore {b.path.name}: {s.error}",
            str(b.path),
            {"scratch_database": s.name},
            "Give rota's role CREATEDB on the server, or set [backups] restore_url to one where it has it.",
        )
        return
    if s.error is not None and not s.created:
        yield finding(
            "backup.restore_failed",
            Severity.UNKNOWN,
            f"cannot create the scratch database {s.name}: {error_line(s.error, typed=True)}",
            d.admin.where,
            {"sql": f"CREATE DATABASE {_quote(s.name)}"},
            "Give rota's role CREATEDB, or set [backups] restore_url to a server where it has it.",
        )
        return
    if s.error is not None:
        raise s.error
    side = live.side
    if side is None and not live.down:
        side = pool.submit(br.live_side, d.live)
    s.early = _early_counts(d, archive, s.name)
    yield from _restore(d, b, archive, s)
    if d.receipt.get("restored"):
        yield from _validate(d, b, s.name, expectations, side, s.early, live.down)


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
    d: Drill, b: bf.BackupFile, archive: tuple[str, Path, bool], s: Scratch
) -> Iterator[Item]:
    kind, path, piped = archive
    name = s.name
    jobs = d.cfg.jobs or os.cpu_count() or 1
    gzip = shutil.which("gzip") or "gzip"
    t0 = time.monotonic()
    deadline = t0 + max(d.cfg.rto_target * 4, 600)
    run_env = _restore_env(d, s)
    target = _dbname_arg(d, name)
    follow: Callable[[str], bool] | None = None
    during_t1 = False
    if kind == "plain":
        psql = d.tools.find("psql")
        cmd = [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", os.devnull, target]
        stages = [[gzip, "-dc", str(path)], cmd] if piped else [[*cmd, "-f", str(path)]]
        shown = f"gzip -dc {b.path.name} | psql -X -v ON_ERROR_STOP=1 -d {name}"
    else:
        during_t1 = s.unlogged is not None or s.pre_data is not None
        if not during_t1:  # the first bytes' guess was not "custom": restore the schema now
            _restore_schema(d, s, b.path if piped else path, piped)
        pg_restore = str(d.tools.find("pg_restore"))
        sections = ["--section=data", "--section=post-data"]
        rest = " ".join([*sections, *_RESTORE_FLAGS]) + f" -d {name}"
        if piped:  # no room for a seekable copy: no -j from a pipe
            stages = [[gzip, "-dc", str(path)], [pg_restore, *sections, *_RESTORE_FLAGS, target]]
            jobs = 1
            shown = f"gzip -dc {b.path.name} | pg_restore {rest}"
        else:
            verbose = ["--verbose"] if s.early is not None else []  # progress for early counts
            job = [pg_restore, f"--jobs={jobs}", *verbose, *sections, *_RESTORE_FLAGS, target]
            stages = [[*job, str(path)]]
            follow = s.early.line if s.early is not None else None
            shown = f"pg_restore -j {jobs} {rest} {path.name}"
        shown = f"pg_restore --section=pre-data; ALTER TABLE ... SET UNLOGGED; {shown}"
    settings: dict[str, Any] = {"pgoptions": s.options, "refused": s.refused}
    if kind != "plain":
        settings["schema_restored"] = "while T1 read the file" if during_t1 else "after T1"
    if s.unlogged is not None:
        settings.update(unlogged_tables=s.unlogged[0], logged_because=s.unlogged[1])
    d.receipt.update(restore_command=shown, jobs=jobs, restore_settings=settings)
    try:
        if kind != "plain" and s.pre_data is not None:
            raise s.pre_data
        d.tools.run(*stages, env=run_env, timeout=deadline - time.monotonic(), on_stderr=follow)
    except PgToolError as exc:
        d.phase("restore", t0)
        yield finding(
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
    # The schema was restored while T1 read the file: still part of what a restore takes.
    took = round(d.receipt["phases_s"]["restore"] + s.pre_data_s, 3)
    d.receipt["phases_s"]["restore"] = took
    d.receipt["restored"] = True
    yield Metric("backup.restore_seconds", took, "s")
    ev = {"restore_s": took, "rto_target_s": d.cfg.rto_target, "command": shown, "jobs": jobs}
    if took > d.cfg.rto_target:
        yield finding(
            "backup.rto_exceeded",
            Severity.WARNING,
            f"restore took {format_duration(took)}, over the RTO target of {format_duration(d.cfg.rto_target)}",
            str(b.path),
            ev,
            "Raise [backups] jobs, restore onto faster storage, or revisit the RTO target.",
        )
    else:
        yield finding(
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
    live: Future[br.LiveSide] | None,
    early: br.EarlyCounts | None = None,
    live_down: str = "",
) -> Iterator[Item]:
    t0 = time.monotonic()
    scratch = _scratch_session(d, name)
    try:
        yield from _queries(d, b, scratch, expectations)
        counted = early.result() if early is not None else None
        if early is not None and early.problems:
            d.receipt["early_count_problems"] = early.problems[:3]
        try:
            ls = live.result() if live is not None else None
        except TargetUnavailable as exc:
            ls, live_down = None, str(exc)
        if ls is None:  # restored from another server ([backups] restore_url); live is down
            yield from _not_compared(d, b, live_down or "the live database is unreachable")
            return
        yield from _compare(d, b, scratch, ls, lambda: _scratch_session(d, name), counted)
    finally:
        scratch.close()
        d.phase("validate", t0)


def _scratch_session(d: Drill, name: str, *, readonly: bool = True) -> Postgres:
    """A session in the scratch database (read-only unless asked), tagged as this run's,
    cancelled with it."""
    pg = d.admin.sibling(name, readonly=readonly, application_name=d.owner)
    d.ctx.on_cancel(pg.cancel)
    return pg


def _queries(
    d: Drill, b: bf.BackupFile, scratch: Postgres, expectations: list[tuple[str, br.Expectation]]
) -> Iterator[Item]:
    for query, exp in expectations:
        try:
            got = scratch.scalar(query)
        except Exception as exc:
            yield finding(
                "backup.validation_failed",
                Severity.CRITICAL,
                f"validation query failed: {error_line(exc, typed=True)}",
                query[:80],
                {"query": query, "expect": exp.text},
                "Fix the query, or the backup lacks what it reads.",
            )
            continue
        ok = exp.check(got)
        yield finding(
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
        yield finding(
            "backup.schema_drift",
            Severity.CRITICAL,
            f"the backup lacks {len(missing)} table(s) live has: {', '.join(missing[:5])}",
            subject,
            {**ev, "missing_tables": missing},
            "The dump excludes tables (pg_dump -T/-t?) or predates them; a restore would lose them.",
        )
    elif live_fp != rest_fp:
        yield finding(
            "backup.schema_drift",
            Severity.WARNING,
            f"schema differs from live ({len(live_items - rest_items)} items only live, "
            f"{len(rest_items - live_items)} only in the backup)",
            subject,
            {**ev, "extra_tables": extra},
            "Expected after a migration since the backup; otherwise find out who changed what.",
        )
    else:
        yield finding(
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
            yield finding(
                "backup.count_mismatch",
                Severity.CRITICAL,
                f"{n}: restored {rv} rows, but the manifest says the dump held {dumped[n]}",
                n,
                {**cev, "manifest": dumped[n]},
                "Rows were lost between dump and restore: the file is damaged.",
            )
        elif lv - rv > allow:
            bad += 1
            yield finding(
                "backup.count_mismatch",
                Severity.CRITICAL,
                f"{n}: restored {rv} rows, live has {lv} ({lv - rv} more than the {allow} expected growth allows)",
                n,
                cev,
                "The backup is missing data: check the dump's scope and whether it was cut short.",
            )
        elif rv - lv > allow:
            bad += 1
            yield finding(
                "backup.count_mismatch",
                Severity.WARNING,
                f"{n}: restored {rv} rows, more than live's {lv}",
                n,
                cev,
                "Rows were deleted since the backup (retention, cleanup) or live lost data: make sure it is the former.",
            )
    if not bad:
        yield finding(
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
            yield finding(
                "backup.rpo_exceeded",
                Severity.WARNING,
                f"newest data in the backup is {format_duration(rpo)} old (RPO {format_duration(d.cfg.max_age)})",
                subject,
                rev,
                "A restore would lose more than the RPO allows: back up more often, or check writes stopped.",
            )
        else:
            yield finding(
                "backup.rpo_exceeded",
                Severity.OK,
                f"achieved RPO {format_duration(rpo)}",
                subject,
                rev,
            )


# -- T4 receipt ---------------------------------------------------------------------------------
# "incomplete": nothing found wrong, but a tier could not run (the server was unreachable).
_VERDICTS = {
    Severity.OK: "passed",
    Severity.WARNING: "warning",
    Severity.UNKNOWN: "incomplete",
    Severity.CRITICAL: "failed",
}
_TIERS = {
    "freshness": {"backup.missing", "backup.stale", "backup.size_anomaly", "backup.mtime_mismatch"},
    "integrity": {"backup.checksum_mismatch", "backup.corrupt"},
    "restore": {"backup.restore_failed", "backup.rto_exceeded"},
    "validation": {
        "backup.validation_failed",
        "backup.count_mismatch",
        "backup.schema_drift",
        "backup.rpo_exceeded",
    },
}


def _receipt(d: Drill, b: bf.BackupFile) -> Iterator[Item]:
    worst = Severity.worst(f.severity for f in d.findings)
    d.receipt["verdict"] = _VERDICTS[worst]
    d.receipt["tiers"] = {
        tier: Severity.worst(f.severity for f in d.findings if f.code in codes).value
        if any(f.code in codes for f in d.findings)
        else "not run"
        for tier, codes in _TIERS.items()
    }
    d.receipt["verified_at"] = d.now.isoformat(timespec="seconds")
    total = sum(d.receipt["phases_s"].values())
    if worst is Severity.OK:
        msg = f"{b.path.name} verified: restored and validated in {format_duration(total)}"
    elif worst is Severity.UNKNOWN:
        first = next(f for f in d.findings if f.severity is Severity.UNKNOWN)
        why = first.evidence.get("reason") or first.message
        done = [t for t, v in d.receipt["tiers"].items() if v in ("ok", "warning")]
        msg = (
            f"{b.path.name} verification incomplete ({', '.join(done) or 'nothing'} checked): {why}"
        )
    else:
        msg = f"{b.path.name} verification {d.receipt['verdict']}"
    yield Finding("backup.receipt", worst, msg, str(b.path), dict(d.receipt))


TASKS = [verify]
