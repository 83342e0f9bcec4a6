"""What if: the same cycle's data scored under another ruleset.

``merit diff WS --ruleset OTHER.yaml`` loads the workspace once (with its
active adjustments), evaluates and scores it under the cycle's ruleset and
under OTHER, and compares agent by agent: every agent whose grade or rank
changes, by how much, and the distribution of totals and grades before and
after.  Nothing is written to ``out/`` and nothing is recorded in the history:
HR uses it before changing a policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from merit.core.compile import compile_ruleset
from merit.core.evaluate import evaluate
from merit.core.outputs import fmt_numbers, round_sig, write_csv
from merit.core.ruleset import load_ruleset
from merit.core.scoring import Scores, score
from merit.cycles.run import prepare_cycle

CHANGE_COLUMNS = ["agent_id", "name", "team", "level", "total_before", "total_after", "total_change",
                  "grade_before", "grade_after", "rank_before", "rank_after", "rank_change"]
BINS = [(90, 100), (80, 90), (70, 80), (60, 70), (50, 60), (40, 50), (30, 40), (20, 30), (10, 20), (0, 10)]


@dataclass
class WhatIf:
    root: Path
    cycle: str
    base_name: str
    other_name: str
    adjustment_ids: list[int]
    changes: pd.DataFrame  # CHANGE_COLUMNS, numbers as floats (rank_change > 0: moved up)
    distribution: pd.DataFrame  # measure, before, after, change
    agents: int = 0
    base_scores: Scores | None = field(default=None, repr=False)
    other_scores: Scores | None = field(default=None, repr=False)

    def changes_text(self) -> pd.DataFrame:
        out = self.changes.copy()
        for col in ("total_before", "total_after"):
            out[col] = [("" if pd.isna(v) else f"{v:.2f}") for v in out[col]]
        out["total_change"] = [("" if pd.isna(v) else f"{v:+.2f}") for v in out["total_change"]]
        for col in ("rank_before", "rank_after"):
            out[col] = [("" if pd.isna(v) else str(int(v))) for v in out[col]]
        out["rank_change"] = [("" if pd.isna(v) else f"{int(v):+d}") for v in out["rank_change"]]
        return out

    def distribution_text(self) -> pd.DataFrame:
        out = self.distribution.copy()
        counts = ~out["measure"].str.startswith(("total mean", "total min", "total P", "total median", "total max"))

        def f(v, sign=False, whole=False):
            if pd.isna(v):
                return ""
            if whole:
                return f"{int(v):+d}" if sign else str(int(v))
            return f"{v:+.2f}" if sign else f"{v:.2f}"
        for col in ("before", "after", "change"):
            out[col] = [f(v, col == "change", bool(c)) for v, c in zip(out[col], counts)]
        return out


def _resolve_ref(ref: str) -> str:
    """A ruleset given on the command line: a file relative to the current folder, else as is."""
    p = Path(ref)
    if p.suffix.lower() in (".yaml", ".yml") or "/" in ref or "\\" in ref:
        if p.is_file():
            return str(p.resolve())
    return ref


def _grade_order(*scorings) -> list[str]:
    """The grades of both rulesets, best first (the base's order, then the other's new ones)."""
    order: list[str] = []
    for scoring in scorings:
        names = list(scoring.forced_distribution) if scoring.forced_distribution else [b.grade for b in scoring.grades]
        for g in names:
            if g not in order:
                order.append(g)
    return order


def _distribution(before: Scores, after: Scores, grades: list[str]) -> pd.DataFrame:
    rows = []

    def add(measure, b, a):
        rows.append({"measure": measure, "before": b, "after": a,
                     "change": (a - b) if b is not None and a is not None and not (pd.isna(a) or pd.isna(b)) else np.nan})
    tb = before.table["total"].astype("float64").dropna().to_numpy()
    ta = after.table["total"].astype("float64").dropna().to_numpy()
    add("agents scored", float(len(tb)), float(len(ta)))
    gb = before.table["grade"].fillna("").astype(str)
    ga = after.table["grade"].fillna("").astype(str)
    for g in grades:
        add(f"grade {g}", float((gb == g).sum()), float((ga == g).sum()))

    def stat(arr, fn):
        return float(fn(arr)) if len(arr) else np.nan
    add("total mean", stat(tb, np.mean), stat(ta, np.mean))
    add("total min", stat(tb, np.min), stat(ta, np.min))
    add("total P25", stat(tb, lambda x: np.quantile(x, 0.25)), stat(ta, lambda x: np.quantile(x, 0.25)))
    add("total median", stat(tb, np.median), stat(ta, np.median))
    add("total P75", stat(tb, lambda x: np.quantile(x, 0.75)), stat(ta, lambda x: np.quantile(x, 0.75)))
    add("total max", stat(tb, np.max), stat(ta, np.max))
    for lo, hi in BINS:
        def count(arr):
            return float(((arr >= lo) & ((arr <= hi) if hi == 100 else (arr < hi))).sum())
        add(f"totals {lo}–{hi}", count(tb), count(ta))
    return pd.DataFrame(rows, columns=["measure", "before", "after", "change"])


def compare(before: Scores, after: Scores) -> pd.DataFrame:
    a = before.table[["agent_id", "name", "team", "level", "total", "grade", "rank"]]
    b = after.table[["agent_id", "total", "grade", "rank"]]
    m = a.merge(b, on="agent_id", how="outer", suffixes=("_before", "_after"))
    out = pd.DataFrame({
        "agent_id": m["agent_id"].astype(str), "name": m["name"], "team": m["team"], "level": m["level"],
        "total_before": round_sig(m["total_before"].astype("float64")),
        "total_after": round_sig(m["total_after"].astype("float64")),
    })
    out["total_change"] = round_sig(out["total_after"] - out["total_before"])
    out["grade_before"] = m["grade_before"].fillna("").astype(str)
    out["grade_after"] = m["grade_after"].fillna("").astype(str)
    rb = m["rank_before"].astype("float64")
    ra = m["rank_after"].astype("float64")
    out["rank_before"], out["rank_after"] = rb, ra
    out["rank_change"] = rb - ra  # positive: moved up
    rank_changed = ~((rb == ra) | (rb.isna() & ra.isna()))
    changed = out[(out["grade_before"] != out["grade_after"]) | rank_changed].copy()
    changed["_key"] = changed["rank_after"].fillna(np.inf)
    changed = changed.sort_values(["_key", "agent_id"], kind="stable").drop(columns="_key")
    return changed.reset_index(drop=True)[CHANGE_COLUMNS]


def what_if(path: Path | str, other: str, *, base: str | None = None, progress=None) -> WhatIf:
    progress = progress or (lambda *a, **k: None)
    prep = prepare_cycle(path, ruleset=base, progress=progress)
    progress("evaluate (current ruleset)")
    before = score(evaluate(prep.plan, prep.tables, prep.ws))
    loaded = load_ruleset(_resolve_ref(other), relative_to=prep.ws.root)
    plan = compile_ruleset(loaded)
    progress("evaluate (other ruleset)")
    after = score(evaluate(plan, prep.tables, prep.ws))
    grades = _grade_order(prep.plan.ruleset.scoring, plan.ruleset.scoring)
    return WhatIf(prep.ws.root, prep.ws.config.name, prep.loaded.ruleset.name, loaded.ruleset.name,
                  [ap.adjustment.id for ap in prep.adjustments], compare(before, after),
                  _distribution(before, after, grades), len(before.table), before, after)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "ruleset"


def write_csvs(result: WhatIf, path: Path | None = None) -> list[Path]:
    """The changed agents as CSV, and the distribution beside it (``<stem>-distribution.csv``)."""
    if path is None:
        path = result.root / "whatif" / f"diff-{_slug(result.base_name)}-vs-{_slug(result.other_name)}.csv"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ch = result.changes.copy()
    for col in ("total_before", "total_after", "total_change", "rank_before", "rank_after", "rank_change"):
        ch[col] = fmt_numbers(ch[col].to_numpy(dtype="float64"))
    write_csv(ch, path)
    dist = result.distribution.copy()
    for col in ("before", "after", "change"):
        dist[col] = fmt_numbers(dist[col].to_numpy(dtype="float64"))
    dist_path = path.with_name(f"{path.stem}-distribution.csv")
    write_csv(dist, dist_path)
    return [path, dist_path]
