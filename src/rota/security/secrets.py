"""Hardcoded secrets: scan text, files and git history with the rules of :mod:`.secrets_rules`.

A :class:`SecretMatch` never holds the secret: only its rule's fixed prefix and at most four
characters more (``sk-proj-Ab12…``), and its SHA-256, by which a known test value is
allowed (``[env] allow`` or a ``.rota-secrets.allow`` file: one hex digest a line). A plain
value is never accepted as an allow-list entry, so the list itself leaks nothing.

Lockfiles (``package-lock.json``, ``yarn.lock``...) get the provider rules only: their
``sha512-`` integrity hashes are as random as any key and are not secrets.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rota.security.secrets_rules import (
    GENERIC,
    GENERIC_KEYWORDS,
    PUBLIC_PARTS,
    RULES,
    SECRET_PARTS,
    entropy,
    threshold,
)

if TYPE_CHECKING:
    from rota.targets.project import Project

__all__ = [
    "ALLOW_FILE",
    "LOCKFILES",
    "PUBLISHED_EXAMPLES",
    "SecretMatch",
    "is_placeholder",
    "parse_allow",
    "redact",
    "scan_history",
    "scan_project",
    "scan_text",
    "sha256",
]

ALLOW_FILE = ".rota-secrets.allow"
LOCKFILES = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lock",
        "poetry.lock",
        "Pipfile.lock",
        "uv.lock",
        "pdm.lock",
        "Cargo.lock",
        "go.sum",
        "composer.lock",
        "Gemfile.lock",
    }
)
# Values providers print in their own documentation: found (they have the shape), but
# reported as examples, at warning, so that a real key is never mistaken for one.
PUBLISHED_EXAMPLES = frozenset(
    {
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
        "sk_test_26PHem9AhJZvU623DfE1x4sd",
    }
)
# 40 base64 characters, not inside a longer run of them. ``=`` may come before (it is an
# assignment there: ``aws_secret_access_key=...`` in a credentials file), not after (padding
# would make it the end of a longer base64 value).
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_URL_PASSWORD = re.compile(
    r"(?<![A-Za-z0-9+.-])(?P<prefix>[a-z][a-z0-9+.-]{1,20}://(?P<user>[^\s:/@'\"\x60]{1,64}):)"
    r"(?P<secret>[^\s:/@'\"\x60]{6,128})@[A-Za-z0-9.\-\[\]]+",
    re.IGNORECASE,
)
_PLACEHOLDER_WORDS = (
    "example",
    "changeme",
    "change_me",
    "change-me",
    "placeholder",
    "your_",
    "your-",
    "yourkey",
    "xxxx",
    "****",
    "....",
    "dummy",
    "sample",
    "redacted",
    "replace",
    "insert",
    "todo",
    "fixme",
    "fake",
    "notreal",
    "not-a-real",
)
_PLACEHOLDER_EXACT = frozenset(
    {"secret", "password", "passwd", "changeme", "example", "test", "admin", "root", "none",
     "null", "undefined", "true", "false", "xxx", "123456", "12345678", "password123",
     "foobar", "foo", "bar", "pass", "default", "string", "token", "apikey", "api_key"}
)  # fmt: skip
# Values that are references, not secrets: ${VAR}, {{ var }}, %(var)s, env("X"), <your key>,
# and rota.toml's own "file:/path" (the secret is in that file, not here).
_REFERENCE = re.compile(
    r"^\$|\$\{|\{\{|%\(|^<|^%|^\{|process\.env|os\.environ|getenv|import\.meta|env\(|^!|^@|^file:"
)
_ATTRIBUTE = re.compile(r"^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+(?:\(\))?$")
_IDENTIFIER = re.compile(
    r"^[A-Za-z]+(?:_[A-Za-z]+)+$|^[a-z]+(?:[A-Z][a-z]+)+$|^[A-Z]+(?:_[A-Z]+)*$"
)
_JWT = re.compile(r"^eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}$")
_INTEGRITY = re.compile(r"^sha(?:1|224|256|384|512)-[A-Za-z0-9+/=]+$")
_PATHLIKE = re.compile(r"^(?:/|\./|\.\./|~/|[A-Za-z]:\\)|\.(?:pem|key|json|txt|crt|p12|env)$")
_KEYWORDS = frozenset(k for rule in RULES for k in rule.keywords)
_CAMEL = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


@dataclass(frozen=True)
class SecretMatch:
    """One secret found: where, by which rule, redacted, and its SHA-256."""

    rule: str
    file: str
    line: int
    secret_redacted: str
    sha256: str = field(repr=False)
    severity: str = "critical"
    name: str | None = None  # the variable it was assigned to, when known
    example: bool = False  # a provider's published example value
    commit: str | None = None  # set for matches in git history

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "file": self.file,
            "line": self.line,
            "rule": self.rule,
            "secret_redacted": self.secret_redacted,
        }
        if self.commit is not None:
            d["commit"] = self.commit
        return d


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def redact(secret: str, prefix: str = "") -> str:
    """``prefix`` and at most four characters more (fewer for a short secret), then "…"."""
    rest = secret[len(prefix) :] if secret.startswith(prefix) else secret
    shown = min(4, len(rest) // 4)
    return prefix + rest[:shown] + "…"


def parse_allow(text: str) -> set[str]:
    """SHA-256 digests, one a line (``sha256:`` prefix and ``# comments`` allowed).

    Anything else is an error rather than ignored: a plain value in the file would both
    leak the secret and silently allow nothing."""
    out: set[str] = set()
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip().lower().removeprefix("sha256:")
        if not line:
            continue
        if not re.fullmatch(r"[0-9a-f]{64}", line):
            raise ValueError(f"line {n}: not a SHA-256 hex digest (allow values by hash only)")
        out.add(line)
    return out


def is_placeholder(value: str) -> bool:
    """A value that stands for a secret without being one (``changeme``, ``sk-...``)."""
    low = value.lower()
    if low in _PLACEHOLDER_EXACT or any(w in low for w in _PLACEHOLDER_WORDS):
        return True
    return len(set(value.replace("-", "").replace("_", ""))) <= 2


def _name_is_secret(name: str) -> bool:
    parts = [p.lower() for chunk in re.split(r"[_.\-]+", name) for p in _CAMEL.findall(chunk)]
    if not parts or any(p in PUBLIC_PARTS for p in parts):
        return False
    joined = "".join(parts)
    return any(p in SECRET_PARTS for p in parts) or joined.endswith(
        ("apikey", "secret", "token", "password", "passwd", "secretkey", "accesskey")
    )


def _generic_value_ok(value: str) -> bool:
    """A value the generic rule reports: random enough, and not code, a path or a stand-in."""
    if _JWT.match(value):
        return True  # a bearer credential (its dots would read as an attribute chain)
    if _REFERENCE.search(value) or _ATTRIBUTE.match(value) or _IDENTIFIER.match(value):
        return False
    if _INTEGRITY.match(value) or _PATHLIKE.search(value) or "://" in value or " " in value:
        return False
    if is_placeholder(value):
        return False
    bits, length = threshold(value)
    return len(value) >= length and entropy(value) >= bits


class _Lines:
    """Offset to 1-based line number, computed only when a match needs it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: list[int] | None = None

    def __call__(self, pos: int) -> int:
        if self._starts is None:
            self._starts = [m.end() for m in re.finditer("\n", self.text)]
        return bisect.bisect_right(self._starts, pos) + 1


def scan_text(
    text: str,
    file: str = "",
    *,
    generic: bool = True,
    allow: frozenset[str] | set[str] = frozenset(),
    first_line: int = 1,
) -> list[SecretMatch]:
    """Every secret in ``text``, in order. ``generic`` False runs the provider rules only
    (lockfiles); ``first_line`` numbers a fragment (a diff hunk) from where it starts."""
    line_of = _Lines(text)
    found: list[tuple[int, int, SecretMatch]] = []  # (start, end, match)

    def add(start: int, end: int, rule: str, secret: str, prefix: str, severity: str,
            name: str | None = None) -> None:  # fmt: skip
        digest = sha256(secret)
        if digest in allow:
            return
        example = secret in PUBLISHED_EXAMPLES or "EXAMPLE" in secret
        m = SecretMatch(
            rule,
            file,
            line_of(start) + first_line - 1,
            redact(secret, prefix),
            digest,
            "warning" if example else severity,
            name,
            example,
        )
        found.append((start, end, m))

    aws_lines: list[int] = []
    present = {k for k in _KEYWORDS if k in text}  # each keyword looked for once per text
    for rule in RULES:
        if present.isdisjoint(rule.keywords):
            continue
        for m in rule.regex.finditer(text):
            secret, prefix = m.group("secret"), m.group("prefix")
            body = secret[len(prefix) :]
            if rule.min_entropy and entropy(body) < rule.min_entropy:
                continue
            add(m.start("secret"), m.end("secret"), rule.id, secret, prefix, rule.severity)
            if rule.id == "aws-access-key-id":
                aws_lines.append(line_of(m.start()))
    if aws_lines:
        # The secret key has no prefix of its own: 40 base64 characters near a key id.
        for m in _AWS_SECRET.finditer(text):
            value = m.group()
            near = min(abs(line_of(m.start()) - n) for n in aws_lines) <= 5
            overlaps = any(s < m.end() and m.start() < e for s, e, _ in found)
            if near and not overlaps and entropy(value) >= 3.5:
                add(m.start(), m.end(), "aws-secret-access-key", value, "", "critical")
    if "://" in text:
        for m in _URL_PASSWORD.finditer(text):
            pw, user = m.group("secret"), m.group("user")
            if pw == user or is_placeholder(pw) or _REFERENCE.search(pw) or entropy(pw) < 2.5:
                continue
            if not any(s < m.end() and m.start() < e for s, e, _ in found):
                add(m.start("secret"), m.end("secret"), "password-in-url", pw, "", "critical")
    low = text.lower() if generic else ""
    if generic and any(k in low for k in GENERIC_KEYWORDS):
        for m in GENERIC.finditer(text):
            name = m.group("name")
            if not _name_is_secret(name):
                continue
            key = "quoted" if m.group("quoted") is not None else "bare"
            value = m.group(key)
            start, end = m.start(key), m.end(key)
            if any(s < end and start < e for s, e, _ in found) or not _generic_value_ok(value):
                continue
            add(start, end, "generic-secret", value, "", "warning", name)
    found.sort(key=lambda t: t[0])
    return [m for _, _, m in found]


def scan_history(
    hunks: Iterable[tuple[str, str, int, str]],
    *,
    allow: frozenset[str] | set[str] = frozenset(),
) -> Iterator[SecretMatch]:
    """Secrets in added lines of git history: ``hunks`` are (commit, path, first line, the
    added lines joined), as :meth:`rota.targets.project.Project.history_hunks` gives them."""
    from dataclasses import replace

    for commit, path, first, text in hunks:
        generic = Path(path).name not in LOCKFILES
        for m in scan_text(text, path, generic=generic, allow=allow, first_line=first):
            yield replace(m, commit=commit)


def scan_project(
    project: Project,
    *,
    allow: frozenset[str] | set[str] = frozenset(),
    skip: Iterable[str] = (),
) -> Iterator[SecretMatch]:
    """Secrets in the project's files (relative paths), except those in ``skip``."""
    skipped = set(skip)
    for rel, text in project.texts():
        if rel in skipped:
            continue
        yield from scan_text(text, rel, generic=Path(rel).name not in LOCKFILES, allow=allow)
