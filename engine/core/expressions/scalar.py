"""Scalar mode: an expression computed on plain Python values (formula level, or a single
record in tests), with None as empty, by the rules of :mod:`.scalar_rules`."""

from __future__ import annotations

import ast
import datetime as _dt
from collections.abc import Mapping
from typing import Any

from merit.core.expressions.catalogue import FUNCTIONS
from merit.core.expressions.evaluator import Evaluator
from merit.core.expressions.kinds import OperandError, in_words, kind_of, plain_value
from merit.core.expressions.messages import did_you_mean, literal_hint, one_of
from merit.core.expressions.scalar_rules import (
    scalar_and,
    scalar_arith,
    scalar_eq,
    scalar_in,
    scalar_or,
    scalar_order,
    scalar_round,
    scalar_text,
)
from merit.core.expressions.source import SourceText
from merit.core.expressions.timezones import local_wall_clock, naive_utc


class ScalarEvaluator(Evaluator):
    """Scalar mode: Python values; None is empty."""

    def __init__(self, source: SourceText, names: Mapping[str, Any], params: Mapping[str, Any], timezone: str,
                 what: str):
        super().__init__(source, params, timezone)
        self.values = names
        self.what = what

    def _eval_name(self, node: ast.Name) -> Any:
        if node.id not in self.values:
            known = [str(k) for k in self.values]
            raise OperandError(f"unknown {self.what} '{node.id}'{did_you_mean(node.id, known)}"
                               f"{literal_hint(node.id)}", one_of(known))
        return plain_value(self.values[node.id])

    # ops
    def eq(self, a: Any, b: Any, op: str) -> Any:
        return scalar_eq(a, b, op)

    def not_(self, v: Any) -> Any:
        return None if v is None else (not v)

    def order(self, op: str, a: Any, b: Any) -> Any:
        return scalar_order(op, a, b)

    def arith(self, op: str, a: Any, b: Any) -> Any:
        return scalar_arith(op, a, b)

    def and_(self, values: list[Any]) -> Any:
        return scalar_and(values)

    def or_(self, values: list[Any]) -> Any:
        return scalar_or(values)

    def ifelse(self, cond: Any, body: Any, orelse: Any) -> Any:
        return body if cond is True else orelse

    def in_(self, x: Any, container: Any, node: ast.AST) -> Any:
        return scalar_in(x, container, node)

    def lookup(self, pnode: ast.AST, table: Any, key: Any, default: Any, strict: ast.AST | None = None) -> Any:
        table = self._param_table(pnode, table)
        if isinstance(key, (list, tuple, Mapping)):
            raise OperandError("the key of a parameter table must be a single value")
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
        if kind_of(value) != "number":
            raise OperandError(f"band() needs a number, not {in_words(kind_of(value))}", FUNCTIONS["band"][2])
        for low, out in rows:  # first band whose min <= value
            if value >= low:
                return out
        return None

    def period_bound(self, name: str) -> Any:
        period = getattr(self, "period", None)
        if period is None:
            raise OperandError(f"{name}() is only known while a cycle is evaluated")
        return period[0] if name == "period_start" else period[1]

    def round_(self, x: Any, digits: Any) -> Any:
        return scalar_round(x, digits)

    def between(self, a: Any, b: Any, unit: float) -> Any:
        if a is None or b is None:
            return None
        if isinstance(a, _dt.datetime):
            a, b = naive_utc(a), naive_utc(b)
            micro = (b - a) // _dt.timedelta(microseconds=1)
            return micro / (unit * 1e6)
        return float((b - a).days) * (86400.0 / unit)

    def timepart(self, name: str, x: Any) -> Any:
        if x is None:
            return None
        if isinstance(x, _dt.datetime):
            x = local_wall_clock(x, self.timezone)
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

    def text_function(self, name: str, args: list[Any]) -> Any:
        return scalar_text(name, args)

    def in_table(self, x: Any, table: str, column: str, tnode: ast.AST, cnode: ast.AST) -> Any:
        raise OperandError("in_table() only works in record-level expressions (over a table)", None, tnode)
