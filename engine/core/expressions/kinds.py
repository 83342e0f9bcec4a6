"""The kinds of values the language knows (empty, boolean, number, string, timestamp, date,
list, parameter table), for Ibis columns and plain Python values alike, and the checks that
operands suit an operation.  Both evaluation modes use these, so they report alike."""

from __future__ import annotations

import ast
import datetime as _dt
import math
from collections.abc import Mapping
from typing import Any

import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from merit.core.expressions.catalogue import MAX_EXPONENT, MAX_INT_BITS, MAX_STRING_LENGTH


class OperandError(Exception):
    """A rule of the language was broken by the operands; becomes an ExpressionError."""

    def __init__(self, message: str, expected: str | None = None, node: ast.AST | None = None):
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.node = node


# How messages name each kind ("cannot compare a number with a string").
_KIND_IN_WORDS = {
    "empty": "empty",
    "boolean": "a true/false value",
    "number": "a number",
    "string": "a string",
    "timestamp": "a timestamp",
    "date": "a date",
    "list": "a list",
    "table": "a parameter table",
}


def dtype_kind(t: dt.DataType) -> str:
    """The kind of an Ibis data type (its own name for a type the language does not know)."""
    if t.is_null():
        return "empty"
    if t.is_boolean():
        return "boolean"
    if t.is_numeric():
        return "number"
    if t.is_string():
        return "string"
    if t.is_timestamp():
        return "timestamp"
    if t.is_date():
        return "date"
    if t.is_array():
        return "list"
    return str(t)


def kind_of(v: Any) -> str:
    """The kind of an Ibis value or a plain Python value (None is empty)."""
    if isinstance(v, ir.Value):
        return dtype_kind(v.type())
    if v is None:
        return "empty"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, _dt.datetime):
        return "timestamp"
    if isinstance(v, _dt.date):
        return "date"
    if isinstance(v, (list, tuple)):
        return "list"
    if isinstance(v, Mapping):
        return "table"
    return type(v).__name__


def in_words(kind: str) -> str:
    """*kind* as messages say it: "a number", "a true/false value", ..."""
    return _KIND_IN_WORDS.get(kind, kind)


def is_column(v: Any) -> bool:
    """Whether *v* is an Ibis value (column mode) rather than a plain Python value."""
    return isinstance(v, ir.Value)


def plain_value(v: Any) -> Any:
    """Plain Python value for scalar mode: numpy/pandas scalars unwrapped, NaN/NaT/NA -> None."""
    if v is None or isinstance(v, (bool, str)):
        return v
    tname = type(v).__name__
    if tname in ("NaTType", "NAType"):
        return None
    if isinstance(v, float):
        return None if math.isnan(v) else v
    if isinstance(v, (int, _dt.date)):
        return v
    if isinstance(v, Mapping):
        return {k: plain_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain_value(x) for x in v]
    if hasattr(v, "tolist") and hasattr(v, "dtype"):  # numpy scalar or array
        return plain_value(v.tolist())
    if hasattr(v, "item"):
        try:
            return plain_value(v.item())
        except (TypeError, ValueError):  # pragma: no cover - an item() that is not numpy's one-value unwrap
            return v
    return v


def check_comparable(a: Any, b: Any, op: str) -> None:
    """*a* and *b* are of one kind (or one is empty), and single values."""
    ka, kb = kind_of(a), kind_of(b)
    if "empty" in (ka, kb) or ka == kb:
        if ka in ("list", "table") or kb in ("list", "table"):
            raise OperandError(f"'{op}' cannot compare {in_words(ka if ka in ('list', 'table') else kb)}",
                               "single values (use 'in' to test membership in a list)")
        return
    hint = None
    if {ka, kb} == {"timestamp", "string"}:
        hint = "a timestamp (to compare with a calendar date, use date(ts) >= '2026-07-01' or month(ts) == '2026-08')"
    elif {ka, kb} == {"timestamp", "date"}:
        hint = "two dates or two timestamps (date(ts) turns a timestamp into a local date)"
    raise OperandError(f"'{op}' cannot compare {in_words(ka)} with {in_words(kb)}",
                       hint or "two values of the same kind")


def check_orderable(op: str, a: Any, b: Any) -> None:
    """*a* and *b* are comparable and of a kind that has an order."""
    check_comparable(a, b, op)
    k = kind_of(a) if kind_of(a) != "empty" else kind_of(b)
    if k not in ("number", "string", "timestamp", "date", "empty"):
        raise OperandError(f"'{op}' cannot order {in_words(k)}", "numbers, strings, dates or timestamps")


def coerce_date_literal(a: Any, b: Any) -> tuple[Any, Any]:
    """A string literal compared with a date is read as YYYY-MM-DD."""

    def conv(s: str) -> _dt.date:
        try:
            return _dt.date.fromisoformat(s)
        except ValueError:
            raise OperandError(f"'{s}' is not a date", "a date written YYYY-MM-DD")

    ka, kb = kind_of(a), kind_of(b)
    if ka == "date" and isinstance(b, str):
        b = conv(b)
    elif kb == "date" and isinstance(a, str):
        a = conv(a)
    return a, b


def check_boolean(v: Any, what: str, node: ast.AST | None = None) -> None:
    """*v* is true/false or empty: the operand of *what* ("'and'", "'if'", ...)."""
    k = kind_of(v)
    if k not in ("boolean", "empty"):
        raise OperandError(f"{what} needs true/false values, not {in_words(k)}",
                           "a comparison or a true/false column, e.g. csat >= 4", node)


def arithmetic_kind(op: str, a: Any, b: Any) -> str:
    """The kind of ``a op b`` (number, or string for '+'); an OperandError if it has none."""
    ka, kb = kind_of(a), kind_of(b)
    allowed = ("number", "string") if op == "+" else ("number",)
    for k in (ka, kb):
        if k != "empty" and k not in allowed:
            hint = "numbers"
            if k in ("timestamp", "date"):
                hint = "numbers (for the time between two timestamps use hours_between(a, b))"
            elif k == "string" and op == "*":
                hint = "numbers (strings cannot be repeated)"
            elif op == "+":
                hint = "two numbers or two strings"
            raise OperandError(f"'{op}' cannot be applied to {in_words(k)}", hint)
    if "empty" not in (ka, kb) and ka != kb:
        raise OperandError(f"'{op}' cannot combine {in_words(ka)} with {in_words(kb)}", "two numbers or two strings")
    return kb if ka == "empty" else ka


def check_size(v: Any) -> Any:
    """*v* unchanged if it is within the limits: a finite float, an integer and a string no
    larger than a scalar expression may build."""
    if isinstance(v, float) and not math.isfinite(v):  # a float overflowed to infinity
        raise OperandError("the number is too large", "results below about 1.8e308 in absolute value")
    if isinstance(v, int) and v.bit_length() > MAX_INT_BITS:
        raise OperandError("the number is too large", f"integers below 2**{MAX_INT_BITS}")
    if isinstance(v, str) and len(v) > MAX_STRING_LENGTH:
        raise OperandError("the string is too long", f"strings of at most {MAX_STRING_LENGTH} characters")
    return v


def check_exponent(b: Any) -> None:
    """A constant exponent of ``**`` is within the limit."""
    if isinstance(b, (int, float)) and not isinstance(b, bool) and abs(b) > MAX_EXPONENT:
        raise OperandError(f"the exponent {b} is too large", f"an exponent between -{MAX_EXPONENT} and {MAX_EXPONENT}")
