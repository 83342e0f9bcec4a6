"""The expression package's seams: what it exports, which failures become user errors.

A backend refusing an operation is the user's mistake (an ExpressionError pointing at the
part); any other exception inside an evaluator is a bug of merit's own and keeps its type.
"""

from __future__ import annotations

import ibis
import pytest

import merit.core.expressions as expressions
from merit.core.errors import ExpressionError
from merit.core.expressions import ColumnContext, parse
from merit.core.expressions.columns import ColumnEvaluator


@pytest.fixture(scope="module")
def table():
    return ibis.memtable({"n": [1, 2], "flag": [True, False], "tags": [["a"], []]},
                         schema={"n": "int64", "flag": "boolean", "tags": "array<string>"})


def test_the_package_exports_what_merit_imports():
    assert sorted(expressions.__all__) == ["ColumnContext", "Expr", "KeyCheck", "as_filter", "parse", "to_local"]
    assert all(hasattr(expressions, name) for name in expressions.__all__ + ["_ColumnEval", "_ScalarEval"])


def test_a_refused_operation_is_the_users_error_at_its_part(table):
    # Ibis cannot compare a boolean column with the table's string keys.
    with pytest.raises(ExpressionError) as info:
        parse("n + params.points[flag]").to_column(table, ColumnContext(params={"points": {"a": 1}}))
    assert info.value.message.startswith("cannot compute this: ")
    assert "not comparable" in info.value.message
    assert info.value.span == (4, 23)


def test_a_bug_inside_an_evaluator_keeps_its_traceback(table, monkeypatch):
    def broken(self, name, x):
        raise KeyError("a bug of merit's own")

    monkeypatch.setattr(ColumnEvaluator, "unary", broken)
    with pytest.raises(KeyError):
        parse("abs(n)").to_column(table, ColumnContext(params={}))


def test_an_unknown_column_of_a_derived_table_names_no_table(table):
    with pytest.raises(ExpressionError) as info:
        parse("nn > 1").to_column(table.filter(table.n > 0), ColumnContext(params={}))
    assert info.value.message == "unknown column 'nn'; did you mean 'n'?"
