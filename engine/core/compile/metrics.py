"""The metric passes: bind each metric's expressions, check its dependencies, order them."""

from __future__ import annotations

from merit.core.compile.plan import RECORD_FIELDS, CompiledMetric
from merit.core.compile.schemas import FILTERS, FORMULA_CONSTANTS, VALUE_KINDS
from merit.core.compile.state import Compilation
from merit.core.ruleset import SCOPES, Metric, TableConfig


def metrics(c: Compilation) -> None:
    """Parse every metric's expressions; bind those computed record by record to their table."""
    for mid, spec in c.ruleset.metrics.items():
        cm = CompiledMetric(id=mid, spec=spec, scopes=tuple(s for s in SCOPES if s in spec.scopes),
                            breakdowns=tuple(spec.breakdowns))
        if spec.table is not None:
            if spec.table not in c.record_tables:
                c.error(f"unknown table '{spec.table}'", ("metrics", mid, "table"), expected=c.known_tables())
                continue
            _record_metric(c, cm)
        elif spec.agg == "formula":
            _formula_metric(c, cm)
        elif spec.agg == "standardized":
            _standardized_metric(c, cm)
        if spec.n is not None:
            cm.deps = tuple(dict.fromkeys(cm.deps + (spec.n,)))
        c.metrics[mid] = cm


def _record_metric(c: Compilation, cm: CompiledMetric) -> None:
    spec = cm.spec
    path = ("metrics", cm.id)
    resource = f"metric '{cm.id}'"
    table = c.record_tables[spec.table]
    _check_scopes(c, cm, c.ruleset.tables.get(spec.table, TableConfig()))
    for name in RECORD_FIELDS:
        text = getattr(spec, name)
        if text is not None:
            expr = c.parse(text, path + (name,), resource)
            role = spec.agg if name == "value" else name
            c.bind(expr, table, is_filter=name in FILTERS, kinds=VALUE_KINDS.get(role),
                   what=f"the value of {spec.agg}" if name == "value" else name)
            setattr(cm, name, expr)
    dims = c.dimensions.get(spec.table, {})
    for bname in cm.breakdowns:
        if bname not in dims:
            c.error(f"{resource} is broken down by '{bname}', which table '{spec.table}' does not define",
                    path + ("breakdowns",),
                    expected=f"one of {sorted(dims)} (tables.{spec.table}.dimensions)")
    used = {spec.table}
    for _, expr in cm.record_exprs():
        used |= set(expr.tables)
    cm.tables = frozenset(used)


def _check_scopes(c: Compilation, cm: CompiledMetric, cfg: TableConfig) -> None:
    """A scope needs the column it groups by: agent scope an agent column, team scope either."""
    table = cm.spec.table
    path = ("metrics", cm.id, "scopes")
    for scope in cm.scopes:
        if scope == "agent" and cfg.agent is None:
            c.error(f"metric '{cm.id}' is computed at agent scope but table '{table}' names no agent column",
                    path, expected=f"tables.{table}.agent, or scopes without 'agent'")
        if scope == "team" and cfg.agent is None and cfg.team is None:
            c.error(f"metric '{cm.id}' is computed at team scope but table '{table}' names no agent or team "
                    "column", path, expected=f"tables.{table}.agent or .team")


def _formula_metric(c: Compilation, cm: CompiledMetric) -> None:
    cm.formula = c.parse(cm.spec.formula, ("metrics", cm.id, "formula"), f"metric '{cm.id}'")  # type: ignore[arg-type]
    if cm.formula is not None:
        cm.deps = tuple(sorted(n for n in cm.formula.names if n not in FORMULA_CONSTANTS))


def _standardized_metric(c: Compilation, cm: CompiledMetric) -> None:
    spec: Metric = cm.spec
    cm.deps = tuple(d for d in (spec.metric, spec.mix) if d)
    if isinstance(spec.weights, str):
        cm.weights = c.parse(spec.weights, ("metrics", cm.id, "weights"), f"metric '{cm.id}'")
    if cm.breakdowns:
        c.error(f"metric '{cm.id}': a standardised metric has no breakdowns", ("metrics", cm.id, "breakdowns"))


def dependencies(c: Compilation) -> None:
    """Every metric a metric uses is a metric of the ruleset."""
    for cm in c.metrics.values():
        for dep in cm.deps:
            if dep in c.ruleset.metrics:
                continue
            field_name = "n" if dep == cm.spec.n else {"formula": "formula", "standardized": "metric"}.get(cm.agg, "n")
            c.error(f"metric '{cm.id}' uses '{dep}', which is not a metric of this ruleset",
                    ("metrics", cm.id, field_name), expected="a metric id defined under 'metrics'")


def evaluation_order(c: Compilation) -> None:
    """Order the metrics so that each comes after the metrics it uses; a cycle is an error."""
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(mid: str, trail: list[str]) -> None:
        if state.get(mid) == 2:
            return
        if state.get(mid) == 1:
            cycle = trail[trail.index(mid):] + [mid]
            raise c.loaded.error("metrics depend on each other in a cycle: " + " → ".join(cycle),
                                 ("metrics", mid))
        state[mid] = 1
        for dep in c.metrics[mid].deps:
            visit(dep, trail + [mid])
        state[mid] = 2
        c.order.append(c.metrics[mid])

    for mid in c.metrics:
        visit(mid, [])
