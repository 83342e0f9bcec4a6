"""`merit explain`: the records behind one agent's number.

For a metric computed from a table, every record of the agent in the cycle
that passes the metric's ``where`` is listed with the file line it came from
and how it counted (numerator, denominator, excluded, its value).  For a
formula, the numbers it was computed from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .errors import MeritError
from .evaluate import Evaluator
from .pipeline import prepare


@dataclass
class Explanation:
    title: str
    summary: list[str] = field(default_factory=list)
    records: pd.DataFrame | None = None


def explain_metric(workspace: Path | str, *, agent: str, metric: str, progress=None) -> Explanation:
    prep = prepare(workspace, progress=progress)
    plan = prep.plan
    if metric not in plan.metrics:
        raise MeritError(f"unknown metric '{metric}'", expected="one of " + ", ".join(plan.metrics))
    agents = prep.tables.tables["agents"]
    found = agents.filter(agents.agent_id == agent).select("agent_id", "name", "team", "level").execute()
    if found.empty:
        raise MeritError(f"unknown agent '{agent}'", file=prep.tables.sources["agents"].display,
                         expected="an agent_id of the agents table")
    person = found.iloc[0]
    cm = plan.metrics[metric]
    evaluator = Evaluator(plan, prep.tables, prep.ws, progress)
    label = cm.spec.label or metric
    title = f"{label} ({metric}) for {person['name']} ({agent}, team {person['team']}, {person['level']})"
    report = Explanation(title=title)
    if cm.spec.description:
        report.summary.append(" ".join(cm.spec.description.split()))

    if cm.table is None:
        evaluation = evaluator.run()
        frame = evaluation.frame("agent")
        row = frame[frame["id"] == agent]
        value = row[metric].iloc[0] if metric in row and len(row) else None
        report.summary.append(f"= {cm.spec.formula or 'standardised ' + str(cm.spec.metric)}")
        deps = list(cm.deps)
        records = pd.DataFrame({
            "metric": deps,
            "value": [row[d].iloc[0] if d in row and len(row) else None for d in deps],
            "n": [row[f"{d}__n"].iloc[0] if f"{d}__n" in row and len(row) else None for d in deps],
        })
        report.summary.append(f"value: {_fmt(value)}")
        report.records = records.astype(object).where(records.notna(), "")
        return report

    missing = [t for t in cm.tables if not evaluator._present(t)]
    if missing:
        report.summary.append(evaluator._missing_note(sorted(missing)))
        return report
    cohort = evaluator.cohort(cm.table)
    mine = cohort.filter(cohort._agent == agent)
    ctx = evaluator.ctx
    cfg = plan.tables.get(cm.table)
    columns: dict = {"line": mine._row}
    if cfg is not None and cfg.key and cfg.key in mine.columns:
        columns[cfg.key] = mine[cfg.key]
    shown = []
    for _, expr in cm.record_exprs():
        for name in sorted(expr.names):
            if name in mine.columns and name not in columns and name not in shown:
                shown.append(name)
    for name in shown:
        columns[name] = mine[name]

    def flag(expr):
        return expr.to_column(mine, ctx).fill_null(False)

    total_rows = int(mine.count().execute())
    if cm.where is not None:
        columns["_where"] = flag(cm.where)
    if cm.agg == "ratio":
        columns["numerator"] = flag(cm.numerator) if cm.numerator is not None else True
        columns["denominator"] = flag(cm.denominator) if cm.denominator is not None else True
        if cm.numerator_value is not None:
            columns["numerator_value"] = cm.numerator_value.to_column(mine, ctx)
    elif cm.value is not None:
        columns["value"] = cm.value.to_column(mine, ctx)
    df = mine.select(**columns).order_by("line").execute()
    if "_where" in df:
        df = df[df.pop("_where").astype(bool)].reset_index(drop=True)
        report.summary.append(f"{total_rows} record(s) of table {cm.table} for this agent in the cycle; "
                              f"{len(df)} pass the filter: {cm.where.text}")
    else:
        report.summary.append(f"{total_rows} record(s) of table {cm.table} for this agent in the cycle")
    report.summary.append(f"source: {prep.tables.sources[cm.table].display} (line = line in that file)")
    lines = prep.tables.line_of(cm.table, df["line"].to_numpy()) if len(df) else []
    df["line"] = list(lines)
    if cm.agg == "ratio":
        num = df["numerator"].astype(bool) & df["denominator"].astype(bool)
        den = df["denominator"].astype(bool)
        df["counted"] = "denominator only"
        df.loc[num, "counted"] = "numerator and denominator"
        df.loc[~den, "counted"] = "excluded from both"
        if cm.numerator is not None:
            report.summary.append(f"numerator: {cm.numerator.text}")
        if cm.denominator is not None:
            report.summary.append(f"denominator: {cm.denominator.text}")
        if cm.numerator_value is not None:
            numerator = pd.to_numeric(df.loc[num, "numerator_value"]).sum()
        else:
            numerator = int(num.sum())
        denominator = int(den.sum())
        value = numerator / denominator if denominator else None
        report.summary.append(f"value: {_fmt(numerator)} / {denominator} = {_fmt(value)}")
        excluded = int((~den).sum())
        if excluded:
            report.summary.append(f"{excluded} record(s) excluded from the denominator")
        df = df.drop(columns=[c for c in ("numerator", "denominator") if c in df])
    else:
        report.summary.append(f"aggregation: {cm.agg}" + (f" of {cm.value.text}" if cm.value else ""))
    report.records = df.astype(object).where(df.notna(), "")
    return report


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "undefined"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


__all__ = ["explain_metric", "Explanation", "MeritError"]
