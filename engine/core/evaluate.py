"""Evaluate a compiled plan on loaded tables.

Per source table, its metrics are aggregated per scope and breakdown by
:mod:`merit.core.aggregate` (one pass over the records into partials, rolled up
per scope).  What comes back is small (one row per agent, team or org, times
breakdown values); the formula and standardised metrics are then computed on
those small frames, vectorised.  Nothing here loops over records.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd

from merit.core.aggregate import SCOPE_KEY, TableAggregates
from merit.core.backends import portability
from merit.core.cohorts import CohortBuilder, period_bounds_utc
from merit.core.compile import FORMULA_CONSTANTS, ZERO_WHEN_EMPTY, CompiledMetric, Plan
from merit.core.compile.needs import absent_reads, missing_tables_note, undefined_metrics
from merit.core.errors import MeritError
from merit.core.intervals import wilson_interval
from merit.core.workspace import Workspace

LIST_COLUMNS = ["scope", "id", "list", "rank", "key", "value", "n"]


@dataclass
class Frame:
    """Metric values of one scope and breakdown: columns id, [breakdown], and
    per metric ``<id>`` (value), ``<id>__n``, ``<id>__low``, ``<id>__high``."""

    scope: str
    breakdown: str | None
    data: pd.DataFrame


@dataclass
class Evaluation:
    plan: Plan
    frames: dict[tuple[str, str | None], Frame]
    roster: pd.DataFrame  # the agents scored in this cycle
    notes: dict[str, str] = field(default_factory=dict)  # metric id -> why it is undefined everywhere
    cohort_sizes: dict[str, int] = field(default_factory=dict)
    lists: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LIST_COLUMNS))
    constants: dict[str, float] = field(default_factory=dict)

    def frame(self, scope: str, breakdown: str | None = None) -> pd.DataFrame:
        return self.frames[(scope, breakdown)].data



class Evaluator(CohortBuilder):
    """Aggregates every metric of a plan per scope and breakdown (see the module docstring)."""

    def run(self) -> Evaluation:
        plan = self.plan
        self.check_lookup_keys()  # a key missing from its parameter table is a data error, not a gap
        self.notes.update(self.undefined())
        table_metrics: dict[str, list[CompiledMetric]] = {}
        for cm in plan.metrics.values():
            if cm.table is not None and cm.id not in self.notes:
                table_metrics.setdefault(cm.table, []).append(cm)

        results: dict[tuple[str, str | None], list[pd.DataFrame]] = {}
        for tname, metrics in table_metrics.items():
            self.progress(f"table {tname}")
            agg = self._table_aggregates(tname, metrics)
            # a breakdown by a dimension that reads an absent column has no rows
            breakdowns = {b for cm in metrics for b in cm.breakdowns if not self.absent_dimension(tname, b)}
            for breakdown in (None,) + tuple(sorted(breakdowns)):
                relevant = [cm for cm in metrics if breakdown is None or breakdown in cm.breakdowns]
                for scope in ("agent", "team", "org"):
                    wanted = [cm for cm in relevant if scope in cm.scopes]
                    if wanted:
                        df = self._group(agg, scope, breakdown, wanted)
                        results.setdefault((scope, breakdown), []).append(df)

        frames = self._assemble(results, table_metrics)
        self._formulas(frames)
        self._standardized(frames)
        lists = self._lists()
        return Evaluation(plan=plan, frames=frames, roster=self.roster, notes=self.notes,
                          cohort_sizes=self.cohort_sizes, lists=lists, constants=self.constants)

    def _table_aggregates(self, tname: str, metrics: list[CompiledMetric]) -> TableAggregates:
        cfg = self.plan.tables.get(tname)
        split = bool(cfg is not None and cfg.agent and self.plan.schemas[tname][cfg.agent].is_array())
        listed: dict[str, list[CompiledMetric]] = {}
        for spec in self.plan.ruleset.lists.values():
            cm = self.plan.metrics[spec.metric]
            if cm in metrics and cm not in listed.get(spec.by, []):
                listed.setdefault(spec.by, []).append(cm)
        source = self.tables.sources.get(tname)
        agg = TableAggregates(self.tables.con, self.ctx, tname, self.cohort(tname), metrics, split, listed,
                              source.display if source is not None else None)
        self.cohort_sizes[tname] = agg.size
        self.aggregates[tname] = agg
        return agg

    def _group(self, agg: TableAggregates, scope: str, by: str | None, metrics: list[CompiledMetric]) -> pd.DataFrame:
        """The metrics per scope id (and per value of dimension `by`)."""
        df = self._finish_table_metrics(agg.grouped(scope, by, metrics), metrics)
        if by and len(df):  # a breakdown row exists only where some record counts for its metrics
            counted = np.zeros(len(df), dtype=bool)
            for cm in metrics:
                counted |= df[f"{cm.id}__n"].to_numpy() > 0
            df = df[counted].reset_index(drop=True)
        df = df.rename(columns={SCOPE_KEY[scope] or "": "id", f"_dim_{by}": "breakdown"})
        if scope == "org":
            df["id"] = "org"
        return df

    def _lists(self) -> pd.DataFrame:
        specs = self.plan.ruleset.lists
        # One grouping per (table, dimension) serves every list and scope that share them.
        groups: dict[tuple[str, str], dict[str, list[str]]] = {}
        for lid, spec in specs.items():
            cm = self.plan.metrics[spec.metric]
            if (cm.id in self.notes or cm.table not in self.aggregates
                    or self.absent_dimension(cm.table, spec.by)):  # (a list by an absent column: no rows)
                continue
            for scope in spec.scopes:
                if scope in cm.scopes:
                    groups.setdefault((cm.table, spec.by), {}).setdefault(scope, []).append(lid)
        ranked = []
        for (table, by), scopes in groups.items():
            metrics = list({specs[lid].metric: self.plan.metrics[specs[lid].metric]
                            for lids in scopes.values() for lid in lids}.values())
            grouped_by_scope = self.aggregates[table].listed(by, list(scopes), metrics)
            ranked += [(table, by, scope, lids, grouped_by_scope[scope]) for scope, lids in scopes.items()]
        rows = []
        for _table, by, scope, lids, grouped in ranked:
            rows += [self._list_rows(grouped, scope, lid, by) for lid in lids]
        if not rows:
            return pd.DataFrame(columns=LIST_COLUMNS)
        # every list of every scope ranked in one query
        most = max(spec.top for spec in specs.values())
        df = portability.execute(self.tables.con, portability.top_per_group(
            ibis.union(*rows), ["_scope", "_list", "_id"], most))
        lists = pd.DataFrame({"scope": df["_scope"].astype(str), "id": df["_id"].astype(str),
                              "list": df["_list"].astype(str), "rank": df["rank"].astype("int64"),
                              "key": df["key"].astype(str), "value": df["value"].astype("float64"),
                              "n": df["n"].astype("int64")})
        scope_rank = {"agent": 0, "team": 1, "org": 2}
        lists["_s"] = lists["scope"].map(scope_rank)
        order = {lid: i for i, lid in enumerate(self.plan.ruleset.lists)}
        lists["_l"] = lists["list"].map(order)
        lists = lists.sort_values(["_s", "id", "_l", "rank"], kind="stable")
        return lists.drop(columns=["_s", "_l"]).reset_index(drop=True)

    def _list_rows(self, grouped: ibis.Table, scope: str, lid: str, by: str) -> ibis.Table:
        """The rows list *lid* ranks at *scope* (those with a value and enough records), in the
        columns :func:`portability.top_per_group` reads."""
        spec = self.plan.ruleset.lists[lid]
        cm = self.plan.metrics[spec.metric]
        mid = cm.id
        if cm.agg == "ratio":
            den = grouped[f"{mid}__den"].cast("float64")
            value = grouped[f"{mid}__num"].cast("float64") / den.nullif(0)
        else:
            value = grouped[f"{mid}__v"].cast("float64")
        counted = grouped.mutate(_value=value)
        counted = counted.filter(counted._value.notnull() & (counted[f"{mid}__n"] >= max(spec.min_n, 1)))
        scope_key = SCOPE_KEY[scope]
        return counted.select(
            _scope=ibis.literal(scope), _list=ibis.literal(lid),
            _id=counted[scope_key].cast("string") if scope_key else ibis.literal("org"),
            key=counted[f"_dim_{by}"].cast("string"), value=counted._value.cast("float64"),
            n=counted[f"{mid}__n"].cast("int64"), _top=ibis.literal(spec.top, type="int64"),
            _sign=ibis.literal(-1.0 if spec.order == "desc" else 1.0, type="float64"))

    def undefined(self) -> dict[str, str]:
        """Metric id -> why the workspace's data leaves it undefined everywhere (a table or a
        column it reads is absent)."""
        gaps = undefined_metrics(self.plan, self.tables.tables, self.tables.absent)
        return {mid: gap.note(self.ws.config.data) for mid, gap in gaps.items()}

    def undefined_note(self, mid: str) -> str | None:
        """Why metric *mid* is undefined everywhere; None when the data can define it."""
        return self.undefined().get(mid)

    def absent_dimension(self, table: str, dimension: str) -> bool:
        """Whether *dimension* of *table* reads a column absent from the data."""
        reads = self.plan.dimension_columns.get(table, {}).get(dimension, ())
        return bool(absent_reads(reads, self.tables.absent))

    def _present(self, name: str) -> bool:
        return name == "roster_days" or name in self.tables.tables

    def _missing_note(self, missing: list[str]) -> str:
        return missing_tables_note(missing, self.ws.config.data)

    def _finish_table_metrics(self, df: pd.DataFrame, metrics: list[CompiledMetric]) -> pd.DataFrame:
        # (columns gathered as numpy arrays and made into a frame once: pandas' per-column
        # overhead costs more than the values on the few rows of a scope)
        cols: dict[str, object] = {name: df[name] for name in df.columns}

        def floats(name: str) -> np.ndarray:
            return cols.pop(name).to_numpy(dtype=np.float64, na_value=np.nan)

        for cm in metrics:
            if cm.agg == "ratio":
                num, den = floats(f"{cm.id}__num"), floats(f"{cm.id}__den")
                with np.errstate(divide="ignore", invalid="ignore"):
                    cols[cm.id] = np.where(den > 0, num / np.where(den != 0, den, np.nan), np.nan)
                if cm.spec.is_rate:
                    cols[f"{cm.id}__low"], cols[f"{cm.id}__high"] = wilson_interval(num, den)
            else:
                cols[cm.id] = floats(f"{cm.id}__v")
            cols[f"{cm.id}__n"] = cols[f"{cm.id}__n"].to_numpy(dtype=np.int64)
        return pd.DataFrame(cols, index=df.index)

    # ---------------------------------------------------------------- assembly
    def _scope_ids(self, scope: str) -> pd.DataFrame:
        if scope == "agent":
            return pd.DataFrame({"id": self.roster["agent_id"].astype(str)})
        if scope == "team":
            return pd.DataFrame({"id": sorted(self.roster["team"].dropna().astype(str).unique())})
        return pd.DataFrame({"id": ["org"]})

    def _assemble(self, results, table_metrics) -> dict[tuple[str, str | None], Frame]:
        frames: dict[tuple[str, str | None], Frame] = {}
        all_breakdowns = {b for cm in self.plan.metrics.values() for b in cm.breakdowns}
        for scope in ("agent", "team", "org"):
            for breakdown in (None,) + tuple(sorted(all_breakdowns)):
                parts = results.get((scope, breakdown), [])
                if breakdown is None:
                    data = self._scope_ids(scope)
                    for part in parts:
                        data = data.merge(part, on="id", how="left")
                    # Count-like metrics are 0, not undefined, for a scope without records.
                    for cms in table_metrics.values():
                        for cm in cms:
                            if cm.id in data and cm.agg in ZERO_WHEN_EMPTY:
                                data[cm.id] = data[cm.id].fillna(0.0)
                            if f"{cm.id}__n" in data:
                                data[f"{cm.id}__n"] = data[f"{cm.id}__n"].fillna(0).astype("int64")
                else:
                    data = None
                    for part in parts:
                        data = part if data is None else data.merge(part, on=["id", "breakdown"], how="outer")
                    if data is None:
                        data = pd.DataFrame({"id": pd.Series(dtype=str), "breakdown": pd.Series(dtype=str)})
                    data["breakdown"] = data["breakdown"].astype(str)
                    data = data.sort_values(["id", "breakdown"], kind="stable").reset_index(drop=True)
                    for col in [c for c in data.columns if c.endswith("__n")]:
                        data[col] = data[col].fillna(0).astype("int64")
                data["id"] = data["id"].astype(str)
                frames[(scope, breakdown)] = Frame(scope, breakdown, data)
        return frames

    # ---------------------------------------------------------------- formulas
    def _formulas(self, frames) -> None:
        """Every formula metric on every frame it applies to, in rounds: a round's formulas read
        only metrics of earlier rounds, and are computed on every frame at once in one query."""
        for round_ in _formula_rounds(self._defined_formulas()):
            self._formula_round([(key, cm) for key in frames for cm in round_
                                 if _applies(cm, key) and not _summed(cm, key[0])], frames)
            for (scope, breakdown), frame in frames.items():
                for cm in round_:
                    if _applies(cm, (scope, breakdown)) and _summed(cm, scope) and breakdown is None:
                        data = frame.data.copy()
                        data[cm.id] = self._summed_over_agents(cm, scope, frames, data)
                        self._formula_n(cm, data)
                        frame.data = data

    def _defined_formulas(self) -> list[CompiledMetric]:
        """The formula metrics in plan order; one that reads an undefined metric is undefined too."""
        formulas = []
        for cm in self.plan.metrics.values():
            if cm.agg != "formula" or cm.id in self.notes:
                continue
            missing_deps = [d for d in cm.deps if d in self.notes]
            if missing_deps:
                self.notes[cm.id] = self.notes[missing_deps[0]]
            else:
                formulas.append(cm)
        return formulas

    def _summed_over_agents(self, cm: CompiledMetric, scope: str, frames, data: pd.DataFrame):
        """A formula with ``rollup: sum`` at team or org scope: the sum of its agents' values."""
        agent = frames[("agent", None)].data[["id", cm.id]].merge(
            self.roster[["agent_id", "team"]].rename(columns={"agent_id": "id"}), on="id")
        if scope == "team":
            return data["id"].map(agent.groupby("team")[cm.id].sum(min_count=1)).astype("float64")
        return agent[cm.id].sum(min_count=1)

    @staticmethod
    def _formula_n(cm: CompiledMetric, data: pd.DataFrame) -> None:
        if cm.spec.n is not None and f"{cm.spec.n}__n" in data:
            data[f"{cm.id}__n"] = data[f"{cm.spec.n}__n"]

    def _formula_round(self, applications: list[tuple[tuple, CompiledMetric]], frames) -> None:
        """Compute each (frame key, formula) of *applications* whose inputs the frame has, all in one
        query over the frames' rows stacked, and add the values to the frames."""
        by_frame: dict[tuple, list[CompiledMetric]] = {}
        for key, cm in applications:
            if all(d in frames[key].data for d in cm.deps):
                by_frame.setdefault(key, []).append(cm)
        stacked = [(key, cms) for key, cms in by_frame.items() if len(frames[key].data)]
        values = self._formula_values(stacked, frames) if stacked else {}
        for key, cms in by_frame.items():
            data = frames[key].data
            new: dict[str, pd.Series] = {}
            for cm in cms:
                new[cm.id] = values.get((key, cm.id), pd.Series(np.nan, index=data.index, dtype="float64"))
                if cm.spec.n is not None and f"{cm.spec.n}__n" in data:
                    new[f"{cm.id}__n"] = data[f"{cm.spec.n}__n"]
            frames[key].data = pd.concat([data.drop(columns=[c for c in new if c in data]),
                                          pd.DataFrame(new, index=data.index)], axis=1)

    def _formula_values(self, stacked: list[tuple[tuple, list[CompiledMetric]]], frames) -> dict:
        """{(frame key, formula id): values}: every formula of *stacked* on its frames' rows."""
        formulas = list({cm.id: cm for _, cms in stacked for cm in cms}.values())
        deps = sorted({d for cm in formulas for d in cm.deps})
        parts = []
        for f, (key, _cms) in enumerate(stacked):
            data = frames[key].data
            cols = {d: data[d].astype("float64") if d in data else np.nan for d in deps}
            parts.append(pd.DataFrame({"_frame": f, "_pos": np.arange(len(data)), **cols}, index=data.index))
        rows = pd.concat(parts, ignore_index=True)
        for name in FORMULA_CONSTANTS:
            if any(name in cm.formula.names for cm in formulas):
                rows[name] = self.constants[name]
        mem = ibis.memtable(rows)
        exprs = {f"_v{i}": cm.formula.to_column(mem, self.ctx).cast("float64") for i, cm in enumerate(formulas)}
        out = self.tables.con.execute(mem.select("_frame", "_pos", **exprs).order_by(["_frame", "_pos"]))
        values = {}
        for f, (key, cms) in enumerate(stacked):
            mine = out[out["_frame"].to_numpy() == f]
            index = frames[key].data.index
            for i, cm in enumerate(formulas):
                if cm in cms:
                    values[(key, cm.id)] = pd.Series(mine[f"_v{i}"].to_numpy(dtype="float64"), index=index)
        return values

    # ------------------------------------------------------------ standardised
    def _standardized(self, frames) -> None:
        for cm in self.plan.metrics.values():
            if cm.agg != "standardized" or cm.id in self.notes:
                continue
            base, by, mix = cm.spec.metric, cm.spec.by, cm.spec.mix
            if base in self.notes:
                self.notes[cm.id] = self.notes[base]
                continue
            weights = None
            if cm.weights is not None:
                weights = cm.weights.evaluate({}, self.plan.params)
            elif isinstance(cm.spec.weights, dict):
                weights = cm.spec.weights
            if weights is None:
                org = frames[("org", by)].data
                col = mix
                total = org[col].sum()
                weights = {} if not total else dict(zip(org["breakdown"], org[col] / total))
            if not isinstance(weights, dict):
                raise MeritError(f"metric '{cm.id}': weights must be a mapping of {by} → weight, got {weights!r}")
            wseries = pd.Series({str(k): float(v) for k, v in weights.items()}, dtype="float64")
            for scope in cm.scopes:
                parts = frames[(scope, by)].data
                target = frames[(scope, None)].data
                if parts.empty or base not in parts:
                    target[cm.id] = np.nan
                    target[f"{cm.id}__n"] = 0
                    continue
                df = parts[["id", "breakdown", base, f"{base}__n"]].copy()
                df["w"] = df["breakdown"].map(wseries)
                df = df[df[base].notna() & df["w"].notna() & (df[f"{base}__n"] > 0)]
                df["wv"] = df["w"] * df[base]
                sums = df.groupby("id")[["wv", "w", f"{base}__n"]].sum()
                value = sums["wv"] / sums["w"].where(sums["w"] > 0)
                target[cm.id] = target["id"].map(value).astype("float64")
                target[f"{cm.id}__n"] = target["id"].map(sums[f"{base}__n"]).fillna(0).astype("int64")
                frames[(scope, None)].data = target.copy()


def rows_in_period(table: ibis.Table, column: str, ws: Workspace) -> int:
    """How many records of *table* have *column* (a timestamp, a date or a 'YYYY-MM' month) in
    the cycle's period, as a cohort counts them (merit.core.cohorts.CohortBuilder.cohort)."""
    col = table[column]
    period = ws.config.period
    if col.type().is_timestamp():
        start_utc, end_utc = period_bounds_utc(ws)
        inside = (col >= start_utc) & (col < end_utc)
    elif col.type().is_string():
        inside = col.between(period.start.strftime("%Y-%m"), period.end.strftime("%Y-%m"))
    else:
        inside = col.between(period.start, period.end)
    return int(table.filter(inside).count().execute())


def evaluate(plan: Plan, tables, ws: Workspace, progress=None) -> Evaluation:
    return Evaluator(plan, tables, ws, progress).run()


def _applies(cm: CompiledMetric, key: tuple) -> bool:
    scope, breakdown = key
    return scope in cm.scopes and (breakdown is None or breakdown in cm.breakdowns)


def _summed(cm: CompiledMetric, scope: str) -> bool:
    """A formula with ``rollup: sum`` above agent scope: the sum of its agents' values."""
    return cm.spec.rollup == "sum" and scope != "agent"


def _formula_rounds(formulas: list[CompiledMetric]) -> list[list[CompiledMetric]]:
    """*formulas* (in plan order: dependencies first) in rounds: each formula one round after the
    latest formula it reads."""
    round_of: dict[str, int] = {}
    for cm in formulas:
        round_of[cm.id] = 1 + max((round_of[d] for d in cm.deps if d in round_of), default=-1)
    return [[cm for cm in formulas if round_of[cm.id] == r] for r in range(max(round_of.values(), default=-1) + 1)]
