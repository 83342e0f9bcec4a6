"""The aggregates of one table's metrics, in two stages.

1. The cohort is materialised once, with every record expression of the
   table's metrics (filters, numerators, values, ``in_table()`` lookups)
   computed as a column: each is evaluated once per record, not once per query.
2. Additive aggregates (count, sum, ratio, mean, min, max) are computed per
   agent, team and breakdown value in one pass: the *partials*, a small table.
   Every scope (agent, team, org) is then a roll-up of the partials: counts and
   sums of sums, the min of minima, the max of maxima.  Sums are exact
   ``DECIMAL(38, 12)``: a roll-up gives the same number as one pass over the
   records, whatever the order rows arrive in (same inputs, same bytes).

Quantiles and distinct counts do not roll up: they are computed from the
materialised cohort per scope, every quantile of one value and filter in one
sort.  All of it is Ibis; nothing loops over records.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd

from .compile import CompiledMetric
from .expressions import ColumnContext, Expr

SCOPE_KEY = {"agent": "_agent", "team": "_team", "org": None}
EXACT = dt.Decimal(38, 12)
ROLLS_UP = frozenset({"count", "ratio", "sum", "mean", "min", "max"})
_CONDITIONS = ("where", "numerator", "denominator")


def exact(value: ibis.Value) -> ibis.Value:
    """Floating values as DECIMAL(38, 12): a parallel float sum depends on the order rows
    arrive in, an exact decimal sum does not."""
    return value.cast(EXACT) if value.type().is_floating() else value


def scope_rows(table: ibis.Table, scope: str, by: str | None) -> tuple[ibis.Table, list[str]]:
    """The rows of *table* that count at *scope* (and in a breakdown by *by*), and the group keys.
    A record with an empty dimension value counts in the totals, not in a breakdown row."""
    keys = [k for k in (SCOPE_KEY[scope], f"_dim_{by}" if by else None) if k]
    for key in keys:
        table = table.filter(table[key].notnull())
    return table, keys


class TableAggregates:
    """One table's materialised cohort, its partials per breakdown, and grouped aggregates
    per scope (see the module docstring).

    Grouped results have the scope key (``_agent``, ``_team``; none at org scope), the
    breakdown's ``_dim_<name>`` and per metric ``<id>__v`` (value) or ``<id>__num`` and
    ``<id>__den`` (ratios), and ``<id>__n`` (the records behind the value).
    """

    def __init__(self, con, ctx: ColumnContext, name: str, cohort: ibis.Table,
                 metrics: list[CompiledMetric], split: bool):
        self.con = con
        self.name = name
        self.metrics = metrics
        self.split = split  # credit is split over a list of agents: counts are sums of credit
        self.columns: dict[tuple[str, str], str] = {}  # (condition | value, expression text) -> column
        computed: dict[str, ibis.Value] = {}
        for cm in metrics:
            for role, expr in cm.record_exprs():
                kind = "condition" if role in _CONDITIONS else "value"
                slot = (kind, expr.text.strip())
                if slot in self.columns:
                    continue
                column = f"_e{len(self.columns)}"
                self.columns[slot] = column
                computed[column] = self._compute(expr, kind, cohort, ctx)
        keys = [c for c in cohort.columns if c in ("_agent", "_team") or c.startswith("_dim_")]
        if split:
            keys.append("_credit")
        table_name = f"_cohort_{name}"
        # (Ibis 12's overwrite=True emits SQL that DuckDB 1.5 rejects; drop first instead.)
        con.drop_table(table_name, force=True)
        self.table = con.create_table(table_name, cohort.select(*keys, **computed))
        self.size = int(self.table.count().execute())
        self._partials: dict[str | None, ibis.Table] = {}

    @staticmethod
    def _compute(expr: Expr, kind: str, cohort: ibis.Table, ctx: ColumnContext) -> ibis.Value:
        value = expr.to_column(cohort, ctx)
        if kind == "condition":
            value = value.fill_null(False)
        if isinstance(value, ibis.expr.types.Scalar):  # a constant (e.g. a lookup in an empty table)
            value = ibis.ifelse(cohort._row.isnull(), value, value)
        return value

    def _col(self, t: ibis.Table, kind: str, expr: Expr) -> ibis.Value:
        return t[self.columns[(kind, expr.text.strip())]]

    def _cond(self, t: ibis.Table, *exprs: Expr | None):
        cond = None
        for expr in exprs:
            if expr is not None:
                c = self._col(t, "condition", expr)
                cond = c if cond is None else (cond & c)
        return cond

    # ----------------------------------------------------------- stage 1: records
    def _record_aggs(self, cm: CompiledMetric, t: ibis.Table) -> dict[str, ibis.Value]:
        """Aggregates of *cm* over records of the materialised cohort *t*.  Those of metrics
        that roll up are partial: summed, min'ed or max'ed again by :meth:`_rollup_aggs`."""
        out: dict[str, ibis.Value] = {}
        mid, agg = cm.id, cm.agg
        if agg == "count":
            cond = self._cond(t, cm.where)
            if self.split:
                out[f"{mid}__v"] = exact(t._credit).sum(where=cond)
            out[f"{mid}__n"] = t.count(where=cond)
        elif agg == "ratio":
            for side, extra, value in (("num", cm.numerator, cm.numerator_value),
                                       ("den", cm.denominator, cm.denominator_value)):
                cond = self._cond(t, cm.where, extra)
                out[f"{mid}__{side}"] = (exact(self._col(t, "value", value)).sum(where=cond)
                                         if value is not None else t.count(where=cond))
            out[f"{mid}__n"] = t.count(where=self._cond(t, cm.where, cm.denominator))
        else:
            value = self._col(t, "value", cm.value)
            cond = self._cond(t, cm.where)
            if agg == "sum":
                credited = value.cast("float64") * t._credit if self.split else value.cast("float64")
                out[f"{mid}__v"] = exact(credited).sum(where=cond)
            elif agg == "mean":
                out[f"{mid}__s"] = exact(value.cast("float64")).sum(where=cond)
            elif agg == "min":
                out[f"{mid}__v"] = value.min(where=cond)
            elif agg == "max":
                out[f"{mid}__v"] = value.max(where=cond)
            elif agg == "count_distinct":
                out[f"{mid}__v"] = value.nunique(where=cond)
            elif agg != "quantile":  # quantiles: see _quantile_aggs
                raise AssertionError(agg)
            out[f"{mid}__n"] = value.count(where=cond)
        return out

    # ------------------------------------------------------------ stage 2: roll-up
    @staticmethod
    def _rollup_aggs(cm: CompiledMetric, p: ibis.Table) -> dict[str, ibis.Value]:
        """Partials of *cm* (columns of *p*) combined over a group of partial rows."""
        out = {}
        for col in p.columns:
            if not col.startswith(f"{cm.id}__"):
                continue
            part = p[col]
            if cm.agg in ("min", "max") and col.endswith("__v"):
                out[col] = part.min() if cm.agg == "min" else part.max()
            elif part.type().is_integer():
                out[col] = part.sum().cast("int64")
            else:
                out[col] = part.sum()
        return out

    @staticmethod
    def _finish(cm: CompiledMetric, g: ibis.Table) -> dict[str, ibis.Value]:
        """The grouped columns of *cm* from its (rolled-up) aggregates."""
        mid = cm.id
        out: dict[str, ibis.Value] = {f"{mid}__n": g[f"{mid}__n"].fill_null(0).cast("int64")}
        if cm.agg == "ratio":
            for side in ("num", "den"):
                col = g[f"{mid}__{side}"]
                out[f"{mid}__{side}"] = col.fill_null(0).cast("float64") if col.type().is_integer() \
                    else col.cast("float64")
        elif cm.agg == "count" and f"{mid}__v" not in g.columns:
            out[f"{mid}__v"] = out[f"{mid}__n"].cast("float64")
        elif cm.agg == "mean":
            out[f"{mid}__v"] = g[f"{mid}__s"].cast("float64") / out[f"{mid}__n"].nullif(0).cast("float64")
        else:
            out[f"{mid}__v"] = g[f"{mid}__v"].cast("float64") \
                if cm.agg in ("count", "sum", "count_distinct") else g[f"{mid}__v"]
        return out

    def partials(self, by: str | None, metrics: list[CompiledMetric]) -> ibis.Table:
        """The partial aggregates of *metrics* per agent, team (and value of *by*): one pass
        over the records, kept as a table.  Built once per breakdown; *metrics* must be the
        same for every call with the same *by*."""
        if by not in self._partials:
            t = self.table
            keys = [c for c in ("_agent", "_team", f"_dim_{by}" if by else None) if c and c in t.columns]
            aggs: dict[str, ibis.Value] = {}
            for cm in metrics:
                aggs.update(self._record_aggs(cm, t))
            expr = t.group_by(keys).aggregate(**aggs) if keys else t.aggregate(**aggs)
            name = f"_partials_{self.name}_{by or ''}"
            self.con.drop_table(name, force=True)
            self._partials[by] = self.con.create_table(name, expr)
        return self._partials[by]

    # ------------------------------------------------------------------ grouping
    def rolled_up(self, scope: str, by: str | None, metrics: list[CompiledMetric],
                  partial_metrics: list[CompiledMetric]) -> ibis.Table:
        """*metrics* (which roll up) per scope id and value of *by*, from the partials of
        *partial_metrics* (the metrics of every scope for *by*, a superset)."""
        p, keys = scope_rows(self.partials(by, partial_metrics), scope, by)
        aggs: dict[str, ibis.Value] = {}
        for cm in metrics:
            aggs.update(self._rollup_aggs(cm, p))
        g = p.group_by(keys).aggregate(**aggs) if keys else p.aggregate(**aggs)
        return self._finished(g, keys, metrics)

    def direct(self, scope: str, by: str | None, metrics: list[CompiledMetric]) -> ibis.Table:
        """*metrics* per scope id and value of *by*, straight from the records (any aggregation;
        quantiles of the same value and filter share one sort)."""
        t, keys = scope_rows(self.table, scope, by)
        aggs: dict[str, ibis.Value] = {}
        quantiles: dict[tuple, list[CompiledMetric]] = {}
        for cm in metrics:
            if cm.agg == "quantile":
                quantiles.setdefault((cm.value.text.strip(), cm.where.text.strip() if cm.where else None),
                                     []).append(cm)
            aggs.update(self._record_aggs(cm, t))
        unpack = {}
        for i, group in enumerate(quantiles.values()):
            first = group[0]
            value = self._col(t, "value", first.value).cast("float64")
            qs = [float(cm.spec.q) for cm in group]
            aggs[f"_q{i}"] = value.quantile(qs, where=self._cond(t, first.where))
            for j, cm in enumerate(group):
                unpack[f"{cm.id}__v"] = (f"_q{i}", j)
        g = t.group_by(keys).aggregate(**aggs) if keys else t.aggregate(**aggs)
        g = g.mutate(**{col: g[q][j] for col, (q, j) in unpack.items()}).drop(*{q for q, _ in unpack.values()})
        return self._finished(g, keys, metrics)

    def _finished(self, g: ibis.Table, keys: list[str], metrics: list[CompiledMetric]) -> ibis.Table:
        cols: dict[str, ibis.Value] = {}
        for cm in metrics:
            cols.update(self._finish(cm, g))
        return g.select(*keys, **cols)

    def grouped(self, scope: str, by: str | None, metrics: list[CompiledMetric],
                partial_metrics: list[CompiledMetric] | None = None) -> pd.DataFrame:
        """*metrics* per scope id and value of *by* as a data frame: rolled up from the partials
        (when *partial_metrics* is given) where they can be, the others straight from the records."""
        rolled = [cm for cm in metrics if cm.agg in ROLLS_UP] if partial_metrics is not None else []
        others = [cm for cm in metrics if cm not in rolled]
        keys = scope_rows(self.table, scope, by)[1]
        parts = []
        if rolled:
            parts.append(self.rolled_up(scope, by, rolled, [cm for cm in partial_metrics if cm.agg in ROLLS_UP])
                         .execute())
        if others:
            parts.append(self.direct(scope, by, others).execute())
        df = parts[0]
        for part in parts[1:]:
            df = df.merge(part, on=keys, how="outer") if keys else pd.concat([df, part], axis=1)
        if keys:  # the database returns groups in any order
            df = df.sort_values(keys, kind="stable").reset_index(drop=True)
        for col in df.columns:
            if col.endswith("__n"):
                df[col] = df[col].fillna(0).astype(np.int64)
        return df
