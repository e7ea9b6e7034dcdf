"""What every built-in task shares: findings whose evidence says how they were found.

A finding carries the numbers behind it and the query or command that showed them, so a
reader can run it by hand and see the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rota.model import Finding, Severity


def finding(
    code: str,
    severity: Severity,
    message: str,
    subject: str = "",
    evidence: Mapping[str, Any] | None = None,
    remedy: str = "",
    *,
    sql: str | None = None,
    **numbers: Any,
) -> Finding:
    """A Finding whose evidence is ``evidence`` plus ``numbers`` and, when given, the
    ``sql`` that showed them (on one line, as ``query``)."""
    detail: dict[str, Any] = {**(evidence or {}), **numbers}
    if sql:
        detail["query"] = " ".join(sql.split())
    return Finding(code, severity, message, subject, detail, remedy)
