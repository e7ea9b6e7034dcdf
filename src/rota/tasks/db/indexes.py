"""Database maintenance: index health, and the runbook's apply-indexes script done safely.

Checks: invalid indexes (not while a build is running), duplicates (a leading prefix of
another index with the same method, expressions and predicate), unused indexes (only
once statistics are old enough to say so), declared-but-missing indexes (from
``[database] index_file``), and btree bloat (an estimate from planner statistics every
run, the one check_postgres and PgHero use, measured with pgstatindex when it comes near
the threshold; without pgstattuple the estimate alone decides, with its confidence stated,
and never a REINDEX).

Actions: ``CREATE INDEX CONCURRENTLY`` of declared indexes, ``REINDEX INDEX
CONCURRENTLY`` of invalid ones and of those whose measured bloat is past the threshold,
each verified (``indisvalid``) and followed by ``ANALYZE``. A concurrent build that fails leaves an invalid index behind; rota drops
it (``DROP INDEX CONCURRENTLY``) and reports. An invalid unique index whose data still
holds duplicates is reported with the count rather than rebuilt again and again.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rota.model import Finding, Metric, Severity
from rota.task import Context, Item, task
from rota.tasks.common import finding
from rota.tasks.db.bloat import INDEX_WIDTHS_SQL, Estimate, estimate_index_bloat
from rota.tasks.db.common import USER_SCHEMA_FILTER
from rota.tasks.db.locking import LockNotGranted, LockPolicy, lock_finding, run_locked
from rota.tasks.db.relations import CODE as LOCKED_CODE
from rota.tasks.db.relations import LOCKED, Guard

if TYPE_CHECKING:
    from psycopg import sql  # imported where used: loading the task list stays fast

    from rota.targets.postgres import Postgres

# pg_relation_size opens the index, pg_get_indexdef its table: neither is called on a
# relation another session holds in ACCESS EXCLUSIVE mode (LOCKED, filled in by the Guard).
INDEXES_SQL = f"""
SELECT i.indexrelid::bigint AS oid, n.nspname AS schema, c.relname AS name,
       t.relname AS table_name, i.indrelid::bigint AS table_oid, lk.locked_by,
       i.indisvalid AS valid, i.indisunique AS is_unique,
       i.indisprimary AS is_primary, i.indisexclusion AS is_exclusion,
       am.amname AS method,
       CASE WHEN lk.locked_by IS NULL THEN pg_relation_size(i.indexrelid) END AS bytes,
       c.reltuples::float8 AS reltuples,
       -- what pg_stat_all_indexes.idx_scan reads, without the view's pass over every
       -- index of the catalog
       coalesce(pg_stat_get_numscans(i.indexrelid), 0) AS idx_scan,
       CASE WHEN lk.locked_by IS NULL THEN pg_get_indexdef(i.indexrelid) END AS definition,
       EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) AS constraint_backed,
       EXISTS (SELECT 1 FROM pg_stat_progress_create_index p
               WHERE p.index_relid = i.indexrelid
                  OR (p.relid = i.indrelid AND p.index_relid = 0)) AS building
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_am am ON am.oid = c.relam
CROSS JOIN LATERAL (
    SELECT CASE WHEN i.indrelid = ANY ({LOCKED}) THEN i.indrelid
                WHEN i.indexrelid = ANY ({LOCKED}) THEN i.indexrelid END::bigint AS locked_by
) lk
WHERE {USER_SCHEMA_FILTER}
ORDER BY n.nspname, c.relname
"""

DUPLICATES_SQL = f"""
WITH idx AS (
    SELECT i.indexrelid, i.indrelid, c.relam, i.indisunique, i.indisvalid, i.indisexclusion,
           i.indnatts = i.indnkeyatts AS no_include,
           (string_to_array(i.indkey::text, ' '))[1:i.indnkeyatts] AS keys,
           (string_to_array(i.indclass::text, ' '))[1:i.indnkeyatts] AS cls,
           (string_to_array(i.indoption::text, ' '))[1:i.indnkeyatts] AS opts,
           (string_to_array(i.indcollation::text, ' '))[1:i.indnkeyatts] AS colls,
           coalesce(pg_get_expr(i.indexprs, i.indrelid), '') AS exprs,
           coalesce(pg_get_expr(i.indpred, i.indrelid), '') AS pred
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE {USER_SCHEMA_FILTER}
      -- pg_get_expr and pg_get_indexdef open the table: leave locked ones out
      AND NOT (i.indrelid = ANY ({LOCKED}) OR i.indexrelid = ANY ({LOCKED}))
)
SELECT (SELECT n.nspname || '.' || c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = a.indexrelid) AS redundant,
       (SELECT n.nspname || '.' || c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = b.indexrelid) AS covering,
       pg_get_indexdef(a.indexrelid) AS redundant_def, pg_get_indexdef(b.indexrelid) AS covering_def,
       pg_relation_size(a.indexrelid) AS bytes, a.indrelid::regclass::text AS table_name
FROM idx a
JOIN idx b ON a.indrelid = b.indrelid AND a.indexrelid <> b.indexrelid
          AND a.relam = b.relam AND a.exprs = b.exprs AND a.pred = b.pred
WHERE b.indisvalid AND a.indisvalid AND a.no_include AND NOT a.indisexclusion
  AND a.keys = b.keys[1:cardinality(a.keys)] AND a.cls = b.cls[1:cardinality(a.cls)]
  AND a.opts = b.opts[1:cardinality(a.opts)] AND a.colls = b.colls[1:cardinality(a.colls)]
  -- a unique index is never the redundant one, unless the other is unique on the same keys
  AND (NOT a.indisunique OR (b.indisunique AND a.keys = b.keys))
  -- of two identical indexes report one: the non-unique one, else the newer
  AND (a.keys <> b.keys OR (a.indisunique = b.indisunique AND a.indexrelid > b.indexrelid)
       OR (NOT a.indisunique AND b.indisunique))
ORDER BY 1
"""

STATS_AGE_SQL = """
SELECT extract(epoch FROM now() - coalesce(d.stats_reset, pg_postmaster_start_time()))::float8
       AS age_s,
       coalesce(d.stats_reset, pg_postmaster_start_time()) AS since
FROM pg_stat_database d WHERE d.datname = current_database()
"""
PGSTATINDEX_SQL = "SELECT * FROM pgstatindex(%s::regclass)"
# Statement forms of the declared-index file, enough to find name, table and definition.
_CREATE = re.compile(
    r"^CREATE\s+(?P<unique>UNIQUE\s+)?INDEX\s+(?P<conc>CONCURRENTLY\s+)?"
    r"(?P<ine>IF\s+NOT\s+EXISTS\s+)?(?P<name>[\w$.\"]+)\s+ON\s+(?:ONLY\s+)?"
    r"(?P<table>[\w$.\"]+)\s*(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class Declared:
    """One CREATE INDEX statement of the index file."""

    name: str
    schema: str | None
    table: str
    definition: str  # what follows the table: [USING method] (columns) [WHERE ...]
    statement: str  # as written
    line: int

    @property
    def concurrent(self) -> str:
        """The declared statement, forced CONCURRENTLY (a plain build blocks writes)."""
        m = _CREATE.match(self.statement)
        if m is None or m.group("conc"):
            return self.statement
        return re.sub(
            r"^(CREATE\s+(?:UNIQUE\s+)?INDEX)\s+",
            r"\1 CONCURRENTLY ",
            self.statement,
            count=1,
            flags=re.IGNORECASE,
        )


def _unquote(ident: str) -> tuple[str | None, str]:
    parts = [
        p.strip('"') if p.startswith('"') else p.lower()
        for p in re.findall(r'"[^"]+"|[^.]+', ident)
    ]
    return (parts[-2] if len(parts) > 1 else None), parts[-1]


def parse_index_file(text: str) -> tuple[list[Declared], list[str]]:
    """Declared indexes, and one problem line for each statement that is not a CREATE INDEX."""
    out: list[Declared] = []
    problems: list[str] = []
    clean = re.sub(r"--[^\n]*", lambda m: " " * len(m.group()), text)
    clean = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group()), clean, flags=re.DOTALL)
    pos = 0
    for chunk in clean.split(";"):
        line = clean.count("\n", 0, pos + len(chunk) - len(chunk.lstrip())) + 1
        pos += len(chunk) + 1
        stmt = " ".join(chunk.split())
        if not stmt:
            continue
        if re.match(r"^(BEGIN|COMMIT|SET|\\)", stmt, re.IGNORECASE):
            continue
        m = _CREATE.match(stmt)
        if not m:
            problems.append(f"line {line}: not a CREATE INDEX statement: {stmt[:60]}")
            continue
        _, name = _unquote(m.group("name"))
        schema, table = _unquote(m.group("table"))
        out.append(Declared(name, schema, table, m.group("rest").strip(), stmt, line))
    return out, problems


def _normal(definition: str) -> str:
    """A definition in a form comparable with pg_get_indexdef's."""
    d = definition.lower().replace('"', "")
    d = re.sub(r"^using\s+btree\s*", "", d)
    d = re.sub(r"\s+(asc)\b", "", d)
    d = re.sub(r"\s*nulls\s+last\b", "", d) if " desc" not in d else d
    return re.sub(r"\s+", "", d)


def _existing_definition(indexdef: str) -> str:
    m = re.search(r"\sON\s+(?:ONLY\s+)?\S+\s+(.*)$", indexdef, re.DOTALL)
    return _normal(m.group(1)) if m else indexdef


@task(
    id="db.indexes",
    title="Index health and declared indexes",
    section="Database maintenance",
    frequency="weekly",
    priority="high",
    mutates=True,
    needs=("postgres",),
    purpose="Indexes that are invalid, duplicated, unused or bloated cost every write and "
    "buy nothing; a declared index that never made it to production makes its queries scan.",
    prerequisites=[
        "[database] url of a role that owns the tables",
        "[database] index_file: the apply-indexes script (CREATE INDEX statements)",
        "pgstattuple extension (CREATE EXTENSION pgstattuple) to measure index bloat; without "
        "it bloat is estimated and no index is rebuilt for bloat",
    ],
    procedure=[
        "Skip a relation another session holds (or waits for) in ACCESS EXCLUSIVE mode, "
        "reading each under a short lock_timeout, and report it with its holder "
        "(db.relation.locked); check the rest.",
        "List indexes with validity, uniqueness, method, size and idx_scan; skip invalid "
        "indexes that a CREATE INDEX CONCURRENTLY is still building.",
        "Find duplicates by leading prefix (same method, expressions, predicate, opclass).",
        "Judge unused indexes only when statistics are older than unused_index_stats_age.",
        "Compare the index file with the catalog by name and by definition.",
        "Estimate btree bloat from statistics (pg_stats widths and null fractions, reltuples, "
        "relpages, fillfactor), reading no index; where it comes near the threshold measure "
        "it with pgstatindex when installed. Without pgstattuple report the estimate with "
        "its confidence (low when statistics are stale, columns lack them, or the index has "
        "expressions) and rebuild nothing on it.",
        "With --apply: CREATE INDEX CONCURRENTLY declared indexes, REINDEX INDEX CONCURRENTLY "
        "invalid ones and those with measured bloat, verify indisvalid, ANALYZE the table; "
        "drop what a failed concurrent build leaves behind.",
    ],
    expected_outcome="Every declared index present and valid; no invalid, duplicate or "
    "bloated index.",
    rollback="DROP INDEX CONCURRENTLY the created index; a REINDEX leaves an equivalent index.",
    time_estimate="2m",
    manual_time="1h",
    timeout="2h",
    codes=(
        "db.index.invalid",
        "db.index.duplicate",
        "db.index.unused",
        "db.index.missing",
        "db.bloat.index",
        "db.lock.timeout",
        LOCKED_CODE,
    ),
)
def indexes(ctx: Context) -> Iterator[Item]:
    pg = ctx.target("postgres")
    guard = Guard.from_context(ctx)
    every = guard.bulk(INDEXES_SQL, "index checks")
    yield Metric("db.indexes.count", len(every), "count")
    # Indexes of a locked table are reported once, as db.relation.locked, and left alone.
    rows = [r for r in every if r["locked_by"] is None]
    yield from _invalid(ctx, pg, guard, rows)
    yield from _duplicates(guard)
    yield from _unused(ctx, pg, rows)
    yield from _missing(ctx, pg, guard, every)
    yield from _bloat(ctx, pg, guard, rows)
    yield from guard.findings()


# -- invalid ---------------------------------------------------------------------------------


def _duplicate_values(guard: Guard, r: dict[str, Any]) -> int | None:
    """Groups of rows that break a unique index's keys (None when it cannot be counted)."""
    oid = int(r["oid"])
    table = (int(r["table_oid"]), oid)
    name = f"{r['schema']}.{r['table_name']}"
    what = "duplicate keys of an invalid unique index"
    cols = guard.one(
        table,
        name,
        what,
        "SELECT pg_get_indexdef(i.indexrelid, k, true) AS col "
        "FROM pg_index i, generate_series(1, i.indnkeyatts) AS k WHERE i.indexrelid = %s ORDER BY k",
        (oid,),
    )
    meta = guard.one(
        table,
        name,
        what,
        "SELECT i.indrelid::regclass::text AS tbl, pg_get_expr(i.indpred, i.indrelid) AS pred "
        "FROM pg_index i WHERE i.indexrelid = %s",
        (oid,),
    )
    if not cols or not meta:
        return None
    keys = [str(c["col"]) for c in cols]
    # Key expressions and predicate come from the server's own deparser (pg_get_indexdef,
    # pg_get_expr), so they are valid, quoted SQL for that table.
    where = " AND ".join(f"({k}) IS NOT NULL" for k in keys)
    if meta[0]["pred"]:
        where += f" AND ({meta[0]['pred']})"
    text = (
        f"SELECT count(*) FROM (SELECT 1 FROM {meta[0]['tbl']} WHERE {where} "
        f"GROUP BY {', '.join(keys)} HAVING count(*) > 1) AS d"
    )
    try:
        found = guard.one(table, name, what, text)
    except Exception:
        return None
    return int(next(iter(found[0].values()))) if found else None


def _invalid(
    ctx: Context, pg: Postgres, guard: Guard, rows: list[dict[str, Any]]
) -> Iterator[Item]:
    from psycopg import sql

    bad = [r for r in rows if not r["valid"] and not r["building"]]
    for r in bad:
        subject = f"{r['schema']}.{r['name']}"
        leftover = bool(re.search(r"_cc(new|old)\d*$", r["name"]))
        dups = _duplicate_values(guard, r) if r["is_unique"] else None
        if guard.is_locked(r["table_oid"], r["oid"]):
            continue  # locked while it was being read: db.relation.locked says so
        ev: dict[str, Any] = {
            "table": r["table_name"],
            "definition": r["definition"],
            "bytes": r["bytes"],
            "unique": r["is_unique"],
        }
        if dups:
            yield finding(
                "db.index.invalid",
                Severity.CRITICAL,
                f"{subject} is invalid: a failed unique build, and {dups:,} duplicate key "
                "groups still violate it; rebuilding would fail again",
                subject=subject,
                sql=INDEXES_SQL,
                duplicate_groups=dups,
                **ev,
                remedy=f"Resolve the duplicate values in {r['table_name']} first, then "
                f"REINDEX INDEX CONCURRENTLY {subject}; or DROP INDEX CONCURRENTLY {subject} "
                "if the constraint is no longer wanted. Every write still updates it meanwhile.",
            )
            continue
        yield finding(
            "db.index.invalid",
            Severity.WARNING,
            f"{subject} is invalid (a failed concurrent build): queries ignore it, writes "
            "still pay for it",
            subject=subject,
            sql=INDEXES_SQL,
            leftover_of_reindex=leftover,
            **ev,
            remedy=f"DROP INDEX CONCURRENTLY {subject};"
            if leftover
            else f"REINDEX INDEX CONCURRENTLY {subject};",
        )
        ident = sql.Identifier(r["schema"], r["name"])
        if leftover:
            yield from _index_action(
                ctx,
                f"drop leftover {subject}",
                sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(ident),
                r,
                reason="left behind by a failed REINDEX CONCURRENTLY",
                verify=False,
            )
        else:
            yield from _index_action(
                ctx,
                f"rebuild {subject}",
                sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(ident),
                r,
                reason="invalid index",
            )
    if not bad:
        yield finding(
            "db.index.invalid",
            Severity.OK,
            f"all {len(rows)} indexes are valid",
            sql=INDEXES_SQL,
            indexes=len(rows),
            building=sum(1 for r in rows if r["building"]),
        )


def _index_action(
    ctx: Context,
    action: str,
    statement: sql.Composable,
    r: dict[str, Any],
    *,
    reason: str,
    verify: bool = True,
    name: str | None = None,
    creating: bool = False,
) -> Iterator[Item]:
    """Run one concurrent index statement: verify validity, clean up a failed build, ANALYZE."""
    from psycopg import sql

    pg = ctx.target("postgres")
    policy = LockPolicy.from_context(ctx)
    schema, index = r["schema"], name or r["name"]
    subject = f"{schema}.{index}"
    table = sql.Identifier(schema, r["table_name"])
    extra: list[Finding] = []

    def do() -> dict[str, Any]:
        before = (
            pg.scalar(
                "SELECT pg_relation_size(%s::regclass)",
                (sql.Identifier(schema, index).as_string(),),
            )
            if verify and r.get("oid")
            else None
        )
        try:
            info = run_locked(pg, statement, policy, cancelled=ctx.cancelled.is_set)
        except LockNotGranted as exc:
            extra.append(lock_finding(exc, subject, policy))
            _drop_failed(pg, schema, index, policy, itself=creating)
            raise
        except Exception:
            dropped = _drop_failed(pg, schema, index, policy, itself=creating)
            if dropped:
                extra.append(
                    finding(
                        "db.index.invalid",
                        Severity.WARNING,
                        f"the concurrent build of {subject} failed; dropped the invalid "
                        f"index it left ({', '.join(dropped)})",
                        subject=subject,
                        dropped=dropped,
                        remedy="Read the step's error, fix its cause and run again.",
                    )
                )
            raise
        out: dict[str, Any] = dict(info)
        if verify:
            valid = pg.scalar(
                "SELECT indisvalid FROM pg_index WHERE indexrelid = %s::regclass",
                (sql.Identifier(schema, index).as_string(),),
            )
            if not valid:
                raise RuntimeError(f"{subject} is still not valid after the build")
            out["valid"] = True
            after = int(
                pg.scalar(
                    "SELECT pg_relation_size(%s::regclass)",
                    (sql.Identifier(schema, index).as_string(),),
                )
            )
            out["bytes_after"] = after
            if before is not None:
                out["bytes_before"] = int(before)
                out["bytes_reclaimed"] = int(before) - after
            run_locked(pg, sql.SQL("ANALYZE {}").format(table), policy)
            out["analyzed"] = r["table_name"]
        return out

    yield ctx.action(
        action,
        do,
        reason=reason,
        lock="SHARE UPDATE EXCLUSIVE (reads and writes continue); lock_timeout "
        f"{policy.lock_timeout:g}s x {policy.attempts} attempts",
        estimate_s=float(r.get("bytes") or 0) / 50e6 + 0.1,
        sql=statement.as_string(pg.connect()),
        then=f"verify indisvalid; ANALYZE {r['table_name']}" if verify else None,
    )
    yield from extra


def _drop_failed(
    pg: Postgres, schema: str, index: str, policy: LockPolicy, *, itself: bool
) -> list[str]:
    """Drop the invalid indexes a failed concurrent build left: its ``_ccnew`` copies, and
    with ``itself`` the index it was creating."""
    from psycopg import sql

    rows = pg.query(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND NOT i.indisvalid AND (c.relname = %s OR c.relname LIKE %s)",
        (schema, index if itself else "", index.replace("_", r"\_") + r"\_ccnew%"),
    )
    dropped = []
    for row in rows:
        name = row["relname"]
        try:
            run_locked(
                pg,
                sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                    sql.Identifier(schema, name)
                ),
                policy,
            )
            dropped.append(f"{schema}.{name}")
        except Exception:
            pass  # reported by the next run as an invalid index
    return dropped


# -- duplicate, unused -----------------------------------------------------------------------


def _duplicates(guard: Guard) -> Iterator[Item]:
    rows = guard.bulk(DUPLICATES_SQL, "duplicate indexes")
    for r in rows:
        yield finding(
            "db.index.duplicate",
            Severity.WARNING,
            f"{r['redundant']} is covered by {r['covering']} (a leading prefix of it)",
            subject=r["redundant"],
            sql=DUPLICATES_SQL,
            table=r["table_name"],
            covered_by=r["covering"],
            definition=r["redundant_def"],
            covering_definition=r["covering_def"],
            bytes=r["bytes"],
            remedy=f"DROP INDEX CONCURRENTLY {r['redundant']}; after checking no query needs "
            "its smaller size (keep its definition to re-create it).",
        )
    if not rows:
        yield finding("db.index.duplicate", Severity.OK, "no duplicate indexes", sql=DUPLICATES_SQL)


def _unused(ctx: Context, pg: Postgres, rows: list[dict[str, Any]]) -> Iterator[Item]:
    need = ctx.config.database.thresholds.unused_index_stats_age
    age = pg.query(STATS_AGE_SQL)
    age_s = float(age[0]["age_s"]) if age else 0.0
    since = age[0]["since"].isoformat(timespec="seconds") if age else None
    if age_s < need:
        yield finding(
            "db.index.unused",
            Severity.OK,
            f"statistics only {age_s / 3600:.0f} hours old; cannot judge unused indexes yet "
            f"(need {need / 86400:g} days)",
            sql=STATS_AGE_SQL,
            stats_since=since,
            stats_age_s=round(age_s),
            required_s=need,
        )
        return
    unused = [
        r
        for r in rows
        if r["valid"]
        and r["idx_scan"] == 0
        and not (r["is_unique"] or r["is_primary"] or r["is_exclusion"] or r["constraint_backed"])
    ]
    for r in unused:
        subject = f"{r['schema']}.{r['name']}"
        yield finding(
            "db.index.unused",
            Severity.WARNING,
            f"{subject} ({_size(r['bytes'])}) has not been scanned since {since}",
            subject=subject,
            sql=INDEXES_SQL,
            table=r["table_name"],
            idx_scan=r["idx_scan"],
            bytes=r["bytes"],
            stats_since=since,
            definition=r["definition"],
            remedy=f"If no replica uses it either: DROP INDEX CONCURRENTLY {subject}; "
            "(keep the definition above to re-create it).",
        )
    if not unused:
        yield finding(
            "db.index.unused",
            Severity.OK,
            f"every non-unique index was scanned since {since}",
            sql=INDEXES_SQL,
            stats_since=since,
        )


# -- declared but missing --------------------------------------------------------------------


def _missing(
    ctx: Context, pg: Postgres, guard: Guard, rows: list[dict[str, Any]]
) -> Iterator[Item]:
    from psycopg import sql

    path: Path | None = ctx.config.database.index_file
    if path is None:
        yield finding(
            "db.index.missing",
            Severity.OK,
            "no index file declared; nothing to compare",
            remedy="Set [database] index_file to the apply-indexes script to check it.",
        )
        return
    try:
        text = path.read_text()
    except OSError as exc:
        yield finding(
            "db.index.missing",
            Severity.UNKNOWN,
            f"cannot read the index file {path}: {exc.strerror}",
            subject=str(path),
            remedy="Fix [database] index_file.",
        )
        return
    declared, problems = parse_index_file(text)
    for p in problems:
        yield finding(
            "db.index.missing",
            Severity.UNKNOWN,
            f"{path.name} {p}",
            subject=str(path),
            remedy="Keep only CREATE INDEX statements in the index file.",
        )
    by_name = {(r["schema"], r["name"]): r for r in rows}
    by_def: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        if r["definition"] is not None:
            by_def.setdefault((r["table_name"], _existing_definition(r["definition"])), r)
    schemas = [str(s["s"]) for s in pg.query("SELECT unnest(current_schemas(false)) AS s")]
    missing = 0
    for d in declared:
        schema = d.schema or (schemas[0] if schemas else "public")
        found = by_name.get((schema, d.name))
        same = by_def.get((d.table, _normal(d.definition)))
        if found is not None and found["valid"]:
            continue
        held = guard.oid_of(f"{schema}.{d.table}")
        if found is None and held is not None:
            guard.skip(held, "declared indexes")  # its definitions cannot be read now
            continue
        if found is None and same is not None and same["valid"]:
            yield finding(
                "db.index.missing",
                Severity.OK,
                f"{d.name} is present as {same['schema']}.{same['name']} (same definition)",
                subject=f"{schema}.{d.name}",
                declared=d.statement,
                existing=same["definition"],
            )
            continue
        if found is not None:
            continue  # exists but invalid: db.index.invalid reports and rebuilds it
        missing += 1
        subject = f"{schema}.{d.name}"
        yield finding(
            "db.index.missing",
            Severity.WARNING,
            f"declared index {d.name} on {d.table} is missing",
            subject=subject,
            sql=INDEXES_SQL,
            index_file=str(path),
            line=d.line,
            declared=d.statement,
            table=d.table,
            remedy=f"{d.concurrent};",
        )
        row = {"schema": schema, "name": d.name, "table_name": d.table, "bytes": 0}
        yield from _index_action(
            ctx,
            f"create {subject}",
            sql.SQL(
                d.concurrent
            ),  # the operator's own declared statement, from rota.toml's index_file
            row,
            reason=f"declared in {path.name} line {d.line}, absent from the database",
            creating=True,
        )
    if not missing:
        yield finding(
            "db.index.missing",
            Severity.OK,
            f"all {len(declared)} declared indexes are present",
            subject=str(path),
            declared=len(declared),
        )


# -- bloat -----------------------------------------------------------------------------------


def _bloat(ctx: Context, pg: Postgres, guard: Guard, rows: list[dict[str, Any]]) -> Iterator[Item]:
    from psycopg import sql

    th = ctx.config.database.thresholds
    has = bool(pg.scalar("SELECT count(*) FROM pg_extension WHERE extname = 'pgstattuple'"))
    over = 0
    estimated_only: list[str] = []
    widths = {int(w["oid"]): w for w in pg.query(INDEX_WIDTHS_SQL)}
    for r in rows:
        if r["method"] != "btree" or not r["valid"] or r["bytes"] is None:
            continue
        subject = f"{r['schema']}.{r['name']}"
        est = estimate_index_bloat(widths.get(int(r["oid"])), int(r["bytes"]))
        yield Metric("db.index.bloat_estimate_bytes", est.bytes, "bytes", {"index": subject})
        if est.percent < th.bloat_percent / 2 or est.bytes < th.bloat_min_bytes / 2:
            continue
        error = None
        if has:
            try:
                got = guard.one(
                    (int(r["oid"]),),
                    subject,
                    "index bloat",
                    PGSTATINDEX_SQL,
                    (sql.Identifier(r["schema"], r["name"]).as_string(),),
                )
            except Exception as exc:  # privilege (pg_stat_scan_tables) or a timeout
                error = str(exc).strip().splitlines()[0]
            else:
                if got is None:
                    continue  # locked: db.relation.locked
                over += yield from _measured(ctx, r, got[0], est)
                continue
        estimated_only.append(subject)
        if est.percent < th.bloat_percent or est.bytes < th.bloat_min_bytes:
            continue
        over += 1
        why = f"pgstatindex failed: {error}" if error else "pgstattuple is not installed"
        # No REINDEX on an estimate alone: stale statistics can make a healthy index look
        # bloated, and a rebuild of a large one costs hours of I/O.
        yield finding(
            "db.bloat.index",
            Severity.WARNING,
            f"{subject}: about {_size(est.bytes)} ({est.percent:.0f}%) of {_size(r['bytes'])} "
            f"is wasted, estimated from statistics ({est.confidence} confidence; {why}); "
            "not rebuilt: a REINDEX needs a measurement",
            subject=subject,
            sql=INDEX_WIDTHS_SQL,
            method="estimate",
            bloat_bytes=est.bytes,
            bloat_percent=est.percent,
            index_size=r["bytes"],
            measurement_error=error,
            **est.evidence(),
            remedy="CREATE EXTENSION pgstattuple; and GRANT pg_stat_scan_tables TO the rota "
            "role: rota then measures it with pgstatindex and rebuilds it if the measurement "
            f"agrees (or, by hand: REINDEX INDEX CONCURRENTLY {subject};).",
        )
    if not over:
        measured = has and not estimated_only
        how = (
            "measured with pgstatindex where the estimate came near"
            if measured
            else "estimated from statistics"
            + ("" if has else "; pgstattuple is not installed to measure it")
        )
        yield finding(
            "db.bloat.index",
            Severity.OK,
            f"no index past {th.bloat_percent:g}% and {_size(th.bloat_min_bytes)} of bloat ({how})",
            sql=PGSTATINDEX_SQL if measured else INDEX_WIDTHS_SQL,
            method="pgstatindex" if measured else "estimate",
            estimated_only=estimated_only,
        )


def _measured(
    ctx: Context, r: dict[str, Any], m: dict[str, Any], est: Estimate
) -> Generator[Item, None, int]:
    """Findings (and the REINDEX) from one pgstatindex row; returns 1 when it is over the line."""
    from psycopg import sql

    th = ctx.config.database.thresholds
    subject = f"{r['schema']}.{r['name']}"
    size = int(m["index_size"]) or 1
    density = float(m["avg_leaf_density"] or 0)
    leaf = int(m["leaf_pages"]) * 8192
    empty = (int(m["empty_pages"]) + int(m["deleted_pages"])) * 8192
    # A fresh btree's leaves are 90% full; below that the difference is waste.
    wasted = int(leaf * max(0.0, 1 - density / 90)) + empty
    pct = round(100 * wasted / size, 1)
    yield Metric("db.index.bloat_bytes", wasted, "bytes", {"index": subject})
    if pct < th.bloat_percent or wasted < th.bloat_min_bytes:
        return 0
    yield finding(
        "db.bloat.index",
        Severity.WARNING,
        f"{subject}: {_size(wasted)} ({pct:.0f}%) of {_size(size)} is wasted",
        subject=subject,
        sql=PGSTATINDEX_SQL.replace("%s", f"'{subject}'"),
        method="pgstatindex",
        bloat_bytes=wasted,
        bloat_percent=pct,
        index_size=size,
        avg_leaf_density=density,
        leaf_fragmentation=m["leaf_fragmentation"],
        **est.evidence(),
        remedy=f"REINDEX INDEX CONCURRENTLY {subject};",
    )
    yield from _index_action(
        ctx,
        f"reindex {subject}",
        sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(sql.Identifier(r["schema"], r["name"])),
        r,
        reason=f"measured bloat {pct:.0f}% ({_size(wasted)})",
    )
    return 1


def _size(n: float) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MB"
    return f"{n / 1024:.0f} kB"


TASKS = [indexes]
