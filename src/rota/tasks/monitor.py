"""Monitoring: the runbook's "Health Check Verification" (curl /api/health, /api/health/cache)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from rota.model import Finding, Metric, Severity
from rota.targets.http import HttpResult
from rota.task import Context, Item, task
from rota.units import format_duration


@task(
    id="monitor.health",
    title="Health check verification",
    section="Monitoring and alerting",
    frequency="daily",
    priority="high",
    needs=("http",),
    purpose="Prove the platform's health endpoints answer, quickly and truthfully, so the "
    "monitoring that depends on them is not watching a dead or lying endpoint.",
    prerequisites=[
        "[http] base_url of the platform",
        "[http] ca_file when its certificate is private",
    ],
    procedure=[
        "GET the health endpoint and the cache health endpoint.",
        "Check each answers 2xx within [http] max_latency.",
        "Check the body is JSON whose status (and each sub-check) says ok.",
        "Record latency and status as metrics, so slow drift shows in the history.",
    ],
    expected_outcome="Both endpoints answer 200 with status ok, faster than max_latency.",
    rollback="Nothing to roll back: the task only reads.",
    time_estimate="5s",
    manual_time="15 minutes",
    timeout="2m",
    codes=("monitor.health.status", "monitor.health.latency", "monitor.health.body"),
)
def health(ctx: Context) -> Iterator[Item]:
    http = ctx.target("http")
    cfg = ctx.config.http
    for path in (cfg.health_path, cfg.cache_health_path):
        r: HttpResult = http.get(path)
        yield Metric("http.latency", round(r.elapsed_s, 4), "s", {"path": path})
        yield Metric("http.status", r.status, "", {"path": path})
        evidence = {
            "url": r.url,
            "status": r.status,
            "latency_s": round(r.elapsed_s, 4),
            "command": f"curl -sS {r.url}",
        }
        if not 200 <= r.status < 300:
            yield Finding(
                "monitor.health.status",
                Severity.CRITICAL,
                f"{path} answered HTTP {r.status}",
                path,
                {**evidence, "body": r.text[:300]},
                "Look at the application's logs for the failing check; restart or fail over if it is down.",
            )
            continue
        yield Finding(
            "monitor.health.status", Severity.OK, f"{path} answered HTTP {r.status}", path, evidence
        )
        if r.elapsed_s > cfg.max_latency:
            yield Finding(
                "monitor.health.latency",
                Severity.WARNING,
                f"{path} took {format_duration(r.elapsed_s)} (limit {format_duration(cfg.max_latency)})",
                path,
                evidence,
                "A slow health endpoint often means a saturated pool or a slow dependency.",
            )
        yield from _body(path, r, evidence)


def _body(path: str, r: HttpResult, evidence: dict[str, object]) -> Iterator[Item]:
    try:
        body = json.loads(r.text)
    except ValueError:
        yield Finding(
            "monitor.health.body",
            Severity.WARNING,
            f"{path} did not answer JSON",
            path,
            {**evidence, "body": r.text[:200]},
            "Health endpoints should answer JSON monitoring can read.",
        )
        return
    if not isinstance(body, dict):
        return
    status = str(body.get("status", "ok")).lower()
    if status not in ("ok", "healthy", "up", "pass"):
        yield Finding(
            "monitor.health.body",
            Severity.CRITICAL,
            f"{path} reports status {status!r}",
            path,
            {**evidence, "body": body},
            "The service says it is unhealthy: see which check fails.",
        )
    checks = body.get("checks")
    if isinstance(checks, dict):
        for name, value in checks.items():
            state = value.get("status") if isinstance(value, dict) else value
            if str(state).lower() not in ("ok", "healthy", "up", "pass"):
                yield Finding(
                    "monitor.health.body",
                    Severity.CRITICAL,
                    f"{path}: check {name} is {state!r}",
                    f"{path}#{name}",
                    {**evidence, "check": name, "value": value},
                    f"Restore the {name} dependency the service reports as failing.",
                )


TASKS = [health]
