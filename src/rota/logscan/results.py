"""The results model: what a scan of one file (or of many, merged) found.

Every field merges by addition (or min/max for first/last seen), so per-file results
computed in worker processes, or kept from earlier runs in the cache, combine into the
same totals a single cold pass would give.
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rota.logscan.stats import Latency

__all__ = ["Group", "Results"]

MAX_SAMPLES = 5
_STATE_VERSION = 1


@dataclass
class Group:
    """One error group: every error line whose fingerprint is this template."""

    id: str
    template: str
    component: str
    level: str
    count: int = 0
    first: float | None = None  # epoch seconds from the line's own timestamp
    last: float | None = None
    sample: str = ""
    sample_at: str = ""  # "file:line"
    times: array[float] = field(default_factory=lambda: array("d"))  # for "recent" queries
    members: list[str] = field(default_factory=list)  # ids of the templates clustered here

    def add(self, epoch: float | None) -> None:
        self.count += 1
        if epoch is not None:
            self.times.append(epoch)
            if self.first is None or epoch < self.first:
                self.first = epoch
            if self.last is None or epoch > self.last:
                self.last = epoch

    def merge(self, other: Group) -> None:
        self.count += other.count
        self.times.extend(other.times)
        for t in (other.first, other.last):
            if t is not None:
                self.first = t if self.first is None else min(self.first, t)
                self.last = t if self.last is None else max(self.last, t)
        # The sample is the group's earliest line by (file, line number), whatever the merge
        # order: a running total updated run after run keeps the sample a cold scan picks.
        if other.sample and (not self.sample or _at(other.sample_at) < _at(self.sample_at)):
            self.sample, self.sample_at = other.sample, other.sample_at

    def count_since(self, since: float, until: float | None = None) -> int:
        """Lines from ``since`` on (and before ``until``), by each line's own time."""
        if until is None:
            return sum(1 for t in self.times if t >= since)
        return sum(1 for t in self.times if since <= t < until)

    def to_dict(self, total_errors: int = 0) -> dict[str, Any]:
        return {
            "group": self.id,
            "template": self.template,
            "component": self.component,
            "level": self.level,
            "count": self.count,
            "share": round(self.count / total_errors, 4) if total_errors else None,
            "first_seen": _iso(self.first),
            "last_seen": _iso(self.last),
            "sample": self.sample,
            "sample_at": self.sample_at,
        }


def _at(where: str) -> tuple[str, int]:
    """``"file:line"`` (also the head of an unparsed sample) as a sortable key."""
    name, _, rest = where.partition(": ")[0].rpartition(":")
    return (name, int(rest)) if rest.isdigit() else (where, 0)


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Results:
    """Counts, error groups, per-route latency and an hourly timeline."""

    lines: int = 0
    blank: int = 0
    unparsed: int = 0
    invalid_utf8: int = 0
    binary: int = 0
    oversized: int = 0
    errors: int = 0
    requests: int = 0
    formats: Counter[str] = field(default_factory=Counter)
    levels: Counter[str] = field(default_factory=Counter)
    unparsed_samples: list[str] = field(default_factory=list)
    groups: dict[str, Group] = field(default_factory=dict)
    routes: dict[str, Latency] = field(default_factory=dict)
    # hour ("2026-11-28T10", UTC) -> [lines, requests, errors, 5xx]
    timeline: dict[str, list[int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    # events() of the groups as they were: (group count, error count) then the events
    _events: tuple[tuple[int, int], dict[str, Group]] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def parsed(self) -> int:
        return self.lines - self.blank - self.unparsed

    @property
    def error_rate(self) -> float:
        denominator = self.parsed
        return self.errors / denominator if denominator else 0.0

    def events(self) -> dict[str, Group]:
        """The error groups with their templates clustered (:mod:`rota.logscan.cluster`):
        the variables no mask knows (user, host, job names) merged. ``groups`` stays by
        masked template, which merges exactly across files and runs; this is computed
        from it, over distinct templates, once for as long as no error is added."""
        from rota.logscan.cluster import cluster
        from rota.logscan.fingerprint import group_id

        key = (len(self.groups), self.errors)
        if self._events is not None and self._events[0] == key:
            return self._events[1]

        ordered = sorted(self.groups.values(), key=lambda g: g.id)
        index, merged = cluster([g.template for g in ordered], [g.count for g in ordered])
        events: dict[int, Group] = {}
        for g, c in zip(ordered, index, strict=True):
            event = events.get(c)
            if event is None:
                template = merged[c]
                event = events[c] = Group(group_id(template), template, g.component, g.level)
            event.merge(g)
            event.members.append(g.id)
        found = {e.id: e for e in events.values()}
        self._events = (key, found)
        return found

    def merge(self, other: Results) -> Results:
        for name in ("lines", "blank", "unparsed", "invalid_utf8", "binary", "oversized"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors
        self.requests += other.requests
        self.formats.update(other.formats)
        self.levels.update(other.levels)
        if other.unparsed_samples:  # the first lines by (file, line), as for group samples
            both = self.unparsed_samples + other.unparsed_samples
            self.unparsed_samples = sorted(both, key=_at)[:MAX_SAMPLES]
        for gid, g in other.groups.items():
            mine = self.groups.get(gid)
            if mine is None:
                mine = self.groups[gid] = Group(gid, g.template, g.component, g.level)
            mine.merge(g)
        for key, lat in other.routes.items():
            self.routes.setdefault(key, Latency()).merge(lat)
        for hour, row in other.timeline.items():
            mine_row = self.timeline.setdefault(hour, [0, 0, 0, 0])
            for i, v in enumerate(row):
                mine_row[i] += v
        self.problems += other.problems
        return self

    def to_state(self) -> tuple[Any, ...]:
        """Built-in types only (for ``marshal``): the cache stores results in this form
        so loading them needs no per-object unpickling."""
        return (
            _STATE_VERSION,
            self.lines,
            self.blank,
            self.unparsed,
            self.invalid_utf8,
            self.binary,
            self.oversized,
            self.errors,
            self.requests,
            dict(self.formats),
            dict(self.levels),
            list(self.unparsed_samples),
            [
                (g.id, g.template, g.component, g.level, g.count, g.first, g.last)
                for g in self.groups.values()
            ],
            [(g.sample, g.sample_at, g.times.tobytes()) for g in self.groups.values()],
            {k: (dict(v.values), v.requests, v.errors) for k, v in self.routes.items()},
            {h: list(row) for h, row in self.timeline.items()},
            list(self.problems),
        )

    @classmethod
    def from_state(cls, state: tuple[Any, ...]) -> Results:
        if state[0] != _STATE_VERSION:
            raise ValueError(f"results state version {state[0]!r}")
        res = cls(*state[1:9])
        res.formats = Counter(state[9])
        res.levels = Counter(state[10])
        res.unparsed_samples = state[11]
        for fields, (sample, at, times) in zip(state[12], state[13], strict=True):
            g = res.groups[fields[0]] = Group(*fields)
            g.sample, g.sample_at = sample, at
            g.times.frombytes(times)
        for key, (values, requests, errors) in state[14].items():
            res.routes[key] = Latency(Counter(values), requests, errors)
        res.timeline = state[15]
        res.problems = state[16]
        return res

    def top_groups(
        self, limit: int = 20, since: float | None = None, until: float | None = None
    ) -> list[Group]:
        """Groups by count (within ``since`` when given), largest first; ties by template."""
        events = self.events().values()
        if since is None and until is None:
            ranked = sorted(events, key=lambda g: (-g.count, g.template))
            return ranked[:limit]
        counted = [(g.count_since(since or 0.0, until), g) for g in events]
        counted = [(n, g) for n, g in counted if n]
        counted.sort(key=lambda x: (-x[0], x[1].template))
        return [g for _, g in counted[:limit]]

    def errors_since(self, since: float, until: float | None = None) -> int:
        return sum(g.count_since(since, until) for g in self.groups.values())

    def summary(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "parsed": self.parsed,
            "unparsed": self.unparsed,
            "blank": self.blank,
            "invalid_utf8": self.invalid_utf8,
            "binary": self.binary,
            "oversized": self.oversized,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 6),
            "requests": self.requests,
            "groups": len(self.events()),
            "formats": dict(self.formats),
            "problems": self.problems[:20],
        }
