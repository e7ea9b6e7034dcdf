"""Sending one alert to the channels that want it, with an audit row per delivery.

The engine calls :func:`notify` after a task's run is recorded; ``rota alerts test`` calls
:func:`send` with a test alert. Every delivery is written to history as ``sending`` before
the attempt and completed after (``sent`` or ``failed`` with the reason); the text that
leaves rota goes through the run's redactor first, so no configured secret is ever sent
or stored.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from rota.alerts import Alert, Delivery, changed, covers, wants
from rota.alerts.channels import builtin_type, make_channel
from rota.model import AlertSent, Severity, TaskOutcome

if TYPE_CHECKING:
    from rota.alerts.channels import Channel
    from rota.config import AlertChannelConfig, Config
    from rota.history import History

    ChannelTypes = Callable[[str], type[Channel]]

__all__ = ["notify", "send"]


def notify(
    config: Config,
    history: History | None,
    outcome: TaskOutcome,
    *,
    title: str,
    previous: Severity | None,
    run_id: int | None,
    redact: Callable[[str], str] = str,
    types: ChannelTypes | None = None,
) -> list[AlertSent]:
    """Alert the channels that want this run's news: a state change, a reminder, or (for
    a channel with ``after``) a bad state that has now lasted long enough."""
    channels = config.alerts.channels
    if not channels or outcome.skipped:
        return []
    alert = Alert.of(
        outcome, target=config.target.name, title=title, previous=previous, run_id=run_id
    )
    streaks = [c for c in channels if c.after > 1 and history is not None]
    plain = [c for c in channels if c not in streaks]
    sent: list[AlertSent] = []
    if changed(previous, outcome.status):
        sent += send(alert, plain, history, redact=redact, types=types)
    else:
        due = [c for c in plain if _reminder_due(c, alert, history)]
        if due:
            sent += send(replace(alert, reminder=True), due, history, redact=redact, types=types)
    if history is not None:
        for cfg in streaks:
            sent += _after_streak(cfg, alert, history, redact, types)
    return sent


def _after_streak(
    cfg: AlertChannelConfig,
    alert: Alert,
    history: History,
    redact: Callable[[str], str],
    types: ChannelTypes | None,
) -> list[AlertSent]:
    """A channel with ``after`` N hears a bad state once the task has been at least its
    ``min_severity`` for N runs in a row, and the end of it only if it heard the start.
    What it was last told (history, delivered ones only) decides, so a delivery that failed
    is tried again on the next run instead of being lost with the state change."""
    if not covers(cfg.tasks, alert.task_id):
        return []
    floor = Severity(cfg.min_severity).rank
    last = history.last_sent(alert.task_id, cfg.name)
    told = last[1] if last is not None else None
    if alert.current.rank >= floor:
        recent = history.recent_statuses(alert.task_id, cfg.after)
        run = len(list(itertools.takewhile(lambda s: s.rank >= floor, recent)))
        if run < cfg.after:
            why = f"{run} of {cfg.after} runs in a row at {cfg.min_severity} or worse"
            return [AlertSent(cfg.name, "held", alert.previous, alert.current, why)]
        if told is alert.current:
            if _reminder_due(cfg, alert, history):
                return send(
                    replace(alert, reminder=True), [cfg], history, redact=redact, types=types
                )
            return []
        return send(alert, [cfg], history, redact=redact, types=types)
    if told is not None and told.rank >= floor:
        return send(replace(alert, previous=told), [cfg], history, redact=redact, types=types)
    return []


def _reminder_due(cfg: AlertChannelConfig, alert: Alert, history: History | None) -> bool:
    """A channel with ``remind_every`` hears a state that stays bad, at most that often."""
    if cfg.remind_every is None or history is None or alert.resolved:
        return False
    if alert.current.rank < Severity(cfg.min_severity).rank:
        return False
    last = history.last_sent(alert.task_id, cfg.name)
    return last is None or (alert.at - last[0]).total_seconds() >= cfg.remind_every


def send(
    alert: Alert,
    channels: Iterable[AlertChannelConfig],
    history: History | None,
    *,
    redact: Callable[[str], str] = str,
    types: ChannelTypes | None = None,
) -> list[AlertSent]:
    """Send ``alert`` to each of ``channels`` that wants it, built by ``types`` (the app's
    channel registry; None: rota's built-in types), one audit row per delivery."""
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
            delivery = make_channel(cfg, types or builtin_type).send(alert)
        except Exception as exc:  # a transport bug must not lose the run's record
            delivery = Delivery(False, f"{type(exc).__name__}: {exc}")
        detail = redact(delivery.detail)
        if history is not None and row is not None:
            history.alert_result(row, ok=delivery.ok, detail=detail)
        status = "sent" if delivery.ok else "failed"
        sent.append(AlertSent(cfg.name, status, alert.previous, alert.current, detail))
    return sent
