"""The walk over a checked syntax tree that both evaluation modes share: a subclass of
:class:`simpleeval.SimpleEval` that dispatches only the node types of the language (no
attribute access except ``params.NAME``), checks the operands' kinds, and leaves each
operation to its mode (``ScalarEvaluator`` or ``ColumnEvaluator``)."""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from typing import Any

import ibis.expr.types as ir
import simpleeval
from ibis.common.annotations import ValidationError as IbisValidationError
from ibis.common.exceptions import IbisError

from merit.core.errors import ExpressionError
from merit.core.expressions.catalogue import BINARY_OPERATORS, COMPARISONS, FUNCTIONS, MAX_STRING_LENGTH
from merit.core.expressions.kinds import OperandError, check_boolean, in_words, kind_of, plain_value
from merit.core.expressions.messages import did_you_mean, one_of
from merit.core.expressions.source import SourceText
from merit.core.expressions.validate import is_params_ref

# What building an operation raises when it refuses the operands: Ibis's own errors (IbisError,
# and the ValidationError of its signature checks), the plain TypeError/ValueError some Ibis
# operations raise (a CASE whose keys cannot be compared with the column), and Python's
# arithmetic on constants (OverflowError).  No database runs anything here: column mode only
# builds the query.  Any other exception is a bug of merit's own and keeps its traceback.
_REFUSED_OPERATION = (IbisError, IbisValidationError, TypeError, ValueError, ArithmeticError)

# The step that checks a function's arguments and applies it, by function name (in_table,
# band and the period bounds evaluate their arguments themselves).
_APPLY = {
    "lookup": "_apply_lookup",
    "round": "_apply_round",
    "hours_between": "_apply_between",
    "minutes_between": "_apply_between",
    "days_between": "_apply_between",
    "month": "_apply_timepart",
    "date": "_apply_timepart",
    "hour": "_apply_timepart",
    "weekday": "_apply_timepart",
    "is_empty": "_apply_is_empty",
    "coalesce": "_apply_nary",
    "least": "_apply_nary",
    "greatest": "_apply_nary",
    "abs": "_apply_unary",
    "lower": "_apply_unary",
    "upper": "_apply_unary",
    "length": "_apply_unary",
    "contains": "_apply_text",
    "has_tag": "_apply_text",
    "split_part": "_apply_text",
}
_UNARY_KINDS = {"abs": ("number",), "lower": ("string",), "upper": ("string",), "length": ("string", "list")}
_SECONDS = {"hours_between": 3600.0, "minutes_between": 60.0, "days_between": 86400.0}


class Evaluator(simpleeval.SimpleEval):
    """Shared walk over the checked tree; subclasses supply the operations."""

    what = "name"

    def __init__(self, source: SourceText, params: Mapping[str, Any], timezone: str):
        super().__init__(operators={}, functions={}, names={})
        self.source = source  # the expression's text: errors point into it
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

    def run(self, tree: ast.Expression) -> Any:
        """The value of *tree*, the checked syntax tree of the source's text."""
        return self.eval(self.source.text, previously_parsed=tree)

    def _check_disallowed_items(self, item: Any) -> None:
        if isinstance(item, (ir.Value, ir.Table)):
            return
        super()._check_disallowed_items(item)

    def _eval(self, node: ast.AST) -> Any:
        try:
            return super()._eval(node)
        except ExpressionError:
            raise
        except OperandError as exc:
            raise self.source._error(exc.node or node, exc.message, exc.expected) from None
        except simpleeval.InvalidExpression as exc:  # defence in depth; the checker comes first
            raise self.source._error(node, str(exc)) from None
        except _REFUSED_OPERATION as exc:  # the backend refused the operation (types etc.)
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise self.source._error(node, f"cannot compute this: {detail}") from None

    def _eval_expression(self, node: ast.Expression) -> Any:
        return self._eval(node.body)

    @staticmethod
    def _eval_constant(node: ast.Constant) -> Any:
        return node.value

    def _eval_list(self, node: ast.List | ast.Tuple) -> list[Any]:
        return [self._eval(e) for e in node.elts]

    # params ------------------------------------------------------------
    def _eval_attribute(self, node: ast.Attribute) -> Any:
        if not is_params_ref(node):  # the checker already refused it
            raise OperandError("attribute access is not allowed; the only dotted form is params.NAME", "params.NAME")
        name = node.attr
        if name not in self.params:
            known = [str(k) for k in self.params]
            raise OperandError(f"unknown parameter '{name}'{did_you_mean(name, known)}", one_of(known))
        value = plain_value(self.params[name])
        if isinstance(value, str) and len(value) > MAX_STRING_LENGTH:  # it would be copied into every record
            raise OperandError(f"params.{name} is too long ({len(value)} characters)",
                               f"strings of at most {MAX_STRING_LENGTH} characters")
        if isinstance(value, float) and not math.isfinite(value):  # YAML's .inf
            raise OperandError(f"params.{name} is not a finite number", "a number such as 0.5 or 24")
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
            raise OperandError(f"params.{name} is not a list of bands", "[{min: 0.6, " + field_name + ": 3}, ...]",
                               pnode)
        rows = []
        for b in bands:
            if "min" not in b or field_name not in b:
                raise OperandError(f"every band of params.{name} needs 'min' and '{field_name}'", None, pnode)
            if kind_of(b["min"]) != "number":
                raise OperandError(f"the 'min' of every band of params.{name} must be a number", None, pnode)
            rows.append((b["min"], b[field_name]))
        return rows

    def _param_table(self, pnode: ast.AST, table: Any) -> Mapping:
        if not isinstance(table, Mapping):
            name = getattr(pnode, "attr", "?")
            raise OperandError(f"params.{name} is {in_words(kind_of(table))}, not a parameter table",
                               "a parameter that maps keys to values", pnode)
        return table

    # operators ---------------------------------------------------------
    def _eval_unaryop(self, node: ast.UnaryOp) -> Any:
        v = self._eval(node.operand)
        if isinstance(node.op, ast.Not):
            check_boolean(v, "'not'", node.operand)
            return self.not_(v)
        k = kind_of(v)
        if k not in ("number", "empty"):
            raise OperandError(f"'{'-' if isinstance(node.op, ast.USub) else '+'}' needs a number, not {in_words(k)}")
        if v is None or isinstance(node.op, ast.UAdd):
            return v
        return -v

    def _eval_binop(self, node: ast.BinOp) -> Any:
        op = BINARY_OPERATORS[type(node.op)]
        return self.arith(op, self._eval(node.left), self._eval(node.right))

    def _eval_boolop(self, node: ast.BoolOp) -> Any:
        word = "'and'" if isinstance(node.op, ast.And) else "'or'"
        values = []
        for sub in node.values:
            v = self._eval(sub)
            check_boolean(v, word, sub)
            values.append(v)
        return self.and_(values) if isinstance(node.op, ast.And) else self.or_(values)

    def _eval_compare(self, node: ast.Compare) -> Any:
        left = self._eval(node.left)
        parts = []
        for opnode, comp in zip(node.ops, node.comparators):
            right = self._eval(comp)
            op = COMPARISONS[type(opnode)]
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
        check_boolean(cond, "'if'", node.test)
        body = self._eval(node.body)
        orelse = self._eval(node.orelse)
        kb, ko = kind_of(body), kind_of(orelse)
        if "empty" not in (kb, ko) and kb != ko:
            raise OperandError(f"the two branches of 'if ... else' give {in_words(kb)} and {in_words(ko)}",
                               "both branches of the same kind")
        return self.ifelse(cond, body, orelse)

    # functions -----------------------------------------------------------
    def _eval_call(self, node: ast.Call) -> Any:
        name = node.func.id  # type: ignore[attr-defined]
        if name not in FUNCTIONS:  # pragma: no cover - the checker refuses it
            raise OperandError(f"unknown function '{name}'", one_of(list(FUNCTIONS)))
        if name == "in_table":
            return self.in_table(self._eval(node.args[0]), node.args[1].value, node.args[2].value,  # type: ignore[attr-defined]
                                 node.args[1], node.args[2])
        if name in ("period_start", "period_end"):
            return self.period_bound(name)
        if name == "band":
            bands = self._eval(node.args[0])
            return self.band(node.args[0], bands, self._eval(node.args[1]), node.args[2].value)  # type: ignore[attr-defined]
        args = [self._eval(a) for a in node.args]
        if name not in _APPLY:  # pragma: no cover
            raise OperandError(f"unknown function '{name}'")
        return getattr(self, _APPLY[name])(name, args, node)

    def _apply_lookup(self, name: str, args: list[Any], node: ast.Call) -> Any:
        default = args[2] if len(args) > 2 else None
        strict = node.args[1] if len(args) == 2 else None  # no default: the key must be in the table
        return self.lookup(node.args[0], args[0], args[1], default, strict)

    def _apply_round(self, name: str, args: list[Any], node: ast.Call) -> Any:
        x = args[0]
        self._need(x, ("number",), name, FUNCTIONS[name][2], node.args[0])
        digits = args[1] if len(args) > 1 else None
        return self.round_(x, digits)

    def _apply_between(self, name: str, args: list[Any], node: ast.Call) -> Any:
        a, b = args
        for v, n in zip(args, node.args):
            self._need(v, ("timestamp", "date"), name, FUNCTIONS[name][2], n)
        ka, kb = kind_of(a), kind_of(b)
        if "empty" not in (ka, kb) and ka != kb:
            raise OperandError(f"{name}() cannot mix a date and a timestamp",
                               "two timestamps or two dates (date(ts) turns a timestamp into a local date)")
        return self.between(a, b, _SECONDS[name])

    def _apply_timepart(self, name: str, args: list[Any], node: ast.Call) -> Any:
        x = args[0]
        kinds = ("timestamp",) if name == "hour" else ("timestamp", "date")
        self._need(x, kinds, name, FUNCTIONS[name][2], node.args[0])
        return self.timepart(name, x)

    def _apply_is_empty(self, name: str, args: list[Any], node: ast.Call) -> Any:
        return self.is_empty(args[0])

    def _apply_nary(self, name: str, args: list[Any], node: ast.Call) -> Any:
        sig = FUNCTIONS[name][2]
        kinds = {kind_of(a) for a in args} - {"empty"}
        if len(kinds) > 1:
            raise OperandError(f"{name}() cannot mix {' and '.join(in_words(k) for k in sorted(kinds))}",
                               "arguments of the same kind")
        if kinds & {"list", "table"}:
            raise OperandError(f"{name}() takes single values", sig)
        if name != "coalesce" and kinds - {"number", "string", "timestamp", "date"}:
            raise OperandError(f"{name}() needs numbers, strings, dates or timestamps", sig)
        return self.nary(name, args)

    def _apply_unary(self, name: str, args: list[Any], node: ast.Call) -> Any:
        self._need(args[0], _UNARY_KINDS[name], name, FUNCTIONS[name][2], node.args[0])
        return self.unary(name, args[0])

    def _apply_text(self, name: str, args: list[Any], node: ast.Call) -> Any:
        sig = FUNCTIONS[name][2]
        for v, n in zip(args[:2], node.args):
            self._need(v, ("string",), name, sig, n)
        if name == "split_part":
            n = args[2]
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise OperandError("split_part() needs a whole number from 1 as its third argument "
                                   "(which part)", sig, node.args[2])
        return self.text_function(name, args)

    @staticmethod
    def _need(v: Any, kinds: tuple[str, ...], name: str, sig: str, node: ast.AST) -> None:
        k = kind_of(v)
        if k != "empty" and k not in kinds:
            want = " or ".join(in_words(x) for x in kinds)
            raise OperandError(f"{name}() needs {want}, not {in_words(k)}", sig, node)
