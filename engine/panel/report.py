"""``merit panel status`` and ``merit panel report``, and the per-item verdicts the
scorecards use.

Status: per panelist, how many items were assigned, graded and are still
open; per item of the cycle, its grades so far, who is still to grade it, and
what is missing before the cycle can be run (items with fewer grades than
``per_item``).

Report: each item's final grade (median rule), its spread and whether it is
flagged for a calibration discussion; the panel's agreement (Krippendorff's
alpha, ordinal, overall and per kind of item); each panelist's severity and
disagreement rate (see :mod:`merit.panel.agreement`).  Written to the panel folder
as ``report.csv``, ``panelists.csv``, ``agreement.csv`` and ``report.pdf``; this
module builds the data, :mod:`merit.render.panel_report` renders the PDF.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from merit.panel.agreement import DEFAULT_FLAG_SPREAD, Alpha, item_summary, panel_alpha, panelist_stats
from merit.panel.assignment import PanelData, csv_text, load_panel_data, ruleset_grade_settings
from merit.core.files import write_atomic

REPORT_COLUMNS = ["item_id", "kind", "title", "authors", "published_on", "n_grades", "grades", "by_panelist",
                  "final_grade", "best_grade", "worst_grade", "spread", "flagged"]
PANELIST_COLUMNS = ["panelist", "name", "team", "assigned", "graded", "compared", "severity", "mean_abs_distance",
                    "disagreement_rate"]
AGREEMENT_COLUMNS = ["scope", "alpha", "items", "grades"]


# ------------------------------------------------------------------ verdicts (for scorecards)
def item_verdicts(grades: pd.DataFrame, order=None, flag_spread: int = DEFAULT_FLAG_SPREAD) -> pd.DataFrame:
    """Per graded item: ``item_id, n, grades, final_grade, best_grade, worst_grade, spread, flagged``.

    *grades* has at least ``item_id`` and ``grade``.  The final grade is the one
    that counts; ``flagged`` marks an item whose grades spread over
    *flag_spread* steps or more: it counts with its final (median) grade and
    the author's scorecard says it is up for a calibration discussion."""
    return item_summary(grades, order, flag_spread)


def workspace_item_verdicts(workspace) -> pd.DataFrame:
    """:func:`item_verdicts` of a workspace's grades, with the ruleset's grade order and flag spread."""
    data = load_panel_data(workspace)
    return item_verdicts(data.grades, data.order, data.flag_spread)


def flagged_items(tables, ruleset) -> dict[str, str]:
    """{item_id: final grade} of the items whose grades are flagged for a calibration
    discussion, from the loaded tables (merit.core.tables.Tables) with the ruleset's panel
    scale; empty without grades or without a panel scale."""
    if "grades" not in tables.tables or ruleset.panel is None:
        return {}
    order, spread, _ = ruleset_grade_settings(ruleset)
    grades = tables.tables["grades"].select("item_id", "grade").execute()
    if grades.empty:
        return {}
    v = item_verdicts(grades, order, spread)
    v = v[v["flagged"].astype(bool)]
    return dict(zip(v["item_id"].astype(str), v["final_grade"].astype(str)))


def _cycle_grades(data: PanelData) -> pd.DataFrame:
    g = data.grades
    return g[g["item_id"].isin(set(data.items["item_id"])) & g["grade"].notna()].copy()


# ------------------------------------------------------------------ status
@dataclass
class Status:
    panelists: pd.DataFrame  # panelist, name, team, assigned, graded, open
    items: pd.DataFrame  # item_id, kind, title, needed, grades, assigned, pending, final_grade, flagged, missing
    missing: list[str]  # what is missing before the cycle can be run, one line each
    per_item: int
    ready: bool


def status(workspace, progress=None) -> Status:
    data = load_panel_data(workspace, progress=progress)
    return build_status(data)


def build_status(data: PanelData) -> Status:
    k = data.panel.config.per_item
    grades = _cycle_grades(data)
    a = data.assignments
    a = a[a["item_id"].isin(set(data.items["item_id"]))]
    graded_pairs = set(zip(grades["item_id"], grades["panelist"]))
    a = a.assign(done=np.array([(i, p) in graded_pairs for i, p in zip(a["item_id"], a["panelist"])], dtype=bool))
    rows = []
    names = data.panelist_name()
    for p in data.panel.config.panelists:  # panelists: tens
        mine = a[a["panelist"] == p.id]
        rows.append({"panelist": p.id, "name": names[p.id], "team": data.panelist_team().get(p.id) or "",
                     "assigned": int(len(mine)), "graded": int(mine["done"].sum()),
                     "open": int((~mine["done"]).sum())})
    panelists = pd.DataFrame(rows, columns=["panelist", "name", "team", "assigned", "graded", "open"])
    verdict = item_verdicts(grades, data.order, data.flag_spread).set_index("item_id")
    items = data.items[["item_id", "kind", "title"]].copy()
    items["needed"] = k
    items["grades"] = items["item_id"].map(verdict["n"]).fillna(0).astype(int)
    items["assigned"] = items["item_id"].map(a.groupby("item_id").size()).fillna(0).astype(int)
    pending = a[~a["done"]].groupby("item_id")["panelist"].agg(lambda s: ";".join(s))
    items["pending"] = items["item_id"].map(pending).astype(object).fillna("")
    items["final_grade"] = items["item_id"].map(verdict["final_grade"]).fillna("")
    items["flagged"] = items["item_id"].map(verdict["flagged"]).fillna(False).astype(bool)
    lacking = items["grades"] < k
    texts = []
    for r in items.itertuples():  # the cycle's items: hundreds
        if r.grades >= k:
            texts.append("")
            continue
        n_pending = len(r.pending.split(";")) if r.pending else 0
        parts = [f"{k - r.grades} more grade{'s' if k - r.grades > 1 else ''} needed"]
        if n_pending:
            parts.append(f"waiting for {r.pending.replace(';', ', ')}")
        if r.grades + n_pending < k:
            parts.append(f"{k - r.grades - n_pending} not assigned (run merit panel assign)")
        texts.append("; ".join(parts))
    items["missing"] = texts
    missing = [f"{r.item_id} ({r.kind}) {r.title}: {r.missing}" for r in items[lacking].itertuples()]
    return Status(panelists=panelists, items=items.reset_index(drop=True), missing=missing, per_item=k,
                  ready=not missing)


# ------------------------------------------------------------------ report
@dataclass
class Report:
    items: pd.DataFrame  # REPORT_COLUMNS (values, not text)
    panelists: pd.DataFrame  # PANELIST_COLUMNS
    alpha: Alpha
    by_kind: dict[str, Alpha]
    files: list[Path] = field(default_factory=list)


def build_report(data: PanelData) -> Report:
    grades = _cycle_grades(data)
    verdict = item_verdicts(grades, data.order, data.flag_spread).set_index("item_id")
    items = data.items.copy()
    blind = data.panel.config.blind
    rank = {g: i for i, g in enumerate(reversed(data.order))}  # best first
    pos = {p: i for i, p in enumerate(data.panel.ids)}
    g = grades.assign(_r=grades["grade"].map(rank), _p=grades["panelist"].map(pos).fillna(len(pos)))
    g = g.sort_values(["item_id", "_p", "panelist"], kind="stable")
    by_panelist = g.groupby("item_id")[["panelist", "grade"]].apply(
        lambda d: ";".join(f"{p}={x}" for p, x in zip(d["panelist"].fillna("?"), d["grade"])))
    out = pd.DataFrame({
        "item_id": items["item_id"],
        "kind": items["kind"].fillna(""),
        "title": items["title"].fillna(""),
        "authors": "" if blind else items["authors"].map("; ".join),
        "published_on": items["published_on"].map(lambda d: "" if d is None or pd.isna(d) else str(d)),
    })
    out["n_grades"] = out["item_id"].map(verdict["n"]).fillna(0).astype(int)
    for c in ("grades", "final_grade", "best_grade", "worst_grade"):
        out[c] = out["item_id"].map(verdict[c]).fillna("")
    out["by_panelist"] = out["item_id"].map(by_panelist).fillna("") if len(by_panelist) else ""
    out["spread"] = out["item_id"].map(verdict["spread"])
    out["flagged"] = out["item_id"].map(verdict["flagged"]).fillna(False).astype(bool)
    out = out[REPORT_COLUMNS].reset_index(drop=True)

    stats = panelist_stats(grades, data.order)
    names = data.panelist_name()
    teams = data.panelist_team()
    a = data.assignments[data.assignments["item_id"].isin(set(items["item_id"]))]
    assigned = a.groupby("panelist").size()
    ids = list(data.panel.ids) + sorted(set(stats["panelist"]) - set(data.panel.ids))
    pan = pd.DataFrame({"panelist": ids})
    pan["name"] = pan["panelist"].map(names).fillna("")
    pan["team"] = pan["panelist"].map(lambda p: teams.get(p) or "")
    pan["assigned"] = pan["panelist"].map(assigned).fillna(0).astype(int)
    s = stats.set_index("panelist")
    pan["graded"] = pan["panelist"].map(s["graded"]).fillna(0).astype(int)
    pan["compared"] = pan["panelist"].map(s["compared"]).fillna(0).astype(int)
    for c in ("severity", "mean_abs_distance", "disagreement_rate"):
        pan[c] = pan["panelist"].map(s[c]).astype("float64")
    alpha = panel_alpha(grades, data.order)
    kinds = grades.merge(items[["item_id", "kind"]], on="item_id", how="left")
    by_kind = {kind: panel_alpha(part, data.order) for kind, part in kinds.groupby("kind", sort=True)}
    return Report(items=out, panelists=pan[PANELIST_COLUMNS], alpha=alpha, by_kind=by_kind)


def num(x, digits: int = 4) -> str:
    """A number as CSV text: rounded to *digits* decimals, '' when undefined."""
    if x is None or (isinstance(x, float) and not np.isfinite(x)) or pd.isna(x):
        return ""
    text = f"{float(x):.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def report_csvs(rep: Report) -> dict[str, str]:
    items = rep.items.copy()
    items["spread"] = items["spread"].map(lambda v: "" if pd.isna(v) else str(int(v)))
    items["flagged"] = items["flagged"].map(lambda b: "true" if b else "false")
    pan = rep.panelists.copy()
    for c in ("severity", "mean_abs_distance", "disagreement_rate"):
        pan[c] = pan[c].map(num)
    agree = [["all", num(rep.alpha.value), rep.alpha.units, rep.alpha.pairable]]
    agree += [[f"kind={k}", num(a.value), a.units, a.pairable] for k, a in rep.by_kind.items()]
    return {
        "report.csv": csv_text(REPORT_COLUMNS, items.astype(str).itertuples(index=False)),
        "panelists.csv": csv_text(PANELIST_COLUMNS, pan.astype(str).itertuples(index=False)),
        "agreement.csv": csv_text(AGREEMENT_COLUMNS, agree),
    }


PdfRenderer = Callable[[PanelData, "Report"], bytes]


def report(workspace, *, progress=None, render_pdf: PdfRenderer | None = None) -> Report:
    """Compute the report and write report.csv, panelists.csv, agreement.csv into the panel
    folder, and report.pdf when *render_pdf* (merit.render.panel_report) is given.  The PDF
    is rendered before anything is written: a failed rendering leaves the folder as it was."""
    data = load_panel_data(workspace, progress=progress)
    rep = build_report(data)
    folder = data.panel.folder
    texts = report_csvs(rep)
    pdf_bytes = None
    if render_pdf is not None:
        if progress:
            progress("rendering report.pdf")
        pdf_bytes = render_pdf(data, rep)
    for name, text in texts.items():
        write_atomic(folder / name, text)
        rep.files.append(folder / name)
    if pdf_bytes is not None:
        target = folder / "report.pdf"
        write_atomic(target, pdf_bytes)
        rep.files.append(target)
    return rep
