"""An `expr:` of a source compiled to SQL over the file's columns: the expression language
compiles to Ibis over a table whose columns are the file's (named as merit.core.sources.spec.
expr_name says, every one text); Ibis writes the SQL, in which each column is then replaced
by the reader's SQL for it."""

from __future__ import annotations

import re

import ibis
import sqlglot
from sqlglot import exp

from merit.core.expressions import ColumnContext, Expr
from merit.core.sources.spec import expr_name

_PLACEHOLDER = "__merit_column_{}__"
_PLACEHOLDERS = re.compile(r'"?__merit_column_(\d+)__"?')


def column_names(header: list[str]) -> dict[str, int]:
    """The expression name of each column of *header* and its position (the first of two
    columns with one name)."""
    names: dict[str, int] = {}
    for i, h in enumerate(header):
        name = expr_name(h)
        if name and name not in names:
            names[name] = i
    return names


def compile_expr(expr: Expr, header: list[str], timezone: str, table: str) -> tuple[str, str, set[int]]:
    """(SQL with a placeholder per column, the DuckDB type of the result, the positions of
    the columns it reads).  An ExpressionError when the expression does not suit the columns."""
    names = column_names(header)
    source = ibis.table({name: "string" for name in names}, name="_source")
    value = expr.to_column(source, ColumnContext(params={}, timezone=timezone, table_name=table))
    sql = ibis.to_sql(source.select(_value=value), dialect="duckdb")
    tree = sqlglot.parse_one(str(sql), read="duckdb").expressions[0].this
    used: set[int] = set()

    def placeholder(node):
        if isinstance(node, exp.Column):
            used.add(names[node.name])
            return exp.to_identifier(_PLACEHOLDER.format(names[node.name]))
        return node

    return tree.transform(placeholder).sql(dialect="duckdb"), _kind(value.type()), used


def _kind(dtype) -> str:
    """The DuckDB type of an expression's value, as the loader names kinds."""
    if dtype.is_boolean():
        return "BOOLEAN"
    if dtype.is_integer():
        return "BIGINT"
    if dtype.is_numeric():
        return "DOUBLE"
    if dtype.is_timestamp():
        return "TIMESTAMP"
    if dtype.is_date():
        return "DATE"
    return "VARCHAR"


def with_columns(sql: str, column_sql) -> str:
    """*sql* with each placeholder replaced by ``column_sql(position)``."""
    return _PLACEHOLDERS.sub(lambda m: f"({column_sql(int(m.group(1)))})", sql)
