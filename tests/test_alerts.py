"""Alerts end to end: real runs through the engine, real history, a real HTTP receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from rota.config import Config, parse_config
from rota.history import History, open_history
from rota.model import Finding, Severity
from rota.testing import run_task
from samples import make_task

SECRET = "hook-secret-7f3a9c2e51"


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records every JSON body it is sent."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.paths.append(self.path)
                outer.bodies.append(json.loads(raw))
                if self.path.endswith("/v2/enqueue"):  # PagerDuty's Events API v2 answer
                    body = json.dumps({"status": "success", "message": "Event processed"})
                    self.send_response(202)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(body.encode())
                    return
                self.send_response(outer.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


class Switch:
    """A task whose state the test sets before each run."""

    def __init__(self) -> None:
        self.severity = Severity.OK
        self.message = "all good"

    def task(self, task_id: str = "demo.switch") -> Any:
        def run(ctx: Any) -> Iterator[Finding]:
            yield Finding("demo.state", self.severity, self.message, "thing")

        return make_task(task_id, run, title="Switchable", codes=("demo.state",))


def _setup(tmp_path: Path, channels: str, env: dict[str, str]) -> tuple[Config, History]:
    """A config for target "prod" with ``channels``, and the history its alerts go through."""
    cfg = parse_config(
        f'[target]\nname = "prod"\n[history]\nurl = "sqlite:///{tmp_path / "h.db"}"\n' + channels,
        env=env,
    )
    return cfg, open_history(cfg.history.url)


def _webhook(name: str, **extra: str) -> str:
    lines = [f'[[alerts.channels]]\nname = "{name}"\ntype = "webhook"\nurl = "${{HOOK_{name}}}"']
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def test_it_alerts_on_state_changes_only_and_resolves(tmp_path: Path, receiver: Receiver) -> None:
    env = {"HOOK_ops": f"{receiver.url}/hooks/{SECRET}"}
    cfg, history = _setup(tmp_path, _webhook("ops"), env)
    switch = Switch()
    task = switch.task()
    runs = []
    for severity in (
        Severity.OK,
        Severity.CRITICAL,
        Severity.CRITICAL,
        Severity.WARNING,
        Severity.OK,
    ):
        switch.severity = severity
        switch.message = f"state is {severity.value}"
        runs.append(run_task(task, cfg, history=history))
    # first run ok: nothing; ok→critical; critical again: nothing; →warning; →ok (resolved)
    assert [len(o.alerts) for o in runs] == [0, 1, 0, 1, 1]
    assert [(b["previous"], b["status"], b["resolved"]) for b in receiver.bodies] == [
        ("ok", "critical", False),
        ("critical", "warning", False),
        ("warning", "ok", True),
    ]
    first = receiver.bodies[0]
    assert first["task"] == "demo.switch" and first["target"] == "prod"
    assert first["summary"] == "state is critical" and first["findings"][0]["code"] == "demo.state"
    assert runs[1].alerts[0].status == "sent" and runs[1].alerts[0].detail.startswith("HTTP 2")
    recorded = history.alerts()
    assert [(r["previous"], r["current"], r["status"]) for r in reversed(recorded)] == [
        ("ok", "critical", "sent"),
        ("critical", "warning", "sent"),
        ("warning", "ok", "sent"),
    ]
    assert all(r["run_id"] is not None and r["finished_at"] is not None for r in recorded)
    # A report rebuilt from history shows each run's deliveries as the run did.
    rebuilt = [history.outcome(r.id) for r in reversed(history.runs("demo.switch"))]
    assert [o.alerts for o in rebuilt] == [o.alerts for o in runs]


def test_a_failing_task_alerts_on_its_first_run(tmp_path: Path, receiver: Receiver) -> None:
    cfg, history = _setup(tmp_path, _webhook("ops"), {"HOOK_ops": receiver.url})
    switch = Switch()
    switch.severity = Severity.CRITICAL
    out = run_task(switch.task(), cfg, history=history)
    assert [a.previous for a in out.alerts] == [None]
    assert receiver.bodies[0]["previous"] is None


def test_an_unreachable_channel_is_recorded_and_never_changes_the_run(
    tmp_path: Path, receiver: Receiver
) -> None:
    env = {"HOOK_down": f"http://127.0.0.1:9/hooks/{SECRET}", "HOOK_ops": receiver.url}
    cfg, history = _setup(tmp_path, _webhook("down", timeout='"2s"') + _webhook("ops"), env)
    switch = Switch()
    switch.severity = Severity.WARNING
    out = run_task(switch.task(), cfg, history=history)
    assert out.status is Severity.WARNING  # the failed delivery does not make it worse
    by_channel = {a.channel: a for a in out.alerts}
    assert by_channel["ops"].status == "sent"
    assert by_channel["down"].status == "failed"
    assert "127.0.0.1:9" in by_channel["down"].detail and SECRET not in by_channel["down"].detail
    recorded = {r["channel"]: r for r in history.alerts()}
    assert recorded["down"]["status"] == "failed" and SECRET not in recorded["down"]["detail"]
    (run,) = history.runs("demo.switch")
    assert sorted(history.outcome(run.id).alerts, key=lambda a: a.channel) == sorted(
        out.alerts, key=lambda a: a.channel
    )


def test_min_severity_and_task_globs_choose_the_channels(
    tmp_path: Path, receiver: Receiver
) -> None:
    channels = _webhook("pager", min_severity='"critical"') + _webhook(
        "backups", tasks='["backup.*"]'
    )
    env = {"HOOK_pager": f"{receiver.url}/pager", "HOOK_backups": f"{receiver.url}/backups"}
    cfg, history = _setup(tmp_path, channels, env)
    switch = Switch()
    db, backup = switch.task("db.thing"), switch.task("backup.thing")
    for severity in (Severity.OK, Severity.WARNING, Severity.CRITICAL, Severity.OK):
        switch.severity = severity
        for task in (db, backup):
            run_task(task, cfg, history=history)
    # pager: only changes touching critical (warning→critical, critical→ok), for both tasks;
    # backups: every change of backup.* only
    assert sorted(p for p in receiver.paths if p == "/pager") == ["/pager"] * 4
    backups = [b for p, b in zip(receiver.paths, receiver.bodies, strict=True) if p == "/backups"]
    assert [b["task"] for b in backups] == ["backup.thing"] * 3
    assert [b["status"] for b in backups] == ["warning", "critical", "ok"]


def test_no_secret_leaves_in_an_alert_or_its_record(tmp_path: Path, receiver: Receiver) -> None:
    env = {"HOOK_ops": f"{receiver.url}/hooks/{SECRET}"}
    cfg, history = _setup(tmp_path, _webhook("ops"), env)
    switch = Switch()
    switch.severity = Severity.CRITICAL
    switch.message = f"posting to {receiver.url}/hooks/{SECRET} failed"  # a task echoing a secret
    out = run_task(switch.task(), cfg, history=history)
    assert out.alerts and out.alerts[0].status == "sent"
    assert SECRET not in json.dumps(receiver.bodies)
    assert SECRET not in json.dumps(history.alerts(), default=str)
    assert receiver.paths == [f"/hooks/{SECRET}"]  # the channel itself still gets its URL


def test_a_skipped_run_is_no_state_change(tmp_path: Path, receiver: Receiver) -> None:
    cfg, history = _setup(
        tmp_path,
        _webhook("ops") + '[tasks."demo.switch"]\nenabled = true\n',
        {"HOOK_ops": receiver.url},
    )
    switch = Switch()
    switch.severity = Severity.CRITICAL
    run_task(switch.task(), cfg, history=history)
    skipped = make_task("demo.switch", needs=("postgres",))  # not configured: skipped
    out = run_task(skipped, cfg, history=history)
    assert out.skipped and out.alerts == []
    switch.severity = Severity.OK
    resolved = run_task(switch.task(), cfg, history=history)
    assert [(a.previous, a.current) for a in resolved.alerts] == [(Severity.CRITICAL, Severity.OK)]


def test_rota_alerts_test_and_history_at_the_command_line(
    rota: Any, tmp_path: Path, receiver: Receiver
) -> None:
    cfg = tmp_path / "rota.toml"
    cfg.write_text(
        f'[history]\nurl = "sqlite:///{tmp_path / "h.db"}"\n'
        + _webhook("ops")
        + _webhook("down", timeout='"1s"')
    )
    env = {"HOOK_ops": f"{receiver.url}/{SECRET}", "HOOK_down": f"http://127.0.0.1:9/{SECRET}"}
    r = rota("-c", str(cfg), "alerts", "test", "--channel", "ops", extra_env=env)
    assert r.code == 0 and "sent" in r.out and "ops" in r.out
    assert receiver.bodies[0]["test"] is True
    r = rota("-c", str(cfg), "alerts", "test", extra_env=env)
    assert r.code == 1 and "FAILED" in r.out and SECRET not in r.out
    r = rota("-c", str(cfg), "alerts", "history", "--format", "json", extra_env=env)
    rows = json.loads(r.out)
    assert [(x["channel"], x["status"]) for x in rows][:2] == [("down", "failed"), ("ops", "sent")]
    r = rota("-c", str(cfg), "alerts", "test", "--channel", "nope", extra_env=env)
    assert r.code == 4 and "no alert channel named nope" in r.err


def test_the_alert_drill_plans_in_check_mode_and_sends_with_apply(
    tmp_path: Path, receiver: Receiver
) -> None:
    from rota.tasks.monitor import alert_drill

    channels = _webhook("ops") + (
        '[[alerts.channels]]\nname = "pager"\ntype = "pagerduty"\n'
        'routing_key = "${PD_KEY}"\nurl = "${PD_URL}"\n'
    )
    env = {
        "HOOK_ops": receiver.url,
        "PD_KEY": "R0UTINGKEY0123456789",
        "PD_URL": f"{receiver.url}/v2/enqueue",
    }
    cfg, history = _setup(tmp_path, channels, env)
    check = run_task(alert_drill, cfg, history=history)
    assert receiver.bodies == []  # check mode sends nothing
    assert [s.status.value for s in check.steps] == ["planned", "planned"]
    assert {f.severity for f in check.findings} == {Severity.OK}
    done = run_task(alert_drill, cfg, apply=True, history=history)
    assert done.status is Severity.OK, [f.message for f in done.findings]
    webhook = [b for p, b in zip(receiver.paths, receiver.bodies, strict=True) if p == "/"]
    assert webhook[0]["test"] is True and webhook[0]["task"] == "monitor.alert_drill"
    pager = [
        b for p, b in zip(receiver.paths, receiver.bodies, strict=True) if p.endswith("enqueue")
    ]
    assert [b["event_action"] for b in pager] == ["trigger", "resolve"]
    assert pager[0]["dedup_key"] == pager[1]["dedup_key"]
    assert "R0UTINGKEY0123456789" not in json.dumps([f.evidence for f in done.findings])


def test_the_alert_drill_reports_a_channel_that_cannot_be_reached(
    tmp_path: Path, receiver: Receiver
) -> None:
    from rota.tasks.monitor import alert_drill

    env = {"HOOK_ops": receiver.url, "HOOK_down": "http://127.0.0.1:9/x"}
    cfg, history = _setup(tmp_path, _webhook("ops") + _webhook("down", timeout='"1s"'), env)
    done = run_task(alert_drill, cfg, apply=True, history=history)
    by_channel = {f.subject: f for f in done.findings}
    assert by_channel["ops"].severity is Severity.OK
    assert by_channel["down"].severity is Severity.CRITICAL
    assert "127.0.0.1:9" in by_channel["down"].message
    # the next check-mode run remembers it from history and sends no drill (what it may
    # send is the task's own state change, critical -> warning, like any task's)
    sent_before = len(receiver.bodies)
    check = run_task(alert_drill, cfg, history=history)
    assert [b["test"] for b in receiver.bodies[sent_before:]] == [False]
    down = next(f for f in check.findings if f.subject == "down")
    assert down.severity is Severity.WARNING and "not delivered" in down.message


def test_remind_every_repeats_a_state_that_stays_bad_at_most_that_often(
    tmp_path: Path, receiver: Receiver
) -> None:
    from datetime import UTC, datetime, timedelta

    cfg, history = _setup(
        tmp_path, _webhook("ops", remind_every='"6h"'), {"HOOK_ops": receiver.url}
    )
    clock = [datetime(2026, 11, 28, 8, 0, tzinfo=UTC)]
    switch = Switch()
    task = switch.task()
    sent = []
    for hours, severity in ((0, Severity.CRITICAL), (1, Severity.CRITICAL), (7, Severity.CRITICAL),
                            (8, Severity.CRITICAL), (9, Severity.OK), (20, Severity.OK)):  # fmt: skip
        clock[0] = datetime(2026, 11, 28, 8, 0, tzinfo=UTC) + timedelta(hours=hours)
        switch.severity = severity
        sent.append(len(run_task(task, cfg, history=history, now=lambda: clock[0]).alerts))
    # the change at 0h; a reminder after 7h (>= 6h since); none at 8h; the resolve at 9h;
    # an ok state is never repeated
    assert sent == [1, 0, 1, 0, 1, 0]
    assert [b["reminder"] for b in receiver.bodies] == [False, True, False]
    assert receiver.bodies[2]["resolved"] is True


def test_after_waits_out_a_flapping_check_and_resolves_only_what_it_announced(
    tmp_path: Path, receiver: Receiver
) -> None:
    channels = _webhook("pager", after="3") + _webhook("ops")
    env = {"HOOK_pager": f"{receiver.url}/pager", "HOOK_ops": f"{receiver.url}/ops"}
    cfg, history = _setup(tmp_path, channels, env)
    switch = Switch()
    task = switch.task()
    C, W, K = Severity.CRITICAL, Severity.WARNING, Severity.OK
    runs = []
    for severity in (C, K, C, C, W, C, C, K, C):
        switch.severity = severity
        switch.message = f"state is {severity.value}"
        runs.append({a.channel: a for a in run_task(task, cfg, history=history).alerts})
    pager = [
        (b["previous"], b["status"])
        for p, b in zip(receiver.paths, receiver.bodies, strict=True)
        if p == "/pager"
    ]
    # A flap (C, ok) never reaches the pager; C, C, W is three bad runs in a row: it hears
    # the warning, then the critical it turned into, then the resolve. The last C is 1 of 3.
    assert pager == [("critical", "warning"), ("warning", "critical"), ("critical", "ok")]
    assert [r["pager"].status if "pager" in r else None for r in runs] == [
        "held", None, "held", "held", "sent", "sent", None, "sent", "held",
    ]  # fmt: skip
    assert runs[3]["pager"].detail == "2 of 3 runs in a row at warning or worse"
    # The plain channel keeps alerting on every change, the flap included.
    assert sum(p == "/ops" for p in receiver.paths) == 7


def test_after_retries_a_delivery_that_failed_on_the_next_run(
    tmp_path: Path, receiver: Receiver
) -> None:
    cfg, history = _setup(tmp_path, _webhook("pager", after="2"), {"HOOK_pager": receiver.url})
    switch = Switch()
    switch.severity = Severity.CRITICAL
    task = switch.task()
    assert run_task(task, cfg, history=history).alerts[0].status == "held"
    receiver.status = 503  # the receiver is down when the streak is reached
    assert run_task(task, cfg, history=history).alerts[0].status == "failed"
    receiver.status = 200
    again = run_task(task, cfg, history=history).alerts
    assert [a.status for a in again] == ["sent"]  # not lost with the state change
    assert run_task(task, cfg, history=history).alerts == []  # told once: nothing more
    assert [b["status"] for b in receiver.bodies] == ["critical", "critical"]
