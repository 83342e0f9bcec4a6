"""Statistics of an expert panel's grades: final grades, agreement, severity.

Grades are ordinal labels ranked by the ruleset's scale given worst first
(``panel.grades`` of the ruleset is best first; without an order the shipped
default ruleset's scale is used).  Everything here works on small pandas
frames of ``item_id, panelist, grade`` (one row per grade) and is vectorised
with numpy and pandas: no loop over grades.

* **Final grade** of an item (:func:`final_grades`, the one implementation of
  the rule in Python): the median of its grades on the order; with an even
  count the lower of the two middle grades (never their mean).  The ruleset's
  derived column ``panel.final_grade`` (``median_low`` on the same order)
  computes the same for the metrics.
* **Spread**: best grade rank − worst grade rank, in steps; an item whose
  grades spread over ``flag_spread`` (default 2) steps or more is flagged for
  a calibration discussion.
* **Krippendorff's alpha, ordinal** (Krippendorff 2011, "Computing
  Krippendorff's Alpha-Reliability"): from the coincidence matrix ``o`` of
  the pairable values (units with at least two grades),
  ``alpha = 1 - (n - 1) * Σ o_ck δ²_ck / Σ n_c n_k δ²_ck`` with the ordinal
  metric ``δ²_ck = (Σ_{g=c..k} n_g - (n_c + n_k) / 2)²``.
* **Severity** of a panelist: the mean over their grades of (final rank − own
  rank) on items with at least two grades; positive = stricter than the panel.
* **Disagreement rate**: the share of those grades that differ from the
  item's final grade.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

DEFAULT_FLAG_SPREAD = 2


@lru_cache(maxsize=1)
def default_order() -> tuple[str, ...]:
    """The shipped default ruleset's scale, worst first (for callers that give no order)."""
    from merit.core.ruleset import load_ruleset

    return load_ruleset("default").ruleset.panel.worst_first


def _order(order) -> tuple[str, ...]:
    return tuple(order) if order is not None else default_order()


def ranks(grades, order=None) -> np.ndarray:
    """1-based ranks of grade labels on *order* (worst = 1); NaN for labels not in it."""
    rank = {g: i + 1 for i, g in enumerate(_order(order))}
    return pd.Series(grades, dtype="object").map(rank).astype("float64").to_numpy()


def _ranked(grades: pd.DataFrame, order) -> pd.DataFrame:
    """The grades on the order (``r``, worst = 1), sorted by item and rank, worst first;
    labels not on the order are left out."""
    g = grades[["item_id", "grade"]].copy()
    g["r"] = ranks(g["grade"], order)
    return g.dropna(subset=["r"]).sort_values(["item_id", "r"], ascending=[True, True], kind="stable")


def final_ranks(ranked: pd.DataFrame) -> pd.Series:
    """THE final-grade rule, on grades ranked and sorted by :func:`_ranked`: per item the
    median rank, the lower middle one on an even count (worst first: position (n - 1) // 2)."""
    grp = ranked.groupby("item_id", sort=True)
    pos = grp.cumcount()
    cnt = grp["r"].transform("size")
    return ranked[pos == (cnt - 1) // 2].set_index("item_id")["r"]


def final_grades(grades: pd.DataFrame, order=None) -> pd.Series:
    """Each graded item's final grade (a Series of labels indexed by item_id)."""
    order = _order(order)
    final = final_ranks(_ranked(grades, order))
    return pd.Series(np.asarray(order, dtype=object)[final.astype(int).to_numpy() - 1], index=final.index,
                     name="final_grade", dtype=object)


def median_low(grades, order=None) -> str | None:
    """The final grade of one item (:func:`final_grades` of its grades)."""
    frame = pd.DataFrame({"item_id": 0, "grade": pd.Series(list(grades), dtype="object")})
    final = final_grades(frame, order)
    return final.iloc[0] if len(final) else None


def item_summary(grades: pd.DataFrame, order=None, flag_spread: int = DEFAULT_FLAG_SPREAD) -> pd.DataFrame:
    """Per item: n (grades), grades (best first, ``;``-joined), final_grade, best_grade,
    worst_grade, spread (steps) and flagged (spread ≥ *flag_spread*); sorted by item_id."""
    cols = ["item_id", "n", "grades", "final_grade", "best_grade", "worst_grade", "spread", "flagged"]
    order = _order(order)
    g = _ranked(grades, order)
    if g.empty:
        return pd.DataFrame(columns=cols)
    grp = g.groupby("item_id", sort=True)
    out = pd.DataFrame({
        "n": grp.size(),
        "final_r": final_ranks(g),
        "best_r": grp["r"].max(),
        "worst_r": grp["r"].min(),
        "grades": g.sort_values(["item_id", "r"], ascending=[True, False], kind="stable")
                   .groupby("item_id", sort=True)["grade"].agg(";".join),
    })
    labels = np.asarray(order, dtype=object)
    out["final_grade"] = labels[out["final_r"].astype(int) - 1]
    out["best_grade"] = labels[out["best_r"].astype(int) - 1]
    out["worst_grade"] = labels[out["worst_r"].astype(int) - 1]
    out["spread"] = (out["best_r"] - out["worst_r"]).astype(int)
    out["flagged"] = out["spread"] >= flag_spread
    out = out.reset_index().rename(columns={"index": "item_id"})
    return out[cols]


def coincidence_matrix(counts: np.ndarray) -> np.ndarray:
    """The coincidence matrix o (values × values) of a units × values count matrix.

    ``o_ck = Σ_u n_uc (n_uk - [c = k]) / (m_u - 1)`` over units with m_u ≥ 2
    values (the others are not pairable and drop out)."""
    counts = np.asarray(counts, dtype="float64")
    m = counts.sum(axis=1)
    keep = m >= 2
    c, m = counts[keep], m[keep]
    if c.size == 0:
        return np.zeros((counts.shape[1], counts.shape[1]))
    w = c / (m - 1)[:, None]
    return c.T @ w - np.diag(w.sum(axis=0))


def ordinal_delta2(n_c: np.ndarray) -> np.ndarray:
    """Krippendorff's ordinal metric δ²_ck = (Σ_{g=c..k} n_g − (n_c + n_k)/2)² for the marginals n_c."""
    n_c = np.asarray(n_c, dtype="float64")
    cum = np.concatenate([[0.0], np.cumsum(n_c)])
    lo = np.minimum.outer(np.arange(n_c.size), np.arange(n_c.size))
    hi = np.maximum.outer(np.arange(n_c.size), np.arange(n_c.size))
    between = cum[hi + 1] - cum[lo]  # Σ n_g for g from min(c,k) to max(c,k)
    return (between - (n_c[:, None] + n_c[None, :]) / 2) ** 2


@dataclass(frozen=True)
class Alpha:
    value: float | None  # None: undefined (fewer than 2 pairable values, or no variation at all)
    units: int  # units (items) with at least two grades
    pairable: int  # n: the values in those units
    observed: float | None  # D_o
    expected: float | None  # D_e


def krippendorff_alpha_ordinal(counts: np.ndarray) -> Alpha:
    """Krippendorff's alpha with the ordinal metric from a units × values count matrix
    (columns in rank order, worst first)."""
    counts = np.asarray(counts, dtype="float64")
    o = coincidence_matrix(counts)
    n_c = o.sum(axis=1)
    n = float(n_c.sum())
    units = int((counts.sum(axis=1) >= 2).sum())
    if n < 2:
        return Alpha(None, units, int(round(n)), None, None)
    d2 = ordinal_delta2(n_c)
    d_o = float((o * d2).sum() / n)
    d_e = float((np.outer(n_c, n_c) * d2).sum() / (n * (n - 1)))
    if d_e == 0:
        return Alpha(None, units, int(round(n)), d_o, d_e)
    return Alpha(1.0 - d_o / d_e, units, int(round(n)), d_o, d_e)


def count_matrix(grades: pd.DataFrame, order=None) -> np.ndarray:
    """Units (items) × values (grades, worst first) counts."""
    order = _order(order)
    g = grades[["item_id", "grade"]].copy()
    g = g[g["grade"].isin(order)]
    if g.empty:
        return np.zeros((0, len(order)))
    tab = pd.crosstab(g["item_id"], pd.Categorical(g["grade"], categories=list(order)), dropna=False)
    return tab.reindex(columns=list(order), fill_value=0).to_numpy(dtype="float64")


def panel_alpha(grades: pd.DataFrame, order=None) -> Alpha:
    return krippendorff_alpha_ordinal(count_matrix(grades, order))


def panelist_stats(grades: pd.DataFrame, order=None) -> pd.DataFrame:
    """Per panelist: graded (all their grades), compared (grades on items with ≥ 2 grades),
    severity (mean final rank − own rank over the compared ones; positive = stricter),
    mean_abs_distance and disagreement_rate (share of compared grades ≠ the final grade)."""
    cols = ["panelist", "graded", "compared", "severity", "mean_abs_distance", "disagreement_rate"]
    order = _order(order)
    g = grades[["item_id", "panelist", "grade"]].copy()
    g["r"] = ranks(g["grade"], order)
    g = g.dropna(subset=["r"])
    if g.empty:
        return pd.DataFrame(columns=cols)
    summary = item_summary(g, order)
    final_r = pd.Series(ranks(summary["final_grade"], order), index=summary["item_id"])
    n_item = pd.Series(summary["n"].to_numpy(), index=summary["item_id"])
    g["final_r"] = g["item_id"].map(final_r)
    g["n_item"] = g["item_id"].map(n_item)
    g["cmp"] = g["n_item"] >= 2
    g["d"] = np.where(g["cmp"], g["final_r"] - g["r"], np.nan)
    g["abs"] = np.abs(g["d"])
    g["dis"] = np.where(g["cmp"], (g["d"] != 0).astype("float64"), np.nan)
    grp = g.groupby("panelist", sort=True)
    out = pd.DataFrame({
        "graded": grp.size(),
        "compared": grp["cmp"].sum().astype(int),
        "severity": grp["d"].mean(),
        "mean_abs_distance": grp["abs"].mean(),
        "disagreement_rate": grp["dis"].mean(),
    }).reset_index()
    return out[cols]
