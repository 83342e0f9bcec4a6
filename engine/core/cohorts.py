"""Cohorts: which records of a table are in the cycle, and whose they are.

The period filter in the cycle's time zone, attribution to agents (with
credit split over list columns) and teams, the roster columns and derived
tables joined in, and the dimension columns of breakdowns.  Also the
built-in ``roster_days`` calendar and the derived tables themselves.  All of
it is Ibis expressions; nothing loops over records.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Callable

import ibis
import numpy as np
import pandas as pd

from merit.core.backends import portability
from merit.core.compile import Plan
from merit.core.errors import DataError, raise_collected
from merit.core.expressions import ColumnContext, Expr, KeyCheck
from merit.core.workspace import Workspace


def _typed(value: ibis.Value, dtype: str) -> ibis.Value:
    """An always-empty expression (``None``) as a typed column: a database stores no NULL-typed column."""
    return value.cast(dtype) if value.type().is_null() else value


def cycle_constants(ws: Workspace, start_utc: dt.datetime, end_utc: dt.datetime) -> dict[str, float]:
    """Facts of the cycle a formula may use (FORMULA_CONSTANTS)."""
    period = ws.config.period
    days = (period.end - period.start).days + 1
    weekdays = int(np.busday_count(period.start, period.end + dt.timedelta(days=1)))
    seconds = (end_utc - start_utc).total_seconds()  # real length: a DST change shortens or lengthens it
    return {"period_days": float(days), "period_weekdays": float(weekdays),
            "period_hours": seconds / 3600, "period_minutes": seconds / 60}



def period_bounds_utc(ws: Workspace) -> tuple[dt.datetime, dt.datetime]:
    """The period as [start, end) UTC instants (naive), from local midnights."""
    zone = ws.zone
    start = dt.datetime.combine(ws.config.period.start, dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(ws.config.period.end + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return (start.astimezone(dt.timezone.utc).replace(tzinfo=None),
            end.astimezone(dt.timezone.utc).replace(tzinfo=None))


def scored_roster(agents: ibis.Table, ws: Workspace) -> ibis.Table:
    """Agents employed on at least one day of the period."""
    start, end = ws.config.period.start, ws.config.period.end
    hired_ok = agents.hired_on.isnull() | (agents.hired_on <= end)
    left_ok = agents.left_on.isnull() | (agents.left_on >= start)
    return agents.filter(hired_ok & left_ok)


def roster_days(agents: ibis.Table, ws: Workspace) -> ibis.Table:
    """One row per agent and day of the period on which the agent was employed."""
    start, end = ws.config.period.start, ws.config.period.end
    days = pd.DataFrame({"date": pd.date_range(start, end, freq="D").date})
    calendar = ibis.memtable(days)
    joined = agents.cross_join(calendar)
    employed = (joined.hired_on.isnull() | (joined.hired_on <= joined.date)) & (
        joined.left_on.isnull() | (joined.left_on >= joined.date))
    # _row is the agent's record in agents: a problem with a day points at the agent's line
    return joined.filter(employed).select("agent_id", "date", "team", "level", "role", "hired_on", "left_on",
                                          "_row")


def check_lookup_keys(plan: Plan, tables, ws: Workspace) -> None:
    """The data check of strict lookups (see CohortBuilder.check_lookup_keys), for `merit check`."""
    CohortBuilder(plan, tables, ws).check_lookup_keys()


class CohortBuilder:
    """Builds the cohort of each table of a plan on loaded tables (see the module docstring)."""

    def __init__(self, plan: Plan, tables, ws: Workspace, progress: Callable[[str], None] | None = None):
        self.plan = plan
        self.tables = tables
        self.ws = ws
        self.progress = progress or (lambda step: None)
        self.start_utc, self.end_utc = period_bounds_utc(ws)
        agents = tables.tables["agents"]
        self.roster_table = scored_roster(agents, ws)
        self.roster = self.roster_table.select("agent_id", "name", "team", "level").order_by("agent_id").execute()
        self.sources = dict(tables.tables)
        self.sources["roster_days"] = roster_days(agents, ws)
        self.ctx = ColumnContext(params=plan.params, timezone=ws.config.timezone, tables=self.sources,
                                 period=(self.start_utc, self.end_utc), engine=tables.con.name)
        for dplan in plan.derived.values():
            if dplan.source in self.sources:
                self.sources[dplan.name] = self._derive(dplan)
        self.notes: dict[str, str] = {}
        self.cohort_sizes: dict[str, int] = {}
        self.aggregates: dict = {}  # table -> merit.core.aggregate.TableAggregates, once evaluated
        self.constants = cycle_constants(ws, self.start_utc, self.end_utc)

    # ------------------------------------------------------------------ cohorts
    def cohort(self, tname: str) -> ibis.Table:
        """Rows of a table inside the period, with attribution columns
        ``_agent``, ``_team``, ``_credit`` and one ``_dim_<name>`` per dimension."""
        t = self.sources[tname]
        cfg = self.plan.tables.get(tname)
        if cfg is not None and cfg.period is not None:
            col = t[cfg.period]
            period = self.ws.config.period
            if col.type().is_timestamp():
                t = t.filter((col >= self.start_utc) & (col < self.end_utc))
            elif col.type().is_string():  # 'YYYY-MM' months: those that overlap the period
                t = t.filter(col.between(period.start.strftime("%Y-%m"), period.end.strftime("%Y-%m")))
            else:
                t = t.filter(col.between(period.start, period.end))
        mutations = {"_credit": ibis.literal(1.0)}
        if cfg is not None and cfg.agent is not None:
            agent_col = t[cfg.agent]
            if agent_col.type().is_array():
                # Credit split: a record with k listed agents gives each 1/k.
                t = t.mutate(_credit=1.0 / agent_col.length().cast("float64"), _agent=agent_col.unnest())
                mutations = {}
            else:
                mutations["_agent"] = agent_col
        t = t.mutate(**mutations) if mutations else t
        if cfg is not None and cfg.agent is not None:
            extra = {col: col for col in cfg.roster}
            roster = self.tables.tables["agents"].select(_agent_id="agent_id", _team="team", **extra)
            t = t.left_join(roster, t._agent == roster._agent_id).drop("_agent_id")
        elif cfg is not None and cfg.team is not None:
            t = t.mutate(_team=t[cfg.team])
        for dname, key in (cfg.join.items() if cfg is not None else ()):
            if dname in self.sources:
                other = self.sources[dname].rename({f"_join_{key}": key})
                t = t.left_join(other, t[key] == other[f"_join_{key}"]).drop(f"_join_{key}")
            else:  # its source table is absent: the joined columns are empty
                schema = self.plan.schemas[dname]
                t = t.mutate(**{c: ibis.null(schema[c]) for c in schema if c != key})
        dims = self.plan.dimensions.get(tname, {})
        if dims:
            t = t.mutate(**{f"_dim_{name}": _typed(expr.to_column(t, self.ctx), "string")
                            for name, expr in dims.items()})
        return t

    def _derive(self, dplan) -> ibis.Table:
        """A derived table: one row per group_by value of its source, every column an aggregate."""
        src = self.sources[dplan.source]
        ctx = self.ctx
        aggs = {}
        ranked: dict[str, ibis.Table] = {}
        for cname, (agg, value, where, order) in dplan.columns.items():
            cond = where.to_column(src, ctx).fill_null(False) if where is not None else None
            col = _typed(value.to_column(src, ctx), "float64") if value is not None else None
            if isinstance(col, ibis.expr.types.Scalar):  # a constant: one per row, to aggregate
                col = ibis.ifelse(src[dplan.group_by].isnull(), col, col)
            if order is not None:  # labels ranked by their position in `order`
                col = col.cases(*[(label, i) for i, label in enumerate(order)], else_=ibis.null("int64"))
            if agg == "count":
                aggs[cname] = src.count(where=cond) if cond is not None else src.count()
            elif agg in ("median_low", "median_high"):
                ranked[cname] = self._median(src, dplan.group_by, col, cond, agg == "median_low")
                continue
            else:
                method = {"sum": "sum", "mean": "mean", "min": "min", "max": "max",
                          "count_distinct": "nunique"}[agg]
                aggs[cname] = getattr(col, method)(where=cond)
        out = src.group_by(dplan.group_by).aggregate(**aggs) if aggs else src.select(dplan.group_by).distinct()
        for cname, med in ranked.items():
            med = med.rename({cname: "_v"})
            out = out.left_join(med, out[dplan.group_by] == med["_key"]).drop("_key")
        for cname, (agg, value, where, order) in dplan.columns.items():
            if order is not None:
                out = out.mutate(**{cname: out[cname].cases(*[(i, label) for i, label in enumerate(order)],
                                                            else_=ibis.null("string"))})
        return out

    @staticmethod
    def _median(src: ibis.Table, key: str, col: ibis.Value, cond, low: bool) -> ibis.Table:
        """The lower (or upper) middle value per group: with an even count the
        median is one of the two middle values, never their mean."""
        rows = src.mutate(_v=col)
        keep = rows._v.notnull() if cond is None else (rows._v.notnull() & cond)
        rows = rows.filter(keep).select(_key=rows[key], _v=rows._v)
        window = ibis.window(group_by=rows._key, order_by=rows._v)
        rows = rows.mutate(_i=ibis.row_number().over(window), _n=rows._v.count().over(ibis.window(group_by=rows._key)))
        middle = (rows._n - 1) // 2 if low else rows._n // 2
        picked = rows.filter(rows._i == middle).select("_key", _v="_v")
        return picked

    # ----------------------------------------------------------- strict lookups
    def check_lookup_keys(self, limit: int = 50) -> None:
        """Raise a data error for every key that a lookup without a default
        (``lookup(params.NAME, key)``, ``params.NAME[key]``) does not find in its parameter
        table, in the records the plan reads (a table's records in the cycle; a derived
        table's source).  An empty key is not an error.  One query per key expression; each
        bad value is reported once, with its count and first lines."""
        problems: list[DataError] = []
        distinct_values = 0
        seen: set[tuple] = set()
        for tname, records, exprs in self._strict_expressions():
            ctx = dataclasses.replace(self.ctx, key_checks=[])
            for expr in exprs:
                expr.to_column(records, ctx)  # collects the lookups, with their keys as columns of records
            checks = []
            for check in ctx.key_checks:
                ident = (tname, check.param, check.key_text)
                if not isinstance(check.key, ibis.Value) or ident in seen:  # constant keys: compile_ruleset
                    continue
                seen.add(ident)
                checks.append(check)
            for check in self._failing(records, checks):
                found, values = self._unknown_keys(tname, records, check, limit)
                problems += found
                distinct_values += values
        raise_collected(problems, limit=limit, total=distinct_values)

    def _failing(self, records: ibis.Table, checks: list[KeyCheck]) -> list[KeyCheck]:
        """The *checks* that some record of *records* fails: one query for all of them (the
        records' problems, rare, are then gathered check by check)."""
        if not checks:
            return []
        unknown = {f"_c{i}": (check.key.notnull() & ~check.key.isin(check.keys)).any()
                   for i, check in enumerate(checks)}
        found = portability.execute(self.tables.con, records.aggregate(**unknown))
        flags = [found[f"_c{i}"].iloc[0] for i in range(len(checks))]
        return [check for check, flag in zip(checks, flags) if not pd.isna(flag) and bool(flag)]  # (NULL: no records)

    def _strict_expressions(self):
        """(table, its records, the expressions over them that hold strict lookups)."""
        by_table: dict[str, list[Expr]] = {}
        for cm in self.plan.metrics.values():
            if cm.table is None or not all(t == "roster_days" or t in self.tables.tables for t in cm.tables):
                continue
            exprs = [e for _, e in cm.record_exprs()] + list(self.plan.dimensions.get(cm.table, {}).values())
            by_table.setdefault(cm.table, []).extend(e for e in exprs if e.strict_lookup)
        for tname, exprs in by_table.items():
            if exprs:
                yield tname, self.cohort(tname), list(dict.fromkeys(exprs))
        for dplan in self.plan.derived.values():
            exprs = [e for _, value, where, _ in dplan.columns.values() for e in (value, where)
                     if e is not None and e.strict_lookup]
            if exprs and dplan.source in self.sources:
                yield dplan.source, self.sources[dplan.source], exprs

    def _unknown_keys(self, tname: str, records: ibis.Table, check: KeyCheck, limit: int
                      ) -> tuple[list[DataError], int]:
        """The errors for *check*'s unknown keys in *records*, and how many distinct values."""
        rows = records._row if "_row" in records.columns else ibis.literal(None, "int64")
        flagged = records.select(_key=check.key, _line=rows)
        bad = flagged.filter(flagged._key.notnull() & ~flagged._key.isin(check.keys)).distinct()
        per_value = bad.group_by("_key").aggregate(_n=bad.count(), _first=bad._line.min(),
                                                   _lines=portability.smallest(bad._line, 3))
        per_value = per_value.mutate(_values=per_value._n.count().over(ibis.window()))
        found = per_value.order_by(["_first", "_key"]).limit(limit).execute()
        if found.empty:
            return [], 0
        source_table = "agents" if tname == "roster_days" else tname  # roster_days: an agent per day
        source = self.tables.sources.get(source_table)
        origin = check.expr.origin
        place = ", ".join(str(p) for p in (origin.file if origin else None,
                                           f"line {origin.line}" if origin and origin.line else None) if p)
        resource = origin.resource if origin and origin.resource else "the ruleset"
        used_by = f"{resource} ({place})" if place else resource
        errors = []
        for value, n, lines in zip(found["_key"], found["_n"], found["_lines"]):
            shown = sorted(int(r) for r in (lines if lines is not None else []) if r is not None and r == r)
            at = [a for a in self.tables.line_of(source_table, shown) if a is not None] \
                if source is not None and shown else []
            where = (f", line{'s' if len(at) > 1 else ''} {', '.join(map(str, at))}"
                     f"{' and more' if n > len(at) else ''}") if at else ""
            message = f"{check.key_text} '{value}' is not a key of params.{check.param}"
            message += f", which {used_by} looks up"
            message += (f": {int(n)} record{'' if n == 1 else 's'} of {source_table}{where}"
                        f"{check.did_you_mean(value)}")
            errors.append(DataError(message, file=source.display if source is not None else None,
                                    line=at[0] if at else None, field=check.key_text, expected=check.expected()))
        return errors, int(found["_values"].iloc[0])

    # ------------------------------------------------------------- aggregation
