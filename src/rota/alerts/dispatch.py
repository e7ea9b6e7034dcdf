"""Sending one alert to the channels that want it, with an audit row per delivery.

The engine calls :func:`notify` after a task's run is recorded; ``rota alerts test`` calls
:func:`send` with a test alert. Every delivery is written to history as ``sending`` before
the attempt and completed after (``sent`` or ``failed`` with the reason); the text that
leaves rota goes through the run's redactor first, so no configured secret is ever sent
or stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from rota.alerts import Alert, Delivery, changed, wants
from rota.model import AlertSent, Severity, TaskOutcome

if TYPE_CHECKING:
    from pydantic import SecretStr

    from rota.alerts.channels import AlertChannelSettings
    from rota.config import AlertChannelConfig, Config
    from rota.history import History

__all__ = ["notify", "send", "settings_of"]


def settings_of(cfg: AlertChannelConfig) -> AlertChannelSettings:
    """The transport settings of a configured channel (secrets unwrapped here only)."""
    from rota.alerts.channels import AlertChannelSettings

    def secret(v: SecretStr | None) -> str | None:
        return None if v is None else v.get_secret_value()

    return AlertChannelSettings(
        name=cfg.name,
        type=cfg.type,
        url=secret(cfg.url),
        routing_key=secret(cfg.routing_key),
        api_key=secret(cfg.api_key),
        to=tuple(cfg.to),
        sender=cfg.sender,
        timeout=cfg.timeout,
    )


def notify(
    config: Config,
    history: History | None,
    outcome: TaskOutcome,
    *,
    title: str,
    previous: Severity | None,
    run_id: int | None,
    redact: Callable[[str], str] = str,
) -> list[AlertSent]:
    """Alert the channels that want this run's state change; nothing when there is none."""
    channels = config.alerts.channels
    if not channels or outcome.skipped:
        return []
    alert = Alert.of(
        outcome, target=config.target.name, title=title, previous=previous, run_id=run_id
    )
    if changed(previous, outcome.status):
        return send(alert, channels, history, redact=redact)
    due = [c for c in channels if _reminder_due(c, alert, history)]
    if not due:
        return []
    return send(replace(alert, reminder=True), due, history, redact=redact)


def _reminder_due(cfg: AlertChannelConfig, alert: Alert, history: History | None) -> bool:
    """A channel with ``remind_every`` hears a state that stays bad, at most that often."""
    if cfg.remind_every is None or history is None or alert.resolved:
        return False
    if alert.current.rank < Severity(cfg.min_severity).rank:
        return False
    last = history.last_alert_sent(alert.task_id, cfg.name)
    return last is None or (alert.at - last).total_seconds() >= cfg.remind_every


def send(
    alert: Alert,
    channels: Iterable[AlertChannelConfig],
    history: History | None,
    *,
    redact: Callable[[str], str] = str,
) -> list[AlertSent]:
    from rota.alerts.channels import make_channel

    alert = replace(
        alert,
        summary=redact(alert.summary),
        findings=[
            {k: redact(v) if isinstance(v, str) else v for k, v in f.items()}
            for f in alert.findings
        ],
    )
    sent: list[AlertSent] = []
    for cfg in channels:
        if not wants(Severity(cfg.min_severity), cfg.tasks, alert.task_id, alert):
            continue
        row = None
        if history is not None:
            row = history.alert_attempt(
                run_id=alert.run_id,
                task_id=alert.task_id,
                channel=cfg.name,
                previous=alert.previous,
                current=alert.current,
                message=alert.headline(),
                at=alert.at,
            )
        try:
            delivery = make_channel(settings_of(cfg)).send(alert)
        except Exception as exc:  # a transport bug must not lose the run's record
            delivery = Delivery(False, f"{type(exc).__name__}: {exc}")
        detail = redact(delivery.detail)
        if history is not None and row is not None:
            history.alert_result(row, ok=delivery.ok, detail=detail)
        status = "sent" if delivery.ok else "failed"
        sent.append(AlertSent(cfg.name, status, alert.previous, alert.current, detail))
    return sent
