"""Performing one proposal: exactly the action triage proposed, to exactly that backend.

A pid is only a number: the session a triage saw may have ended, and the server may have
given its pid to a new one. So before acting on a backend this reads it again and refuses
(nothing is sent) unless it is still the same session (``backend_start``), in the same
transaction (terminate: ``xact_start``) or the same statement (cancel: ``query_start`` and
``state = 'active'``), with the same query text. The action itself repeats that check in
its own statement (``... FROM pg_stat_activity WHERE pid = ... AND backend_start = ...``),
so a session that changes between the read and the action is not touched either.

The targets are opened from the app's registry for ``--apply`` (``readonly=False``);
PostgreSQL statements run under the session's ``lock_timeout`` and ``statement_timeout``
as rota's Postgres target sets them. The caller records the result in the incident.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rota.errors import TargetUnavailable
from rota.targets import TargetRequest
from rota.text import error_line
from rota.triage.model import ActionResult, Proposal

if TYPE_CHECKING:
    from rota.app import App
    from rota.config import Config
    from rota.targets.postgres import Postgres

BACKEND_SQL = """/* rota */
SELECT pid, backend_start, xact_start, query_start, state, left(query, 2000) AS query
FROM pg_stat_activity WHERE pid = %s
"""
# The action repeats the guard, so it never reaches a session that changed since the read.
GUARDED_SQL = """/* rota */
SELECT {call} AS signalled FROM pg_stat_activity
WHERE pid = %(pid)s AND backend_start = %(backend_start)s::timestamptz
  AND {stamp} IS NOT DISTINCT FROM %(stamp)s::timestamptz
  AND left(query, 2000) IS NOT DISTINCT FROM %(query)s
"""
STILL_BLOCKED_SQL = (
    "/* rota */ SELECT count(*) AS n FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))"
)
TERMINATE_WAIT_MS = 5000  # pg_terminate_backend(pid, timeout) waits for the exit (PG14+)
CANCEL_WAIT_S = 2.0


def perform(app: App, config: Config, proposal: Proposal) -> ActionResult:
    """Apply ``proposal``; ``refused`` when its guard no longer holds, ``failed`` when the
    action did not work, ``done`` otherwise. Never raises for the target's failures."""
    t0 = time.monotonic()
    try:
        if proposal.action in ("terminate_backend", "cancel_query"):
            result = _backend(app, config, proposal)
        elif proposal.action == "clear_cache":
            result = _clear_cache(app, config, proposal)
        else:
            result = ActionResult(proposal, "refused", f"unknown action {proposal.action!r}")
    except TargetUnavailable as exc:
        result = ActionResult(proposal, "failed", error_line(exc))
    except Exception as exc:
        result = ActionResult(proposal, "failed", error_line(exc, typed=True))
    result.took_s = time.monotonic() - t0
    return result


def _open(app: App, config: Config, kind: str) -> Any:
    if kind not in app.targets:
        raise TargetUnavailable(f"no target kind {kind!r} is registered")
    spec = app.targets.get(kind)
    why = spec.configured(config)
    if why:
        raise TargetUnavailable(why)
    return spec.open(TargetRequest(config, readonly=False, label="rota:triage"))


def _same(stamp: Any, guarded: Any) -> bool:
    """Two instants, one as PostgreSQL gave it and one as stored (ISO text), or both None."""
    if stamp is None or guarded is None:
        return stamp is None and guarded is None
    return bool(stamp == datetime.fromisoformat(str(guarded)))


# --- backends ------------------------------------------------------------------------------


def _backend(app: App, config: Config, p: Proposal) -> ActionResult:
    g = p.guard
    pid = int(g["pid"])
    terminate = p.action == "terminate_backend"
    verb = "terminate" if terminate else "cancel"
    pg: Postgres = _open(app, config, "postgres")
    try:
        rows = pg.query(BACKEND_SQL, (pid,))
        why = _changed(pid, rows[0] if rows else None, g, terminate=terminate)
        if why:
            return ActionResult(p, "refused", f"{why}; nothing was sent (run rota triage again)")
        stamp = "xact_start" if terminate else "query_start"
        if terminate:
            call = (
                f"pg_terminate_backend(pid, {TERMINATE_WAIT_MS})"
                if pg.server_version_num >= 140000
                else "pg_terminate_backend(pid)"
            )
        else:
            call = "pg_cancel_backend(pid)"
        done = pg.query(
            GUARDED_SQL.format(call=call, stamp=stamp),
            {
                "pid": pid,
                "backend_start": g["backend_start"],
                "stamp": g.get(stamp),
                "query": g.get("query"),
            },
        )
        if not done:
            return ActionResult(
                p,
                "refused",
                f"pid {pid} changed between the check and the {verb}; nothing was sent",
            )
        if not done[0]["signalled"]:
            return ActionResult(p, "failed", f"PostgreSQL did not {verb} pid {pid}")
        facts = _after_terminate(pg, pid) if terminate else _after_cancel(pg, pid, g)
        what = "terminated" if terminate else "cancelled the statement of"
        detail = f"{what} pid {pid}"
        if terminate and not facts["ended"]:
            detail += f", which had not exited after {TERMINATE_WAIT_MS / 1000:g}s"
        return ActionResult(p, "done", detail, facts=facts)
    finally:
        pg.close()


def _changed(pid: int, row: dict[str, Any] | None, g: dict[str, Any], *, terminate: bool) -> str:
    """Why backend ``pid`` is no longer the one proposed ("" when it still is)."""
    if row is None:
        return f"pid {pid} has ended"
    if not _same(row["backend_start"], g.get("backend_start")):
        return (
            f"pid {pid} now belongs to another session (started {row['backend_start']}; "
            f"the proposal was for the session started {g.get('backend_start')})"
        )
    if terminate and not _same(row["xact_start"], g.get("xact_start")):
        if row["xact_start"] is None:
            return f"pid {pid} has finished the transaction it was proposed for"
        return f"pid {pid} has moved on to another transaction (started {row['xact_start']})"
    if not terminate and (
        row["state"] != "active" or not _same(row["query_start"], g.get("query_start"))
    ):
        return f"pid {pid} no longer runs the statement it was proposed for"
    if (row["query"] or None) != (g.get("query") or None):
        return f"pid {pid} now runs another statement"
    return ""


def _after_terminate(pg: Postgres, pid: int) -> dict[str, Any]:
    ended = not pg.query(BACKEND_SQL, (pid,))
    blocked = int(pg.query(STILL_BLOCKED_SQL, (pid,))[0]["n"])
    return {"ended": ended, "still_blocked_by_it": blocked}


def _after_cancel(pg: Postgres, pid: int, g: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + CANCEL_WAIT_S
    while True:
        rows = pg.query(BACKEND_SQL, (pid,))
        row = rows[0] if rows else None
        over = (
            row is None
            or row["state"] != "active"
            or not _same(row["query_start"], g.get("query_start"))
        )
        if over or time.monotonic() >= deadline:
            return {"statement_ended": over, "state": row["state"] if row else "ended"}
        time.sleep(0.05)


# --- the cache ------------------------------------------------------------------------------


def _clear_cache(app: App, config: Config, p: Proposal) -> ActionResult:
    from rota.tasks.cache import cache_stats

    token = config.http.admin_token
    if token is None:
        return ActionResult(
            p, "refused", "[http] admin_token is not set: rota cannot clear the cache"
        )
    http = _open(app, config, "http")
    try:
        r = http.get(config.http.cache_health_path)
        before = cache_stats(r.json()) if r.status == 200 else {}
        ratio = before.get("hit_ratio")
        below = p.guard.get("hit_ratio_below")
        # A ratio over the whole life of the service can be re-checked; one taken over
        # the window since the previous triage cannot be measured again here.
        cumulative = p.guard.get("window", "").startswith("since the service")
        if cumulative and ratio is not None and below is not None and ratio >= below:
            return ActionResult(
                p,
                "refused",
                f"the hit ratio is {ratio:.1%} now, no longer under {below:.0%}; nothing was sent",
            )
        res = http.request(
            "POST",
            config.http.cache_clear_path,
            headers={"Authorization": f"Bearer {token.get_secret_value()}"},
        )
        if res.status != 200:
            return ActionResult(
                p, "failed", f"{config.http.cache_clear_path} answered HTTP {res.status}"
            )
        after_r = http.get(config.http.cache_health_path)
        after = cache_stats(after_r.json()) if after_r.status == 200 else {}
        return ActionResult(
            p,
            "done",
            f"cleared the cache ({before.get('keys', '?')} keys before, "
            f"{after.get('keys', '?')} after)",
            facts={
                "http_status": res.status,
                "keys_before": before.get("keys"),
                "keys_after": after.get("keys"),
            },
        )
    finally:
        http.close()
