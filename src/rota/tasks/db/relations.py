"""Reads that need a lock on a relation, degraded per relation instead of per task.

Some catalog functions open the relation they describe: ``pg_relation_size``,
``pg_get_indexdef`` and ``pg_get_expr`` (they take ACCESS SHARE on the table), and
``pgstattuple``/``pgstatindex`` read it whole. ACCESS SHARE conflicts only with ACCESS
EXCLUSIVE, but that is what a migration (``ALTER TABLE``, ``LOCK TABLE``) holds for its
whole transaction: one such lock on one small table would otherwise stop the check of
every other table at the first query that touches it.

So :class:`Guard` reads which relations another session holds (or waits for) in ACCESS
EXCLUSIVE mode (``pg_locks``), runs each bulk query with those relations left out
(the query names :data:`LOCKED` where their oids go), and every read under a short
``lock_timeout`` of its own; a lock taken in between makes it look again and retry. A
relation that cannot be read is skipped and reported once as ``db.relation.locked``, with
the session that holds it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rota.model import Finding, Severity
from rota.redact import redact
from rota.targets.postgres import LockTimeout
from rota.tasks.common import finding
from rota.tasks.db.common import USER_SCHEMA_FILTER
from rota.tasks.db.stats import human_duration, truncate

if TYPE_CHECKING:
    from rota.targets.postgres import Params, Postgres
    from rota.task import Context

CODE = "db.relation.locked"
# Where a bulk query takes the oids of the relations it must not open.
LOCKED = "'{}'::oid[] /* locked */"
# The longest a read waits for a relation before it is skipped: short, because the lock
# queue is fair and a migration that holds ACCESS EXCLUSIVE holds it for its whole run.
READ_LOCK_TIMEOUT = 0.5
ATTEMPTS = 4
STATEMENT_CHARS = 200

HOLDERS_SQL = f"""
SELECT l.relation::bigint AS oid, n.nspname AS schema, c.relname AS name,
       c.relkind::text AS kind, l.pid, l.mode, l.granted, l.waitstart,
       a.usename, a.application_name, a.state, a.backend_type, a.xact_start, a.query_start,
       a.query, now() AS now,
       CASE WHEN l.granted THEN '{{}}'::int[] ELSE pg_blocking_pids(l.pid) END AS blocked_by
FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.pid IS DISTINCT FROM pg_backend_pid()
  AND {USER_SCHEMA_FILTER}
ORDER BY l.granted DESC, a.xact_start NULLS LAST, l.pid
"""

_LITERAL = re.compile(r"'(?:[^']|'')*'")


def mode_name(mode: str) -> str:
    """``AccessExclusiveLock`` -> ``ACCESS EXCLUSIVE`` (as LOCK TABLE spells it)."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", mode.removesuffix("Lock")).upper()


def statement_text(query: str | None) -> str:
    """A holder's statement for evidence: literals masked, secrets redacted, one short line."""
    masked = _LITERAL.sub("'…'", query or "")
    return str(redact(truncate(masked, STATEMENT_CHARS)))


class Guard:
    """One task's reads around relations that other sessions hold locked."""

    def __init__(self, pg: Postgres, lock_timeout: float = READ_LOCK_TIMEOUT) -> None:
        self.pg = pg
        self.lock_timeout = lock_timeout
        # relation oid -> the pg_locks/pg_stat_activity rows about it (empty: not found)
        self.locked: dict[int, list[dict[str, Any]]] = {}
        self._names: dict[int, str] = {}
        self._skipped: dict[int, list[str]] = {}
        self._looked = False

    @classmethod
    def from_context(cls, ctx: Context) -> Guard:
        timeout = min(float(ctx.config.database.lock_timeout), READ_LOCK_TIMEOUT)
        return cls(ctx.target("postgres"), max(0.05, timeout))

    # -- who holds what ---------------------------------------------------------------------

    def look(self) -> set[int]:
        """Read pg_locks again; returns the relations newly found locked."""
        self._looked = True
        new: set[int] = set()
        for r in self.pg.query(HOLDERS_SQL):
            oid = int(r["oid"])
            self._names[oid] = f"{r['schema']}.{r['name']}"
            if oid not in self.locked or not self.locked[oid]:
                new.add(oid)
                self.locked[oid] = []
            if not any(h["pid"] == r["pid"] and h["mode"] == r["mode"] for h in self.locked[oid]):
                self.locked[oid].append(r)
        return new

    def is_locked(self, *oids: int) -> bool:
        return any(int(o) in self.locked for o in oids)

    def oid_of(self, name: str) -> int | None:
        """The oid of the locked relation ``schema.name``, None when it is not locked."""
        for oid, known in self._names.items():
            if known == name and oid in self.locked:
                return oid
        return None

    def skip(self, oid: int, what: str, name: str = "") -> None:
        """Note that ``what`` was not checked on relation ``oid`` because it is locked."""
        oid = int(oid)
        self.locked.setdefault(oid, [])
        if name and oid not in self._names:
            self._names[oid] = name
        done = self._skipped.setdefault(oid, [])
        if what not in done:
            done.append(what)

    # -- reads ------------------------------------------------------------------------------

    def bulk(self, sql: str, what: str) -> list[dict[str, Any]]:
        """Rows of ``sql`` with the locked relations' oids in place of :data:`LOCKED`.

        A row whose ``locked_by`` column names a relation counts as skipped for ``what``.
        """
        if not self._looked:
            self.look()
        last = ""
        for _ in range(ATTEMPTS):
            oids = ",".join(str(o) for o in sorted(self.locked))
            text = sql.replace(LOCKED, f"'{{{oids}}}'::oid[] /* locked */")
            try:
                rows = self.pg.read(text, lock_timeout=self.lock_timeout)
            except LockTimeout as exc:
                last = str(exc)
                self.look()  # a lock taken since the last look: leave it out too
                continue
            for r in rows:
                if r.get("locked_by") is not None:
                    self.skip(int(r["locked_by"]), what)
            return rows
        raise LockTimeout(
            f"{last} ({ATTEMPTS} attempts; no ACCESS EXCLUSIVE holder found to leave out)"
        )

    def one(
        self,
        oids: tuple[int, ...],
        name: str,
        what: str,
        sql: str,
        params: Params = None,
    ) -> list[dict[str, Any]] | None:
        """Rows of ``sql``, which opens the relations ``oids`` (the one named ``name`` first);
        None when one of them is locked (and then it is skipped for ``what``)."""
        held = [int(o) for o in oids if int(o) in self.locked]
        if held:
            self.skip(held[0], what)
            return None
        try:
            return list(self.pg.read(sql, params, lock_timeout=self.lock_timeout))
        except LockTimeout:
            self.look()
            held = [int(o) for o in oids if int(o) in self.locked]
            self.skip(held[0] if held else int(oids[0]), what, name)
            return None

    # -- what to report ---------------------------------------------------------------------

    def findings(self) -> Iterator[Finding]:
        """One ``db.relation.locked`` per relation something was skipped on."""
        for oid in sorted(self._skipped, key=lambda o: self._names.get(o, str(o))):
            yield self._finding(oid)

    def _finding(self, oid: int) -> Finding:
        subject = self._names.get(oid, f"relation {oid}")
        skipped = self._skipped[oid]
        holders = [_holder(h) for h in self.locked.get(oid, [])]
        remedy = (
            "Let the session finish (a migration), or end it if it is stuck: "
            f"SELECT pg_terminate_backend(<pid>); then run again. rota waited at most "
            f"{self.lock_timeout:g}s for it and checked everything else."
        )
        common: dict[str, Any] = {
            "relation": subject,
            "skipped": skipped,
            "lock_timeout_s": self.lock_timeout,
        }
        if not holders:
            return finding(
                CODE,
                Severity.WARNING,
                f"{subject} skipped: its lock was not granted within {self.lock_timeout:g}s "
                "(the holder had gone when rota looked)",
                subject=subject,
                sql=HOLDERS_SQL,
                **common,
            )
        first = holders[0]
        who = (
            f"pid {first['pid']} ({first['application_name'] or '-'})"
            if first["pid"] is not None
            else "a prepared transaction"
        )
        state = "holds" if first["granted"] else "waits for"
        age = f" for {human_duration(first['age_s'])}" if first["age_s"] is not None else ""
        if len(holders) > 1:
            common["holders"] = holders
        return finding(
            CODE,
            Severity.WARNING,
            f"{subject} skipped ({', '.join(skipped)}): {who} {state} {first['mode']} on it{age}",
            subject=subject,
            sql=HOLDERS_SQL,
            remedy=remedy,
            **first,
            **common,
        )


def _holder(r: dict[str, Any]) -> dict[str, Any]:
    """Who holds (or waits for) the lock: pid, application, mode, since when, doing what."""
    granted = bool(r["granted"])
    # PostgreSQL does not record when a lock was granted; it is held until the holder's
    # transaction ends and was taken no earlier than that transaction began.
    start = r["xact_start"] if granted else r["waitstart"]
    age = (r["now"] - start).total_seconds() if start is not None else None
    return {
        "pid": r["pid"],
        "application_name": r["application_name"] or "",
        "user": r["usename"],
        "mode": mode_name(str(r["mode"])),
        "granted": granted,
        "since": _iso(start),
        "since_is": "the holder's transaction start" if granted else "the start of its wait",
        "age_s": round(age, 1) if age is not None else None,
        "state": r["state"],
        "statement": statement_text(r["query"]),
        "blocked_by": list(r["blocked_by"] or []),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None
