"""The secret rules: one regex per provider key shape, plus the generic assignment rule.

Each provider rule is the key's published structure (gitleaks' and trufflehog's rules
compared in ``/work/shared/notes/security.md`` §2), anchored at both ends: it may not start
inside a longer token, and it must end where gitleaks ends a match, at a quote, whitespace,
``;``, a literal ``\\n``/``\\r`` or the end of the line (plus ``, ) ] } < > & |``, which end a
value in code, XML and query strings just as surely, and ``@``, which ends a token used as
the password of a URL: ``https://x-access-token:ghp_...@github.com``). A match whose
variable part has too little Shannon entropy (``sk_live_xxxxxxxxxxxxxxxxxxxxxxxx``) is a
placeholder, not a key.

``prefix`` is a rule's fixed text: a redacted secret shows it and at most four characters
more, never the rest.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

__all__ = ["GENERIC", "RULES", "Rule", "charset", "entropy", "threshold"]

# Where a key may end (gitleaks: (?:[\x60'"\s;]|\\[nr]|$)), as a lookahead so that the
# terminator stays out of the secret.
END = r"(?=[\x60'\"\s;,)\]}<>&|@]|\\[nr]|$)"
# ... and may not start inside a longer token.
START = r"(?<![A-Za-z0-9_\-+/.])"


@dataclass(frozen=True)
class Rule:
    """One kind of secret. ``regex`` has a ``secret`` group (the whole credential) and a
    ``prefix`` group (its fixed text, shown when redacted); ``keywords`` is a cheap
    prefilter (any of them must be in the text, case-sensitive); ``min_entropy`` applies
    to the part after the prefix; ``severity`` is "critical" or "warning"."""

    id: str
    description: str
    regex: re.Pattern[str]
    keywords: tuple[str, ...]
    min_entropy: float = 3.0
    severity: str = "critical"


def _rule(
    id: str,
    description: str,
    pattern: str,
    keywords: tuple[str, ...],
    min_entropy: float = 3.0,
    severity: str = "critical",
    flags: int = 0,
) -> Rule:
    return Rule(
        id,
        description,
        re.compile(START + "(?P<secret>" + pattern + ")" + END, flags | re.MULTILINE),
        keywords,
        min_entropy,
        severity,
    )


RULES: tuple[Rule, ...] = (
    # Project, service-account and admin keys: <prefix><body>T3BlbkFJ<body>, where gitleaks
    # fixes the bodies at 58 or 74 characters; any length of 20 or more is kept here so a
    # new key length is still found (the marker alone makes a false match unlikely).
    _rule(
        "openai-api-key",
        "OpenAI API key (project, service-account or admin)",
        r"(?P<prefix>sk-(?:proj|svcacct|service|admin)-)[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}",
        ("T3BlbkFJ",),
    ),
    # Legacy user keys: sk- and 48 characters, the marker in the middle.
    _rule(
        "openai-api-key",
        "OpenAI API key (legacy user key)",
        r"(?P<prefix>sk-)[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}",
        ("T3BlbkFJ",),
    ),
    _rule(
        "sendgrid-api-key",
        "SendGrid API key",
        r"(?P<prefix>SG\.)[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}",
        ("SG.",),
    ),
    # Key ids are 16 base-32 characters (A-Z, 2-7) after the type prefix.
    _rule(
        "aws-access-key-id",
        "AWS access key id (long-term AKIA, temporary ASIA)",
        r"(?P<prefix>AKIA|ASIA)[A-Z2-7]{16}",
        ("AKIA", "ASIA"),
        min_entropy=2.5,
    ),
    _rule(
        "github-token",
        "GitHub token (personal, OAuth, user-to-server, server-to-server, refresh)",
        r"(?P<prefix>gh[pousr]_)[A-Za-z0-9]{36}",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ),
    _rule(
        "github-token",
        "GitHub fine-grained personal access token",
        r"(?P<prefix>github_pat_)[A-Za-z0-9]{22}_[A-Za-z0-9]{59}",
        ("github_pat_",),
    ),
    # Bot (xoxb-), user (xoxp-), workspace app (xoxa-), and legacy (xoxo-, xoxr-, xoxs-)
    # tokens: numeric ids separated by dashes, then the random part. The ids keep out
    # Slack's own placeholder "xoxb-not-a-real-token-this-will-not-work".
    _rule(
        "slack-token",
        "Slack token",
        r"(?P<prefix>xox[abeoprs]-)(?:\d+-){1,4}[A-Za-z0-9]{16,}",
        ("xox",),
    ),
    _rule(
        "slack-token",
        "Slack app-level token",
        r"(?P<prefix>xapp-)\d-[A-Z0-9]+-\d+-[a-z0-9]{32,}",
        ("xapp-",),
    ),
    _rule(
        "slack-webhook",
        "Slack incoming webhook URL",
        r"(?P<prefix>https://hooks\.slack\.com/services/)T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[A-Za-z0-9]{20,32}",
        ("hooks.slack.com",),
    ),
    _rule(
        "stripe-live-key",
        "Stripe live secret or restricted key",
        r"(?P<prefix>(?:sk|rk)_live_)[A-Za-z0-9]{24,247}",
        ("_live_",),
    ),
    _rule(
        "stripe-test-key",
        "Stripe test-mode secret or restricted key (no money moves, but it reads test data)",
        r"(?P<prefix>(?:sk|rk)_test_)[A-Za-z0-9]{24,247}",
        ("_test_",),
        severity="warning",
    ),
    # Header, a body of at least 64 characters, footer: a header alone is code that looks
    # for keys, not a key. The body's line breaks may be real or JSON/string escapes
    # (``\\n``, ``\\r``, ``\\/``): a GCP service-account file holds its key as
    # ``"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIE...\\n-----END PRIVATE KEY-----\\n"``.
    Rule(
        "private-key",
        "Private key (PEM)",
        re.compile(
            r"(?P<secret>(?P<prefix>-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----)"
            r"(?:[A-Za-z0-9+/=\s:,-]|\\[nr/]){64,}?"
            r"-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----)"
        ),
        ("PRIVATE KEY",),
        min_entropy=0.0,
    ),
)

# The generic rule: a secret-looking name assigned a high-entropy value, in code, JSON,
# YAML, TOML or a .env file; quoted or not (detect-secrets skips unquoted .env values).
_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*"
GENERIC = re.compile(
    r"(?P<name>" + _NAME + r")[\"'\x60]?[ \t]*(?::=|=>|==|=|:)[ \t]*"
    r"(?:(?P<q>[\"'\x60])(?P<quoted>[^\"'\x60\n\\]{8,200})(?P=q)"
    r"|(?P<bare>[^\s\"'\x60;,#)\]}{(<>]{8,200})(?=[\s;,#)\]}]|\\[nr]|$))",
    re.MULTILINE,
)
GENERIC_KEYWORDS = (
    "key",
    "token",
    "secret",
    "pass",
    "pwd",
    "credential",
    "auth",
)  # lower-cased text

# Name parts (split at _ . - and camelCase) that make a name secret-looking ...
SECRET_PARTS = frozenset(
    {
        "key",
        "apikey",
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "pass",
        "passphrase",
        "credential",
        "credentials",
        "auth",
        "secretkey",
        "accesskey",
        "privatekey",
        "clientsecret",
        "dsn",
    }
)
# ... and parts that make it not one even so (a public key is public; a cache key and a
# primary key are identifiers).
PUBLIC_PARTS = frozenset(
    {
        "public",
        "publishable",
        "pub",
        "primary",
        "foreign",
        "cache",
        "sort",
        "partition",
        "idempotency",
        "storage",
        "keyboard",
        "id",
        "name",
        "path",
        "file",
        "url",
        "type",
        "length",
        "size",
        "expires",
        "expiry",
        "ttl",
        "header",
        "field",
        "prefix",
        "env",
        "hash",
        "algorithm",
        "count",
        "max",
        "min",
    }
)


def entropy(s: str) -> float:
    """Shannon entropy of ``s`` in bits per character."""
    if not s:
        return 0.0
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


def charset(s: str) -> str:
    """ "hex", "base64" (letters, digits, + / = _ -) or "other" (punctuation: a password)."""
    if re.fullmatch(r"[0-9a-fA-F]+", s):
        return "hex"
    if re.fullmatch(r"[A-Za-z0-9+/=_\-]+", s):
        return "base64"
    return "other"


# Entropy a generic value needs, by charset, with the shortest length judged. A random hex
# string of 20 has about 3.7 bits a character and a random base64 one of 20 about 4.1; an
# English word or identifier stays under 3.3. Passwords with punctuation are shorter.
THRESHOLDS = {"hex": (3.0, 20), "base64": (3.5, 16), "other": (3.0, 10)}


def threshold(value: str) -> tuple[float, int]:
    """The (entropy, length) a generic value of this charset must reach."""
    return THRESHOLDS[charset(value)]
