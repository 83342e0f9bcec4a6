"""The demo's view of the input contract (merit.core.contract): the tables and their columns in
file order, the Arrow type each column is written as, and the enum values the demo draws from."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from merit.core.contract import contract

# Columns the contract types as numbers that the demo writes as whole numbers (int64): money in
# whole units, waits in whole seconds.
WHOLE_NUMBERS = {("agents", "cost_per_month"), ("tickets", "wait_seconds"), ("influence", "revenue")}
# Optional columns the demo leaves out: its data (and so its outputs) are pinned by the tests.
NOT_WRITTEN = {("agents", "email")}

_ARROW_TYPES = {"string": pa.string(), "enum": pa.string(), "list": pa.string(),  # lists: ';'-separated ids
                "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "date": pa.date32()}

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(n for n in t.names if (name, n) not in NOT_WRITTEN) for name, t in contract().tables.items()}


def arrow_schema(table: str, fmt: str) -> pa.Schema:
    """The columns of *table* as the demo writes them: timestamps are naive local ``timestamp[s]``
    in Parquet and text in CSV."""
    fields = []
    for col in contract().tables[table].columns:
        if (table, col.name) in NOT_WRITTEN:
            continue
        if col.type == "timestamp":
            typ = pa.timestamp("s") if fmt == "parquet" else pa.string()
        elif (table, col.name) in WHOLE_NUMBERS:
            typ = pa.int64()
        else:
            typ = _ARROW_TYPES[col.type]
        fields.append(pa.field(col.name, typ))
    return pa.schema(fields)


def drawn_values(table: str, column: str, order: Iterable[str]) -> tuple[str, ...]:
    """*order*: the values of an enum column in the order the demo draws them (its draws are
    indexes into it), which must be exactly the values the contract lists for the column (its
    allowed set, or the usual values of an open set)."""
    order = tuple(order)
    col = contract().tables[table].column(column)
    listed = col.allowed or col.examples or ()
    if sorted(order) != sorted(listed):
        raise AssertionError(f"the demo draws {table}.{column} from {order}; the contract lists {listed}")
    return order


def drawn_weights(table: str, column: str, weights: dict[str, float]) -> tuple[tuple[str, ...], list[float]]:
    """The values of an enum column in the demo's draw order (the keys of *weights*, checked as in
    :func:`drawn_values`) and the probability weight of each."""
    return drawn_values(table, column, weights), list(weights.values())
