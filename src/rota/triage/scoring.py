"""From what the probes saw to ranked suspects, each with a proposed mitigation.

Every rule below turns one kind of evidence into a suspect with a score from 0 to 100;
suspects are ranked by score (ties: by code and subject). The score says how likely this
is what users feel right now and how much it costs them, so that the first line is the
thing to act on. Severity follows the score: 70 and up is critical, 40 and up a warning,
below that the suspect is listed to watch (ok). A snapshot's exit status is its worst
suspect's severity; a probe that could not answer counts as unknown.

=========================  ====================================================================
code                       score
=========================  ====================================================================
db.blocking_chain          50 + 8 per blocked session (at most 6) + 1 per second the longest
                           waiter has waited (at most 30) + 10 when the root sits idle in its
                           transaction (no statement of its own will ever finish it)
db.connections             80 at [database.thresholds] connections_critical, 50 at _warning
service.health             85 when the health endpoint answers an HTTP error (4xx, 5xx); 60
                           when it answers but reports a status other than ok
logs.server_errors         40 + 100 × the share of 5xx responses in the window (at most 85),
                           when at least 5 and 5% of the window's requests failed
process.memory             the worst of: 85 at [process] limit_critical of its cgroup's
                           memory.max or V8 heap limit, 60 at limit_warning; 80 at
                           memory_critical, 55 at memory_warning; 65 after an OOM kill;
                           40 + 1 per MB/min of growth (at most 70) when it leaks
service.cache_hit_ratio    70 under [cache] hit_ratio_critical, 40 under hit_ratio_warning
db.cache_hit_ratio         40 + 200 × (0.90 − ratio), at most 80, under 90% over 1,000+ reads
host.disk                  75 at [logs] disk_critical_percent, 45 at disk_warning_percent
db.slow_query              20 + 2 per second the statement has run (at most 70)
db.idle_in_transaction     25 + 1 per 10 s idle (at most 60), blocking no one
service.latency            45 + 5 per second over [http] max_latency (at most 70)
logs.latency               45 when the window's p95 is over [logs] p95_threshold (or
                           [http] max_latency)
host.load                  50 at 2 runnable tasks per CPU, 30 at 1
host.iowait                50 at 30% I/O wait, 30 at 15%
host.memory                60 at 95% of RAM used, 35 at 90%
process.cpu                45 at 90% of a core or more, on average over its life
logs.errors                20 + 2 per error a minute (at most 50), from 10 errors in the window
db.statement.heavy         30 + share/5 (at most 50): one statement takes half the database's
                           time and its mean is over [database.thresholds] slow_query
=========================  ====================================================================

Proposals (``rota triage --apply ID`` performs one) exist where rota has a safe lever:
``pg_cancel_backend`` for a slow statement (low risk), ``pg_terminate_backend`` for a
blocking root idle in its transaction or an idle transaction (medium: that transaction is
rolled back), both for a blocking root that is running a statement (cancel first; a
cancelled statement inside a transaction block keeps its locks until the client rolls
back, so terminate is the stronger, riskier lever), and the cache clear endpoint for a
collapsed hit ratio (medium: misses until it refills). Every other suspect carries a
mitigation in words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rota.triage.model import Probe, Proposal, Suspect, severity_of

if TYPE_CHECKING:
    from rota.config import Config

__all__ = ["severity_of", "suspects"]


def suspects(probes: list[Probe], config: Config) -> list[Suspect]:
    """Every suspect the probes' data supports, best first."""
    found: list[Suspect] = []
    by_name = {p.name: p for p in probes if p.status == "ok"}
    if "database" in by_name:
        found += _database(by_name["database"].data, config)
    if "service" in by_name:
        found += _service(by_name["service"].data, config)
    if "process" in by_name:
        found += _process(by_name["process"].data, config)
    if "logs" in by_name:
        found += _logs(by_name["logs"].data, config)
    if "host" in by_name:
        found += _host(by_name["host"].data, config)
    found.sort(key=lambda s: (-s.score, s.code, s.subject))
    return found


# --- database ----------------------------------------------------------------------------


def _who(session: dict[str, Any]) -> str:
    return (
        f"pid {session['pid']} ({session.get('application') or '-'}, {session.get('user') or '?'})"
    )


def _guard(session: dict[str, Any], *, field: str) -> dict[str, Any]:
    """What must still be true of the backend for the action to go ahead: the same pid of
    the same session (backend_start), in the same transaction or statement, same text."""
    return {
        "pid": session["pid"],
        "backend_start": session.get("backend_start"),
        field: session.get(field),
        "query": session.get("query"),
    }


def _terminate(session: dict[str, Any], key: str, why: str, risk: str = "medium") -> Proposal:
    pid = session["pid"]
    return Proposal(
        action="terminate_backend",
        title=f"terminate {_who(session)}: {why}",
        risk=risk,
        risk_note=f"its transaction ({session.get('transaction_age_s', 0):g}s old) is rolled "
        "back and its client sees the connection drop; what it wrote is lost",
        command=f"SELECT pg_terminate_backend({pid})",
        target="postgres",
        suspect=key,
        guard=_guard(session, field="xact_start"),
    )


def _cancel(session: dict[str, Any], key: str, why: str, *, in_chain: bool = False) -> Proposal:
    pid = session["pid"]
    note = "the statement fails with 'canceling statement due to user request'; the session stays"
    if in_chain:
        note += (
            "; inside a transaction block its locks are held until the client rolls back, "
            "so the waiters may stay blocked"
        )
    return Proposal(
        action="cancel_query",
        title=f"cancel the statement of {_who(session)}: {why}",
        risk="medium" if in_chain else "low",
        risk_note=note,
        command=f"SELECT pg_cancel_backend({pid})",
        target="postgres",
        suspect=key,
        guard=_guard(session, field="query_start"),
    )


def _database(data: dict[str, Any], config: Config) -> list[Suspect]:
    out: list[Suspect] = []
    th = config.database.thresholds
    for chain in data.get("blocking") or ():
        root = chain["root"]
        waiters = int(chain["waiter_count"])
        longest = float(chain["longest_wait_s"])
        idle = str(root.get("state") or "").startswith("idle in transaction")
        score = min(100.0, 50 + 8 * min(waiters, 6) + min(longest, 30) + (10 if idle else 0))
        s = Suspect(
            "db.blocking_chain",
            f"{_who(root)} blocks {waiters} session(s) for up to {longest:g}s"
            + (" while idle in its transaction" if idle else ""),
            score,
            subject=f"pid {root['pid']}",
            evidence={
                "root": root,
                "waiters": chain["waiters"],
                "waiter_count": waiters,
                "depth": chain["depth"],
                "longest_wait_s": longest,
                "locks_held": root.get("locks_held"),
            },
            mitigation="End the root's transaction: its waiters then proceed. Afterwards set "
            "idle_in_transaction_session_timeout and lock_timeout for the application role, "
            "and find why it kept a transaction open.",
        )
        if idle or root.get("state") is None:
            s.proposals.append(_terminate(root, s.key, "the root of the blocking chain"))
        else:
            s.proposals.append(
                _cancel(root, s.key, "the root of the blocking chain", in_chain=True)
            )
            s.proposals.append(
                _terminate(root, s.key, "the root of the blocking chain", risk="high")
            )
        out.append(s)
    conn = data.get("connections") or {}
    pct = float(conn.get("percent") or 0)
    if pct >= th.connections_warning:
        out.append(
            Suspect(
                "db.connections",
                f"{conn['used']} of {conn['usable']} usable connections in use ({pct:g}%)",
                80.0 if pct >= th.connections_critical else 50.0,
                subject="max_connections",
                evidence=conn,
                mitigation="Find the largest pool (db.connections by_application) and lower it, "
                "or put PgBouncer in front; new connections fail once the slots are gone.",
            )
        )
    for q in data.get("long_running") or ():
        age = float(q["query_age_s"])
        s = Suspect(
            "db.slow_query",
            f"{_who(q)} has run one statement for {age:g}s",
            min(70.0, 20 + 2 * age),
            subject=f"pid {q['pid']}",
            evidence=q,
            mitigation="Cancel it if it is not needed now; then EXPLAIN it and give the role a "
            "statement_timeout.",
        )
        s.proposals.append(_cancel(q, s.key, f"running for {age:g}s"))
        out.append(s)
    for q in data.get("idle_in_transaction") or ():
        idle_s = float(q["state_age_s"])
        s = Suspect(
            "db.idle_in_transaction",
            f"{_who(q)} is idle in a transaction for {idle_s:g}s",
            min(60.0, 25 + idle_s / 10),
            subject=f"pid {q['pid']}",
            evidence=q,
            mitigation="It holds its locks and VACUUM's horizon; end it if its client is gone, "
            "and set idle_in_transaction_session_timeout.",
        )
        s.proposals.append(_terminate(q, s.key, f"idle in transaction for {idle_s:g}s"))
        out.append(s)
    ratio = data.get("cache_hit_ratio") or {}
    value = ratio.get("ratio")
    if value is not None and value < 0.90 and int(ratio.get("blks_read") or 0) >= 1000:
        out.append(
            Suspect(
                "db.cache_hit_ratio",
                f"database buffer cache hit ratio {value:.1%} {ratio['window']}",
                min(80.0, 40 + 200 * (0.90 - value)),
                subject="shared_buffers",
                evidence=ratio,
                mitigation="Reads go to disk: look for a new sequential scan in the top "
                "statements (a missing index), or a working set grown past shared_buffers.",
            )
        )
    stmts = data.get("statements") or {}
    limit_ms = th.slow_query * 1000
    for st in (stmts.get("top") or ())[:1]:
        if st["percent_of_total"] >= 50 and st["mean_ms"] >= limit_ms and st["calls"] > 0:
            out.append(
                Suspect(
                    "db.statement.heavy",
                    f"one statement takes {st['percent_of_total']:g}% of database time "
                    f"{stmts['window']} (mean {st['mean_ms']:g} ms over {st['calls']} calls)",
                    min(50.0, 30 + st["percent_of_total"] / 5),
                    subject=f"queryid {st['queryid']}",
                    evidence={**st, "window": stmts["window"]},
                    mitigation="EXPLAIN (ANALYZE, BUFFERS) it on a replica; a new plan or a "
                    "missing index is the usual cause (see db.indexes).",
                )
            )
    return out


# --- service ----------------------------------------------------------------------------------


def _service(data: dict[str, Any], config: Config) -> list[Suspect]:
    out: list[Suspect] = []
    h = data["health"]
    status, reported = int(h["status"]), h.get("reported")
    if not 200 <= status < 400:
        out.append(
            Suspect(
                "service.health",
                f"{h['path']} answers HTTP {status}" + (f" ({reported})" if reported else ""),
                85.0,
                subject=h["path"],
                evidence=h,
                mitigation="Read its checks: a failing dependency (the database) is the usual "
                "cause; restart the service only once that is known to be healthy.",
            )
        )
    elif reported not in (None, "ok", "healthy", "pass", "up"):
        out.append(
            Suspect(
                "service.health",
                f"{h['path']} reports {reported}",
                60.0,
                subject=h["path"],
                evidence=h,
                mitigation="See which of its checks is not ok and start there.",
            )
        )
    latency, limit = float(h["latency_s"]), float(h["max_latency_s"])
    if latency > limit:
        out.append(
            Suspect(
                "service.latency",
                f"{h['path']} took {latency:.2f}s (over {limit:g}s)",
                min(70.0, 45 + 5 * (latency - limit)),
                subject=h["path"],
                evidence=h,
                mitigation="A slow health check usually waits on the database: see the "
                "database suspects above it.",
            )
        )
    cache = data.get("cache") or {}
    ratio = cache.get("hit_ratio")
    warn, crit = config.cache.hit_ratio_warning, config.cache.hit_ratio_critical
    if ratio is not None and ratio < warn:
        s = Suspect(
            "service.cache_hit_ratio",
            f"cache hit ratio {ratio:.1%} {cache.get('window', '')} (critical under {crit:.0%})",
            70.0 if ratio < crit else 40.0,
            subject=config.http.cache_health_path,
            evidence=cache,
            mitigation="Stale or polluted entries crowd out the hot ones: clearing lets it "
            "refill with what is asked for now. Check TTLs and key cardinality afterwards.",
        )
        if ratio < crit:
            s.proposals.append(
                Proposal(
                    action="clear_cache",
                    title=f"clear the cache (hit ratio {ratio:.1%})",
                    risk="medium",
                    risk_note="every lookup misses until the cache refills: a short rise in "
                    "latency and database load",
                    command=f"POST {config.http.cache_clear_path} (Authorization: Bearer ***)",
                    target="http",
                    suspect=s.key,
                    guard={
                        "hit_ratio_below": crit,
                        "hit_ratio": ratio,
                        "window": cache.get("window", ""),
                    },
                )
            )
        out.append(s)
    return out


# --- process ----------------------------------------------------------------------------------

MB = 1 << 20


def _process(data: dict[str, Any], config: Config) -> list[Suspect]:
    out: list[Suspect] = []
    cfg = config.process
    for g in data.get("groups") or ():
        who = f"{g.get('name') or 'process'} (pid {g['pid']})"
        rss = int(g["rss_bytes"])
        reasons: list[tuple[float, str]] = []
        for lim in g.get("limits") or ():
            share = float(lim["share"])
            name = "memory.max" if lim["kind"] == "memory.max" else "its V8 heap limit"
            if share >= cfg.limit_warning:
                reasons.append(
                    (
                        85.0 if share >= cfg.limit_critical else 60.0,
                        f"{who} is at {share:.0%} of {name} ({lim['limit_bytes'] / MB:.0f} MB)",
                    )
                )
        if cfg.memory_critical is not None and rss >= cfg.memory_critical:
            reasons.append(
                (80.0, f"{who} uses {rss / MB:.0f} MB (critical {cfg.memory_critical / MB:.0f} MB)")
            )
        elif cfg.memory_warning is not None and rss >= cfg.memory_warning:
            reasons.append(
                (55.0, f"{who} uses {rss / MB:.0f} MB (warning {cfg.memory_warning / MB:.0f} MB)")
            )
        growth = g.get("growth") or {}
        rate = growth.get("bytes_per_s")
        if growth.get("leaking") and rate:
            per_min = float(rate) * 60 / MB
            reasons.append(
                (
                    min(70.0, 40 + per_min),
                    f"{who} grows by {per_min:.1f} MB/min (now {rss / MB:.0f} MB)",
                )
            )
        if g.get("oom_kills"):
            reasons.append((65.0, f"{who}'s cgroup has had {g['oom_kills']} OOM kill(s)"))
        if reasons:
            score, title = max(reasons)
            out.append(
                Suspect(
                    "process.memory",
                    title,
                    score,
                    subject=f"pid {g['pid']}",
                    evidence={**g, "reasons": [r[1] for r in sorted(reasons, reverse=True)]},
                    mitigation="A leak or an overload: take a heap snapshot first if you can "
                    "(rota run monitor.memory --apply sends the signal the process asked for), "
                    "then restart it through its supervisor before the kernel or V8 ends it.",
                )
            )
        cpu = float(g.get("cpu_percent_lifetime") or 0)
        if cpu >= 90:
            out.append(
                Suspect(
                    "process.cpu",
                    f"{who} has used {cpu:.0f}% CPU on average since it started",
                    45.0,
                    subject=f"pid {g['pid']}",
                    evidence={
                        k: g.get(k)
                        for k in (
                            "pid",
                            "name",
                            "command",
                            "uptime_s",
                            "cpu_percent_lifetime",
                            "processes",
                        )
                    },
                    mitigation="Profile it (node --cpu-prof, py-spy) before restarting it.",
                )
            )
    return out


# --- logs -------------------------------------------------------------------------------------


def _logs(data: dict[str, Any], config: Config) -> list[Suspect]:
    out: list[Suspect] = []
    window = float(data["window_s"])
    minutes = max(window / 60, 1.0)
    requests, failed = int(data["requests"]), int(data["server_errors"])
    rate = float(data["server_error_rate"])
    if failed >= 5 and rate >= 0.05:
        out.append(
            Suspect(
                "logs.server_errors",
                f"{failed} of {requests} requests answered 5xx in the last {minutes:g} min "
                f"({rate:.1%})",
                min(85.0, 40 + 100 * rate),
                subject="5xx",
                evidence={
                    "requests": requests,
                    "server_errors": failed,
                    "rate": rate,
                    "routes": data.get("routes"),
                    "groups": data.get("groups"),
                },
                mitigation="The error groups say what fails; match them to the database and "
                "service suspects, and roll back a deploy if it started with one.",
            )
        )
    errors = int(data["errors"])
    if errors >= 10:
        per_min = errors / minutes
        out.append(
            Suspect(
                "logs.errors",
                f"{errors} error lines in the last {minutes:g} min ({per_min:.1f}/min)",
                min(50.0, 20 + 2 * per_min),
                subject="errors",
                evidence={"errors": errors, "groups": data.get("groups")},
                mitigation="Start from the largest group: its sample line names the failing "
                "component.",
            )
        )
    lat = data.get("latency") or {}
    p95 = lat.get("p95")
    limit_s = config.logs.p95_threshold or config.http.max_latency
    if p95 is not None and float(p95) / 1000 > limit_s:
        out.append(
            Suspect(
                "logs.latency",
                f"p95 latency {float(p95):g} ms over the last {minutes:g} min (over "
                f"{limit_s * 1000:g} ms)",
                45.0,
                subject="latency",
                evidence={"latency": lat, "routes": data.get("routes")},
                mitigation="The slowest routes are listed; slow routes that all touch the "
                "database point at it.",
            )
        )
    return out


# --- host -------------------------------------------------------------------------------------


def _host(data: dict[str, Any], config: Config) -> list[Suspect]:
    out: list[Suspect] = []
    warn, crit = config.logs.disk_warning_percent, config.logs.disk_critical_percent
    for fs in data.get("filesystems") or ():
        pct = float(fs["percent"])
        if pct >= warn:
            out.append(
                Suspect(
                    "host.disk",
                    f"the {fs['role']} filesystem ({fs['path']}) is {pct:g}% full",
                    75.0 if pct >= crit else 45.0,
                    subject=fs["path"],
                    evidence=fs,
                    mitigation="Free space before writes fail: old logs (rota run "
                    "logs.cleanup --apply), old backups; a full database disk stops it.",
                )
            )
    per_cpu = float(data["load_per_cpu"])
    if per_cpu >= 1:
        out.append(
            Suspect(
                "host.load",
                f"load {data['load'][0]:g} on {data['cpus']} CPUs",
                50.0 if per_cpu >= 2 else 30.0,
                subject="load",
                evidence={k: data[k] for k in ("load", "cpus", "load_per_cpu", "cpu_busy_percent")},
                mitigation="More work than CPUs: see which process uses them (process probe, top).",
            )
        )
    iowait = float(data["iowait_percent"])
    if iowait >= 15:
        out.append(
            Suspect(
                "host.iowait",
                f"{iowait:g}% of CPU time waits on I/O",
                50.0 if iowait >= 30 else 30.0,
                subject="iowait",
                evidence={"iowait_percent": iowait},
                mitigation="The disks are the bottleneck: a sequential scan, a VACUUM FULL or "
                "a backup running now are the usual suspects.",
            )
        )
    mem = float(data["memory_percent"])
    if mem >= 90:
        out.append(
            Suspect(
                "host.memory",
                f"{mem:g}% of RAM in use",
                60.0 if mem >= 95 else 35.0,
                subject="memory",
                evidence={"memory_percent": mem},
                mitigation="The kernel will soon kill the largest process: find it (process "
                "probe) before that.",
            )
        )
    return out
