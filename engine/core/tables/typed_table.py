"""The typed table of one input file, made in one pass over it: the contract columns typed
(merit.core.tables.typing_sql) and ``_bad``, the bit mask of the record checks each record
fails (merit.core.tables.checks).  Its ``rowid`` is the record index (DuckDB keeps the scan
order).

A Parquet file whose values need no scratch type is not copied: its typed table is a view
over the file (with ``_row``, the record index), typed as each query reads it.  Copying 10
million tickets into a table costs more than the few scans that read them (typing native
values is cheap), and the view holds no memory."""

from __future__ import annotations

import duckdb

from merit.core.contract import TableSchema, contract
from merit.core.errors import DataError
from merit.core.tables.checks import record_check_sql, record_checks
from merit.core.tables.csv_lines import lf_copy, mixed_line_endings
from merit.core.tables.model import Source, SourceFile
from merit.core.tables.read_csv import csv_error
from merit.core.tables.read_parquet import unreadable
from merit.core.tables.sql import ident, typed_name
from merit.core.tables.typing_sql import LocalTime, sql_type, typing_sql
from merit.core.xlsx import restore_sql


def create_typed(con, src: SourceFile, schema: TableSchema, source: Source, local: LocalTime) -> None:
    """Create the typed table (NULL values pass every check but 'empty'); a file DuckDB cannot
    read is a :class:`DataError` of that file."""
    try:
        con.raw_sql(typed_table_sql(schema, source, local))
    except duckdb.Error as exc:  # (DuckDB's reader refuses the file: its message says why and where)
        if src.format == "csv":
            if _retry_with_lf(src, source, exc):
                return create_typed(con, src, schema, source, local)
            raise csv_error(src, exc) from None
        if src.format == "parquet":
            raise unreadable(src, exc) from None
        raise


def _retry_with_lf(src: SourceFile, source: Source, exc: duckdb.Error) -> bool:
    """DuckDB's strict reader takes the line ending of the first line for all: a file mixing
    CRLF and LF (Excel output with lines added by another tool) is read from an LF copy."""
    if (source.relation_of is None or source.temp_files or "invalid state" not in str(exc)
            or not mixed_line_endings(src.path)):
        return False
    source.temp_files.append(lf_copy(src.path))
    source.relation = source.relation_of(source.temp_files[-1])
    return True


def typed_table_sql(schema: TableSchema, source: Source, local: LocalTime) -> str:
    """``CREATE TABLE``: three nested selects over the file (the text of each column, what its
    typing computes first, the typed value) and the outer one with ``_bad``."""
    l1, l2, l3, out = [], [], [], []
    if source.in_place_row is not None:
        l1.append(f"{source.in_place_row} AS _row")
        l2.append("_row")
        l3.append("_row")
        out.append("_row")
    nul = source.nul_checked()
    formats = tuple(getattr(source, "timestamp_formats", ()) or ())  # (cycle.yaml's timestamp_format)
    for j, col in enumerate(schema.columns):
        if col.name not in source.values:
            out.append(f"CAST(NULL AS {sql_type(col.type)}) AS {ident(col.name)}")
            continue
        s = f"s{j}"
        sql, kind = source.values[col.name]
        pre, typed = typing_sql(col, s, kind, local, formats)
        if schema.name in contract().merit_written and col.type == "string" and kind == "VARCHAR":
            typed = restore_sql(typed)  # '=x, merit's neutralised text (merit.core.xlsx), reads back as =x
        l1.append(f"{sql} AS {s}")
        l2.append(s)
        l2 += [f"{expr} AS {s}{suffix}" for suffix, expr in pre.items()]
        if col.name in nul:  # a value holding a NUL is reported as such, and typed as NULL
            l2.append(f"contains({s}, chr(0)) AS {s}_z")
            typed = f"CASE WHEN NOT {s}_z THEN {typed} END"
            l3.append(f"{s}_z")
        l3 += [s, f"CAST({typed} AS {sql_type(col.type)}) AS t{j}"]
        out.append(f"t{j} AS {ident(col.name)}")
    terms = [f"CASE WHEN {record_check_sql(schema, ch, nul)} THEN {ch.bit} ELSE 0 END"
             for ch in record_checks(schema, set(source.values), nul)]
    out.append(f"CAST({' + '.join(terms) or '0'} AS {'INTEGER' if len(terms) < 31 else 'BIGINT'}) AS _bad")
    kind = "TABLE" if source.in_place_row is None else "VIEW"
    return (f"CREATE {kind} {ident(typed_name(schema.name))} AS SELECT {', '.join(out)} FROM ("
            f"SELECT {', '.join(l3) or '1 AS _none'} FROM ("
            f"SELECT {', '.join(l2) or '1 AS _none'} FROM ("
            f"SELECT {', '.join(l1) or '1 AS _none'} FROM {source.relation})))")
