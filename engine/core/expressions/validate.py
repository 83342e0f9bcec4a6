"""The allowed subset of Python: a walk over the syntax tree that refuses everything else
(attribute access other than ``params.NAME``, unknown functions, wrong arities, ...) with
the position of the offending part, and records the names, parameters and tables used."""

from __future__ import annotations

import ast
import math

from merit.core.expressions.catalogue import BINARY_OPERATORS, FUNCTIONS, MAX_ROUND_DIGITS
from merit.core.expressions.messages import EXPECTED_SYNTAX, did_you_mean, one_of
from merit.core.expressions.source import SourceText

_BAD_BINOPS = {
    ast.BitAnd: "'&' is not allowed; use 'and'",
    ast.BitOr: "'|' is not allowed; use 'or'",
    ast.BitXor: "'^' is not allowed; use '**' for a power",
    ast.LShift: "'<<' is not allowed",
    ast.RShift: "'>>' is not allowed",
    ast.MatMult: "'@' is not allowed",
}
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


def is_literal(node: ast.AST) -> bool:
    """A constant, or a signed number such as -1."""
    if isinstance(node, ast.Constant):
        return True
    return (isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd))
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, (int, float)) and not isinstance(node.operand.value, bool))


def is_params_ref(node: ast.AST) -> bool:
    """``params.NAME`` (the only attribute access allowed)."""
    return (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == "params" and not node.attr.startswith("_"))


def is_constant_tree(node: ast.AST) -> bool:
    """Whether *node* uses no data: no name, parameter or table."""
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Name, ast.Attribute, ast.Subscript)):
            return False
        if isinstance(sub, ast.Call) and getattr(sub.func, "id", None) == "in_table":
            return False
    return True


def first_node_deeper_than(tree: ast.AST, limit: int) -> ast.AST | None:
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


class Validator:
    """Checks a parsed tree against the language; ``visit_X`` checks a node of type X."""

    def __init__(self, expr: SourceText):
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
            self.fail(node, message, EXPECTED_SYNTAX)
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
            if not is_literal(elt):
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
        if is_params_ref(node):
            self.params.add(node.attr)
            return
        # Report the first (innermost) bad attribute of a chain such as
        # ().__class__.__bases__[0].__subclasses__()
        inner: ast.AST = node.value
        while isinstance(inner, (ast.Attribute, ast.Subscript, ast.Call)):
            if isinstance(inner, ast.Attribute) and not is_params_ref(inner):
                node = inner
            inner = inner.func if isinstance(inner, ast.Call) else inner.value
        if isinstance(node.value, ast.Name) and node.value.id == "params":
            self.fail(node, f"the parameter name '{node.attr}' is not allowed", "params.NAME")
        self.fail(node, f"attribute access ('.{node.attr}') is not allowed; the only dotted form is params.NAME",
                  "params.NAME, or a function such as lower(x)")

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if not is_params_ref(node.value):
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
        if type(node.op) not in BINARY_OPERATORS:
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
        name = self._known_function(node)
        sig = FUNCTIONS[name][2]
        self._check_arguments(node, name, sig)
        if name == "in_table":
            self._check_in_table(node, sig)
            return
        if name == "lookup" and not is_params_ref(node.args[0]):
            self.fail(node.args[0], "the first argument of lookup() must be a parameter table", sig)
        if name == "lookup" and len(node.args) == 2:
            self.strict_lookup = True
        if name == "band":
            self._check_band(node, sig)
        if name == "round" and len(node.args) == 2:
            self._check_round_digits(node.args[1])
        for arg in node.args:
            self.visit(arg)

    def _known_function(self, node: ast.Call) -> str:
        """The name of the merit function *node* calls."""
        func = node.func
        if not isinstance(func, ast.Name):
            if isinstance(func, (ast.Attribute, ast.Lambda, ast.Subscript)):
                self.visit(func)
            self.fail(func, "only the merit functions can be called", one_of(list(FUNCTIONS)))
        name = func.id  # type: ignore[attr-defined]
        if name not in FUNCTIONS:
            self.fail(func, f"unknown function '{name}'{did_you_mean(name, list(FUNCTIONS))}",
                      one_of(list(FUNCTIONS)))
        return name

    def _check_arguments(self, node: ast.Call, name: str, sig: str) -> None:
        """Arguments by position, not unpacked, as many as the function takes."""
        lo, hi, _ = FUNCTIONS[name]
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

    def _check_in_table(self, node: ast.Call, sig: str) -> None:
        """in_table(x, 'table', 'column'): the table and column are quoted names."""
        for arg, what in zip(node.args[1:], ("table", "column")):
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                self.fail(arg, f"the {what} of in_table() must be a quoted name", sig)
        self.tables.add(node.args[1].value)  # type: ignore[attr-defined]
        self.visit(node.args[0])

    def _check_band(self, node: ast.Call, sig: str) -> None:
        """band(params.NAME, value, 'field'): a parameter list and a quoted field name."""
        if not is_params_ref(node.args[0]):
            self.fail(node.args[0], "the first argument of band() must be a parameter list of bands", sig)
        if not (isinstance(node.args[2], ast.Constant) and isinstance(node.args[2].value, str)):
            self.fail(node.args[2], "the field of band() must be a quoted name", sig)

    def _check_round_digits(self, d: ast.AST) -> None:
        """The digits of round(x, digits) are a whole number within the limit."""
        ok = is_literal(d)
        value = d.value if isinstance(d, ast.Constant) else getattr(getattr(d, "operand", None), "value", None)
        if not ok or not isinstance(value, int) or isinstance(value, bool):
            self.fail(d, "the digits of round() must be a whole number", "round(x, 2)")
        if isinstance(d, ast.UnaryOp) and isinstance(d.op, ast.USub):
            value = -value
        if abs(value) > MAX_ROUND_DIGITS:
            self.fail(d, f"round() to {value} digits is out of range",
                      f"digits between -{MAX_ROUND_DIGITS} and {MAX_ROUND_DIGITS}")
