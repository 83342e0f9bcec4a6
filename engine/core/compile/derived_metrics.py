"""The passes over metrics computed from other metrics (formulas, standardised metrics),
in evaluation order: each takes its scopes, breakdowns and tables from what it uses."""

from __future__ import annotations

import math

import ibis
import ibis.expr.datatypes as dt

from merit.core.compile.plan import CompiledMetric
from merit.core.compile.schemas import FORMULA_CONSTANTS, NUMBER
from merit.core.compile.state import Compilation
from merit.core.errors import MeritError
from merit.core.expressions import ColumnContext
from merit.core.ruleset import SCOPES


def formulas_and_standardised(c: Compilation) -> None:
    # A formula is computed over a table of metric values (numbers) and the cycle's constants.
    metric_values = ibis.table({**{mid: dt.float64 for mid in c.metrics},
                                **{name: dt.float64 for name in FORMULA_CONSTANTS}}, name="metrics")
    formula_ctx = ColumnContext(params=c.ruleset.params, timezone="UTC", what="metric", period=c.ctx.period,
                                key_checks=c.ctx.key_checks)
    for cm in c.order:
        if cm.agg == "formula":
            _formula(c, cm, metric_values, formula_ctx)
        elif cm.agg == "standardized":
            _standardised(c, cm)


def _formula(c: Compilation, cm: CompiledMetric, metric_values: ibis.Table, formula_ctx: ColumnContext) -> None:
    if cm.formula is not None:
        try:
            cm.formula.to_value(metric_values, formula_ctx, NUMBER, "a formula",
                                "a number computed from metrics, e.g. 1 - escalated / tickets")
        except MeritError as exc:
            c.problems.append(exc)
    cm.scopes = _formula_scopes(c, cm)
    for bname in cm.breakdowns:
        lacking = [d for d in cm.deps if bname not in c.metrics[d].breakdowns]
        if lacking:
            c.error(f"metric '{cm.id}' is broken down by '{bname}' but {', '.join(lacking)} is not",
                    ("metrics", cm.id, "breakdowns"))
    cm.tables = frozenset().union(*(c.metrics[d].tables for d in cm.deps)) if cm.deps else frozenset()


def _formula_scopes(c: Compilation, cm: CompiledMetric) -> tuple[str, ...]:
    """A formula exists at the scopes all its inputs exist at; one that rolls up a sum of
    agents needs its inputs at agent scope."""
    scopes = set(cm.spec.scopes)
    if cm.spec.rollup == "sum":
        if not all("agent" in c.metrics[d].scopes for d in cm.deps):
            c.error(f"metric '{cm.id}' rolls up a sum of agents, so its inputs need agent scope",
                    ("metrics", cm.id, "rollup"))
    else:
        for dep in cm.deps:
            scopes &= set(c.metrics[dep].scopes)
    return tuple(s for s in SCOPES if s in scopes)


def _standardised(c: Compilation, cm: CompiledMetric) -> None:
    spec = cm.spec
    base = c.metrics[spec.metric]
    if spec.by not in base.breakdowns:
        c.error(f"metric '{cm.id}' standardises '{base.id}' by '{spec.by}', but '{base.id}' has no "
                f"'{spec.by}' breakdown", ("metrics", cm.id, "by"),
                expected=f"add '{spec.by}' to metrics.{base.id}.breakdowns")
    if spec.mix and spec.by not in c.metrics[spec.mix].breakdowns:
        c.error(f"metric '{cm.id}' takes its weights from '{spec.mix}', which has no '{spec.by}' breakdown",
                ("metrics", cm.id, "mix"))
    cm.scopes = tuple(s for s in base.scopes if s in spec.scopes)
    cm.tables = base.tables
    if cm.weights is not None:
        _check_weights(c, cm)
    elif spec.weights is None and spec.mix is None:
        c.error(f"metric '{cm.id}' needs 'weights' or 'mix'", ("metrics", cm.id))


def _check_weights(c: Compilation, cm: CompiledMetric) -> None:
    try:
        weights = cm.weights.evaluate({}, c.ruleset.params)
    except MeritError as exc:
        c.problems.append(exc)
        return
    problem = weights_problem(weights)
    if problem:
        c.problems.append(cm.weights.error(
            f"weights must be a parameter table of numbers ({cm.spec.by} → weight), but {problem}",
            "a parameter such as {im: 0.5, phone: 0.5}, or null for the org's mix"))


def weights_problem(weights) -> str | None:
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
