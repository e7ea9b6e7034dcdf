"""A month of the platform's logs, as logrotate leaves them, with the answers attached.

The sandbox needs history that log tasks can be judged on: the same two formats the
service writes (JSON request lines, plain ``LEVEL [component]`` lines), realistic errors
whose variable parts change on every line, a skewed (Zipf-like) frequency of error kinds,
an incident spike on one day and a new error kind that appears only today. Everything is
derived from ``seed`` and ``now``, so a test knows the exact answer it should get back.

Rotation follows one logrotate convention throughout::

    /var/log/rylie/*.log {
        daily
        rotate 30
        dateext
        dateyesterday      # the suffix names the day the lines are from
        compress
        delaycompress      # yesterday's file stays plain until the next rotation
        missingok
        notifempty
    }

which leaves ``app.log`` (today, live), ``app.log-20261127`` (yesterday) and
``app.log-20261126.gz`` … for older days; the same for ``worker.log``. File mtimes are the
time of each file's last line, as they would be on a real host (gzip keeps them).
"""

from __future__ import annotations

import gzip
import json
import math
import os
import random
import re
import string
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = [
    "LOGROTATE_CONF",
    "NEW_TEMPLATE",
    "TEMPLATES",
    "ErrorTemplate",
    "generate_big_log",
    "generate_logs",
]

LOGROTATE_CONF = """\
{log_dir}/*.log {{
    daily
    rotate 30
    dateext
    dateyesterday
    compress
    delaycompress
    missingok
    notifempty
}}
"""

ERROR_RATE = 0.03  # share of lines that are errors, before the spike and the new kind
APP_SHARE = 0.75  # share of non-error lines that go to app.log rather than worker.log
_ZIPF_S = 1.1

# --------------------------------------------------------------------------- variable parts

_FIRST = ("alice", "bob", "chidi", "dana", "eve", "farah", "gus", "hana", "ivan", "jo")
_DOMAINS = ("example.com", "mail.example.org", "rylie.example", "corp.example.net")
_PROPS = ("id", "userId", "messages", "length", "content", "tenantId", "choices", "map")
_TABLES = ("messages", "conversations", "users", "sessions")


def _hex(n: int) -> Callable[[random.Random], str]:
    return lambda r: f"{r.getrandbits(4 * n):0{n}x}"


def _alnum(r: random.Random, n: int) -> str:
    return "".join(r.choices(string.ascii_letters + string.digits, k=n))


# kind -> (generator, regex for the ground truth). Kinds are what a fingerprinter should
# mask: ips, ports, durations, ids, uuids, emails, hex, floats, urls, paths, dates.
_KINDS: dict[str, tuple[Callable[[random.Random], str], str]] = {
    "ip": (lambda r: f"10.0.{r.randint(0, 3)}.{r.randint(2, 254)}", r"\d+\.\d+\.\d+\.\d+"),
    "port": (lambda r: str(r.randint(1024, 65535)), r"\d+"),
    "ms": (lambda r: str(int(r.lognormvariate(7.6, 0.6))), r"\d+"),
    "int": (lambda r: str(r.randint(1, 999_999)), r"\d+"),
    "n": (lambda r: str(r.randint(2, 48)), r"\d+"),
    "attempt": (lambda r: str(r.randint(1, 5)), r"\d+"),
    "pct": (lambda r: str(r.randint(10, 99)), r"\d+"),
    "tokens": (lambda r: str(int(r.lognormvariate(6.5, 0.9))), r"\d+"),
    "overflow": (lambda r: str(r.randint(8193, 32_000)), r"\d+"),
    "bytes": (lambda r: str(r.randint(1_048_577, 9_000_000)), r"\d+"),
    "uuid": (lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)), r"[0-9a-f-]{36}"),
    "email": (
        lambda r: f"{r.choice(_FIRST)}{r.randint(1, 999)}@{r.choice(_DOMAINS)}",
        r"[\w.+-]+@[\w.-]+",
    ),
    "hex16": (_hex(16), r"[0-9a-f]{16}"),
    "hex24": (_hex(24), r"[0-9a-f]{24}"),
    "hex32": (_hex(32), r"[0-9a-f]{32}"),
    "float": (lambda r: f"{r.uniform(0.1, 900):.2f}", r"\d+\.\d+"),
    "prop": (lambda r: r.choice(_PROPS), r"\w+"),
    "table": (lambda r: r.choice(_TABLES), r"\w+"),
    "evt": (lambda r: "evt_" + _alnum(r, 24), r"evt_\w+"),
    "path": (
        lambda r: r.choice(
            (
                f"/api/conversations/{r.randint(1, 50_000)}",
                f"/api/users/{r.randint(1, 8000)}/settings",
                f"/api/messages/{uuid.UUID(int=r.getrandbits(128), version=4)}",
            )
        ),
        r"/\S*",
    ),
    "url": (
        lambda r: f"https://storage.rylie.example/uploads/{r.getrandbits(64):016x}.bin",
        r"https?://\S+",
    ),
    "date": (
        lambda r: (
            (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=r.randrange(32_000_000)))
            .isoformat(timespec="seconds")
            .replace("+00:00", "Z")
        ),
        r"\S+",
    ),
}


@dataclass(frozen=True)
class ErrorTemplate:
    """One kind of error: the ground-truth group every line it produces belongs to.

    ``text`` has ``{kind}`` fields for its variable parts. Plain-format templates put it
    after ``ERROR [component]``; JSON ones put it in the ``err`` field next to a fixed
    ``msg``. ``file`` is the log it goes to (``app`` or ``worker``).
    """

    id: str
    component: str
    text: str
    format: str = "text"
    file: str = "app"
    msg: str = ""

    @property
    def pattern(self) -> str:
        """The message with its variable parts as ``<kind>``: the group's name."""
        return re.sub(r"\{(\w+)\}", r"<\1>", self.text)

    @property
    def regex(self) -> str:
        """A full-match regex for the message (the ``err`` field for JSON templates)."""
        out = []
        for literal, name, _, _ in string.Formatter().parse(self.text):
            out.append(re.escape(literal))
            if name:
                out.append(f"(?:{_KINDS[name][1]})")
        return "".join(out)

    def render(self, r: random.Random) -> str:
        names = [f for _, f, _, _ in string.Formatter().parse(self.text) if f]
        return self.text.format(**{n: _KINDS[n][0](r) for n in names})


#: Error kinds in order of frequency (Zipf rank 1 first).
TEMPLATES: tuple[ErrorTemplate, ...] = (
    ErrorTemplate(
        "db.connect_timeout",
        "db",
        "connection to {ip}:5432 timed out after {ms}ms (user={email}, conv={uuid})",
    ),
    ErrorTemplate(
        "api.fetch_timeout", "api", "Failed to fetch conversation {uuid}: timeout after {ms}ms"
    ),
    ErrorTemplate(
        "openai.rate_limited",
        "openai",
        "OpenAI request failed: 429 Too Many Requests (request_id=req_{hex24}, retry_after={n}s)",
    ),
    ErrorTemplate(
        "chat.context_length",
        "chat",
        "OpenAI API error: maximum context length is 8192 tokens, you requested {overflow} tokens",
        format="json",
        msg="Failed to send message",
    ),
    ErrorTemplate(
        "auth.jwt_expired", "auth", "invalid token for user {int}: jwt expired at {date}"
    ),
    ErrorTemplate(
        "email.bounced",
        "email",
        "SendGrid delivery failed for {email}: 550 5.1.1 mailbox unavailable "
        "(x-message-id={hex16})",
        file="worker",
    ),
    ErrorTemplate(
        "api.pool_exhausted",
        "api",
        "database pool exhausted (size=10, waiting={n})",
        format="json",
        msg="API request",
    ),
    ErrorTemplate(
        "db.deadlock", "db", 'deadlock detected on relation "{table}" (pid={int}, xid={int})'
    ),
    ErrorTemplate(
        "session.redis_lost",
        "session",
        "Redis connection lost: connect ECONNREFUSED {ip}:6379",
        format="json",
        msg="Session store error",
    ),
    ErrorTemplate(
        "queue.job_failed",
        "queue",
        "job {int} failed after {n} attempts: read ECONNRESET {ip}:{port}",
        file="worker",
    ),
    ErrorTemplate(
        "api.unhandled_rejection",
        "api",
        "Unhandled rejection in GET {path}: TypeError: Cannot read properties of undefined "
        "(reading '{prop}')",
    ),
    ErrorTemplate(
        "cache.value_too_large",
        "cache",
        'cache set failed for key "conv:{int}": value too large ({bytes} bytes > 1048576)',
    ),
    ErrorTemplate(
        "storage.upload_failed",
        "storage",
        "upload {hex32} to {url} failed: 503 Service Unavailable",
        file="worker",
    ),
    ErrorTemplate(
        "db.statement_timeout",
        "db",
        "canceling statement due to statement timeout after {ms}ms: "
        "SELECT * FROM messages WHERE conversation_id = '{uuid}'",
    ),
    ErrorTemplate(
        "billing.bad_signature",
        "billing",
        "No signatures found matching the expected signature for payload (event={evt})",
        format="json",
        msg="Payment webhook rejected",
    ),
    ErrorTemplate(
        "ws.abnormal_close", "ws", "websocket {hex16} closed abnormally (code=1006) after {float}s"
    ),
)

#: The error kind that first appears today (a deploy ahead of its migration).
NEW_TEMPLATE = ErrorTemplate(
    "db.missing_column",
    "db",
    'column "archived_at" does not exist (query={hex16}, conv={uuid})',
)

_SPIKE_CANDIDATES = ("db.connect_timeout", "api.fetch_timeout", "session.redis_lost", "db.deadlock")

# --------------------------------------------------------------------------- ordinary lines

# (method, route, weight, median ms, sigma, [(status, probability), ...] besides 200)
_ROUTES: tuple[tuple[str, str, float, float, float, tuple[tuple[int, float], ...]], ...] = (
    ("GET", "/api/health", 20, 1.5, 0.4, ()),
    ("GET", "/api/conversations/{id}", 25, 14, 0.7, ((404, 0.02), (304, 0.05))),
    ("GET", "/api/users/{id}", 10, 8, 0.6, ((404, 0.01),)),
    ("GET", "/api/messages", 15, 24, 0.7, ()),
    ("POST", "/api/messages", 10, 45, 0.6, ((201, 0.95), (400, 0.03))),
    ("POST", "/api/chat/completions", 8, 1800, 0.8, ((429, 0.03),)),
    ("POST", "/api/auth/login", 4, 120, 0.4, ((401, 0.08),)),
    ("GET", "/api/health/cache", 1, 1.0, 0.3, ()),
)

_APP_TEXT: tuple[tuple[str, str, str, float], ...] = (
    ("INFO", "api", "user {int} signed in from {ip}", 4),
    ("INFO", "cache", "stats: {int} keys, hit ratio 0.{pct} over the last 5m", 1),
    ("INFO", "openai", "completion req_{hex24} took {ms}ms ({tokens} tokens)", 5),
    ("WARN", "db", "slow query ({ms}ms): SELECT * FROM messages WHERE conversation_id = $1", 2),
    # A warning that mentions ERROR: `grep ERROR` counts it, a level-aware reader does not.
    ("WARN", "openai", "retrying after ERROR 429 (attempt {attempt}/5)", 1),
    ("DEBUG", "ws", "websocket {hex16} ping {float}ms", 1),
)
_WORKER_TEXT: tuple[tuple[str, str, str, float], ...] = (
    ("INFO", "worker", "job {int} (send-digest) completed in {ms}ms", 6),
    ("INFO", "email", "sent {n} emails via SendGrid", 3),
    ("INFO", "cleanup", "removed {n} expired sessions", 1),
    ("WARN", "queue", "job {int} retry {attempt}/5 after {ms}ms", 1),
)


def _fill(text: str, r: random.Random) -> str:
    names = [f for _, f, _, _ in string.Formatter().parse(text) if f]
    return text.format(**{n: _KINDS[n][0](r) for n in names})


def _request(r: random.Random, ts: str) -> tuple[str, str]:
    """A JSON request line and its route key (``GET /api/conversations/{id}``)."""
    method, route, _, median, sigma, statuses = r.choices(_ROUTES, weights=_ROUTE_WEIGHTS)[0]
    status = 200
    x = r.random()
    for code, p in statuses:
        if x < p:
            status = code
            break
        x -= p
    path = route.replace("{id}", str(r.randint(1, 50_000)))
    duration = r.lognormvariate(math.log(median), sigma)
    record = {
        "time": ts,
        "level": "warn" if status >= 400 else "info",
        "msg": "API request",
        "method": method,
        "path": path,
        "status": status,
        "duration": f"{duration:.1f}ms",
        "request_id": str(uuid.UUID(int=r.getrandbits(128), version=4)),
    }
    return _dumps(record), f"{method} {route}"


_ROUTE_WEIGHTS = [w for _, _, w, _, _, _ in _ROUTES]


def _text_line(r: random.Random, ts: str, table: tuple[tuple[str, str, str, float], ...]) -> str:
    level, component, text, _ = r.choices(table, weights=[w for *_, w in table])[0]
    return f"{ts} {level} [{component}] {_fill(text, r)}"


def _error_line(t: ErrorTemplate, r: random.Random, ts: str) -> str:
    message = t.render(r)
    if t.format == "text":
        return f"{ts} ERROR [{t.component}] {message}"
    record: dict[str, Any] = {"time": ts, "level": "error", "msg": t.msg}
    if t.msg == "API request":  # a 5xx as the service's request logger writes it
        record |= {
            "method": "GET",
            "path": f"/api/conversations/{r.randint(1, 50_000)}",
            "status": 503,
            "duration": f"{r.uniform(2000, 5000):.1f}ms",
            "request_id": str(uuid.UUID(int=r.getrandbits(128), version=4)),
        }
    else:
        record |= {"component": t.component, "user_id": r.randint(1, 8000)}
    record["err"] = message
    return _dumps(record)


def _dumps(record: dict[str, Any]) -> str:
    # JSON.stringify's layout: no spaces, which the runbook's grep -oP relies on.
    return json.dumps(record, separators=(",", ":"))


def _ts(ms: int) -> str:
    # Integer arithmetic: going through a float timestamp can turn .123 into .122.
    seconds, millis = divmod(ms, 1000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}Z"


# --------------------------------------------------------------------------- generate_logs


def generate_logs(
    log_dir: Path,
    *,
    days: int = 30,
    seed: int = 42,
    now: datetime | None = None,
    lines_per_day: int = 2000,
    with_labels: bool = False,
) -> dict[str, Any]:
    """Write ``days`` days of ``app.log`` and ``worker.log`` (today included) into ``log_dir``.

    Existing ``app.log*``/``worker.log*`` files there are replaced so the answer stays
    exact. Returns the ground truth: per-file line and error counts, per-template counts
    (total and per day), the spike, the new template, requests per route, and with
    ``with_labels`` the template of every error line as ``(file, line_number, id)``.
    """
    if days < 1 or lines_per_day < 1:
        raise ValueError("days and lines_per_day must be at least 1")
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in [*log_dir.glob("app.log*"), *log_dir.glob("worker.log*")]:
        old.unlink()
    now = (now or datetime.now(UTC)).astimezone(UTC)
    now_ms = int(now.timestamp() * 1000)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rng = random.Random(seed)
    weights = [1 / (rank**_ZIPF_S) for rank in range(1, len(TEMPLATES) + 1)]
    by_id = {t.id: t for t in (*TEMPLATES, NEW_TEMPLATE)}

    spike_id = rng.choice(_SPIKE_CANDIDATES)
    # An incident some days back, on a compressed file when there are enough days.
    spike_day = rng.randint(2, days - 2) if days >= 4 else days - 1
    spike_hour = rng.randint(8, 20)

    template_counts: Counter[str] = Counter()
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    routes: Counter[str] = Counter()
    files: dict[str, dict[str, Any]] = {}
    labels: list[tuple[str, int, str]] = []
    spike_extra = 0

    for back in range(days - 1, -1, -1):  # oldest first, as a host would have written them
        day = today - timedelta(days=back)
        date = day.strftime("%Y-%m-%d")
        start_ms = int(day.timestamp() * 1000)
        end_ms = now_ms if back == 0 else start_ms + 86_400_000
        span = max(end_ms - start_ms, 1)
        lines: dict[str, list[tuple[int, str, str | None]]] = {"app": [], "worker": []}

        def at(r: random.Random, lo: int = start_ms, width: int = span) -> int:
            return lo + int(r.random() * width)

        n_err = int(lines_per_day * ERROR_RATE * (0.8 + 0.4 * rng.random()))
        errors = [(t, at(rng)) for t in rng.choices(TEMPLATES, weights=weights, k=n_err)]
        if back == spike_day:
            base = weights[[t.id for t in TEMPLATES].index(spike_id)] / sum(weights)
            spike_extra = max(20, int(10 * base * lines_per_day * ERROR_RATE))
            width = min(3_600_000, span)
            lo = min(start_ms + spike_hour * 3_600_000, end_ms - width)
            errors += [(by_id[spike_id], at(rng, lo, width)) for _ in range(spike_extra)]
        if back == 0:
            # The new kind starts after today's deploy, a third of the way into the day.
            deploy = start_ms + span // 3
            errors += [
                (NEW_TEMPLATE, at(rng, deploy, end_ms - deploy)) for _ in range(rng.randint(8, 20))
            ]
        for t, ms in errors:
            lines[t.file].append((ms, _error_line(t, rng, _ts(ms)), t.id))
            template_counts[t.id] += 1
            per_day[t.id][date] += 1

        for _ in range(lines_per_day - n_err):
            ms = at(rng)
            if rng.random() < APP_SHARE:
                if rng.random() < 0.6:
                    line, route = _request(rng, _ts(ms))
                    routes[route] += 1
                else:
                    line = _text_line(rng, _ts(ms), _APP_TEXT)
                lines["app"].append((ms, line, None))
            else:
                lines["worker"].append((ms, _text_line(rng, _ts(ms), _WORKER_TEXT), None))

        for stem in ("app", "worker"):
            entries = sorted(lines[stem], key=lambda e: e[0])
            name = _file_name(stem, day, back)
            data = "".join(line + "\n" for _, line, _ in entries).encode()
            mtime_ms = now_ms if back == 0 else entries[-1][0] if entries else end_ms
            _write(log_dir / name, data, mtime_ms, compressed=back >= 2)
            files[name] = {
                "date": date,
                "lines": len(entries),
                "errors": sum(1 for e in entries if e[2] is not None),
                "grep_error": sum(1 for _, line, _ in entries if "ERROR" in line),
                "bytes": len(data),
                "size": (log_dir / name).stat().st_size,
                "compressed": back >= 2,
                "mtime": _ts(mtime_ms),
            }
            if with_labels:
                labels += [(name, i, e[2]) for i, e in enumerate(entries, 1) if e[2] is not None]

    error_lines = sum(template_counts.values())
    json_errors = sum(c for tid, c in template_counts.items() if by_id[tid].format == "json")
    truth: dict[str, Any] = {
        "log_dir": str(log_dir),
        "seed": seed,
        "now": _ts(now_ms),
        "days": days,
        "convention": "logrotate daily, dateext, dateyesterday, compress, delaycompress",
        "logrotate_conf": LOGROTATE_CONF.format(log_dir=log_dir),
        "files": files,
        "total_lines": sum(f["lines"] for f in files.values()),
        "error_lines": error_lines,
        "error_lines_json": json_errors,
        "error_lines_text": error_lines - json_errors,
        "grep_error_lines": sum(f["grep_error"] for f in files.values()),
        "templates": {
            tid: {
                "component": by_id[tid].component,
                "format": by_id[tid].format,
                "file": by_id[tid].file,
                "msg": by_id[tid].msg or None,
                "pattern": by_id[tid].pattern,
                "regex": by_id[tid].regex,
                "count": template_counts[tid],
                "per_day": dict(sorted(per_day[tid].items())),
                "first_seen": min(per_day[tid]) if per_day[tid] else None,
            }
            for tid in by_id
        },
        "spike": {
            "template": spike_id,
            "date": (today - timedelta(days=spike_day)).strftime("%Y-%m-%d"),
            "hour_utc": spike_hour,
            "extra": spike_extra,
        },
        "new_template": {"id": NEW_TEMPLATE.id, "date": today.strftime("%Y-%m-%d")},
        "api_requests": sum(routes.values()),
        "api_requests_by_route": dict(routes.most_common()),
    }
    if with_labels:
        truth["labels"] = labels
    return truth


def _file_name(stem: str, day: datetime, back: int) -> str:
    if back == 0:
        return f"{stem}.log"
    suffix = f"{stem}.log-{day:%Y%m%d}"
    return suffix + ".gz" if back >= 2 else suffix


def _write(path: Path, data: bytes, mtime_ms: int, *, compressed: bool) -> None:
    if compressed:
        # The header carries the original name and mtime, as `gzip` writes them, and makes
        # the bytes reproducible for a seed.
        with (
            open(path, "wb") as raw,
            gzip.GzipFile(
                filename=path.name[:-3],
                mode="wb",
                fileobj=raw,
                mtime=mtime_ms // 1000,
                compresslevel=6,
            ) as gz,
        ):
            gz.write(data)
    else:
        path.write_bytes(data)
    os.utime(path, ns=(mtime_ms * 1_000_000, mtime_ms * 1_000_000))


# --------------------------------------------------------------------------- big logs


def generate_big_log(
    path: Path, size_bytes: int, seed: int = 42, *, now: datetime | None = None
) -> dict[str, Any]:
    """Write one plain log file of at least ``size_bytes`` for benchmarks, fast.

    The same mix as :func:`generate_logs` over the 24 hours before ``now``, with
    timestamps in order. Ordinary lines are drawn from a pre-rendered pool (their variable
    parts repeat) so the file is written at well over 50 MB/s; every error line is rendered
    fresh. Returns byte, line and error counts and per-template counts.
    """
    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    pool: list[str] = []
    base = datetime(2000, 1, 1, tzinfo=UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
    for _ in range(16_384):
        if rng.random() < APP_SHARE * 0.6:
            line, _ = _request(rng, base)
        else:
            line = _text_line(rng, base, rng.choice((_APP_TEXT, _APP_TEXT, _WORKER_TEXT)))
        # Split at the timestamp so each use only glues a fresh time in.
        head, _, tail = line.partition(base)
        pool.append(head + "\0" + tail + "\n")
    heads_tails = [p.split("\0") for p in pool]
    weights = [1 / (rank**_ZIPF_S) for rank in range(1, len(TEMPLATES) + 1)]

    avg = sum(len(p) + 23 for p in pool) / len(pool)
    est_lines = max(1, int(size_bytes / avg))
    end_ms = int(now.timestamp() * 1000)
    ms = end_ms - 86_400_000
    step = 86_400_000 / est_lines
    counts: Counter[str] = Counter()
    written = lines = 0
    millis = [f"{i:03d}Z" for i in range(1000)]
    started = time.perf_counter()
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        while written < size_bytes:
            chunk_lines = min(20_000, int((size_bytes - written) / avg) + 1)
            picks = rng.choices(heads_tails, k=chunk_lines)
            n_err = sum(1 for _ in range(chunk_lines) if rng.random() < ERROR_RATE)
            err_at = set(rng.sample(range(chunk_lines), n_err))
            out: list[str] = []
            second = -1
            prefix = ""
            t = float(ms)
            for i, (head, tail) in enumerate(picks):
                t += step
                ti = int(t)
                if ti // 1000 != second:
                    second = ti // 1000
                    prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
                ts = prefix + millis[ti % 1000]
                if i in err_at:
                    tpl = rng.choices(TEMPLATES, weights=weights)[0]
                    counts[tpl.id] += 1
                    out.append(_error_line(tpl, rng, ts) + "\n")
                else:
                    out.append(head + ts + tail)
            ms = int(t)
            block = "".join(out)
            f.write(block)
            written += len(block)  # ASCII only, so characters are bytes
            lines += len(out)
    elapsed = time.perf_counter() - started
    return {
        "path": str(path),
        "bytes": written,
        "lines": lines,
        "error_lines": sum(counts.values()),
        "templates": dict(counts.most_common()),
        "seconds": round(elapsed, 3),
        "mb_per_s": round(written / 1e6 / elapsed, 1) if elapsed else None,
    }
