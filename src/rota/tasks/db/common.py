"""What the db.* tasks share: evidence that carries its query, and catalog filters.

Every database finding carries the numbers and the SQL that showed them, so a reader can
re-run the query by hand and see the same thing.
"""

from __future__ import annotations

from typing import Any

from rota.model import Finding, Severity

# Schemas no maintenance task looks at.
SYSTEM_SCHEMAS = "('pg_catalog', 'information_schema', 'pg_toast')"
USER_SCHEMA_FILTER = f"n.nspname NOT IN {SYSTEM_SCHEMAS} AND n.nspname NOT LIKE 'pg_temp%'"


def finding(
    code: str,
    severity: Severity,
    message: str,
    *,
    subject: str = "",
    sql: str | None = None,
    remedy: str = "",
    **numbers: Any,
) -> Finding:
    """A Finding whose evidence holds ``numbers`` and, when given, the ``sql`` that showed them."""
    evidence: dict[str, Any] = dict(numbers)
    if sql:
        evidence["query"] = " ".join(sql.split())
    return Finding(code, severity, message, subject, evidence, remedy)


def qualified(schema: str, name: str) -> str:
    """``schema.name`` quoted as PostgreSQL needs it (for statements, not for display)."""
    from psycopg import sql

    return sql.Identifier(schema, name).as_string()
