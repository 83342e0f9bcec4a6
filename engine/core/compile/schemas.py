"""The schemas expressions are bound to, and what kind of value each aggregation needs."""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

from merit.core.tables import SCHEMAS

_IBIS_TYPES = {
    "string": dt.string,
    "enum": dt.string,
    "int": dt.int64,
    "float": dt.float64,
    "bool": dt.boolean,
    "timestamp": dt.Timestamp(),
    "date": dt.date,
    "list": dt.Array(dt.string),
}

# Tables the engine builds itself from the roster, for calendar-based metrics.
BUILTIN_SCHEMAS = {
    "roster_days": {"agent_id": dt.string, "date": dt.date, "team": dt.string, "level": dt.string,
                    "role": dt.string, "hired_on": dt.date, "left_on": dt.date, "_row": dt.int64},
}

# Names a formula may use besides metric ids: facts of the cycle, same at every scope.
FORMULA_CONSTANTS = ("period_days", "period_weekdays", "period_hours", "period_minutes")

# Aggregations whose value for an agent without records is 0, not undefined.
ZERO_WHEN_EMPTY = ("count", "sum", "count_distinct")

# The expressions that are filters: they must give true/false (empty excludes the record).
FILTERS = ("where", "numerator", "denominator")

# What the value of each aggregation must be (None: any single value).  A metric is a
# number, so everything added, averaged, ordered or divided is a number (true counts 1).
NUMBER = ("number", "boolean")
ORDERED = ("number", "boolean", "string", "date", "timestamp")
LABELS = ("string",)
VALUE_KINDS: dict[str, tuple[str, ...] | None] = {
    "sum": NUMBER, "mean": NUMBER, "min": NUMBER, "max": NUMBER, "quantile": NUMBER,
    "count_distinct": None, "numerator_value": NUMBER, "denominator_value": NUMBER,
}
# Derived-table columns are columns, not metrics: min/max/medians may order strings and times.
DERIVED_VALUE_KINDS: dict[str, tuple[str, ...] | None] = {
    "sum": NUMBER, "mean": NUMBER, "count_distinct": None,
    "min": ORDERED, "max": ORDERED, "median_low": ORDERED, "median_high": ORDERED,
}
EXPECTED = {
    NUMBER: "a number per record, e.g. handle_minutes / 60 (for the time between two timestamps use "
            "hours_between(a, b))",
    ORDERED: "a value that can be ordered: a number, string, date or timestamp",
    LABELS: "a label listed in 'order', such as grade",
}


def table_schema(name: str) -> ibis.Schema | None:
    """The schema of an input table (from the contract) or a built-in one; None for another name."""
    if name in BUILTIN_SCHEMAS:
        return ibis.schema(BUILTIN_SCHEMAS[name])
    contract = SCHEMAS.get(name)
    if contract is None:
        return None
    cols = {c.name: _IBIS_TYPES[c.type] for c in contract.columns}
    cols["_row"] = dt.int64
    return ibis.schema(cols)
