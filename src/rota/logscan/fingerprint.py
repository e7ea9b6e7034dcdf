"""Error fingerprints: a message with its variable parts masked by type, and a stable id.

Masking is by the *type* of a value (uuid, ip, email, url, path, hex id, duration,
quoted value, number), never by one platform's layout, because grouping is judged on
logs from many systems (HDFS, Apache, OpenSSH, Spark ...). The order follows Sentry's
parameterization: the most specific shapes first, so an ip is not eaten as numbers and a
url not as a path. Anything left that still carries a digit is an identifier too (Drain's
rule), as is a long run of letters and digits (random ids without a digit).

The group id is the first 12 hex digits of a SHA-1 of the template: stable across runs,
machines and Python versions, so it can be stored and compared with history.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

__all__ = ["fingerprint", "group_id", "mask"]

_HEX = r"[0-9a-fA-F]"
# One alternation, tried left to right at each position; each branch is a named type.
_PATTERNS: tuple[tuple[str, str], ...] = (
    ("URL", r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>()\[\]{},;]+"),
    ("EMAIL", r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    ("UUID", rf"\b{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}\b"),
    (
        "TS",
        r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?\b",
    ),
    ("TS", r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"),
    ("IP", r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?![\w.])"),
    ("IP", r"(?<![\w:.])(?=[0-9a-fA-F:]*\d)(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4}(?![\w:])"),
    ("HEX", rf"\b0[xX]{_HEX}+\b|\b(?=[a-fA-F]*\d){_HEX}{{8,}}\b"),
    # Unix paths of two or more segments, and Windows drive paths.
    ("PATH", r"(?<![\w/.:])(?:/[\w.@%+~-]+){2,}/?|\b[A-Za-z]:\\[^\s\"']+"),
    (
        "DURATION",
        r"\b\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|s|sec|secs|seconds|m|min|mins|minutes|h|hours)\b",
    ),
    # Quoted values: opened after a boundary (so "can't" is no quote) and short.
    ("STR", r"(?<![\w])\"[^\"\n]{0,200}\"|(?<![\w])'[^'\n]{0,200}'(?!\w)"),
    # key=value: the value is the variable part, whatever it looks like.
    ("VAL", r"(?<==)[^\s,;)\]}&\"']+"),
    # Whatever still holds a digit is an id or a number; so is a long random-looking run.
    ("NUM", r"[-+]?\b\d+(?:[.,]\d+)*\b"),
    ("ID", r"(?<![\w-])[\w-]*\d[\w-]*|\b[A-Za-z0-9]{20,}\b"),
)
_ALTERNATION = "|".join(f"(?P<{name}{i}>{rx})" for i, (name, rx) in enumerate(_PATTERNS))
# sre tries every branch at every position; this guard rejects, in two or three checks, the
# positions where no branch can start (half the cost of a miss). It is implied by every
# branch, so the matches are the same: a branch starts after ``=`` (VAL) or on one of these
# characters, and never between two word characters (each begins with ``\b``, a
# ``(?<!\w…)`` look-behind, or, for NUM, ``[-+]`` / ``\b``). A test checks this on random text.
_GUARD = r"(?:(?<==)|(?=[\w.+:/\"'-])(?:(?<!\w)|(?!\w)))"
_MASK = re.compile(f"{_GUARD}(?:{_ALTERNATION})")
_NAMES = {f"{name}{i}": f"<{name}>" for i, (name, _) in enumerate(_PATTERNS)}
# A variable-length list of one type ("<IP>, <IP>, <IP>") is one parameter.
_RUNS = re.compile(r"(<[A-Z]+>)(?:[ ,;]+\1)+")


def _sub(m: re.Match[str]) -> str:
    return _NAMES[m.lastgroup or ""]


def mask(message: str) -> str:
    """The message's template: variable parts replaced by ``<TYPE>``, whitespace collapsed."""
    out = _MASK.sub(_sub, message)
    if "> " in out or ">," in out or ">;" in out:
        out = _RUNS.sub(r"\1", out)
    # str.split() and ``\s`` agree on what whitespace is (both str.isspace)
    return " ".join(out.split())


def group_id(template: str) -> str:
    """A stable short id for a template (12 hex digits of its SHA-1)."""
    return hashlib.sha1(template.encode("utf-8", "surrogateescape")).hexdigest()[:12]


# Digits 2-9 → 1 leaves every masking decision unchanged (the patterns test digits only
# as a class; the one literal digit, the 0 of 0x, is kept), so messages that differ only
# in their numbers share one cached template. If a 1 survives into the template, a digit
# was left as text and only the message's own template is exact.
_DIGITS = str.maketrans("23456789", "11111111")


@lru_cache(maxsize=65536)
def _canonical(message: str) -> tuple[str, str]:
    template = mask(message)
    return group_id(template), template


def fingerprint(message: str) -> tuple[str, str]:
    """``(group id, template)`` of one message; repeated shapes are answered from a cache."""
    gid, template = _canonical(message.translate(_DIGITS))
    if "1" in template:
        return _canonical(message)
    return gid, template
