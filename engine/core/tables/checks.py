"""The checks of a table's records: each record check is a bit of ``_bad`` in the typed table,
computed as the table is typed (see merit.core.tables.typed_table)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from merit.core.contract import TableSchema, contract
from merit.core.tables.sql import sql_str

PARSED_TYPES = ("int", "float", "bool", "timestamp", "date")


@dataclass
class Check:
    kind: str  # 'nul' | 'empty' | 'parse' | 'enum' | 'range' | 'pattern' | 'order' | 'dup' | 'ref' | 'list_ref'
    column: str
    other: str | None = None  # order: the earlier column; ref: 'table.column'
    bit: int = 0  # record checks: the bit of ``_bad``
    flag: Any = None  # dup and ref: boolean Ibis expression over the typed table


def record_checks(schema: TableSchema, present: set[str], nul: frozenset[str] = frozenset()) -> list[Check]:
    """The checks of single records, each with its bit of ``_bad``: on the file's text
    (nul: a NUL character in a column of *nul*; empty, parse) and on the typed values
    (enum, pattern, range, order)."""
    checks: list[Check] = []
    for col in schema.columns:
        if col.name not in present:
            continue
        if col.name in nul:
            checks.append(Check("nul", col.name))
        if col.nonempty:
            checks.append(Check("empty", col.name))
        if col.type in PARSED_TYPES:
            checks.append(Check("parse", col.name))
        if col.type == "enum" and col.allowed:
            checks.append(Check("enum", col.name))
        if col.pattern:
            checks.append(Check("pattern", col.name))
        if col.min is not None or col.max is not None:
            checks.append(Check("range", col.name))
    for table, later, earlier in contract().orderings:
        if table == schema.name and later in present and earlier in present:
            checks.append(Check("order", later, other=earlier))
    for i, ch in enumerate(checks):
        ch.bit = 1 << i
    return checks


def record_check_sql(schema: TableSchema, ch: Check, nul: frozenset[str] = frozenset()) -> str:
    """SQL: the check fails (over ``s<j>``, the text, ``t<j>``, the typed value, of column j, and
    for the columns of *nul*, ``s<j>_z``, the text holds a NUL; its typed value is then NULL)."""
    j = schema.names.index(ch.column)
    col = schema.columns[j]
    s, t = f"s{j}", f"t{j}"
    if ch.kind == "nul":
        return f"{s}_z"
    if ch.kind == "empty":
        return f"{s} IS NULL"
    if ch.kind == "parse":  # (a NUL is its own problem: not also a value that does not parse)
        return f"{s} IS NOT NULL AND {t} IS NULL" + (f" AND NOT {s}_z" if ch.column in nul else "")
    if ch.kind == "enum":
        return f"{t} NOT IN ({', '.join(map(sql_str, col.allowed))})"
    if ch.kind == "pattern":
        return f"NOT regexp_matches({t}, {sql_str(col.pattern)})"
    if ch.kind == "range":
        low = f"{t} < {col.min!r}" if col.min is not None else None
        high = f"{t} > {col.max!r}" if col.max is not None else None
        return " OR ".join(x for x in (low, high) if x)
    if ch.kind == "order":
        return f"{t} < t{schema.names.index(ch.other)}"
    raise AssertionError(ch.kind)
