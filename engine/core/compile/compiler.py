"""compile_ruleset: the passes, in order."""

from __future__ import annotations

from merit.core.compile import derived_metrics, metrics, needs, references, tables
from merit.core.compile.plan import Plan
from merit.core.compile.state import Compilation
from merit.core.ruleset import LoadedRuleset

# Each group of passes needs what the groups before it found without error: the problems
# of a group are raised together at its end.
PASSES = (
    (tables.derived_tables, tables.record_columns, tables.dimensions, metrics.metrics, metrics.dependencies),
    (metrics.evaluation_order, derived_metrics.formulas_and_standardised, references.constant_lookup_keys,
     references.scored_kpis, needs.columns_read),
    (references.lists,),
)


def compile_ruleset(loaded: LoadedRuleset) -> Plan:
    """Check *loaded* against the contract and bind every expression: the plan the evaluator runs."""
    c = Compilation(loaded)
    for group in PASSES:
        for compile_pass in group:
            compile_pass(c)
        c.raise_problems()
    return Plan(loaded=loaded, metrics={cm.id: cm for cm in c.order}, tables=dict(c.ruleset.tables),
                dimensions=c.dimensions, derived=c.derived, schemas=c.schemas,
                dimension_columns=c.dimension_columns)
