"""Line formats: JSON lines, plain text whose header is recognised by its shape
(:mod:`rota.logscan.headers`: syslog, Apache and nginx, access logs, log4j, Python
``logging``, klog, logcat ...), and a format the user describes in config (a regex with
named groups).

Detection is per line (services interleave JSON request lines and plain lines in one
file, as the platform's ``app.log`` does) and reported per file as counts. A line no
format matches is *unparsed*: counted, sampled, never an error.

Durations come in any common unit ("12.3ms", "1.2s", "350µs", numbers with a unit in the
key such as ``duration_ms`` or in a ``unit`` field) and are converted to milliseconds.
Timestamps are ISO 8601 (with ``T`` or a space, ``.`` or ``,`` fractions, ``Z``, an offset
or none), syslog ``Nov 28 10:00:01`` or epoch numbers; naive ones are read in the
configured time zone.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, NamedTuple

from rota.logscan.headers import split_header

__all__ = [
    "ERROR_LEVELS",
    "CustomFormat",
    "Record",
    "TimeReader",
    "parse_duration_ms",
    "parse_json",
    "parse_line",
    "parse_text",
]

ERROR_LEVELS = frozenset({"error", "err", "fatal", "critical", "crit", "panic", "alert", "emerg"})
_LEVEL_ALIASES = {
    "warning": "warn",
    "err": "error",
    "crit": "critical",
    "severe": "error",
    "failure": "error",
    "emergency": "emerg",
    "information": "info",
    "fine": "debug",
    "finer": "trace",
    "finest": "trace",
    "verbose": "trace",
    "config": "info",
}
# pino/bunyan numeric levels
_NUMERIC_LEVELS = {10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal"}


class Record(NamedTuple):
    ts: str | float | None  # ISO text or epoch seconds
    level: str | None  # lower case, aliases folded (warning → warn)
    component: str
    message: str
    method: str | None = None
    path: str | None = None
    status: int | None = None
    duration_ms: float | None = None
    format: str = "text"  # json, text, access (a request line), or a custom format's name
    rule: str = ""  # the header shape that took a plain line (:mod:`rota.logscan.headers`)
    said: str | None = None  # a JSON line's own message when an error's text was added to it

    @property
    def is_error(self) -> bool:
        return self.level in ERROR_LEVELS or (self.status is not None and self.status >= 500)


# --------------------------------------------------------------------------- durations

_UNITS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "μs": 1e-3, "ms": 1.0, "s": 1000.0, "sec": 1000.0}
_UNITS |= {"m": 60_000.0, "min": 60_000.0, "h": 3_600_000.0}
_DURATION = re.compile(r"\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*([a-zµμ]*)\s*")


def parse_duration_ms(value: Any, unit: str = "ms") -> float | None:
    """``"12.3ms"`` → 12.3, ``"1.5s"`` → 1500.0, ``2`` with unit ``"s"`` → 2000.0."""
    if isinstance(value, bool):
        return None
    if not isinstance(unit, str):
        return None  # {"unit": ["s"]}: no unit we know
    if isinstance(value, int | float):
        factor = _UNITS.get(unit)
        return None if factor is None else _finite(value, factor)
    if isinstance(value, str):
        m = _DURATION.fullmatch(value)
        if m:
            factor = _UNITS.get(m.group(2) or unit)
            if factor is not None:
                return _finite(m.group(1), factor)
    return None


def _finite(value: int | float | str, factor: float) -> float | None:
    """``value × factor`` rounded, or None for what is no duration (NaN, ∞, 400 digits)."""
    try:
        ms = float(value) * factor
    except OverflowError:
        return None
    return round(ms, 6) if math.isfinite(ms) else None


# --------------------------------------------------------------------------- JSON lines

# python-json-logger writes asctime/levelname; Serilog's CLEF @t/@l/@m
_TIME_KEYS = ("time", "timestamp", "ts", "@timestamp", "datetime", "date", "t", "asctime", "@t")
_LEVEL_KEYS = ("level", "severity", "lvl", "loglevel", "log.level", "levelname", "@l")
_MSG_KEYS = ("msg", "message", "event", "text", "@m", "@mt")
_ERR_KEYS = ("err", "error", "exception", "error.message")
_COMPONENT_KEYS = (
    "component",
    "logger",
    "module",
    "name",
    "service",
    "source",
    "logger_name",
    "SourceContext",
)
_METHOD_KEYS = ("method", "http_method", "request_method", "verb")
_PATH_KEYS = ("path", "url", "uri", "route", "request_uri", "request_path")
_STATUS_KEYS = ("status", "status_code", "statusCode", "response_status", "http_status")
# key → unit of a bare number under it
_DURATION_KEYS = {
    "duration": "ms",
    "duration_ms": "ms",
    "durationMs": "ms",
    "latency": "ms",
    "latency_ms": "ms",
    "elapsed": "ms",
    "elapsed_ms": "ms",
    "response_time": "ms",
    "responseTime": "ms",
    "took": "ms",
    "took_ms": "ms",
    "duration_s": "s",
    "elapsed_s": "s",
    "request_time": "s",
    "duration_us": "us",
    "duration_ns": "ns",
}


def _first(d: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        v = d.get(k)
        if v is not None:
            return v
    return None


def _level(v: Any) -> str | None:
    if isinstance(v, str):
        low = v.lower()
        return _LEVEL_ALIASES.get(low, low)
    if isinstance(v, int) and not isinstance(v, bool):
        return _NUMERIC_LEVELS.get(v - v % 10)
    return None


def _epoch(value: int | float) -> float | None:
    """Epoch seconds from seconds or milliseconds; None for what no clock wrote."""
    try:
        seconds = float(value) / 1000 if value > 1e11 else float(value)  # epoch ms or s
    except OverflowError:
        return None
    return seconds if math.isfinite(seconds) else None


def parse_json(line: str) -> Record | None:
    """A JSON object line as a Record, or None if it is not one."""
    try:
        d = json.loads(line)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than json takes
        return None
    if not isinstance(d, dict):
        return None
    req = d.get("req") if isinstance(d.get("req"), dict) else None  # pino-http layout
    res = d.get("res") if isinstance(d.get("res"), dict) else None
    ts = _first(d, _TIME_KEYS)
    if isinstance(ts, int | float) and not isinstance(ts, bool):
        ts = _epoch(ts)
    elif not isinstance(ts, str):
        ts = None
    msg = _first(d, _MSG_KEYS)
    message = msg if isinstance(msg, str) else "" if msg is None else json.dumps(msg)
    err = _first(d, _ERR_KEYS)
    if isinstance(err, dict):
        err = err.get("message") or err.get("msg") or err.get("type")
    said = None
    if isinstance(err, str) and err:
        said = message or None
        message = f"{message}: {err}" if message else err
    comp = _first(d, _COMPONENT_KEYS)
    method = _first(d, _METHOD_KEYS) or (req and req.get("method"))
    path = _first(d, _PATH_KEYS) or (req and req.get("url"))
    status = _first(d, _STATUS_KEYS)
    if status is None and res is not None:
        status = res.get("statusCode")
    if isinstance(status, str) and status.isascii() and status.isdigit():  # not "²"
        status = int(status)
    duration = None
    for key, unit in _DURATION_KEYS.items():
        if key in d:
            duration = parse_duration_ms(d[key], d.get("unit") or d.get("duration_unit") or unit)
            if duration is not None:
                break
    return Record(
        ts,
        _level(_first(d, _LEVEL_KEYS)),
        comp if isinstance(comp, str) else "",
        message,
        method if isinstance(method, str) else None,
        path if isinstance(path, str) else None,
        status if isinstance(status, int) and not isinstance(status, bool) else None,
        duration,
        "json",
        said=said,
    )


def parse_line(line: str) -> Record | None:
    """A line of any built-in format: a JSON object, or plain text with a known header."""
    return parse_json(line) if line[:1] == "{" else parse_text(line)


# --------------------------------------------------------------------------- plain text


def parse_text(line: str) -> Record | None:
    """A plain line as a Record, its header recognised by shape; None if it has none."""
    h = split_header(line)
    if h is None:
        return None
    if h.message[:1] == "{" and h.rule == "cri":  # a container runtime's prefix on JSON
        rec = parse_json(h.message)
        if rec is not None:
            return rec._replace(ts=rec.ts if rec.ts is not None else h.ts, rule="cri")
    level = h.level
    if level is not None:
        level = level.lower()
        level = _LEVEL_ALIASES.get(level, level)
    if h.method is not None:
        return Record(
            h.ts,
            level,
            h.component,
            "",
            h.method,
            h.path,
            h.status,
            h.duration_ms,
            "access",
            h.rule,
        )
    return Record(h.ts, level, h.component, h.message.rstrip(), format="text", rule=h.rule)


# --------------------------------------------------------------------------- custom


@dataclass
class CustomFormat:
    """A user's format: a regex with named groups ``ts`` (or ``time``), ``level``,
    ``component``, ``message`` (or ``msg``), ``method``, ``path``, ``status``, ``duration``.
    ``time_format`` is a strptime format for ``ts`` when it is not ISO 8601."""

    regex: str
    time_format: str | None = None
    duration_unit: str = "ms"
    name: str = "custom"

    def __post_init__(self) -> None:
        self._rx = re.compile(self.regex)
        self._groups = set(self._rx.groupindex)

    def parse(self, line: str) -> Record | None:
        m = self._rx.match(line)
        if m is None:
            return None
        g = m.groupdict()
        ts: str | float | None = g.get("ts") or g.get("time")
        if ts and self.time_format:
            try:
                dt = datetime.strptime(str(ts), self.time_format)
                ts = dt.timestamp() if dt.tzinfo else dt.isoformat()
            except ValueError:
                ts = None
        level = g.get("level")
        status = g.get("status")
        duration = g.get("duration")
        message = g.get("message") or g.get("msg")
        if message is None:
            message = line[m.end() :] if m.end() < len(line) else line
        return Record(
            ts,
            _LEVEL_ALIASES.get(level.lower(), level.lower()) if level else None,
            g.get("component") or "",
            message.rstrip(),
            g.get("method"),
            g.get("path"),
            int(status) if status and status.isdigit() else None,
            parse_duration_ms(duration, self.duration_unit) if duration else None,
            self.name,
        )


# --------------------------------------------------------------------------- time


class TimeReader:
    """Turns a line's timestamp into a UTC hour key and epoch seconds.

    Hour keys are memoized on the timestamp's first 13 characters plus its offset: a file
    has a few hundred distinct hours and millions of lines, so only the first line of
    each hour pays for a real parse.
    """

    def __init__(self, tz: tzinfo = UTC, year: int | None = None) -> None:
        self.tz = tz
        self.year = year or datetime.now(UTC).year
        self._hours: dict[str, str | None] = {}
        self._hour_epochs: dict[str, int] = {}

    def hour(self, ts: str | float | None) -> str | None:
        """``"2026-11-28T10"`` (UTC) or None."""
        if ts is None:
            return None
        if isinstance(ts, float):
            try:
                return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H")
            except (OverflowError, OSError, ValueError):  # past year 9999, or before year 1
                return None
        key = ts[:13] + ("Z" if ts[-1:] == "Z" else _offset(ts))
        hit = self._hours.get(key, "")
        if hit != "":
            return hit
        dt = self.parse(ts)
        value = dt.strftime("%Y-%m-%dT%H") if dt else None
        self._hours[key] = value
        return value

    def epoch(self, ts: str | float | None) -> float | None:
        if ts is None or isinstance(ts, float):
            return ts
        if _UTC_SECONDS.fullmatch(ts):
            # "YYYY-MM-DDTHH:MM:SS[.ffffff]Z": the hour is parsed once, minutes and seconds
            # added in whole microseconds: exactly what datetime.timestamp() gives
            base = self._hour_epochs.get(ts[:13])
            if base is None:
                dt = self.parse(ts[:13] + ":00:00Z")
                if dt is None:
                    return None
                if len(self._hour_epochs) > 100_000:  # decades of hours in one file
                    self._hour_epochs.clear()
                base = self._hour_epochs[ts[:13]] = int(dt.timestamp())
            seconds = base + int(ts[14:16]) * 60 + int(ts[17:19])
            micros = int(ts[20:-1].ljust(6, "0")) if len(ts) > 20 else 0
            return (seconds * 1_000_000 + micros) / 1_000_000
        dt = self.parse(ts)
        return dt.timestamp() if dt else None

    def parse(self, ts: str) -> datetime | None:
        """A timestamp as an aware UTC datetime, or None if it is not one we read."""
        try:
            if ts[:1].isdigit():
                dt = datetime.fromisoformat(ts.replace(",", ".", 1) if "," in ts else ts)
            else:  # "Nov 28 10:00:01[.123]": syslog, logcat, klog (no year written)
                form = "%Y %b %d %H:%M:%S.%f" if "." in ts[-8:] else "%Y %b %d %H:%M:%S"
                dt = datetime.strptime(f"{self.year} {ts}", form)
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=self.tz)
        try:
            return dt.astimezone(UTC)
        except OverflowError:  # year 1 east of UTC (or 9999 west): before or past datetime
            return None


_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_UTC_SECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:[0-5]\d:[0-5]\d(?:\.\d{1,6})?Z")


def _offset(ts: str) -> str:
    m = _OFFSET.search(ts)
    return m.group(0) if m else ""
