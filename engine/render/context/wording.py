"""The ruleset in words: metric definitions, scoring rules, adjustments and exclusions
as the scorecards' appendix and sections print them."""

from __future__ import annotations

import json
import re

from merit.core.evaluate import Evaluation
from merit.render.context.formatting import fmt_value, plain

_PARAM = re.compile(r"params\.([A-Za-z_][A-Za-z0-9_]*)")


def metric_definition(mid: str, cm, params: dict | None = None) -> dict:
    """How one metric is computed, in the ruleset's own words (for the appendix)."""
    spec = cm.spec
    steps = []
    if spec.agg == "formula":
        steps.append(("formula", spec.formula))
        if spec.rollup == "sum":
            steps.append(("team and org", "the sum of their agents' values"))
    elif spec.agg == "standardized":
        steps.append(("standardised", f"{spec.metric} by {spec.by}"))
        steps.append(("weights", str(spec.weights) if spec.weights is not None else f"the org's mix of {spec.mix}"))
    else:
        steps.append(("records", f"{spec.table} in the cycle"))
        if spec.where:
            steps.append(("only", spec.where))
        if spec.agg == "ratio":
            steps.append(("numerator", spec.numerator_value or spec.numerator))
            den = spec.denominator_value or spec.denominator
            steps.append(("denominator", den if den else "every record above"))
        elif spec.agg == "quantile":
            steps.append(("value", f"P{spec.q * 100:g} of {spec.value}"))
        elif spec.agg == "count":
            steps.append(("value", "number of records"))
        else:
            steps.append(("value", f"{spec.agg} of {spec.value}"))
    used = []
    for _, text in steps:
        for name in _PARAM.findall(str(text)):
            if name not in used:
                used.append(name)
    shown = []
    for name in used:
        value = (params or {}).get(name)
        text = "null" if value is None else json.dumps(value, ensure_ascii=False)
        shown.append(f"{name} = {text if len(text) <= 160 else text[:157] + '...'}")
    return {
        "params": shown,
        "id": mid,
        "label": spec.label or mid,
        "unit": spec.unit,
        "description": " ".join((spec.description or "").split()),
        "steps": [{"name": a, "text": " ".join(str(b).split())} for a, b in steps],
        "interval": bool(spec.is_rate),
    }


def curve_text(curve, unit: str | None) -> str:
    if curve.points is not None:
        pts = ", ".join(f"{fmt_value(v, unit)} → {p:g}" for v, p in curve.points)
        return f"linear between {pts} (clamped at the ends)"
    parts = []
    for b in curve.bands or []:
        bound = f"≥ {fmt_value(b.min, unit)}" if b.min is not None else f"≤ {fmt_value(b.max, unit)}"
        parts.append(f"{bound}: {b.points:g}")
    return "bands " + "; ".join(parts)


def scoring_definition(evaluation: Evaluation, level: str | None = None) -> dict:
    """The scoring rules (for one level's curves when *level* is given)."""
    plan = evaluation.plan
    scoring = plan.ruleset.scoring
    total_weight = sum(k.weight for k in scoring.kpis.values()) or 1.0
    kpis = []
    for kid, kpi in scoring.kpis.items():
        mid = kpi.metric or kid
        cm = plan.metrics.get(mid)
        unit = cm.spec.unit if cm else None
        curves = [("", kpi.curve)] + [(lvl, c) for lvl, c in kpi.by_level.items()]
        if level is not None:
            curves = [("", kpi.by_level.get(level, kpi.curve))]
        kpis.append({
            "id": kid,
            "label": kpi.label or (cm.spec.label if cm else None) or kid,
            "metric": mid,
            "weight": f"{kpi.weight:g}",
            "weight_pct": f"{kpi.weight / total_weight * 100:.1f} %",
            "direction": "higher is better" if kpi.direction == "higher" else "lower is better",
            "min_n": kpi.min_n,
            "curves": [{"level": lvl, "text": curve_text(c, unit)} for lvl, c in curves],
        })
    grades = [{"grade": b.grade, "min": f"{b.min:g}"} for b in scoring.grades]
    forced = None
    if scoring.forced_distribution:
        forced = ", ".join(f"{g}: {s * 100:g} %" for g, s in scoring.forced_distribution.items())
    return {"kpis": kpis, "grades": grades, "forced": forced}


def adjustment_lines(aid: str, entries: list[dict], corrections: dict, agent_columns: dict[str, str | None],
                     mask=None) -> list[dict]:
    """One agent's adjustments (``Prepared.adjustments_by_agent[aid]``) for the scorecard.

    *corrections* is the ruleset's ``corrections:`` (how each table's records are named),
    *agent_columns* each table's column crediting records to agents (``tables:``).  The
    ready-made ``text`` is used only when it cannot name another person: not for a table
    whose records name one (``on_scorecard``: a grade names its panelist) and not for a
    change of the crediting column (a reassignment names the other agent).  Those are shown
    as record, field, before → after, reason and by, with another agent's id replaced by
    "another agent".  The reason and the recorder are free text: *mask* replaces any other
    agent's name or id in the line."""
    mask = mask or (lambda text, reader: text)
    out = []
    for a in entries:
        table, field, record = a.get("table"), a.get("field"), list(a.get("record") or [])
        spec = corrections.get(table)
        reassigns = field is not None and field == agent_columns.get(table)
        if spec is not None and spec.on_scorecard is None and not reassigns and a.get("text"):
            line = str(a["text"])
        else:
            def shown(v):
                if v is None:
                    return "empty"
                return str(v) if not reassigns or str(v) == aid else "another agent"
            what = spec.scorecard_text(tuple(record)) if spec is not None else f"{table} record"
            line = (f"{what}: {field} {shown(a.get('before'))} → {shown(a.get('after'))}, by {a.get('by')}, "
                    f"because {a.get('reason')}")
        out.append({"id": a.get("id"), "text": mask(line, aid), "by": mask(a.get("by"), aid),
                    "at": plain(a.get("at"))})
    return out


def exclusion_rules(plan) -> list[dict]:
    """The scored ratio KPIs with a ``denominator`` filter: what their denominators leave out."""
    rules = []
    for kid, kpi in plan.ruleset.scoring.kpis.items():
        cm = plan.metrics.get(kpi.metric or kid)
        if cm is not None and cm.agg == "ratio" and cm.denominator is not None:
            rules.append({"kpi": kid, "label": kpi.label or cm.spec.label or kid, "table": cm.table,
                          "where": cm.spec.where or "", "denominator": cm.spec.denominator})
    return rules
