"""Compile a ruleset into a metric plan, before any data is read.

Every expression is parsed once here and bound to the contract schema of its
table, so a misspelt column, an unknown parameter or a formula that names a
missing metric is reported with its file and line by ``merit check`` without
touching the data (dbt's parse/execute split).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import ibis.expr.datatypes as dt

from . import expressions
from .errors import MeritError, ProblemList
from .expressions import ColumnContext, Expr
from .ruleset import SCOPES, LoadedRuleset, Metric, TableConfig
from .tables import SCHEMAS

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
                    "role": dt.string},
}

# Aggregations whose value for an agent without records is 0, not undefined.
ZERO_WHEN_EMPTY = ("count", "sum", "count_distinct")


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
class Plan:
    loaded: LoadedRuleset
    metrics: dict[str, CompiledMetric]  # in evaluation order (dependencies first)
    tables: dict[str, TableConfig]
    dimensions: dict[str, dict[str, Expr]] = field(default_factory=dict)  # table -> name -> expr

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
    unbound: dict[str, ibis.Table] = {}

    def schema_table(name: str) -> ibis.Table | None:
        if name not in unbound:
            schema = table_schema(name)
            unbound[name] = ibis.table(schema, name=name) if schema is not None else None
        return unbound[name]

    def parse(text: str, path: tuple, resource: str) -> Expr | None:
        try:
            return expressions.parse(text, loaded.origin(path, resource=resource, field_name=path[-1]))
        except MeritError as exc:
            problems.append(exc)
            return None

    ctx_tables = {name: schema_table(name) for name in list(SCHEMAS) + list(BUILTIN_SCHEMAS)}
    ctx = ColumnContext(params=params, timezone="UTC", tables=ctx_tables)

    def bind(expr: Expr | None, table: ibis.Table) -> None:
        if expr is None:
            return
        try:
            expr.to_column(table, ctx)
        except MeritError as exc:
            problems.append(exc)

    # Table configs and their dimensions.
    dimensions: dict[str, dict[str, Expr]] = {}
    for tname, cfg in rs.tables.items():
        table = schema_table(tname)
        if table is None:
            problems.append(loaded.error(f"unknown table '{tname}'", ("tables", tname),
                                         expected="one of " + ", ".join(sorted(ctx_tables))))
            continue
        for attr in ("agent", "team", "period", "key"):
            col = getattr(cfg, attr)
            if col is not None and col not in table.columns:
                problems.append(loaded.error(f"table '{tname}' has no column '{col}'", ("tables", tname, attr),
                                             expected="one of " + ", ".join(c for c in table.columns if c != "_row")))
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
                problems.append(loaded.error(f"unknown table '{spec.table}'", path + ("table",),
                                             expected="one of " + ", ".join(sorted(ctx_tables))))
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
                    bind(expr, table)
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
                cm.deps = tuple(sorted(cm.formula.names))
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

    for cm in order:
        if cm.agg == "formula":
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
                    cm.weights.evaluate({}, params)
                except MeritError as exc:
                    problems.append(exc)
            elif cm.spec.weights is None and cm.spec.mix is None:
                problems.append(loaded.error(f"metric '{cm.id}' needs 'weights' or 'mix'", ("metrics", cm.id)))

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
    return Plan(loaded=loaded, metrics={cm.id: cm for cm in order}, tables=dict(rs.tables), dimensions=dimensions)


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
