"""A labelled corpus of log files for rota's log analyzer, made by the REAL loggers.

``generate(out_dir, seed, part)`` writes ``NAME.log`` + ``NAME.labels`` pairs (one truth label
per log line, in order) and a ``MANIFEST.json`` that says, for every file, which producer
wrote it, whether that producer really ran here (``"source": "real"``) or the lines were
written from the format's documentation (``"source": "documented"``), and the format name.

Real producers:
  * Node (``tests/loggers/emit.js``, run as a subprocess): pino, pino-http, winston, bunyan and
    morgan on a real express app that serves real HTTP requests on 127.0.0.1.
  * Python ``logging`` with three common formatters, ``structlog`` (JSON and console renderers).
  * syslog from util-linux ``logger`` sent over UDP to a receiver socket on 127.0.0.1.
Documented formats (producers that cannot be installed here): nginx and Apache error logs,
log4j and logback default patterns, Go's ``log``, klog, Kubernetes CRI, Android logcat
(threadtime) and the Windows CBS log.

Labels. An app-level line is labelled with the id of the event template it was rendered
from (``tests/loggers/templates.json``; nginx, Apache and CBS have their own native templates
below, ids prefixed ``nginx.``, ``apache.``, ``cbs.``). A request line (pino-http, morgan,
bunyan req/res) is labelled ``"<METHOD> <route template> <status class>"``, e.g.
``"GET /api/conversations/:id 2xx"`` (the rule is spelled out in ``emit.js``).

Hold-out. ``part="holdout"`` uses a disjoint set of event templates and routes (and another
seed): results on it say something about templates nothing was tuned on.

The holdout directory also gets a ``SPLIT`` file naming its logs (bench/grouping.py's marker).

Only messages, their order and labels follow the seed. Timestamps, pids and hostnames of real
producers are what those producers wrote; documented formats use a seeded clock.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LOGGERS_DIR = HERE / "loggers"
EMIT_JS = LOGGERS_DIR / "emit.js"
TEMPLATES_JSON = LOGGERS_DIR / "templates.json"
PARTS = ("tune", "holdout")
HOLDOUT_SEED_OFFSET = 1_000_003

# What one file of each kind holds (app-level events; Node sizes are set in emit.js).
PY_EVENTS = 400
DOC_EVENTS = 300
SYSLOG_EVENTS = 250

LABEL_RULE = (
    "An app-level line is labelled with the id of the event template it was rendered from. "
    "A request line (pino-http, morgan, bunyan req/res) is labelled '<METHOD> <route template> "
    "<status class>', e.g. 'GET /api/conversations/:id 2xx': the route template is the pattern "
    "the request URL was generated from (query string left out), the status class that of the "
    "status the server really sent."
)
PLACEHOLDER = re.compile(r"\{([a-z]+)(\d*)\}")


class NodeLoggersUnavailable(RuntimeError):
    """The Node loggers are not installed (``npm ci`` in tests/loggers) or ``node`` is missing."""


def running_under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def load_templates(part: str) -> dict[str, Any]:
    """The app-level event templates and request routes of one part (tune or holdout)."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, not {part!r}")
    spec: dict[str, Any] = json.loads(TEMPLATES_JSON.read_text())[part]
    return spec


# ------------------------------------------------------------------------------------------
# Variables: the same kinds as emit.js (kind = placeholder name without trailing digits).

NAMES = [
    "alice", "bob", "jdoe", "maria.garcia", "kwame_n", "li.wei", "sven", "priya92",
    "tomasz.k", "oconnor", "admin", "nadia-h", "yuki", "rahul.s", "emma",
]  # fmt: skip
DOMAINS = ["example.com", "mail.example.org", "acme.io", "gmail.com", "corp.example.net"]
HOST_PREFIX = ["db", "cache", "api", "worker", "redis", "pg-replica", "search", "queue"]
JOBS = ["nightly-report", "invoice-sync", "cleanup", "reindex-search", "send-digest", "export"]
DIRS = [
    "/var/data/uploads/2026/12", "/etc/app", "/srv/app/releases/current/config", "/tmp/imports",
    "/home/deploy/shared/files", "/mnt/media/originals",
]  # fmt: skip
EXTS = ["png", "jpg", "pdf", "csv", "yaml", "json", "tar.gz"]
ERRMSGS = [
    "Cannot read properties of undefined (reading 'id')", "ECONNRESET",
    "connect ECONNREFUSED 10.0.4.12:5432", "deadlock detected",
    "invalid input syntax for type uuid", "Request failed with status code 502", "out of memory",
    "socket hang up", "permission denied for table payments",
    "JSON.parse: unexpected end of data",
]  # fmt: skip
HANDLERS = [
    "getConversation", "postMessage", "updateProfile", "listMessages", "deleteSession",
    "GET /api/users/:id", "POST /api/payments",
]  # fmt: skip


def make_filler(rnd: random.Random) -> Callable[[str], tuple[str, dict[str, str]]]:
    """A function that fills a template: returns the text and the values by placeholder."""

    def hexs(n: int) -> str:
        return "".join(rnd.choice("0123456789abcdef") for _ in range(n))

    def host() -> str:
        if rnd.random() < 0.2:
            return f"ip-10-0-{rnd.randint(0, 9)}-{rnd.randint(1, 254)}.ec2.internal"
        return f"{rnd.choice(HOST_PREFIX)}-{rnd.randint(1, 12)}.internal"

    def date() -> str:
        return f"2026-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"

    def name() -> str:
        return rnd.choice(NAMES)

    def uuid() -> str:
        return f"{hexs(8)}-{hexs(4)}-4{hexs(3)}-{rnd.choice('89ab')}{hexs(3)}-{hexs(12)}"

    def ip() -> str:
        a = rnd.choice([10, 172, 192, 81, 203, 45])
        return f"{a}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"

    def path() -> str:
        return f"{rnd.choice(DIRS)}/{hexs(rnd.randint(6, 12))}.{rnd.choice(EXTS)}"

    def upath() -> str:
        return rnd.choice(
            [
                f"/api/conversations/{rnd.randint(1, 99999)}",
                f"/api/users/{uuid()}/messages?limit=20",
                "/favicon.ico",
                f"/static/js/main.{hexs(8)}.js",
                f"/uploads/{hexs(10)}.png",
                "/api/health",
            ]
        )

    gen: dict[str, Callable[[], str]] = {
        "name": name,
        "ip": ip,
        "uuid": uuid,
        "ms": lambda: str(rnd.randint(1, 30000)),
        "s": lambda: f"{rnd.random() * 600:.{rnd.choice([1, 2, 3])}f}",
        "id": lambda: str(rnd.randint(1, 9999999)),
        "n": lambda: str(rnd.randint(1, 500)),
        "email": lambda: (
            f"{name()}{rnd.randint(1, 99) if rnd.random() < 0.3 else ''}@{rnd.choice(DOMAINS)}"
        ),
        "host": host,
        "port": lambda: str(
            rnd.choice([5432, 6379, 8080, 443, 9092, 27017])
            if rnd.random() < 0.6
            else rnd.randint(1024, 65535)
        ),
        "job": lambda: rnd.choice(JOBS),
        "path": path,
        "bytes": lambda: str(rnd.randint(100, 50_000_000)),
        "queue": lambda: rnd.choice(["emails", "billing-events", "webhooks", "default"]),
        "table": lambda: rnd.choice(["users", "messages", "conversations", "payments"]),
        "mount": lambda: rnd.choice(["/", "/var", "/data", "/var/lib/postgresql"]),
        "pct": lambda: str(rnd.randint(70, 99)),
        "iso": lambda: (
            f"{date()}T{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d}Z"
        ),
        "flag": lambda: rnd.choice(["new-editor", "dark-mode", "beta_search", "checkout_v2"]),
        "bool": lambda: rnd.choice(["true", "false"]),
        "handler": lambda: rnd.choice(HANDLERS),
        "errmsg": lambda: rnd.choice(ERRMSGS),
        "worker": lambda: (
            rnd.choice(["worker-", "celery@", "w-", "sidekiq-"])
            + (str(rnd.randint(1, 16)) if rnd.random() < 0.5 else host())
        ),
        "amount": lambda: f"{rnd.random() * 900 + 1:.2f}",
        "db": lambda: rnd.choice(["app_production", "analytics", "billing", "auth"]),
        "domain": lambda: rnd.choice(
            ["api.example.com", "www.acme.io", "status.example.org", "mail.corp.example.net"]
        ),
        "url": lambda: (
            f"https://{rnd.choice(['hooks.example.com', 'partner.acme.io', 'ci.example.org'])}"
            f"/{rnd.choice(['webhook', 'events', 'hooks/in'])}/{hexs(8)}"
        ),
        "status": lambda: str(rnd.choice([200, 201, 400, 404, 500, 502, 503])),
        "resource": lambda: (
            f"{rnd.choice(['invoice', 'report', 'tenant', 'export'])}:{rnd.randint(1, 99999)}"
        ),
        "role": lambda: rnd.choice(["admin", "editor", "viewer", "owner", "billing-manager"]),
        "team": lambda: rnd.choice(["growth", "core-platform", "billing", "mobile", "data eng"]),
        "hex": lambda: hexs(32),
        "date": date,
        "group": lambda: rnd.choice(["orders-consumer", "analytics-ingest", "mailer"]),
        "w": lambda: str(rnd.choice([64, 128, 256, 512, 1024])),
        "h": lambda: str(rnd.choice([64, 128, 256, 512, 768])),
        # native templates of the documented formats
        "cid": lambda: str(rnd.randint(1, 900000)),
        "docpath": lambda: (
            rnd.choice(["/usr/share/nginx/html", "/var/www/html", "/srv/www"])
            + rnd.choice(
                ["/favicon.ico", "/robots.txt", "/.env", f"/img/{hexs(6)}.png", "/wp-login.php"]
            )
        ),
        "server": lambda: rnd.choice(["_", "example.com", "api.example.com", "localhost"]),
        "upath": upath,
        "method": lambda: rnd.choice(["GET", "GET", "GET", "POST", "PUT"]),
        "excess": lambda: f"{rnd.randint(0, 20)}.{rnd.randint(0, 999):03d}",
        "zone": lambda: rnd.choice(["api", "login", "perip"]),
        "pid": lambda: str(rnd.randint(30, 40000)),
        "func": lambda: rnd.choice(["mysql_connect", "each", "create_function", "wp_get_theme"]),
        "build": lambda: f"{rnd.choice([19041, 20348, 22621, 26100])}.{rnd.randint(1, 5000)}",
        "sessid": lambda: f"{rnd.randint(30000000, 31999999)}_{rnd.randint(10**9, 4 * 10**9)}",
        "kb": lambda: str(rnd.randint(5000000, 5059999)),
        "comp": lambda: rnd.choice(["Client-Features", "WinRE", "Hyper-V", "NetFx4"]),
        "wsx": lambda: hexs(16),
        "cport": lambda: str(rnd.randint(1024, 65535)),
    }

    def fill(text: str) -> tuple[str, dict[str, str]]:
        values: dict[str, str] = {}

        def one(m: re.Match[str]) -> str:
            if m.group(0) not in values:  # the same placeholder twice: the same value
                values[m.group(0)] = gen[m.group(1)]()
            return values[m.group(0)]

        out = PLACEHOLDER.sub(one, text)
        assert "\n" not in out
        return out, {k.strip("{}"): v for k, v in values.items()}

    return fill


def draw_events(spec: dict[str, Any], rnd: random.Random, n: int) -> list[dict[str, Any]]:
    """``n`` events drawn by weight: id, level, logger, the message and its variables."""
    events = spec["events"]
    fill = make_filler(rnd)
    picked = rnd.choices(events, weights=[e["weight"] for e in events], k=n)
    out = []
    for tpl in picked:
        msg, values = fill(tpl["text"])
        out.append({**tpl, "message": msg, "values": values})
    return out


# ------------------------------------------------------------------------------------------
# Writing pairs and the manifest


class CorpusWriter:
    def __init__(self, out_dir: Path, part: str, seed: int) -> None:
        self.out_dir = out_dir
        self.part = part
        self.seed = seed
        self.entries: list[dict[str, Any]] = []
        self.skipped: list[dict[str, str]] = []

    def add(self, name: str, lines: list[str], labels: list[str], **meta: Any) -> None:
        if len(lines) != len(labels):
            raise AssertionError(f"{name}: {len(lines)} lines, {len(labels)} labels")
        if any("\n" in line for line in lines):
            raise AssertionError(f"{name}: a line holds a newline")
        (self.out_dir / f"{name}.log").write_text("".join(f"{x}\n" for x in lines))
        self.record(name, labels, **meta)

    def record(self, name: str, labels: list[str], **meta: Any) -> None:
        """Writes the labels of a log file that a real producer wrote itself."""
        (self.out_dir / f"{name}.labels").write_text("".join(f"{x}\n" for x in labels))
        self.entries.append(
            {"file": f"{name}.log", "labels": f"{name}.labels", "lines": len(labels), **meta}
        )

    def finish(self, spec: dict[str, Any]) -> list[Path]:
        manifest = {
            "part": self.part,
            "seed": self.seed,
            "label_rule": LABEL_RULE,
            "event_templates": [e["id"] for e in spec["events"]],
            "routes": [f"{r['method']} {r['route']}" for r in spec["routes"]],
            "files": sorted(self.entries, key=lambda e: e["file"]),
            "skipped": self.skipped,
        }
        (self.out_dir / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if self.part == "holdout":  # bench/grouping.py's marker: these names are hold-out here
            names = "".join(f"{e['file'].removesuffix('.log')}\n" for e in manifest["files"])
            (self.out_dir / "SPLIT").write_text(f"# hold-out part of tests/corpus.py\n{names}")
        return [self.out_dir / e["file"] for e in manifest["files"]]


# ------------------------------------------------------------------------------------------
# Python logging (real), with private loggers: nothing touches the process's logging tree.

PY_FORMATS = [
    (
        "python-basic",
        logging.BASIC_FORMAT,  # what logging.basicConfig() uses: "%(levelname)s:%(name)s:%(message)s"
        "python-logging-basic",
        "logging.basicConfig() default format",
    ),
    (
        "python-dash",
        "%(asctime)s - %(name)s - %(levelname)s - %(message)s",
        "python-logging-dash",
        "the logging cookbook / tutorial format",
    ),
    (
        "python-bracket",
        "%(asctime)s %(levelname)-8s [%(name)s] %(message)s",
        "python-logging-bracket",
        "asctime, padded levelname, [logger name]",
    ),
]
PY_LEVEL = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}


def python_logging(w: CorpusWriter, spec: dict[str, Any], rnd: random.Random) -> None:
    for name, fmt, fmt_name, description in PY_FORMATS:
        root = logging.RootLogger(logging.DEBUG)
        manager = logging.Manager(root)
        handler = logging.FileHandler(w.out_dir / f"{name}.log", mode="w", encoding="utf-8")
        handler.setFormatter(logging.Formatter(fmt))
        root.addHandler(handler)
        labels = []
        try:
            for ev in draw_events(spec, rnd, PY_EVENTS):
                manager.getLogger(ev["logger"]).log(PY_LEVEL[ev["level"]], "%s", ev["message"])
                labels.append(ev["id"])
        finally:
            handler.close()
        w.record(
            name,
            labels,
            producer=f"python logging {'.'.join(map(str, sys.version_info[:3]))}",
            source="real",
            format=fmt_name,
            description=f"{description}: {fmt!r}",
        )


def python_structlog(w: CorpusWriter, spec: dict[str, Any], rnd: random.Random) -> None:
    import structlog

    variants = [
        (
            "structlog-json",
            structlog.processors.JSONRenderer(),
            "structlog-json",
            "add_log_level, TimeStamper(fmt='iso'), JSONRenderer(); the event is the rendered "
            "message (f-string style), with bound context keys on some lines",
            False,
        ),
        (
            "structlog-console",
            structlog.dev.ConsoleRenderer(colors=False),
            "structlog-console",
            "add_log_level, TimeStamper(fmt='iso'), ConsoleRenderer(colors=False); idiomatic "
            "key-value style: the event is a constant event name, the variables are key=value",
            True,
        ),
    ]
    for name, renderer, fmt_name, description, kv_style in variants:
        labels = []
        with open(w.out_dir / f"{name}.log", "w", encoding="utf-8") as f:
            log = structlog.wrap_logger(
                structlog.PrintLogger(file=f),
                processors=[
                    structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso"),
                    renderer,
                ],
                wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
            )
            for ev in draw_events(spec, rnd, PY_EVENTS):
                bound = log.bind(logger=ev["logger"])
                if rnd.random() < 0.3:
                    bound = bound.bind(request_id=make_filler(rnd)("{uuid}")[0])
                meth = getattr(bound, "warning" if ev["level"] == "warn" else ev["level"])
                if kv_style:
                    meth(ev["id"].replace("_", "."), **ev["values"])
                else:
                    meth(ev["message"])
                labels.append(ev["id"])
        w.record(
            name,
            labels,
            producer=f"structlog {structlog.__version__}",
            source="real",
            format=fmt_name,
            description=description,
        )


# ------------------------------------------------------------------------------------------
# syslog: util-linux logger(1) over UDP to a receiver on 127.0.0.1

SYSLOG_SEVERITY = {"debug": 7, "info": 6, "warn": 4, "error": 3}
LOCAL0 = 16


def syslog(w: CorpusWriter, spec: dict[str, Any], rnd: random.Random) -> None:
    logger_bin = shutil.which("logger")
    if logger_bin is None:
        if running_under_ci():
            raise RuntimeError("util-linux logger(1) is missing: .ci/run installs util-linux")
        w.skipped.append({"producer": "util-linux logger", "reason": "logger(1) not found"})
        warnings.warn("corpus: logger(1) not found, no syslog files", stacklevel=2)
        return
    version = subprocess.run([logger_bin, "--version"], capture_output=True, text=True).stdout
    events = draw_events(spec, rnd, SYSLOG_EVENTS)
    pids: dict[str, int] = {}
    for ev in events:  # one service (tag) per top-level logger name, with its own pid
        tag = ev["logger"].split(".")[0]
        ev["tag"] = tag
        ev["pid"] = pids.setdefault(tag, rnd.randint(300, 40000))
    wire: dict[str, list[str]] = {}
    for flag in ("--rfc3164", "--rfc5424"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(10)
            port = sock.getsockname()[1]
            received: list[bytes] = []
            errors: list[BaseException] = []

            def receive(
                sock: socket.socket = sock,
                received: list[bytes] = received,
                errors: list[BaseException] = errors,
            ) -> None:
                try:
                    while len(received) < len(events):
                        received.append(sock.recv(65535))
                except BaseException as e:
                    errors.append(e)

            thread = threading.Thread(target=receive, daemon=True)
            thread.start()
            i = 0
            while i < len(events):  # one logger(1) run per stretch of one service's messages
                j = i
                while j < len(events) and events[j]["tag"] == events[i]["tag"]:
                    j += 1
                stdin = "".join(
                    f"<{LOCAL0 * 8 + SYSLOG_SEVERITY[ev['level']]}>{ev['message']}\n"
                    for ev in events[i:j]
                )
                subprocess.run(
                    [
                        logger_bin,
                        "--udp",
                        "-n",
                        "127.0.0.1",
                        "-P",
                        str(port),
                        flag,
                        "-t",
                        events[i]["tag"],
                        f"--id={events[i]['pid']}",
                        "--prio-prefix",
                    ],
                    input=stdin,
                    text=True,
                    check=True,
                    timeout=30,
                )
                i = j
            thread.join(15)
            if errors or len(received) != len(events):
                raise RuntimeError(
                    f"syslog {flag}: {len(received)} of {len(events)} datagrams arrived {errors}"
                )
        wire[flag] = [d.decode("utf-8").rstrip("\n") for d in received]
    labels = [ev["id"] for ev in events]
    producer = version.strip() or "util-linux logger"
    w.add(
        "syslog-rfc3164",
        wire["--rfc3164"],
        labels,
        producer=producer,
        source="real",
        format="syslog-rfc3164",
        description="RFC 3164 datagrams as received: <PRI>Mmm dd hh:mm:ss host tag[pid]: msg",
    )
    w.add(
        "syslog-rfc5424",
        wire["--rfc5424"],
        labels,
        producer=producer,
        source="real",
        format="syslog-rfc5424",
        description="RFC 5424 datagrams as received: <PRI>1 ISO-time host app procid - [SD] msg",
    )
    w.add(
        "syslog-file",
        [re.sub(r"^<\d+>", "", line) for line in wire["--rfc3164"]],
        labels,
        producer=f"{producer}, written as rsyslog's traditional file format",
        source="real",
        format="syslog-traditional-file",
        description="what rsyslog's RSYSLOG_TraditionalFileFormat writes for those datagrams "
        "(the RFC 3164 line without <PRI>)",
    )


# ------------------------------------------------------------------------------------------
# Documented formats (no producer installable here): written from the formats' documentation.

NGINX = {
    "tune": [
        ("nginx.open_failed", "error", '*{cid} open() "{docpath}" failed (2: No such file or directory), client: {ip}, server: {server}, request: "GET {upath} HTTP/1.1", host: "{domain}"'),
        ("nginx.upstream_timeout", "error", '*{cid} upstream timed out (110: Connection timed out) while reading response header from upstream, client: {ip}, server: {server}, request: "{method} {upath} HTTP/1.1", upstream: "http://127.0.0.1:{port}{upath}", host: "{domain}"'),
        ("nginx.connect_refused", "error", '*{cid} connect() failed (111: Connection refused) while connecting to upstream, client: {ip}, server: {server}, request: "{method} {upath} HTTP/1.1", upstream: "http://{host}:{port}{upath}", host: "{domain}"'),
        ("nginx.body_too_large", "error", '*{cid} client intended to send too large body: {bytes} bytes, client: {ip}, server: {server}, request: "POST {upath} HTTP/1.1", host: "{domain}"'),
        ("nginx.limiting_requests", "error", '*{cid} limiting requests, excess: {excess} by zone "{zone}", client: {ip}, server: {server}, request: "GET {upath} HTTP/1.1", host: "{domain}"'),
        ("nginx.sigchld", "notice", "signal 17 (SIGCHLD) received from {pid}"),
    ],
    "holdout": [
        ("nginx.no_live_upstreams", "error", '*{cid} no live upstreams while connecting to upstream, client: {ip}, server: {server}, request: "GET {upath} HTTP/1.1", upstream: "http://backend{upath}", host: "{domain}"'),
        ("nginx.premature_close", "error", '*{cid} upstream prematurely closed connection while reading response header from upstream, client: {ip}, server: {server}, request: "{method} {upath} HTTP/1.1", upstream: "http://{host}:{port}{upath}", host: "{domain}"'),
        ("nginx.ssl_handshake", "crit", "*{cid} SSL_do_handshake() failed (SSL: error:0A00006C:SSL routines::bad key share) while SSL handshaking, client: {ip}, server: 0.0.0.0:443"),
        ("nginx.worker_started", "notice", "start worker process {pid}"),
    ],
}  # fmt: skip
APACHE = {  # (id, module:level, error-status or "", with a [client], message)
    "tune": [
        ("apache.file_missing", "core:info", "", True, "AH00128: File does not exist: {docpath}"),
        ("apache.client_denied", "authz_core:error", "", True, "AH01630: client denied by server configuration: {docpath}"),
        ("apache.symlink", "core:error", "", True, "AH00037: Symbolic link not allowed or link target not accessible: {docpath}"),
        ("apache.proxy_timeout", "proxy_http:error", "(70007)The timeout specified has expired: ", True, "AH01102: error reading status line from remote server {host}:{port}"),
        ("apache.resuming", "mpm_event:notice", "", False, "AH00489: Apache/2.4.62 (Debian) configured -- resuming normal operations"),
    ],
    "holdout": [
        ("apache.php_fatal", "proxy_fcgi:error", "", True, "AH01071: Got error 'PHP message: PHP Fatal error:  Uncaught Error: Call to undefined function {func}() in {docpath}:{n}'"),
        ("apache.sni_mismatch", "ssl:error", "", True, "AH02032: Hostname {domain} provided via SNI and hostname {domain2} provided via HTTP have no compatible SSL setup"),
        ("apache.scoreboard_full", "mpm_event:error", "", False, "AH03490: scoreboard is full, not at MaxRequestWorkers.Increase ServerLimit."),
        ("apache.user_not_found", "auth_basic:error", "", True, "AH01618: user {name} not found: {upath}"),
    ],
}  # fmt: skip
CBS = {  # (id, level, component, message)
    "tune": [
        ("cbs.loaded_stack", "Info", "CBS", r"Loaded Servicing Stack v10.0.{build} with Core: C:\Windows\WinSxS\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.{build}_none_{wsx}\cbscore.dll"),
        ("cbs.session_init", "Info", "CBS", "Session: {sessid} initialized by client WindowsUpdateAgent, external staging directory: (null), external registry directory: (null)"),
        ("cbs.exec_complete", "Info", "CBS", "Exec: Processing complete.  Session: {sessid}, Package: Package_for_KB{kb}~31bf3856ad364e35~amd64~~10.0.1.{n} [HRESULT = 0x00000000 - S_OK]"),
        ("cbs.open_failed", "Error", "CBS", "Failed to internally open package. [HRESULT = 0x800f0805 - CBS_E_INVALID_PACKAGE]"),
    ],
    "holdout": [
        ("cbs.appl_detect", "Info", "CBS", "Appl: detect Parent, Package: Microsoft-Windows-{comp}-Package~31bf3856ad364e35~amd64~~10.0.{build}, disposition state from detectParent: Absent"),
        ("cbs.ti_init", "Info", "CBS", "TI: --- Initializing Trusted Installer ---"),
        ("cbs.next_element", "Warning", "CBS", "Failed to get next element [HRESULT = 0x800f080d - CBS_E_MANIFEST_INVALID_ITEM]"),
    ],
}  # fmt: skip

JAVA_THREADS = ["main", "http-nio-8080-exec-3", "http-nio-8080-exec-7", "pool-2-thread-1"]
JAVA_THREADS += ["scheduling-1", "kafka-consumer-0"]


def java_class(logger: str) -> str:
    parts = logger.split(".")
    return "com.acme." + ".".join(parts) + "." + parts[-1].title().replace("_", "") + "Service"


def logback_abbreviate(name: str, width: int = 36) -> str:
    """logback's %logger{36}: leftmost segments cut to their first letter until it fits."""
    segs = name.split(".")
    for i in range(len(segs) - 1):
        if len(".".join(segs)) <= width:
            break
        segs[i] = segs[i][0]
    return ".".join(segs)


class Clock:
    """A seeded clock for documented formats: starts 2026-12-04 10:00:00 UTC, ticks ~0.8 s."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.t = dt.datetime(2026, 12, 4, 10, 0, 0, tzinfo=dt.UTC)

    def tick(self) -> dt.datetime:
        self.t += dt.timedelta(microseconds=int(self.rnd.expovariate(1 / 800_000)))
        return self.t


def rfc3339nano(t: dt.datetime, rnd: random.Random) -> str:
    """Go's time.RFC3339Nano (containerd, CRI-O): nanoseconds with trailing zeros dropped."""
    nanos = t.microsecond * 1000 + rnd.randint(0, 999)
    frac = f"{nanos:09d}".rstrip("0")
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def documented(w: CorpusWriter, spec: dict[str, Any], rnd: random.Random, part: str) -> None:
    fill = make_filler(rnd)
    java_lvl = {"debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR"}

    def app_file(
        name: str, fmt: str, reference: str, line: Callable[[dt.datetime, dict[str, Any]], str]
    ) -> None:
        clock = Clock(rnd)
        events = draw_events(spec, rnd, DOC_EVENTS)
        w.add(
            name,
            [line(clock.tick(), ev) for ev in events],
            [ev["id"] for ev in events],
            producer=f"documented example ({reference})",
            source="documented",
            format=fmt,
        )

    def log4j(t: dt.datetime, ev: dict[str, Any]) -> str:
        ts = t.strftime("%Y-%m-%d %H:%M:%S,") + f"{t.microsecond // 1000:03d}"
        lvl = java_lvl[ev["level"]]
        return f"{ts} {lvl:<5} [{rnd.choice(JAVA_THREADS)}] {java_class(ev['logger'])} - {ev['message']}"

    def logback(t: dt.datetime, ev: dict[str, Any]) -> str:
        ts = t.strftime("%H:%M:%S.") + f"{t.microsecond // 1000:03d}"
        lvl = java_lvl[ev["level"]]
        cls = logback_abbreviate(java_class(ev["logger"]))
        return f"{ts} [{rnd.choice(JAVA_THREADS)}] {lvl:<5} {cls} - {ev['message']}"

    def golog(t: dt.datetime, ev: dict[str, Any]) -> str:
        return f"{t.strftime('%Y/%m/%d %H:%M:%S')} {ev['message']}"

    klog_pid = rnd.randint(1000, 99999)
    call_sites: dict[str, str] = {}

    def klog(t: dt.datetime, ev: dict[str, Any]) -> str:
        sev = {"debug": "I", "info": "I", "warn": "W", "error": "E"}[ev["level"]]
        site = call_sites.setdefault(  # one call site (file:line) per template
            ev["id"], f"{ev['logger'].split('.')[-1]}.go:{rnd.randint(40, 900)}"
        )
        # klog's "threadid" field holds the process id in practice (os.Getpid())
        return f"{sev}{t.strftime('%m%d %H:%M:%S.%f')} {klog_pid:7d} {site}] {ev['message']}"

    def cri(t: dt.datetime, ev: dict[str, Any]) -> str:
        stream = "stderr" if ev["level"] in ("warn", "error") else "stdout"
        return f"{rfc3339nano(t, rnd)} {stream} F {ev['message']}"

    logcat_pid = rnd.randint(1000, 30000)

    def logcat(t: dt.datetime, ev: dict[str, Any]) -> str:
        pri = {"debug": "D", "info": "I", "warn": "W", "error": "E"}[ev["level"]]
        tag = "".join(p.title() for p in ev["logger"].split("."))
        tid = logcat_pid + rnd.choice([0, 0, 3, 17, 25])
        ts = t.strftime("%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}"
        return f"{ts} {logcat_pid:5d} {tid:5d} {pri} {tag:<8}: {ev['message']}"

    app_file("log4j", "log4j-pattern", "log4j PatternLayout '%d %-5p [%t] %c - %m%n'", log4j)
    app_file(
        "logback",
        "logback-default",
        "logback '%d{HH:mm:ss.SSS} [%thread] %-5level %logger{36} - %msg%n'",
        logback,
    )
    app_file("go-log", "go-log", "Go log package, LstdFlags", golog)
    app_file("klog", "klog", "klog header 'Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg'", klog)
    app_file(
        "cri",
        "kubernetes-cri",
        "Kubernetes CRI container log: RFC3339Nano stream P|F message",
        cri,
    )
    app_file("logcat", "android-logcat-threadtime", "logcat -v threadtime", logcat)

    # nginx error log (native messages)
    clock = Clock(rnd)
    tpls = NGINX[part]
    nginx_pids = [rnd.randint(100, 9000) for _ in range(2)]  # two worker processes
    lines, labels = [], []
    for _ in range(DOC_EVENTS):
        tid, lvl, text = rnd.choices(tpls, weights=[5, 3, 3, 1, 2, 1][: len(tpls)])[0]
        msg, _ = fill(text)
        pid = rnd.choice(nginx_pids) if lvl != "notice" else 1  # notices: the master
        lines.append(f"{clock.tick().strftime('%Y/%m/%d %H:%M:%S')} [{lvl}] {pid}#{pid}: {msg}")
        labels.append(tid)
    w.add(
        "nginx-error",
        lines,
        labels,
        producer="documented example (nginx error_log, ngx_log_error_core)",
        source="documented",
        format="nginx-error",
    )

    # Apache 2.4 error log, default ErrorLogFormat (mpm_event: a few workers, threads each)
    clock = Clock(rnd)
    apache_pids = [rnd.randint(1000, 30000) for _ in range(3)]
    apache_tids = [rnd.randint(139_000_000_000_000, 140_999_999_999_999) for _ in range(8)]
    lines, labels = [], []
    for _ in range(DOC_EVENTS):
        aid, modlvl, status, client, text = rnd.choices(
            APACHE[part], weights=[5, 3, 2, 2, 1][: len(APACHE[part])]
        )[0]
        msg, _ = fill(text)
        t = clock.tick()
        ts = t.strftime("%a %b %d %H:%M:%S.") + f"{t.microsecond:06d} {t.year}"
        head = f"[{ts}] [{modlvl}] [pid {rnd.choice(apache_pids)}:tid {rnd.choice(apache_tids)}] "
        who = f"[client {fill('{ip}')[0]}:{fill('{cport}')[0]}] " if client else ""
        referer = (
            f", referer: https://{fill('{domain}')[0]}/" if client and rnd.random() < 0.2 else ""
        )
        lines.append(f"{head}{status}{who}{msg}{referer}")
        labels.append(aid)
    w.add(
        "apache-error",
        lines,
        labels,
        producer="documented example (Apache httpd 2.4 default ErrorLogFormat)",
        source="documented",
        format="apache-error",
    )

    # Windows CBS.log
    clock = Clock(rnd)
    lines, labels = [], []
    for _ in range(DOC_EVENTS):
        cid, lvl, comp, text = rnd.choices(CBS[part], weights=[1, 3, 3, 1][: len(CBS[part])])[0]
        msg, _ = fill(text)
        lines.append(f"{clock.tick().strftime('%Y-%m-%d %H:%M:%S')}, {lvl:<22}{comp:<7}{msg}")
        labels.append(cid)
    w.add(
        "windows-cbs",
        lines,
        labels,
        producer=r"documented example (C:\Windows\Logs\CBS\CBS.log)",
        source="documented",
        format="windows-cbs",
    )


# ------------------------------------------------------------------------------------------
# Node loggers (real), through tests/loggers/emit.js


def node_loggers_missing() -> str | None:
    """Why the Node loggers cannot run here, or None when they can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (LOGGERS_DIR / "node_modules").is_dir():
        return "tests/loggers/node_modules is missing: run `npm ci` in tests/loggers"
    return None


def node(w: CorpusWriter, seed: int, part: str) -> None:
    why = node_loggers_missing()
    if why is not None:
        if running_under_ci():
            raise NodeLoggersUnavailable(f"the Node loggers are required under CI: {why}")
        w.skipped.append(
            {"producer": "node loggers (pino, winston, bunyan, morgan)", "reason": why}
        )
        warnings.warn(f"corpus: Node loggers skipped: {why}", stacklevel=2)
        return
    proc = subprocess.run(
        ["node", str(EMIT_JS), "--out", str(w.out_dir), "--seed", str(seed), "--part", part],
        capture_output=True,
        text=True,
        timeout=180,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"emit.js failed ({proc.returncode}):\n{proc.stderr}")
    node_manifest = w.out_dir / "node-manifest.json"
    w.entries.extend(json.loads(node_manifest.read_text()))
    node_manifest.unlink()


# ------------------------------------------------------------------------------------------


def generate(out_dir: Path, seed: int = 0, part: str = "tune") -> list[Path]:
    """Writes the corpus of one part into ``out_dir``; returns the ``.log`` files written."""
    spec = load_templates(part)
    eff_seed = seed if part == "tune" else seed + HOLDOUT_SEED_OFFSET
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    w = CorpusWriter(out_dir, part, eff_seed)
    # Each producer has its own random stream, so one producer's changes leave the others be.
    node(w, eff_seed, part)
    python_logging(w, spec, random.Random(f"{eff_seed}:logging"))
    python_structlog(w, spec, random.Random(f"{eff_seed}:structlog"))
    syslog(w, spec, random.Random(f"{eff_seed}:syslog"))
    documented(w, spec, random.Random(f"{eff_seed}:documented"), part)
    return w.finish(spec)


if __name__ == "__main__":  # python tests/corpus.py OUT_DIR [SEED]
    target = Path(sys.argv[1])
    for p in PARTS:
        started = time.monotonic()
        files = generate(target / p, int(sys.argv[2]) if len(sys.argv) > 2 else 0, p)
        print(f"{p}: {len(files)} files in {time.monotonic() - started:.1f}s -> {target / p}")
