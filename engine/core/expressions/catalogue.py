"""What the expression language offers: its functions, its operators and its size limits.

The parser checks every call against :data:`FUNCTIONS` and every expression against the
limits before any data is touched; ``docs/expressions.md`` describes them for users.
"""

from __future__ import annotations

import ast
import operator

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
    "contains": (2, 2, "contains(text, part)"),
    "has_tag": (2, 2, "has_tag(tags, tag)"),
    "split_part": (3, 3, "split_part(text, separator, n)"),
    "lookup": (2, 3, "lookup(params.NAME, key, default)"),
    "in_table": (3, 3, "in_table(x, 'table', 'column')"),
    "band": (3, 3, "band(params.NAME, value, 'field')"),
    "period_start": (0, 0, "period_start()"),
    "period_end": (0, 0, "period_end()"),
}

# The arithmetic operators of the language, by syntax node.
BINARY_OPERATORS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}
# The comparisons of the language, by syntax node ('is' only as 'x is None').
COMPARISONS = {
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
# The ordered comparisons, as functions that work on Python values and Ibis columns alike.
ORDERINGS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
