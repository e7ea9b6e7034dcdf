"""Table and btree index bloat estimated from planner statistics, for when it cannot be measured.

pgstattuple reads a relation to measure its dead and free space; without the extension
(or the privilege to run it) only an estimate is possible. These are the well-known ones
that check_postgres and PgHero use (after ioguix's pgsql-bloat-estimation): from pg_stats
(average width and null fraction of each column), reltuples, relpages and the fillfactor,
the pages the live rows (or index entries) should fill, against the pages the relation
has. They read no table or index, so they cost nothing and take no lock; they are only as
good as the statistics, so each estimate says how far to trust it
(:attr:`Estimate.confidence`, with the reasons).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rota.tasks.db.analyze import TableStats
from rota.tasks.db.common import USER_SCHEMA_FILTER
from rota.tasks.db.stats import human_bytes

# Per table, what a heap tuple is made of according to pg_stats: the widths of the
# columns that have statistics (own rows only: NOT inherited, a parent's heap holds its
# own rows, not its children's), and what is known of the columns that have none.
# Catalog and statistics only: it opens no table, so a locked one costs nothing here.
WIDTHS_SQL = f"""
SELECT a.attrelid::bigint AS oid, count(*) AS columns, count(s.attname) AS with_stats,
       coalesce(max(s.null_frac), 0)::float8 AS max_null_frac,
       coalesce(sum((1 - s.null_frac) * s.avg_width), 0)::float8 AS data_width,
       coalesce(sum(a.attlen) FILTER (WHERE s.attname IS NULL AND a.attlen > 0), 0)::float8
           AS fixed_width_without_stats,
       count(*) FILTER (WHERE s.attname IS NULL AND a.attlen < 0) AS varlena_without_stats
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname
     AND s.attname = a.attname AND NOT s.inherited
WHERE c.relkind IN ('r', 'm') AND a.attnum > 0 AND NOT a.attisdropped AND {USER_SCHEMA_FILTER}
GROUP BY a.attrelid
"""

BLOCK = 8192
PAGE_HEADER = 24
MAXALIGN = 8
# A variable-width column without statistics counts as this wide: large on purpose, so an
# unknown width makes the estimate smaller (no alarm), never larger.
UNKNOWN_WIDTH = 1024
# The estimate is marked low-confidence past these: rows changed since the last ANALYZE
# (as a share of reltuples), and the heap's growth or shrinkage since relpages was counted.
STALE_SHARE = 0.2
SIZE_DRIFT = 0.2


@dataclass(frozen=True)
class Estimate:
    """Bloat of a table or index estimated from planner statistics, with how far to trust it."""

    bytes: int
    percent: float
    caveats: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)

    @property
    def confidence(self) -> str:
        """``medium`` with fresh statistics for every column, else ``low``; a measurement
        (pgstattuple) is the only high-confidence answer."""
        return "low" if self.caveats else "medium"

    def evidence(self) -> dict[str, Any]:
        return {
            "estimate_bytes": self.bytes,
            "estimate_percent": self.percent,
            "estimate_confidence": self.confidence,
            "estimate_caveats": self.caveats,
            "estimate_basis": self.numbers,
        }


def _align(n: float) -> int:
    return MAXALIGN * math.ceil(n / MAXALIGN)


def estimate_bloat(t: TableStats, w: dict[str, Any] | None) -> Estimate:
    """Heap bloat of ``t`` without reading it: the pages its rows should fill against the
    pages it has (the estimate check_postgres and PgHero use), or, when no column has
    statistics, the share of dead tuples."""
    heap = int(t["heap_bytes"])
    live, dead = float(t["n_live_tup"]), float(t["n_dead_tup"])
    dead_share = dead / (live + dead) if live + dead else 0.0
    caveats: list[str] = []
    numbers: dict[str, Any] = {"dead_share": round(dead_share, 3)}
    size_share = 0.0
    if heap == 0:
        return Estimate(0, 0.0, [], numbers)
    if t.never_analyzed or w is None or int(w["with_stats"]) == 0:
        caveats.append("no column statistics (never analyzed): only dead tuples are counted")
    else:
        columns, missing = int(w["columns"]), int(w["columns"]) - int(w["with_stats"])
        if missing:
            caveats.append(f"{missing} of {columns} columns have no statistics (widths guessed)")
        width = (
            float(w["data_width"])
            + float(w["fixed_width_without_stats"])
            + UNKNOWN_WIDTH * int(w["varlena_without_stats"])
        )
        # Tuple header (23 bytes, plus a null bitmap when any column has nulls), the data,
        # each aligned, and the 4-byte line pointer.
        header = 23 + ((7 + columns) // 8 if float(w["max_null_frac"]) > 0 else 0)
        per_tuple = 4 + _align(header) + _align(width)
        fill = float(t.options.get("fillfactor", "100")) / 100
        per_page = (BLOCK - PAGE_HEADER) * fill / per_tuple
        pages = int(t["relpages"])
        expected = math.ceil(t.rows / per_page)
        numbers.update(
            tuple_bytes=per_tuple,
            rows=t.rows,
            relpages=pages,
            expected_pages=expected,
            fillfactor=round(fill * 100),
        )
        if pages > 0:
            size_share = max(0.0, (pages - expected) / pages)
            numbers["size_share"] = round(size_share, 3)
            if abs(heap - pages * BLOCK) > SIZE_DRIFT * heap:
                caveats.append(
                    f"the heap is {human_bytes(heap)} but statistics counted {human_bytes(pages * BLOCK)}: "
                    "it changed since the last VACUUM or ANALYZE"
                )
        else:
            caveats.append("relpages is 0 (not vacuumed or analyzed since it was filled)")
        mods = int(t["n_mod_since_analyze"])
        if t.rows and mods > STALE_SHARE * t.rows:
            caveats.append(
                f"statistics are stale: {mods:,} rows changed since the last analyze "
                f"({100 * mods / t.rows:.0f}% of {t.rows:,.0f})"
            )
    share = max(dead_share, size_share)
    return Estimate(int(heap * share), round(share * 100, 1), caveats, numbers)


# Per btree index, what its entries are made of: one row per index, from the catalog and
# pg_stats only (it opens no index, so a locked one costs nothing here). A key column takes
# its statistics from the table's column; an expression column from the index's own
# statistics (ANALYZE keeps them under the index's name). Two equality joins rather than
# one OR, so that the planner can hash pg_stats once instead of scanning it per column.
INDEX_WIDTHS_SQL = f"""
SELECT i.indexrelid::bigint AS oid, c.relpages::bigint AS relpages,
       c.reltuples::float8 AS reltuples, i.indnatts AS columns,
       coalesce(substring(array_to_string(c.reloptions, ' ') FROM 'fillfactor=([0-9]+)')::int,
                90) AS fillfactor,
       count(coalesce(ts.attname, xs.attname)) AS with_stats,
       count(*) FILTER (WHERE i.indkey[a.attnum - 1] = 0) AS expressions,
       coalesce(bool_or(a.atttypid = 'pg_catalog.name'::regtype), false) AS has_name,
       coalesce(max(coalesce(ts.null_frac, xs.null_frac)), 0)::float8 AS max_null_frac,
       coalesce(sum((1 - coalesce(ts.null_frac, xs.null_frac))
                    * coalesce(ts.avg_width, xs.avg_width)), 0)::float8 AS data_width,
       coalesce(sum(a.attlen) FILTER (WHERE coalesce(ts.attname, xs.attname) IS NULL
                                      AND a.attlen > 0), 0)::float8 AS fixed_width_without_stats,
       count(*) FILTER (WHERE coalesce(ts.attname, xs.attname) IS NULL AND a.attlen < 0)
           AS varlena_without_stats,
       t.reltuples::float8 AS table_rows,
       coalesce(pg_stat_get_mod_since_analyze(i.indrelid), 0) AS n_mod_since_analyze
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_namespace tn ON tn.oid = t.relnamespace
JOIN pg_attribute a ON a.attrelid = i.indexrelid AND a.attnum > 0
LEFT JOIN pg_attribute ta ON ta.attrelid = i.indrelid AND ta.attnum = i.indkey[a.attnum - 1]
     AND i.indkey[a.attnum - 1] <> 0
LEFT JOIN pg_stats ts ON ts.schemaname = tn.nspname AND ts.tablename = t.relname
     AND ts.attname = ta.attname AND NOT ts.inherited
LEFT JOIN pg_stats xs ON xs.schemaname = n.nspname AND xs.tablename = c.relname
     AND xs.attname = a.attname AND i.indkey[a.attnum - 1] = 0
WHERE {USER_SCHEMA_FILTER} AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'btree')
GROUP BY i.indexrelid, c.relpages, c.reltuples, c.reloptions, i.indnatts, t.reltuples
"""

# A btree page keeps 16 bytes of special space (BTPageOpaqueData) besides the page header;
# an index tuple has an 8-byte header (IndexTupleData), and a null bitmap of 4 more
# (IndexAttributeBitMapData) when a column may be null.
BTREE_SPECIAL = 16
INDEX_TUPLE_HEADER = 8
INDEX_NULL_BITMAP = 4


def estimate_index_bloat(w: dict[str, Any] | None, size: int) -> Estimate:
    """Bloat of a btree of ``size`` bytes without reading it: the pages its entries should
    fill at its fillfactor (plus the metapage), against the pages it has (ioguix's "btree
    bloat" estimate, as check_postgres and PgHero use it). ``w`` is its
    :data:`INDEX_WIDTHS_SQL` row."""
    caveats: list[str] = []
    numbers: dict[str, Any] = {}
    if size <= 0 or w is None:
        return Estimate(0, 0.0, ["not in the statistics query"] if w is None else [], numbers)
    pages, rows = int(w["relpages"]), float(w["reltuples"])
    if pages <= 0 or rows < 0:
        caveats.append("never vacuumed or analyzed (relpages/reltuples unknown): not estimated")
        return Estimate(0, 0.0, caveats, numbers)
    columns, missing = int(w["columns"]), int(w["columns"]) - int(w["with_stats"])
    if missing:
        caveats.append(f"{missing} of {columns} columns have no statistics (widths guessed)")
    if int(w["expressions"]):
        caveats.append(
            "expression index: widths come from the index's own statistics, when it has any"
        )
    if w["has_name"]:
        caveats.append("a column of type name (pg_stats widths of name are not reliable)")
    width = (
        float(w["data_width"])
        + float(w["fixed_width_without_stats"])
        + UNKNOWN_WIDTH * int(w["varlena_without_stats"])
    )
    nulls = INDEX_NULL_BITMAP if float(w["max_null_frac"]) > 0 else 0
    per_tuple = 4 + _align(INDEX_TUPLE_HEADER + nulls) + _align(width)
    fill = int(w["fillfactor"]) / 100
    per_page = max(1, math.floor((BLOCK - PAGE_HEADER - BTREE_SPECIAL) * fill / per_tuple))
    expected = 1 + math.ceil(rows / per_page)
    share = max(0.0, (pages - expected) / pages)
    numbers.update(
        tuple_bytes=per_tuple,
        rows=rows,
        relpages=pages,
        expected_pages=expected,
        fillfactor=round(fill * 100),
        size_share=round(share, 3),
    )
    if abs(size - pages * BLOCK) > SIZE_DRIFT * size:
        caveats.append(
            f"the index is {human_bytes(size)} but statistics counted "
            f"{human_bytes(pages * BLOCK)}: it changed since the last VACUUM or ANALYZE"
        )
    table_rows, mods = max(0.0, float(w["table_rows"])), int(w["n_mod_since_analyze"])
    if table_rows and mods > STALE_SHARE * table_rows:
        caveats.append(
            f"statistics are stale: {mods:,} rows changed since the last analyze "
            f"({100 * mods / table_rows:.0f}% of {table_rows:,.0f})"
        )
    return Estimate(int(size * share), round(share * 100, 1), caveats, numbers)
