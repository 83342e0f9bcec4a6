"""Turn agents' metric values into points, totals, grades and ranks.

Vectorised over agents: loops run over KPIs, levels and bands (the ruleset's
size), never over agents or records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from merit.core.evaluate import Evaluation
from merit.core.ruleset import Curve, Kpi, Scoring

INSUFFICIENT = "insufficient data"
UNDEFINED = "undefined"
OK = "ok"


def apply_curve(curve: Curve, values: np.ndarray) -> np.ndarray:
    """Points for each value; NaN stays NaN."""
    values = np.asarray(values, dtype="float64")
    out = np.full(values.shape, np.nan)
    defined = ~np.isnan(values)
    if curve.points is not None:
        xs = np.array([p[0] for p in curve.points], dtype="float64")
        ps = np.array([p[1] for p in curve.points], dtype="float64")
        out[defined] = np.interp(values[defined], xs, ps)  # clamped at both ends
        return out
    bands = curve.bands or []
    result = np.zeros(values.shape)
    # First matching band wins: apply them last to first so earlier ones overwrite.
    for band in reversed(bands):
        hit = values >= band.min if band.min is not None else values <= band.max
        result = np.where(hit, band.points, result)
    out[defined] = result[defined]
    return out


def curve_target(curve: Curve, direction: str) -> float | None:
    if curve.target is not None:
        return curve.target
    if curve.points is not None:
        best = max(curve.points, key=lambda p: p[1])
        return best[0]
    return None


@dataclass
class KpiResult:
    id: str
    metric: str
    kpi: Kpi
    value: np.ndarray
    n: np.ndarray
    points: np.ndarray  # NaN where insufficient or undefined
    status: np.ndarray  # ok / insufficient data / undefined
    target: np.ndarray
    weight_share: np.ndarray  # the weight's share of the agent's total after redistribution


@dataclass
class Scores:
    # One row per agent: agent_id, name, team, level, total, grade, rank, team_rank, team_size,
    # top_percent, rated (enough data for a total: min_scored_weight) and scored_weight (the
    # share of the total KPI weight carried by KPIs with enough data).  An agent who is not
    # rated has no total, grade, rank, team_rank or top_percent.
    table: pd.DataFrame
    kpis: list[KpiResult]


def score(evaluation: Evaluation) -> Scores:
    scoring: Scoring = evaluation.plan.ruleset.scoring
    agents = evaluation.roster.rename(columns={"agent_id": "id"}).merge(
        evaluation.frame("agent"), on="id", how="left")
    count = len(agents)
    levels = agents["level"].astype(str).to_numpy()
    kpis: list[KpiResult] = []
    for kid, kpi in scoring.kpis.items():
        mid = kpi.metric or kid
        value = agents[mid].to_numpy(dtype="float64") if mid in agents else np.full(count, np.nan)
        ncol = f"{mid}__n"
        n = agents[ncol].fillna(0).to_numpy(dtype="int64") if ncol in agents else np.zeros(count, dtype="int64")
        points = np.full(count, np.nan)
        target = np.full(count, np.nan)
        default_mask = ~np.isin(levels, list(kpi.by_level))
        groups = [(default_mask, kpi.curve)] + [(levels == lvl, c) for lvl, c in kpi.by_level.items()]
        for mask, curve in groups:
            if mask.any():
                points[mask] = apply_curve(curve, value[mask])
                t = curve_target(curve, kpi.direction)
                target[mask] = np.nan if t is None else t
        status = np.where(np.isnan(value), UNDEFINED, np.where(n < kpi.min_n, INSUFFICIENT, OK))
        points = np.where(status == OK, points, np.nan)
        kpis.append(KpiResult(kid, mid, kpi, value, n, points, status, target, np.zeros(count)))

    table = agents[["id", "name", "team", "level"]].rename(columns={"id": "agent_id"}).copy()
    total, scored_weight = _totals(kpis, count)
    # Too little data is no grade at all, neither a bad one nor a good one: an agent whose
    # sufficient KPIs carry less than min_scored_weight of the weight gets no total, so no
    # grade and no rank, and does not count in the ranks, top_percent or forced
    # distribution of the others.  (The tolerance keeps a share written as 0.5 from
    # failing on 1/3 + 1/6.)
    rated = ~np.isnan(total) & (scored_weight >= scoring.min_scored_weight - 1e-12)
    total = np.where(rated, total, np.nan)
    for k in kpis:
        k.weight_share = np.where(rated, k.weight_share, 0.0)
    table["total"] = total
    table["grade"] = _grades(total, scoring)
    ranked = pd.Series(total)
    table["rank"] = ranked.rank(method="min", ascending=False).astype("Int64")
    table["team_rank"] = ranked.groupby(table["team"].to_numpy()).rank(method="min", ascending=False).astype("Int64")
    table["team_size"] = table.groupby("team")["agent_id"].transform("count")
    ranked_count = ranked.notna().sum()
    table["top_percent"] = (table["rank"].astype("float64") / ranked_count * 100).round(1) if ranked_count else np.nan
    if scoring.forced_distribution:
        table["grade"] = _forced(table["rank"], ranked_count, scoring.forced_distribution)
    table["rated"] = rated
    table["scored_weight"] = scored_weight
    return Scores(table=table, kpis=kpis)


def _totals(kpis: list[KpiResult], count: int) -> tuple[np.ndarray, np.ndarray]:
    """Per agent: the weighted mean of the points of the KPIs with enough data (NaN when none
    has), and the share of the total KPI weight those KPIs carry.  Sets each KPI's
    weight_share (its share of the agent's total after redistribution)."""
    if not kpis:
        return np.full(count, np.nan), np.zeros(count)
    weights = np.array([[k.kpi.weight] for k in kpis], dtype="float64")  # kpis × 1
    pts = np.vstack([k.points for k in kpis])  # kpis × agents
    used = np.where(np.isnan(pts), 0.0, weights)
    wsum = used.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.where(wsum > 0, np.nansum(pts * used, axis=0) / np.where(wsum > 0, wsum, 1), np.nan)
        shares = np.where(wsum > 0, used / np.where(wsum > 0, wsum, 1), 0.0)
    for i, k in enumerate(kpis):
        k.weight_share = shares[i]
    return total, wsum / weights.sum()


def _grades(total: np.ndarray, scoring: Scoring) -> np.ndarray:
    grades = np.full(total.shape, "", dtype=object)
    assigned = np.zeros(total.shape, dtype=bool)
    for band in scoring.grades:  # best first
        hit = ~assigned & ~np.isnan(total) & (total >= band.min)
        grades[hit] = band.grade
        assigned |= hit
    return grades


def _forced(rank: pd.Series, ranked_count: int, dist: dict[str, float]) -> np.ndarray:
    """Grades by position: an agent ranked r of m gets the first grade whose
    cumulative share reaches r / m (so with shares 0.1/0.2/… the best 10 %
    get the first grade).  Tied agents share the better grade (competition rank)."""
    names = list(dist)
    cumulative = np.cumsum([dist[g] for g in names])
    cumulative[-1] = 1.0
    out = np.full(len(rank), "", dtype=object)
    r = rank.to_numpy(dtype="float64", na_value=np.nan)
    has = ~np.isnan(r)
    if ranked_count:
        share = r[has] / ranked_count - 1e-12  # tolerance for shares such as 1/3 written as 0.3333
        idx = np.searchsorted(cumulative, share, side="left")
        out[has] = np.array(names, dtype=object)[np.minimum(idx, len(names) - 1)]
    return out
