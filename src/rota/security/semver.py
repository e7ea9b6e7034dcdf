"""npm's semver: versions, their order, and the range grammar advisories are written in.

A small subset of node-semver, enough for ``vulnerable_versions`` (``>=4.0.0 <4.19.2``,
``<0.1.10 || >=1.0.0 <1.2.0``) and OSV's SEMVER events: comparators (``<``, ``<=``, ``>``,
``>=``, ``=``), spaces as AND, ``||`` as OR, hyphen ranges, x-ranges (``1.x``, ``1.2.*``,
``*``) and ``^`` / ``~``. As in node-semver, a pre-release version satisfies a range only
when a comparator in the same set names a pre-release of the same major.minor.patch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_VERSION = re.compile(
    r"^\s*[=v]*\s*(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?\s*$"
)
# A partial version in a range: 1, 1.2, 1.x, 1.2.*, *, with optional pre-release.
_PARTIAL = re.compile(
    r"^[=v]*(\d+|[xX*])(?:\.(\d+|[xX*])(?:\.(\d+|[xX*])(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?)?)?$"
)
_COMPARATOR = re.compile(r"^(<=|>=|<|>|=|\^|~>?|)\s*(.*)$")


class SemverError(ValueError):
    """Text that is not a semver version or range."""


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple[int | str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Version:
        m = _VERSION.match(text)
        if not m:
            raise SemverError(f"not a semver version: {text!r}")
        return cls(int(m[1]), int(m[2]), int(m[3]), _pre(m[4]))

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
        # A release sorts after its pre-releases; numeric identifiers before alphanumeric.
        pre = tuple((0, p) if isinstance(p, int) else (1, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __str__(self) -> str:
        base = f"{self.major}.{self.minor}.{self.patch}"
        return base + ("-" + ".".join(str(p) for p in self.pre) if self.pre else "")


def _pre(text: str | None) -> tuple[int | str, ...]:
    if not text:
        return ()
    return tuple(int(p) if p.isdigit() else p for p in text.split("."))


@dataclass(frozen=True)
class Comparator:
    op: str  # one of < <= > >= =
    version: Version

    def test(self, v: Version) -> bool:
        if self.op == "<":
            return v < self.version
        if self.op == "<=":
            return v <= self.version
        if self.op == ">":
            return v > self.version
        if self.op == ">=":
            return v >= self.version
        return v == self.version


@dataclass(frozen=True)
class Range:
    """``||``-separated sets of comparators; a version satisfies it when it satisfies
    every comparator of at least one set."""

    text: str
    sets: tuple[tuple[Comparator, ...], ...]

    @classmethod
    def parse(cls, text: str) -> Range:
        sets = []
        for part in text.split("||"):
            sets.append(tuple(_parse_set(part.strip())))
        return cls(text, tuple(sets))

    def __contains__(self, version: Version | str) -> bool:
        v = Version.parse(version) if isinstance(version, str) else version
        return any(_set_allows(s, v) for s in self.sets)


def satisfies(version: str, range_text: str) -> bool:
    """Whether ``version`` is in ``range_text`` (raises :class:`SemverError` on either)."""
    return Version.parse(version) in Range.parse(range_text)


def _set_allows(comparators: tuple[Comparator, ...], v: Version) -> bool:
    if not all(c.test(v) for c in comparators):
        return False
    if not v.pre:
        return True
    # node-semver: 1.2.3-beta.1 is in >=1.2.3-alpha but not in >=1.0.0.
    return any(
        c.version.pre and (c.version.major, c.version.minor, c.version.patch) == v._key()[:3]
        for c in comparators
    )


def _parse_set(text: str) -> list[Comparator]:
    if not text or text in ("*", "x", "X", "latest"):
        return [Comparator(">=", Version(0, 0, 0))]
    hyphen = re.match(r"^(\S+)\s+-\s+(\S+)$", text)
    if hyphen:
        return _hyphen(hyphen[1], hyphen[2])
    # ">= 1.2.3" is one comparator: glue an operator to the version after it.
    tokens = re.sub(r"(<=|>=|<|>|=|\^|~>?)\s+", r"\1", text).split()
    out: list[Comparator] = []
    for token in tokens:
        out.extend(_parse_comparator(token))
    return out


def _partial(text: str) -> tuple[int | None, int | None, int | None, tuple[int | str, ...]]:
    m = _PARTIAL.match(text)
    if not m:
        raise SemverError(f"not a semver range element: {text!r}")
    parts: list[int | None] = []
    for g in (m[1], m[2], m[3]):
        parts.append(None if g is None or g in "xX*" else int(g))
    # 1.x.3 means 1.x: nothing after a wildcard counts.
    for i, p in enumerate(parts):
        if p is None:
            parts[i + 1 :] = [None] * (2 - i)
            break
    return parts[0], parts[1], parts[2], _pre(m[4]) if parts[2] is not None else ()


def _parse_comparator(token: str) -> list[Comparator]:
    m = _COMPARATOR.match(token)
    assert m is not None  # the pattern matches any text
    op, rest = m[1], m[2]
    major, minor, patch, pre = _partial(rest)
    if op == "^":
        return _caret(major, minor, patch, pre)
    if op.startswith("~"):
        return _tilde(major, minor, patch, pre)
    if major is None:
        return [Comparator("<", Version(0, 0, 0))] if op in ("<", ">") else []
    if patch is not None and minor is not None:
        return [Comparator(op or "=", Version(major, minor, patch, pre))]
    # An x-range with an operator: >1.2 is >=1.3.0, <=1.2 is <1.3.0, 1.2 is >=1.2.0 <1.3.0.
    low = Version(major, minor or 0, 0)
    high = Version(major + 1, 0, 0) if minor is None else Version(major, minor + 1, 0)
    if op in ("", "="):
        return [Comparator(">=", low), Comparator("<", high)]
    if op == ">":
        return [Comparator(">=", high)]
    if op == "<=":
        return [Comparator("<", high)]
    return [Comparator(op, low)]  # >= and <


def _caret(
    major: int | None, minor: int | None, patch: int | None, pre: tuple[int | str, ...]
) -> list[Comparator]:
    if major is None:
        return []
    low = Version(major, minor or 0, patch or 0, pre)
    if major > 0 or minor is None:
        high = Version(major + 1, 0, 0)
    elif minor > 0 or patch is None:
        high = Version(0, minor + 1, 0)
    else:
        high = Version(0, 0, patch + 1)
    return [Comparator(">=", low), Comparator("<", high)]


def _tilde(
    major: int | None, minor: int | None, patch: int | None, pre: tuple[int | str, ...]
) -> list[Comparator]:
    if major is None:
        return []
    low = Version(major, minor or 0, patch or 0, pre)
    high = Version(major + 1, 0, 0) if minor is None else Version(major, minor + 1, 0)
    return [Comparator(">=", low), Comparator("<", high)]


def _hyphen(first: str, last: str) -> list[Comparator]:
    a_major, a_minor, a_patch, a_pre = _partial(first)
    b_major, b_minor, b_patch, b_pre = _partial(last)
    out = [Comparator(">=", Version(a_major or 0, a_minor or 0, a_patch or 0, a_pre))]
    if b_major is None:
        return out
    if b_minor is None:
        out.append(Comparator("<", Version(b_major + 1, 0, 0)))
    elif b_patch is None:
        out.append(Comparator("<", Version(b_major, b_minor + 1, 0)))
    else:
        out.append(Comparator("<=", Version(b_major, b_minor, b_patch, b_pre)))
    return out


def is_new_major(current: str, fixed: str) -> bool:
    """Whether ``fixed`` is outside ``^current``: what npm calls a semver-major fix
    (for 0.x, a new minor; for 0.0.x, a new patch)."""
    try:
        return Version.parse(fixed) not in Range.parse("^" + current)
    except SemverError:
        return False
