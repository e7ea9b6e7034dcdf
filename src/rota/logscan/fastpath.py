"""Whole-chunk fast path: the dominant line shapes counted by one regex pass in C.

Most lines of a busy service are not errors: JSON request lines
(``{"time":…,"level":"info","msg":"API request","method":…,"path":…,"status":…,
"duration":"12.3ms"…}``) and plain ``TIMESTAMP INFO [component] …`` lines. For those the
report needs only the hour, the level, and for requests the route, status and duration,
so one compiled bytes regex runs over a whole chunk (``findall``: one tuple per line, no
Python code per line) and identical tuples are counted with ``Counter`` (also C).

Exactness is the rule, speed the bonus. A line is taken here only when its *whole* shape
guarantees the per-line parser would give the same record:

- the JSON shape is matched to the end of the line with a fixed key order and only the
  keys above plus ``request_id``; no escapes, status below 500, level not an error, a
  ``…Z`` timestamp, a path whose digits (if any) are its last segment and hold no
  ``?#@`` (so its route follows from the part before the digits);
- the plain shape needs a ``…Z`` timestamp and an upper-case non-error level token
  followed by `` [`` (the component); the rest of the line does not matter for a
  non-error line. The level token decides: ``INFO [api] … ERROR …`` is an info line on
  both paths (the message is not searched for level words).

Everything else (errors, 5xx, other layouts, blank-looking lines) is captured whole by the
last alternative and handed, with its line number, to :class:`LineParser`. Whole chunks go
to the per-line path when they hold ``\\r``, NUL or invalid UTF-8, and the fast path is off
when a custom format is configured (it is tried first on every line).

The same classification is compiled in ``rota.logscan._linescan`` (C, built at install when a
compiler is there): it walks the lines with ``memchr`` and counts per hour and route as it
goes, about 4x the regex's speed. The regex is the reference and the fallback; tests hold
the two to the same results on adversarial lines.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import compress
from operator import itemgetter
from typing import Any

from rota.logscan.analyze import LineParser
from rota.logscan.formats import ERROR_LEVELS, parse_duration_ms
from rota.logscan.route import template_path
from rota.logscan.stats import Latency

try:
    from rota.logscan import _linescan
except ImportError:  # built without a C compiler: the regex path gives the same results
    _linescan = None

__all__ = ["COMPILED", "LINE", "scan_chunk"]

COMPILED = _linescan is not None

# Minutes and seconds are bounded so every timestamp taken here parses (its hour decides).
_TS = rb"(\d{4}-\d\d-\d\dT\d\d):[0-5]\d:[0-5]\d(?:\.\d{1,9})?Z"
LINE = re.compile(
    rb"\n(?:"
    rb'\{"time":"' + _TS + rb'","level":"(trace|debug|info|notice|warn|warning)",'
    rb'"msg":"API request","method":"([A-Z]{3,7})",'
    # JSON forbids raw control characters in strings, so a line holding one is left to the
    # per-line parser, which reports it unparsed as json.loads does.
    # the route part: the path up to its first digit, plus that digit if it starts the
    # last segment; the remaining digits must end the path
    rb'"path":"(/[^"\\\x00-\x1f0-9@?#]*(?:(?<=/)\d)?)(?:(?<=\d)\d*)?",'
    rb'"status":[1-4]\d\d,"duration":"(\d{1,9}(?:\.\d{1,6})?)ms"'
    rb'(?:,"request_id":"[^"\\\x00-\x1f]*")?\}(?=\n)'
    rb"|" + _TS + rb" (TRACE|DEBUG|INFO|NOTICE|WARN|WARNING) \["
    rb"|([^\n]*)"
    rb")"
)
_OTHER = 7  # index of the catch-all group in a findall tuple
_LEVELS = {
    b"trace": "trace",
    b"debug": "debug",
    b"info": "info",
    b"notice": "notice",
    b"warn": "warn",
    b"warning": "warn",
}


def scan_chunk(data: bytes, n: int, parser: LineParser, *, compiled: bool = COMPILED) -> int | None:
    """Add the lines of ``data`` (complete lines, numbered from ``n + 1``) to the parser's
    results; the new line count, or None when the chunk must go line by line."""
    if b"\r" in data or b"\x00" in data:
        return None
    if not data.isascii():
        try:
            data.decode()
        except UnicodeDecodeError:
            return None
    if compiled and _linescan is not None:
        return _scan_compiled(data, n, parser)
    rows = LINE.findall(b"\n" + data)
    rows.pop()  # the empty match at the chunk's final newline
    line = parser.line
    for i in compress(range(len(rows)), map(itemgetter(_OTHER), rows)):
        line(rows[i][_OTHER], n + i + 1)
    _count(Counter(rows), parser)
    return n + len(rows)


def _count(counts: Counter[tuple[bytes, ...]], parser: LineParser) -> None:
    """The regex path's tuples, as the per-hour and per-route tallies :func:`_fold` takes."""
    json_hours: Counter[tuple[bytes, str]] = Counter()
    text_hours: Counter[tuple[bytes, str]] = Counter()
    routes: dict[tuple[bytes, bytes], list[Any]] = {}
    durations: dict[bytes, float | None] = {}
    blank = 0
    for key, c in counts.items():
        h, level, method, route, duration, th, tlevel, other = key
        if other:
            continue  # taken line by line
        if h:
            json_hours[(h, _LEVELS[level])] += c
            entry = routes.setdefault((method, route), [0, Counter()])
            entry[0] += c
            ms = durations.get(duration, -1.0)
            if ms == -1.0:
                ms = durations[duration] = parse_duration_ms(duration.decode() + "ms")
            if ms is not None:
                entry[1][ms] += c
        elif th:
            text_hours[(th, _LEVELS[tlevel.lower()])] += c
        else:
            blank += c  # empty lines (whitespace-only ones went line by line)
    _fold(parser, blank, json_hours, text_hours, routes)


def _scan_compiled(data: bytes, n: int, parser: LineParser) -> int:
    lines, blank, json_hours, text_hours, routes, other_index, other_items = _linescan.scan(data)
    line = parser.line
    for i, item in zip(other_index, other_items, strict=True):
        if type(item) is bytes:
            line(item, n + i + 1)
            continue
        # a plain error line the classifier read (its counts are in text_hours)
        level, start, end, component, message, epoch = item
        parser.error(component, message, level, epoch, n + i + 1, data[start:end])
    _fold(parser, blank, json_hours, text_hours, routes)
    return n + lines


def _fold(
    parser: LineParser,
    blank: int,
    json_hours: dict[tuple[bytes, str], int],
    text_hours: dict[tuple[bytes, str], int],
    routes: dict[tuple[bytes, bytes], Any],
) -> None:
    """Add the fast path's tallies to the results: JSON request lines per (hour, level),
    plain lines per (hour, level) (errors among them), requests and durations per
    (method, route prefix)."""
    res = parser.res
    hour_of = parser.times.hour
    levels = res.levels
    json_lines = text_lines = 0
    for (h, level), c in json_hours.items():
        row = parser.row(hour_of(h.decode() + ":00:00Z"))
        row[0] += c
        row[1] += c
        levels[level] += c
        json_lines += c
    for (h, level), c in text_hours.items():
        row = parser.row(hour_of(h.decode() + ":00:00Z"))
        row[0] += c
        if level in ERROR_LEVELS:
            row[2] += c
            res.errors += c
        levels[level] += c
        text_lines += c
    for (method, route), (requests, durations) in routes.items():
        name = f"{method.decode()} {template_path(route.decode())}"
        lat = res.routes.get(name)
        if lat is None:
            lat = res.routes[name] = Latency()
        lat.requests += requests
        values = lat.values
        for ms, c in durations.items():
            values[ms] += c
    res.blank += blank
    res.requests += json_lines
    if json_lines:
        res.formats["json"] += json_lines
    if text_lines:
        res.formats["text"] += text_lines
