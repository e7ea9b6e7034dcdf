"""Log management: the runbook's log analysis (most common errors, recent errors, API
response times), done by :mod:`rota.logscan` instead of grep | cut | sort | uniq."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rota.errors import ConfigError
from rota.model import Finding, Metric, Severity
from rota.task import Context, Item, task
from rota.units import format_duration

MIN_SPIKE_ERRORS = 10  # fewer errors than this are never a spike, whatever the ratio
MIN_TIMED = 20  # routes with fewer timed requests get no latency verdict
MAX_SEEN_GROUPS = 5000
UNPARSED_WARNING = 0.01
COMMAND = "rota logs top"

if TYPE_CHECKING:
    from rota.logscan.results import Results


def midnight(tz_name: str, now: datetime | None = None) -> datetime:
    """Today's midnight in the configured zone, as an aware datetime."""
    from zoneinfo import ZoneInfo

    tz = UTC if tz_name.upper() == "UTC" else ZoneInfo(tz_name)
    now = (now or datetime.now(UTC)).astimezone(tz)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def daily_rates(res: Results, start: datetime) -> tuple[float, int, int, list[float]]:
    """Error rate since ``start`` (errors, lines) and per-day rates of the days before it.

    Days are whole 24-hour windows ending at ``start``, built from the hourly timeline.
    """
    cut = start.astimezone(UTC).strftime("%Y-%m-%dT%H")
    lines = errors = 0
    by_day: dict[int, list[int]] = {}
    for hour, (n, _, e, _) in res.timeline.items():
        if hour == "unknown":
            continue
        if hour >= cut:
            lines += n
            errors += e
            continue
        dt = datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC)
        back = int((start - dt).total_seconds() // 86400)
        row = by_day.setdefault(back, [0, 0])
        row[0] += n
        row[1] += e
    past = [e / n for back, (n, e) in sorted(by_day.items()) if n and back < 14]
    return (errors / lines if lines else 0.0), errors, lines, past


@task(
    id="logs.analyze",
    title="Log analysis",
    section="Log management",
    frequency="daily",
    priority="medium",
    needs=("files",),
    purpose="Know what is failing before users say so: the most common errors grouped by "
    "kind, errors since midnight, new kinds of error, and API response times per route.",
    prerequisites=["[logs] paths: globs of the live and rotated logs (plain or .gz)"],
    procedure=[
        "Read every configured log file, JSON and plain text, plain and gzip; only new "
        "bytes of files read before (per-file results are cached).",
        "Group errors (level error/fatal/critical/panic, or HTTP 5xx) by fingerprint: the "
        "message with its variable parts masked by type.",
        "Report the top groups, today's errors, new groups, per-route latency percentiles "
        "(nearest rank) and the share of lines no format matched.",
        "Compare today's error rate and each route's p95 with earlier runs.",
    ],
    expected_outcome="No new error group, an error rate at its usual level, p95 under the "
    "threshold, and nearly every line parsed.",
    rollback="Nothing to roll back: the task only reads logs (and keeps a cache in rota's "
    "state directory).",
    time_estimate="30s",
    manual_time="30 minutes",
    timeout="30m",
    codes=(
        "logs.errors.spike",
        "logs.errors.new_group",
        "logs.errors.group",
        "logs.errors.recent",
        "logs.latency.regression",
        "logs.latency",
        "logs.unparsed",
        "logs.read",
        "logs.files",
    ),
)
def analyze(ctx: Context) -> Iterator[Item]:
    from rota.logscan.runner import cache_file, scan_configured, settings_for

    logs = ctx.config.logs
    try:
        settings_for(logs)
    except ConfigError as exc:
        yield Finding(
            "logs.files", Severity.UNKNOWN, str(exc), "[logs]", {}, "Fix the [logs] section."
        )
        return
    outcome = scan_configured(logs, on_cancel=ctx.on_cancel)  # workers stop on a timeout
    res = outcome.results
    evidence_base = {"paths": logs.paths, "command": COMMAND, "cache": str(cache_file(logs.paths))}
    if not outcome.files:
        yield Finding(
            "logs.files",
            Severity.UNKNOWN,
            "no log file matches [logs] paths",
            ", ".join(logs.paths),
            evidence_base,
            "Point [logs] paths at the service's logs (globs, e.g. /var/log/app/*.log*).",
        )
        return
    now = datetime.now(UTC)
    since_midnight = midnight(logs.timezone, now)
    last_run = ctx.load_state("last_run")
    since_last = (
        datetime.fromtimestamp(float(last_run), UTC)
        if isinstance(last_run, int | float)
        else now - timedelta(hours=24)
    )
    read = {
        a: sum(1 for f in outcome.files if f["action"] == a)
        for a in ("cached", "appended", "read", "reread")
    }
    yield Metric("logs.files", len(outcome.files), "count")
    yield Metric("logs.bytes_read", outcome.bytes_read, "bytes")
    yield Metric("logs.scan_seconds", round(outcome.seconds, 3), "s")
    yield Metric("logs.lines", res.lines, "count")
    yield Metric("logs.errors", res.errors, "count")
    yield Metric("logs.error_rate", round(res.error_rate, 6), "ratio")
    yield Metric("logs.unparsed", res.unparsed, "count")
    yield Metric("logs.requests", res.requests, "count")

    yield from _unparsed(res, evidence_base)
    yield from _spike(ctx, res, since_midnight, evidence_base)
    yield from _groups(ctx, res, since_midnight, since_last, logs.top_groups, evidence_base)
    yield from _latency(ctx, res, logs.p95_threshold, evidence_base)
    yield Finding(
        "logs.read",
        Severity.OK,
        f"{len(outcome.files)} files, {outcome.bytes_read:,} bytes read in {outcome.seconds:.2f}s "
        f"({read['cached']} from cache, {read['appended']} appended, {read['read'] + read['reread']} read)",
        ", ".join(logs.paths),
        {**evidence_base, "files": outcome.files[:100]},
    )
    ctx.save_state("last_run", now.timestamp())


def _unparsed(res: Results, evidence: dict[str, Any]) -> Iterator[Item]:
    content = res.lines - res.blank
    share = res.unparsed / content if content else 0.0
    detail = {
        **evidence,
        "lines": res.lines,
        "unparsed": res.unparsed,
        "share": round(share, 6),
        "invalid_utf8": res.invalid_utf8,
        "binary": res.binary,
        "oversized": res.oversized,
        "formats": dict(res.formats),
        "samples": res.unparsed_samples,
    }
    sev = Severity.WARNING if share > UNPARSED_WARNING else Severity.OK
    yield Finding(
        "logs.unparsed",
        sev,
        f"{share:.2%} of {content:,} lines matched no format ({res.unparsed:,} lines; "
        f"{res.binary} binary, {res.oversized} over 1 MiB, {res.invalid_utf8} invalid UTF-8)",
        "",
        detail,
        ""
        if sev is Severity.OK
        else "Describe the format in [logs.format] (a regex with named groups), or fix the "
        "writer of the sampled lines.",
    )
    if res.problems:
        yield Finding(
            "logs.read",
            Severity.WARNING,
            f"{len(res.problems)} files could not be read to the end: {res.problems[0]}",
            "",
            {**evidence, "problems": res.problems[:20]},
            "Check the files with `gzip -t`; a truncated rotation loses its last lines.",
        )


def _spike(ctx: Context, res: Results, start: datetime, evidence: dict[str, Any]) -> Iterator[Item]:
    factor = ctx.config.logs.spike_factor
    rate, errors, lines, past_days = daily_rates(res, start)
    yield Metric("logs.error_rate.today", round(rate, 6), "ratio")
    yield Metric("logs.errors.today", errors, "count")
    history: list[float] = []
    if ctx.history is not None:
        series = ctx.history.metric_series(
            "logs.error_rate.today", task_id=ctx.task.id, since=start - timedelta(days=30)
        )
        history = [v for t, v in series if t < start]
    source, past = ("history", history) if len(history) >= 3 else ("logs", past_days)
    if not past:
        yield Finding(
            "logs.errors.spike",
            Severity.OK,
            f"error rate today {rate:.2%} ({errors} of {lines:,} lines); no earlier days to compare",
            "today",
            {**evidence, "errors": errors, "lines": lines},
        )
        return
    baseline = statistics.median(past)
    spiking = errors >= MIN_SPIKE_ERRORS and rate > factor * max(baseline, 1e-9)
    yield Finding(
        "logs.errors.spike",
        Severity.WARNING if spiking else Severity.OK,
        f"error rate today {rate:.2%} vs usual {baseline:.2%} ({source}, {len(past)} days)"
        + (f": over {factor:g}× its usual level" if spiking else ""),
        "today",
        {
            **evidence,
            "errors": errors,
            "lines": lines,
            "rate": round(rate, 6),
            "baseline": round(baseline, 6),
            "baseline_from": source,
            "factor": factor,
        },
        "Look at today's top groups (`rota logs top --since today`) and recent deploys."
        if spiking
        else "",
    )


def _groups(
    ctx: Context,
    res: Results,
    start: datetime,
    since_last: datetime,
    limit: int,
    evidence: dict[str, Any],
) -> Iterator[Item]:
    today = start.timestamp()
    seen = ctx.load_state("groups_seen")
    first_run = not isinstance(seen, list)
    known = set(seen or [])
    events = res.events()
    for g in sorted(events.values(), key=lambda g: (g.first or 0, g.id)):
        # an event is new when none of its templates was seen: a known event whose
        # template widened (one more user name) is not news
        old = any(m in known for m in g.members) or g.id in known
        is_new = (g.first is not None and g.first >= today) if first_run else not old
        if is_new:
            yield Finding(
                "logs.errors.new_group",
                Severity.WARNING,
                f"new error group: {g.template[:160]} ({g.count}×)",
                g.id,
                {**evidence, **g.to_dict(res.errors)},
                "A kind of error never seen before usually follows a deploy or config change; "
                "read the sample and fix or acknowledge it.",
            )
    recent = res.errors_since(today)
    since_last_n = res.errors_since(since_last.timestamp())
    yield Finding(
        "logs.errors.recent",
        Severity.OK,
        f"{recent} errors since midnight, {since_last_n} since {since_last:%Y-%m-%d %H:%M} UTC",
        "today",
        {
            **evidence,
            "since_midnight": recent,
            "since_last_run": since_last_n,
            "top_today": [
                {"group": g.id, "template": g.template, "count": g.count_since(today)}
                for g in res.top_groups(5, since=today)
            ],
        },
    )
    for g in res.top_groups(limit):
        yield Finding(
            "logs.errors.group",
            Severity.OK,
            f"{g.count:,}× ({g.count / res.errors:.1%}) {g.template[:160]}",
            g.id,
            {**evidence, **g.to_dict(res.errors)},
        )
    ids = sorted(known | set(res.groups))  # template ids: stable as events widen
    ctx.save_state("groups_seen", ids[-MAX_SEEN_GROUPS:])


def _latency(
    ctx: Context, res: Results, threshold: float | None, evidence: dict[str, Any]
) -> Iterator[Item]:
    table = []
    for key, lat in sorted(res.routes.items()):
        method, _, route = key.partition(" ")
        s = lat.summary()
        table.append({"method": method, "route": route, **s})
        labels = {"route": route, "method": method}
        yield Metric("logs.route.requests", lat.requests, "count", labels)
        yield Metric("logs.route.error_rate", s["error_rate"], "ratio", labels)
        if "p95" not in s:
            continue
        for p in ("p50", "p95", "p99", "max"):
            yield Metric(f"logs.latency.{p}", s[p], "ms", labels)
        if lat.count < MIN_TIMED:
            continue
        p95 = float(s["p95"])
        past: list[float] = []
        if ctx.history is not None:
            past = [
                v
                for _, v in ctx.history.metric_series(
                    "logs.latency.p95", task_id=ctx.task.id, labels=labels
                )
            ]
        baseline = statistics.median(past) if len(past) >= 3 else None
        over_threshold = threshold is not None and p95 > threshold * 1000
        over_history = baseline is not None and p95 > 1.5 * baseline and p95 - baseline > 50
        if over_threshold or over_history:
            why = []
            if over_threshold and threshold is not None:
                why.append(f"threshold {format_duration(threshold)}")
            if over_history and baseline is not None:
                why.append(f"usual {baseline:.1f} ms")
            yield Finding(
                "logs.latency.regression",
                Severity.WARNING,
                f"{key} p95 {p95:.1f} ms is above its " + " and ".join(why),
                key,
                {
                    **evidence,
                    **table[-1],
                    "threshold_ms": threshold and threshold * 1000,
                    "baseline_ms": baseline,
                },
                "Profile the route (slow queries: db.* tasks; upstream timeouts: the error groups).",
            )
    yield Finding(
        "logs.latency",
        Severity.OK,
        f"{len(table)} routes, {res.requests:,} requests (percentiles by nearest rank, in ms)",
        "",
        {**evidence, "routes": table},
    )


TASKS = [analyze]
