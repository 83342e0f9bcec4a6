"""Ibis literals and typed empty values for column mode.  Numbers are built wide (int64,
float64), so that no column built from constants (if/else, lookups) can overflow a narrow
SQL type, and a fraction is exactly Python's double."""

from __future__ import annotations

import math
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from merit.core.expressions.kinds import is_column

_NULL_TYPES = {"boolean": "boolean", "number": "float64", "string": "string", "timestamp": "timestamp", "date": "date"}


def typed_null(kind_or_dtype: Any = None) -> ir.Value:
    """An empty value of an Ibis data type or of a kind ("number", ...); untyped otherwise."""
    if isinstance(kind_or_dtype, dt.DataType):
        return ibis.null(kind_or_dtype)
    return ibis.null(_NULL_TYPES.get(kind_or_dtype, None)) if kind_or_dtype in _NULL_TYPES else ibis.null()


def literal(v: Any) -> ir.Value:
    """An Ibis literal; whole numbers are int64 and fractions float64, so that
    columns built from literals (if/else, lookups) cannot overflow a narrow type."""
    if is_column(v):
        return v
    if v is None:
        return ibis.null()
    if isinstance(v, bool):
        return ibis.literal(v, type="boolean")
    if isinstance(v, int):
        if -(2**31) <= v < 2**31:  # a small literal would be typed INTEGER by the backend
            return ibis.literal(v).cast("int64")
        return ibis.literal(v, type="int64")
    if isinstance(v, float):
        if math.isfinite(v):
            # '1.5' alone is a DECIMAL in SQL; the text cast gives exactly Python's double
            return ibis.literal(repr(v)).cast("float64")
        return ibis.literal(v, type="float64")
    return ibis.literal(v)


def wide(v: Any) -> Any:
    """Numbers as wide Ibis literals; other values unchanged."""
    if isinstance(v, (int, float)) and not is_column(v):
        return literal(v)
    return v
