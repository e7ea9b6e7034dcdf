"""Every line of a log assigned to an event group: ``rota logs fingerprint``.

Each line is read as the analyzer reads it (JSON, or plain text whose header is split
off by shape), its message masked by type, and the distinct masked templates are then
clustered (:mod:`rota.logscan.cluster`) to merge the variables no type catches. Lines
are kept as an index into the distinct templates (four bytes a line), so a whole file
is grouped with the clusters known, and a line's group does not depend on where in
the input it came.

A request line (a method and a path: access logs, pino-http, the platform's JSON) is
grouped by its route and status class (``GET /api/users/:id 2xx``), whatever its
message says.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field

from rota.logscan.cluster import cluster
from rota.logscan.fingerprint import fingerprint, group_id
from rota.logscan.formats import Record, parse_line
from rota.logscan.route import template_path

__all__ = ["LineGrouper", "explain", "line_template"]


def line_template(rec: Record | None, line: str) -> str:
    """The masked template a line is grouped by, before clustering."""
    if rec is None:
        return fingerprint(line)[1]
    if rec.method is not None and rec.path is not None:
        status = f"{rec.status // 100}xx" if rec.status is not None else "-"
        return f"{rec.method.upper()} {template_path(rec.path)} {status}"
    # a logged error's own text varies with its cause; the line's message is the event
    message = rec.said or rec.message or rec.component
    return fingerprint(message)[1] if message else ""


def explain(rec: Record | None) -> dict[str, object]:
    """Which format and header rule took a line, and what its header held."""
    if rec is None:
        return {"format": None, "rule": None}
    return {
        "format": rec.format,
        "rule": rec.rule or rec.format,
        "time": rec.ts,
        "level": rec.level,
        "component": rec.component or None,
        "message": rec.message,
    }


@dataclass
class LineGrouper:
    """Collects lines, then yields each line's group once the clusters are known."""

    threshold: float | None = None
    keep_explain: bool = False
    _index: dict[str, int] = field(default_factory=dict)
    _templates: list[str] = field(default_factory=list)
    _lines: list[int] = field(default_factory=list)
    _requests: list[bool] = field(default_factory=list)  # a route key: never clustered
    _assigned: array[int] = field(default_factory=lambda: array("I"))
    _explained: list[dict[str, object]] = field(default_factory=list)

    def add(self, line: str) -> None:
        rec = parse_line(line)
        template = line_template(rec, line)
        i = self._index.get(template)
        if i is None:
            i = self._index[template] = len(self._templates)
            self._templates.append(template)
            self._lines.append(0)
            self._requests.append(
                rec is not None and rec.method is not None and rec.path is not None
            )
        self._lines[i] += 1
        self._assigned.append(i)
        if self.keep_explain:
            self._explained.append(explain(rec))

    def __len__(self) -> int:
        return len(self._assigned)

    def groups(self) -> Iterator[tuple[str, str, dict[str, object] | None]]:
        """``(group id, template, explanation or None)`` for each line added, in order."""
        kwargs = {} if self.threshold is None else {"threshold": self.threshold}
        free = [i for i, fixed in enumerate(self._requests) if not fixed]
        found, merged = cluster(
            [self._templates[i] for i in free], [self._lines[i] for i in free], **kwargs
        )
        index = [0] * len(self._templates)
        for i, c in zip(free, found, strict=True):
            index[i] = c
        for i, fixed in enumerate(self._requests):
            if fixed:
                index[i] = len(merged)
                merged.append(self._templates[i])
        ids = [group_id(t) for t in merged]
        for n, i in enumerate(self._assigned):
            c = index[i]
            why = self._explained[n] if self.keep_explain else None
            yield ids[c], merged[c], why
