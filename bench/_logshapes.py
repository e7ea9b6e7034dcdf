"""Fast, seeded log corpora in the shapes real services write, for bench/logs.py.

One day per file, timestamps in order over the day. Ordinary lines are drawn from a pool of
pre-rendered lines (their variable parts: ids, durations, statuses, repeat across the pool)
with only the time glued in, so a gigabyte is written in seconds; error lines (about 2%) are
rendered fresh, their variable parts new on every line, as real ones are. Shapes:

- ``pino``: pino-http request lines (``req``/``res`` objects, ``responseTime``) and pino app
  lines (numeric levels, epoch-ms ``time``, ``pid``, ``hostname``); errors with ``err``
  objects and stacks, some of them pino-http's ``request errored`` with a 5xx;
- ``winston``: ``format.combine(timestamp(), json())``: keys sorted, ISO ``timestamp`` last;
- ``bunyan``: ``v``, ``name``, ``hostname``, ``pid``, numeric ``level``, ISO ``time``;
- ``plain``: log4j/logback-style ``2026-11-28 10:00:01,123 INFO [main] c.a.Svc - msg``
  lines (80%) and syslog ``Nov 28 10:00:01 web-1 nginx[123]: …`` lines (20%);
- ``mix``: all four interleaved in every file.

(``sandbox``, the platform's own shape, comes from ``rota_sandbox.logs.generate_big_log``.)
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["SHAPES", "write_day"]

ERROR_RATE = 0.02
REQUEST_SHARE = 0.5  # of the JSON shapes' ordinary lines
POOL = 8192

_ROUTES = (
    ("GET", "/api/users/{id}"),
    ("GET", "/api/users/{id}/orders?page={n}"),
    ("POST", "/api/orders"),
    ("GET", "/api/orders/{id}"),
    ("PUT", "/api/orders/{id}/items/{n}"),
    ("GET", "/api/conversations/{id}/messages"),
    ("DELETE", "/api/sessions/{uuid}"),
    ("GET", "/api/search?q=term{n}&limit=20"),
    ("GET", "/health"),
    ("GET", "/static/app.{hex}.js"),
)
_STATUSES = (200,) * 14 + (201, 204, 301, 304, 400, 401, 403, 404, 404, 409, 422, 429)
_APP = (
    (30, "cache refreshed: {n} keys in {ms}ms"),
    (30, "job {id} finished"),
    (30, "user {id} signed in"),
    (20, "query plan cached for tenant {n}"),
    (20, "feature flag {hex} evaluated"),
    (40, "slow query on orders: {ms}ms"),
    (40, "retrying upstream call (attempt {n}/5)"),
)
_ERRORS = (
    "connect ECONNREFUSED 10.0.{n}.{n}:5432",
    "timeout after {ms}ms calling billing",
    "user {id} not found",
    "payment {uuid} declined: insufficient funds",
    "Cannot read properties of undefined (reading 'id')",
    'duplicate key value violates unique constraint "orders_pkey"',
    "rate limit exceeded for key {hex}",
)
_LEVEL_NAMES = {10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error"}
_LOGGERS = ("com.acme.web.AccessLog", "com.acme.orders.OrderService", "o.h.engine.jdbc.spi")
_THREADS = ("main", "http-nio-8080-exec-{n}", "pool-3-thread-{n}", "scheduler-1")


def _fill(text: str, r: random.Random) -> str:
    return (
        text.replace("{id}", str(r.randint(1, 999_999)))
        .replace("{n}", str(r.randint(1, 60)))
        .replace("{ms}", str(r.randint(50, 9000)))
        .replace("{hex}", f"{r.getrandbits(40):010x}")
        .replace("{uuid}", str(uuid.UUID(int=r.getrandbits(128))))
    )


def _request(r: random.Random) -> tuple[str, str, int, int]:
    method, path = r.choice(_ROUTES)
    return method, _fill(path, r), r.choice(_STATUSES), int(r.lognormvariate(2.5, 0.9)) + 1


def _stack(r: random.Random, message: str) -> str:
    frames = "".join(
        f"\n    at {r.choice(('handler', 'query', 'next', 'run'))} "
        f"(/app/src/{r.choice(('db', 'api', 'jobs'))}.js:{r.randint(1, 400)}:{r.randint(1, 40)})"
        for _ in range(r.randint(3, 8))
    )
    return f"Error: {message}{frames}"


def _dumps(d: dict[str, object]) -> str:
    return json.dumps(d, separators=(",", ":"))


# Each shape: (ordinary line with "\0" where the time goes, time format) and an error
# line renderer taking the time text.
_Line = tuple[str, str]


def _pino(r: random.Random) -> _Line:
    head = {"level": 30, "time": 0, "pid": 4242, "hostname": "web-1"}
    if r.random() < REQUEST_SHARE:
        method, path, status, ms = _request(r)
        req = {
            "id": r.randint(1, 10**6),
            "method": method,
            "url": path,
            "query": {},
            "params": {},
            "headers": {
                "host": "api.example.com",
                "user-agent": r.choice(("curl/8.5.0", "Mozilla/5.0 (X11; Linux x86_64)")),
                "accept": "application/json",
            },
            "remoteAddress": f"::ffff:10.0.{r.randint(0, 9)}.{r.randint(1, 254)}",
            "remotePort": r.randint(30000, 60000),
        }
        res = {"statusCode": status, "headers": {"content-type": "application/json"}}
        body = {"req": req, "res": res, "responseTime": ms, "msg": "request completed"}
    else:
        level, text = r.choice(_APP)
        head["level"] = level
        body = {"msg": _fill(text, r)}
    return _dumps({**head, **body}).replace('"time":0', '"time":\0'), "ms"


def _pino_error(r: random.Random, t: str) -> str:
    message = _fill(r.choice(_ERRORS), r)
    err = {"type": "Error", "message": message, "stack": _stack(r, message)}
    if r.random() < 0.3:  # pino-http: a 5xx is logged with the request, at info level
        method, path, _, ms = _request(r)
        d: dict[str, object] = {
            "level": 30,
            "time": 0,
            "pid": 4242,
            "hostname": "web-1",
            "req": {"id": r.randint(1, 10**6), "method": method, "url": path, "headers": {}},
            "res": {"statusCode": r.choice((500, 502, 503)), "headers": {}},
            "err": err,
            "responseTime": ms,
            "msg": "request errored",
        }
    else:
        d = {"level": 50, "time": 0, "pid": 4242, "hostname": "web-1", "err": err, "msg": message}
    return _dumps(d).replace('"time":0', f'"time":{t}', 1)


def _winston(r: random.Random) -> _Line:
    if r.random() < REQUEST_SHARE:
        method, path, status, ms = _request(r)
        d: dict[str, object] = {
            "duration": f"{ms}.{r.randint(0, 9)}ms",
            "level": "info",
            "message": "request",
            "method": method,
            "path": path,
            "status": status,
        }
    else:
        level, text = r.choice(_APP)
        d = {"level": _LEVEL_NAMES[level], "message": _fill(text, r), "service": "orders"}
    d["timestamp"] = "\0"
    return _dumps(dict(sorted(d.items()))).replace('"\\u0000"', '"\0"'), "iso"


def _winston_error(r: random.Random, t: str) -> str:
    message = _fill(r.choice(_ERRORS), r)
    d = {"level": "error", "message": message, "service": "orders", "stack": _stack(r, message)}
    return _dumps({**d, "timestamp": t})


def _bunyan(r: random.Random) -> _Line:
    d: dict[str, object] = {"name": "orders", "hostname": "web-2", "pid": 777}
    if r.random() < REQUEST_SHARE:
        method, path, status, ms = _request(r)
        d |= {
            "level": 30,
            "req_id": str(uuid.UUID(int=r.getrandbits(128))),
            "method": method,
            "url": path,
            "statusCode": status,
            "latency": ms,
            "msg": "handled request",
        }
    else:
        level, text = r.choice(_APP)
        d |= {"level": level, "msg": _fill(text, r)}
    d |= {"time": "\0", "v": 0}
    return _dumps(d).replace('"\\u0000"', '"\0"'), "iso"


def _bunyan_error(r: random.Random, t: str) -> str:
    message = _fill(r.choice(_ERRORS), r)
    err = {"message": message, "name": "Error", "stack": _stack(r, message)}
    d = {"name": "orders", "hostname": "web-2", "pid": 777, "level": 50, "err": err}
    return _dumps({**d, "msg": message, "time": t, "v": 0})


def _plain(r: random.Random) -> _Line:
    if r.random() < 0.2:
        host, prog = r.choice((("web-1", "nginx"), ("web-1", "sshd"), ("db-1", "postgres")))
        text = _fill(
            r.choice(
                (
                    "upstream response time {ms}ms for /api/orders/{id}",
                    "Accepted publickey for deploy from 10.0.{n}.{n} port {id}",
                    "checkpoint complete: wrote {n} buffers",
                )
            ),
            r,
        )
        return f"\0 {host} {prog}[{r.randint(100, 9999)}]: {text}", "syslog"
    level, text = r.choice(_APP)
    if r.random() < 0.5:
        method, path, status, ms = _request(r)
        level, text = 30, f"{method} {path} {status} {ms}ms"
    name = {10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN"}[level]
    thread = _fill(r.choice(_THREADS), r)
    return f"\0 {name} [{thread}] {r.choice(_LOGGERS)} - {_fill(text, r)}", "log4j"


def _plain_error(r: random.Random, t: str) -> str:
    message = _fill(r.choice(_ERRORS), r)
    return f"{t} ERROR [{_fill(r.choice(_THREADS), r)}] {r.choice(_LOGGERS)} - {message}"


_Maker = Callable[[random.Random], _Line]
_ErrorMaker = Callable[[random.Random, str], str]
SHAPES: dict[str, tuple[tuple[_Maker, _ErrorMaker, str], ...]] = {
    "pino": ((_pino, _pino_error, "ms"),),
    "winston": ((_winston, _winston_error, "iso"),),
    "bunyan": ((_bunyan, _bunyan_error, "iso"),),
    "plain": ((_plain, _plain_error, "log4j"),),
}
SHAPES["mix"] = SHAPES["pino"] + SHAPES["winston"] + SHAPES["bunyan"] + SHAPES["plain"]


_MMSS = [f"{m:02d}:{sec:02d}" for m in range(60) for sec in range(60)]
_MS = [f"{i:03d}" for i in range(1000)]


class _Clock:
    """A millisecond's time text in each format, from per-hour prefixes and tables."""

    def __init__(self) -> None:
        self.hours: dict[int, tuple[str, str, str]] = {}

    def text(self, ms: int, fmt: str) -> str:
        hour = ms // 3_600_000
        prefix = self.hours.get(hour)
        if prefix is None:
            dt = datetime.fromtimestamp(hour * 3600, UTC)
            prefix = self.hours[hour] = (
                dt.strftime("%Y-%m-%dT%H:"),
                dt.strftime("%Y-%m-%d %H:"),
                dt.strftime("%b %e %H:"),
            )
        if fmt == "ms":
            return str(ms)
        mmss = _MMSS[ms // 1000 % 3600]
        if fmt == "iso":
            return f"{prefix[0]}{mmss}.{_MS[ms % 1000]}Z"
        if fmt == "log4j":
            return f"{prefix[1]}{mmss},{_MS[ms % 1000]}"
        return prefix[2] + mmss


def write_day(path: Path, size: int, shape: str, seed: int, day_end: datetime) -> int:
    """Write about ``size`` bytes of ``shape`` lines spread over the 24 hours before
    ``day_end``; returns the bytes written."""
    r = random.Random(seed)
    pools = []
    for make, error, error_fmt in SHAPES[shape]:
        lines = [make(r) for _ in range(POOL)]
        parts = [line.split("\0") for line, _ in lines]
        pools.append(
            ([(h, t, f) for (h, t), (_, f) in zip(parts, lines, strict=True)], error, error_fmt)
        )
    sample = [line for pool in pools for line in pool[0][:500]]
    avg = sum(len(h) + len(t) + 20 for h, t, _ in sample) / len(sample)
    step = 86_400_000 / max(1, int(size / avg))
    ms = float(int(day_end.timestamp() * 1000) - 86_400_000)
    text = _Clock().text
    written = 0
    which = range(len(pools))
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        while written < size:
            out: list[str] = []
            block_lines = max(1, min(20_000, int((size - written) / avg) + 1))
            picks = r.choices(range(POOL), k=block_lines)
            sources = r.choices(which, k=block_lines)
            errors = set(
                r.sample(range(block_lines), int(block_lines * ERROR_RATE * r.uniform(0.8, 1.2)))
            )
            for j in range(block_lines):
                ms += step
                lines, error, error_fmt = pools[sources[j]]
                if j in errors:
                    out.append(error(r, text(int(ms), error_fmt)))
                else:
                    head, tail, fmt = lines[picks[j]]
                    out.append(head + text(int(ms), fmt) + tail)
            block = "\n".join(out) + "\n"
            f.write(block)
            written += len(block)  # ASCII only
    return written
