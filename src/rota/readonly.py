"""Proof that check mode changed nothing: snapshots of a database and of a file tree.

Every task's tests use :func:`assert_read_only` (or the ``assert_read_only`` fixture in
:mod:`rota.testing`): take a snapshot, run the task in check mode, take another, and fail
on any difference. A database snapshot covers what a maintenance task could change:
relations and their files (a rewrite changes ``relfilenode``), indexes and their validity,
storage options, sequences, row counts written, manual VACUUM/ANALYZE counts, and the
statistics reset times. A tree snapshot covers paths, sizes, modes and mtimes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

_CATALOG = """
SELECT n.nspname || '.' || c.relname AS name, c.relkind::text AS kind, c.relfilenode,
       coalesce(array_to_string(c.reloptions, ','), '') AS options,
       coalesce(i.indisvalid::text, '') AS valid, coalesce(i.indisready::text, '') AS ready,
       coalesce(pg_get_indexdef(i.indexrelid), '') AS indexdef
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_index i ON i.indexrelid = c.oid
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg_temp%'
ORDER BY 1
"""
_TABLE_STATS = """
SELECT schemaname || '.' || relname AS name, n_tup_ins, n_tup_upd, n_tup_del,
       vacuum_count, analyze_count, last_vacuum::text, last_analyze::text
FROM pg_stat_user_tables ORDER BY 1
"""
_SEQUENCES = (
    "SELECT schemaname || '.' || sequencename AS name, last_value FROM pg_sequences ORDER BY 1"
)
_RESETS = """
SELECT (SELECT stats_reset::text FROM pg_stat_database WHERE datname = current_database()) AS db_reset,
       (SELECT coalesce(array_agg(extname ORDER BY extname)::text, '') FROM pg_extension) AS extensions,
       (SELECT count(*) FROM pg_database) AS databases
"""
_PGSS_RESET = "SELECT stats_reset::text FROM pg_stat_statements_info"


def snapshot_database(url: str) -> dict[str, Any]:
    """Everything check mode must leave alone in the database at ``url``."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        snap: dict[str, Any] = {}
        for key, sql in (
            ("catalog", _CATALOG),
            ("tables", _TABLE_STATS),
            ("sequences", _SEQUENCES),
            ("resets", _RESETS),
        ):
            snap[key] = [dict(r) for r in conn.execute(sql).fetchall()]
        try:
            snap["pgss_reset"] = conn.execute(_PGSS_RESET).fetchall()
        except psycopg.Error:
            snap["pgss_reset"] = None  # extension absent or not preloaded
    return snap


def snapshot_tree(root: Path) -> dict[str, tuple[int, int, int]]:
    """path -> (size, mode, mtime_ns) for everything under ``root`` (symlinks not followed)."""
    out: dict[str, tuple[int, int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (st.st_size, st.st_mode, st.st_mtime_ns)
    return out


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Human-readable differences between two snapshots (empty when equal)."""
    diffs: list[str] = []
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        if b == a:
            continue
        if isinstance(b, list) and isinstance(a, list):
            bi = {_row_key(r): r for r in b}
            ai = {_row_key(r): r for r in a}
            for k in sorted(set(bi) | set(ai), key=str):
                if bi.get(k) != ai.get(k):
                    diffs.append(f"{key}: {k}: {bi.get(k)} -> {ai.get(k)}")
        else:
            diffs.append(f"{key}: {b} -> {a}")
    return diffs


def _row_key(row: Any) -> Any:
    return row.get("name", str(row)) if isinstance(row, dict) else str(row)


@contextmanager
def read_only(*, urls: tuple[str, ...] = (), trees: tuple[Path, ...] = ()) -> Iterator[None]:
    """Fail with every difference if the body changed any database or tree given."""
    takers: list[tuple[str, Callable[[], Any]]] = [(u, partial(snapshot_database, u)) for u in urls]
    takers += [(str(t), partial(snapshot_tree, t)) for t in trees]
    before = {name: take() for name, take in takers}
    yield
    problems: list[str] = []
    for name, take in takers:
        for d in differences(before[name], take()):
            problems.append(f"{name}: {d}")
    if problems:
        raise AssertionError("check mode changed the target:\n  " + "\n  ".join(problems[:50]))


def assert_read_only(
    run: Callable[[], Any], *, urls: tuple[str, ...] = (), trees: tuple[Path, ...] = ()
) -> Any:
    """Call ``run`` and fail if it changed any of ``urls`` or ``trees``; returns its result."""
    with read_only(urls=urls, trees=trees):
        return run()
