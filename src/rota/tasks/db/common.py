"""What the db.* tasks share: catalog filters and quoting.

Their findings come from :func:`rota.tasks.common.finding`, with the SQL that showed them.
"""

from __future__ import annotations

# Schemas no maintenance task looks at.
SYSTEM_SCHEMAS = "('pg_catalog', 'information_schema', 'pg_toast')"
USER_SCHEMA_FILTER = f"n.nspname NOT IN {SYSTEM_SCHEMAS} AND n.nspname NOT LIKE 'pg_temp%'"


def qualified(schema: str, name: str) -> str:
    """``schema.name`` quoted as PostgreSQL needs it (for statements, not for display)."""
    from psycopg import sql

    return sql.Identifier(schema, name).as_string()
