"""Compile a ruleset into a metric plan, before any data is read.

Every expression is parsed once here and bound to the contract schema of its
table, so a misspelt column, an unknown parameter or a formula that names a
missing metric is reported with its file and line by ``merit check`` without
touching the data (dbt's parse/execute split).  The compiler is a sequence of
small passes (compiler.PASSES) over one shared state (state.Compilation).
"""

# The modules, in the order a compile goes through them:
#   schemas          input and built-in table schemas; what kind of value each aggregation needs
#   state            Compilation: the state the passes share, parse() and bind()
#   tables           derived tables, the columns each table's metrics read, dimensions
#   metrics          each metric's expressions bound; dependencies; evaluation order
#   derived_metrics  formulas and standardised metrics, from the metrics they use
#   references       strict lookups, KPIs and lists, checked against what they name
#   needs            the input columns each metric and dimension reads; which metrics data leaves undefined
#   plan             the result: Plan, CompiledMetric, DerivedPlan
#   compiler         compile_ruleset: the passes in order

from merit.core.compile.compiler import PASSES, compile_ruleset
from merit.core.compile.plan import CompiledMetric, DerivedPlan, Plan
from merit.core.compile.schemas import (BUILTIN_SCHEMAS, DERIVED_VALUE_KINDS, FILTERS, FORMULA_CONSTANTS,
                                        VALUE_KINDS, ZERO_WHEN_EMPTY, table_schema)

__all__ = [
    "BUILTIN_SCHEMAS", "DERIVED_VALUE_KINDS", "FILTERS", "FORMULA_CONSTANTS", "PASSES", "VALUE_KINDS",
    "ZERO_WHEN_EMPTY", "CompiledMetric", "DerivedPlan", "Plan", "compile_ruleset", "table_schema",
]
