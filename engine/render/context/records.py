"""Record-level queries for the scorecards: excluded records, credited records, top-N lists.

One Ibis query per table for all agents or teams at once; loops here run over
agents, tables and metrics, never over records.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd

from merit.core.errors import ExpressionError
from merit.core.evaluate import Evaluation, Evaluator
from merit.core.ruleset_words import exclusion_reason, words
from merit.i18n import DEFAULT_LANGUAGE, gettext_for
from merit.render.context.formatting import fmt_count, fmt_points, fmt_value, plain

MAX_LISTED = 300  # records listed per section before "and N more"


def key_column(plan, tname: str, table: ibis.Table) -> str:
    cfg = plan.tables.get(tname)
    if cfg is not None and cfg.key and cfg.key in table.columns:
        return cfg.key
    return "_row"


def exclusions(evaluator: Evaluator, evaluation: Evaluation, agent_ids: list[str],
               language: str | None = DEFAULT_LANGUAGE) -> dict:
    """{agent_id: [{kpi, label, reason, ids, ...}]}: per scored KPI that is a ratio with a
    ``denominator`` filter, the records that pass ``where`` but fail the
    denominator (for bad_rate_service: the product-caused bad reviews), and why in the
    ruleset's words (*language*).  One query per source table, for all agents."""
    plan = evaluation.plan
    by_table: dict[str, list] = {}
    for kid, kpi in plan.ruleset.scoring.kpis.items():
        cm = plan.metrics.get(kpi.metric or kid)
        if cm is None or cm.agg != "ratio" or cm.denominator is None or cm.id in evaluation.notes:
            continue
        if not all(evaluator._present(t) for t in cm.tables):
            continue
        by_table.setdefault(cm.table, []).append((kid, kpi, cm))
    out: dict[str, list] = {}
    for tname, items in by_table.items():
        cohort = evaluator.cohort(tname)
        key = key_column(plan, tname, cohort)
        ctx = evaluator.ctx
        flags = {}
        for i, (kid, kpi, cm) in enumerate(items):
            where = cm.where.to_column(cohort, ctx).fill_null(False) if cm.where is not None else ibis.literal(True)
            den = cm.denominator.to_column(cohort, ctx).fill_null(False)
            flags[f"_x{i}"] = where & ~den
        mine = cohort.filter(cohort._agent.isin(agent_ids))
        mine = mine.mutate(**{name: expr for name, expr in flags.items()})
        any_flag = None
        for name in flags:
            any_flag = mine[name] if any_flag is None else (any_flag | mine[name])
        df = (mine.filter(any_flag).select("_agent", "_row", _key=mine[key].cast("string"), **{n: mine[n] for n in flags})
              .order_by(["_agent", "_row"]).execute())
        for i, (kid, kpi, cm) in enumerate(items):
            hit = df[df[f"_x{i}"].astype(bool)]
            groups = hit.groupby("_agent", sort=False)["_key"].agg(list)
            for agent, ids in groups.items():
                out.setdefault(str(agent), []).append({
                    "kpi": kid,
                    "label": words(kpi.label, language) or words(cm.spec.label, language) or kid,
                    "reason": exclusion_reason(cm, language),
                    "metric": cm.id,
                    "table": tname,
                    "key": key if key != "_row" else "record",
                    "where": cm.spec.where or "",
                    "denominator": cm.spec.denominator,
                    "count": len(ids),
                    "ids": ids[:MAX_LISTED],
                    "more": max(0, len(ids) - MAX_LISTED),
                })
    return out


@dataclass
class Credits:
    """The agent scorecard's credit sections (from the ruleset's ``scorecard.credits``)."""

    sections: list[dict] = field(default_factory=list)  # the sections present in the workspace
    by_agent: dict[str, dict] = field(default_factory=dict)  # agent_id -> {table: {rows, more, totals}}
    # table -> the index of its column holding the panel's final grade (None: not shown), for
    # the sections that declare one
    calibration: dict[str, int | None] = field(default_factory=dict)


def credits(evaluator: Evaluator, evaluation: Evaluation, agent_ids: list[str],
            language: str | None = DEFAULT_LANGUAGE) -> Credits:
    """Records of the ruleset's credit tables (knowledge, requirements, ...) per agent, with the
    ruleset's titles and headers in *language*."""
    _ = gettext_for(language)
    plan = evaluation.plan
    found = Credits()
    for tname, spec in plan.ruleset.scorecard.credits.items():
        cfg = plan.tables.get(tname)
        if tname not in evaluator.tables.tables or cfg is None or cfg.agent is None:
            continue
        t = evaluator.cohort(tname)
        if "_people" not in t.columns:
            t = t.mutate(_people=(1.0 / t._credit).round().cast("int64"))
        t = t.filter(t._agent.isin(agent_ids))
        shown = [c for c in spec.columns if c.column in t.columns]
        point_cols, point_metrics = _point_columns(evaluator, evaluation, tname, t)
        key = cfg.key if cfg.key and cfg.key in t.columns else "_row"
        cols = {"_agent": t._agent, "_key": t[key].cast("string"), "_credit": t._credit, "_people": t._people}
        cols.update({c.column: t[c.column] for c in shown})
        cols.update(point_cols)
        df = t.select(**cols).order_by(["_agent", "_key"]).execute()
        others = df["_people"].fillna(1).astype(int) - 1
        df["_shared"] = [_("shared with %(n)s") % {"n": n} if n > 0 else _("own") for n in others]
        point_names = [f"_p_{cm.id}" for cm in point_metrics]
        found.sections.append({"table": tname, "title": words(spec.title, language),
                               "headers": [_("Id")] + [words(c.header, language) for c in shown] + [_("Credit")]
                               + [(words(cm.spec.label, language) or cm.id) for cm in point_metrics]})
        if any(c.calibration for c in spec.columns):
            at = [i for i, c in enumerate(shown) if c.calibration]
            found.calibration[tname] = 1 + at[0] if at else None
        for agent, part in df.groupby("_agent", sort=True):
            found.by_agent.setdefault(str(agent), {})[tname] = _agent_rows(part, shown, point_names, language)
    return found


def _point_columns(evaluator: Evaluator, evaluation: Evaluation, tname: str, t: ibis.Table):
    """Each record's points: the ruleset's own agent-scope sum/count metrics on this table in
    points or currency, credit-weighted, as columns ``_p_METRIC`` (and those metrics)."""
    plan = evaluation.plan
    point_cols, point_metrics = {}, []
    for cm in plan.metrics.values():
        if cm.table != tname or cm.agg not in ("sum", "count") or "agent" not in cm.scopes:
            continue
        if cm.id in evaluation.notes or cm.spec.unit not in ("points", "currency"):
            continue
        try:
            cond = cm.where.to_column(t, evaluator.ctx).fill_null(False) if cm.where is not None else None
            val = (cm.value.to_column(t, evaluator.ctx).cast("float64") if cm.value is not None
                   else ibis.literal(1.0)) * t._credit
        except ExpressionError:  # an expression this per-record listing cannot bind: leave its column out
            continue
        point_cols[f"_p_{cm.id}"] = val if cond is None else ibis.ifelse(cond, val, ibis.null("float64"))
        point_metrics.append(cm)
    return point_cols, point_metrics


def _agent_rows(part: pd.DataFrame, shown: list, point_names: list[str], language: str | None) -> dict:
    """One agent's records of a credit table (a handful) as cells, with their point totals."""
    rows = []
    for rec in part.to_dict("records"):
        cells = [plain(rec["_key"])]
        for c in shown:
            text = plain(rec[c.column])
            cells.append(text if text or not c.empty else words(c.empty, language))
        cells.append(rec["_shared"])
        cells += [fmt_points(rec.get(p), language) for p in point_names]
        rows.append(cells)
    totals = [fmt_points(part[p].sum(), language) for p in point_names]
    return {"rows": rows[:MAX_LISTED], "more": max(0, len(rows) - MAX_LISTED), "totals": totals}


def ruleset_lists(evaluation: Evaluation, scope: str, sid: str, language: str | None = DEFAULT_LANGUAGE) -> list[dict]:
    """The ruleset's top-N lists (``lists:``, e.g. customers with the most tickets) of one scope id."""
    lists = getattr(evaluation, "lists", None)
    specs = getattr(evaluation.plan.ruleset, "lists", {}) or {}
    if lists is None or not len(lists) or not specs:
        return []
    part = lists[(lists["scope"] == scope) & (lists["id"].astype(str) == sid)]
    out = []
    for lid, spec in specs.items():
        rows = part[part["list"] == lid].sort_values("rank", kind="stable")
        cm = evaluation.plan.metrics.get(spec.metric)
        unit = cm.spec.unit if cm else None
        out.append({
            "id": lid, "label": words(spec.label, language) or lid, "by": gettext_for(language)(spec.by),
            "metric": (words(cm.spec.label, language) if cm and cm.spec.label else spec.metric),
            "min_n": spec.min_n,
            "rows": [{"rank": int(r.rank), "key": plain(r.key), "value": fmt_value(r.value, unit, language),
                      "n": fmt_count(r.n, language)} for r in rows.itertuples()],
        })
    return out
