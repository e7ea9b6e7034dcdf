"""Error fingerprints: a message with its variable parts masked by type, and a stable id.

Masking is by the *type* of a value (uuid, ip, email, url, path, hex id, duration,
quoted value, number), never by one platform's layout, because grouping is judged on
logs from many systems (HDFS, Apache, OpenSSH, Spark ...). The order follows Sentry's
parameterization: the most specific shapes first, so an ip is not eaten as numbers and a
url not as a path. Anything left that still carries a digit is an identifier too (Drain's
rule).

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
    # ctime and syslog dates inside a message ("at Sat Jun 18 02:08:11 2005"); not after
    # "=", where a key's value is VAL's whatever its shape (the cache key relies on it)
    (
        "TS",
        r"(?<!=)\b(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),?\s+)?"
        r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+\d{1,2},?\s+"
        r"(?:\d{4}\s+)?\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?:\s+\d{4}\b)?",
    ),
    ("TS", r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"),
    ("IP", r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?![\w.])"),
    ("IP", r"(?<![\w:.])(?=[0-9a-fA-F:]*\d)(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4}(?![\w:])"),
    # Host names: labels ending in a common top-level domain (a two-letter one only after
    # two more labels, so "setup.py" stays a file); not after "=" (see TS above).
    (
        "HOST",
        r"(?<![\w.=-])(?:[A-Za-z0-9][A-Za-z0-9-]*\.)+"
        r"(?:com|net|org|edu|gov|mil|int|io|info|biz|local|internal|lan|corp|home|arpa)"
        r"(?::\d{1,5})?(?![\w.-])"
        r"|(?<![\w.=-])(?:[A-Za-z0-9][A-Za-z0-9-]*\.){3,}[a-z]{2}(?::\d{1,5})?(?![\w.-])",
    ),
    # hex ids: 0x..., or 8+ hex digits with a digit and a letter (digits alone are a number)
    ("HEX", rf"\b0[xX]{_HEX}+\b|\b(?=[0-9]*[a-fA-F])(?=[a-fA-F]*\d){_HEX}{{8,}}\b"),
    # Unix paths of two or more segments, and Windows drive paths.
    ("PATH", r"(?<![\w/.:])(?:/[\w.@%+~-]+){2,}/?|\b[A-Za-z]:\\[^\s\"']+"),
    (
        "DURATION",
        r"\b\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|s|sec|secs|seconds|m|min|mins|minutes|h|hours)\b",
    ),
    # Sizes with their unit ("1293 bytes", "1.26 KB", "4GiB").
    ("SIZE", r"\b\d+(?:[.,]\d+)?\s?(?:[KMGTPE]i?B|bytes|B)\b"),
    # A quoted HTTP request keeps its method: GET and DELETE are different events (but not
    # as the value of a "request: ..." field, where it is context, not the event).
    (
        "REQ",
        r"(?<!: )\"(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) [^\"\s]{1,2000} HTTP/\d(?:\.\d)?\"",
    ),
    # Quoted values: opened after a boundary (so "can't" is no quote) and short.
    ("STR", r"(?<![\w])\"[^\"\n]{0,200}\"|(?<![\w])'[^'\n]{0,200}'(?!\w)"),
    # key=value: the value is the variable part, whatever it looks like.
    ("VAL", r"(?<==)[^\s,;)\]}&\"']+"),
    # Whatever still holds a digit is an id or a number (a long run of letters alone is
    # far more often a camelCase name than a random id: maxTaskFailuresPerNode).
    ("NUM", r"[-+]?\b\d+(?:[.,]\d+)*\b"),
    ("ID", r"(?<![\w-])[\w-]*\d[\w-]*"),
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
    name = m.lastgroup or ""
    if name.startswith("REQ"):
        text = m.group(0)
        return f'"{text[1 : text.index(" ")]} <PATH>"'
    return _NAMES[name]


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


# The template cache is keyed on the message with its variable parts made uniform, so the
# thousands of messages that differ only in ids share one entry (a month of one error shape
# is one mask, not one per line). Two steps, each leaving every masking decision unchanged:
#
# 1. Whole values whose fate is certain become one constant of their type: a uuid, an email,
#    a url, a hex id, or a ``key=value`` value that starts with a letter and that no mask
#    before VAL can start on (``evt_0mYu…``, ``req_1abc…``). "Certain" means: bounded by characters no
#    mask reads across (start, space, ``=``, ``(``, ``[``, ``,`` before, the last two not
#    after a digit: ``12,5`` is a number and ``5 ms`` a duration; end, space, ``)``,
#    ``]``, ``,``, ``;``, or ``:``/``.`` then a space after), so the mask that takes the value
#    is the one of its type, and any mask covering it from further left (a url, a value)
#    reads its characters only as a class both the value and the constant belong to. Quoted
#    strings are length-bounded, so a message with a quote keeps its values.
# 2. Digits 1-9 → 1, and 0 too when the message has no ``0x``: the masks test digits only as
#    a class (the one literal digit is the 0 of 0x). If a 1 survives into the template, a
#    digit was left as text and only the message's own template is exact.
# A test compares this with plain ``mask`` on random messages built from such values.
# The pattern starts by consuming the character before the value (a character class, which
# lets the regex engine skip ahead to candidates instead of trying every position); the
# message gets a leading space so a value at its start has one too.
_EDGE_AFTER = r"(?=[\s)\],;]|[:.](?:\s|$)|$)"
_UNIFORM = re.compile(
    r"(?P<pre>[\s,=(\[])(?<!\d[\s,])(?:(?:"
    + "|".join(
        f"(?P<{name}>{rx})"
        for name, rx in (
            ("UUID", dict(_PATTERNS)["UUID"]),
            ("EMAIL", dict(_PATTERNS)["EMAIL"]),
            # no ``&`` in it: a value covering the url from further left stops there
            ("URL", dict(_PATTERNS)["URL"].replace("{},;]", "{},;&]")),
            ("HEX", dict(_PATTERNS)["HEX"]),
        )
    )
    + ")"
    + _EDGE_AFTER
    # a value no mask before VAL can start on: a letter first, not 8 hex digits (uuid, hex),
    # no ``:/@`` (url, email, ipv6, path), and none of ``<>([{`` where a url covering it
    # from further left would stop
    + r"|(?<==)(?=[A-Za-z_])(?![0-9a-fA-F]{8})[^\s,;)\]}&\"':/@<>(\[{]*(?=[\s,;)\]}&\"']|$))"
)
_CONSTANTS = {
    "UUID": "abcdefab-cdef-abcd-efab-cdefabcdefab",
    "EMAIL": "g@g.gg",
    "URL": "g://g",
    "HEX": "abcdef01",
    "pre": "g",  # a key=value value (no group of its own)
}


def _constant(m: re.Match[str]) -> str:
    return m.group("pre") + _CONSTANTS[m.lastgroup or "pre"]


try:  # the same function compiled (ASCII messages; None for others)
    from rota.logscan._linescan import uniform as _compiled_uniform
except ImportError:
    _compiled_uniform = None

# Digits as bytes: bytes.translate is several times faster than str.translate, and only
# ASCII digits change, so multi-byte UTF-8 sequences are left whole.
_DIGITS = bytes.maketrans(b"23456789", b"11111111")
_ALL_DIGITS = bytes.maketrans(b"023456789", b"111111111")


def uniform(message: str) -> bytes:
    """The cache key of a message: same template as the message itself (see above)."""
    if _compiled_uniform is not None:
        key = _compiled_uniform(message)
        if key is not None:
            return key
    return uniform_py(message)


def uniform_py(message: str) -> bytes:
    """:func:`uniform` in Python: the reference, and the path for non-ASCII messages."""
    if "'" not in message and '"' not in message:
        message = _UNIFORM.sub(_constant, " " + message)[1:]
    key = message.encode("utf-8", "surrogatepass")
    return key.translate(_DIGITS if b"0x" in key or b"0X" in key else _ALL_DIGITS)


@lru_cache(maxsize=65536)
def _template_of(key: bytes) -> tuple[str, str]:
    template = mask(key.decode("utf-8", "surrogatepass"))
    return group_id(template), template


@lru_cache(maxsize=4096)
def _exact(message: str) -> tuple[str, str]:
    template = mask(message)
    return group_id(template), template


def fingerprint(message: str) -> tuple[str, str]:
    """``(group id, template)`` of one message; repeated shapes are answered from a cache."""
    gid, template = _template_of(uniform(message))
    if "1" in template:
        return _exact(message)
    return gid, template
