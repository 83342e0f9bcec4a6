"""Copying the tables the file loader read (merit.core.tables, on DuckDB) onto the engine a
cycle is evaluated on, so that the evaluation runs there.

Each typed table goes over as Arrow, its column types kept (timestamps as naive UTC instants,
booleans, lists of agent ids, ``_row``), into an object of the engine's session that goes with
it: Spark, a cached DataFrame behind a temporary view; PostgreSQL, a temporary table filled
with one ``COPY`` (CSV written by Arrow, no row-by-row inserts).  Names are unique per copy,
so several workspaces can share one session.
"""

from __future__ import annotations

import dataclasses
import io
import itertools

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from merit.core.backends import portability
from merit.core.tables import Tables

_copies = itertools.count(1)
_BATCH_ROWS = 100_000  # rows written as CSV and handed to COPY at a time


def stage(tables: Tables, con) -> Tables:
    """*tables* (loaded on DuckDB) copied to the engine of *con*; a :class:`Tables` whose
    ``con`` is *con* and whose tables are the copies (the files, missing and absent tables
    and columns, record counts and line maps are those of *tables*)."""
    if con.name == portability.DUCKDB and con is tables.con:
        return tables
    portability.prepare_session(con)
    copy = {portability.SPARK: _to_spark, portability.POSTGRES: _to_postgres}.get(con.name)
    if copy is None:
        raise ValueError(f"cannot copy tables to the '{con.name}' engine")
    run = next(_copies)
    staged = {name: copy(con, f"_merit{run}_{name}", table, tables.con) for name, table in tables.tables.items()}
    return dataclasses.replace(tables, con=con, tables=staged)


def _to_spark(con, name: str, table: ibis.Table, loaded) -> ibis.Table:
    """*table* of the file loader's DuckDB (*loaded*) as a temporary view *name* of *con*'s session
    (Spark takes the data from the driver as one Arrow table)."""
    arrow = loaded.to_pyarrow(table)
    # An instant marked UTC is read as one whatever the driver's local zone is.
    columns = [pc.cast(col, pa.timestamp("us", tz="UTC")) if pa.types.is_timestamp(col.type) else col
               for col in arrow.columns]
    arrow = pa.Table.from_arrays(columns, names=arrow.column_names)
    # (cached as the first query reads it: a table read once or not at all costs no extra pass)
    con._session.createDataFrame(arrow).cache().createOrReplaceTempView(name)
    return con.table(name)


def _to_postgres(con, name: str, table: ibis.Table, loaded) -> ibis.Table:
    """*table* of the file loader's DuckDB (*loaded*) as a temporary table *name* of *con*."""
    con.create_table(name, schema=table.schema(), temp=True)
    options = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
    quoted = f'"{name}"'
    with con.con.cursor() as cur, cur.copy(f"COPY {quoted} FROM STDIN (FORMAT csv)") as copy:
        # batch by batch: the table is never whole in this process's memory, nor its CSV text
        for batch in loaded.con.sql(loaded.compile(table)).to_arrow_reader(_BATCH_ROWS):
            text = io.BytesIO()
            pacsv.write_csv(_postgres_text(batch), text, options)
            copy.write(text.getbuffer())
    con.raw_sql(f"ANALYZE {quoted}").close()
    return con.table(name)


def _postgres_text(batch: pa.RecordBatch) -> pa.RecordBatch:
    """*batch* with what CSV cannot carry as PostgreSQL reads it: lists as array literals
    (``{"a","b"}``).  (Arrow writes floats as their shortest exact text, booleans as true and
    false, timestamps in ISO 8601, an empty text quoted and a NULL not.)"""
    columns = [_array_literals(col) if pa.types.is_list(col.type) or pa.types.is_large_list(col.type) else col
               for col in batch.columns]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _array_literals(col: pa.Array) -> pa.Array:
    """A list<string> column as PostgreSQL array literals, each item quoted and escaped."""
    items = pc.list_flatten(col)
    items = pc.replace_substring(pc.replace_substring(items, "\\", "\\\\"), '"', '\\"')
    items = pc.binary_join_element_wise('"', items, '"', "")
    quoted = pa.ListArray.from_arrays(col.offsets, items, mask=col.is_null())
    joined = pc.binary_join_element_wise("{", pc.binary_join(quoted, ","), "}", "")
    return pc.if_else(pc.equal(pc.list_value_length(col), 0), "{}", joined)
