"""Group Accuracy (GA): how well a log parser groups lines into events.

GA is the standard measure of log parsing from Zhu et al., "Tools and Benchmarks for
Automated Log Parsing" (ICSE-SEIP 2019, the Loghub benchmark). Each line has a predicted
group (here: rota's fingerprint) and a true group (the labelled event id). A line is
parsed correctly iff the set of lines in its predicted group is exactly the set of lines
in its true group; GA = correctly parsed lines / all lines. Group ids themselves never
matter, only the partition of lines they induce: relabelling either side leaves GA alone,
while splitting a true group or merging two makes all of their lines wrong.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence


def _check(predicted: Sequence[Hashable], truth: Sequence[Hashable]) -> None:
    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predicted groups for {len(truth)} labelled lines")


def correct_lines(predicted: Sequence[Hashable], truth: Sequence[Hashable]) -> list[bool]:
    """Per line: is its predicted group exactly its true group (as sets of lines)?"""
    _check(predicted, truth)
    pred_size = Counter(predicted)
    true_size = Counter(truth)
    pair_size = Counter(zip(predicted, truth, strict=True))
    # The two groups are the same set iff their intersection is as big as each of them.
    return [
        pair_size[p, t] == pred_size[p] == true_size[t]
        for p, t in zip(predicted, truth, strict=True)
    ]


def group_accuracy(predicted: Sequence[Hashable], truth: Sequence[Hashable]) -> float:
    """Fraction of lines whose predicted group is exactly their true group; 1.0 if empty."""
    ok = correct_lines(predicted, truth)
    return sum(ok) / len(ok) if ok else 1.0


def group_counts(predicted: Sequence[Hashable], truth: Sequence[Hashable]) -> tuple[int, int]:
    """(number of predicted groups, number of true groups)."""
    _check(predicted, truth)
    return len(set(predicted)), len(set(truth))
