"""One agent's scorecard context: the agent's own KPIs, other metrics, credited records,
exclusions and adjustments, and anonymous peer statistics only (see :mod:`.privacy`)."""

from __future__ import annotations

from merit.core.scoring import INSUFFICIENT, OK, UNDEFINED
from merit.render import charts
from merit.render.context.formatting import DASH, as_float, fmt_interval, fmt_points, fmt_value, is_number, plain
from merit.render.context.privacy import label_scopes, legend, median_heading, peer_note
from merit.render.context.records import Credits
from merit.render.context.wording import adjustment_lines, scoring_definition


def build(b, aid: str, excl: list, credited: Credits) -> dict:
    """The context of *aid*'s scorecard (*b*: the cycle's merit.render.context.ContextBuilder)."""
    i = b.pos[aid]
    row = b.table.iloc[i]
    team, level, rated = str(row["team"]), plain(row["level"]), bool(b.rated[i])
    arow = b.agent_rows.loc[aid] if aid in b.agent_rows.index else None
    kpis, chart_rows, scopes, counted = _kpi_rows(b, i, aid, team, level, rated, arow)
    others, other_scopes, other_counted = _other_rows(b, team, arow)
    kpi_heading = median_heading(scopes)
    distribution = b.peers.distribution(team, as_float(row["total"]) if rated else None)
    return {
        "kind": "agent",
        "cycle": b.cycle,
        "previous": b.prev_name,
        "agent": {"id": aid, "name": str(row["name"]), "team": team, "level": level},
        "score": _score(b, i, row, team, rated),
        "min_group": b.min_group,
        "score_previous": _previous_score(b, aid),
        "adjustments": adjustment_lines(aid, b.adjustments.get(aid, []), b.plan.ruleset.corrections,
                                        b.agent_columns, b.mask),
        "kpis": kpis,
        "kpi_median": {"heading": kpi_heading, "note": peer_note(scopes, counted, b.min_group)},
        "insufficient": any(k["insufficient"] or k["undefined"] for k in kpis),
        "others": others,
        "others_median": {"heading": median_heading(other_scopes),
                          "note": peer_note(other_scopes, other_counted, b.min_group)},
        "exclusions": [{**x, "ids": [b.mask(v, aid) for v in x["ids"]]} for x in excl],
        "exclusion_rules": b.ruleset_text(b.exclusion_rules(), aid),
        "credit_sections": _credit_sections(b, aid, credited),
        "distribution": {"scope": distribution["scope"], "agents": distribution["agents"]},
        "charts": {
            "kpis": str(charts.kpi_positions(chart_rows, median_label=legend(kpi_heading, scopes))),
            "distribution": distribution["chart"],
        },
        "definitions": b.ruleset_text(b.definitions["agent"], aid),
        "tables": b.tables_used,
        "scoring": scoring_definition(b.ev, level),
    }


def _kpi_rows(b, i: int, aid: str, team: str, level: str, rated: bool, arow):
    """The agent's scored KPIs: table rows, KPI chart rows, and where each median comes from."""
    kpis, chart_rows, scopes, counted = [], [], [], []
    for k in b.scores.kpis:
        mid, unit = k.metric, b.unit(k.metric)
        value, n, status = k.value[i], int(k.n[i]), str(k.status[i])
        low = arow.get(f"{mid}__low") if arow is not None else None
        high = arow.get(f"{mid}__high") if arow is not None else None
        median, scope, in_org = b.peers.median(team, mid)
        scopes.append(scope)
        counted.append(in_org)
        target = k.target[i]
        label = k.kpi.label or b.label(mid)
        kpis.append({
            "id": k.id, "metric": mid, "label": label,
            "value": fmt_value(value, unit),
            "interval": fmt_interval(low, high, unit),
            "target": fmt_value(target, unit),
            "points": fmt_points(k.points[i]) if status == OK else DASH,
            "weight": f"{k.kpi.weight:g}",
            "share": f"{k.weight_share[i] * 100:.1f} %" if status == OK and rated else "",
            "median": fmt_value(median, unit),
            "n": f"{n:,}",
            "min_n": k.kpi.min_n,
            "status": status,
            "insufficient": status == INSUFFICIENT,
            "undefined": status == UNDEFINED,
            "note": b.ev.notes.get(mid, ""),
            "direction": k.kpi.direction,
            "trend": b.trend(b.agent_trends(aid).get("kpis", {}).get(k.id), unit, k.kpi.direction),
        })
        chart_rows.append(_chart_row(k, level, label, unit, value, median, target))
    label_scopes(kpis, scopes, counted)
    return kpis, chart_rows, scopes, counted


def _chart_row(k, level: str, label: str, unit, value, median, target) -> dict:
    """One KPI on the positions chart: the ends of its curve (the agent's level's), the value,
    median and target."""
    curve = k.kpi.by_level.get(level, k.kpi.curve)
    xs = [p[0] for p in curve.points] if curve.points else [bd.min if bd.min is not None else bd.max
                                                             for bd in curve.bands or []]
    lo, hi = (min(xs), max(xs)) if xs else (None, None)
    if k.kpi.direction == "lower":
        lo, hi = hi, lo
    return {"label": label, "lo": lo, "hi": hi, "value": as_float(value), "median": as_float(median),
            "target": as_float(target), "lo_text": fmt_value(lo, unit), "hi_text": fmt_value(hi, unit)}


def _other_rows(b, team: str, arow):
    """The agent's metrics that are not scored KPIs, with their peer medians."""
    kpi_ids = {k.metric for k in b.scores.kpis}
    others, scopes, counted = [], [], []
    for mid, cm in b.ordered_metrics():
        if "agent" not in cm.scopes or mid in kpi_ids or arow is None or mid not in arow.index:
            continue
        unit = cm.spec.unit
        n = arow.get(f"{mid}__n")
        median, scope, in_org = b.peers.median(team, mid)
        scopes.append(scope)
        counted.append(in_org)
        others.append({
            "id": mid, "label": b.label(mid), "value": fmt_value(arow.get(mid), unit),
            "interval": fmt_interval(arow.get(f"{mid}__low"), arow.get(f"{mid}__high"), unit),
            "median": fmt_value(median, unit),
            "n": f"{int(n):,}" if is_number(n) else "",
            "note": b.ev.notes.get(mid, ""),
        })
    label_scopes(others, scopes, counted)
    return others, scopes, counted


def _credit_sections(b, aid: str, credited: Credits) -> list[dict]:
    """The agent's credited records, masked (titles are written by people); an item under the
    panel's calibration discussion is marked † in its final-grade column and listed."""
    sections = []
    for sec in credited.sections:
        data = credited.by_agent.get(aid, {}).get(sec["table"], {"rows": [], "more": 0, "totals": []})
        calibrated = sec["table"] in credited.calibration
        at = credited.calibration.get(sec["table"])
        flagged, rows = [], []
        for r in data["rows"]:  # the agent's own records (at most MAX_LISTED)
            r = list(r)
            if calibrated and r[0] in b.flagged:
                flagged.append({"id": b.mask(r[0], aid), "grade": b.flagged[r[0]]})
                if at is not None:
                    r[at] = f"{r[at]} †"
            rows.append([b.mask(c, aid) for c in r])
        sections.append({**sec, **data, "rows": rows, "flagged": flagged})
    return sections


def _score(b, i: int, row, team: str, rated: bool) -> dict:
    weight = row.get("scored_weight")
    if not is_number(weight):  # before merit.core.scoring said it: the weight of the KPIs with enough data
        every = sum(k.kpi.weight for k in b.scores.kpis)
        weight = sum(k.kpi.weight for k in b.scores.kpis if str(k.status[i]) == OK) / every if every else 0.0
    return {
        "rated": rated,
        "total": fmt_points(row["total"]) if rated else DASH,
        "grade": (str(row["grade"] or "") or DASH) if rated else DASH,
        "scored_weight": f"{float(weight) * 100:.1f} %",
        "min_scored_weight": f"{b.min_scored_weight * 100:g} %",
        "team": b.peers.totals_tile(b.peers.team_totals_of(team), row["team_rank"], rated),
        "org": b.peers.totals_tile(b.peers.org_totals, row["rank"], rated),
    }


def _previous_score(b, aid: str) -> dict | None:
    if not b.trends:
        return None
    tr = b.agent_trends(aid)
    return {"total": fmt_points((tr.get("total") or {}).get("previous")),
            "grade": (tr.get("grade") or {}).get("previous") or DASH,
            "delta": b.trend(tr.get("total"), None, "higher", points=True)}
