"""Keep secrets out of outputs, logs and the history store.

Everything a task produced passes through :func:`redact` before it is stored or shown:
known secret values (from the config) are replaced, and so are passwords in URLs and
values that look like well-known API keys, whoever put them there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "***"
_PATTERNS = [
    re.compile(r"(?<=://)([^:/@\s]+):[^@\s]+(?=@)"),  # user:password@ in URLs
    re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_\-]{20,}"),  # OpenAI
    re.compile(r"\bSG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"),  # SendGrid
    re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._\-+/=]{8,}"),
    re.compile(r"(?i)\b(password\s*=\s*)[^\s&#]+"),  # libpq conninfo, URL parameters
]
# In a URL the password runs to the last "@" of the authority (an unencoded "@" is common).
URL_USERINFO = re.compile(
    r"(?i)^(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/?#]*):(?P<pw>[^/?#]*)@"
)
URL_PASSWORD_PARAM = re.compile(r"(?i)([?&]password=)[^&#]*")


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def text(self, s: str) -> str:
        for secret in self.secrets:
            if secret in s:
                s = s.replace(secret, MASK)
        for pat in _PATTERNS:
            s = pat.sub(_mask_match, s)
        return s

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self(v) for v in value)
        return value


def _mask_match(m: re.Match[str]) -> str:
    text = m.group(0)
    if m.re.pattern.startswith("(?<=://)"):
        return f"{m.group(1)}:{MASK}"
    if text.lower().startswith("bearer"):
        return f"{m.group(1)} {MASK}"
    if text.lower().startswith("password"):
        return f"{m.group(1)}{MASK}"
    return MASK


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    return Redactor(secrets)(value)


def redact_url(url: str) -> str:
    """``url`` with its password (in the userinfo or a ``password=`` parameter) as ``***``."""
    out = URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)
    return URL_PASSWORD_PARAM.sub(rf"\1{MASK}", out)
