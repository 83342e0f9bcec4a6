"""Column mode: an expression compiled to an Ibis expression over a table (a bare name is a
column), which the engine then runs over all records at once.  Every operation whose operands
are all constants folds to the scalar rule, so both modes agree by construction."""

from __future__ import annotations

import ast
import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from merit.core.backends import portability
from merit.core.expressions.catalogue import FUNCTIONS, MAX_STRING_LENGTH, ORDERINGS
from merit.core.expressions.evaluator import Evaluator
from merit.core.expressions.key_checks import KeyCheck
from merit.core.expressions.kinds import (
    OperandError,
    arithmetic_kind,
    check_comparable,
    check_exponent,
    check_orderable,
    coerce_date_literal,
    in_words,
    is_column,
    kind_of,
)
from merit.core.expressions.literals import literal, typed_null, wide
from merit.core.expressions.messages import did_you_mean, literal_hint, one_of
from merit.core.expressions.scalar import ScalarEvaluator
from merit.core.expressions.scalar_rules import (
    check_members,
    dates_of_strings,
    scalar_and,
    scalar_arith,
    scalar_eq,
    scalar_in,
    scalar_or,
    scalar_order,
    scalar_round,
    scalar_text,
    tag_pattern,
)
from merit.core.expressions.source import SourceText
from merit.core.expressions.timezones import to_local


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
    key_checks: list[KeyCheck] | None = None
    # The engine the columns run on (an Ibis connection's name); None: that of the expression's
    # tables (a constant such as period_start() has none)
    engine: str | None = None


def as_filter(value: Any) -> Any:
    """Apply "an empty filter excludes the row": NULL/None becomes False."""
    if isinstance(value, ir.Value):
        return value.fill_null(False)
    return value is True


class ColumnEvaluator(Evaluator):
    """Column mode: Ibis expressions over a table; constants fold with the scalar rules."""

    def __init__(self, source: SourceText, table: ibis.Table, ctx: ColumnContext):
        super().__init__(source, ctx.params or {}, ctx.timezone)
        self.table = table
        self.ctx = ctx
        self.what = ctx.what
        self._scalar = ScalarEvaluator(source, {}, ctx.params or {}, ctx.timezone, ctx.what)
        # string column expression -> characters of constants joined into it by '+' (see arith)
        self._joined_chars: dict[Any, int] = {}

    def _table_label(self) -> str:
        if self.ctx.table_name:
            return f" in table {self.ctx.table_name}"
        try:
            name = self.table.get_name()
        except AttributeError:  # a derived table (a filter, a projection) has no name
            return ""
        if name.startswith("ibis_") or name.startswith("_ibis"):
            return ""
        return f" in table {name}"

    def _eval_name(self, node: ast.Name) -> Any:
        columns = list(self.table.columns)
        if node.id not in columns:
            visible = [c for c in columns if not c.startswith("_")] or columns
            raise OperandError(f"unknown {self.what} '{node.id}'{self._table_label()}"
                               f"{did_you_mean(node.id, visible)}{literal_hint(node.id)}",
                               one_of(visible))
        return self.table[node.id]

    # ops: each folds to the scalar rule when no operand is a column
    def eq(self, a: Any, b: Any, op: str) -> Any:
        if not (is_column(a) or is_column(b)):
            return scalar_eq(a, b, op)
        a, b = coerce_date_literal(a, b)
        check_comparable(a, b, op)
        if a is None:
            return b.isnull()
        if b is None:
            return a.isnull()
        if kind_of(a) == "empty" or kind_of(b) == "empty":
            if is_column(a) and is_column(b):
                return a.isnull() & b.isnull()
            return literal(a).isnull() & literal(b).isnull()
        if not is_column(a) or not is_column(b):
            col, const = (a, b) if is_column(a) else (b, a)
            return (col == const).fill_null(False)
        return a.identical_to(b)

    def not_(self, v: Any) -> Any:
        if not is_column(v):
            return None if v is None else (not v)
        return ~v

    def _joined(self, a: Any, b: Any) -> int:
        """Characters of constants (literals, parameters) that ``a + b`` joins to every record's
        string: bounded like a scalar string, so a chain of long parameters cannot make every
        record huge."""
        def chars(v: Any) -> int:
            if isinstance(v, str):
                return len(v)
            return self._joined_chars.get(v.op(), 0) if is_column(v) else 0

        total = chars(a) + chars(b)
        if total > MAX_STRING_LENGTH:
            raise OperandError("the string is too long", f"strings of at most {MAX_STRING_LENGTH} characters")
        return total

    def order(self, op: str, a: Any, b: Any) -> Any:
        if not (is_column(a) or is_column(b)):
            return scalar_order(op, a, b)
        a, b = coerce_date_literal(a, b)
        check_orderable(op, a, b)
        if a is None or b is None or "empty" in (kind_of(a), kind_of(b)):
            return typed_null("boolean")
        return ORDERINGS[op](a, b)

    def arith(self, op: str, a: Any, b: Any) -> Any:
        if not (is_column(a) or is_column(b)):
            return scalar_arith(op, a, b)
        kind = arithmetic_kind(op, a, b)
        joined = self._joined(a, b) if op == "+" and kind == "string" else 0
        if op == "**":
            if not is_column(b):
                check_exponent(b)
        if a is None or b is None or "empty" in (kind_of(a), kind_of(b)):
            return self._empty_result(op, kind, a, b)
        if not is_column(b) and b == 0 and op in ("/", "//", "%"):
            return typed_null("number")
        divisor_is_column = is_column(b)
        a, b = wide(a), wide(b)  # typed literals: no INTEGER or DECIMAL arithmetic in SQL
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
            return self._power(a, b)
        return self._divide(op, a, b, divisor_is_column)

    @staticmethod
    def _empty_result(op: str, kind: str, a: Any, b: Any) -> ir.Value:
        """``a op b`` with an empty operand: empty, typed like the other operand."""
        if op == "/" or kind == "empty":
            return typed_null("number")
        other = a if is_column(a) and kind_of(a) != "empty" else b
        return typed_null(other.type()) if is_column(other) and kind_of(other) != "empty" else typed_null(kind)

    def _power(self, a: ir.Value, b: ir.Value) -> ir.Value:
        """``a ** b``; as in scalar mode, a negative base to a fractional power and 0 to a
        negative power are empty (the database gives NaN and infinity, or an error)."""
        power = portability.power(a, b, self.ctx.engine)
        undefined = (a == 0) & (b < 0)
        if power.type().is_floating():
            undefined = undefined | power.isnan()
        return ibis.ifelse(undefined.fill_null(False), typed_null("number"), power)

    @staticmethod
    def _divide(op: str, a: ir.Value, b: ir.Value, divisor_is_column: bool) -> ir.Value:
        """``a / b``, ``a // b`` or ``a % b``: a zero divisor gives empty, on every backend."""
        if divisor_is_column:
            b = b.nullif(0)
        if op == "/":
            return a / b
        if op == "//":
            return a // b
        return ((a % b) + b) % b  # Python's (floored) modulo on truncating backends too

    def _logic(self, values: list[Any], absorbing: bool, scalar, combine) -> Any:
        """SQL three-valued and/or: constants fold first; `absorbing` decides alone (False for and)."""
        consts = [v for v in values if not is_column(v)]
        cols = [v for v in values if is_column(v)]
        if not cols:
            return scalar(values)
        if any(v is absorbing for v in consts):
            return absorbing
        if any(v is None for v in consts):
            cols.append(typed_null("boolean"))
        result = cols[0]
        for c in cols[1:]:
            result = combine(result, c)
        return result

    def and_(self, values: list[Any]) -> Any:
        return self._logic(values, False, scalar_and, lambda a, b: a & b)

    def or_(self, values: list[Any]) -> Any:
        return self._logic(values, True, scalar_or, lambda a, b: a | b)

    def ifelse(self, cond: Any, body: Any, orelse: Any) -> Any:
        if not is_column(cond):
            return body if cond is True else orelse
        kind = kind_of(body) if kind_of(body) != "empty" else kind_of(orelse)
        dtype = body.type() if is_column(body) and kind_of(body) != "empty" else (
            orelse.type() if is_column(orelse) and kind_of(orelse) != "empty" else None)
        if body is None:
            body = typed_null(dtype) if dtype is not None else typed_null(kind)
        if orelse is None:
            orelse = typed_null(dtype) if dtype is not None else typed_null(kind)
        return ibis.ifelse(cond, wide(body), wide(orelse))

    def in_(self, x: Any, container: Any, node: ast.AST) -> Any:
        if not is_column(container):
            if not is_column(x):
                return scalar_in(x, container, node)
            return self._column_in_constants(x, container, node)
        k = kind_of(container)
        if k == "empty":
            return False
        if k != "list":
            raise OperandError(f"the right side of 'in' must be a list, not {in_words(k)}",
                               "a list such as ['a', 'b'], a list parameter or a list column", node)
        if x is None or kind_of(x) == "empty":
            return False
        return container.contains(x).fill_null(False)

    @staticmethod
    def _column_in_constants(x: ir.Value, container: Any, node: ast.AST) -> Any:
        """Column *x* in a constant list (or a parameter table's keys); empty is a value of its own."""
        k = kind_of(container)
        if k == "table":
            container = list(container.keys())
        elif k != "list":
            raise OperandError(f"the right side of 'in' must be a list, not {in_words(k)}",
                               "a list such as ['a', 'b'], a list parameter or a list column", node)
        items = list(container)
        check_members(x, items)
        items = dates_of_strings(x, items)
        has_none = any(i is None for i in items)
        values = [i for i in items if i is not None]
        if kind_of(x) == "empty":
            return has_none
        if not values:
            return x.isnull() if has_none else False
        return x.isin(values).fill_null(has_none)

    def _key_check(self, strict: ast.AST | None, pnode: ast.AST, keys: list, key: Any) -> None:
        if strict is not None and self.ctx.key_checks is not None:
            self.ctx.key_checks.append(KeyCheck(self.source, strict, getattr(pnode, "attr", "?"), keys, key))

    def lookup(self, pnode: ast.AST, table: Any, key: Any, default: Any, strict: ast.AST | None = None) -> Any:
        mapping = self._param_table(pnode, table)
        if not is_column(key):
            self._key_check(strict, pnode, [k for k in mapping if k is not None], key)
            return self._scalar.lookup(pnode, mapping, key, default)
        name = getattr(pnode, "attr", "?")
        branches, kinds = self._lookup_branches(pnode, mapping, kind_of(key))
        dk = kind_of(default)
        if dk != "empty":
            kinds.add(dk)
        if len(kinds) > 1:
            raise OperandError(f"params.{name} mixes {' and '.join(in_words(k) for k in sorted(kinds))} "
                               "(with the default)", "values of one kind", pnode)
        kind = next(iter(kinds), "empty")
        whole = all(isinstance(v, int) and not isinstance(v, bool) for _, v in branches if v is not None) and (
            default is None or (isinstance(default, int) and not isinstance(default, bool)))
        null = typed_null(dt.int64) if kind == "number" and whole else typed_null(kind if kind != "empty" else None)
        self._key_check(strict, pnode, [k for k, _ in branches], key)
        if not branches:
            return wide(default) if default is not None else null
        typed = [(k, (null if v is None else wide(v))) for k, v in branches]
        return key.cases(*typed, else_=(null if default is None else wide(default)))

    @staticmethod
    def _lookup_branches(pnode: ast.AST, mapping: Mapping, key_kind: str) -> tuple[list[tuple[Any, Any]], set[str]]:
        """(key, value) pairs of a parameter table, keys converted to the key column's kind, and
        the kinds of the values (empty aside)."""
        name = getattr(pnode, "attr", "?")
        branches = []
        kinds = set()
        for k, v in mapping.items():
            if k is None:
                continue
            vk = kind_of(v)
            if vk in ("list", "table"):
                raise OperandError(f"params.{name} maps to {in_words(vk)}; a parameter table must map keys to "
                                   "single values", None, pnode)
            if vk != "empty":
                kinds.add(vk)
            if key_kind == "number" and isinstance(k, str):
                try:
                    k = float(k) if "." in k else int(k)
                except ValueError:
                    raise OperandError(f"the key '{k}' of params.{name} is not a number, but the key column is",
                                       None, pnode)
            elif key_kind == "string" and not isinstance(k, str):
                k = str(k)
            branches.append((k, v))
        return branches, kinds

    def band(self, pnode: ast.AST, bands: Any, value: Any, field_name: str) -> Any:
        if not is_column(value):
            return self._scalar.band(pnode, bands, value, field_name)
        rows = self._bands(pnode, bands, field_name)
        if kind_of(value) not in ("number", "empty"):
            raise OperandError(f"band() needs a number, not {in_words(kind_of(value))}", FUNCTIONS["band"][2])
        kinds = {kind_of(v) for _, v in rows} - {"empty"}
        if len(kinds) > 1:
            raise OperandError(f"the '{field_name}' values of the bands mix kinds", None, pnode)
        null = typed_null(next(iter(kinds), None))
        branches = [(value >= wide(low), null if out is None else wide(out)) for low, out in rows]
        return ibis.cases(*branches, else_=null)

    def period_bound(self, name: str) -> Any:
        if self.ctx.period is None:
            raise OperandError(f"{name}() is only known while a cycle is evaluated")
        bound = self.ctx.period[0] if name == "period_start" else self.ctx.period[1]
        return ibis.literal(bound, type=dt.Timestamp())

    def round_(self, x: Any, digits: Any) -> Any:
        if not is_column(x):
            return scalar_round(x, digits)
        if kind_of(x) == "empty":
            return typed_null("number")
        return portability.round_number(x, digits, self.ctx.engine)

    def between(self, a: Any, b: Any, unit: float) -> Any:
        if not (is_column(a) or is_column(b)):
            return self._scalar.between(a, b, unit)
        if a is None or b is None or "empty" in (kind_of(a), kind_of(b)):
            return typed_null("number")
        if kind_of(a) == "timestamp":
            return b.delta(a, unit="microsecond") / (unit * 1e6)
        return b.delta(a, unit="day").cast("float64") * (86400.0 / unit)

    def timepart(self, name: str, x: Any) -> Any:
        if not is_column(x):
            return self._scalar.timepart(name, x)
        if kind_of(x) == "empty":
            return typed_null("string" if name == "month" else ("date" if name == "date" else "number"))
        if kind_of(x) == "timestamp":
            x = to_local(x, self.timezone, self.ctx.engine)
        if name == "month":
            return x.strftime("%Y-%m")
        if name == "date":
            return x.date() if kind_of(x) == "timestamp" else x
        if name == "hour":
            return x.hour()
        return x.day_of_week.index()

    def is_empty(self, x: Any) -> Any:
        if not is_column(x):
            return x is None
        return x.isnull()

    def nary(self, name: str, args: list[Any]) -> Any:
        if not any(is_column(a) for a in args):
            return self._scalar.nary(name, args)
        present = [wide(a) for a in args if a is not None]
        if name == "coalesce":
            return present[0] if len(present) == 1 else ibis.coalesce(*present)
        if len(present) == 1:
            return present[0]
        return (ibis.least if name == "least" else ibis.greatest)(*present)

    def unary(self, name: str, x: Any) -> Any:
        if not is_column(x):
            return self._scalar.unary(name, x)
        if kind_of(x) == "empty":
            return typed_null("string" if name in ("lower", "upper") else "number")
        if name == "abs":
            return x.abs()
        if name == "lower":
            return x.lower()
        if name == "upper":
            return x.upper()
        return x.length()

    def text_function(self, name: str, args: list[Any]) -> Any:
        """contains, has_tag, split_part over a column (as scalar_text says for plain values)."""
        text, part = args[0], args[1]
        if not is_column(text) and not is_column(part):
            return scalar_text(name, args)
        if part is None or kind_of(part) == "empty":
            return typed_null("string" if name == "split_part" else "boolean")
        if kind_of(text) == "empty":
            return typed_null("string") if name == "split_part" else False
        if name == "split_part":
            return text.split(part)[args[2] - 1].nullif("")
        if name == "contains":
            found = text.contains(part)
        else:
            found = text.re_search(tag_pattern(part) if isinstance(part, str) else part)
        return found.fill_null(False) if is_column(text) else found

    def in_table(self, x: Any, table: str, column: str, tnode: ast.AST, cnode: ast.AST) -> Any:
        tables = {k: v for k, v in (self.ctx.tables or {}).items() if v is not None}
        if table not in tables:
            known = [str(k) for k in tables]
            raise OperandError(f"unknown table '{table}'{did_you_mean(table, known)}", one_of(known), tnode)
        other = tables[table]
        if column not in other.columns:
            cols = [c for c in other.columns if not c.startswith("_")]
            raise OperandError(f"unknown column '{column}' in table {table}{did_you_mean(column, cols)}",
                               one_of(cols), cnode)
        if x is None or kind_of(x) == "empty":
            return False
        check_comparable(x, other[column], "in_table")
        values = other.select(column).filter(other[column].notnull())[column]
        if not is_column(x):
            x = literal(x)
        return x.notnull() & x.isin(values)
