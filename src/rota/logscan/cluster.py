"""Clustering of masked templates: the variables that have no type.

Masking by type (:mod:`rota.logscan.fingerprint`) turns ids, addresses, numbers and
paths into ``<TYPE>``, but a user name, a host or program name, a job name carry no
type: ``session opened for user root`` and ``... user news`` stay two templates of one
event. Those are merged here over the *distinct* templates (with how many lines each had),
never over lines, so the cost follows the number of shapes a log has and not its volume:

1. Templates with the same constant words in the same order are one event whose
   variables vary in length (``1293 bytes`` or ``1293 bytes (1.26 KB)``).
2. Drain's rule: templates of the same token count and the same first token are
   candidates for one cluster; a template joins the cluster it is most similar to when
   the share of positions holding the same token reaches the threshold, and the positions
   that differ become ``<*>``.
3. A cluster is split again where a ``<*>`` only ever held two plain words, or upper-case
   states: constants of different events, not variables.

Templates are taken in a fixed order (most lines first, then by text), so the same set of
templates always gives the same clusters whichever order their lines came in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["WILDCARD", "cluster"]

WILDCARD = "<*>"
THRESHOLD = 0.5


@dataclass
class _Cluster:
    tokens: list[str]
    number: int = 0  # its place in its bucket
    lines: int = 0
    members: list[int] = field(default_factory=list)
    wild: int = 0  # how many positions are <*>

    def absorb(self, tokens: Sequence[str], lines: int, member: int) -> list[tuple[int, str]]:
        """Take a template in: the positions where it differs become ``<*>`` (returned, with
        the token each held)."""
        widened = []
        for p, tok in enumerate(tokens):
            old = self.tokens[p]
            if old != tok and old != WILDCARD:
                widened.append((p, old))
                self.tokens[p] = WILDCARD
        self.wild += len(widened)
        self.lines += lines
        self.members.append(member)
        return widened


@dataclass
class _Bucket:
    """The clusters of one length and first token, with an index of their tokens by
    position: a template is compared only with the clusters it shares tokens with, so a
    log of many distinct shapes is not compared pair by pair."""

    clusters: list[_Cluster] = field(default_factory=list)
    index: dict[tuple[int, str], set[int]] = field(default_factory=dict)

    def best(self, tokens: list[str], threshold: float) -> _Cluster | None:
        """The most similar cluster at or above the threshold (ties: the more general)."""
        n = len(tokens)
        shared: dict[int, int] = {}
        if 1 / n >= threshold:  # the first token alone is similar enough: any cluster is
            shared = dict.fromkeys(range(len(self.clusters)), 0)
        else:
            for p in range(1, n):
                for i in self.index.get((p, tokens[p]), ()):
                    shared[i] = shared.get(i, 0) + 1
        best: _Cluster | None = None
        best_score = (-1.0, 0)
        for i, same in shared.items():
            c = self.clusters[i]
            score = ((same + 1) / n, c.wild)
            if score[0] >= threshold and score > best_score:
                best, best_score = c, score
        return best

    def add(self, tokens: list[str]) -> _Cluster:
        c = _Cluster(list(tokens), number=len(self.clusters))
        self.clusters.append(c)
        for p in range(1, len(tokens)):
            self.index.setdefault((p, tokens[p]), set()).add(c.number)
        return c

    def absorb(self, c: _Cluster, tokens: list[str], lines: int, member: int) -> None:
        for p, old in c.absorb(tokens, lines, member):
            if p:
                self.index[(p, old)].discard(c.number)


def cluster(
    templates: Sequence[str], lines: Sequence[int] | None = None, threshold: float = THRESHOLD
) -> tuple[list[int], list[str]]:
    """Cluster ``templates`` (distinct, masked); ``lines`` is how many lines each had.

    Returns the cluster index of each template and each cluster's template (its tokens,
    ``<*>`` where members differ)."""
    counts = lines if lines is not None else [1] * len(templates)
    # Templates with the same constant words in the same order are one event whose
    # variables vary in length; the one with most lines stands for them below.
    groups: dict[tuple[str, ...], list[int]] = {}
    for i in sorted(range(len(templates)), key=lambda i: (-counts[i], templates[i])):
        tokens = templates[i].split()
        key = _skeleton(tokens)
        groups.setdefault(key if len(key) >= 2 else ("", templates[i]), []).append(i)
    heads = [members[0] for members in groups.values()]
    weight = {members[0]: sum(counts[i] for i in members) for members in groups.values()}
    order = sorted(heads, key=lambda i: (-weight[i], templates[i]))
    buckets: dict[tuple[int, str], _Bucket] = {}
    clusters: list[_Cluster] = []
    for i in order:
        tokens = templates[i].split() or [""]
        bucket = buckets.setdefault((len(tokens), tokens[0]), _Bucket())
        best = bucket.best(tokens, threshold)
        if best is None:
            best = bucket.add(tokens)
            clusters.append(best)
        bucket.absorb(best, tokens, weight[i], i)
    clusters = [part for c in clusters for part in _split_alternations(c, templates, weight)]
    members_of = {members[0]: members for members in groups.values()}
    index = [0] * len(templates)
    for n, c in enumerate(clusters):
        for head in c.members:
            for i in members_of[head]:
                index[i] = n
    return index, [" ".join(c.tokens) for c in clusters]


_PLACEHOLDER = re.compile(r"<[A-Z*]+>")


_UNITS = frozenset({"b", "bytes", "kb", "mb", "gb", "ms", "s", "sec", "secs", "seconds"})


def _is_variable(token: str) -> bool:
    """A token that is a variable and punctuation (``<NUM>,``, ``(<SIZE>)``, ``<*>``)."""
    rest = _PLACEHOLDER.sub("", token)
    return rest != token and not any(ch.isalnum() for ch in rest)


def _skeleton(tokens: list[str]) -> tuple[str, ...]:
    """The template's constant words in order, variables left out: what stays of an event
    however long its variables are (``1293 bytes`` or ``1293 bytes (1.26 KB)``). A unit
    after a variable goes with it, and so does a trailing ``key: <value>`` that a
    producer adds only sometimes (Apache's ``, referer: <URL>``)."""
    out: list[str] = []
    variable = [_is_variable(tok) for tok in tokens]
    end = len(tokens)
    while (
        end >= 2 and variable[end - 1] and tokens[end - 2].endswith(":") and (not variable[end - 2])
    ):
        end -= 2
    for n, tok in enumerate(tokens[:end]):
        if variable[n]:
            continue
        rest = _PLACEHOLDER.sub("", tok)
        if n and variable[n - 1] and rest.strip(".,;:()[]").lower() in _UNITS:
            continue
        out.append(rest)
    return tuple(out)


def _split_alternations(
    c: _Cluster, templates: Sequence[str], counts: dict[int, int]
) -> list[_Cluster]:
    """A cluster split where a wildcard only ever held two words: ``Cache hit for ...``
    and ``Cache miss for ...``, ``Session <UUID> opened`` and ``... closed`` are two events
    that differ in a constant, not one event with a variable (a variable, such as a user
    name, takes more values than two)."""
    if len(c.members) < 2 or WILDCARD not in c.tokens:
        return [c]
    rows = [templates[i].split() for i in c.members]
    keys = []
    for p, tok in enumerate(c.tokens):
        if tok != WILDCARD:
            continue
        values = {row[p] for row in rows}
        if (len(values) == 2 and all(_is_word(v) for v in values)) or all(
            _is_state(v) for v in values
        ):
            keys.append(p)
    if not keys:
        return [c]
    parts: dict[tuple[str, ...], _Cluster] = {}
    for i, row in zip(c.members, rows, strict=True):
        key = tuple(row[p] for p in keys)
        part = parts.get(key)
        if part is None:
            part = parts[key] = _Cluster(list(row))
        part.absorb(row, counts[i], i)
    return list(parts.values())


def _is_state(token: str) -> bool:
    """An upper-case word (``NEW``, ``INITED``, ``RUNNING``): an enumerated state, which
    names a different event in each value (``Transitioned from NEW to INITED``)."""
    word = token.strip(".,;:!\"'()[]")
    return len(word) >= 2 and word.isalpha() and word.isupper()


_KEY_VALUE = re.compile(r"[:=]")


def _is_word(token: str) -> bool:
    """A plain word, maybe with trailing punctuation (``Interrupted.``) or a word value
    (``isOverlap:false``): a constant could be one, placeholders and ids are not. Booleans
    count as words: ``down true`` and ``down false`` are logged as two events."""
    word = token.rstrip(".,;:!")
    return all(part.isalpha() for part in _KEY_VALUE.split(word))
