"""A parsed, checked expression (:class:`Expr`) and :func:`parse`: the text is read, checked
against the language and its limits, and its constant parts computed, so every mistake is
reported before any data is touched; it is then evaluated in column or scalar mode."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

from merit.core.errors import ExpressionError, Origin
from merit.core.expressions.catalogue import MAX_DEPTH, MAX_TEXT_LENGTH
from merit.core.expressions.columns import ColumnContext, ColumnEvaluator, as_filter
from merit.core.expressions.kinds import OperandError, check_exponent, in_words, kind_of
from merit.core.expressions.literals import literal, typed_null
from merit.core.expressions.messages import EXPECTED_SYNTAX
from merit.core.expressions.scalar import ScalarEvaluator
from merit.core.expressions.source import SourceText
from merit.core.expressions.syntax import parse_tree
from merit.core.expressions.validate import Validator, first_node_deeper_than, is_constant_tree


def parse(text: str, origin: Origin | None = None) -> "Expr":
    """Parse and check *text*; raise :class:`ExpressionError` if it is not valid."""
    return Expr(text, origin)


class Expr(SourceText):
    """A parsed, checked expression; evaluate it with to_column() or evaluate()."""

    def __init__(self, text: str, origin: Origin | None = None):
        super().__init__(text, origin)
        if not self.text.strip():
            raise self._error_at(1, 0, 0, "the expression is empty", EXPECTED_SYNTAX)
        if len(self.text) > MAX_TEXT_LENGTH:
            raise self._error_at(1, 0, len(self._lines[0]),
                                 f"the expression is too long ({len(self.text)} characters)",
                                 f"at most {MAX_TEXT_LENGTH} characters; split it into parameters or metrics")
        self.tree = parse_tree(self)
        deep = first_node_deeper_than(self.tree, MAX_DEPTH)
        if deep is not None:
            raise self._error(deep, "the expression is nested too deeply", f"at most {MAX_DEPTH} levels")
        checker = Validator(self)
        checker.visit(self.tree.body)
        self.names: frozenset[str] = frozenset(checker.names)
        self.params: frozenset[str] = frozenset(checker.params)
        self.tables: frozenset[str] = frozenset(checker.tables)
        self.strict_lookup: bool = checker.strict_lookup
        self._check_constants()

    def __repr__(self) -> str:
        return f"Expr({self.text!r})"

    def _check_constants(self) -> None:
        """Compute the parts that use no data now ('9 ** 9 ** 9', "'a' * 10**9", 'hour(3)'),
        so their errors come at parse time as well."""
        evaluator = None  # (made when first needed: most expressions have no constant part to compute)
        stack: list[ast.AST] = [self.tree.body]
        while stack:
            node = stack.pop()
            if is_constant_tree(node):
                if not isinstance(node, ast.Constant):
                    evaluator = evaluator or ScalarEvaluator(self, {}, {}, "UTC", "name")
                    evaluator._eval(node)
                continue
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and is_constant_tree(node.right):
                evaluator = evaluator or ScalarEvaluator(self, {}, {}, "UTC", "name")
                try:
                    check_exponent(evaluator._eval(node.right))
                except OperandError as exc:
                    raise self._error(node, exc.message, exc.expected) from None
            stack.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr))

    def error(self, message: str, expected: str | None = None) -> ExpressionError:
        """An ExpressionError about the whole expression (for callers)."""
        return self._error(self.tree.body, message, expected)

    # -- evaluation ------------------------------------------------------
    def to_column(self, table: ibis.Table, ctx: ColumnContext) -> ir.Value:
        """Compile to an Ibis expression over *table*."""
        value = ColumnEvaluator(self, table, ctx).run(self.tree)
        if isinstance(value, (list, tuple, Mapping)):
            raise self.error(f"the expression gives {in_words(kind_of(value))}, not a single value",
                             "a value per record")
        return literal(value)

    def to_value(self, table: ibis.Table, ctx: ColumnContext, kinds: tuple[str, ...], what: str,
                 expected: str) -> ir.Value:
        """Compile a value that must be one of *kinds* ("number", "string", ...) or empty, e.g.
        the value of a sum: *what* names it in the message ("the value of a sum")."""
        value = self.to_column(table, ctx)
        kind = kind_of(value)
        if kind != "empty" and kind not in kinds:
            raise self.error(f"{what} must be {' or '.join(in_words(k) for k in kinds)}, but this gives "
                             f"{in_words(kind)}", expected)
        return value

    def to_filter(self, table: ibis.Table, ctx: ColumnContext) -> ir.BooleanValue:
        """Compile as a filter: must be true/false; an empty result excludes the row."""
        value = self.to_column(table, ctx)
        kind = kind_of(value)
        if kind not in ("boolean", "empty"):
            raise self.error(f"a filter must be true or false, but this gives {in_words(kind)}",
                             "a condition such as rating == 'bad'")
        if kind == "empty":
            value = typed_null("boolean")
        return as_filter(value)

    def evaluate(self, names: Mapping[str, Any], params: Mapping[str, Any] | None = None,
                 timezone: str = "UTC", *, what: str = "name") -> Any:
        """Compute on plain Python values (None is empty).

        The result is a single value, or, when the expression is just a list or
        table parameter (``params.channel_weights``), that list or mapping.
        """
        return ScalarEvaluator(self, names, params or {}, timezone, what).run(self.tree)

    def test(self, names: Mapping[str, Any], params: Mapping[str, Any] | None = None,
             timezone: str = "UTC") -> bool:
        """Scalar filter: True only when the expression is true (empty excludes)."""
        value = self.evaluate(names, params, timezone)
        kind = kind_of(value)
        if kind not in ("boolean", "empty"):
            raise self.error(f"a filter must be true or false, but this gives {in_words(kind)}",
                             "a condition such as rating == 'bad'")
        return value is True
