"""`merit explain`: the records behind one agent's number.

For a metric computed from a table, every record of the agent in the cycle
that passes the metric's ``where`` is listed with the file line it came from
and how it counted (numerator, denominator, excluded, its value).  For a
formula, the numbers it was computed from.

Timestamps are shown in the cycle's time zone, with the zone in the column
header (the typed tables hold UTC instants); a value an adjustment changed is
marked with the adjustment's id and the value it replaced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from merit.core.compile import CompiledMetric
from merit.core.errors import MeritError
from merit.core.evaluate import Evaluator
from merit.core.suggest import did_you_mean
from merit.cycles.adjustments import KEYS, Adjustment
from merit.cycles.run import prepare_cycle


@dataclass
class Explanation:
    title: str
    summary: list[str] = field(default_factory=list)
    records: pd.DataFrame | None = None


def explain_metric(workspace: Path | str, *, agent: str, metric: str, progress=None,
                   backend: str | None = None) -> Explanation:
    prep = prepare_cycle(workspace, progress=progress, backend=backend)
    plan = prep.plan
    if metric not in plan.metrics:
        raise MeritError(f"unknown metric '{metric}'" + did_you_mean(metric, plan.metrics),
                         expected="one of " + ", ".join(plan.metrics))
    agents = prep.tables.tables["agents"]
    found = agents.filter(agents.agent_id == agent).select("agent_id", "name", "team", "level").execute()
    if found.empty:
        same_but_case = agents.filter(agents.agent_id.lower() == agent.lower()).select("agent_id").limit(3)
        raise MeritError(f"unknown agent '{agent}'" + did_you_mean(agent, same_but_case.execute()["agent_id"]),
                         file=prep.tables.sources["agents"].display,
                         expected="an agent_id of the agents table")
    person = found.iloc[0]
    cm = plan.metrics[metric]
    evaluator = Evaluator(plan, prep.tables, prep.ws, progress)
    label = cm.spec.label or metric
    level = f", {person['level']}" if _text(person["level"]) else ""
    title = f"{label} ({metric}) for {person['name']} ({agent}, team {person['team']}{level})"
    report = Explanation(title=title)
    if cm.spec.description:
        report.summary.append(" ".join(cm.spec.description.split()))
    note = evaluator.undefined_note(cm.id)
    if note is not None:
        report.summary.append(note)
        return report
    if cm.table is None:
        _explain_from_metrics(report, cm, evaluator, agent)
        return report
    _explain_records(report, prep, cm, evaluator, agent)
    return report


def _explain_from_metrics(report: Explanation, cm: CompiledMetric, evaluator: Evaluator, agent: str) -> None:
    """A formula or a standardised metric: the values of the metrics it is computed from."""
    evaluation = evaluator.run()
    frame = evaluation.frame("agent")
    row = frame[frame["id"] == agent]
    value = row[cm.id].iloc[0] if cm.id in row and len(row) else None
    report.summary.append(f"= {cm.spec.formula or 'standardised ' + str(cm.spec.metric)}")
    deps = list(cm.deps)
    records = pd.DataFrame({
        "metric": deps,
        "value": [row[d].iloc[0] if d in row and len(row) else None for d in deps],
        "n": [row[f"{d}__n"].iloc[0] if f"{d}__n" in row and len(row) else None for d in deps],
    })
    report.summary.append(f"value: {_fmt(value)}")
    report.records = records.astype(object).where(records.notna(), "")


def _explain_records(report: Explanation, prep, cm: CompiledMetric, evaluator: Evaluator, agent: str) -> None:
    """A metric of a table: the agent's records of the cycle, how each counted, adjustments marked."""
    cohort = evaluator.cohort(cm.table)
    mine = cohort.filter(cohort._agent == agent)
    adjusted = [ap.adjustment for ap in prep.adjustments if ap.records]
    own = [a for a in adjusted if a.table == cm.table]
    columns, read = _shown_columns(cm, mine, prep.plan.tables.get(cm.table), own)
    ctx = evaluator.ctx

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
    selected = mine.select(**columns)
    types = {name: dtype for name, dtype in selected.schema().items()}
    # by line, then by every column shown: a built-in table (roster_days) has no lines
    df = selected.order_by(list(columns)).execute()
    if "_where" in df:
        df = df[df.pop("_where").astype(bool)].reset_index(drop=True)
        report.summary.append(f"{total_rows} record(s) of table {cm.table} for this agent in the cycle; "
                              f"{len(df)} pass the filter: {cm.where.text}")
    else:
        report.summary.append(f"{total_rows} record(s) of table {cm.table} for this agent in the cycle")
    df = _with_source_lines(report, prep.tables, cm.table, df)
    df = _how_counted(report, cm, df)
    zone = prep.ws.config.timezone
    records = _as_text(df, types, zone)
    records = _mark_adjustments(records, own, [a for a in adjusted if a.table != cm.table], read)
    if any(dtype.is_timestamp() for dtype in types.values()):
        report.summary.append(f"times are local to {zone} (the cycle's time zone)")
    records.columns = [f"{c} ({zone})" if c in types and types[c].is_timestamp() else c for c in records.columns]
    report.records = records


def _shown_columns(cm: CompiledMetric, mine, cfg, own: list[Adjustment]) -> tuple[dict, set[str]]:
    """The columns listed for each record: its line and key, what the metric reads, and the keys and
    fields of this table's adjustments; and the names of those the metric reads (with line and key)."""
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
    read = set(columns)
    # The record keys and the adjusted fields of this table, so an adjusted record is
    # recognised and its changed value shown even where the metric does not read it.
    for name in [k for a in own for k in KEYS[a.table]] + sorted({a.field for a in own}):
        if name in mine.columns and name not in columns:
            columns[name] = mine[name]
    return columns, read


def _with_source_lines(report: Explanation, tables, table: str, df: pd.DataFrame) -> pd.DataFrame:
    """Record indexes turned into the lines of the table's file (a table merit builds has none)."""
    source = tables.sources.get(table)
    if source is not None and source.format == "table" and not getattr(source, "numbered", True):
        report.summary.append(f"source: {source.display}")  # (records named by their key alone)
        return df.drop(columns=["line"])
    if source is not None:
        what = "the record's number in the table's order" if source.format == "table" else "line in that file"
        report.summary.append(f"source: {source.display} (line = {what})")
        lines = tables.line_of(table, df["line"].to_numpy()) if len(df) else []
        df["line"] = list(lines)
        return df
    report.summary.append(f"source: {table}, built by merit from "
                          f"{tables.sources['agents'].display} and the period's calendar")
    return df.drop(columns=["line"])


def _how_counted(report: Explanation, cm: CompiledMetric, df: pd.DataFrame) -> pd.DataFrame:
    """A ratio's records marked as counted in the numerator, the denominator or neither, with the
    sums; another aggregation named."""
    if cm.agg != "ratio":
        report.summary.append(f"aggregation: {cm.agg}" + (f" of {cm.value.text}" if cm.value else ""))
        return df
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
    return df.drop(columns=[c for c in ("numerator", "denominator") if c in df])


def _as_text(df: pd.DataFrame, types: dict, zone: str) -> pd.DataFrame:
    """The records as the text a reader sees: timestamps in the cycle's time zone (the
    typed tables hold UTC instants), dates without a time, true/false as in the data
    files, '' for empty."""
    out = df.astype(object).where(df.notna(), "")
    for name in df.columns:
        dtype = types.get(name)
        if dtype is None:
            continue
        empty = df[name].isna()
        if dtype.is_timestamp():
            local = pd.to_datetime(df[name]).dt.tz_localize("UTC").dt.tz_convert(zone)
            out[name] = local.dt.strftime("%Y-%m-%d %H:%M:%S").where(~empty, "")
        elif dtype.is_date():
            out[name] = pd.to_datetime(df[name]).dt.strftime("%Y-%m-%d").where(~empty, "")
        elif dtype.is_boolean():
            out[name] = df[name].map({True: "true", False: "false"}).where(~empty, "")
    return out


def _mark_adjustments(records: pd.DataFrame, own: list[Adjustment], related: list[Adjustment],
                      read: set[str]) -> pd.DataFrame:
    """Mark each value an adjustment changed: "new (adjustment #3; was old)".  An adjusted
    field shown only to carry the mark is dropped when no listed record has it.
    Adjustments of another table that share the records' key (a panelist's grade of a
    knowledge item) are listed in an "adjusted" column.  (A loop over adjustments, a
    handful of human decisions, not over records.)"""
    out = records.copy()
    marked: set[str] = set()
    for a in own:
        hit = _matches(out, a.table, a.keys)
        if hit is not None and hit.any():
            now = out.loc[hit, a.field].astype(str)
            out.loc[hit, a.field] = now.where(now != "", "empty") + \
                f" (adjustment #{a.id}; was {a.before if a.before is not None else 'empty'})"
            marked.add(a.field)
    # Columns selected only to find and show adjustments: the fields nobody's value changed
    # here go, and so do the key columns when nothing was marked.
    helpers = {a.field for a in own} - marked
    if not marked:
        helpers |= {k for a in own for k in KEYS[a.table]}
    out = out.drop(columns=[c for c in out.columns if c in helpers - read])
    notes = pd.Series("", index=out.index, dtype=object)
    for a in related:
        key = KEYS[a.table][0]
        if key in out:
            hit = out[key].astype(str) == str(a.keys[0])
            notes[hit] = notes[hit].where(notes[hit] == "", notes[hit] + "; ") + f"#{a.id} {a.change_text()}"
    if (notes != "").any():
        out["adjusted"] = notes
    return out


def _matches(records: pd.DataFrame, table: str, keys: tuple) -> pd.Series | None:
    """Rows whose key columns hold *keys* (None when the records lack a key column)."""
    hit = pd.Series(True, index=records.index)
    for column, value in zip(KEYS[table], keys):
        if column not in records:
            return None
        hit &= records[column].astype(str) == str(value)
    return hit


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "undefined"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


__all__ = ["explain_metric", "Explanation", "MeritError"]


def _text(value) -> str:
    """A roster value as text; an empty cell (None, NaN) is ''."""
    return "" if value is None or value != value else str(value)
