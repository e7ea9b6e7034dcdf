"""The sandbox's platform service: a small, real stand-in for the "Rylie AI" Node.js service.

It runs as its own process so that it can be found, measured and signalled the way the
runbook does it for ``node.*server``::

    python -m rota_sandbox.platform server --state-dir DIR --http-port 0 --https-port 0 \\
        --cert server.pem --key server-key.pem --log-dir DIR/logs --token-file token \\
        --headers good

It serves the routes the runbook touches (``/api/health``, ``/api/health/cache``,
``/api/cache/clear``) plus a few ordinary API routes, over plain HTTP and over TLS, and
appends one JSON line per request to ``<log-dir>/app.log`` in the format the platform's
logs use. Only the standard library is used, so it starts in a fraction of a second.

Loopback-only drill hooks under ``/__sandbox/`` change its behaviour at run time:

- ``POST /__sandbox/headers?profile=good|weak|poor``: the security-header profile;
- ``POST /__sandbox/health?status=ok|degraded|down[&delay_ms=N]``: what /api/health says;
- ``POST /__sandbox/faults?error_rate=F&latency_ms=N``: 5xx rate and latency of the API;
- ``POST /__sandbox/leak?kb_per_request=N``: retain memory on every API call (a leak);
- ``GET /__sandbox/state``: the current settings.

Those hooks are not platform traffic and are left out of ``app.log``; every other request
is logged.

Signals: SIGTERM/SIGINT shut down cleanly (well under a second); SIGHUP reopens the log
file and reloads the certificate, as ``postrotate`` and a renewal expect.

Starting, finding and stopping the process is :mod:`rota_sandbox.launcher`'s job; its API
(:func:`start_platform`, :func:`stop_platform`, :func:`platform_status`,
:class:`PlatformInfo`) is re-exported here.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import http.client
import json
import os
import random
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rota_sandbox.headers import COOKIE_ATTRS, HEADER_PROFILES

# The launcher's API, re-exported. The launcher never imports this module: what both need
# (the header profiles) lives in rota_sandbox.headers, so the dependency goes one way.
from rota_sandbox.launcher import (
    CMDLINE_PATTERN,
    DATABASE_URL_ENV,
    HOST,
    STATE_FILE,
    PlatformInfo,
    platform_status,
    start_platform,
    stop_platform,
)

__all__ = [
    "CMDLINE_PATTERN",
    "HEADER_PROFILES",
    "STATE_FILE",
    "VERSION",
    "LruCache",
    "PlatformInfo",
    "main",
    "platform_status",
    "start_platform",
    "stop_platform",
]

#: The platform's own version, as /api/health reports it.
VERSION = "2.3.1"
LOG_FILE = "app.log"

_HOST = HOST
_LOOPBACK = {"127.0.0.1", "::1"}

# Failures the API injects at ``error_rate``: (status, message for the log, never the client).
_FAULTS: tuple[tuple[int, str], ...] = (
    (500, "Failed to fetch conversation {id}: Connection terminated unexpectedly"),
    (503, "database pool exhausted (size=10, waiting={n})"),
    (502, "OpenAI request failed: 502 Bad Gateway (request_id=req_{hex})"),
)

_VOCABULARY = (
    "model reply prompt token stream summary user assistant context window latency cache "
    "retry vector search embed chat thread draft answer question follow-up system"
)
_WORDS = tuple(_VOCABULARY.split())


# --------------------------------------------------------------------------- the cache


class LruCache:
    """A thread-safe LRU cache with a TTL and node-cache-like statistics.

    ``clear()`` also resets the statistics, as node-cache's ``flushAll`` does, so a hit
    ratio read after a clear describes only what happened since.
    """

    def __init__(self, max_keys: int = 500, ttl_s: float = 300.0) -> None:
        self.max_keys = max_keys
        self.ttl_s = ttl_s
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._bytes = 0
        self.hits = self.misses = self.evictions = self.expired = 0

    def get_or_compute(self, key: str, compute: Callable[[], bytes]) -> tuple[bytes, bool]:
        """The cached value and whether it was a hit; ``compute`` runs outside the lock."""
        now = time.monotonic()
        with self._lock:
            item = self._data.get(key)
            if item is not None and item[0] > now:
                self._data.move_to_end(key)
                self.hits += 1
                return item[1], True
            if item is not None:
                self._drop(key)
                self.expired += 1
            self.misses += 1
        value = compute()
        with self._lock:
            if key in self._data:
                self._drop(key)
            self._data[key] = (now + self.ttl_s, value)
            self._bytes += len(key) + len(value)
            while len(self._data) > self.max_keys:
                self._drop(next(iter(self._data)))
                self.evictions += 1
        return value, False

    def clear(self) -> int:
        with self._lock:
            n = len(self._data)
            self._data.clear()
            self._bytes = 0
            self.hits = self.misses = self.evictions = self.expired = 0
            return n

    def stats(self) -> dict[str, Any]:
        with self._lock:
            lookups = self.hits + self.misses
            return {
                "hits": self.hits,
                "misses": self.misses,
                "lookups": lookups,
                "hit_ratio": round(self.hits / lookups, 4) if lookups else 0.0,
                "keys": len(self._data),
                "max_keys": self.max_keys,
                "evictions": self.evictions,
                "expired": self.expired,
                "ttl_s": self.ttl_s,
                "memory_bytes": self._bytes,
            }

    def _drop(self, key: str) -> None:
        _, value = self._data.pop(key)
        self._bytes -= len(key) + len(value)


# --------------------------------------------------------------------------- the service


class _RequestLog:
    """Appends JSON lines to the log file; ``reopen()`` follows a logrotate ``create``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    def write(self, record: dict[str, Any]) -> None:
        # Compact separators, as JSON.stringify writes them: the runbook's
        # `grep -oP 'duration":"[^"]*'` depends on there being no space after the colon.
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            self._f.write(line)
            self._f.flush()

    def reopen(self) -> None:
        with self._lock:
            self._f.close()
            self._f = open(self.path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    def close(self) -> None:
        with self._lock:
            self._f.close()


@dataclass
class _Settings:
    headers: str
    error_rate: float
    latency_ms: float
    health: str = "ok"
    health_delay_ms: float = 0.0
    leak_kb: int = 0


class _App:
    def __init__(self, args: argparse.Namespace) -> None:
        self.settings = _Settings(
            headers=args.headers, error_rate=args.error_rate, latency_ms=args.latency_ms
        )
        self.token_file = Path(args.token_file)
        self.database_url: str | None = args.database_url
        self.cert, self.key = args.cert, args.key
        self.cache = LruCache(args.cache_max_keys, args.cache_ttl)
        self.log = _RequestLog(Path(args.log_dir) / LOG_FILE)
        self.started = time.monotonic()
        self.rng = random.Random(args.seed)
        self.rng_lock = threading.Lock()
        self.leaked: list[bytes] = []
        if self.database_url:
            import psycopg  # noqa: F401  # imported now so the first health check is not slow

    def random(self) -> float:
        with self.rng_lock:
            return self.rng.random()

    def expovariate(self, mean: float) -> float:
        with self.rng_lock:
            return self.rng.expovariate(1 / mean)

    def tokens(self) -> list[str]:
        # Read per request so a rotated admin key (one per line while both are valid) takes
        # effect without a restart.
        try:
            text = self.token_file.read_text(encoding="utf-8")
        except OSError:
            return []
        return [t.strip() for t in text.splitlines() if t.strip() and not t.startswith("#")]

    def database_check(self) -> tuple[str, str | None]:
        if not self.database_url:
            return "ok", None
        import psycopg

        try:
            with psycopg.connect(
                self.database_url, connect_timeout=2, options="-c statement_timeout=2000"
            ) as conn:
                conn.execute("SELECT 1")
            return "ok", None
        except Exception as exc:  # every failure means the same thing to a health check
            return "down", (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    err: str | None = None


def _json(status: int, obj: Any, **headers: str) -> _Response:
    return _Response(status, json.dumps(obj).encode() + b"\n", headers=headers)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 15  # idle keep-alive connections must not pin a thread forever
    server: _Server

    # -- plumbing

    def setup(self) -> None:
        # Headers and body leave in separate writes; with Nagle's algorithm and the client's
        # delayed ACK that costs 40 ms per keep-alive request.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.request, ssl.SSLSocket):
            # The handshake runs here, in the connection's own thread: done in accept(), one
            # slow or hostile client would block every other connection.
            self.request.settimeout(self.timeout)
            self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are logged as JSON lines by _log

    def send_response(self, code: int, message: str | None = None) -> None:
        # Not BaseHTTPRequestHandler's: that one always sends "Server: BaseHTTP/x Python/y".
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())
        server = HEADER_PROFILES[self.server.app.settings.headers].get("Server")
        if server:
            self.send_header("Server", server)

    def _handle(self) -> None:
        method = self.command
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > 1 << 20:
            self.close_connection = True  # unread body bytes would poison the next request
        elif length:
            self.rfile.read(length)
        try:
            resp = self._route(method, url.path, parse_qs(url.query))
        except Exception as exc:
            traceback.print_exc()
            resp = _json(500, {"error": "Internal Server Error", "request_id": request_id})
            resp.err = f"{type(exc).__name__}: {exc}"
        # Logged before the response leaves, so a client that got its answer finds the line.
        if not url.path.startswith("/__sandbox/"):  # drill machinery, not platform traffic
            self._log(method, url.path, resp, started, request_id)
        self._send(resp, method, request_id)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _handle

    def _send(self, resp: _Response, method: str, request_id: str) -> None:
        app = self.server.app
        profile = app.settings.headers
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        self.send_header("X-Request-Id", request_id)
        for name, value in HEADER_PROFILES[profile].items():
            if name == "Server" or (name == "Strict-Transport-Security" and not self.server.tls):
                continue
            self.send_header(name, value)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(resp.body)

    def _log(
        self, method: str, path: str, resp: _Response, started: float, request_id: str
    ) -> None:
        status = resp.status
        record: dict[str, Any] = {
            "time": _now_iso(),
            "level": "error" if status >= 500 else "warn" if status >= 400 else "info",
            "msg": "API request",
            "method": method,
            "path": path,
            "status": status,
            "duration": f"{(time.perf_counter() - started) * 1000:.1f}ms",
            "request_id": request_id,
        }
        if status >= 500:
            record["err"] = resp.err or "Internal Server Error"
        self.server.app.log.write(record)

    # -- routes

    def _route(self, method: str, path: str, query: dict[str, list[str]]) -> _Response:
        app = self.server.app
        if path.startswith("/__sandbox/"):
            if self.client_address[0] not in _LOOPBACK:
                return _json(403, {"error": "drill hooks are loopback-only"})
            return self._sandbox_hook(method, path, query)
        if self.server.redirect_to_https:
            location = f"https://{_HOST}:{self.server.redirect_to_https}{self.path}"
            return _Response(308, b"", "text/plain", {"Location": location})
        parts = [p for p in path.split("/") if p]
        if path == "/":
            return self._only(method, ("GET", "HEAD")) or self._index()
        if path == "/api/health":
            return self._only(method, ("GET", "HEAD")) or self._health()
        if path == "/api/health/cache":
            return self._only(method, ("GET", "HEAD")) or _json(200, app.cache.stats())
        if path == "/api/cache/clear":
            return self._only(method, ("POST",)) or self._cache_clear()
        if len(parts) == 3 and parts[:2] in (["api", "conversations"], ["api", "users"]):
            return self._only(method, ("GET", "HEAD")) or self._api(parts[1], parts[2])
        if path == "/api/messages":
            conv = (query.get("conversation") or [""])[0]
            return self._only(method, ("GET", "HEAD")) or self._api("messages", conv)
        return _json(404, {"error": "not found", "path": path})

    @staticmethod
    def _only(method: str, allowed: Sequence[str]) -> _Response | None:
        if method in allowed:
            return None
        return _json(405, {"error": "method not allowed"}, Allow=", ".join(allowed))

    def _index(self) -> _Response:
        body = (
            b"<!doctype html><html lang=en><head><meta charset=utf-8><title>Rylie AI</title>"
            b"</head><body><h1>Rylie AI</h1><p>Sandbox platform.</p></body></html>\n"
        )
        profile = self.server.app.settings.headers
        cookie = f"sid={secrets.token_urlsafe(16)}{COOKIE_ATTRS[profile]}"
        return _Response(200, body, "text/html; charset=utf-8", {"Set-Cookie": cookie})

    def _health(self) -> _Response:
        app = self.server.app
        s = app.settings
        if s.health_delay_ms:
            time.sleep(s.health_delay_ms / 1000)
        db, db_error = app.database_check()
        status = s.health if s.health != "ok" else ("ok" if db == "ok" else "down")
        body: dict[str, Any] = {
            "status": status,
            "uptime_s": round(time.monotonic() - app.started, 3),
            "version": VERSION,
            "checks": {"database": db, "cache": "ok"},
        }
        if db_error:
            body["error"] = db_error
        return _json(503 if status == "down" else 200, body)

    def _cache_clear(self) -> _Response:
        app = self.server.app
        scheme, _, presented = (self.headers.get("Authorization") or "").partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="rylie"'}
        if scheme.lower() != "bearer" or not presented.strip():
            return _json(401, {"error": "missing bearer token"}, **challenge)
        given = presented.strip().encode()
        valid = False
        # Compare against every token, without short-circuiting, so timing says nothing
        # about which (or whether any) token came close.
        for token in app.tokens():
            valid |= hmac.compare_digest(given, token.encode())
        if not valid:
            return _json(401, {"error": "invalid token"}, **challenge)
        return _json(200, {"cleared": app.cache.clear()})

    def _api(self, kind: str, ident: str) -> _Response:
        app = self.server.app
        s = app.settings
        if not ident or len(ident) > 64 or not ident.replace("-", "").isalnum():
            return _json(400, {"error": f"invalid {kind} id"})
        if s.leak_kb:
            app.leaked.append(bytes(s.leak_kb * 1024))
        if s.latency_ms:
            time.sleep(min(app.expovariate(s.latency_ms), 10 * s.latency_ms) / 1000)
        if s.error_rate and app.random() < s.error_rate:
            status, template = _FAULTS[int(app.random() * len(_FAULTS))]
            resp = _json(status, {"error": http.client.responses[status]})
            resp.err = template.format(
                id=ident, n=int(app.random() * 40) + 1, hex=secrets.token_hex(12)
            )
            return resp
        if kind == "messages":
            return _Response(200, _payload(kind, ident))

        def compute() -> bytes:
            if s.latency_ms:  # a miss costs a database round trip; that is why there is a cache
                time.sleep(2 * s.latency_ms / 1000)
            return _payload(kind, ident)

        body, hit = app.cache.get_or_compute(f"{kind[:-1]}:{ident}", compute)
        return _Response(200, body, headers={"X-Cache": "HIT" if hit else "MISS"})

    def _sandbox_hook(self, method: str, path: str, query: dict[str, list[str]]) -> _Response:
        s = self.server.app.settings
        q = {k: v[-1] for k, v in query.items()}
        if path == "/__sandbox/state":
            return _json(200, vars(s))
        if method != "POST":
            return _json(405, {"error": "method not allowed"}, Allow="POST")
        try:  # validate everything before changing anything
            if path == "/__sandbox/headers":
                if q.get("profile") not in HEADER_PROFILES:
                    raise ValueError(f"profile must be one of {', '.join(HEADER_PROFILES)}")
                s.headers = q["profile"]
            elif path == "/__sandbox/health":
                if q.get("status", "ok") not in ("ok", "degraded", "down"):
                    raise ValueError("status must be ok, degraded or down")
                s.health_delay_ms = max(0.0, float(q.get("delay_ms", 0)))
                s.health = q.get("status", "ok")
            elif path == "/__sandbox/faults":
                rate = float(q.get("error_rate", s.error_rate))
                latency = float(q.get("latency_ms", s.latency_ms))
                if not 0 <= rate <= 1 or latency < 0:
                    raise ValueError("error_rate must be in [0, 1] and latency_ms >= 0")
                s.error_rate, s.latency_ms = rate, latency
            elif path == "/__sandbox/leak":
                s.leak_kb = max(0, int(q.get("kb_per_request", 0)))
                if s.leak_kb == 0:
                    self.server.app.leaked.clear()
            else:
                return _json(404, {"error": "no such drill hook", "path": path})
        except ValueError as exc:
            return _json(400, {"error": str(exc)})
        return _json(200, vars(s))


def _payload(kind: str, ident: str) -> bytes:
    """What a cache miss computes: a stable fake record for ``ident``."""
    r = random.Random(f"{kind}:{ident}")

    def words(lo: int, hi: int) -> str:
        return " ".join(r.choice(_WORDS) for _ in range(r.randint(lo, hi)))

    created = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=r.randrange(300 * 86400))
    doc: dict[str, Any] = {"id": ident, "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if kind == "conversations":
        doc |= {"user_id": r.randint(1, 5000), "title": words(2, 6).capitalize()}
        doc |= {"message_count": r.randint(1, 240), "summary": words(40, 160)}
    elif kind == "users":
        doc |= {"email": f"user{ident}@example.com", "plan": r.choice(["free", "pro", "team"])}
    else:
        roles = ("user", "assistant")
        doc["messages"] = [
            {"id": str(uuid.UUID(int=r.getrandbits(128), version=4)), "role": roles[i % 2],
             "content": words(3, 30)}
            for i in range(r.randint(2, 20))
        ]  # fmt: skip
    return json.dumps(doc).encode() + b"\n"


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    tls = False

    def __init__(self, port: int, app: _App, *, redirect_to_https: int = 0) -> None:
        self.app = app
        self.redirect_to_https = redirect_to_https
        super().__init__((_HOST, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # includes ssl.SSLError: a client that hung up or distrusts us
            return
        super().handle_error(request, client_address)


class _TlsServer(_Server):
    tls = True

    def __init__(self, port: int, app: _App, context: ssl.SSLContext) -> None:
        self.context = context
        super().__init__(port, app)

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


def _tls_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


def _serve(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    app = _App(args)
    https = _TlsServer(args.https_port, app, _tls_context(args.cert, args.key))
    redirect = https.server_address[1] if args.http_redirect else 0
    plain = _Server(args.http_port, app, redirect_to_https=redirect)
    http_port, https_port = plain.server_address[1], https.server_address[1]

    flags = {"stop": False, "hup": False}

    def on_signal(signum: int, _frame: Any) -> None:
        # Only flags here: the main loop does the work, outside signal context.
        flags["hup" if signum == signal.SIGHUP else "stop"] = True

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)

    threads = [
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        for srv in (plain, https)
    ]
    for t in threads:
        t.start()
    state = {
        "pid": os.getpid(),
        "http_port": http_port,
        "https_port": https_port,
        "http_url": f"http://{_HOST}:{http_port}",
        "https_url": f"https://{_HOST}:{https_port}",
        "cmdline_pattern": CMDLINE_PATTERN,
        "headers": args.headers,
        "log_file": str(app.log.path),
        "started_at": _now_iso(),
        "version": VERSION,
    }
    _write_json_atomic(state_dir / STATE_FILE, state)
    try:
        while not flags["stop"]:
            time.sleep(0.05)
            if flags["hup"]:
                flags["hup"] = False
                app.log.reopen()
                try:
                    https.context = _tls_context(args.cert, args.key)
                except (OSError, ssl.SSLError) as exc:
                    print(f"certificate reload failed, keeping the old one: {exc}", flush=True)
    finally:
        # Both at once: each shutdown() waits out one poll interval of its serve_forever.
        stoppers = [threading.Thread(target=srv.shutdown) for srv in (plain, https)]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join()
        for srv in (plain, https):
            srv.server_close()
        app.log.close()
        with contextlib.suppress(OSError, ValueError):
            if json.loads((state_dir / STATE_FILE).read_text())["pid"] == os.getpid():
                (state_dir / STATE_FILE).unlink()
    return 0


def _write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- the CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rota_sandbox.platform")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("server", help="run the platform service in the foreground")
    p.add_argument("--state-dir", required=True)
    p.add_argument("--http-port", type=int, default=0)
    p.add_argument("--https-port", type=int, default=0)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--log-dir", required=True)
    p.add_argument("--token-file", required=True)
    p.add_argument("--headers", choices=sorted(HEADER_PROFILES), default="good")
    p.add_argument(
        "--database-url",
        default=os.environ.get(DATABASE_URL_ENV),
        help=f"check the database in /api/health (default: ${DATABASE_URL_ENV})",
    )
    p.add_argument("--error-rate", type=float, default=0.02)
    p.add_argument("--latency-ms", type=float, default=4.0)
    p.add_argument("--seed", type=int)
    p.add_argument("--cache-max-keys", type=int, default=500)
    p.add_argument("--cache-ttl", type=float, default=300.0)
    p.add_argument("--http-redirect", action="store_true", help="answer HTTP with 308 to HTTPS")
    args = parser.parse_args(argv)
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())
