"""One pass over one file's lines into a :class:`Results` (the hot loop).

Kept free of I/O decisions (the reader supplies blocks) and of caching (``scan`` decides
what to read), so a worker process runs exactly this function.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, tzinfo
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from rota.logscan.fastpath import scan_chunk
from rota.logscan.fingerprint import fingerprint, group_id, mask
from rota.logscan.formats import ERROR_LEVELS, CustomFormat, TimeReader, parse_line
from rota.logscan.reader import ReadReport, read_chunks
from rota.logscan.results import MAX_SAMPLES, Group, Results
from rota.logscan.route import template_path
from rota.logscan.stats import Latency

__all__ = ["LineParser", "ParseSettings", "analyze_file", "error_template"]

SAMPLE_CHARS = 500


@dataclass(frozen=True)
class ParseSettings:
    """What changes how a line is read; part of the cache key (a change re-reads all)."""

    timezone: str = "UTC"
    custom_regex: str | None = None
    custom_time_format: str | None = None
    custom_duration_unit: str = "ms"

    def tz(self) -> tzinfo:
        return UTC if self.timezone.upper() == "UTC" else ZoneInfo(self.timezone)

    def custom(self) -> CustomFormat | None:
        if not self.custom_regex:
            return None
        return CustomFormat(self.custom_regex, self.custom_time_format, self.custom_duration_unit)


def error_template(component: str, message: str) -> tuple[str, str]:
    """Group id and template of an error: its component plus its masked message."""
    _, template = fingerprint(message)
    return _with_component(component, template)


@lru_cache(maxsize=16384)
def _with_component(component: str, template: str) -> tuple[str, str]:
    if component:  # a thread or tag may carry ids too ("pool-1-thread-3", "handler 5")
        template = f"[{mask(component)}] {template}"
    return group_id(template), template


class LineParser:
    """The exact per-line path: every line the fast path does not recognise comes here."""

    def __init__(self, res: Results, settings: ParseSettings, name: str) -> None:
        self.res = res
        self.custom = settings.custom()
        self.times = TimeReader(settings.tz())
        self.name = name

    def row(self, hour: str | None) -> list[int]:
        timeline = self.res.timeline
        row = timeline.get(hour or "unknown")
        if row is None:
            row = timeline[hour or "unknown"] = [0, 0, 0, 0]
        return row

    def line(self, raw: bytes, n: int) -> None:
        """Parse line number ``n`` (without its newline) into the results."""
        res = self.res
        if raw[-1:] == b"\r":
            raw = raw[:-1]
        if not raw.strip():
            res.blank += 1
            return
        try:
            line = raw.decode()
        except UnicodeDecodeError:
            res.invalid_utf8 += 1
            line = raw.decode(errors="replace")
        rec = None
        if "\x00" in line:
            res.binary += 1
        else:
            if self.custom is not None:
                rec = self.custom.parse(line)
            if rec is None:
                rec = parse_line(line)
        if rec is None:
            res.unparsed += 1
            if len(res.unparsed_samples) < MAX_SAMPLES:
                res.unparsed_samples.append(f"{self.name}:{n}: {line[:200]!r}")
            return
        res.formats[rec.format] += 1
        level = rec.level
        if level:
            res.levels[level] += 1
        row = self.row(self.times.hour(rec.ts))
        row[0] += 1
        status = rec.status
        server_error = status is not None and status >= 500
        if rec.path is not None and rec.method is not None:
            res.requests += 1
            row[1] += 1
            if server_error:
                row[3] += 1
            key = f"{rec.method.upper()} {template_path(rec.path)}"
            lat = res.routes.get(key)
            if lat is None:
                lat = res.routes[key] = Latency()
            lat.add(rec.duration_ms, status)
        if server_error or level in ERROR_LEVELS:
            res.errors += 1
            row[2] += 1
            message = rec.message
            if server_error and rec.format != "text" and ": " not in message:
                route = template_path(rec.path) if rec.path else ""
                message = f"{message} {rec.method or ''} {route} HTTP {status}"
            self.error(rec.component, message, level or "error", self.times.epoch(rec.ts), n, line)

    def error(
        self,
        component: str,
        message: str,
        level: str,
        epoch: float | None,
        n: int,
        line: str | bytes,
    ) -> None:
        """Add error line ``n`` to its group (``line`` becomes the sample of a new group)."""
        gid, template = error_template(component, message)
        groups = self.res.groups
        g = groups.get(gid)
        if g is None:
            g = groups[gid] = Group(gid, template, component, level)
            text = line.decode() if isinstance(line, bytes) else line
            g.sample, g.sample_at = text[:SAMPLE_CHARS], f"{self.name}:{n}"
        g.add(epoch)


def analyze_file(
    path: Path,
    start: int,
    compressed: bool,
    first_line: int,
    settings: ParseSettings,
    *,
    fast: bool = True,
    stop: int | None = None,
) -> tuple[Results, ReadReport, int]:
    """Parse ``path`` from byte ``start``; returns results, the read report and the number
    of lines consumed (to continue line numbering on the next incremental read).

    ``fast`` lets whole chunks go through :mod:`rota.logscan.fastpath` (same results,
    checked by tests); it is off when a custom format is configured, since that format
    is tried before the built-in ones on every line."""
    res = Results()
    report = ReadReport()
    parser = LineParser(res, settings, path.name)
    use_fast = fast and parser.custom is None
    n = first_line
    for data in read_chunks(path, start, compressed, report, stop=stop):
        if use_fast:
            done = scan_chunk(data, n, parser)
            if done is not None:
                n = done
                continue
        lines = data.split(b"\n")
        lines.pop()
        line = parser.line
        for raw in lines:
            n += 1
            line(raw, n)
    res.lines = n - first_line
    res.oversized = report.oversized
    res.lines += report.oversized
    res.unparsed += report.oversized
    res.problems += report.problems
    return res, report, n - first_line
