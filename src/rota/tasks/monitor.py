"""Monitoring: the runbook's "Health Check Verification" (curl /api/health, /api/health/cache)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rota.alerts import Alert
from rota.alerts.dispatch import send
from rota.model import Finding, Metric, Severity, StepStatus
from rota.redact import Redactor
from rota.targets.http import HttpResult
from rota.task import Context, Item, task
from rota.units import format_duration

if TYPE_CHECKING:
    from rota.config import AlertChannelConfig


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


@task(
    id="monitor.alert_drill",
    title="Alert drill",
    section="Monitoring and alerting",
    frequency="monthly",
    priority="medium",
    needs=("alerts",),
    purpose="Prove that an alert reaches the people it should, end to end, before a real "
    "outage finds a revoked webhook or an expired API key: the runbook's alert test, "
    "without editing a threshold by hand and forgetting to put it back.",
    prerequisites=[
        "[[alerts.channels]] configured (webhook, slack, pagerduty, sendgrid)",
        "the people on those channels told that a drill alert will arrive",
    ],
    procedure=[
        "Check mode: list the channels and each one's last recorded delivery; a channel "
        "whose last delivery failed is a finding. Nothing is sent.",
        "--apply: send each channel a drill alert (a warning, marked as a test) through the "
        "same transport real alerts use, and record the delivery.",
        "PagerDuty: resolve the drill incident right after triggering it.",
        "A delivery the channel refuses or cannot be reached is a critical finding.",
    ],
    expected_outcome="Every channel accepts the drill alert (HTTP 2xx) and its people see it.",
    rollback="Nothing to roll back: no threshold is changed; PagerDuty drill incidents are "
    "resolved by the drill itself.",
    time_estimate="30s",
    manual_time="30 minutes",
    timeout="5m",
    codes=("monitor.alert_drill.delivery",),
)
def alert_drill(ctx: Context) -> Iterator[Item]:
    from dataclasses import replace

    cfg = ctx.config
    last = _last_deliveries(ctx)
    redact = Redactor(cfg.secrets()).text
    for ch in cfg.alerts.channels:
        drill = Alert.drill(
            target=cfg.target.name,
            task_id="monitor.alert_drill",
            title="Alert drill",
            summary="alert drill: if you read this, alerts reach you; nothing is wrong",
        )

        def deliver(ch: AlertChannelConfig = ch, drill: Alert = drill) -> dict[str, Any]:
            [sent] = send(drill, [ch], ctx.history, redact=redact, types=ctx.channel_types)
            if sent.status != "sent":
                raise RuntimeError(sent.detail)  # the step fails with the channel's reason
            done = {"delivery": sent.detail}
            if ch.type == "pagerduty":  # close the drill's incident at once
                resolve = replace(drill, previous=Severity.WARNING, current=Severity.OK)
                [closed] = send(resolve, [ch], ctx.history, redact=redact, types=ctx.channel_types)
                done["resolved"] = closed.detail
            return done

        step = ctx.action(
            f"send a drill alert to {ch.name} ({ch.type})",
            deliver,
            reason="prove the alert path end to end",
            estimate_s=2.0,
        )
        yield step
        previous = last.get(ch.name)
        evidence: dict[str, Any] = {"channel": ch.name, "type": ch.type, "last_delivery": previous}
        code = "monitor.alert_drill.delivery"
        if step.status is StepStatus.DONE:
            outcome: dict[str, Any] = {
                k: step.detail[k] for k in ("delivery", "resolved") if k in step.detail
            }
            yield Finding(
                code,
                Severity.OK,
                f"{ch.name}: drill alert accepted ({step.detail['delivery']})",
                ch.name,
                {**evidence, **outcome},
            )
        elif step.status is not StepStatus.PLANNED:
            yield Finding(
                code,
                Severity.CRITICAL,
                f"{ch.name}: the drill alert was not delivered: {step.detail.get('error')}",
                ch.name,
                evidence,
                "Alerts on this channel would be lost: check its endpoint and key "
                "(environment), the vendor's status, and rota's network path to it.",
            )
        elif previous is not None and previous["status"] == "failed":
            yield Finding(
                code,
                Severity.WARNING,
                f"{ch.name}: the last alert was not delivered ({previous['detail']})",
                ch.name,
                evidence,
                f"Fix the channel (endpoint, key), then `rota alerts test --channel {ch.name}` "
                "or run this drill with --apply.",
            )
        else:
            when = previous["attempted_at"] if previous else "never"
            yield Finding(
                code,
                Severity.OK,
                f"{ch.name}: drill planned (--apply sends it); last delivery: {when}",
                ch.name,
                evidence,
            )


def _last_deliveries(ctx: Context) -> dict[str, dict[str, Any]]:
    """Each channel's newest recorded delivery (status, detail, when)."""
    if ctx.history is None:
        return {}
    last: dict[str, dict[str, Any]] = {}
    for r in ctx.history.alerts(limit=500):
        if r["channel"] not in last:
            last[r["channel"]] = {
                "status": r["status"],
                "detail": r["detail"],
                "attempted_at": r["attempted_at"].isoformat(timespec="seconds"),
            }
    return last


TASKS = [health, alert_drill]
