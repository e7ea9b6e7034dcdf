"""The alert transports against local servers that answer like the vendors do.

One ThreadingHTTPServer on 127.0.0.1 plays four parts, by path: a plain webhook, a Slack
incoming webhook, PagerDuty's Events API v2 and SendGrid's v3 mail send. Each part checks
what its vendor checks and answers with the vendor's documented bodies, and every request
is recorded so the tests can assert what went over the wire.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

import rota
from rota.alerts import Alert, Delivery
from rota.alerts.channels import (
    PagerDuty,
    SendGrid,
    Slack,
    Webhook,
    make_channel,
)
from rota.config import AlertChannelConfig
from rota.model import Severity

# Recognisable secrets: none of them may ever show up in a Delivery or an error message.
SLACK_PATH = "/slack/services/T0SECRETT/B0SECRETB/xoxSECRETwebhookTOKEN"
HOOK_PATH = "/hook/SECRET-hook-token"
HOOK_QUERY = "sig=SECRETSIGNATURE"
ROUTING_KEY = "r0utingkeySECRET0123456789abcdef"  # PagerDuty keys are 32 characters
SENDGRID_KEY = "SG.SECRETsendgridKEY00000.abcdefSECRETabcdef0123456789"
SECRETS = [SLACK_PATH, "SECRET", ROUTING_KEY, SENDGRID_KEY, HOOK_QUERY]

SENDGRID_AUTH_ERROR = "The provided authorization grant is invalid, expired, or revoked"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Vendors:
    """What the local vendors received, and knobs to make them misbehave."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    hook_status: int = 200
    hook_location: str | None = None
    slack_fault: str | None = None  # e.g. "invalid_payload": Slack refuses whatever comes
    pagerduty_rate_limited: bool = False
    pagerduty_status: int = 202  # a proxy in front of PagerDuty may answer 200

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")


def _pagerduty_errors(event: dict[str, Any]) -> list[str]:
    errors = []
    if len(str(event.get("routing_key", ""))) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    if event.get("event_action") not in ("trigger", "acknowledge", "resolve"):
        errors.append("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
    if event.get("event_action") == "trigger":
        payload = event.get("payload") or {}
        for key in ("summary", "source", "severity"):
            if not payload.get(key):
                errors.append(f"'payload.{key}' is missing or blank")
        if payload.get("severity") not in (None, "critical", "error", "warning", "info"):
            errors.append("'payload.severity' is invalid")
        if len(str(payload.get("summary", ""))) > 1024:
            errors.append("'payload.summary' is too long")
    elif not event.get("dedup_key"):
        errors.append("'dedup_key' is missing or blank")
    return errors


def _sendgrid_errors(mail: dict[str, Any]) -> list[dict[str, Any]]:
    errors = []
    to = [a for p in mail.get("personalizations") or [] for a in p.get("to") or []]
    if not to or not all("@" in str(a.get("email", "")) for a in to):
        errors.append({"message": "The to array is required for all personalization objects."})
    if "@" not in str((mail.get("from") or {}).get("email", "")):
        errors.append({"message": "The from object must be provided for every email send."})
    if not mail.get("subject"):
        errors.append({"message": "The subject is required."})
    if not mail.get("content"):
        errors.append({"message": "Unless a valid template_id is provided, content is required."})
    return errors


@pytest.fixture
def vendors() -> Iterator[Vendors]:
    state = Vendors()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            if status in (301, 302) and state.hook_location:
                self.send_header("Location", state.hook_location)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, body: object) -> None:
            self._answer(status, json.dumps(body).encode())

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append(
                Recorded("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            try:
                data = json.loads(body)
            except ValueError:
                data = None
            path = self.path.split("?")[0]
            if path.startswith("/slack/"):
                self._slack(data)
            elif path == "/pagerduty/v2/enqueue":
                self._pagerduty(data)
            elif path == "/sendgrid/v3/mail/send":
                self._sendgrid(data)
            elif path.startswith("/hook/"):
                if state.hook_status == 404:
                    # Like many frameworks, echo the route: a transport must not pass it on.
                    self._answer(404, f"no route for POST {self.path}".encode(), "text/plain")
                else:
                    self._json(state.hook_status, {"received": True})
            else:
                self._answer(404, b"not found", "text/plain")

        def _slack(self, data: Any) -> None:
            # Slack's answers are plain text: "ok", or an error code.
            if self.path != SLACK_PATH:
                self._answer(404, b"no_service", "text/html")
            elif state.slack_fault:
                self._answer(400, state.slack_fault.encode(), "text/html")
            elif not isinstance(data, dict) or not (data.get("text") or data.get("blocks")):
                self._answer(400, b"invalid_payload", "text/html")
            elif any(len(b["text"]["text"]) > 3000 for b in data.get("blocks", [])):
                self._answer(400, b"invalid_blocks", "text/html")
            else:
                self._answer(200, b"ok", "text/html")

        def _pagerduty(self, data: Any) -> None:
            if state.pagerduty_rate_limited:
                self._answer(429, b"")
                return
            errors = _pagerduty_errors(data) if isinstance(data, dict) else ["not JSON"]
            if errors:
                body = {"status": "invalid event", "message": "Event object is invalid"}
                self._json(400, {**body, "errors": errors})
            else:
                key = data["dedup_key"]
                answer = {"status": "success", "message": "Event processed", "dedup_key": key}
                self._json(state.pagerduty_status, answer)

        def _sendgrid(self, data: Any) -> None:
            if self.headers.get("Authorization") != f"Bearer {SENDGRID_KEY}":
                self._json(401, {"errors": [{"message": SENDGRID_AUTH_ERROR, "field": None}]})
                return
            errors = _sendgrid_errors(data) if isinstance(data, dict) else [{"message": "x"}]
            if errors:
                self._json(400, {"errors": errors})
            else:
                self._answer(202, b"")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel does) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


FINDINGS = [
    {
        "code": "db.bloat.table",
        "severity": "critical",
        "message": "messages is 42% dead tuples",
        "subject": "public.messages",
    },
    {
        "code": "db.index.unused",
        "severity": "warning",
        "message": "messages_latency_ms_idx has had 0 scans",
        "subject": "public.messages_latency_ms_idx",
    },
]


def an_alert(current: Severity = Severity.CRITICAL, **kw: Any) -> Alert:
    fields: dict[str, Any] = {
        "target": "production",
        "task_id": "db.vacuum",
        "title": "Vacuum and analyze",
        "previous": Severity.OK,
        "current": current,
        "summary": "messages is 42% dead tuples (+1 more)",
        "at": datetime(2024, 5, 1, 3, 0, tzinfo=UTC),
        "run_id": 17,
        "findings": FINDINGS if current is not Severity.OK else [],
    }
    return Alert(**{**fields, **kw})


def settings(vendors: Vendors, type: str, **kw: Any) -> AlertChannelConfig:
    bases: dict[str, dict[str, Any]] = {
        "webhook": {"url": f"{vendors.url}{HOOK_PATH}?{HOOK_QUERY}"},
        "slack": {"url": vendors.url + SLACK_PATH},
        "pagerduty": {"url": vendors.url + "/pagerduty/v2/enqueue", "routing_key": ROUTING_KEY},
        "sendgrid": {
            "url": vendors.url + "/sendgrid/v3/mail/send",
            "api_key": SENDGRID_KEY,
            "to": ("oncall@example.com", "dba@example.com"),
            "sender": "rota@example.com",
        },
    }
    return AlertChannelConfig(name=f"team-{type}", type=type, **{**bases[type], **kw})


def moved(cfg: AlertChannelConfig, host: str, to: str) -> AlertChannelConfig:
    """``cfg`` with its URL pointing at ``to`` instead of ``host``."""
    assert cfg.url is not None
    return cfg.model_copy(update={"url": SecretStr(cfg.url.get_secret_value().replace(host, to))})


def assert_no_secret(delivery: Delivery) -> None:
    for secret in SECRETS:
        assert secret not in delivery.detail, delivery.detail


# Each type sends what its protocol documents.


def test_a_webhook_posts_the_alert_as_json(vendors: Vendors) -> None:
    alert = an_alert()
    delivery = make_channel(settings(vendors, "webhook")).send(alert)

    assert delivery == Delivery(True, "HTTP 200", 200)
    [req] = vendors.requests
    assert (req.method, req.path) == ("POST", f"{HOOK_PATH}?{HOOK_QUERY}")
    assert req.headers["content-type"] == "application/json"
    assert req.headers["user-agent"] == f"rota/{rota.__version__}"
    assert req.json() == alert.to_dict()
    assert req.json()["status"] == "critical" and req.json()["previous"] == "ok"


def test_slack_gets_the_headline_as_text_and_the_findings_as_a_bulleted_list(
    vendors: Vendors,
) -> None:
    alert = an_alert(summary="a <b> & c")
    channel = make_channel(settings(vendors, "slack"))
    assert isinstance(channel, Slack)

    delivery = channel.send(alert)

    assert delivery == Delivery(True, "HTTP 200", 200)
    [req] = vendors.requests
    assert req.path == SLACK_PATH and req.headers["user-agent"].startswith("rota")
    body = req.json()
    # Slack reads <...> as links and mentions: the three characters are escaped.
    assert body["text"] == alert.headline().replace("<", "&lt;").replace(">", "&gt;").replace(
        "& c", "&amp; c"
    )
    headline, findings = body["blocks"]
    assert headline == {"type": "section", "text": {"type": "mrkdwn", "text": body["text"]}}
    lines = findings["text"]["text"].splitlines()
    assert lines == [
        "• *critical* `db.bloat.table` messages is 42% dead tuples (public.messages)",
        "• *warning* `db.index.unused` messages_latency_ms_idx has had 0 scans"
        " (public.messages_latency_ms_idx)",
    ]


def test_slack_blocks_hold_at_most_five_findings_and_stay_under_slacks_limit(
    vendors: Vendors,
) -> None:
    many = [{**FINDINGS[0], "subject": f"t{i}"} for i in range(8)]
    alert = an_alert(summary="x" * 5000, findings=many)

    delivery = make_channel(settings(vendors, "slack")).send(alert)

    assert delivery.ok, delivery.detail  # the local Slack refuses sections over 3000 chars
    blocks = vendors.requests[0].json()["blocks"]
    assert len(blocks[0]["text"]["text"]) == 3000
    assert len(blocks[1]["text"]["text"].splitlines()) == 5


def test_a_resolved_alert_reaches_slack_without_a_findings_section(vendors: Vendors) -> None:
    alert = an_alert(Severity.OK, previous=Severity.CRITICAL, summary="all 4 checks ok")

    assert make_channel(settings(vendors, "slack")).send(alert).ok
    [section] = vendors.requests[0].json()["blocks"]
    assert section["text"]["text"].startswith("[rota] RESOLVED db.vacuum on production")


@pytest.mark.parametrize(
    ("current", "severity"),
    [(Severity.CRITICAL, "critical"), (Severity.UNKNOWN, "error"), (Severity.WARNING, "warning")],
)
def test_pagerduty_gets_a_trigger_event_with_the_documented_fields(
    vendors: Vendors, current: Severity, severity: str
) -> None:
    alert = an_alert(current)
    channel = make_channel(settings(vendors, "pagerduty"))

    delivery = channel.send(alert)

    assert delivery == Delivery(True, "HTTP 202", 202)
    [req] = vendors.requests
    assert req.path == "/pagerduty/v2/enqueue"
    assert req.headers["content-type"] == "application/json"
    event = req.json()
    assert event["routing_key"] == ROUTING_KEY
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == "rota/production/db.vacuum"
    payload = event["payload"]
    assert payload["summary"] == alert.headline()
    assert payload["source"] == "production"
    assert payload["severity"] == severity
    assert payload["component"] == "db.vacuum"
    assert payload["class"] == "Vacuum and analyze"
    assert payload["timestamp"] == "2024-05-01T03:00:00+00:00"
    assert payload["custom_details"] == {"findings": FINDINGS, "previous": "ok", "run_id": 17}


def test_a_resolve_goes_to_pagerduty_with_the_dedup_key_of_its_trigger(vendors: Vendors) -> None:
    channel = make_channel(settings(vendors, "pagerduty"))

    trigger = channel.send(an_alert())
    resolve = channel.send(an_alert(Severity.OK, previous=Severity.CRITICAL))

    assert trigger.ok and resolve.ok
    first, second = (r.json() for r in vendors.requests)
    assert second == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": first["dedup_key"],
    }
    assert first["event_action"] == "trigger"


def test_pagerduty_through_a_proxy_answering_200_success_is_delivered(vendors: Vendors) -> None:
    vendors.pagerduty_status = 200

    delivery = make_channel(settings(vendors, "pagerduty")).send(an_alert())

    assert delivery == Delivery(True, "HTTP 200", 200)


def test_a_long_summary_is_cut_to_pagerdutys_1024_characters(vendors: Vendors) -> None:
    delivery = make_channel(settings(vendors, "pagerduty")).send(an_alert(summary="y" * 2000))

    assert delivery.ok, delivery.detail
    assert len(vendors.requests[0].json()["payload"]["summary"]) == 1024


def test_sendgrid_mails_every_recipient_with_bearer_auth_and_a_plain_text_body(
    vendors: Vendors,
) -> None:
    alert = an_alert()
    channel = make_channel(settings(vendors, "sendgrid"))
    assert isinstance(channel, SendGrid)

    delivery = channel.send(alert)

    assert delivery == Delivery(True, "HTTP 202", 202)
    [req] = vendors.requests
    assert req.path == "/sendgrid/v3/mail/send"
    assert req.headers["authorization"] == f"Bearer {SENDGRID_KEY}"
    assert req.headers["content-type"] == "application/json"
    mail = req.json()
    assert mail["personalizations"] == [
        {"to": [{"email": "oncall@example.com"}, {"email": "dba@example.com"}]}
    ]
    assert mail["from"] == {"email": "rota@example.com"}
    assert mail["subject"] == alert.headline()
    [content] = mail["content"]
    assert content["type"] == "text/plain"
    lines = content["value"].splitlines()
    assert lines[0] == alert.headline()
    assert "- critical db.bloat.table: messages is 42% dead tuples (public.messages)" in lines
    assert lines[-1] == "run 17, 2024-05-01T03:00:00+00:00"


def test_a_sendgrid_subject_is_cut_to_200_characters(vendors: Vendors) -> None:
    assert make_channel(settings(vendors, "sendgrid")).send(an_alert(summary="z" * 500)).ok
    assert len(vendors.requests[0].json()["subject"]) == 200


def test_the_vendor_urls_default_to_the_documented_endpoints() -> None:
    pd = make_channel(AlertChannelConfig(name="pd", type="pagerduty", routing_key=ROUTING_KEY))
    sg = make_channel(
        AlertChannelConfig(
            name="sg", type="sendgrid", api_key="k" * 20, to=["a@b.c"], sender="r@b.c"
        )
    )
    assert isinstance(pd, PagerDuty) and pd.url == "https://events.pagerduty.com/v2/enqueue"
    assert isinstance(sg, SendGrid) and sg.url == "https://api.sendgrid.com/v3/mail/send"


# Vendor error answers become failed Deliveries with the vendor's reason.


def test_slack_refusing_a_payload_fails_with_slacks_reason(vendors: Vendors) -> None:
    vendors.slack_fault = "invalid_payload"

    delivery = make_channel(settings(vendors, "slack")).send(an_alert())

    assert delivery == Delivery(False, "HTTP 400: invalid_payload", 400)


def test_a_removed_slack_webhook_fails_with_no_service(vendors: Vendors) -> None:
    cfg = settings(vendors, "slack", url=vendors.url + "/slack/services/T0/B0/revokedSECRET")

    delivery = make_channel(cfg).send(an_alert())

    assert delivery == Delivery(False, "HTTP 404: no_service", 404)


def test_pagerduty_invalid_event_fails_with_its_message_and_errors(vendors: Vendors) -> None:
    cfg = settings(vendors, "pagerduty", routing_key="SECRETshort")

    delivery = make_channel(cfg).send(an_alert())

    assert delivery == Delivery(
        False,
        "HTTP 400: Event object is invalid: "
        "Length of 'routing_key' is incorrect (should be 32 characters)",
        400,
    )


def test_pagerduty_rate_limiting_is_a_failed_delivery(vendors: Vendors) -> None:
    vendors.pagerduty_rate_limited = True

    delivery = make_channel(settings(vendors, "pagerduty")).send(an_alert())

    assert delivery == Delivery(False, "HTTP 429: Too Many Requests", 429)


def test_sendgrid_refusing_the_key_fails_with_its_first_error_message(vendors: Vendors) -> None:
    cfg = settings(vendors, "sendgrid", api_key="SG.SECRETrevokedKEY000000.SECRETrevoked00000000")

    delivery = make_channel(cfg).send(an_alert())

    assert delivery == Delivery(False, f"HTTP 401: {SENDGRID_AUTH_ERROR}", 401)


def test_a_sendgrid_bad_request_names_the_first_problem(vendors: Vendors) -> None:
    cfg = settings(vendors, "sendgrid", sender="not-an-address")

    delivery = make_channel(cfg).send(an_alert())

    assert not delivery.ok and delivery.status_code == 400
    assert delivery.detail == "HTTP 400: The from object must be provided for every email send."


def test_a_webhook_answering_an_error_fails_with_the_body_as_reason(vendors: Vendors) -> None:
    vendors.hook_status = 500

    delivery = make_channel(settings(vendors, "webhook")).send(an_alert())

    assert delivery == Delivery(False, 'HTTP 500: {"received": true}', 500)


def test_a_webhook_redirect_is_not_followed_and_is_a_failure(vendors: Vendors) -> None:
    vendors.hook_status = 302
    vendors.hook_location = vendors.url + "/elsewhere"

    delivery = make_channel(settings(vendors, "webhook")).send(an_alert())

    assert not delivery.ok and delivery.status_code == 302
    assert [r.path.split("?")[0] for r in vendors.requests] == [HOOK_PATH]


# Unreachable and silent channels: failed Deliveries naming host:port only, no exception.

TYPES = ["webhook", "slack", "pagerduty", "sendgrid"]


@pytest.mark.parametrize("type", TYPES)
def test_an_unreachable_channel_is_a_failed_delivery_naming_host_and_port_only(
    vendors: Vendors, closed_port: int, type: str
) -> None:
    cfg = settings(vendors, type)
    cfg = moved(cfg, vendors.host, f"127.0.0.1:{closed_port}")

    delivery = make_channel(cfg).send(an_alert())

    assert delivery.ok is False and delivery.status_code is None
    assert delivery.detail.startswith(f"cannot reach 127.0.0.1:{closed_port}: ")
    assert "refused" in delivery.detail.lower()
    assert "/" not in delivery.detail.removeprefix("cannot reach ")
    assert_no_secret(delivery)


@pytest.mark.parametrize("type", TYPES)
def test_a_channel_that_never_answers_times_out_as_a_failed_delivery(
    vendors: Vendors, silent_port: int, type: str
) -> None:
    cfg = settings(vendors, type, timeout=0.5)
    cfg = moved(cfg, vendors.host, f"127.0.0.1:{silent_port}")

    delivery = make_channel(cfg).send(an_alert())

    assert delivery == Delivery(
        False, f"cannot reach 127.0.0.1:{silent_port}: timed out after 0.5 s"
    )


# No secret in any Delivery detail.


def test_no_secret_appears_in_any_delivery_detail(vendors: Vendors) -> None:
    details = []
    for type in TYPES:
        details.append(make_channel(settings(vendors, type)).send(an_alert()))
    vendors.hook_status = 404  # the local webhook echoes the URL it was sent to
    vendors.slack_fault = "invalid_payload"
    vendors.pagerduty_rate_limited = True
    for type in TYPES[:3]:
        details.append(make_channel(settings(vendors, type)).send(an_alert()))
    bad_key = settings(vendors, "sendgrid", api_key="SG.SECRETwrongKEY0000000.SECRETwrong000000000")
    details.append(make_channel(bad_key).send(an_alert()))

    assert [d.ok for d in details] == [True] * 4 + [False] * 4
    assert details[4].detail == "HTTP 404: no route for POST ***"
    for delivery in details:
        assert_no_secret(delivery)


def test_settings_and_channels_never_show_their_secrets_in_repr(vendors: Vendors) -> None:
    for type in TYPES:
        cfg = settings(vendors, type)
        channel = make_channel(cfg)
        for text in (repr(cfg), repr(channel), str(cfg)):
            for secret in SECRETS:
                assert secret not in text, text
        assert vendors.host in repr(channel)


# make_channel rejects incomplete settings with one clear message.

C = AlertChannelConfig


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        (C(name="ops", type="webhook"), "ops: a webhook channel needs url"),
        (C(name="chat", type="slack"), "chat: a slack channel needs url"),
        (
            C(name="pd", type="pagerduty", url="http://127.0.0.1:9/x"),
            "pd: a pagerduty channel needs routing_key",
        ),
        (
            C(name="mail", type="sendgrid", api_key=SENDGRID_KEY),
            "mail: a sendgrid channel needs to and sender",
        ),
        (
            C(name="mail", type="sendgrid", to=["a@b.c"], sender="r@b.c"),
            "mail: a sendgrid channel needs api_key",
        ),
        (
            C(name="x", type="teams", url="https://example.com"),
            "x: unknown channel type 'teams' (expected one of webhook, slack, pagerduty, sendgrid)",
        ),
        (
            C(name="chat", type="slack", url="hooks.slack.com" + SLACK_PATH),
            "chat: url must be an http:// or https:// URL with a host",
        ),
        (
            C(name="chat", type="slack", url="https://hooks.slack.com:port" + SLACK_PATH),
            "chat: url must be an http:// or https:// URL with a host",
        ),
        (
            C(name="pd", type="pagerduty", routing_key=ROUTING_KEY + "\n"),
            "pd: routing_key must be printable ASCII without spaces",
        ),
        (
            C(name="ops", type="webhook", url="https://example.com", timeout=0),
            "ops: timeout must be positive",
        ),
    ],
)
def test_make_channel_rejects_incomplete_settings_with_one_clear_message(
    cfg: AlertChannelConfig, message: str
) -> None:
    with pytest.raises(ValueError) as excinfo:
        make_channel(cfg)

    assert str(excinfo.value) == message
    for secret in SECRETS:
        assert secret not in str(excinfo.value)


def test_make_channel_builds_one_transport_per_type(vendors: Vendors) -> None:
    kinds = {t: type(make_channel(settings(vendors, t))) for t in TYPES}
    assert kinds == {
        "webhook": Webhook,
        "slack": Slack,
        "pagerduty": PagerDuty,
        "sendgrid": SendGrid,
    }
    assert make_channel(settings(vendors, "slack")).name == "team-slack"
