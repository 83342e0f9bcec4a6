"""Parquet files: DuckDB's reader; a column whose Parquet type fits its contract type is read
natively, any other through its text."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import duckdb

from merit.core.contract import TableSchema
from merit.core.errors import DataError, Problems
from merit.core.sources.mapping import mapped_values, plan_columns
from merit.core.sources.no_entry import attach_checks
from merit.core.tables.model import Source, SourceFile, Tables
from merit.core.tables.sql import clean, fetch_raw, ident, sql_str

# Parquet types read natively (no round trip through strings), per contract type.
_INT_KINDS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
              "HUGEINT", "UHUGEINT")
_TIME_KINDS = ("DATE", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP WITH TIME ZONE")
NATIVE = {
    "int": _INT_KINDS,
    "float": _INT_KINDS + ("DOUBLE",),  # (FLOAT and DECIMAL go through their shortest decimal text, as before)
    "bool": ("BOOLEAN",),
    "date": _TIME_KINDS,
    "timestamp": _TIME_KINDS,
}


def unreadable(src: SourceFile, exc: duckdb.Error) -> DataError:
    return DataError(f"the file cannot be read as Parquet: {str(exc).splitlines()[0]}", file=src.display)


def parquet_text(col: str, kind: str, ctype: str) -> str:
    """SQL: the value of a Parquet column as text (what messages quote, and the typing input
    when the column's type is not read natively)."""
    if kind.endswith("[]"):
        expr = f"array_to_string({col}, ';')"
    elif ctype == "date" and (kind == "DATE" or kind.startswith("TIMESTAMP")):
        expr = f"strftime(CAST({col} AS DATE), '%Y-%m-%d')"
    elif kind.startswith("TIMESTAMP"):
        expr = f"strftime({col}, '%Y-%m-%d %H:%M:%S.%f')" if "TIME ZONE" not in kind else f"CAST({col} AS VARCHAR)"
    else:
        expr = f"CAST({col} AS VARCHAR)"
    return clean(expr)


def parquet_source(con, src: SourceFile, schema: TableSchema, result: Tables, problems: Problems,
                   t_order: int) -> Source:
    path = sql_str(str(src.path))
    try:
        described = con.raw_sql(f"DESCRIBE SELECT * FROM read_parquet({path})").fetchall()
    except duckdb.Error as exc:  # (not a Parquet file, or a damaged one)
        raise unreadable(src, exc) from None
    header = [row[0] for row in described]
    types = {row[0]: str(row[1]).upper() for row in described}
    plan = plan_columns(src, schema, header, problems, t_order)

    def value(i: int, ctype: str) -> tuple[str, str]:
        col, kind = ident(header[i]), types[header[i]]
        return (col, kind) if kind in NATIVE.get(ctype, ()) else (parquet_text(col, kind, ctype), "VARCHAR")

    def text(i: int) -> str:
        return parquet_text(ident(header[i]), types[header[i]], "string")

    values, scratch_types, checked = mapped_values(con, plan, value, text, schema, result.tables.get("agents"))
    texts = {name: _as_text(values[name], plan.by_name.get(name), header, types, schema.column(name).type)
             for name in values}

    def raw(rows: list[int], columns: Iterable[str]) -> dict[int, dict[str, Any]]:
        select = "".join(f", {texts[name]} AS {ident(name)}" for name in columns)
        return fetch_raw(con, f"SELECT file_row_number AS _row{select} "
                              f"FROM read_parquet({path}, file_row_number = true)", rows)

    # Read in place (a view) unless a value goes through a scratch type or a map that may stop
    # typing with a value it has no entry for: those are found while the typed table is made.
    in_place = None if scratch_types or checked else "file_row_number"
    source = Source(f"read_parquet({path}, file_row_number = true)", values, raw, scratch_types=scratch_types,
                    timestamp_formats=src.entry.spec.timestamp_formats if src.entry is not None else (),
                    in_place_row=in_place)
    attach_checks(con, src, source, checked, result, schema, problems, t_order)
    return source


def _as_text(value: tuple[str, str], position: int | None, header: list[str], types: dict[str, str],
             ctype: str) -> str:
    """SQL: a column's value as messages quote it (the file's text of a column read by name)."""
    if position is not None:
        return parquet_text(ident(header[position]), types[header[position]], ctype)
    sql, kind = value
    return sql if kind == "VARCHAR" else clean(f"CAST({sql} AS VARCHAR)")
