"""One team's scorecard context (for team leads and HR): every agent of the team with their
main KPIs, the team's metrics in the ruleset's ``scorecard.groups``, breakdowns, lists, trends."""

from __future__ import annotations

import numpy as np
import pandas as pd

from merit.core.scoring import OK
from merit.render import charts
from merit.core.ruleset_words import words
from merit.render.context.formatting import DASH, as_float, fmt_count, plain
from merit.render.context.wording import scoring_definition

ALL_METRICS = "metrics"  # the key of the one group of a ruleset that declares no scorecard.groups


def build(b, team: str, top_lists: list[dict]) -> dict:
    """The context of *team*'s scorecard (*b*: the cycle's merit.render.context.ContextBuilder)."""
    members = _members(b, team)
    main = b.main_kpis()
    rated = members["_rated"].to_numpy()
    grade_names = [g.grade for g in b.plan.ruleset.scoring.grades] or sorted({g for g in members["grade"] if g})
    counts = members["grade"].value_counts()
    grade_counts = [int(counts.get(g, 0)) for g in grade_names]
    ungraded = int((members["grade"].fillna("") == "").sum())
    not_rated = int((~rated).sum())
    totals = members["total"].to_numpy(dtype="float64")
    breakdowns = [bd for bd in (_breakdown(b, "team", team, name) for name in _breakdown_names(b)) if bd]
    return {
        "kind": "team",
        "language": b.language,
        "cycle": b.cycle,
        "previous": b.prev_name,
        "team": {"name": team, "agents": len(members), "scored": int(rated.sum()),
                 "mean_total": b.points(np.nanmean(totals) if np.isfinite(totals).any() else None),
                 "median_total": b.points(np.nanmedian(totals) if np.isfinite(totals).any() else None)},
        "groups": _metric_groups(b, b.team_frame, team, "team"),
        "kpi_heads": [{"id": k.id, "label": b.kpi_label(k)} for k in main],
        "main_kpis": len(main),
        "all_kpis": len(b.scores.kpis),
        "kpi_medians": _kpi_medians(b, team, main),
        "agents": _agent_rows(b, members, main),
        "grades": [{"grade": g, "count": c} for g, c in zip(grade_names, grade_counts)],
        "ungraded": ungraded - not_rated,  # rated without a grade (a grade table with a gap)
        "not_rated": not_rated,
        "breakdowns": breakdowns,
        "trend_cycles": [c["name"] for c in b.trends["cycles"]] if b.trends else [],
        "lists": top_lists,
        "charts": _charts(b, team, grade_names, grade_counts, totals),
        "definitions": b.definitions["team"],
        "tables": b.tables_used,
        "scoring": scoring_definition(b.ev, language=b.language, currency=b.currency),
    }


def _members(b, team: str) -> pd.DataFrame:
    """The team's agents, best first; an agent who is not rated shows no total, grade or rank
    and counts in no team figure."""
    in_team = (b.table["team"].astype(str) == team).to_numpy()
    members = b.table[in_team].copy()
    members["_rated"] = b.rated[in_team]
    members.loc[~members["_rated"], "total"] = np.nan
    members.loc[~members["_rated"], "grade"] = ""
    members.loc[~members["_rated"], "team_rank"] = pd.NA
    members["_r"] = members["team_rank"].astype("float64")
    return members.sort_values(["_r", "agent_id"], na_position="last", kind="stable")


def _agent_rows(b, members: pd.DataFrame, main) -> list[dict]:
    agents = []
    for (_, m), is_rated in zip(members.iterrows(), members["_rated"].to_numpy()):  # one row per agent of the team
        i = b.pos[str(m["agent_id"])]
        cells = [{"value": b.value(k.value[i], b.unit(k.metric)), "muted": str(k.status[i]) != OK} for k in main]
        agents.append({"id": str(m["agent_id"]), "name": str(m["name"]), "level": plain(m["level"]),
                       "rated": bool(is_rated),
                       "total": b.points(m["total"]), "grade": str(m["grade"] or "") or DASH,
                       "rank": "" if pd.isna(m["team_rank"]) else str(int(m["team_rank"])), "kpis": cells})
    return agents


def _kpi_medians(b, team: str, main) -> list[dict]:
    med = b.peers.team_median.loc[team] if team in b.peers.team_median.index else None
    org_med = b.peers.agent_team.median(numeric_only=True)
    return [{"label": b.kpi_label(k),
             "median": b.value(med.get(k.metric) if med is not None else None, b.unit(k.metric)),
             "org_median": b.value(org_med.get(k.metric), b.unit(k.metric))} for k in main]


def _charts(b, team: str, grade_names: list[str], grade_counts: list[int], totals: np.ndarray) -> dict:
    _ = b._
    edges = list(range(0, 101, 10))
    hist = np.histogram(np.clip(totals[~np.isnan(totals)], 0, 100), bins=edges)[0].tolist()
    return {
        "grades": str(charts.bars(grade_names, grade_counts, title=_("Grade distribution"),
                                  fmt=lambda v: f"{v:.0f}",
                                  colours=[charts.GRADE_COLOURS.get(g, charts.ACCENT) for g in grade_names],
                                  width=330, height=130, language=b.language)),
        "distribution": str(charts.histogram(hist, edges, title=_("Total scores in the team"),
                                             x_label=_("total score (agents per 10-point band)"),
                                             width=330, height=130, language=b.language)),
        "trend": _trend_chart(b, team),
    }


def _groups(b) -> list[tuple[str, str, set, bool]]:
    """The ruleset's metric groups as (key, title, tables, takes the others)."""
    declared = b.plan.ruleset.scorecard.groups
    if not declared:
        return [(ALL_METRICS, b._("All"), set(), True)]
    return [(key, words(g.title, b.language), set(g.tables), g.others) for key, g in declared.items()]


def _metric_groups(b, scope_frame: pd.DataFrame, sid: str, scope: str) -> list[dict]:
    """The scope's metrics in the ruleset's groups: a metric goes to the first group that lists
    one of its tables, else to the group that takes the others."""
    groups = _groups(b)
    rows = {key: [] for key, _, _, _ in groups}
    rest = next(key for key, _, _, others in groups if others)
    row = scope_frame.loc[sid] if sid in scope_frame.index else None
    org = b.org_frame.iloc[0] if len(b.org_frame) else None
    trends = ((b.trends or {}).get("teams", {}).get(sid, {}) if scope == "team" else (b.trends or {}).get("org", {}))
    for mid, cm in b.ordered_metrics():
        if scope not in cm.scopes:
            continue
        group = next((key for key, _, tabs, _ in groups if set(cm.tables) & tabs), rest)
        unit = cm.spec.unit
        value = row.get(mid) if row is not None else None
        n = row.get(f"{mid}__n") if row is not None else None
        rows[group].append({
            "id": mid, "label": b.label(mid), "value": b.value(value, unit),
            "interval": b.interval(row.get(f"{mid}__low") if row is not None else None,
                                   row.get(f"{mid}__high") if row is not None else None, unit),
            "n": fmt_count(n, b.language),
            "org": b.value(org.get(mid) if org is not None else None, unit),
            "note": b.note(mid),
            "trend": b.trend(trends.get(mid), unit),
        })
    return [{"key": key, "title": title, "rows": rows[key]} for key, title, _, _ in groups if rows[key]]


def _breakdown(b, scope: str, sid: str, breakdown: str) -> dict | None:
    key = (scope, breakdown)
    if key not in b.ev.frames:
        return None
    data = b.ev.frames[key].data
    part = data[data["id"].astype(str) == sid].sort_values("breakdown")
    mids = [mid for mid, cm in b.ordered_metrics() if breakdown in cm.breakdowns and mid in part.columns]
    if part.empty or not mids:
        return None
    rows = []
    for rec in part.to_dict("records"):  # one row per month/channel value
        cells = []
        for mid in mids:
            unit = b.unit(mid)
            cells.append({"value": b.value(rec.get(mid), unit),
                          "interval": b.interval(rec.get(f"{mid}__low"), rec.get(f"{mid}__high"), unit)})
        rows.append({"key": str(rec["breakdown"]), "cells": cells})
    first = mids[0]
    name = b.breakdown_label(breakdown)
    chart = charts.bars([str(v) for v in part["breakdown"]], [as_float(v) for v in part[first]],
                        title=b._("%(metric)s by %(breakdown)s") % {"metric": b.label(first), "breakdown": name},
                        width=680, height=120, fmt=lambda v, u=b.unit(first): b.value(v, u), language=b.language)
    return {"name": name, "headers": [b.label(m) for m in mids], "rows": rows, "chart": str(chart),
            "chart_label": b.label(first)}


def _breakdown_names(b) -> list[str]:
    names = []
    for cm in b.plan.metrics.values():
        for name in cm.breakdowns:
            if name not in names:
                names.append(name)
    preferred = [name for name in ("month", "channel") if name in names]
    return preferred + sorted(name for name in names if name not in preferred)


def _trend_chart(b, team: str) -> str | None:
    """Small multiples of the team's main metrics over the cycles (2+ cycles only)."""
    if not b.trends:
        return None
    series = b.trends.get("teams", {}).get(team, {})
    panels = []
    for k in b.main_kpis():
        entry = series.get(k.metric)
        if not entry or sum(v is not None for v in entry["series"]) < 1:
            continue
        unit = b.unit(k.metric)
        panels.append({"label": b.kpi_label(k), "values": entry["series"], "unit": unit,
                       "fmt": lambda v, u=unit: b.value(v, u)})
    if not panels:
        return None
    names = [c["name"] if len(c["name"]) <= 18 else c["name"][:17] + "…" for c in b.trends["cycles"]]
    title = b._("Team %(team)s: main metrics over the cycles") % {"team": team}
    return str(charts.trend_panels(names, panels, title=title, language=b.language))
