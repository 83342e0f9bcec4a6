"""The one expression language of merit rulesets.

A ruleset expression (a filter such as ``rating == 'bad' and
bad_review_cause != 'product'``, a value such as
``hours_between(created_at, resolved_at)`` or a metric formula such as
``1 - escalated / tickets``) is parsed once with :func:`parse`.  Parsing checks
the syntax tree against the small allowed subset of Python, so every mistake is
reported, with its line, column and underline, before any data is touched.

A parsed :class:`Expr` is then evaluated through simpleeval (the evaluators
below subclass :class:`simpleeval.SimpleEval`; there is no attribute access
except ``params.NAME``) in one of two modes:

* :meth:`Expr.to_column` compiles it to an Ibis expression over a table (a bare
  name is a column); DuckDB then runs it over all records at once;
* :meth:`Expr.evaluate` computes it on plain Python values (formula level, or a
  single record in tests).

Both modes share one set of rules, in particular for empty values (SQL NULL,
Python ``None``): ``==``, ``!=``, ``in`` and ``not in`` treat empty as a value
of its own; ordered comparisons and arithmetic with an empty operand are
empty; ``and``/``or``/``not`` follow three-valued logic; a division by zero is
empty.  Constant parts of a column expression are folded with the scalar rules,
so both modes agree by construction.  ``docs/expressions.md`` is the user's
reference.
"""

from __future__ import annotations

import ast
import datetime as _dt
import difflib
import io
import math
import operator as _op
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import simpleeval

from merit.core.errors import ExpressionError, Origin

__all__ = [
    "ColumnContext",
    "Expr",
    "KeyCheck",
    "as_filter",
    "parse",
    "to_local",
    "FUNCTIONS",
    "MAX_TEXT_LENGTH",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_STRING_LENGTH",
    "MAX_ROUND_DIGITS",
]

# ---------------------------------------------------------------------------
# Limits
# ---------------------------------------------------------------------------

MAX_TEXT_LENGTH = 2000  # characters of expression text
MAX_DEPTH = 50  # nesting depth of the syntax tree
MAX_EXPONENT = 100  # largest |exponent| of **
MAX_STRING_LENGTH = 10_000  # longest string a scalar expression may build
MAX_INT_BITS = 4096  # largest integer a scalar expression may build
MAX_ROUND_DIGITS = 20  # round(x, n): |n| at most this (a double has 17 significant digits)

# name -> (min args, max args or None, signature shown in messages)
FUNCTIONS: dict[str, tuple[int, int | None, str]] = {
    "hours_between": (2, 2, "hours_between(start, end)"),
    "minutes_between": (2, 2, "minutes_between(start, end)"),
    "days_between": (2, 2, "days_between(start, end)"),
    "month": (1, 1, "month(timestamp)"),
    "date": (1, 1, "date(timestamp)"),
    "hour": (1, 1, "hour(timestamp)"),
    "weekday": (1, 1, "weekday(timestamp)"),
    "is_empty": (1, 1, "is_empty(x)"),
    "coalesce": (1, None, "coalesce(a, b, ...)"),
    "abs": (1, 1, "abs(x)"),
    "round": (1, 2, "round(x, digits)"),
    "least": (1, None, "least(a, b, ...)"),
    "greatest": (1, None, "greatest(a, b, ...)"),
    "length": (1, 1, "length(list_or_string)"),
    "lower": (1, 1, "lower(string)"),
    "upper": (1, 1, "upper(string)"),
    "lookup": (2, 3, "lookup(params.NAME, key, default)"),
    "in_table": (3, 3, "in_table(x, 'table', 'column')"),
    "band": (3, 3, "band(params.NAME, value, 'field')"),
    "period_start": (0, 0, "period_start()"),
    "period_end": (0, 0, "period_end()"),
}

_EXPECTED_SYNTAX = "an expression such as: rating == 'bad' and bad_review_cause != 'product'"

_BINOPS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}
_BAD_BINOPS = {
    ast.BitAnd: "'&' is not allowed; use 'and'",
    ast.BitOr: "'|' is not allowed; use 'or'",
    ast.BitXor: "'^' is not allowed; use '**' for a power",
    ast.LShift: "'<<' is not allowed",
    ast.RShift: "'>>' is not allowed",
    ast.MatMult: "'@' is not allowed",
}
_CMPOPS = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
}
_ORDER = {"<": _op.lt, "<=": _op.le, ">": _op.gt, ">=": _op.ge}
_FORBIDDEN_NODES = {
    ast.Lambda: "lambda functions are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.NamedExpr: "assignment (':=') is not allowed",
    ast.Starred: "'*' unpacking is not allowed",
    ast.Dict: "'{...}' literals are not allowed; use a parameter table (params.NAME)",
    ast.Set: "'{...}' literals are not allowed",
    ast.Slice: "slices are not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
}

# ---------------------------------------------------------------------------
# Public helpers
# ---------------------------------------------------------------------------


@dataclass
class ColumnContext:
    """What :meth:`Expr.to_column` needs besides the table."""

    params: Mapping[str, Any]
    timezone: str = "UTC"
    tables: Mapping[str, ibis.Table] = field(default_factory=dict)  # for in_table()
    table_name: str | None = None  # used in messages ("unknown column 'x' in table tickets")
    what: str = "column"  # what a bare name is, for messages: "column" or "metric"
    period: tuple[_dt.datetime, _dt.datetime] | None = None  # the cycle as [start, end) naive UTC instants
    # When a list, every strict lookup met while compiling is appended to it (see KeyCheck)
    key_checks: list["KeyCheck"] | None = None


@dataclass
class KeyCheck:
    """A lookup that must find its key: ``lookup(params.NAME, key)`` without a default, or
    ``params.NAME[key]``.

    Evaluating it gives empty for a key the table lacks (both modes agree); finding such keys
    is a check of its own: a constant key when the ruleset is compiled, a column key in the
    data (``merit.core.cohorts``), so a misspelt level is an error, not a silently wrong number.
    """

    expr: "Expr"
    node: ast.AST  # the key argument, for messages
    param: str
    keys: list  # the table's keys, converted as the key is compared with them
    key: Any  # the key: an Ibis column, or a constant

    @property
    def key_text(self) -> str:
        return self.expr.source_of(self.node)

    def missing_constant(self) -> "ExpressionError | None":
        """The error for a constant key that is not in the table (None if it is, or if the key is
        a column or empty)."""
        if _is_col(self.key) or self.key is None or self.key in self.keys:
            return None
        if not isinstance(self.key, str) and str(self.key) in self.keys:
            return None
        return self.expr._error(self.node, f"{self.key!r} is not a key of params.{self.param}"
                                f"{self.did_you_mean(self.key)}", self.expected())

    def did_you_mean(self, value: Any) -> str:
        """"; did you mean 'P3'?" for a key that differs from a known one in case or spelling."""
        keys = [str(k) for k in self.keys]
        same_but_case = [k for k in keys if k.casefold() == str(value).casefold()]
        return f"; did you mean '{same_but_case[0]}'?" if same_but_case else _did_you_mean(str(value), keys)

    def expected(self) -> str:
        shown = ", ".join(str(k) for k in sorted(self.keys, key=str)[:40])
        more = f", … ({len(self.keys) - 40} more)" if len(self.keys) > 40 else ""
        known = f"one of {shown}{more}" if self.keys else f"(params.{self.param} is empty)"
        return (f"{known}; or add the key to params.{self.param}, or give a default: "
                f"lookup(params.{self.param}, {self.key_text}, DEFAULT)")


def as_filter(value: Any) -> Any:
    """Apply "an empty filter excludes the row": NULL/None becomes False."""
    if isinstance(value, ir.Value):
        return value.fill_null(False)
    return value is True


@ibis.udf.scalar.builtin(name="timezone")
def _as_utc(tz: str, ts: dt.Timestamp()) -> dt.Timestamp(timezone="UTC"):  # type: ignore[valid-type]
    """DuckDB timezone(tz, naive): naive wall clock in tz -> instant."""


@ibis.udf.scalar.builtin(name="timezone")
def _wall_clock(tz: str, ts: dt.Timestamp(timezone="UTC")) -> dt.Timestamp():  # type: ignore[valid-type]
    """DuckDB timezone(tz, instant): instant -> naive wall clock in tz."""


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ExpressionError(f"unknown time zone '{name}'", expected="an IANA zone such as Asia/Shanghai or UTC")


@lru_cache(maxsize=64)
def _constant_offset(name: str) -> int | None:
    """The zone's UTC offset in seconds if it is the same from 2000 to 2100."""
    zone = _zone(name)
    offsets = set()
    for year in range(2000, 2101):
        for month in range(1, 13):
            for day in (1, 15):
                moment = _dt.datetime(year, month, day, 12, tzinfo=_dt.timezone.utc)
                offsets.add(moment.astimezone(zone).utcoffset())
                if len(offsets) > 1:
                    return None
    (offset,) = offsets
    return int(offset.total_seconds())


def to_local(ts: ir.TimestampValue, timezone: str) -> ir.TimestampValue:
    """Naive UTC instant -> naive local wall-clock time in *timezone*.

    Zones whose offset is constant (UTC, Asia/Shanghai, ...) compile to
    ``ts + interval``; others use DuckDB's ``timezone()`` (ICU), which follows
    daylight-saving changes.
    """
    if ts.type().timezone is not None:  # already an instant with a zone
        return _wall_clock(timezone, ts.cast(dt.Timestamp(timezone="UTC")))
    offset = _constant_offset(timezone)
    if offset is not None:
        return ts if offset == 0 else ts + ibis.interval(seconds=offset)
    return _wall_clock(timezone, _as_utc("UTC", ts))


def _local_scalar(value: _dt.datetime, timezone: str) -> _dt.datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    return value.astimezone(_zone(timezone)).replace(tzinfo=None)


# ---------------------------------------------------------------------------
# Values and kinds (shared by both modes)
# ---------------------------------------------------------------------------


class _OpError(Exception):
    """A rule of the language was broken by the operands; becomes an ExpressionError."""

    def __init__(self, message: str, expected: str | None = None, node: ast.AST | None = None):
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.node = node


_ARTICLE = {
    "empty": "empty",
    "boolean": "a true/false value",
    "number": "a number",
    "string": "a string",
    "timestamp": "a timestamp",
    "date": "a date",
    "list": "a list",
    "table": "a parameter table",
}


def _dtype_kind(t: dt.DataType) -> str:
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


def _kind(v: Any) -> str:
    if isinstance(v, ir.Value):
        return _dtype_kind(v.type())
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


def _a(kind: str) -> str:
    return _ARTICLE.get(kind, kind)


def _is_col(v: Any) -> bool:
    return isinstance(v, ir.Value)


def _norm(v: Any) -> Any:
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
        return {k: _norm(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_norm(x) for x in v]
    if hasattr(v, "tolist") and hasattr(v, "dtype"):  # numpy scalar or array
        return _norm(v.tolist())
    if hasattr(v, "item"):
        try:
            return _norm(v.item())
        except Exception:  # pragma: no cover - defensive
            return v
    return v


def _null(kind_or_dtype: Any = None) -> ir.Value:
    mapping = {"boolean": "boolean", "number": "float64", "string": "string", "timestamp": "timestamp", "date": "date"}
    if isinstance(kind_or_dtype, dt.DataType):
        return ibis.null(kind_or_dtype)
    return ibis.null(mapping.get(kind_or_dtype, None)) if kind_or_dtype in mapping else ibis.null()


def _lit(v: Any) -> ir.Value:
    """An Ibis literal; whole numbers are int64 and fractions float64, so that
    columns built from literals (if/else, lookups) cannot overflow a narrow type."""
    if _is_col(v):
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


def _wide(v: Any) -> Any:
    """Numbers as wide Ibis literals; other values unchanged."""
    if isinstance(v, (int, float)) and not _is_col(v):
        return _lit(v)
    return v


def _comparable(a: Any, b: Any, op: str) -> None:
    ka, kb = _kind(a), _kind(b)
    if "empty" in (ka, kb) or ka == kb:
        if ka in ("list", "table") or kb in ("list", "table"):
            raise _OpError(f"'{op}' cannot compare {_a(ka if ka in ('list', 'table') else kb)}",
                           "single values (use 'in' to test membership in a list)")
        return
    hint = None
    if {ka, kb} == {"timestamp", "string"}:
        hint = "a timestamp (to compare with a calendar date, use date(ts) >= '2026-07-01' or month(ts) == '2026-08')"
    elif {ka, kb} == {"timestamp", "date"}:
        hint = "two dates or two timestamps (date(ts) turns a timestamp into a local date)"
    raise _OpError(f"'{op}' cannot compare {_a(ka)} with {_a(kb)}", hint or "two values of the same kind")


def _coerce_date_literal(a: Any, b: Any) -> tuple[Any, Any]:
    """A string literal compared with a date is read as YYYY-MM-DD."""

    def conv(s: str) -> _dt.date:
        try:
            return _dt.date.fromisoformat(s)
        except ValueError:
            raise _OpError(f"'{s}' is not a date", "a date written YYYY-MM-DD")

    ka, kb = _kind(a), _kind(b)
    if ka == "date" and isinstance(b, str):
        b = conv(b)
    elif kb == "date" and isinstance(a, str):
        a = conv(a)
    return a, b


# ----- scalar rules --------------------------------------------------------


def _check_bool(v: Any, what: str, node: ast.AST | None = None) -> None:
    k = _kind(v)
    if k not in ("boolean", "empty"):
        raise _OpError(f"{what} needs true/false values, not {_a(k)}",
                       "a comparison or a true/false column, e.g. csat >= 4", node)


def _s_eq(a: Any, b: Any, op: str = "==") -> bool:
    a, b = _coerce_date_literal(a, b)
    _comparable(a, b, op)
    if a is None or b is None:
        return a is None and b is None
    return a == b


def _s_order(op: str, a: Any, b: Any) -> bool | None:
    a, b = _coerce_date_literal(a, b)
    _s_order_kinds(op, a, b)
    if a is None or b is None:
        return None
    try:
        return _ORDER[op](a, b)
    except TypeError as exc:  # e.g. naive vs aware datetimes
        raise _OpError(f"'{op}' cannot compare these values ({exc})")


def _arith_kinds(op: str, a: Any, b: Any) -> str:
    ka, kb = _kind(a), _kind(b)
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
            raise _OpError(f"'{op}' cannot be applied to {_a(k)}", hint)
    if "empty" not in (ka, kb) and ka != kb:
        raise _OpError(f"'{op}' cannot combine {_a(ka)} with {_a(kb)}", "two numbers or two strings")
    return kb if ka == "empty" else ka


def _check_int_size(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):  # a float overflowed to infinity
        raise _OpError("the number is too large", "results below about 1.8e308 in absolute value")
    if isinstance(v, int) and v.bit_length() > MAX_INT_BITS:
        raise _OpError("the number is too large", f"integers below 2**{MAX_INT_BITS}")
    if isinstance(v, str) and len(v) > MAX_STRING_LENGTH:
        raise _OpError("the string is too long", f"strings of at most {MAX_STRING_LENGTH} characters")
    return v


def _check_exponent(b: Any) -> None:
    if isinstance(b, (int, float)) and not isinstance(b, bool) and abs(b) > MAX_EXPONENT:
        raise _OpError(f"the exponent {b} is too large", f"an exponent between -{MAX_EXPONENT} and {MAX_EXPONENT}")


def _s_arith(op: str, a: Any, b: Any) -> Any:
    _arith_kinds(op, a, b)
    if op == "**":
        _check_exponent(b)
    if a is None or b is None:
        return None
    if op == "+":
        if isinstance(a, str) and len(a) + len(b) > MAX_STRING_LENGTH:
            raise _OpError("the string is too long", f"strings of at most {MAX_STRING_LENGTH} characters")
        return _check_int_size(a + b)
    if op == "-":
        return _check_int_size(a - b)
    if op == "*":
        if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > MAX_INT_BITS + 1:
            raise _OpError("the number is too large", f"integers below 2**{MAX_INT_BITS}")
        return _check_int_size(a * b)
    if op in ("/", "//", "%"):
        if b == 0:
            return None
        if op == "/":
            return _check_int_size(a / b)
        if op == "//":
            return _check_int_size(a // b)
        return a % b
    # power
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        if (abs(a).bit_length() - 1) * b > MAX_INT_BITS:
            raise _OpError("the number is too large", f"a power below 2**{MAX_INT_BITS}")
    try:
        result = a ** b
    except ZeroDivisionError:
        return None
    except OverflowError:
        raise _OpError("the number is too large")
    if isinstance(result, complex):
        return None
    return _check_int_size(result)


def _s_and(values: list[Any]) -> bool | None:
    if any(v is False for v in values):
        return False
    if any(v is None for v in values):
        return None
    return True


def _s_or(values: list[Any]) -> bool | None:
    if any(v is True for v in values):
        return True
    if any(v is None for v in values):
        return None
    return False


def _round_half_away(v: float) -> float:
    f = math.floor(v)
    return f + 1.0 if v - f >= 0.5 else f


def _s_round(x: Any, digits: int | None) -> Any:
    """DuckDB's ROUND: round(x * 10**n) half away from zero, / 10**n."""
    if x is None:
        return None
    if isinstance(x, int):
        if digits is None or digits >= 0:
            return x
        x = float(x)
        as_int = True
    else:
        as_int = digits is None
    if math.isinf(x) or math.isnan(x):
        return x
    m = 10.0 ** (digits or 0)
    v = x * m
    r = _round_half_away(v) if v >= 0 else -_round_half_away(-v)
    res = r / m
    if math.isinf(res) or math.isnan(res):
        res = x
    return int(res) if as_int else res


# ---------------------------------------------------------------------------
# Parsing and validation
# ---------------------------------------------------------------------------


def _did_you_mean(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _one_of(options: list[str], limit: int = 40) -> str:
    opts = sorted(options)
    if not opts:
        return "(none are defined)"
    shown = ", ".join(opts[:limit])
    if len(opts) > limit:
        shown += f", … ({len(opts) - limit} more)"
    return f"one of: {shown}"


def _is_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    return (isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd))
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, (int, float)) and not isinstance(node.operand.value, bool))


def _is_params_ref(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == "params" and not node.attr.startswith("_"))


class _Validator:
    def __init__(self, expr: "Expr"):
        self.expr = expr
        self.names: set[str] = set()
        self.params: set[str] = set()
        self.tables: set[str] = set()
        self.strict_lookup = False  # lookup(params.NAME, key) without a default, or params.NAME[key]

    def fail(self, node: ast.AST, message: str, expected: str | None = None) -> None:
        raise self.expr._error(node, message, expected)

    def visit(self, node: ast.AST, list_ok: bool = False) -> None:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            message = _FORBIDDEN_NODES.get(type(node))
            if message is None:
                message = f"'{type(node).__name__}' is not allowed in an expression"
            self.fail(node, message, _EXPECTED_SYNTAX)
        if list_ok and isinstance(node, (ast.List, ast.Tuple)):
            method(node, list_ok=True)  # type: ignore[misc]
        else:
            method(node)

    # literals ---------------------------------------------------------
    def visit_Constant(self, node: ast.Constant) -> None:
        v = node.value
        if isinstance(v, float) and not math.isfinite(v):  # 1e999 reads as infinity
            self.fail(node, "the number is too large", "a finite number (at most about 1.8e308)")
        if v is None or isinstance(v, (bool, int, float, str)):
            return
        self.fail(node, f"{type(v).__name__} literals are not allowed",
                  "a number, a string, True, False or None")

    def visit_List(self, node: ast.List | ast.Tuple, list_ok: bool = False) -> None:
        for elt in node.elts:
            if isinstance(elt, ast.Starred):
                self.fail(elt, "'*' unpacking is not allowed")
        if not list_ok:
            self.fail(node, "a list is only allowed after 'in' or 'not in'", "x in ['a', 'b']")
        for elt in node.elts:
            if not _is_literal(elt):
                self.fail(elt, "a list may only hold literal values", "numbers, strings, True, False or None")

    visit_Tuple = visit_List

    # names ------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if node.id.startswith("__"):
            self.fail(node, f"the name '{node.id}' is not allowed (names starting with '__' are reserved)")
        if node.id == "params":
            self.fail(node, "'params' must be followed by a parameter name", "params.NAME")
        self.names.add(node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if _is_params_ref(node):
            self.params.add(node.attr)
            return
        # Report the first (innermost) bad attribute of a chain such as
        # ().__class__.__bases__[0].__subclasses__()
        inner: ast.AST = node.value
        while isinstance(inner, (ast.Attribute, ast.Subscript, ast.Call)):
            if isinstance(inner, ast.Attribute) and not _is_params_ref(inner):
                node = inner
            inner = inner.func if isinstance(inner, ast.Call) else inner.value
        if isinstance(node.value, ast.Name) and node.value.id == "params":
            self.fail(node, f"the parameter name '{node.attr}' is not allowed", "params.NAME")
        self.fail(node, f"attribute access ('.{node.attr}') is not allowed; the only dotted form is params.NAME",
                  "params.NAME, or a function such as lower(x)")

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if not _is_params_ref(node.value):
            if isinstance(node.value, ast.Attribute):
                self.visit(node.value)
            self.fail(node, "indexing ('[...]') is only allowed on a parameter table", "params.NAME[key]")
        self.visit(node.value)
        if isinstance(node.slice, (ast.Slice, ast.Tuple)):
            self.fail(node.slice, "a parameter table takes one key", "params.NAME[key]")
        self.strict_lookup = True
        self.visit(node.slice)

    # operators --------------------------------------------------------
    def visit_BinOp(self, node: ast.BinOp) -> None:
        if type(node.op) not in _BINOPS:
            self.fail(node, _BAD_BINOPS.get(type(node.op), "this operator is not allowed"),
                      "one of + - * / // % **")
        self.visit(node.left)
        self.visit(node.right)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Invert):
            self.fail(node, "'~' is not allowed; use 'not'")
        self.visit(node.operand)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        for v in node.values:
            self.visit(v)

    def visit_Compare(self, node: ast.Compare) -> None:
        self.visit(node.left)
        for op, comp in zip(node.ops, node.comparators):
            if isinstance(op, (ast.Is, ast.IsNot)):
                if not (isinstance(comp, ast.Constant) and comp.value is None):
                    self.fail(node, "'is' is only allowed as 'x is None' or 'x is not None'",
                              "== or != to compare values")
            self.visit(comp, list_ok=isinstance(op, (ast.In, ast.NotIn)))

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self.visit(node.test)
        self.visit(node.body)
        self.visit(node.orelse)

    # calls -------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if not isinstance(func, ast.Name):
            if isinstance(func, (ast.Attribute, ast.Lambda, ast.Subscript)):
                self.visit(func)
            self.fail(func, "only the merit functions can be called", _one_of(list(FUNCTIONS)))
        name = func.id
        if name not in FUNCTIONS:
            self.fail(func, f"unknown function '{name}'{_did_you_mean(name, list(FUNCTIONS))}",
                      _one_of(list(FUNCTIONS)))
        lo, hi, sig = FUNCTIONS[name]
        if node.keywords:
            self.fail(node.keywords[0].value if node.keywords[0].arg else node,
                      f"{name}() takes its arguments by position, not by name", sig)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.fail(arg, "'*' unpacking is not allowed", sig)
        n = len(node.args)
        if n < lo or (hi is not None and n > hi):
            want = f"{lo}" if lo == hi else (f"{lo} to {hi}" if hi is not None else f"at least {lo}")
            self.fail(node, f"{name}() takes {want} argument{'s' if (hi or 2) != 1 else ''}, got {n}", sig)
        if name == "in_table":
            for arg, what in zip(node.args[1:], ("table", "column")):
                if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                    self.fail(arg, f"the {what} of in_table() must be a quoted name", sig)
            self.tables.add(node.args[1].value)  # type: ignore[attr-defined]
            self.visit(node.args[0])
            return
        if name == "lookup" and not _is_params_ref(node.args[0]):
            self.fail(node.args[0], "the first argument of lookup() must be a parameter table", sig)
        if name == "lookup" and n == 2:
            self.strict_lookup = True
        if name == "band":
            if not _is_params_ref(node.args[0]):
                self.fail(node.args[0], "the first argument of band() must be a parameter list of bands", sig)
            if not (isinstance(node.args[2], ast.Constant) and isinstance(node.args[2].value, str)):
                self.fail(node.args[2], "the field of band() must be a quoted name", sig)
        if name == "round" and n == 2:
            d = node.args[1]
            ok = _is_literal(d)
            value = d.value if isinstance(d, ast.Constant) else getattr(getattr(d, "operand", None), "value", None)
            if not ok or not isinstance(value, int) or isinstance(value, bool):
                self.fail(d, "the digits of round() must be a whole number", "round(x, 2)")
            if isinstance(d, ast.UnaryOp) and isinstance(d.op, ast.USub):
                value = -value
            if abs(value) > MAX_ROUND_DIGITS:
                self.fail(d, f"round() to {value} digits is out of range",
                          f"digits between -{MAX_ROUND_DIGITS} and {MAX_ROUND_DIGITS}")
        for arg in node.args:
            self.visit(arg)


def _is_constant_tree(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Name, ast.Attribute, ast.Subscript)):
            return False
        if isinstance(sub, ast.Call) and getattr(sub.func, "id", None) == "in_table":
            return False
    return True


def _node_depth_exceeds(tree: ast.AST, limit: int) -> ast.AST | None:
    """First expression node deeper than *limit* (iterative, so deep trees are safe)."""
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, ast.expr):
            depth += 1
            if depth > limit:
                return node
        for child in ast.iter_child_nodes(node):
            stack.append((child, depth))
    return None


def parse(text: str, origin: Origin | None = None) -> "Expr":
    """Parse and check *text*; raise :class:`ExpressionError` if it is not valid."""
    return Expr(text, origin)


class Expr:
    """A parsed, checked expression; evaluate it with to_column() or evaluate()."""

    def __init__(self, text: str, origin: Origin | None = None):
        if not isinstance(text, str):
            text = str(text)
        self.text = text
        self.origin = origin
        self._lines = text.split("\n") or [""]
        self._src_lines = [("(" + self._lines[0])] + self._lines[1:]
        if not text.strip():
            raise self._error_at(1, 0, 0, "the expression is empty", _EXPECTED_SYNTAX)
        if len(text) > MAX_TEXT_LENGTH:
            raise self._error_at(1, 0, len(self._lines[0]),
                                 f"the expression is too long ({len(text)} characters)",
                                 f"at most {MAX_TEXT_LENGTH} characters; split it into parameters or metrics")
        self.tree = self._parse_tree()
        deep = _node_depth_exceeds(self.tree, MAX_DEPTH)
        if deep is not None:
            raise self._error(deep, "the expression is nested too deeply", f"at most {MAX_DEPTH} levels")
        checker = _Validator(self)
        checker.visit(self.tree.body)
        self.names: frozenset[str] = frozenset(checker.names)
        self.params: frozenset[str] = frozenset(checker.params)
        self.tables: frozenset[str] = frozenset(checker.tables)
        self.strict_lookup: bool = checker.strict_lookup
        self._check_constants()

    def __repr__(self) -> str:
        return f"Expr({self.text!r})"

    def source_of(self, node: ast.AST) -> str:
        """The text of a node of the parsed tree."""
        return (ast.get_source_segment("(" + self.text + "\n)", node) or "").strip()

    def _check_constants(self) -> None:
        """Compute the parts that use no data now ('9 ** 9 ** 9', "'a' * 10**9", 'hour(3)'),
        so their errors come at parse time as well."""
        evaluator = _ScalarEval(self, {}, {}, "UTC", "name")
        stack: list[ast.AST] = [self.tree.body]
        while stack:
            node = stack.pop()
            if _is_constant_tree(node):
                if not isinstance(node, ast.Constant):
                    evaluator._eval(node)
                continue
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and _is_constant_tree(node.right):
                try:
                    _check_exponent(evaluator._eval(node.right))
                except _OpError as exc:
                    raise self._error(node, exc.message, exc.expected) from None
            stack.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr))

    # -- parsing ---------------------------------------------------------
    def _parse_tree(self) -> ast.Expression:
        src = "(" + self.text + "\n)"
        try:
            return ast.parse(src, mode="eval")
        except SyntaxError as exc:
            syntax_error = exc
        except (RecursionError, MemoryError):
            raise self._error_at(1, 0, len(self._lines[0]), "the expression is nested too deeply",
                                 f"at most {MAX_DEPTH} levels") from None
        except ValueError as exc:  # e.g. NUL bytes
            raise self._error_at(1, 0, len(self._lines[0]), f"invalid expression: {exc}", _EXPECTED_SYNTAX) from None
        self._explain_statement()
        exc = syntax_error
        lineno = exc.lineno or 1
        offset = (exc.offset or 1) - 1
        end = (exc.end_offset or 0) - 1
        if exc.end_lineno not in (None, lineno):
            end = offset + 1
        if lineno == 1:
            offset -= 1
            end -= 1
        msg = exc.msg
        if lineno > len(self._lines):  # at the closing parenthesis we added
            lineno = len(self._lines)
            offset = len(self._lines[-1])
            end = offset + 1
            msg = "the expression is incomplete"
        problem = self._bracket_problem() if ("unmatched" in msg or "never closed" in msg
                                               or msg == "the expression is incomplete") else None
        if problem is not None:
            what, lineno, offset = problem
            end = offset + 1
            char = self._lines[lineno - 1][offset]
            msg = f"unmatched '{char}'" if what == "unmatched" else f"'{char}' is never closed"
        if msg == "invalid syntax":
            msg = "this is not a valid expression here"
        hint = ""
        if "&&" in self.text or "||" in self.text:
            hint = " (use 'and' / 'or')"
        offset = max(0, offset)
        end = max(offset + 1, end)
        raise self._error_at(lineno, offset, end, f"invalid syntax: {msg}{hint}", _EXPECTED_SYNTAX)

    def _bracket_problem(self) -> tuple[str, int, int] | None:
        """('unmatched' | 'unclosed', line, column) of the first bad bracket, if any."""
        stack: list[tuple[int, int]] = []
        try:
            for tok in tokenize.generate_tokens(io.StringIO(self.text).readline):
                if tok.type == tokenize.OP and tok.string in ("(", "[", "{"):
                    stack.append(tok.start)
                elif tok.type == tokenize.OP and tok.string in (")", "]", "}"):
                    if not stack:
                        return ("unmatched", tok.start[0], tok.start[1])
                    stack.pop()
        except (tokenize.TokenError, SyntaxError):
            pass
        if stack:
            return ("unclosed", stack[0][0], stack[0][1])
        return None

    def _explain_statement(self) -> None:
        """The text is not an expression; if it is a statement, say which."""
        if self.text[:1].isspace():
            return
        try:
            module = ast.parse(self.text, mode="exec")
        except (SyntaxError, RecursionError, MemoryError, ValueError):
            return
        if len(module.body) > 1:
            second = module.body[1]
            raise self._error_rel(second, "only one expression is allowed (found several, separated by ';' or lines)",
                                  _EXPECTED_SYNTAX)
        if not module.body:
            return
        stmt = module.body[0]
        if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            hint = " (use '==' to compare)" if isinstance(stmt, ast.Assign) else ""
            raise self._error_rel(stmt, f"assignment is not allowed{hint}", _EXPECTED_SYNTAX)
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            raise self._error_rel(stmt, "import is not allowed", _EXPECTED_SYNTAX)
        if not isinstance(stmt, ast.Expr):
            raise self._error_rel(stmt, f"a '{type(stmt).__name__.lower()}' statement is not allowed; "
                                  "only an expression", _EXPECTED_SYNTAX)

    # -- positions -------------------------------------------------------
    def _char_col(self, src_line: str, byte_offset: int) -> int:
        return len(src_line.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))

    def _error(self, node: ast.AST, message: str, expected: str | None = None) -> ExpressionError:
        """Error at *node* of the parsed (parenthesised) source."""
        lineno = getattr(node, "lineno", 1)
        end_lineno = getattr(node, "end_lineno", lineno) or lineno
        src_line = self._src_lines[min(lineno, len(self._src_lines)) - 1]
        start = self._char_col(src_line, getattr(node, "col_offset", 0))
        if end_lineno == lineno:
            end = self._char_col(src_line, getattr(node, "end_col_offset", 0) or 0)
        else:
            end = len(src_line)
        if lineno == 1:
            start, end = start - 1, end - 1
        return self._error_at(lineno, max(0, start), max(0, end), message, expected)

    def _error_rel(self, node: ast.AST, message: str, expected: str | None = None) -> ExpressionError:
        """Error at *node* of the text parsed as is (no added parenthesis)."""
        lineno = node.lineno
        line = self._lines[lineno - 1]
        start = self._char_col(line, node.col_offset)
        end = self._char_col(line, node.end_col_offset) if node.end_lineno == lineno else len(line)
        return self._error_at(lineno, start, end, message, expected)

    def _error_at(self, lineno: int, start: int, end: int, message: str, expected: str | None) -> ExpressionError:
        origin = self.origin or Origin()
        lineno = max(1, min(lineno, len(self._lines)))
        line_text = self._lines[lineno - 1]
        if end <= start:
            end = start + 1
        if origin.line is not None:
            line: int | None = origin.line + lineno - 1
        else:
            line = lineno if len(self._lines) > 1 else None
        column = (origin.column if origin.column is not None else 1) + start
        return ExpressionError(
            message,
            file=origin.file,
            line=line,
            column=column,
            field=origin.field,
            resource=origin.resource,
            text=line_text,
            span=(start, end),
            expected=expected,
        )

    def error(self, message: str, expected: str | None = None) -> ExpressionError:
        """An ExpressionError about the whole expression (for callers)."""
        return self._error(self.tree.body, message, expected)

    # -- evaluation ------------------------------------------------------
    def to_column(self, table: ibis.Table, ctx: ColumnContext) -> ir.Value:
        """Compile to an Ibis expression over *table*."""
        value = _ColumnEval(self, table, ctx).run()
        if isinstance(value, (list, tuple, Mapping)):
            raise self.error(f"the expression gives {_a(_kind(value))}, not a single value",
                             "a value per record")
        return _lit(value)

    def to_value(self, table: ibis.Table, ctx: ColumnContext, kinds: tuple[str, ...], what: str,
                 expected: str) -> ir.Value:
        """Compile a value that must be one of *kinds* ("number", "string", ...) or empty, e.g.
        the value of a sum: *what* names it in the message ("the value of a sum")."""
        value = self.to_column(table, ctx)
        kind = _kind(value)
        if kind != "empty" and kind not in kinds:
            raise self.error(f"{what} must be {' or '.join(_a(k) for k in kinds)}, but this gives {_a(kind)}",
                             expected)
        return value

    def to_filter(self, table: ibis.Table, ctx: ColumnContext) -> ir.BooleanValue:
        """Compile as a filter: must be true/false; an empty result excludes the row."""
        value = self.to_column(table, ctx)
        kind = _kind(value)
        if kind not in ("boolean", "empty"):
            raise self.error(f"a filter must be true or false, but this gives {_a(kind)}",
                             "a condition such as rating == 'bad'")
        if kind == "empty":
            value = _null("boolean")
        return as_filter(value)

    def evaluate(self, names: Mapping[str, Any], params: Mapping[str, Any] | None = None,
                 timezone: str = "UTC", *, what: str = "name") -> Any:
        """Compute on plain Python values (None is empty).

        The result is a single value, or, when the expression is just a list or
        table parameter (``params.channel_weights``), that list or mapping.
        """
        return _ScalarEval(self, names, params or {}, timezone, what).run()

    def test(self, names: Mapping[str, Any], params: Mapping[str, Any] | None = None,
             timezone: str = "UTC") -> bool:
        """Scalar filter: True only when the expression is true (empty excludes)."""
        value = self.evaluate(names, params, timezone)
        kind = _kind(value)
        if kind not in ("boolean", "empty"):
            raise self.error(f"a filter must be true or false, but this gives {_a(kind)}",
                             "a condition such as rating == 'bad'")
        return value is True


# ---------------------------------------------------------------------------
# Evaluators (simpleeval subclasses)
# ---------------------------------------------------------------------------


class _BaseEval(simpleeval.SimpleEval):
    """Shared walk over the checked tree; subclasses supply the operations."""

    what = "name"

    def __init__(self, expr: Expr, params: Mapping[str, Any], timezone: str):
        super().__init__(operators={}, functions={}, names={})
        self.expr_obj = expr
        self.params = params
        self.timezone = timezone
        # Only the node types of the language; everything else (Assign, Import,
        # JoinedStr, comprehensions, ...) is not even dispatchable.
        self.nodes = {
            ast.Expression: self._eval_expression,
            ast.Name: self._eval_name,
            ast.Constant: self._eval_constant,
            ast.UnaryOp: self._eval_unaryop,
            ast.BinOp: self._eval_binop,
            ast.BoolOp: self._eval_boolop,
            ast.Compare: self._eval_compare,
            ast.IfExp: self._eval_ifexp,
            ast.Call: self._eval_call,
            ast.Subscript: self._eval_subscript,
            ast.Attribute: self._eval_attribute,
            ast.List: self._eval_list,
            ast.Tuple: self._eval_list,
        }

    def run(self) -> Any:
        return self.eval(self.expr_obj.text, previously_parsed=self.expr_obj.tree)

    def _check_disallowed_items(self, item: Any) -> None:
        if isinstance(item, (ir.Value, ir.Table)):
            return
        super()._check_disallowed_items(item)

    def _eval(self, node: ast.AST) -> Any:
        try:
            return super()._eval(node)
        except ExpressionError:
            raise
        except _OpError as exc:
            raise self.expr_obj._error(exc.node or node, exc.message, exc.expected) from None
        except simpleeval.InvalidExpression as exc:  # defence in depth; the checker comes first
            raise self.expr_obj._error(node, str(exc)) from None
        except Exception as exc:  # a backend refused the operation (types etc.)
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise self.expr_obj._error(node, f"cannot compute this: {detail}") from None

    def _eval_expression(self, node: ast.Expression) -> Any:
        return self._eval(node.body)

    @staticmethod
    def _eval_constant(node: ast.Constant) -> Any:
        return node.value

    def _eval_list(self, node: ast.List | ast.Tuple) -> list[Any]:
        return [self._eval(e) for e in node.elts]

    # params ------------------------------------------------------------
    def _eval_attribute(self, node: ast.Attribute) -> Any:
        if not _is_params_ref(node):  # the checker already refused it
            raise _OpError("attribute access is not allowed; the only dotted form is params.NAME", "params.NAME")
        name = node.attr
        if name not in self.params:
            known = [str(k) for k in self.params]
            raise _OpError(f"unknown parameter '{name}'{_did_you_mean(name, known)}", _one_of(known))
        value = _norm(self.params[name])
        if isinstance(value, str) and len(value) > MAX_STRING_LENGTH:  # it would be copied into every record
            raise _OpError(f"params.{name} is too long ({len(value)} characters)",
                           f"strings of at most {MAX_STRING_LENGTH} characters")
        if isinstance(value, float) and not math.isfinite(value):  # YAML's .inf
            raise _OpError(f"params.{name} is not a finite number", "a number such as 0.5 or 24")
        return value

    def _eval_subscript(self, node: ast.Subscript) -> Any:
        table = self._eval(node.value)
        key = self._eval(node.slice)
        return self.lookup(node.value, table, key, None, node.slice)

    def _bands(self, pnode: ast.AST, bands: Any, field_name: str) -> list[tuple[Any, Any]]:
        """(min, value) pairs of a parameter list like [{min: 0.6, multiplier: 3}, ...], in order."""
        name = getattr(pnode, "attr", "?")
        ok = isinstance(bands, (list, tuple)) and all(isinstance(b, Mapping) for b in bands)
        if not ok or not bands:
            raise _OpError(f"params.{name} is not a list of bands", "[{min: 0.6, " + field_name + ": 3}, ...]", pnode)
        rows = []
        for b in bands:
            if "min" not in b or field_name not in b:
                raise _OpError(f"every band of params.{name} needs 'min' and '{field_name}'", None, pnode)
            if _kind(b["min"]) != "number":
                raise _OpError(f"the 'min' of every band of params.{name} must be a number", None, pnode)
            rows.append((b["min"], b[field_name]))
        return rows

    def _param_table(self, pnode: ast.AST, table: Any) -> Mapping:
        if not isinstance(table, Mapping):
            name = getattr(pnode, "attr", "?")
            raise _OpError(f"params.{name} is {_a(_kind(table))}, not a parameter table",
                           "a parameter that maps keys to values", pnode)
        return table

    # operators ---------------------------------------------------------
    def _eval_unaryop(self, node: ast.UnaryOp) -> Any:
        v = self._eval(node.operand)
        if isinstance(node.op, ast.Not):
            _check_bool(v, "'not'", node.operand)
            return self.not_(v)
        k = _kind(v)
        if k not in ("number", "empty"):
            raise _OpError(f"'{'-' if isinstance(node.op, ast.USub) else '+'}' needs a number, not {_a(k)}")
        if v is None or isinstance(node.op, ast.UAdd):
            return v
        return -v

    def _eval_binop(self, node: ast.BinOp) -> Any:
        op = _BINOPS[type(node.op)]
        return self.arith(op, self._eval(node.left), self._eval(node.right))

    def _eval_boolop(self, node: ast.BoolOp) -> Any:
        word = "'and'" if isinstance(node.op, ast.And) else "'or'"
        values = []
        for sub in node.values:
            v = self._eval(sub)
            _check_bool(v, word, sub)
            values.append(v)
        return self.and_(values) if isinstance(node.op, ast.And) else self.or_(values)

    def _eval_compare(self, node: ast.Compare) -> Any:
        left = self._eval(node.left)
        parts = []
        for opnode, comp in zip(node.ops, node.comparators):
            right = self._eval(comp)
            op = _CMPOPS[type(opnode)]
            if op in ("==", "is"):
                parts.append(self.eq(left, right, op))
            elif op in ("!=", "is not"):
                parts.append(self.not_(self.eq(left, right, op)))
            elif op == "in":
                parts.append(self.in_(left, right, comp))
            elif op == "not in":
                parts.append(self.not_(self.in_(left, right, comp)))
            else:
                parts.append(self.order(op, left, right))
            left = right
        return parts[0] if len(parts) == 1 else self.and_(parts)

    def _eval_ifexp(self, node: ast.IfExp) -> Any:
        cond = self._eval(node.test)
        _check_bool(cond, "'if'", node.test)
        body = self._eval(node.body)
        orelse = self._eval(node.orelse)
        kb, ko = _kind(body), _kind(orelse)
        if "empty" not in (kb, ko) and kb != ko:
            raise _OpError(f"the two branches of 'if ... else' give {_a(kb)} and {_a(ko)}",
                           "both branches of the same kind")
        return self.ifelse(cond, body, orelse)

    # functions -----------------------------------------------------------
    def _eval_call(self, node: ast.Call) -> Any:
        name = node.func.id  # type: ignore[attr-defined]
        if name not in FUNCTIONS:  # pragma: no cover - the checker refuses it
            raise _OpError(f"unknown function '{name}'", _one_of(list(FUNCTIONS)))
        if name == "in_table":
            return self.in_table(self._eval(node.args[0]), node.args[1].value, node.args[2].value,  # type: ignore[attr-defined]
                                 node.args[1], node.args[2])
        if name in ("period_start", "period_end"):
            return self.period_bound(name)
        if name == "band":
            bands = self._eval(node.args[0])
            return self.band(node.args[0], bands, self._eval(node.args[1]), node.args[2].value)  # type: ignore[attr-defined]
        args = [self._eval(a) for a in node.args]
        sig = FUNCTIONS[name][2]
        if name == "lookup":
            default = args[2] if len(args) > 2 else None
            strict = node.args[1] if len(args) == 2 else None  # no default: the key must be in the table
            return self.lookup(node.args[0], args[0], args[1], default, strict)
        if name == "round":
            x = args[0]
            self._need(x, ("number",), name, sig, node.args[0])
            digits = args[1] if len(args) > 1 else None
            return self.round_(x, digits)
        if name in ("hours_between", "minutes_between", "days_between"):
            a, b = args
            for v, n in zip(args, node.args):
                self._need(v, ("timestamp", "date"), name, sig, n)
            ka, kb = _kind(a), _kind(b)
            if "empty" not in (ka, kb) and ka != kb:
                raise _OpError(f"{name}() cannot mix a date and a timestamp",
                               "two timestamps or two dates (date(ts) turns a timestamp into a local date)")
            unit = {"hours_between": 3600.0, "minutes_between": 60.0, "days_between": 86400.0}[name]
            return self.between(a, b, unit)
        if name in ("month", "date", "hour", "weekday"):
            x = args[0]
            kinds = ("timestamp",) if name == "hour" else ("timestamp", "date")
            self._need(x, kinds, name, sig, node.args[0])
            return self.timepart(name, x)
        if name == "is_empty":
            return self.is_empty(args[0])
        if name in ("coalesce", "least", "greatest"):
            kinds = {_kind(a) for a in args} - {"empty"}
            if len(kinds) > 1:
                raise _OpError(f"{name}() cannot mix {' and '.join(_a(k) for k in sorted(kinds))}",
                               "arguments of the same kind")
            if kinds & {"list", "table"}:
                raise _OpError(f"{name}() takes single values", sig)
            if name != "coalesce" and kinds - {"number", "string", "timestamp", "date"}:
                raise _OpError(f"{name}() needs numbers, strings, dates or timestamps", sig)
            return self.nary(name, args)
        if name == "abs":
            self._need(args[0], ("number",), name, sig, node.args[0])
            return self.unary(name, args[0])
        if name in ("lower", "upper"):
            self._need(args[0], ("string",), name, sig, node.args[0])
            return self.unary(name, args[0])
        if name == "length":
            self._need(args[0], ("string", "list"), name, sig, node.args[0])
            return self.unary(name, args[0])
        raise _OpError(f"unknown function '{name}'")  # pragma: no cover

    @staticmethod
    def _need(v: Any, kinds: tuple[str, ...], name: str, sig: str, node: ast.AST) -> None:
        k = _kind(v)
        if k != "empty" and k not in kinds:
            want = " or ".join(_a(x) for x in kinds)
            raise _OpError(f"{name}() needs {want}, not {_a(k)}", sig, node)


class _ScalarEval(_BaseEval):
    """Scalar mode: Python values; None is empty."""

    def __init__(self, expr: Expr, names: Mapping[str, Any], params: Mapping[str, Any], timezone: str, what: str):
        super().__init__(expr, params, timezone)
        self.values = names
        self.what = what

    def _eval_name(self, node: ast.Name) -> Any:
        if node.id not in self.values:
            known = [str(k) for k in self.values]
            raise _OpError(f"unknown {self.what} '{node.id}'{_did_you_mean(node.id, known)}{_literal_hint(node.id)}",
                           _one_of(known))
        return _norm(self.values[node.id])

    # ops
    def eq(self, a: Any, b: Any, op: str) -> Any:
        return _s_eq(a, b, op)

    def not_(self, v: Any) -> Any:
        return None if v is None else (not v)

    def order(self, op: str, a: Any, b: Any) -> Any:
        return _s_order(op, a, b)

    def arith(self, op: str, a: Any, b: Any) -> Any:
        return _s_arith(op, a, b)

    def and_(self, values: list[Any]) -> Any:
        return _s_and(values)

    def or_(self, values: list[Any]) -> Any:
        return _s_or(values)

    def ifelse(self, cond: Any, body: Any, orelse: Any) -> Any:
        return body if cond is True else orelse

    def in_(self, x: Any, container: Any, node: ast.AST) -> Any:
        return _s_in(x, container, node)

    def lookup(self, pnode: ast.AST, table: Any, key: Any, default: Any, strict: ast.AST | None = None) -> Any:
        table = self._param_table(pnode, table)
        if isinstance(key, (list, tuple, Mapping)):
            raise _OpError("the key of a parameter table must be a single value")
        if key is None:
            return default
        if key in table:
            return table[key]
        if not isinstance(key, str) and str(key) in table:  # YAML keys are often strings
            return table[str(key)]
        return default

    def band(self, pnode: ast.AST, bands: Any, value: Any, field_name: str) -> Any:
        rows = self._bands(pnode, bands, field_name)
        if value is None:
            return None
        if _kind(value) != "number":
            raise _OpError(f"band() needs a number, not {_a(_kind(value))}", FUNCTIONS["band"][2])
        for low, out in rows:  # first band whose min <= value
            if value >= low:
                return out
        return None

    def period_bound(self, name: str) -> Any:
        period = getattr(self, "period", None)
        if period is None:
            raise _OpError(f"{name}() is only known while a cycle is evaluated")
        return period[0] if name == "period_start" else period[1]

    def round_(self, x: Any, digits: Any) -> Any:
        return _s_round(x, digits)

    def between(self, a: Any, b: Any, unit: float) -> Any:
        if a is None or b is None:
            return None
        if isinstance(a, _dt.datetime):
            a, b = _naive_utc(a), _naive_utc(b)
            micro = (b - a) // _dt.timedelta(microseconds=1)
            return micro / (unit * 1e6)
        return float((b - a).days) * (86400.0 / unit)

    def timepart(self, name: str, x: Any) -> Any:
        if x is None:
            return None
        if isinstance(x, _dt.datetime):
            x = _local_scalar(x, self.timezone)
        if name == "month":
            return f"{x.year:04d}-{x.month:02d}"
        if name == "date":
            return x.date() if isinstance(x, _dt.datetime) else x
        if name == "hour":
            return x.hour
        return x.weekday()

    def is_empty(self, x: Any) -> Any:
        return x is None

    def nary(self, name: str, args: list[Any]) -> Any:
        present = [a for a in args if a is not None]
        if not present:
            return None
        if name == "coalesce":
            return present[0]
        return min(present) if name == "least" else max(present)

    def unary(self, name: str, x: Any) -> Any:
        if x is None:
            return None
        if name == "abs":
            return abs(x)
        if name == "lower":
            return x.lower()
        if name == "upper":
            return x.upper()
        return len(x)

    def in_table(self, x: Any, table: str, column: str, tnode: ast.AST, cnode: ast.AST) -> Any:
        raise _OpError("in_table() only works in record-level expressions (over a table)", None, tnode)


def _literal_hint(name: str) -> str:
    hints = {"true": "True", "false": "False", "null": "None", "none": "None", "nil": "None"}
    if name.lower() in hints:
        return f" (write {hints[name.lower()]})"
    return ""


def _naive_utc(v: _dt.datetime) -> _dt.datetime:
    if v.tzinfo is not None:
        return v.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return v


def _s_in(x: Any, container: Any, node: ast.AST) -> Any:
    k = _kind(container)
    if k == "table":
        container = list(container.keys())
    elif k == "empty":  # an empty list column holds nothing
        return False
    elif k != "list":
        raise _OpError(f"the right side of 'in' must be a list, not {_a(k)}",
                       "a list such as ['a', 'b'], a list parameter or a list column", node)
    items = list(container)
    if x is not None:
        for item in items:
            if item is not None:
                xi, item2 = _coerce_date_literal(x, item)
                _comparable(xi, item2, "in")
        if _kind(x) == "date":
            items = [_coerce_date_literal(x, i)[1] if isinstance(i, str) else i for i in items]
    return x in items


class _ColumnEval(_BaseEval):
    """Column mode: Ibis expressions over a table; constants fold with the scalar rules."""

    def __init__(self, expr: Expr, table: ibis.Table, ctx: ColumnContext):
        super().__init__(expr, ctx.params or {}, ctx.timezone)
        self.table = table
        self.ctx = ctx
        self.what = ctx.what
        self._scalar = _ScalarEval(expr, {}, ctx.params or {}, ctx.timezone, ctx.what)
        # string column expression -> characters of constants joined into it by '+' (see arith)
        self._joined_chars: dict[Any, int] = {}

    def _table_label(self) -> str:
        if self.ctx.table_name:
            return f" in table {self.ctx.table_name}"
        try:
            name = self.table.get_name()
        except Exception:
            return ""
        if name.startswith("ibis_") or name.startswith("_ibis"):
            return ""
        return f" in table {name}"

    def _eval_name(self, node: ast.Name) -> Any:
        columns = list(self.table.columns)
        if node.id not in columns:
            visible = [c for c in columns if not c.startswith("_")] or columns
            raise _OpError(f"unknown {self.what} '{node.id}'{self._table_label()}"
                           f"{_did_you_mean(node.id, visible)}{_literal_hint(node.id)}",
                           _one_of(visible))
        return self.table[node.id]

    # ops: each folds to the scalar rule when no operand is a column
    def eq(self, a: Any, b: Any, op: str) -> Any:
        if not (_is_col(a) or _is_col(b)):
            return _s_eq(a, b, op)
        a, b = _coerce_date_literal(a, b)
        _comparable(a, b, op)
        if a is None:
            return b.isnull()
        if b is None:
            return a.isnull()
        if _kind(a) == "empty" or _kind(b) == "empty":
            return a.isnull() & b.isnull() if _is_col(a) and _is_col(b) else _lit(a).isnull() & _lit(b).isnull()
        if not _is_col(a) or not _is_col(b):
            col, const = (a, b) if _is_col(a) else (b, a)
            return (col == const).fill_null(False)
        return a.identical_to(b)

    def not_(self, v: Any) -> Any:
        if not _is_col(v):
            return None if v is None else (not v)
        return ~v

    def _joined(self, a: Any, b: Any) -> int:
        """Characters of constants (literals, parameters) that ``a + b`` joins to every record's
        string: bounded like a scalar string, so a chain of long parameters cannot make every
        record huge."""
        def chars(v: Any) -> int:
            if isinstance(v, str):
                return len(v)
            return self._joined_chars.get(v.op(), 0) if _is_col(v) else 0

        total = chars(a) + chars(b)
        if total > MAX_STRING_LENGTH:
            raise _OpError("the string is too long", f"strings of at most {MAX_STRING_LENGTH} characters")
        return total

    def order(self, op: str, a: Any, b: Any) -> Any:
        if not (_is_col(a) or _is_col(b)):
            return _s_order(op, a, b)
        a, b = _coerce_date_literal(a, b)
        _s_order_kinds(op, a, b)
        if a is None or b is None or "empty" in (_kind(a), _kind(b)):
            return _null("boolean")
        return _ORDER[op](a, b)

    def arith(self, op: str, a: Any, b: Any) -> Any:
        if not (_is_col(a) or _is_col(b)):
            return _s_arith(op, a, b)
        kind = _arith_kinds(op, a, b)
        joined = self._joined(a, b) if op == "+" and kind == "string" else 0
        if op == "**":
            if not _is_col(b):
                _check_exponent(b)
        if a is None or b is None or "empty" in (_kind(a), _kind(b)):
            if op == "/" or kind == "empty":
                return _null("number")
            other = a if _is_col(a) and _kind(a) != "empty" else b
            return _null(other.type()) if _is_col(other) and _kind(other) != "empty" else _null(kind)
        if not _is_col(b) and b == 0 and op in ("/", "//", "%"):
            return _null("number")
        divisor_is_column = _is_col(b)
        a, b = _wide(a), _wide(b)  # typed literals: no INTEGER or DECIMAL arithmetic in SQL
        if op == "+":
            result = a + b
            if joined:
                self._joined_chars[result.op()] = joined
            return result
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "**":
            # as in scalar mode: a negative base to a fractional power and 0 to a negative power
            # are empty (the database gives NaN and infinity)
            power = a ** b
            undefined = (a == 0) & (b < 0)
            if power.type().is_floating():
                undefined = undefined | power.isnan()
            return ibis.ifelse(undefined.fill_null(False), _null("number"), power)
        # division-like: a zero divisor gives empty, on every backend
        if divisor_is_column:
            b = b.nullif(0)
        if op == "/":
            return a / b
        if op == "//":
            return a // b
        return ((a % b) + b) % b  # Python's (floored) modulo on truncating backends too

    def _logic(self, values: list[Any], absorbing: bool, scalar, combine) -> Any:
        """SQL three-valued and/or: constants fold first; `absorbing` decides alone (False for and)."""
        consts = [v for v in values if not _is_col(v)]
        cols = [v for v in values if _is_col(v)]
        if not cols:
            return scalar(values)
        if any(v is absorbing for v in consts):
            return absorbing
        if any(v is None for v in consts):
            cols.append(_null("boolean"))
        result = cols[0]
        for c in cols[1:]:
            result = combine(result, c)
        return result

    def and_(self, values: list[Any]) -> Any:
        return self._logic(values, False, _s_and, lambda a, b: a & b)

    def or_(self, values: list[Any]) -> Any:
        return self._logic(values, True, _s_or, lambda a, b: a | b)

    def ifelse(self, cond: Any, body: Any, orelse: Any) -> Any:
        if not _is_col(cond):
            return body if cond is True else orelse
        kind = _kind(body) if _kind(body) != "empty" else _kind(orelse)
        dtype = body.type() if _is_col(body) and _kind(body) != "empty" else (
            orelse.type() if _is_col(orelse) and _kind(orelse) != "empty" else None)
        if body is None:
            body = _null(dtype) if dtype is not None else _null(kind)
        if orelse is None:
            orelse = _null(dtype) if dtype is not None else _null(kind)
        return ibis.ifelse(cond, _wide(body), _wide(orelse))

    def in_(self, x: Any, container: Any, node: ast.AST) -> Any:
        if not _is_col(container):
            if not _is_col(x):
                return _s_in(x, container, node)
            k = _kind(container)
            if k == "table":
                container = list(container.keys())
            elif k != "list":
                raise _OpError(f"the right side of 'in' must be a list, not {_a(k)}",
                               "a list such as ['a', 'b'], a list parameter or a list column", node)
            items = list(container)
            for item in items:
                if item is not None:
                    xi, item2 = _coerce_date_literal(x, item)
                    _comparable(xi, item2, "in")
            if _kind(x) == "date":
                items = [_coerce_date_literal(x, i)[1] if isinstance(i, str) else i for i in items]
            has_none = any(i is None for i in items)
            values = [i for i in items if i is not None]
            if _kind(x) == "empty":
                return has_none
            if not values:
                return x.isnull() if has_none else False
            return x.isin(values).fill_null(has_none)
        k = _kind(container)
        if k == "empty":
            return False
        if k != "list":
            raise _OpError(f"the right side of 'in' must be a list, not {_a(k)}",
                           "a list such as ['a', 'b'], a list parameter or a list column", node)
        if x is None or _kind(x) == "empty":
            return False
        return container.contains(x).fill_null(False)

    def _key_check(self, strict: ast.AST | None, pnode: ast.AST, keys: list, key: Any) -> None:
        if strict is not None and self.ctx.key_checks is not None:
            self.ctx.key_checks.append(KeyCheck(self.expr_obj, strict, getattr(pnode, "attr", "?"), keys, key))

    def lookup(self, pnode: ast.AST, table: Any, key: Any, default: Any, strict: ast.AST | None = None) -> Any:
        mapping = self._param_table(pnode, table)
        if not _is_col(key):
            self._key_check(strict, pnode, [k for k in mapping if k is not None], key)
            return self._scalar.lookup(pnode, mapping, key, default)
        name = getattr(pnode, "attr", "?")
        branches = []
        kinds = set()
        key_kind = _kind(key)
        for k, v in mapping.items():
            if k is None:
                continue
            vk = _kind(v)
            if vk in ("list", "table"):
                raise _OpError(f"params.{name} maps to {_a(vk)}; a parameter table must map keys to single values",
                               None, pnode)
            if vk != "empty":
                kinds.add(vk)
            if key_kind == "number" and isinstance(k, str):
                try:
                    k = float(k) if "." in k else int(k)
                except ValueError:
                    raise _OpError(f"the key '{k}' of params.{name} is not a number, but the key column is", None, pnode)
            elif key_kind == "string" and not isinstance(k, str):
                k = str(k)
            branches.append((k, v))
        dk = _kind(default)
        if dk != "empty":
            kinds.add(dk)
        if len(kinds) > 1:
            raise _OpError(f"params.{name} mixes {' and '.join(_a(k) for k in sorted(kinds))} (with the default)",
                           "values of one kind", pnode)
        kind = next(iter(kinds), "empty")
        whole = all(isinstance(v, int) and not isinstance(v, bool) for _, v in branches if v is not None) and (
            default is None or (isinstance(default, int) and not isinstance(default, bool)))
        null = _null(dt.int64) if kind == "number" and whole else _null(kind if kind != "empty" else None)
        self._key_check(strict, pnode, [k for k, _ in branches], key)
        if not branches:
            return _wide(default) if default is not None else null
        typed = [(k, (null if v is None else _wide(v))) for k, v in branches]
        return key.cases(*typed, else_=(null if default is None else _wide(default)))

    def band(self, pnode: ast.AST, bands: Any, value: Any, field_name: str) -> Any:
        if not _is_col(value):
            return self._scalar.band(pnode, bands, value, field_name)
        rows = self._bands(pnode, bands, field_name)
        if _kind(value) not in ("number", "empty"):
            raise _OpError(f"band() needs a number, not {_a(_kind(value))}", FUNCTIONS["band"][2])
        kinds = {_kind(v) for _, v in rows} - {"empty"}
        if len(kinds) > 1:
            raise _OpError(f"the '{field_name}' values of the bands mix kinds", None, pnode)
        null = _null(next(iter(kinds), None))
        branches = [(value >= _wide(low), null if out is None else _wide(out)) for low, out in rows]
        return ibis.cases(*branches, else_=null)

    def period_bound(self, name: str) -> Any:
        if self.ctx.period is None:
            raise _OpError(f"{name}() is only known while a cycle is evaluated")
        bound = self.ctx.period[0] if name == "period_start" else self.ctx.period[1]
        return ibis.literal(bound, type=dt.Timestamp())

    def round_(self, x: Any, digits: Any) -> Any:
        if not _is_col(x):
            return _s_round(x, digits)
        if _kind(x) == "empty":
            return _null("number")
        return x.round() if digits is None else x.round(digits)

    def between(self, a: Any, b: Any, unit: float) -> Any:
        if not (_is_col(a) or _is_col(b)):
            return self._scalar.between(a, b, unit)
        if a is None or b is None or "empty" in (_kind(a), _kind(b)):
            return _null("number")
        if _kind(a) == "timestamp":
            return b.delta(a, unit="microsecond") / (unit * 1e6)
        return b.delta(a, unit="day").cast("float64") * (86400.0 / unit)

    def timepart(self, name: str, x: Any) -> Any:
        if not _is_col(x):
            return self._scalar.timepart(name, x)
        if _kind(x) == "empty":
            return _null("string" if name == "month" else ("date" if name == "date" else "number"))
        if _kind(x) == "timestamp":
            x = to_local(x, self.timezone)
        if name == "month":
            return x.strftime("%Y-%m")
        if name == "date":
            return x.date() if _kind(x) == "timestamp" else x
        if name == "hour":
            return x.hour()
        return x.day_of_week.index()

    def is_empty(self, x: Any) -> Any:
        if not _is_col(x):
            return x is None
        return x.isnull()

    def nary(self, name: str, args: list[Any]) -> Any:
        if not any(_is_col(a) for a in args):
            return self._scalar.nary(name, args)
        present = [_wide(a) for a in args if a is not None]
        if name == "coalesce":
            return present[0] if len(present) == 1 else ibis.coalesce(*present)
        if len(present) == 1:
            return present[0]
        return (ibis.least if name == "least" else ibis.greatest)(*present)

    def unary(self, name: str, x: Any) -> Any:
        if not _is_col(x):
            return self._scalar.unary(name, x)
        if _kind(x) == "empty":
            return _null("string" if name in ("lower", "upper") else "number")
        if name == "abs":
            return x.abs()
        if name == "lower":
            return x.lower()
        if name == "upper":
            return x.upper()
        return x.length()

    def in_table(self, x: Any, table: str, column: str, tnode: ast.AST, cnode: ast.AST) -> Any:
        tables = {k: v for k, v in (self.ctx.tables or {}).items() if v is not None}
        if table not in tables:
            known = [str(k) for k in tables]
            raise _OpError(f"unknown table '{table}'{_did_you_mean(table, known)}", _one_of(known), tnode)
        other = tables[table]
        if column not in other.columns:
            cols = [c for c in other.columns if not c.startswith("_")]
            raise _OpError(f"unknown column '{column}' in table {table}{_did_you_mean(column, cols)}",
                           _one_of(cols), cnode)
        if x is None or _kind(x) == "empty":
            return False
        _comparable(x, other[column], "in_table")
        values = other.select(column).filter(other[column].notnull())[column]
        if not _is_col(x):
            x = _lit(x)
        return x.notnull() & x.isin(values)


def _s_order_kinds(op: str, a: Any, b: Any) -> None:
    _comparable(a, b, op)
    k = _kind(a) if _kind(a) != "empty" else _kind(b)
    if k not in ("number", "string", "timestamp", "date", "empty"):
        raise _OpError(f"'{op}' cannot order {_a(k)}", "numbers, strings, dates or timestamps")
