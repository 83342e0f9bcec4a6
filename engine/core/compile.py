"""Compile a ruleset into a metric plan, before any data is read.

Every expression is parsed once here and bound to the contract schema of its
table, so a misspelt column, an unknown parameter or a formula that names a
missing metric is reported with its file and line by ``merit check`` without
touching the data (dbt's parse/execute split).
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field

import ibis
import ibis.expr.datatypes as dt

from merit.core import expressions
from merit.core.errors import MeritError, ProblemList
from merit.core.expressions import ColumnContext, Expr
from merit.core.ruleset import SCOPES, LoadedRuleset, Metric, TableConfig
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
_NUMBER = ("number", "boolean")
_ORDERED = ("number", "boolean", "string", "date", "timestamp")
_LABELS = ("string",)
VALUE_KINDS: dict[str, tuple[str, ...] | None] = {
    "sum": _NUMBER, "mean": _NUMBER, "min": _NUMBER, "max": _NUMBER, "quantile": _NUMBER,
    "count_distinct": None, "numerator_value": _NUMBER, "denominator_value": _NUMBER,
}
# Derived-table columns are columns, not metrics: min/max/medians may order strings and times.
DERIVED_VALUE_KINDS: dict[str, tuple[str, ...] | None] = {
    "sum": _NUMBER, "mean": _NUMBER, "count_distinct": None,
    "min": _ORDERED, "max": _ORDERED, "median_low": _ORDERED, "median_high": _ORDERED,
}
_EXPECTED = {
    _NUMBER: "a number per record, e.g. handle_minutes / 60 (for the time between two timestamps use "
             "hours_between(a, b))",
    _ORDERED: "a value that can be ordered: a number, string, date or timestamp",
    _LABELS: "a label listed in 'order', such as grade",
}


def table_schema(name: str) -> ibis.Schema | None:
    if name in BUILTIN_SCHEMAS:
        return ibis.schema(BUILTIN_SCHEMAS[name])
    contract = SCHEMAS.get(name)
    if contract is None:
        return None
    cols = {c.name: _IBIS_TYPES[c.type] for c in contract.columns}
    cols["_row"] = dt.int64
    return ibis.schema(cols)


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

    @property
    def agg(self) -> str:
        return self.spec.agg  # type: ignore[return-value]

    @property
    def table(self) -> str | None:
        return self.spec.table

    def record_exprs(self) -> list[tuple[str, Expr]]:
        return [(name, getattr(self, name)) for name in
                ("where", "value", "numerator", "denominator", "numerator_value", "denominator_value")
                if getattr(self, name) is not None]


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

    @property
    def params(self) -> dict:
        return self.loaded.ruleset.params

    @property
    def ruleset(self):
        return self.loaded.ruleset


def compile_ruleset(loaded: LoadedRuleset) -> Plan:
    problems: list[MeritError] = []
    rs = loaded.ruleset
    params = rs.params
    schemas: dict[str, ibis.Schema] = {}
    for name in list(SCHEMAS) + list(BUILTIN_SCHEMAS):
        schemas[name] = table_schema(name)

    def parse(text: str, path: tuple, resource: str) -> Expr | None:
        try:
            return expressions.parse(text, loaded.origin(path, resource=resource, field_name=path[-1]))
        except MeritError as exc:
            problems.append(exc)
            return None

    ctx_tables: dict[str, ibis.Table] = {}
    # A stand-in period: compiling checks names and types, not values.  Strict lookups are
    # collected: a constant key missing from its table is reported below.
    ctx = ColumnContext(params=params, timezone="UTC", tables=ctx_tables,
                        period=(datetime.datetime(2000, 1, 1), datetime.datetime(2000, 1, 2)), key_checks=[])

    def bind(expr: Expr | None, table: ibis.Table, *, is_filter: bool = False,
             kinds: tuple[str, ...] | None = None, what: str = "the value"):
        """Compile *expr* over *table* (the schema): a filter must be true/false, a value one
        of *kinds*, so that what `check` accepts, `run` computes."""
        if expr is None:
            return None
        try:
            if is_filter:
                return expr.to_filter(table, ctx)
            if kinds is not None:
                return expr.to_value(table, ctx, kinds, what, _EXPECTED[kinds])
            return expr.to_column(table, ctx)
        except MeritError as exc:
            problems.append(exc)
            return None

    def known() -> str:
        return "one of " + ", ".join(sorted(schemas))

    # Derived tables (a derived table may read another one defined before it).
    derived: dict[str, DerivedPlan] = {}
    for tname, cfg in rs.tables.items():
        if not cfg.derived:
            continue
        path = ("tables", tname)
        if tname in schemas:
            problems.append(loaded.error(f"derived table '{tname}' has the name of an input table", path))
            continue
        if cfg.from_ not in schemas:
            problems.append(loaded.error(f"derived table '{tname}' reads unknown table '{cfg.from_}'",
                                         path + ("from",), expected=known()))
            continue
        source = ibis.table(schemas[cfg.from_], name=cfg.from_)
        if cfg.group_by not in source.columns:
            problems.append(loaded.error(f"table '{cfg.from_}' has no column '{cfg.group_by}'", path + ("group_by",)))
            continue
        cols = {cfg.group_by: schemas[cfg.from_][cfg.group_by]}
        plan_cols = {}
        for cname, dc in cfg.columns.items():
            resource = f"column '{cname}' of derived table '{tname}'"
            value = parse(dc.value, path + ("columns", cname, "value"), resource) if dc.value else None
            where = parse(dc.where, path + ("columns", cname, "where"), resource) if dc.where else None
            kinds = _LABELS if dc.order is not None else DERIVED_VALUE_KINDS.get(dc.agg)
            what = f"the value of {dc.agg}" + (" with an 'order' (labels)" if dc.order is not None else "")
            bound = bind(value, source, kinds=kinds, what=what)
            bind(where, source, is_filter=True)
            if dc.agg in ("count", "count_distinct"):
                cols[cname] = dt.int64
            elif dc.agg in ("sum", "mean"):
                cols[cname] = dt.float64
            elif dc.order is not None:
                cols[cname] = dt.string
            else:
                cols[cname] = bound.type() if bound is not None and not bound.type().is_null() else dt.float64
            plan_cols[cname] = (dc.agg, value, where, dc.order)
        schemas[tname] = ibis.schema(cols)
        derived[tname] = DerivedPlan(tname, cfg.from_, cfg.group_by, plan_cols)
    for name, schema in schemas.items():
        ctx_tables[name] = ibis.table(schema, name=name)

    # The columns a metric on each table can read: its own, roster columns, joined derived columns.
    agents_schema = schemas["agents"]
    for tname, cfg in rs.tables.items():
        if cfg.derived:
            continue
        path = ("tables", tname)
        if tname not in schemas:
            problems.append(loaded.error(f"unknown table '{tname}'", path, expected=known()))
            continue
        base = schemas[tname]
        for attr in ("agent", "team", "period", "key"):
            col = getattr(cfg, attr)
            if col is not None and col not in base:
                problems.append(loaded.error(f"table '{tname}' has no column '{col}'", path + (attr,),
                                             expected="one of " + ", ".join(c for c in base if c != "_row")))
        cols = dict(base.items())
        if cfg.roster and cfg.agent is None:
            problems.append(loaded.error(f"table '{tname}' joins roster columns but names no 'agent' column",
                                         path + ("roster",)))
        for col in cfg.roster:
            if col not in agents_schema or col == "_row":
                problems.append(loaded.error(f"the roster (agents) has no column '{col}'", path + ("roster",),
                                             expected="one of " + ", ".join(c for c in agents_schema if c != "_row")))
            elif col in cols:
                problems.append(loaded.error(f"table '{tname}' already has a column '{col}'; it cannot also be "
                                             "joined from the roster", path + ("roster",)))
            else:
                cols[col] = agents_schema[col]
        for dname, key in cfg.join.items():
            if dname not in derived:
                problems.append(loaded.error(f"table '{tname}' joins '{dname}', which is not a derived table",
                                             path + ("join", dname), expected="a table with from/group_by/columns"))
                continue
            if key not in base or key != derived[dname].group_by:
                problems.append(loaded.error(
                    f"join key '{key}' must be a column of '{tname}' and the group_by of '{dname}' "
                    f"('{derived[dname].group_by}')", path + ("join", dname)))
                continue
            for col, typ in schemas[dname].items():
                if col == key:
                    continue
                if col in cols:
                    problems.append(loaded.error(f"joined column '{col}' of '{dname}' clashes with a column of "
                                                 f"'{tname}'", path + ("join", dname)))
                else:
                    cols[col] = typ
        schemas[tname] = ibis.schema(cols)
    cohort_tables = {name: ibis.table(schema, name=name) for name, schema in schemas.items()}

    def schema_table(name: str) -> ibis.Table | None:
        return cohort_tables.get(name)

    dimensions: dict[str, dict[str, Expr]] = {}
    for tname, cfg in rs.tables.items():
        table = schema_table(tname)
        if table is None or cfg.derived:
            continue
        dims = {}
        for dname, text in cfg.dimensions.items():
            expr = parse(text, ("tables", tname, "dimensions", dname), f"dimension '{dname}' of table '{tname}'")
            bind(expr, table)
            if expr is not None:
                dims[dname] = expr
        dimensions[tname] = dims

    compiled: dict[str, CompiledMetric] = {}
    for mid, spec in rs.metrics.items():
        resource = f"metric '{mid}'"
        path = ("metrics", mid)
        cm = CompiledMetric(id=mid, spec=spec, scopes=tuple(s for s in SCOPES if s in spec.scopes),
                            breakdowns=tuple(spec.breakdowns))
        if spec.table is not None:
            table = schema_table(spec.table)
            if table is None:
                problems.append(loaded.error(f"unknown table '{spec.table}'", path + ("table",), expected=known()))
                continue
            cfg = rs.tables.get(spec.table, TableConfig())
            for scope in cm.scopes:
                if scope == "agent" and cfg.agent is None:
                    problems.append(loaded.error(
                        f"{resource} is computed at agent scope but table '{spec.table}' names no agent column",
                        path + ("scopes",), expected=f"tables.{spec.table}.agent, or scopes without 'agent'"))
                if scope == "team" and cfg.agent is None and cfg.team is None:
                    problems.append(loaded.error(
                        f"{resource} is computed at team scope but table '{spec.table}' names no agent or team "
                        "column", path + ("scopes",), expected=f"tables.{spec.table}.agent or .team"))
            for name in ("where", "value", "numerator", "denominator", "numerator_value", "denominator_value"):
                text = getattr(spec, name)
                if text is not None:
                    expr = parse(text, path + (name,), resource)
                    role = spec.agg if name == "value" else name
                    bind(expr, table, is_filter=name in FILTERS, kinds=VALUE_KINDS.get(role),
                         what=f"the value of {spec.agg}" if name == "value" else name)
                    setattr(cm, name, expr)
            for bname in cm.breakdowns:
                if bname not in dimensions.get(spec.table, {}):
                    problems.append(loaded.error(
                        f"{resource} is broken down by '{bname}', which table '{spec.table}' does not define",
                        path + ("breakdowns",),
                        expected=f"one of {sorted(dimensions.get(spec.table, {}))} (tables.{spec.table}.dimensions)"))
            used = {spec.table}
            for _, expr in cm.record_exprs():
                used |= set(expr.tables)
            cm.tables = frozenset(used)
        elif spec.agg == "formula":
            cm.formula = parse(spec.formula, path + ("formula",), resource)  # type: ignore[arg-type]
            if cm.formula is not None:
                cm.deps = tuple(sorted(n for n in cm.formula.names if n not in FORMULA_CONSTANTS))
        elif spec.agg == "standardized":
            cm.deps = tuple(d for d in (spec.metric, spec.mix) if d)
            if isinstance(spec.weights, str):
                cm.weights = parse(spec.weights, path + ("weights",), resource)
            if cm.breakdowns:
                problems.append(loaded.error(f"{resource}: a standardised metric has no breakdowns",
                                             path + ("breakdowns",)))
        if spec.n is not None:
            cm.deps = tuple(dict.fromkeys(cm.deps + (spec.n,)))
        compiled[mid] = cm

    # Dependencies: they exist, and there is no cycle.
    for cm in compiled.values():
        for dep in cm.deps:
            if dep not in rs.metrics:
                field_name = {"formula": "formula", "standardized": "metric"}.get(cm.agg, "n")
                if dep == cm.spec.n:
                    field_name = "n"
                problems.append(loaded.error(f"metric '{cm.id}' uses '{dep}', which is not a metric of this ruleset",
                                             ("metrics", cm.id, field_name),
                                             expected="a metric id defined under 'metrics'"))
    if problems:
        raise problems[0] if len(problems) == 1 else ProblemList(problems)
    order = _topological(compiled, loaded)
    # A formula is computed over a table of metric values (numbers) and the cycle's constants.
    metric_values = ibis.table({**{mid: dt.float64 for mid in compiled},
                                **{name: dt.float64 for name in FORMULA_CONSTANTS}}, name="metrics")
    formula_ctx = ColumnContext(params=params, timezone="UTC", what="metric", period=ctx.period,
                                key_checks=ctx.key_checks)

    for cm in order:
        if cm.agg == "formula":
            if cm.formula is not None:
                try:
                    cm.formula.to_value(metric_values, formula_ctx, _NUMBER, "a formula",
                                        "a number computed from metrics, e.g. 1 - escalated / tickets")
                except MeritError as exc:
                    problems.append(exc)
            scopes = set(cm.spec.scopes)
            if cm.spec.rollup == "sum":
                scopes_dep = set(SCOPES) if all("agent" in compiled[d].scopes for d in cm.deps) else set()
                if "agent" not in scopes_dep:
                    problems.append(loaded.error(f"metric '{cm.id}' rolls up a sum of agents, so its inputs "
                                                 "need agent scope", ("metrics", cm.id, "rollup")))
            else:
                for dep in cm.deps:
                    scopes &= set(compiled[dep].scopes)
            cm.scopes = tuple(s for s in SCOPES if s in scopes)
            for bname in cm.breakdowns:
                lacking = [d for d in cm.deps if bname not in compiled[d].breakdowns]
                if lacking:
                    problems.append(loaded.error(
                        f"metric '{cm.id}' is broken down by '{bname}' but {', '.join(lacking)} is not",
                        ("metrics", cm.id, "breakdowns")))
            cm.tables = frozenset().union(*(compiled[d].tables for d in cm.deps)) if cm.deps else frozenset()
        elif cm.agg == "standardized":
            base = compiled[cm.spec.metric]
            if cm.spec.by not in base.breakdowns:
                problems.append(loaded.error(
                    f"metric '{cm.id}' standardises '{base.id}' by '{cm.spec.by}', but '{base.id}' has no "
                    f"'{cm.spec.by}' breakdown", ("metrics", cm.id, "by"),
                    expected=f"add '{cm.spec.by}' to metrics.{base.id}.breakdowns"))
            if cm.spec.mix and cm.spec.by not in compiled[cm.spec.mix].breakdowns:
                problems.append(loaded.error(
                    f"metric '{cm.id}' takes its weights from '{cm.spec.mix}', which has no '{cm.spec.by}' breakdown",
                    ("metrics", cm.id, "mix")))
            cm.scopes = tuple(s for s in base.scopes if s in cm.spec.scopes)
            cm.tables = base.tables
            if cm.weights is not None:
                try:
                    weights = cm.weights.evaluate({}, params)
                except MeritError as exc:
                    problems.append(exc)
                else:
                    problem = _weights_problem(weights)
                    if problem:
                        problems.append(cm.weights.error(
                            f"weights must be a parameter table of numbers ({cm.spec.by} → weight), "
                            f"but {problem}", f"a parameter such as {{im: 0.5, phone: 0.5}}, or null for "
                            f"the org's mix"))
            elif cm.spec.weights is None and cm.spec.mix is None:
                problems.append(loaded.error(f"metric '{cm.id}' needs 'weights' or 'mix'", ("metrics", cm.id)))

    for check in ctx.key_checks:  # lookups without a default whose key is a constant
        missing = check.missing_constant()
        if missing is not None:
            problems.append(missing)

    for kid, kpi in rs.scoring.kpis.items():
        mid = kpi.metric or kid
        if mid not in compiled:
            problems.append(loaded.error(f"KPI '{kid}' scores '{mid}', which is not a metric of this ruleset",
                                         ("scoring", "kpis", kid)))
        elif "agent" not in compiled[mid].scopes:
            problems.append(loaded.error(f"KPI '{kid}' scores '{mid}', which is not computed at agent scope",
                                         ("scoring", "kpis", kid)))
    if problems:
        raise problems[0] if len(problems) == 1 else ProblemList(problems)
    for lid, spec in rs.lists.items():
        cm = compiled.get(spec.metric)
        if cm is None or cm.table is None:
            problems.append(loaded.error(f"list '{lid}' needs a metric computed from a table", ("lists", lid, "metric")))
        elif spec.by not in dimensions.get(cm.table, {}):
            problems.append(loaded.error(f"list '{lid}': table '{cm.table}' has no dimension '{spec.by}'",
                                         ("lists", lid, "by"),
                                         expected=f"one of {sorted(dimensions.get(cm.table, {}))}"))
    if problems:
        raise problems[0] if len(problems) == 1 else ProblemList(problems)
    return Plan(loaded=loaded, metrics={cm.id: cm for cm in order}, tables=dict(rs.tables), dimensions=dimensions,
                derived=derived, schemas=schemas)


def _weights_problem(weights) -> str | None:
    """What is wrong with the value of a standardised metric's `weights` (None: nothing)."""
    if weights is None:  # null: the org's mix
        return None
    if not isinstance(weights, dict):
        return f"it gives {repr(weights)[:60]}"
    bad = [k for k, v in weights.items() if isinstance(v, bool) or not isinstance(v, (int, float))
           or not math.isfinite(v)]
    if bad:
        return f"the weight of '{bad[0]}' is {weights[bad[0]]!r}"
    return None


def _topological(compiled: dict[str, CompiledMetric], loaded: LoadedRuleset) -> list[CompiledMetric]:
    order: list[CompiledMetric] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(mid: str, trail: list[str]) -> None:
        if state.get(mid) == 2:
            return
        if state.get(mid) == 1:
            cycle = trail[trail.index(mid):] + [mid]
            raise loaded.error("metrics depend on each other in a cycle: " + " → ".join(cycle),
                               ("metrics", mid))
        state[mid] = 1
        for dep in compiled[mid].deps:
            visit(dep, trail + [mid])
        state[mid] = 2
        order.append(compiled[mid])

    for mid in compiled:
        visit(mid, [])
    return order
