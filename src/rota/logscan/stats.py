"""Exact latency percentiles with bounded memory.

Percentile definition (documented, tested): **nearest rank**. For ``n`` values sorted
ascending, the p-th percentile is the value at 1-based rank ``ceil(p/100 * n)`` (rank 1
for p = 0); ``max`` is rank ``n``. It is always one of the observed values, so it matches
any reference computation of the same definition exactly (``numpy.percentile(...,
method="inverted_cdf")`` gives the same numbers).

Values are kept as a Counter of value → occurrences, not as a list. Logs write durations
with a fixed precision ("12.3ms"), so a month of one route has tens of thousands of
distinct values however many million requests it served: memory is bounded by precision,
not by corpus size, and merging per-file results is a Counter addition.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["PERCENTILES", "Latency", "nearest_rank"]

PERCENTILES = (50, 90, 95, 99)


def nearest_rank(values: Iterable[float], p: float) -> float:
    """The reference definition on raw values (used by tests and small inputs)."""
    data = sorted(values)
    if not data:
        raise ValueError("no values")
    rank = max(1, math.ceil(p / 100 * len(data)))
    return data[rank - 1]


@dataclass
class Latency:
    """Durations (ms) of one route and method, plus its request and error counts."""

    values: Counter[float] = field(default_factory=Counter)
    requests: int = 0
    errors: int = 0  # 5xx responses

    def add(self, ms: float | None, status: int | None) -> None:
        self.requests += 1
        if status is not None and status >= 500:
            self.errors += 1
        if ms is not None:
            self.values[ms] += 1

    def merge(self, other: Latency) -> None:
        self.values.update(other.values)
        self.requests += other.requests
        self.errors += other.errors

    @property
    def count(self) -> int:
        return sum(self.values.values())

    def percentiles(self, ps: Iterable[float] = PERCENTILES) -> dict[str, float]:
        """``{"p50": .., "p90": .., "p95": .., "p99": .., "max": ..}`` by nearest rank."""
        n = self.count
        if n == 0:
            return {}
        wanted = sorted((max(1, math.ceil(p / 100 * n)), f"p{p:g}") for p in ps)
        out: dict[str, float] = {}
        seen = 0
        i = 0
        keys = sorted(self.values)
        for v in keys:
            seen += self.values[v]
            while i < len(wanted) and wanted[i][0] <= seen:
                out[wanted[i][1]] = v
                i += 1
            if i == len(wanted):
                break
        out["max"] = keys[-1]
        return out

    def summary(self) -> dict[str, float | int]:
        error_rate = self.errors / self.requests if self.requests else 0.0
        return {
            "count": self.requests,
            "timed": self.count,
            **self.percentiles(),
            "errors_5xx": self.errors,
            "error_rate": round(error_rate, 6),
        }
