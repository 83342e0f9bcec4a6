"""One agent's scorecard context: the agent's own KPIs, other metrics, credited records,
exclusions and adjustments, and anonymous peer statistics only (see :mod:`.privacy`)."""

from __future__ import annotations

from merit.core.scoring import INSUFFICIENT, OK, UNDEFINED
from merit.render import charts
from merit.render.context.formatting import DASH, as_float, fmt_count, fmt_share, is_number, plain
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
    kpi_heading = median_heading(scopes, b.language)
    distribution = b.peers.distribution(team, as_float(row["total"]) if rated else None)
    return {
        "kind": "agent",
        "language": b.language,
        "cycle": b.cycle,
        "previous": b.prev_name,
        "agent": {"id": aid, "name": str(row["name"]), "team": team, "level": level},
        "score": _score(b, i, row, team, rated),
        "min_group": b.min_group,
        "score_previous": _previous_score(b, aid),
        "adjustments": adjustment_lines(aid, b.adjustments.get(aid, []), b.plan.ruleset.corrections,
                                        b.agent_columns, b.mask, b.language),
        "kpis": kpis,
        "kpi_median": {"heading": kpi_heading, "note": peer_note(scopes, counted, b.min_group, b.language)},
        "insufficient": any(k["insufficient"] or k["undefined"] for k in kpis),
        "others": others,
        "others_median": {"heading": median_heading(other_scopes, b.language),
                          "note": peer_note(other_scopes, other_counted, b.min_group, b.language)},
        "exclusions": [{**x, "ids": [b.mask(v, aid) for v in x["ids"]]} for x in excl],
        "exclusion_rules": b.ruleset_text(b.exclusion_rules(), aid),
        "credit_sections": _credit_sections(b, aid, credited),
        "distribution": {"scope": distribution["scope"], "agents": distribution["agents"]},
        "charts": {
            "kpis": str(charts.kpi_positions(chart_rows, median_label=legend(scopes, b.language),
                                             language=b.language)),
            "distribution": distribution["chart"],
        },
        "definitions": b.ruleset_text(b.definitions["agent"], aid),
        "tables": b.tables_used,
        "scoring": scoring_definition(b.ev, level, language=b.language, currency=b.currency),
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
        label = b.kpi_label(k)
        kpis.append({
            "id": k.id, "metric": mid, "label": label,
            "value": b.value(value, unit),
            "interval": b.interval(low, high, unit),
            "target": b.value(target, unit),
            "points": b.points(k.points[i]) if status == OK else DASH,
            "weight": f"{k.kpi.weight:g}",
            "share": fmt_share(k.weight_share[i], b.language) if status == OK and rated else "",
            "median": b.value(median, unit),
            "n": fmt_count(n, b.language),
            "min_n": k.kpi.min_n,
            "status": status,
            "insufficient": status == INSUFFICIENT,
            "undefined": status == UNDEFINED,
            "note": b.note(mid),
            "direction": k.kpi.direction,
            "trend": b.trend(b.agent_trends(aid).get("kpis", {}).get(k.id), unit, k.kpi.direction),
        })
        chart_rows.append(_chart_row(b, k, level, label, unit, value, median, target))
    label_scopes(kpis, scopes, counted, b.language)
    return kpis, chart_rows, scopes, counted


def _chart_row(b, k, level: str, label: str, unit, value, median, target) -> dict:
    """One KPI on the positions chart: the ends of its curve (the agent's level's), the value,
    median and target."""
    curve = k.kpi.by_level.get(level, k.kpi.curve)
    xs = [p[0] for p in curve.points] if curve.points else [bd.min if bd.min is not None else bd.max
                                                             for bd in curve.bands or []]
    lo, hi = (min(xs), max(xs)) if xs else (None, None)
    if k.kpi.direction == "lower":
        lo, hi = hi, lo
    return {"label": label, "lo": lo, "hi": hi, "value": as_float(value), "median": as_float(median),
            "target": as_float(target), "lo_text": b.value(lo, unit), "hi_text": b.value(hi, unit)}


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
            "id": mid, "label": b.label(mid), "value": b.value(arow.get(mid), unit),
            "interval": b.interval(arow.get(f"{mid}__low"), arow.get(f"{mid}__high"), unit),
            "median": b.value(median, unit),
            "n": fmt_count(n, b.language),
            "note": b.note(mid),
        })
    label_scopes(others, scopes, counted, b.language)
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
        "total": b.points(row["total"]) if rated else DASH,
        "grade": (str(row["grade"] or "") or DASH) if rated else DASH,
        "scored_weight": fmt_share(float(weight), b.language),
        "min_scored_weight": fmt_share(b.min_scored_weight, b.language, 0),
        "team": b.peers.totals_tile(b.peers.team_totals_of(team), row["team_rank"], rated),
        "org": b.peers.totals_tile(b.peers.org_totals, row["rank"], rated),
    }


def _previous_score(b, aid: str) -> dict | None:
    if not b.trends:
        return None
    tr = b.agent_trends(aid)
    return {"total": b.points((tr.get("total") or {}).get("previous")),
            "grade": (tr.get("grade") or {}).get("previous") or DASH,
            "delta": b.trend(tr.get("total"), None, "higher", points=True)}
