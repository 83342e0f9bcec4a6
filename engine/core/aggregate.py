"""The aggregates of one table's metrics, in two stages.

1. Every record expression of the table's metrics (filters, numerators,
   values, ``in_table()`` lookups) becomes a column of the records, computed
   once per record in the pass below, not once per query.
2. Additive aggregates (count, sum, ratio, mean, min, max) are computed in one
   pass over the records per agent, team and value of every breakdown
   dimension at once: the *partials*, a small table (a few rows per agent).
   Each breakdown and scope (agent, team, org) is then a roll-up of the
   partials (in pandas: they are small): counts and sums of sums, the min of
   minima, the max of maxima.  Sums are exact ``DECIMAL(38, 15)`` sums, so
   they do not depend on the order rows arrive in; the partials are rolled
   up in the order of their keys (same inputs, same bits).

Quantiles and distinct counts do not roll up: the columns they need (and
those lists need) are stored, and they are computed from them per scope,
every quantile of one value and filter in one sort.  Record-level work is
Ibis run by the engine; nothing loops over records.
"""

from __future__ import annotations

from contextlib import contextmanager

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd

from merit.core.backends import portability
from merit.core.compile import CompiledMetric
from merit.core.errors import DataError
from merit.core.expressions import ColumnContext, Expr

SCOPE_KEY = {"agent": "_agent", "team": "_team", "org": None}
EXACT = dt.Decimal(38, 15)
ROLLS_UP = frozenset({"count", "ratio", "sum", "mean", "min", "max"})
_CONDITIONS = ("where", "numerator", "denominator")
_RECORDS = "_records"  # partials: the number of records behind each row


def exact(value: ibis.Value) -> ibis.Value:
    """Floating values as DECIMAL(38, 15): a parallel float sum depends on the order rows
    arrive in, an exact decimal sum does not."""
    return value.cast(EXACT) if value.type().is_floating() else value


def group_keys(scope: str, by: str | None) -> list[str]:
    """The columns a grouping at *scope* (and by dimension *by*) groups by."""
    return [k for k in (SCOPE_KEY[scope], f"_dim_{by}" if by else None) if k]


def scope_rows(table: ibis.Table, scope: str, by: str | None) -> tuple[ibis.Table, list[str]]:
    """The rows of *table* that count at *scope* (and in a breakdown by *by*), and the group keys.
    A record with an empty dimension value counts in the totals, not in a breakdown row."""
    keys = group_keys(scope, by)
    for key in keys:
        table = table.filter(table[key].notnull())
    return table, keys


class TableAggregates:
    """One table's records with their expressions, its partials, and grouped aggregates per
    scope and breakdown (see the module docstring).

    Grouped results have the scope key (``_agent``, ``_team``; none at org scope), the
    breakdown's ``_dim_<name>`` and per metric ``<id>__v`` (value) or ``<id>__num`` and
    ``<id>__den`` (ratios), and ``<id>__n`` (the records behind the value).
    """

    def __init__(self, con, ctx: ColumnContext, name: str, cohort: ibis.Table,
                 metrics: list[CompiledMetric], split: bool, listed: dict[str, list[CompiledMetric]] | None = None,
                 source: str | None = None):
        """*listed*: dimension -> the metrics ranked by it in lists (see :meth:`listed`);
        *source*: the table's file, for messages."""
        self.con = con
        self.source = source
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
        # Every record with its expressions computed, not stored: the partials are one pass over it.
        self.records = cohort.select(*keys, **computed)
        # the breakdowns of metrics that roll up: the dimensions of the partials
        self.breakdowns = sorted({b for cm in metrics if cm.agg in ROLLS_UP for b in cm.breakdowns})
        self._frame: pd.DataFrame | None = None
        # What the partials cannot serve (quantiles, distinct counts, lists) reads the records again:
        # only the columns it needs are stored (memory: the 10M-ticket cohort would take gigabytes).
        kept = [cm for cm in metrics if cm.agg not in ROLLS_UP]
        kept_dims = {b for cm in kept for b in cm.breakdowns}
        for by, ranked in (listed or {}).items():
            kept += ranked
            kept_dims.add(by)
        stored = {c for c in keys if not c.startswith("_dim_")} | {f"_dim_{b}" for b in kept_dims}
        for cm in kept:
            for role, expr in cm.record_exprs():
                stored.add(self.columns[("condition" if role in _CONDITIONS else "value", expr.text.strip())])
        self.table: ibis.Table | None = None
        if kept:
            self.table = self._create(f"_cohort_{name}", self.records.select(
                *[c for c in self.records.columns if c in stored]))
        self.size = int(self._partials_frame()[_RECORDS].sum()) if not kept else int(self.table.count().execute())

    @staticmethod
    def _compute(expr: Expr, kind: str, cohort: ibis.Table, ctx: ColumnContext) -> ibis.Value:
        value = expr.to_column(cohort, ctx)
        if value.type().is_null():  # always empty (None): a database stores no NULL-typed column
            value = value.cast("boolean" if kind == "condition" else "float64")
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
        """Aggregates of *cm* over records *t* (``records`` or the stored ``table``).  Those of
        metrics that roll up are partial: summed, min'ed or max'ed again by :meth:`_rollup_aggs`."""
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
            elif agg != "quantile":  # quantiles: see direct()
                raise AssertionError(agg)
            out[f"{mid}__n"] = value.count(where=cond)
        return out

    # ------------------------------------------------------------ stage 2: roll-up
    @staticmethod
    def _rollup_aggs(cm: CompiledMetric, p: ibis.Table) -> dict[str, ibis.Value]:
        """Partials of *cm* (columns of *p*) combined over a group of partial rows."""
        out = {}
        for suffix in ("v", "s", "num", "den", "n"):
            col = f"{cm.id}__{suffix}"
            if col not in p.columns:
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
        """The grouped columns of *cm* from its (rolled-up) aggregates (in SQL; rolled_up() does
        the same in pandas)."""
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

    def _combined(self) -> ibis.Table:
        """The partials of every metric that rolls up, per agent, team and value of every
        breakdown dimension: the one pass over the records (a query, read once into
        :meth:`_partials_frame`: nothing else reads it, so it is not stored)."""
        t = self.records
        keys = [c for c in ("_agent", "_team") if c in t.columns] + [f"_dim_{b}" for b in self.breakdowns]
        aggs: dict[str, ibis.Value] = {_RECORDS: t.count()}
        for cm in self.metrics:
            if cm.agg in ROLLS_UP:
                aggs.update(self._record_aggs(cm, t))
        return t.group_by(keys).aggregate(**aggs) if keys else t.aggregate(**aggs)

    def _partials_frame(self) -> pd.DataFrame:
        """The combined partials as a data frame (a few rows per agent), sums as floats, rows
        in the order of their keys: a roll-up below adds them in that order, so its result
        does not depend on the order the database returned them in."""
        if self._frame is None:
            p = self._combined()
            df = self._execute(p.select(**{c: p[c].cast("float64") if p[c].type().is_decimal() else p[c]
                             for c in p.columns}))
            keys = [c for c in df.columns if c in ("_agent", "_team") or c.startswith("_dim_")]
            if keys:
                df = df.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)
            self._frame = df
        return self._frame

    def _create(self, name: str, expr: ibis.Table) -> ibis.Table:
        with self._exact_sums():
            return portability.materialise(self.con, name, expr)

    def _execute(self, expr: ibis.Table) -> pd.DataFrame:
        with self._exact_sums():
            return portability.execute(self.con, expr)

    @contextmanager
    def _exact_sums(self):
        """A value too big for an exact sum (DECIMAL(38, 15): below 10^23) is the data's fault:
        say which table and expression, not a database traceback."""
        try:
            yield
        except Exception as exc:  # (re-raised unless the engine says a value overflowed an exact sum)
            found = portability.decimal_overflow(self.con, exc)
            if found is not None:
                raise self._too_large_error(found) from None
            raise

    def _too_large_error(self, found: portability.Overflow) -> DataError:
        column, value = found.column, found.value
        if column is None:  # (the engine's message does not say which: ask it)
            column, value = self._too_large()
        names = {column: text for (_kind, text), column in self.columns.items()}
        text = names.get(column, column or "a value")
        return DataError(f"{text} is {value} for a record of table {self.name}: too large to add up exactly",
                         file=self.source, expected="values below 10^23 in absolute value")

    def _too_large(self) -> tuple[str | None, str | None]:
        """The first value column (and a value of it) too large for an exact sum."""
        for (kind, _text), column in self.columns.items():
            col = self.records[column]
            if kind != "value" or not col.type().is_numeric():
                continue
            big = self.records.filter(col.cast("float64").abs() >= 1e23).select(_v=col.cast("float64")).limit(1)
            found = portability.execute(self.con, big)
            if len(found):
                return column, f"{found['_v'].iloc[0]:g}"
        return None, None

    # ------------------------------------------------------------------ grouping
    def rolled_up(self, scope: str, by: str | None, metrics: list[CompiledMetric]) -> pd.DataFrame:
        """*metrics* (which roll up) per scope id and value of *by*, from the partials.

        In pandas and numpy, vectorised: the partials are small, and a query per scope and
        breakdown would cost more to compile than to run.  The columns are handled as numpy
        arrays: pandas' per-column overhead is most of the time on a few dozen partial rows."""
        p = self._partials_frame()
        keys = group_keys(scope, by)
        if keys:
            p = p[p[keys].notna().all(axis=1)]
        how: dict[str, str] = {}
        for cm in metrics:
            for suffix in ("v", "s", "num", "den", "n"):
                col = f"{cm.id}__{suffix}"
                if col in p.columns:
                    how[col] = cm.agg if cm.agg in ("min", "max") and suffix == "v" else "sum"
        key_columns, combined = _combine(p, keys, how)

        def number(col: str) -> np.ndarray:
            values = combined[col].astype(np.float64)
            # a count of nothing is 0 (a sum of nothing stays undefined)
            return np.nan_to_num(values, nan=0.0) if p[col].dtype.kind in "iu" else values

        out: dict[str, object] = dict(key_columns)  # (one frame made at the end)
        for cm in metrics:
            mid = cm.id
            n = number(f"{mid}__n").astype(np.int64)
            out[f"{mid}__n"] = n
            if cm.agg == "ratio":
                out[f"{mid}__num"] = number(f"{mid}__num")
                out[f"{mid}__den"] = number(f"{mid}__den")
            elif cm.agg == "count" and f"{mid}__v" not in combined:
                out[f"{mid}__v"] = n.astype(np.float64)
            elif cm.agg == "mean":
                out[f"{mid}__v"] = number(f"{mid}__s") / np.where(n > 0, n, np.nan)
            else:
                out[f"{mid}__v"] = number(f"{mid}__v")
        return pd.DataFrame(out)

    def listed(self, by: str, scopes: list[str], metrics: list[CompiledMetric]) -> dict[str, ibis.Table]:
        """*metrics* per scope id and value of *by*, for each of *scopes*: what lists rank.

        A dimension such as the customer has about as many values as there are records, so
        this is grouped once, at the finest scope asked, and kept; the wider scopes roll up
        from it (when every metric rolls up; otherwise each scope is grouped from the records)."""
        if not all(cm.agg in ROLLS_UP for cm in metrics):
            return {scope: self._create(f"_lists_{self.name}_{by}_{scope}", self.direct(scope, by, metrics))
                    for scope in scopes}
        finest = min(scopes, key=("agent", "team", "org").index)
        t = self.table.filter(self.table[f"_dim_{by}"].notnull())
        # (no scope filter: a record without a team still counts at org scope)
        keys = [SCOPE_KEY[s] for s in ("agent", "team") if s in scopes or s == finest] + [f"_dim_{by}"]
        keys = [k for k in keys if k in t.columns]
        aggs: dict[str, ibis.Value] = {}
        for cm in metrics:
            aggs.update(self._record_aggs(cm, t))
        p = self._create(f"_lists_{self.name}_{by}", t.group_by(keys).aggregate(**aggs))
        out = {}
        for scope in scopes:
            q, scope_keys = scope_rows(p, scope, by)
            # already at this grain (an agent's team is the roster's: one per agent)
            if scope_keys == keys or (scope == "agent" and scope_keys == [k for k in keys if k != "_team"]):
                out[scope] = self._finished(q, scope_keys, metrics)
                continue
            rolled: dict[str, ibis.Value] = {}
            for cm in metrics:
                rolled.update(self._rollup_aggs(cm, q))
            out[scope] = self._create(f"_lists_{self.name}_{by}_{scope}", self._finished(
                q.group_by(scope_keys).aggregate(**rolled), scope_keys, metrics))
        return out

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
        unpack, finish = {}, {}
        for i, group in enumerate(quantiles.values()):
            first = group[0]
            value = self._col(t, "value", first.value).cast("float64")
            qs = [float(cm.spec.q) for cm in group]
            aggs[f"_q{i}"], finish[f"_q{i}"] = portability.quantiles(value, qs, where=self._cond(t, first.where))
            for j, cm in enumerate(group):
                unpack[f"{cm.id}__v"] = (f"_q{i}", j)
        g = t.group_by(keys).aggregate(**aggs) if keys else t.aggregate(**aggs)
        finish = {q: f(g[q]) for q, f in finish.items() if f is not None}
        g = g.mutate(**finish) if finish else g
        g = g.mutate(**{col: g[q][j] for col, (q, j) in unpack.items()}).drop(*{q for q, _ in unpack.values()})
        return self._finished(g, keys, metrics)

    def _finished(self, g: ibis.Table, keys: list[str], metrics: list[CompiledMetric]) -> ibis.Table:
        cols: dict[str, ibis.Value] = {}
        for cm in metrics:
            cols.update(self._finish(cm, g))
        return g.select(*keys, **cols)

    def grouped(self, scope: str, by: str | None, metrics: list[CompiledMetric]) -> pd.DataFrame:
        """*metrics* per scope id and value of *by* as a data frame: rolled up from the partials
        where they can be, the others straight from the records."""
        rolled = [cm for cm in metrics if cm.agg in ROLLS_UP and (by is None or by in self.breakdowns)]
        others = [cm for cm in metrics if cm not in rolled]
        keys = group_keys(scope, by)
        parts = []
        if rolled:
            parts.append(self.rolled_up(scope, by, rolled))
        if others:
            parts.append(self._execute(self.direct(scope, by, others)))
        df = parts[0]
        for part in parts[1:]:
            df = df.merge(part, on=keys, how="outer") if keys else pd.concat([df, part], axis=1)
        if keys:  # the database returns groups in any order
            df = df.sort_values(keys, kind="stable").reset_index(drop=True)
        for col in df.columns:
            if col.endswith("__n"):
                df[col] = df[col].fillna(0).astype(np.int64)
        return df


def _combine(p: pd.DataFrame, keys: list[str], how: dict[str, str]) -> tuple[dict, dict[str, np.ndarray]]:
    """The partial rows *p* combined per value of *keys* (all rows: one group without keys),
    column by column as *how* says (sum, min or max): (the groups' key columns, the combined
    columns as numpy arrays, one value per group, groups in the order of their keys)."""
    if not keys:
        # sum(min_count=1): the sum of nothing is undefined, as in SQL
        return {}, {col: np.array([p[col].sum(min_count=1) if f == "sum" else getattr(p[col], f)()])
                    for col, f in how.items()}
    grouped = p.groupby(keys, sort=True)
    sums = [col for col, f in how.items() if f == "sum"]
    summed = grouped[sums].sum(min_count=1)  # (summed together: one pass)
    combined = {col: summed[col].to_numpy() for col in sums}
    for col, f in how.items():
        if f != "sum":
            combined[col] = grouped[col].agg(f).reindex(summed.index).to_numpy()
    index = summed.index.to_frame(index=False)
    return {key: index[key] for key in keys}, combined
