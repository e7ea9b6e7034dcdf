"""Performance: the runbook's "Cache Efficiency" (statistics, trend, clear when warranted)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from rota.errors import TargetUnavailable
from rota.model import Finding, Metric, Severity
from rota.task import Context, Item, task

# Field names platforms use for the same statistic; the first present wins.
_ALIASES = {
    "hits": ("hits", "hit_count", "cache_hits"),
    "misses": ("misses", "miss_count", "cache_misses"),
    "hit_ratio": ("hit_ratio", "hitRatio", "hit_rate", "hitRate"),
    "keys": ("keys", "size", "entries", "key_count"),
    "evictions": ("evictions", "evicted"),
    "memory_bytes": ("memory_bytes", "memory", "bytes", "memoryBytes"),
}


def cache_stats(body: dict[str, Any]) -> dict[str, float]:
    src = body.get("cache", body) if isinstance(body.get("cache"), dict) else body
    out: dict[str, float] = {}
    for name, keys in _ALIASES.items():
        for k in keys:
            v = src.get(k)
            if isinstance(v, int | float) and not isinstance(v, bool):
                out[name] = float(v)
                break
    if "hit_ratio" not in out and "hits" in out and "misses" in out:
        total = out["hits"] + out["misses"]
        if total:
            out["hit_ratio"] = out["hits"] / total
    if out.get("hit_ratio", 0) > 1:  # some platforms report a percentage
        out["hit_ratio"] /= 100
    return out


@task(
    id="cache.review",
    title="Cache performance review",
    section="Performance optimization",
    frequency="monthly",
    priority="medium",
    mutates=True,
    needs=("http",),
    purpose="Keep the cache earning its memory: a falling hit ratio or rising evictions "
    "means slower pages and more database load long before anyone complains.",
    prerequisites=[
        "[http] base_url with the cache statistics endpoint",
        "[http] admin_token (from the environment or a file) to clear the cache with --apply",
    ],
    procedure=[
        "Read the cache statistics endpoint (hits, misses, hit ratio, keys, evictions, memory).",
        "Compare the hit ratio with the thresholds and with the last 30 days of history.",
        "When the hit ratio is below the critical threshold, plan a cache clear; with --apply, "
        "POST the clear endpoint with the admin token and read the statistics again to verify.",
    ],
    expected_outcome="Hit ratio above the warning threshold and steady against its history.",
    rollback="A cleared cache refills on demand; expect a short rise in latency and database load.",
    time_estimate="5s",
    manual_time="1 hour",
    timeout="2m",
    codes=("cache.hit_ratio", "cache.hit_ratio.regression", "cache.stats", "cache.clear"),
)
def review(ctx: Context) -> Iterator[Item]:
    http = ctx.target("http")
    cfg = ctx.config
    path = cfg.http.cache_health_path
    r = http.get(path)
    evidence: dict[str, Any] = {"url": r.url, "status": r.status, "command": f"curl -sS {r.url}"}
    try:
        body = r.json()
    except ValueError:
        body = None
    if r.status != 200 or not isinstance(body, dict):
        yield Finding(
            "cache.stats",
            Severity.UNKNOWN,
            f"{path} gave no cache statistics (HTTP {r.status})",
            path,
            {**evidence, "body": r.text[:200]},
            "Expose hit/miss counters on the cache health endpoint.",
        )
        return
    stats = cache_stats(body)
    for name, value in stats.items():
        unit = "ratio" if name == "hit_ratio" else ("bytes" if name == "memory_bytes" else "count")
        yield Metric(f"cache.{name}", value, unit)
    ratio = stats.get("hit_ratio")
    if ratio is None:
        yield Finding(
            "cache.stats",
            Severity.UNKNOWN,
            f"{path} reports no hits/misses or hit ratio",
            path,
            {**evidence, "body": body},
            "Expose hit and miss counters so the cache can be judged.",
        )
        return
    evidence.update({k: v for k, v in stats.items()})
    if stats.get("hits", 1) + stats.get("misses", 1) == 0:
        yield Finding(
            "cache.hit_ratio",
            Severity.OK,
            "no cache lookups since the service started; nothing to judge yet",
            path,
            evidence,
        )
        return
    warn, crit = cfg.cache.hit_ratio_warning, cfg.cache.hit_ratio_critical
    sev = Severity.CRITICAL if ratio < crit else Severity.WARNING if ratio < warn else Severity.OK
    yield Finding(
        "cache.hit_ratio",
        sev,
        f"cache hit ratio {ratio:.1%} (warning below {warn:.0%}, critical below {crit:.0%})",
        path,
        evidence,
        ""
        if sev is Severity.OK
        else "Check TTLs, key cardinality and memory limit; evictions mean the cache is too small.",
    )
    yield from _trend(ctx, ratio, path)
    if sev is Severity.CRITICAL:
        yield ctx.action(
            "clear cache",
            lambda: _clear(ctx, stats),
            reason=f"hit ratio {ratio:.1%} is below {crit:.0%}: stale or polluted entries are likely",
            lock="none (cache refills on demand)",
            estimate_s=1,
            request=f"POST {cfg.http.cache_clear_path} (Authorization: Bearer ***)",
        )


def _trend(ctx: Context, ratio: float, path: str) -> Iterator[Item]:
    if ctx.history is None:
        return
    since = datetime.now(UTC) - timedelta(days=30)
    past = [
        v for _, v in ctx.history.metric_series("cache.hit_ratio", task_id=ctx.task.id, since=since)
    ]
    if len(past) < 3:
        return
    baseline = sorted(past)[len(past) // 2]
    if baseline - ratio > 0.10:
        yield Finding(
            "cache.hit_ratio.regression",
            Severity.WARNING,
            f"cache hit ratio fell to {ratio:.1%} from a 30-day median of {baseline:.1%}",
            path,
            {"hit_ratio": ratio, "median_30d": baseline, "samples": len(past)},
            "Look for a deploy that changed cache keys or TTLs around when it started.",
        )


def _clear(ctx: Context, before: dict[str, float]) -> dict[str, Any]:
    token = ctx.config.http.admin_token
    if token is None:
        raise TargetUnavailable("[http] admin_token is not set; cannot clear the cache")
    http = ctx.target("http")
    r = http.request(
        "POST",
        ctx.config.http.cache_clear_path,
        headers={"Authorization": f"Bearer {token.get_secret_value()}"},
    )
    if r.status != 200:
        raise RuntimeError(f"cache clear answered HTTP {r.status}")
    after = cache_stats(http.get(ctx.config.http.cache_health_path).json())
    return {
        "keys_before": before.get("keys"),
        "keys_after": after.get("keys"),
        "http_status": r.status,
    }


TASKS = [review]
