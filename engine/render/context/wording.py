"""The ruleset in words, in the reader's language: metric definitions, scoring rules,
adjustments and exclusions as the scorecards' appendix and sections print them.

The ruleset's own words (labels, descriptions, the reasons its filters leave records out) come
in the reader's language from merit.core.ruleset_words; merit's words around them come from the
catalogue (merit.i18n).  Expressions are shown as written, in the appendix only: the "what was
excluded" section explains in words."""

from __future__ import annotations

import json
import re

from merit.core.evaluate import Evaluation
from merit.core.ruleset_words import exclusion_reason, words
from merit.i18n import DEFAULT_LANGUAGE, gettext_for
from merit.render.context.formatting import fmt_number, fmt_share, fmt_value, plain

_PARAM = re.compile(r"params\.([A-Za-z_][A-Za-z0-9_]*)")


def unit_name(unit: str | None, language: str | None = DEFAULT_LANGUAGE) -> str:
    """A metric's unit (a ruleset id: rate, hours …) in words."""
    _ = gettext_for(language)
    names = {"count": _("count"), "rate": _("rate"), "hours": _("hours"), "minutes": _("minutes"),
             "days": _("days"), "points": _("points"), "score": _("score"), "ratio": _("ratio"),
             "currency": _("currency"), "percent": _("percent"), "number": _("number")}
    return names.get(unit or "number", unit or "")


def _steps(spec, _) -> list[tuple[str, str]]:
    """How a metric is computed, step by step: (what, the ruleset's expression or words)."""
    steps = []
    if spec.agg == "formula":
        steps.append((_("formula"), spec.formula))
        if spec.rollup == "sum":
            steps.append((_("team and org"), _("the sum of their agents' values")))
    elif spec.agg == "standardized":
        steps.append((_("standardised"), _("%(metric)s by %(by)s") % {"metric": spec.metric, "by": spec.by}))
        steps.append((_("weights"), str(spec.weights) if spec.weights is not None
                       else _("the org's mix of %(mix)s") % {"mix": spec.mix}))
    else:
        steps.append((_("records"), _("%(table)s in the cycle") % {"table": spec.table}))
        if spec.where:
            steps.append((_("only"), spec.where))
        if spec.agg == "ratio":
            steps.append((_("numerator"), spec.numerator_value or spec.numerator))
            den = spec.denominator_value or spec.denominator
            steps.append((_("denominator"), den if den else _("every record above")))
        elif spec.agg == "quantile":
            steps.append((_("value"), _("P%(q)s of %(value)s") % {"q": f"{spec.q * 100:g}", "value": spec.value}))
        elif spec.agg == "count":
            steps.append((_("value"), _("number of records")))
        else:
            aggs = {"sum": _("sum"), "mean": _("mean"), "min": _("minimum"), "max": _("maximum"),
                    "count_distinct": _("number of distinct values")}
            steps.append((_("value"), _("%(agg)s of %(value)s") % {"agg": aggs.get(spec.agg, spec.agg),
                                                                   "value": spec.value}))
    return steps


def metric_definition(mid: str, cm, params: dict | None = None, language: str | None = DEFAULT_LANGUAGE) -> dict:
    """How one metric is computed, in the ruleset's own words (for the appendix)."""
    spec = cm.spec
    steps = _steps(spec, gettext_for(language))
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
        "label": words(spec.label, language) or mid,
        "unit": unit_name(spec.unit, language),
        "description": " ".join(words(spec.description, language).split()),
        "steps": [{"name": a, "text": " ".join(str(b).split())} for a, b in steps],
        "interval": bool(spec.is_rate),
    }


def curve_text(curve, unit: str | None, language: str | None = DEFAULT_LANGUAGE, currency: str | None = None) -> str:
    _ = gettext_for(language)
    if curve.points is not None:
        pts = ", ".join(f"{fmt_value(v, unit, language, currency)} → {fmt_number(p, language)}"
                        for v, p in curve.points)
        return _("linear between %(points)s (clamped at the ends)") % {"points": pts}
    parts = []
    for b in curve.bands or []:
        bound = (f"≥ {fmt_value(b.min, unit, language, currency)}" if b.min is not None
                 else f"≤ {fmt_value(b.max, unit, language, currency)}")
        parts.append(f"{bound}: {fmt_number(b.points, language)}")
    return _("bands %(bands)s") % {"bands": "; ".join(parts)}


def scoring_definition(evaluation: Evaluation, level: str | None = None, *, language: str | None = DEFAULT_LANGUAGE,
                       currency: str | None = None) -> dict:
    """The scoring rules (for one level's curves when *level* is given)."""
    _ = gettext_for(language)
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
            "label": words(kpi.label, language) or (words(cm.spec.label, language) if cm else "") or kid,
            "metric": mid,
            "weight": fmt_number(kpi.weight, language),
            "weight_pct": fmt_share(kpi.weight / total_weight, language),
            "direction": _("higher is better") if kpi.direction == "higher" else _("lower is better"),
            "min_n": kpi.min_n,
            "curves": [{"level": lvl, "text": curve_text(c, unit, language, currency)} for lvl, c in curves],
        })
    grades = [{"grade": b.grade, "min": fmt_number(b.min, language)} for b in scoring.grades]
    bands = ", ".join(_("%(grade)s from %(min)s") % g for g in grades)
    forced = None
    if scoring.forced_distribution:
        forced = ", ".join(f"{g}: {fmt_share(s, language, 0)}" for g, s in scoring.forced_distribution.items())
    return {"kpis": kpis, "grades": grades, "bands": bands, "forced": forced}


def adjustment_lines(aid: str, entries: list[dict], corrections: dict, agent_columns: dict[str, str | None],
                     mask=None, language: str | None = DEFAULT_LANGUAGE) -> list[dict]:
    """One agent's adjustments (``Prepared.adjustments_by_agent[aid]``) for the scorecard.

    *corrections* is the ruleset's ``corrections:`` (how each table's records are named),
    *agent_columns* each table's column crediting records to agents (``tables:``).  The
    ready-made ``text`` is used only when it cannot name another person: not for a table
    whose records name one (``on_scorecard``: a grade names its panelist) and not for a
    change of the crediting column (a reassignment names the other agent), and only in
    English (it is recorded in English).  Otherwise a line says record, field, before → after,
    reason and by, with another agent's id replaced by "another agent".  The reason and the
    recorder are free text: *mask* replaces any other agent's name or id in the line."""
    _ = gettext_for(language)
    mask = mask or (lambda text, reader: text)
    out = []
    for a in entries:
        table, field, record = a.get("table"), a.get("field"), list(a.get("record") or [])
        spec = corrections.get(table)
        reassigns = field is not None and field == agent_columns.get(table)
        if (spec is not None and spec.on_scorecard is None and not reassigns and a.get("text")
                and language == DEFAULT_LANGUAGE):
            line = str(a["text"])
        else:
            def shown(v):
                if v is None:
                    return _("empty")
                return str(v) if not reassigns or str(v) == aid else _("another agent")
            what = (spec.scorecard_text(tuple(record), language) if spec is not None
                    else _("%(table)s record") % {"table": table})
            line = _("%(what)s: %(field)s %(before)s → %(after)s, by %(by)s, because %(reason)s") % {
                "what": what, "field": field, "before": shown(a.get("before")), "after": shown(a.get("after")),
                "by": a.get("by"), "reason": a.get("reason")}
        out.append({"id": a.get("id"), "text": mask(line, aid), "by": mask(a.get("by"), aid),
                    "at": plain(a.get("at"))})
    return out


def exclusion_rules(plan, language: str | None = DEFAULT_LANGUAGE) -> list[dict]:
    """The scored ratio KPIs with a ``denominator`` filter: what their denominators leave out, and
    why in the ruleset's words (merit.core.ruleset_words.exclusion_reason), never an expression."""
    rules = []
    for kid, kpi in plan.ruleset.scoring.kpis.items():
        cm = plan.metrics.get(kpi.metric or kid)
        if cm is not None and cm.agg == "ratio" and cm.denominator is not None:
            rules.append({"kpi": kid, "label": words(kpi.label, language) or words(cm.spec.label, language) or kid,
                          "table": cm.table, "reason": exclusion_reason(cm, language)})
    return rules
