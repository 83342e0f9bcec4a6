"""load_backend_tables: the tables that live on the backend (a `sources:` entry's `table:`), and
on Spark the files it reads itself, typed and validated there; all problems raised together."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from merit.core.backend_tables.relation import BackendSource, Columns, open_relation, source_columns
from merit.core.backend_tables.typing import typed_native, typed_text
from merit.core.backend_tables.validate import Validation, text_of
from merit.core.backends import portability
from merit.core.backends.strptime_parts import PatternError
from merit.core.contract import Column, TableSchema, contract
from merit.core.errors import DataError, Problems
from merit.core.sources.encoding import detect_encoding
from merit.core.workspace import Workspace
from merit.core.xlsx import _CLASS

IBIS_TYPES = {"string": "string", "enum": "string", "int": "int64", "float": "float64", "bool": "boolean",
              "timestamp": "timestamp", "date": "date", "list": "array<string>"}
_SPARK_ENCODINGS = {"utf-8": "UTF-8", "gb18030": "GB18030", "utf-16": "UTF-16", "windows-1252": "windows-1252"}


def load_backend_tables(ws: Workspace, con, tables, names, limit: int = 50) -> None:
    """Add to *tables* (merit.core.tables.Tables, whose ``con`` is the backend connection *con*;
    tables already there, such as staged files, may be referred to) the typed, validated tables
    *names*: the workspace's table sources (:attr:`Workspace.table_sources`) and files the engine
    reads itself.  Each is an Ibis table on the backend with ``_row`` (the row's number in key
    order; on Spark, for a keyed table, its row id: portability.row_numbers) and the contract's
    columns, kept once typed (portability.materialise).

    Raises :class:`DataError` or :class:`ProblemList` with every problem of every table."""
    problems = Problems(limit)
    for t_order, (name, schema) in enumerate(contract().tables.items()):
        if name in names:
            _load(ws, con, tables, schema, backend_source(ws, name), problems, t_order)
    problems.raise_if_any()


def backend_source(ws: Workspace, name: str) -> BackendSource:
    """Where table *name* comes from: the table `sources:` names, the Parquet location the cluster
    reads, or its file."""
    entry = ws.sources.get(name)
    if entry is not None and entry.spec.table is not None:
        return BackendSource(name, f"table {entry.spec.table}", entry.spec.table, entry=entry)
    if entry is not None and entry.location is not None:
        return BackendSource(name, entry.location, f"_merit_file_{name}", location=entry.location, entry=entry)
    path = ws.tables[name]
    src = BackendSource(name, ws.display(path), str(path), path=path, entry=entry)
    if path.suffix.lower() == ".csv":
        declared = entry.spec.encoding if entry is not None else "utf-8"
        src.encoding = _SPARK_ENCODINGS[detect_encoding(path, declared)]
        src.delimiter = entry.spec.delimiter if entry is not None else ","
    return src


def _load(ws: Workspace, con, tables, schema: TableSchema, src: BackendSource, problems: Problems,
          t_order: int) -> None:
    name = schema.name
    tables.sources[name] = src
    try:
        raw = open_relation(con, src)
    except DataError as err:
        problems.add(err, (t_order, 0, -1))
        del tables.sources[name]
        return
    cols = source_columns(con, src, schema, raw, tables.tables.get("agents"), problems, t_order)
    if not cols.values:  # (not one column of the table: its missing columns are reported, nothing to type)
        del tables.sources[name]
        return
    formats = src.entry.spec.timestamp_formats if src.entry is not None else ()
    src.numbered = portability.numbers_in_order(con.name, schema.key in cols.values)
    try:
        typed = typed_relation(schema, cols, ws.config.timezone, formats)
    except PatternError as err:  # (said at the `timestamp_format` of cycle.yaml that gave it)
        raise src.entry.error(err.message, "timestamp_format", expected=err.expected) from None
    full = portability.materialise(con, f"_merit_typed_{name}", typed)
    tables.absent[name] = frozenset(schema.names) - frozenset(cols.values)
    Validation(con, tables, schema, src, full, set(cols.values), problems, t_order).run(cols.checks)
    tables.tables[name] = full.select("_row", *schema.names)


def typed_relation(schema: TableSchema, cols: Columns, zone: str, formats: tuple[str, ...] = ()) -> ir.Table:
    """The typed table: ``_row``, each contract column typed (NULL throughout when the source
    lacks it), each present one's source text, and the mapped values checked for their entry."""
    merit_written = schema.name in contract().merit_written
    first = {text_of(name): cols.text[name] for name in cols.values}  # (each computed once, then named)
    first.update({f"_v_{name}": cols.values[name] for name in cols.native})
    for check in cols.checks:
        first[f"_m_{check.name}"] = check.text
        if check.known is not None:
            first[f"_k_{check.name}"] = check.known
    first.update({f"_v_{name}": cols.values[name] for name in cols.values  # (a value map, a match, an expr)
                  if name not in cols.native and cols.values[name] is not cols.text[name]})
    rel = cols.base.select(**first)
    kept = [c for c in rel.columns if not c.startswith("_v_")]
    typed = {col.name: _typed(col, rel, cols, zone, formats, merit_written) for col in schema.columns}
    rel = rel.select(*kept, **typed)
    present = set(cols.values)
    return rel.mutate(_row=portability.row_numbers(rel, _row_order(schema, rel, present), schema.key in present))


def _typed(col: Column, rel: ir.Table, cols: Columns, zone: str, formats: tuple[str, ...],
           merit_written: bool) -> ir.Value:
    name = col.name
    if name not in cols.values:
        return ibis.null(IBIS_TYPES[col.type])
    if name in cols.native:
        return typed_native(col, rel[f"_v_{name}"], zone, name in cols.instants).cast(IBIS_TYPES[col.type])
    source = rel[f"_v_{name}"] if f"_v_{name}" in rel.columns else rel[text_of(name)]
    value = typed_text(col, source, zone, formats)
    if merit_written and col.type == "string":  # '=x, merit's neutralised text (merit.core.xlsx), reads back as =x
        value = ibis.cases((value.re_search(f"^''*{_CLASS}"), value.substr(1)), else_=value)
    return value.cast(IBIS_TYPES[col.type])


def _row_order(schema: TableSchema, rel: ir.Table, present: set[str]) -> list:
    """The order ``_row`` numbers rows in: by key (unique once valid), else by every value (rows
    that are equal throughout are interchangeable), texts by their bytes."""
    if schema.key in present:
        return [portability.binary_order(rel[schema.key])]
    order = []
    for col in schema.columns:
        if col.name in present:
            value = rel[text_of(col.name)] if col.type == "list" else rel[col.name]
            order.append(portability.binary_order(value))
    return order or [ibis.literal(0)]
