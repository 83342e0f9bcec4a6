"""The language's rules on plain Python values (None is empty).  Scalar mode applies them
directly; column mode folds its constant parts with them, so both modes agree.

``==``, ``!=``, ``in`` and ``not in`` treat empty as a value of its own; ordered comparisons
and arithmetic with an empty operand are empty; ``and``/``or``/``not`` follow three-valued
logic; a division by zero is empty; numbers and strings stay within the catalogue's limits.
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

from merit.core.expressions.catalogue import MAX_INT_BITS, MAX_STRING_LENGTH, ORDERINGS
from merit.core.expressions.kinds import (
    OperandError,
    arithmetic_kind,
    check_comparable,
    check_exponent,
    check_orderable,
    check_size,
    coerce_date_literal,
    in_words,
    kind_of,
)


def scalar_eq(a: Any, b: Any, op: str = "==") -> bool:
    """``a == b`` where empty is a value of its own (empty == empty is true)."""
    a, b = coerce_date_literal(a, b)
    check_comparable(a, b, op)
    if a is None or b is None:
        return a is None and b is None
    return a == b


def scalar_order(op: str, a: Any, b: Any) -> bool | None:
    """``a < b`` (or <=, >, >=); empty when an operand is empty."""
    a, b = coerce_date_literal(a, b)
    check_orderable(op, a, b)
    if a is None or b is None:
        return None
    try:
        return ORDERINGS[op](a, b)
    except TypeError as exc:  # e.g. naive vs aware datetimes
        raise OperandError(f"'{op}' cannot compare these values ({exc})")


def scalar_arith(op: str, a: Any, b: Any) -> Any:
    """``a op b`` for + - * / // % **; empty with an empty operand or a zero divisor."""
    arithmetic_kind(op, a, b)
    if op == "**":
        check_exponent(b)
    if a is None or b is None:
        return None
    if op == "+":
        if isinstance(a, str) and len(a) + len(b) > MAX_STRING_LENGTH:
            raise OperandError("the string is too long", f"strings of at most {MAX_STRING_LENGTH} characters")
        return check_size(a + b)
    if op == "-":
        return check_size(a - b)
    if op == "*":
        if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > MAX_INT_BITS + 1:
            raise OperandError("the number is too large", f"integers below 2**{MAX_INT_BITS}")
        return check_size(a * b)
    if op in ("/", "//", "%"):
        if b == 0:
            return None
        if op == "/":
            return check_size(a / b)
        if op == "//":
            return check_size(a // b)
        return a % b
    return _power(a, b)


def _power(a: Any, b: Any) -> Any:
    """``a ** b``: too large is an error; 0 to a negative power and a complex result are empty."""
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        if (abs(a).bit_length() - 1) * b > MAX_INT_BITS:
            raise OperandError("the number is too large", f"a power below 2**{MAX_INT_BITS}")
    try:
        result = a ** b
    except ZeroDivisionError:
        return None
    except OverflowError:
        raise OperandError("the number is too large")
    if isinstance(result, complex):
        return None
    return check_size(result)


def scalar_and(values: list[Any]) -> bool | None:
    """Three-valued 'and': false wins, then empty."""
    if any(v is False for v in values):
        return False
    if any(v is None for v in values):
        return None
    return True


def scalar_or(values: list[Any]) -> bool | None:
    """Three-valued 'or': true wins, then empty."""
    if any(v is True for v in values):
        return True
    if any(v is None for v in values):
        return None
    return False


def _round_half_away(v: float) -> float:
    f = math.floor(v)
    return f + 1.0 if v - f >= 0.5 else f


def scalar_round(x: Any, digits: int | None) -> Any:
    """SQL's ROUND on the embedded engine: round(x * 10**n) half away from zero, / 10**n (column mode
    gives the same on every engine: merit.core.backends.portability.round_number)."""
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


def scalar_in(x: Any, container: Any, node: ast.AST) -> Any:
    """``x in container`` (a list, or a parameter table's keys); empty is a value of its own."""
    k = kind_of(container)
    if k == "table":
        container = list(container.keys())
    elif k == "empty":  # an empty list column holds nothing
        return False
    elif k != "list":
        raise OperandError(f"the right side of 'in' must be a list, not {in_words(k)}",
                           "a list such as ['a', 'b'], a list parameter or a list column", node)
    items = list(container)
    if x is not None:
        check_members(x, items)
        items = dates_of_strings(x, items)
    return x in items


def check_members(x: Any, items: list[Any]) -> None:
    """*x* can be compared with every item (that is not empty) of a list it is looked up in."""
    for item in items:
        if item is not None:
            xi, item2 = coerce_date_literal(x, item)
            check_comparable(xi, item2, "in")


def dates_of_strings(x: Any, items: list[Any]) -> list[Any]:
    """The items, with strings read as YYYY-MM-DD when *x* is a date."""
    if kind_of(x) == "date":
        return [coerce_date_literal(x, i)[1] if isinstance(i, str) else i for i in items]
    return items


def tag_pattern(tag: str) -> str:
    """A regular expression (Python's and the databases' alike) matching *tag* as a whole tag of a
    text of tags separated by spaces, commas or semicolons."""
    return r"(^|[\s,;])" + re.escape(tag) + r"($|[\s,;])"


def scalar_text(name: str, args: list) -> object:
    """contains, has_tag and split_part on plain values: an empty text contains no part and
    has no tag; an empty part or separator gives empty."""
    text, part = args[0], args[1]
    if part is None:
        return None
    if name == "split_part":
        if text is None:
            return None
        parts = text.split(part) if part else [text]
        found = parts[args[2] - 1] if args[2] <= len(parts) else ""
        return found or None
    if text is None:
        return False
    if name == "contains":
        return part in text
    return re.search(tag_pattern(part), text) is not None
