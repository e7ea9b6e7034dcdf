"""Whole-chunk fast path: the dominant line shapes counted without Python code per line.

Most lines of a busy service are not errors: JSON lines from whatever logger the service
uses (pino and pino-http, winston, bunyan, structlog, hand-rolled ones: any key order, any
extra keys) and plain ``TIMESTAMP INFO [component] …`` lines. For those the report needs
only the hour, the level, and for requests the route, status and duration, so whole chunks
are classified and counted at once. Error lines the compiled classifier reads (plain
``TIMESTAMP ERROR [component] message`` lines, JSON errors and 5xx) are counted the same way
and handed back with what :meth:`LineParser.error` needs to group them.

Exactness is the rule, speed the bonus. A line is taken here only when it is certain the
per-line parser (:class:`LineParser`) would give the same record; everything else (other
layouts, anything unusual, and on the regex path every error) is handed, with its line
number, to the per-line parser. Whole chunks go to the per-line path when they hold ``\\r``, NUL or invalid UTF-8,
and the fast path is off when a custom format is configured (it is tried first on every line).

Two implementations, the same results:

- ``rota.logscan._linescan`` (C, built at install when a compiler is there) reads any JSON
  object line the way :func:`formats.parse_json` does, by key name (see ``_jsonline.c``),
  and the plain shape below. It is given formats.py's own key tables by :func:`configure`
  at import, so the key names and units are written once.
- the pure-Python fallback, one bytes regex (``findall``: one tuple per line) whose tuples
  are counted with ``Counter``. It takes the platform's own JSON request shape
  (``{"time":…,"level":"info","msg":"API request","method":…,"path":…,"status":…,
  "duration":"12.3ms"…}`` in that key order, no escapes, status below 500, a path whose
  digits, if any, are its last segment) and leaves every other JSON line to the per-line
  parser.

Both take plain lines with an ISO timestamp and an upper-case non-error level token
followed by `` [`` (the component); the rest of the line does not matter for a non-error
line. The level token decides: ``INFO [api] … ERROR …`` is an info line on both paths. The
regex wants ``…Z`` timestamps; the C classifier also takes the other forms parse_text
reads as a timestamp (``T`` or a space, ``.`` or ``,`` fractions, an offset or none:
log4j's and Python logging's ``2026-11-28 10:00:01,123``), since the hour comes from
``TimeReader.hour`` on the line's own text either way.

Hours follow :meth:`TimeReader.hour` exactly, memo included: it remembers the hour of a
time string's first 13 characters plus zone, so every line sharing that key gets the
first such line's hour. Lines are counted per key, and the first line of each key is given
to ``TimeReader.hour`` in line order, between the per-line parser's lines, so the reader
sees the same first lines whichever path runs.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from itertools import compress
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from rota.logscan import formats
from rota.logscan.formats import ERROR_LEVELS, parse_duration_ms
from rota.logscan.route import template_path
from rota.logscan.stats import Latency

if TYPE_CHECKING:  # the parser hands itself in; fastpath never builds one
    from rota.logscan.analyze import LineParser

try:
    from rota.logscan import _linescan
except ImportError:  # built without a C compiler: the regex path gives the same results
    _linescan = None

__all__ = ["COMPILED", "LINE", "configure", "scan_chunk"]

# What parse_json reads besides formats.py's key tuples, written in its code: the pino-http
# sub-objects and their keys, the keys that change a duration's unit (a line holding one
# goes per line), and where epoch numbers switch from seconds to milliseconds. Tests hold
# parse_json to these.
REQ_KEY, REQ_FIELDS = "req", ("method", "url")
RES_KEY, RES_STATUS = "res", "statusCode"
ERR_FIELDS = ("message", "msg", "type")  # an err object's text, in parse_json's `or` order
UNIT_KEYS = ("unit", "duration_unit")
EPOCH_MS_ABOVE = 1e11


def configure() -> bool:
    """Give the compiled JSON reader formats.py's own key tables (called at import, so the
    names are written once, in formats.py); False if the module is not built."""
    if _linescan is None or not hasattr(_linescan, "configure"):
        return False  # not built, or an older build: the regex path
    f = formats
    _linescan.configure(
        (
            f._TIME_KEYS,
            f._LEVEL_KEYS,
            f._METHOD_KEYS,
            f._PATH_KEYS,
            f._STATUS_KEYS,
            tuple(f._DURATION_KEYS),
            (REQ_KEY,),
            (RES_KEY,),
            UNIT_KEYS,
            f._MSG_KEYS,
            f._ERR_KEYS,
            f._COMPONENT_KEYS,
        ),
        tuple(f._DURATION_KEYS.values()),
        REQ_FIELDS,
        RES_STATUS,
        ERR_FIELDS,
        tuple(f._UNITS.items()),
        tuple(f._LEVEL_ALIASES.items()),
        tuple(f._NUMERIC_LEVELS.items()),
        tuple(ERROR_LEVELS),
        EPOCH_MS_ABOVE,
    )
    return True


COMPILED = configure()

# The regex path's timestamps: "…Z" with bounded minutes and seconds. The hour itself comes
# from TimeReader.hour on the first line of each hour key (see _per_line).
_TS = rb"(\d{4}-\d\d-\d\dT\d\d)(:[0-5]\d:[0-5]\d(?:\.\d{1,9})?Z)"
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
_OTHER = 9  # index of the catch-all group in a findall tuple
_LEVELS = {
    b"trace": "trace",
    b"debug": "debug",
    b"info": "info",
    b"notice": "notice",
    b"warn": "warn",
    b"warning": "warn",
}

# (index of a key's first line, hour key, time string)
_First = tuple[int, bytes, bytes]
# (hour key | epoch hour | None, level, plain text?, lines, requests, errors, 5xx requests)
_Tally = tuple[bytes | int | None, str | None, bool, int, int, int, int]
# (method, route key) -> [requests, {ms: count} exact, {ms: count} to round, 5xx]
_Routes = dict[tuple[bytes, bytes], Any]


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
    firsts = _firsts(rows)
    others = compress(range(len(rows)), map(itemgetter(_OTHER), rows))
    _per_line(parser, firsts, ((i, rows[i][_OTHER]) for i in others), n, b"")
    _count(Counter(rows), parser, firsts)
    return n + len(rows)


def _firsts(rows: list[tuple[bytes, ...]]) -> list[_First]:
    """The first line of each hour key among the regex's rows (JSON and plain columns)."""
    found: dict[bytes, tuple[int, bytes]] = {}
    for col in (0, 6):
        hours = list(map(itemgetter(col), rows))
        at = 0
        for h in dict.fromkeys(hours):
            if not h:
                continue
            at = hours.index(h, at)
            key = h + b"Z"
            if key not in found or found[key][0] > at:
                found[key] = (at, h + rows[at][col + 1])
    return sorted((at, key, ts) for key, (at, ts) in found.items())


def _per_line(
    parser: LineParser,
    firsts: list[_First],
    items: Iterable[tuple[int, Any]],
    n: int,
    data: bytes,
) -> None:
    """The lines the fast path left, through the per-line parser in order, each hour key's
    first fast line given to TimeReader.hour before the lines that follow it."""
    hour_of = parser.times.hour
    epoch_of = parser.times.epoch
    line = parser.line
    error = parser.error
    k, nfirst = 0, len(firsts)
    for i, item in items:
        while k < nfirst and firsts[k][0] < i:
            hour_of(firsts[k][2].decode())
            k += 1
        if type(item) is bytes:
            line(item, n + i + 1)
            continue
        # an error line the classifier read (its counts are in the tallies), as
        # LineParser.line hands it to parser.error: a 5xx whose message holds no ": " names
        # its request; a time string the classifier did not turn into epoch seconds is
        # TimeReader.epoch's
        level, start, end, component, message, epoch, http = item
        if http is not None:
            method, path, status = http
            message = f"{message} {method} {template_path(path) if path else ''} HTTP {status}"
        if type(epoch) is str:
            epoch = epoch_of(epoch)
        error(component, message, level, epoch, n + i + 1, data[start:end])


def _count(counts: Counter[tuple[bytes, ...]], parser: LineParser, firsts: list[_First]) -> None:
    """The regex path's tuples, as the tallies :func:`_fold` takes."""
    tallies: Counter[tuple[bytes, str, bool]] = Counter()
    routes: _Routes = {}
    durations: dict[bytes, float | None] = {}
    blank = 0
    for key, c in counts.items():
        h, _, level, method, route, duration, th, _, tlevel, other = key
        if other:
            continue  # taken line by line
        if h:
            tallies[(h + b"Z", _LEVELS[level], False)] += c
            entry = routes.setdefault((method, route), [0, Counter(), {}, 0])
            entry[0] += c
            ms = durations.get(duration, -1.0)
            if ms == -1.0:
                ms = durations[duration] = parse_duration_ms(duration.decode() + "ms")
            if ms is not None:
                entry[1][ms] += c
        elif th:
            tallies[(th + b"Z", _LEVELS[tlevel.lower()], True)] += c
        else:
            blank += c  # empty lines (whitespace-only ones went line by line)
    rows = [(h, level, text, c, 0 if text else c, 0, 0) for (h, level, text), c in tallies.items()]
    _fold(parser, blank, rows, routes, firsts)


def _scan_compiled(data: bytes, n: int, parser: LineParser) -> int:
    lines, blank, tallies, routes, firsts, other_index, other_items = _linescan.scan(data)
    _per_line(parser, firsts, zip(other_index, other_items, strict=True), n, data)
    _fold(parser, blank, tallies, routes, firsts)
    return n + lines


@lru_cache(maxsize=4096)
def _epoch_hour(hour: int) -> str:
    """TimeReader.hour of any epoch time within this whole hour."""
    return datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y-%m-%dT%H")


def _fold(
    parser: LineParser,
    blank: int,
    tallies: Iterable[_Tally],
    routes: _Routes,
    firsts: list[_First],
) -> None:
    """Add the fast path's tallies to the results: lines per (hour, level) (errors and 5xx
    among them), requests, durations and 5xx per (method, route key)."""
    res = parser.res
    hour_of = parser.times.hour
    first_ts = {key: ts for _, key, ts in firsts}
    levels = res.levels
    hours: dict[bytes | int | None, str | None] = {None: None}
    json_lines = text_lines = requests = errors = 0
    for key, level, text, count, reqs, errs, failed in tallies:
        hour = hours.get(key, "")
        if hour == "":
            if type(key) is int:
                hour = hours[key] = _epoch_hour(key)
            else:  # the key's first line went to TimeReader.hour already: the memo answers
                hour = hours[key] = hour_of(first_ts[key].decode())  # type: ignore[index]
        row = parser.row(hour)
        row[0] += count
        row[1] += reqs
        row[2] += errs
        row[3] += failed
        requests += reqs
        errors += errs
        if level:
            levels[level] += count
        if text:
            text_lines += count
        else:
            json_lines += count
    for (method, key), (count, exact, raw, failed) in routes.items():
        name = f"{method.decode().upper()} {template_path(key.decode())}"
        lat = res.routes.get(name)
        if lat is None:
            lat = res.routes[name] = Latency()
        lat.requests += count
        lat.errors += failed
        values = lat.values
        for ms, c in exact.items():
            values[ms] += c
        for ms, c in raw.items():
            values[round(ms, 6)] += c
    res.blank += blank
    res.requests += requests
    res.errors += errors
    if json_lines:
        res.formats["json"] += json_lines
    if text_lines:
        res.formats["text"] += text_lines
