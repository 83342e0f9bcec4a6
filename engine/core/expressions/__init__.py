"""The one expression language of merit rulesets (filters, values, metric formulas): a text
is parsed once and checked against a small subset of Python, every mistake reported with its
position before data is touched; it is then compiled to Ibis columns or computed on plain
values, by one set of rules.  ``docs/expressions.md`` is the user's reference."""

# The modules, in the order a text goes through them:
#   catalogue     functions, operators and size limits of the language
#   source        the text and its origin; errors that point into it
#   syntax        text -> syntax tree; syntax errors explained
#   validate      the allowed subset of Python, checked node by node
#   expr          Expr and parse(): read, check, fold constants; the evaluation entry points
#   evaluator     the walk shared by both modes (a simpleeval subclass)
#   scalar        scalar mode, by the rules of scalar_rules
#   columns       column mode (Ibis), with literals for its typed constants
#   kinds         value kinds and the operand checks both modes share
#   timezones     local wall-clock time of an instant
#   key_checks    lookups that must find their key
#   messages      wording shared by the error messages

from merit.core.expressions.columns import ColumnContext, as_filter
from merit.core.expressions.columns import ColumnEvaluator as _ColumnEval  # noqa: F401 (tests import it)
from merit.core.expressions.expr import Expr, parse
from merit.core.expressions.key_checks import KeyCheck
from merit.core.expressions.scalar import ScalarEvaluator as _ScalarEval  # noqa: F401 (tests import it)
from merit.core.expressions.timezones import to_local

__all__ = [
    "ColumnContext",
    "Expr",
    "KeyCheck",
    "as_filter",
    "parse",
    "to_local",
]
