"""Lookups that must find their key: ``lookup(params.NAME, key)`` without a default, or
``params.NAME[key]``.  Column mode records them; the ruleset compiler checks constant keys
and ``merit.core.cohorts`` checks column keys against the data."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from merit.core.errors import ExpressionError
from merit.core.expressions.kinds import is_column
from merit.core.expressions.messages import did_you_mean
from merit.core.expressions.source import SourceText


@dataclass
class KeyCheck:
    """A lookup that must find its key: ``lookup(params.NAME, key)`` without a default, or
    ``params.NAME[key]``.

    Evaluating it gives empty for a key the table lacks (both modes agree); finding such keys
    is a check of its own: a constant key when the ruleset is compiled, a column key in the
    data (``merit.core.cohorts``), so a misspelt level is an error, not a silently wrong number.
    """

    expr: SourceText  # the expression the lookup is in
    node: ast.AST  # the key argument, for messages
    param: str
    keys: list  # the table's keys, converted as the key is compared with them
    key: Any  # the key: an Ibis column, or a constant

    @property
    def key_text(self) -> str:
        return self.expr.source_of(self.node)

    def missing_constant(self) -> ExpressionError | None:
        """The error for a constant key that is not in the table (None if it is, or if the key is
        a column or empty)."""
        if is_column(self.key) or self.key is None or self.key in self.keys:
            return None
        if not isinstance(self.key, str) and str(self.key) in self.keys:
            return None
        return self.expr._error(self.node, f"{self.key!r} is not a key of params.{self.param}"
                                f"{self.did_you_mean(self.key)}", self.expected())

    def did_you_mean(self, value: Any) -> str:
        """"; did you mean 'P3'?" for a key that differs from a known one in case or spelling."""
        keys = [str(k) for k in self.keys]
        same_but_case = [k for k in keys if k.casefold() == str(value).casefold()]
        return f"; did you mean '{same_but_case[0]}'?" if same_but_case else did_you_mean(str(value), keys)

    def expected(self) -> str:
        shown = ", ".join(str(k) for k in sorted(self.keys, key=str)[:40])
        more = f", … ({len(self.keys) - 40} more)" if len(self.keys) > 40 else ""
        known = f"one of {shown}{more}" if self.keys else f"(params.{self.param} is empty)"
        return (f"{known}; or add the key to params.{self.param}, or give a default: "
                f"lookup(params.{self.param}, {self.key_text}, DEFAULT)")
