"""Alert transports: one class per channel type, each sending an :class:`Alert` its way.

Every transport posts JSON over httpx (a client per send, the channel's timeout, no
redirects, ``User-Agent: rota/<version>``) and turns whatever happens into a
:class:`Delivery`: ``HTTP 202`` when the vendor took it, ``HTTP 400: <the vendor's
reason>`` when it refused, ``cannot reach <host>: <reason>`` when it could not be
reached. ``send`` never raises for network or HTTP trouble, so one dead channel cannot
break a run. Secrets (the webhook URL's path and query, which *is* the credential for
Slack; routing keys; API keys) never appear in a Delivery or an exception: details name
only the URL's host[:port], and every reason is scrubbed of the channel's secrets.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from rota.alerts import Alert, Delivery
from rota.config import AlertChannelConfig
from rota.errors import RotaError
from rota.model import Severity
from rota.redact import Redactor
from rota.text import one_line

if TYPE_CHECKING:
    from rota.registry import Registry

__all__ = [
    "BUILTIN",
    "Channel",
    "PagerDuty",
    "SendGrid",
    "Slack",
    "Webhook",
    "builtin_type",
    "check_channel_type",
    "make_channel",
    "register",
]

MAX_REASON = 200


def reveal(value: SecretStr | None) -> str | None:
    """A configured secret's text, for the one place that sends it."""
    return None if value is None else value.get_secret_value()


def user_agent() -> str:
    import rota

    version = getattr(rota, "__version__", None)
    return f"rota/{version}" if version else "rota"


def host_of(url: str) -> str:
    """``host[:port]`` of ``url``: never its userinfo, path or query, which may be secrets."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # a port that is not a number
        return "the configured URL"
    if not host:
        return "the configured URL"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{host}:{port}" if port is not None else host


class Channel:
    """Base of the transports: a named channel that turns an alert into a Delivery.

    Subclasses build the request (:meth:`payload`, :meth:`headers`) and judge the answer
    (:meth:`succeeded`, :meth:`reason`); the base sends it and maps failures to Deliveries.
    A channel type is registered by its class (``registry.add(MyChannel)`` from an entry
    point in the ``rota.channels`` group); ``type`` is its name in ``[[alerts.channels]]``,
    ``required`` the settings it cannot work without, and :meth:`check` (run at start-up
    for every configured channel) what else it refuses.
    """

    type: ClassVar[str] = ""
    required: ClassVar[tuple[str, ...]] = ()
    default_url: ClassVar[str | None] = None
    name: str  # the channel's name from config, shown with every delivery

    def __init__(self, settings: AlertChannelConfig) -> None:
        problems = self.check(settings)
        if problems:
            raise ValueError(f"{settings.name}: {problems[0]}")
        self.settings = settings
        self.name = settings.name
        self.url = reveal(settings.url) or self.default_url or ""
        self._redactor = Redactor(self._secrets())

    @classmethod
    def check(cls, settings: AlertChannelConfig) -> list[str]:
        """What keeps ``settings`` from working with this type, naming keys but never a
        secret's value (empty: nothing)."""
        problems = []
        missing = [k for k in cls.required if not getattr(settings, k)]
        if not settings.url and not cls.default_url and "url" not in missing:
            missing.insert(0, "url")
        if missing:
            problems.append(f"a {cls.type} channel needs {' and '.join(missing)}")
        url = reveal(settings.url)
        if url:
            try:
                parts = urlsplit(url)
                _ = parts.port  # raises on a port that is not a number
            except ValueError:
                parts = None
            # The URL itself stays out of the message: its path may be the secret.
            if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
                problems.append("url must be an http:// or https:// URL with a host")
        for key in ("routing_key", "api_key"):
            value = reveal(getattr(settings, key))
            # It goes into a JSON body or a header: a stray newline or space is a paste error.
            if value is not None and not (
                value.isascii() and value.isprintable() and " " not in value
            ):
                problems.append(f"{key} must be printable ASCII without spaces")
        if settings.timeout <= 0:
            problems.append("timeout must be positive")
        return problems

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} to {host_of(self.url)}>"

    def _secrets(self) -> list[str]:
        s = self.settings
        secrets = [x for x in (reveal(s.routing_key), reveal(s.api_key)) if x]
        for url in (reveal(s.url), self.url):
            if not url:
                continue
            secrets.append(url)
            try:
                parts = urlsplit(url)
            except ValueError:
                continue
            # The path of a webhook URL is its credential (Slack's /services/T…/B…/token).
            if parts.path.strip("/"):
                secrets.append(parts.path)
            if parts.query:
                secrets += [parts.query, f"{parts.path}?{parts.query}"]
            # Credentials in the authority (https://token@host, user:password@host).
            secrets += [x for x in (parts.username, parts.password) if x]
        return secrets

    def scrub(self, text: str) -> str:
        """``text`` without any of this channel's secrets."""
        return self._redactor.text(text)

    # What subclasses define.
    def payload(self, alert: Alert) -> dict[str, Any]:
        raise NotImplementedError

    def headers(self) -> dict[str, str]:
        return {}

    def succeeded(self, response: httpx.Response) -> bool:
        return response.is_success

    def reason(self, response: httpx.Response) -> str:
        """Why the vendor refused, from its answer's body."""
        return response.text

    # The sending, shared.
    def send(self, alert: Alert) -> Delivery:
        """POST the alert's payload; every outcome, good or bad, is a Delivery."""
        headers = {"User-Agent": user_agent(), **self.headers()}
        try:
            body = json.dumps(self.payload(alert), default=str).encode()
            with httpx.Client(timeout=self.settings.timeout, follow_redirects=False) as client:
                response = client.post(
                    self.url,
                    content=body,
                    headers={**headers, "Content-Type": "application/json"},
                )
        except httpx.TimeoutException:
            return self._unreachable(f"timed out after {self.settings.timeout:g} s")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return self._unreachable(_network_reason(exc))
        code = response.status_code
        if self.succeeded(response):
            return Delivery(True, f"HTTP {code}", code)
        try:
            why = self.reason(response)
        except ValueError:  # a body that is not the JSON the vendor documents
            why = response.text
        why = one_line(self.scrub(why or response.reason_phrase or "no reason given"), MAX_REASON)
        return Delivery(False, f"HTTP {code}: {why}", code)

    def _unreachable(self, reason: str) -> Delivery:
        return Delivery(
            False, f"cannot reach {host_of(self.url)}: {one_line(self.scrub(reason), MAX_REASON)}"
        )


def _network_reason(exc: Exception) -> str:
    text = str(exc).strip()
    # "[Errno 111] Connection refused" reads better as "connection refused".
    if text.startswith("[Errno") and "]" in text:
        text = text.split("]", 1)[1].strip()
        text = text[:1].lower() + text[1:]
    return text or type(exc).__name__


class Webhook(Channel):
    """Generic webhook: POST ``url`` with the alert as JSON (:meth:`Alert.to_dict`).

    Any 2xx answer is a delivery; anything else fails with the answer's body (or its
    status phrase) as the reason. Redirects are not followed: a 3xx is a failure, so a
    moved endpoint is noticed rather than silently re-posted. The URL's path and query
    may hold a token and are never shown; failures name its host[:port] only.
    """

    type = "webhook"

    def payload(self, alert: Alert) -> dict[str, Any]:
        return alert.to_dict()


def _cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (newlines kept, unlike :func:`short`)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str) -> str:
    # Slack's only required escapes: these three would otherwise start links and mentions.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Slack(Channel):
    """Slack incoming webhook: POST ``url`` with ``{"text": headline, "blocks": [...]}``.

    ``text`` is the headline (notifications and clients without blocks show it); the
    blocks are a section with the headline in mrkdwn, then, when the alert carries
    findings, a section listing up to five of them. Slack answers 200 with the body
    ``ok``; anything else fails with Slack's body as the reason (``invalid_payload``,
    ``no_service``, ``channel_is_archived``...). The webhook URL's path is the credential:
    it never appears in a Delivery, which names only the host.
    """

    type = "slack"
    MAX_FINDINGS = 5
    MAX_SECTION = 3000  # Slack refuses a section text over 3000 characters: invalid_blocks

    def payload(self, alert: Alert) -> dict[str, Any]:
        blocks: list[dict[str, Any]] = [self._section(alert.headline())]
        lines = []
        for f in alert.findings[: self.MAX_FINDINGS]:
            subject = f" ({f['subject']})" if f.get("subject") else ""
            lines.append(
                f"• *{f.get('severity', '')}* `{f.get('code', '')}` {f.get('message', '')}{subject}"
            )
        if lines:
            blocks.append(self._section("\n".join(lines)))
        return {"text": _mrkdwn(alert.headline()), "blocks": blocks}

    def _section(self, text: str) -> dict[str, Any]:
        return {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _cut(_mrkdwn(text), self.MAX_SECTION)},
        }

    def succeeded(self, response: httpx.Response) -> bool:
        return response.status_code == 200 and response.text.strip() == "ok"


PAGERDUTY_SEVERITY = {
    Severity.CRITICAL: "critical",
    Severity.UNKNOWN: "error",
    Severity.WARNING: "warning",
}


class PagerDuty(Channel):
    """PagerDuty Events API v2: trigger an incident on a problem, resolve it when ok again.

    POSTs to ``url`` (default ``https://events.pagerduty.com/v2/enqueue``; set it for a
    proxy). A failing alert is ``event_action: trigger`` with the payload PagerDuty
    documents (summary = headline, at most 1024 characters; source = target; severity
    critical/error/warning from critical/unknown/warning; component = task id; class =
    task title; custom_details = findings, previous state, run id); a resolved one is
    ``event_action: resolve``. Both carry the alert's ``dedup_key``
    (``rota/<target>/<task>``), so the resolve closes the incident the trigger opened and
    repeated triggers add to it. PagerDuty answers 202 ``{"status": "success"}``; other 2xx
    answers count when their status is ``success``. A 400 ``invalid event`` fails with its
    message and errors; a 429 means rate limited. The routing key is never shown.
    """

    type = "pagerduty"
    required = ("routing_key",)
    default_url = "https://events.pagerduty.com/v2/enqueue"
    MAX_SUMMARY = 1024

    def __init__(self, settings: AlertChannelConfig) -> None:
        super().__init__(settings)
        self.routing_key = reveal(settings.routing_key) or ""

    def payload(self, alert: Alert) -> dict[str, Any]:
        if alert.resolved:
            return {
                "routing_key": self.routing_key,
                "event_action": "resolve",
                "dedup_key": alert.dedup_key,
            }
        return {
            "routing_key": self.routing_key,
            "event_action": "trigger",
            "dedup_key": alert.dedup_key,
            "payload": {
                "summary": alert.headline()[: self.MAX_SUMMARY],
                "source": alert.target,
                "severity": PAGERDUTY_SEVERITY.get(alert.current, "error"),
                "timestamp": alert.at.isoformat(),
                "component": alert.task_id,
                "class": alert.title,
                "custom_details": {
                    "findings": alert.findings,
                    "previous": alert.previous.value if alert.previous is not None else None,
                    "run_id": alert.run_id,
                },
            },
        }

    def succeeded(self, response: httpx.Response) -> bool:
        if response.status_code == 202:
            return True
        if not response.is_success:
            return False
        try:
            body = response.json()
        except ValueError:
            return False
        return isinstance(body, dict) and body.get("status") == "success"

    def reason(self, response: httpx.Response) -> str:
        body = response.json()
        if not isinstance(body, dict):
            return response.text
        why = str(body.get("message") or body.get("status") or "")
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            listed = "; ".join(str(e) for e in errors)
            why = f"{why}: {listed}" if why else listed
        return why or response.text


class SendGrid(Channel):
    """SendGrid v3 mail send: an email per alert to the channel's ``to`` addresses.

    POSTs to ``url`` (default ``https://api.sendgrid.com/v3/mail/send``) with
    ``Authorization: Bearer <api_key>``: one personalization listing every recipient,
    ``from`` the channel's sender, subject = headline (at most 200 characters), and a
    plain-text body (headline, one line per finding, then the run id and time). SendGrid
    answers 202 with an empty body; a failure's body is ``{"errors": [{"message": ...}]}``
    and the first message is the Delivery's reason. The API key is never shown.
    """

    type = "sendgrid"
    required = ("api_key", "to", "sender")
    default_url = "https://api.sendgrid.com/v3/mail/send"
    MAX_SUBJECT = 200

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {reveal(self.settings.api_key)}"}

    def payload(self, alert: Alert) -> dict[str, Any]:
        return {
            "personalizations": [{"to": [{"email": x} for x in self.settings.to]}],
            "from": {"email": self.settings.sender},
            "subject": alert.headline()[: self.MAX_SUBJECT],
            "content": [{"type": "text/plain", "value": self.text(alert)}],
        }

    @staticmethod
    def text(alert: Alert) -> str:
        lines = [alert.headline(), ""]
        for f in alert.findings:
            subject = f" ({f['subject']})" if f.get("subject") else ""
            lines.append(
                f"- {f.get('severity', '')} {f.get('code', '')}: {f.get('message', '')}{subject}"
            )
        run = f"run {alert.run_id}, " if alert.run_id is not None else ""
        lines += ["", f"{run}{alert.at.isoformat()}"]
        return "\n".join(lines) + "\n"

    def succeeded(self, response: httpx.Response) -> bool:
        return response.status_code == 202

    def reason(self, response: httpx.Response) -> str:
        body = response.json()
        errors = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message") or response.text)
        return response.text


BUILTIN: tuple[type[Channel], ...] = (Webhook, Slack, PagerDuty, SendGrid)


def check_channel_type(cls: type) -> list[str]:
    """Every problem with a registered channel class (empty when it is well-formed)."""
    if not (isinstance(cls, type) and issubclass(cls, Channel)) or cls is Channel:
        return [f"{cls!r} is not a subclass of rota.alerts.channels.Channel"]
    problems = []
    if not cls.type or not cls.type.isidentifier() or not cls.type.islower():
        problems.append("type must be one lower-case word, like 'webhook'")
    if cls.payload is Channel.payload:
        problems.append("payload(alert) is not defined")
    unknown = [k for k in cls.required if k not in AlertChannelConfig.model_fields]
    if unknown:
        problems.append(f"required names unknown settings: {', '.join(unknown)}")
    return problems


def builtin_type(name: str) -> type[Channel]:
    """rota's own channel class for ``name`` (an app's registry also holds plugins')."""
    for cls in BUILTIN:
        if cls.type == name:
            return cls
    raise ValueError(
        f"unknown channel type {name!r} (expected one of {', '.join(c.type for c in BUILTIN)})"
    )


def make_channel(
    settings: AlertChannelConfig, types: Callable[[str], type[Channel]] = builtin_type
) -> Channel:
    """The transport for ``settings``; ValueError("<name>: <what is wrong>") if it cannot work."""
    try:
        cls = types(settings.type)
    except (ValueError, RotaError) as exc:
        raise ValueError(f"{settings.name}: {exc}") from None
    return cls(settings)


def register(registry: Registry[type[Channel]]) -> None:
    """Entry point ``rota.channels: builtin``: rota's own channel types."""
    for cls in BUILTIN:
        registry.add(cls)
