"""What compiling a ruleset produces: the plan the evaluator runs."""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis

from merit.core.expressions import Expr
from merit.core.ruleset import SCOPES, LoadedRuleset, Metric, TableConfig


@dataclass
class CompiledMetric:
    id: str
    spec: Metric
    where: Expr | None = None
    value: Expr | None = None
    numerator: Expr | None = None
    denominator: Expr | None = None
    numerator_value: Expr | None = None
    denominator_value: Expr | None = None
    formula: Expr | None = None
    weights: Expr | None = None
    deps: tuple[str, ...] = ()
    scopes: tuple[str, ...] = SCOPES
    breakdowns: tuple[str, ...] = ()
    tables: frozenset[str] = frozenset()  # every table the metric reads
    columns: frozenset[tuple[str, str]] = frozenset()  # every (input table, column) it reads (needs.py)

    @property
    def agg(self) -> str:
        return self.spec.agg  # type: ignore[return-value]

    @property
    def table(self) -> str | None:
        return self.spec.table

    def record_exprs(self) -> list[tuple[str, Expr]]:
        return [(name, getattr(self, name)) for name in RECORD_FIELDS if getattr(self, name) is not None]


# The expressions of a metric computed from a table, evaluated record by record.
RECORD_FIELDS = ("where", "value", "numerator", "denominator", "numerator_value", "denominator_value")


@dataclass
class DerivedPlan:
    """A table built by grouping another: one row per `group_by` value."""

    name: str
    source: str
    group_by: str
    columns: dict[str, tuple]  # column -> (agg, value Expr | None, where Expr | None, order list | None)


@dataclass
class Plan:
    loaded: LoadedRuleset
    metrics: dict[str, CompiledMetric]  # in evaluation order (dependencies first)
    tables: dict[str, TableConfig]
    dimensions: dict[str, dict[str, Expr]] = field(default_factory=dict)  # table -> name -> expr
    derived: dict[str, DerivedPlan] = field(default_factory=dict)  # in build order
    schemas: dict[str, ibis.Schema] = field(default_factory=dict)  # every table a metric can read
    # table -> dimension -> the (input table, column) pairs it reads (needs.py)
    dimension_columns: dict[str, dict[str, frozenset[tuple[str, str]]]] = field(default_factory=dict)

    @property
    def params(self) -> dict:
        return self.loaded.ruleset.params

    @property
    def ruleset(self):
        return self.loaded.ruleset
