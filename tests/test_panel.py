"""Expert panel grading (issue 5): the median rule, Krippendorff's alpha, severity,
assignment, collect with every rejection, regrades and their audit trail,
status, the report (CSV and PDF) and the effect on scoring.

Expected numbers are computed by hand in the comments."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from merit.panel.agreement import (count_matrix, item_summary, krippendorff_alpha_ordinal, median_low,
                              ordinal_delta2, coincidence_matrix, panelist_stats)
from merit.panel.assignment import load_panel_data, plan_assignment
from merit.panel.sheets import row_check

from .conftest import FIXTURES, assert_user_error, run_merit
from .panelist import fill_csv, fill_xlsx, read_csv, write_csv

CYCLE = "2026-Q3-full-fixture"


# ------------------------------------------------------------------ helpers
def make_ws(tmp_path, panel: str, *, grades: bool = True, knowledge: str | None = None) -> Path:
    """A copy of the full fixture (agents alpha: A1–A10, beta: B1–B9) with *panel* as panel.yaml."""
    ws = tmp_path / "ws"
    shutil.copytree(FIXTURES / "full_ws", ws)
    (ws / "panel.yaml").write_text(panel, encoding="utf-8")
    if not grades:
        (ws / "data" / "grades.csv").unlink()
    if knowledge is not None:
        (ws / "data" / "knowledge.csv").write_text(knowledge, encoding="utf-8")
    return ws


PANEL = """\
panelists:
  - {id: E1, name: 专家一, team: qa}
  - {id: E2, name: 专家二, team: qa}
  - {id: E3, name: 专家三}
  - {id: A1}            # an agent (team alpha, from agents.csv)
  - {id: B2, name: 韩梅}  # an agent (team beta)
per_item: 3
"""


def sheet_row(panelist: str, item: str, kind: str, title: str, grade: str, *, check: str | None = None) -> dict:
    return {"panelist": panelist, "item_id": item, "kind": kind, "title": title, "authors": "",
            "published_on": "", "grade": grade, "comment": "",
            "check": row_check(CYCLE, panelist, item, kind, title) if check is None else check}


SHEET_HEADER = ["panelist", "item_id", "kind", "title", "authors", "published_on", "grade", "comment", "check"]


def snapshot(ws: Path) -> dict[str, bytes]:
    out = {}
    for p in [ws / "data" / "grades.csv", ws / "panel" / "audit.csv", ws / "panel" / "assignments.csv"]:
        out[str(p)] = p.read_bytes() if p.exists() else b""
    return out


# ------------------------------------------------------------------ the median rule
@pytest.mark.parametrize("grades, final", [
    (["S", "A", "C"], "A"),            # odd: C < A < S, the middle one
    (["B"], "B"),                      # one grade is its own median
    (["S", "A"], "A"),                 # even: the lower of S, A
    (["B", "C"], "C"),                 # even: the lower of B, C
    (["S", "A", "B", "C"], "B"),       # all four: C B | A S, the lower middle is B
    (["S", "S", "C", "C"], "C"),       # C C | S S -> C (never a "mean" grade)
    (["A", "S", "B", "B", "C"], "B"),  # C B B A S -> B
])
def test_median_rule(grades, final):
    assert median_low(grades) == final
    frame = pd.DataFrame({"item_id": "X", "panelist": [f"p{i}" for i in range(len(grades))], "grade": grades})
    assert item_summary(frame)["final_grade"].tolist() == [final]


def test_item_summary_spread_and_flag():
    g = pd.DataFrame({"item_id": ["a", "a", "a", "b", "b", "c"], "panelist": ["p", "q", "r", "p", "q", "p"],
                      "grade": ["S", "A", "B", "A", "B", "C"]})
    s = item_summary(g).set_index("item_id")
    # a: S..B = 4 - 2 = 2 steps -> flagged; b: A..B = 1 step; c: one grade, 0 steps
    assert s.loc["a", ["grades", "final_grade", "spread", "flagged"]].tolist() == ["S;A;B", "A", 2, True]
    assert s.loc["b", ["final_grade", "spread", "flagged"]].tolist() == ["B", 1, False]
    assert s.loc["c", ["final_grade", "spread", "flagged"]].tolist() == ["C", 0, False]


# ------------------------------------------------------------------ Krippendorff's alpha
def test_alpha_ordinal_worked_example():
    """Four items graded on C < B < A < S (columns C, B, A, S):

        item 1: S, S        item 2: A, B        item 3: B, B, C        item 4: C (not pairable)

    Coincidence matrix o (each unit adds its ordered pairs of values / (m_u - 1)):
        item 1 (m=2): S-S twice                      -> o_SS += 2
        item 2 (m=2): A-B, B-A                       -> o_AB += 1, o_BA += 1
        item 3 (m=3): B-B 2, B-C 2, C-B 2, each / 2  -> o_BB += 1, o_BC += 1, o_CB += 1

             C  B  A  S   | n_c
        C  [ 0  1  0  0 ] | 1
        B  [ 1  1  1  0 ] | 3
        A  [ 0  1  0  0 ] | 1
        S  [ 0  0  0  2 ] | 2        n = 7

    Ordinal metric δ²_ck = (Σ_{g=c..k} n_g − (n_c + n_k)/2)²:
        C-B: (1+3 − 2)² = 4          C-A: (1+3+1 − 1)² = 16       C-S: (7 − 1.5)² = 30.25
        B-A: (3+1 − 2)² = 4          B-S: (3+1+2 − 2.5)² = 12.25  A-S: (1+2 − 1.5)² = 2.25

    Σ o δ² = 2·(o_CB·4) + 2·(o_BA·4) = 8 + 8 = 16
    Σ n_c n_k δ² = 2·(1·3·4 + 1·1·16 + 1·2·30.25 + 3·1·4 + 3·2·12.25 + 1·2·2.25) = 2·178.5 = 357
    α = 1 − (n − 1)·16/357 = 1 − 96/357 = 261/357 = 0.731092…
    """
    counts = np.array([
        [0, 0, 0, 2],  # item 1
        [0, 1, 1, 0],  # item 2
        [1, 2, 0, 0],  # item 3
        [1, 0, 0, 0],  # item 4
    ])
    o = coincidence_matrix(counts)
    assert o.tolist() == [[0, 1, 0, 0], [1, 1, 1, 0], [0, 1, 0, 0], [0, 0, 0, 2]]
    d2 = ordinal_delta2(o.sum(axis=1))
    assert d2[0, 1] == 4 and d2[0, 2] == 16 and d2[0, 3] == 30.25
    assert d2[1, 2] == 4 and d2[1, 3] == 12.25 and d2[2, 3] == 2.25 and d2[3, 3] == 0
    a = krippendorff_alpha_ordinal(counts)
    assert a.units == 3 and a.pairable == 7
    assert a.value == pytest.approx(261 / 357, abs=1e-12)
    # the same from grade records
    g = pd.DataFrame({"item_id": ["1", "1", "2", "2", "3", "3", "3", "4"],
                      "grade": ["S", "S", "A", "B", "B", "B", "C", "C"]})
    assert count_matrix(g).tolist() == counts.tolist()


def test_alpha_published_example():
    """Krippendorff (2011), 'Computing Krippendorff's Alpha-Reliability', the 4 coders × 12 units
    example with values 1–5: the paper gives α_ordinal = 0.815."""
    coders = [[1, 2, 3, 3, 2, 1, 4, 1, 2, 0, 0, 0], [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, 0, 3],
              [0, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, 0], [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, 0]]
    counts = np.zeros((12, 5))
    for c in coders:
        for u, v in enumerate(c):
            if v:
                counts[u, v - 1] += 1
    assert round(krippendorff_alpha_ordinal(counts).value, 3) == 0.815


def test_alpha_undefined_and_perfect():
    assert krippendorff_alpha_ordinal(np.array([[0, 0, 2, 0], [0, 0, 3, 0]])).value is None  # no variation
    assert krippendorff_alpha_ordinal(np.array([[0, 0, 1, 0]])).value is None  # nothing pairable
    assert krippendorff_alpha_ordinal(np.array([[2, 0, 0, 0], [0, 0, 0, 3]])).value == 1.0


def test_severity_and_disagreement():
    """item a: p S, q A, r C -> final A (C < A < S).  item b: p A, q B -> final B (lower of A, B).
    item c: p C alone (not compared).
    Severity = mean(final rank − own rank), ranks C1 B2 A3 S4:
      p: a 3−4 = −1, b 2−3 = −1           -> −1 (lenient), |d| 1, disagrees 2/2
      q: a 3−3 = 0,  b 2−2 = 0            -> 0, disagrees 0/2
      r: a 3−1 = +2                       -> +2 (strict), disagrees 1/1"""
    g = pd.DataFrame({"item_id": ["a", "a", "a", "b", "b", "c"], "panelist": ["p", "q", "r", "p", "q", "p"],
                      "grade": ["S", "A", "C", "A", "B", "C"]})
    s = panelist_stats(g).set_index("panelist")
    assert s.loc["p", ["graded", "compared", "severity", "mean_abs_distance", "disagreement_rate"]].tolist() \
        == [3, 2, -1.0, 1.0, 1.0]
    assert s.loc["q", ["severity", "disagreement_rate"]].tolist() == [0.0, 0.0]
    assert s.loc["r", ["severity", "mean_abs_distance", "disagreement_rate"]].tolist() == [2.0, 2.0, 1.0]


# ------------------------------------------------------------------ panel.yaml
def test_panel_yaml_errors(tmp_path):
    ws = make_ws(tmp_path, "panelists:\n  - {id: E1}\n  - {id: E2}\n  - {id: E1}\nper_item: 3\nblind: maybe\n")
    proc = run_merit("panel", "status", ws)
    assert_user_error(proc, "panel.yaml, line 6, column 8, field 'blind'")
    (ws / "panel.yaml").write_text("panelists:\n  - {id: E1}\n  - {id: E2}\n  - {id: E1}\nper_item: 4\n")
    proc = run_merit("panel", "status", ws)
    assert_user_error(proc, "panel.yaml, line 4, column 10, field 'panelists.2.id': panelist id 'E1' is declared "
                      "twice (first on line 2)", "panel.yaml, line 5", "per_item is 4 but only 3 panelists")
    (ws / "panel.yaml").unlink()
    assert_user_error(run_merit("panel", "assign", ws), "panel.yaml not found")


# ------------------------------------------------------------------ assignment
def _many_items(n: int) -> str:
    authors = ["A1", "A2;A3", "B1", "B2", "A1;B2", "B3", "A4"]
    lines = ["item_id,kind,title,authors,published_on,views,citations"]
    kinds = ["case", "faq", "sop", "best_practice"]
    for i in range(n):
        a = authors[i % 7]
        lines.append(f"N{i:02d},{kinds[i % 4]},条目 {i},{a},2026-08-{1 + i % 28:02d},0,0")
    return "\n".join(lines) + "\n"


ASSIGN_PANEL = """\
panelists:
  - {id: E1, team: qa}
  - {id: E2, team: qa}
  - {id: E3, team: qa}
  - {id: E4, team: qa}
  - {id: A1}
  - {id: B2}
  - {id: A5}
per_item: 3
exclude_same_team: {same}
"""


@pytest.mark.parametrize("same_team", [False, True])
def test_assignment_rules(tmp_path, same_team):
    ws = make_ws(tmp_path, ASSIGN_PANEL.replace("{same}", "true" if same_team else "false"), grades=False,
                 knowledge=_many_items(40))
    data = load_panel_data(ws)
    plan = plan_assignment(data)
    a = plan.new
    assert len(data.items) == 40
    # k panelists per item, all different
    per_item = a.groupby("item_id")["panelist"].agg(list)
    assert len(per_item) == 40
    assert all(len(p) == 3 and len(set(p)) == 3 for p in per_item)
    authors = dict(zip(data.items["item_id"], data.items["authors"]))
    team = {"A1": "alpha", "A2": "alpha", "A3": "alpha", "A4": "alpha", "A5": "alpha", "B1": "beta",
            "B2": "beta", "B3": "beta", "E1": "qa", "E2": "qa", "E3": "qa", "E4": "qa"}
    for item, panelists in per_item.items():
        for p in panelists:
            assert p not in authors[item], (item, p)  # never one of its authors
            if same_team:
                assert team[p] not in {team[x] for x in authors[item]}, (item, p)
    assert "B2" not in per_item["N03"] and not {"A1", "B2"} & set(per_item["N04"])  # N03 is B2's, N04 A1's and B2's
    # balanced: 120 assignments over 7 panelists -> 17 or 18 each
    loads = a["panelist"].value_counts()
    assert loads.sum() == 120 and loads.max() - loads.min() <= 1, loads.to_dict()
    # deterministic
    again = plan_assignment(load_panel_data(ws)).new
    assert again.equals(a)


def test_assignment_is_incremental_and_counts_existing_grades(tmp_path):
    ws = make_ws(tmp_path, PANEL)
    data = load_panel_data(ws)
    plan = plan_assignment(data)
    need = {it: n for it, n in plan.new.groupby("item_id").size().items()}
    # full_ws grades: K01–K03 have 3+ grades, K04 2 (E1, E2), K05 none, K06 1 (E1), K09 2, K10 5;
    # K07/K08 are outside the period.
    assert need == {"K04": 1, "K05": 3, "K06": 2, "K09": 1}
    assert not set(plan.new.loc[plan.new["item_id"] == "K04", "panelist"]) & {"E1", "E2"}
    # K06 is A7's, K09 A5/A6's: A1 may grade them (exclude_same_team is off)
    proc = run_merit("panel", "assign", ws)
    assert proc.returncode == 0, proc.stderr
    first = (ws / "panel" / "assignments.csv").read_text()
    proc = run_merit("panel", "assign", ws)
    assert "0 new assignments" in proc.stdout
    assert (ws / "panel" / "assignments.csv").read_text() == first


def test_shortfall_warning(tmp_path):
    panel = "panelists:\n  - {id: A1}\n  - {id: A3}\n  - {id: E1}\nper_item: 3\n"
    ws = make_ws(tmp_path, panel, grades=False)
    proc = run_merit("panel", "assign", ws)
    assert proc.returncode == 0, proc.stderr
    # K02 is A1's and A3's: only E1 may grade it
    assert "item K02 can have only 1 of 3 panelists" in proc.stderr


def test_sheets_content_and_determinism(tmp_path):
    from openpyxl import load_workbook

    ws = make_ws(tmp_path, PANEL.replace("per_item: 3", "per_item: 3\nblind: true"), grades=False)
    assert run_merit("panel", "assign", ws).returncode == 0
    sheets = ws / "panel" / "sheets"
    first = {p.name: p.read_bytes() for p in sorted(sheets.iterdir())}
    assert {"E1.xlsx", "E1.csv", "A1.xlsx", "B2.csv"} <= set(first)
    wb = load_workbook(sheets / "E1.xlsx")
    sh = wb["Grading"]
    head = [c.value for c in sh[1]]
    assert head == ["Panelist", "Item id", "Kind", "Title", "Published on", "Grade", "Comment",
                    "Check (do not change)"]  # blind: no authors
    dv = sh.data_validations.dataValidation
    assert len(dv) == 1 and dv[0].formula1 == '"S,A,B,C"' and str(dv[0].sqref) == f"F2:F{sh.max_row}"
    assert sh.column_dimensions["H"].hidden and sh.protection.sheet
    assert sh.cell(row=2, column=6).protection.locked is False and sh.cell(row=2, column=4).protection.locked
    rubric = wb["Rubric"]
    values = [c.value for row in rubric.iter_rows() for c in row if c.value]
    assert any("Novel diagnosis of a hard" in v for v in values)  # rubric.case.S of the default ruleset
    assert wb.properties.created.date().isoformat() == "2026-09-30"
    rows = read_csv(sheets / "E1.csv")
    assert "authors" not in rows[0]
    # byte-identical when run again from scratch
    shutil.rmtree(ws / "panel")
    assert run_merit("panel", "assign", ws).returncode == 0
    assert {p.name: p.read_bytes() for p in sorted(sheets.iterdir())} == first


# ------------------------------------------------------------------ collect
@pytest.fixture
def assigned_ws(tmp_path):
    """full_ws without grades, panel E1–E3, A1, B2 (k = 3), assigned."""
    ws = make_ws(tmp_path, PANEL, grades=False)
    proc = run_merit("panel", "assign", ws)
    assert proc.returncode == 0, proc.stderr
    return ws


def _assigned(ws: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in read_csv(ws / "panel" / "assignments.csv"):
        out.setdefault(r["panelist"], []).append(r["item_id"])
    return out


def test_collect_every_rejection(assigned_ws):
    ws = assigned_ws
    assigned = _assigned(ws)
    e1_items = assigned["E1"]
    not_e1 = next(i for i in ["K01", "K02", "K03", "K04", "K05", "K06", "K09", "K10"] if i not in e1_items)
    knowledge = {r["item_id"]: r for r in read_csv(ws / "data" / "knowledge.csv")}

    def row(p, item, grade, **kw):
        k = knowledge.get(item, {"kind": "case", "title": "无"})
        return sheet_row(p, item, k["kind"], k["title"], grade, **kw)

    good = e1_items[0]
    rows = [
        row("E1", good, "A"),                                   # line 2: fine
        row("E1", "K99", "A"),                                  # line 3: unknown item
        row("X9", good, "A"),                                   # line 4: unknown panelist
        row("E1", e1_items[1], "D"),                            # line 5: grade outside S/A/B/C
        row("E1", not_e1, "B"),                                 # line 6: not assigned to E1
        row("A1", "K01", "S"),                                  # line 7: A1 wrote K01
        {**row("E1", e1_items[2], "B"), "title": "改过的标题"},    # line 8: title edited
        {**row("E1", e1_items[3], "B"), "item_id": not_e1},     # line 9: item id edited
        row("E1", e1_items[4], "C", check=""),                  # line 10: a row added by hand
    ]
    before = snapshot(ws)
    write_csv(ws / "panel" / "returned" / "E1.csv", rows, SHEET_HEADER)
    proc = run_merit("panel", "collect", ws, "--at", "2026-10-05 10:00")
    assert_user_error(
        proc,
        "panel/returned/E1.csv, line 3, field 'item_id': unknown item 'K99'",
        "panel/returned/E1.csv, line 4, field 'panelist': unknown panelist 'X9'",
        "panel/returned/E1.csv, line 5, field 'grade': grade 'D' is not one of S, A, B, C",
        f"panel/returned/E1.csv, line 6, field 'item_id': item '{not_e1}' is not assigned to panelist 'E1'",
        "panel/returned/E1.csv, line 7, field 'panelist': conflict of interest: panelist 'A1' is an author of item 'K01'",
        "panel/returned/E1.csv, line 8, field 'check': this row was changed after the sheet was issued",
        "panel/returned/E1.csv, line 9, field 'check'",
        "panel/returned/E1.csv, line 10, field 'check'",
        "8 problems found; nothing was written",
    )
    assert "line 2," not in proc.stderr
    assert snapshot(ws) == before  # nothing of the run was written
    assert not (ws / "data" / "grades.csv").exists()


def test_collect_same_team_conflict_and_duplicates(tmp_path):
    ws = make_ws(tmp_path, PANEL, grades=False)
    assert run_merit("panel", "assign", ws).returncode == 0
    # exclusion switched on after the sheets were issued: A1 (alpha) may no longer grade alpha items
    (ws / "panel.yaml").write_text(PANEL + "exclude_same_team: true\n", encoding="utf-8")
    knowledge = {r["item_id"]: r for r in read_csv(ws / "data" / "knowledge.csv")}
    a1 = _assigned(ws)["A1"]
    alpha_item = next(i for i in a1 if knowledge[i]["authors"].split(";")[0].startswith("A"))
    rows = [sheet_row("A1", alpha_item, knowledge[alpha_item]["kind"], knowledge[alpha_item]["title"], "B")]
    write_csv(ws / "panel" / "returned" / "A1.csv", rows, SHEET_HEADER)
    proc = run_merit("panel", "collect", ws)
    assert_user_error(proc, "line 2", f"is in team 'alpha' like an author of item '{alpha_item}'")
    # the same grade twice is fine, two different grades in one run are not
    (ws / "panel.yaml").write_text(PANEL, encoding="utf-8")
    e2 = _assigned(ws)["E2"][0]
    k = knowledge[e2]
    write_csv(ws / "panel" / "returned" / "A1.csv", [sheet_row("E2", e2, k["kind"], k["title"], "B")], SHEET_HEADER)
    write_csv(ws / "panel" / "returned" / "E2.csv", [sheet_row("E2", e2, k["kind"], k["title"], "A")], SHEET_HEADER)
    proc = run_merit("panel", "collect", ws)
    assert_user_error(proc, "panel/returned/E2.csv, line 2", f"grades item '{e2}' A here but B in "
                      "panel/returned/A1.csv, line 2")


def test_collect_rejects_bad_files(assigned_ws):
    ws = assigned_ws
    ret = ws / "panel" / "returned"
    ret.mkdir(parents=True)
    (ret / "broken.xlsx").write_bytes(b"not a zip")
    (ret / "wrong.csv").write_text("item,score\nK01,A\n", encoding="utf-8")
    proc = run_merit("panel", "collect", ws)
    assert_user_error(proc, "panel/returned/broken.xlsx: the file cannot be read as an Excel workbook",
                      "panel/returned/wrong.csv, line 1: missing columns panelist, item_id, kind, title, grade, check")
    shutil.rmtree(ret)
    assert_user_error(run_merit("panel", "collect", ws), "no returned sheets")


def test_collect_regrade_audit(assigned_ws):
    ws = assigned_ws
    sheets, ret = ws / "panel" / "sheets", ws / "panel" / "returned"
    e1 = _assigned(ws)["E1"]
    fill_xlsx(sheets / "E1.xlsx", ret / "E1.xlsx", {e1[0]: "A", e1[1]: "b"}, {e1[1]: "步骤不全"})
    proc = run_merit("panel", "collect", ws, "--at", "2026-10-05 10:00")
    assert proc.returncode == 0, proc.stderr
    assert "2 new grades, 0 regrades, 0 unchanged" in proc.stdout
    grades = read_csv(ws / "data" / "grades.csv")
    assert [(g["item_id"], g["panelist"], g["grade"], g["graded_at"], g["comment"]) for g in grades] == [
        (e1[0], "E1", "A", "2026-10-05 10:00:00", ""), (e1[1], "E1", "B", "2026-10-05 10:00:00", "步骤不全")]
    # the same grades again: nothing changes, not even the file
    before = snapshot(ws)
    proc = run_merit("panel", "collect", ws, "--at", "2026-10-06 10:00")
    assert "0 new grades, 0 regrades, 2 unchanged" in proc.stdout
    assert snapshot(ws) == before
    # a regrade replaces the value in grades.csv, the audit keeps before and after
    fill_xlsx(sheets / "E1.xlsx", ret / "E1.xlsx", {e1[0]: "S", e1[1]: "B"}, {e1[1]: "步骤不全"})
    proc = run_merit("panel", "collect", ws, "--at", "2026-10-07 09:30")
    assert "0 new grades, 1 regrades, 1 unchanged" in proc.stdout, proc.stdout
    grades = read_csv(ws / "data" / "grades.csv")
    assert [(g["item_id"], g["grade"], g["graded_at"]) for g in grades] == [
        (e1[0], "S", "2026-10-07 09:30:00"), (e1[1], "B", "2026-10-05 10:00:00")]
    audit = read_csv(ws / "panel" / "audit.csv")
    assert [(a["at"], a["panelist"], a["item_id"], a["before"], a["after"], a["source"], a["line"]) for a in audit] == [
        ("2026-10-05 10:00:00", "E1", e1[0], "", "A", "panel/returned/E1.xlsx", "2"),
        ("2026-10-05 10:00:00", "E1", e1[1], "", "B", "panel/returned/E1.xlsx", "3"),
        ("2026-10-07 09:30:00", "E1", e1[0], "A", "S", "panel/returned/E1.xlsx", "2"),
    ]
    # the grades table still validates and the cycle runs on it
    assert run_merit("check", ws).returncode == 0


def test_collect_keeps_existing_grades_file(tmp_path):
    """An imported grades.csv (with a BOM and CRLF) keeps its rows, order and form."""
    ws = make_ws(tmp_path, PANEL)
    path = ws / "data" / "grades.csv"
    original = path.read_text(encoding="utf-8")
    path.write_bytes(("\ufeff" + original.replace("\n", "\r\n")).encode("utf-8"))
    assert run_merit("panel", "assign", ws).returncode == 0
    e3 = _assigned(ws)["E3"]
    fill_csv(ws / "panel" / "sheets" / "E3.csv", ws / "panel" / "returned" / "E3.csv", {e3[0]: "C"})
    proc = run_merit("panel", "collect", ws, "--at", "2026-10-05 10:00")
    assert proc.returncode == 0, proc.stderr
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert text.startswith(original.replace("\n", "\r\n"))
    assert text.endswith(f"{e3[0]},E3,C,2026-10-05 10:00:00,\r\n")


def test_duplicate_grades_in_grades_csv_are_refused(tmp_path):
    ws = make_ws(tmp_path, PANEL)
    with open(ws / "data" / "grades.csv", "a", encoding="utf-8") as fh:
        fh.write("K01,E2,A,2026-07-22 10:00,\n")
    proc = run_merit("panel", "status", ws)
    assert_user_error(proc, "grades.csv, line 23, field 'panelist': panelist 'E2' grades item 'K01' a second time "
                      "(first on line 3)")


# ------------------------------------------------------------------ status
def test_status(tmp_path):
    ws = make_ws(tmp_path, PANEL)
    assert run_merit("panel", "assign", ws).returncode == 0
    proc = run_merit("panel", "status", ws)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Panelists" in out and "Items of the cycle (3 grades each)" in out
    assert "Missing before the cycle can be run (4 items):" in out
    # K05 has no grade: three panelists are pending; K04 has E1, E2 and waits for one more
    assert "K05 (case) 证书过期导致的中断: 3 more grades needed; waiting for" in out
    assert "K04 (faq) 鉴权失败常见问题: 1 more grade needed; waiting for" in out
    from merit.panel.report import status

    st = status(ws)
    row = st.items.set_index("item_id").loc["K10"]
    assert (row["grades"], row["final_grade"], bool(row["flagged"])) == (5, "B", True)
    p = st.panelists.set_index("panelist")
    assert p["assigned"].sum() == 7 and p["graded"].sum() == 0 and p["open"].sum() == 7
    assert not st.ready


def test_status_ready(tmp_path):
    ws = make_ws(tmp_path, PANEL.replace("per_item: 3", "per_item: 1"))
    # every item of the period but K05 has a grade; give K05 one
    with open(ws / "data" / "grades.csv", "a", encoding="utf-8") as fh:
        fh.write("K05,E3,B,2026-08-12 10:00,\n")
    proc = run_merit("panel", "status", ws)
    assert "All items have their grades: the cycle can be run." in proc.stdout


# ------------------------------------------------------------------ report
def test_report_values(tmp_path):
    """The full fixture's own grades (EXPECTED.md, Knowledge).  Ranks C1 B2 A3 S4.

    Finals: K01 A,S,B -> A (spread S−B = 2, flagged); K02 S,B,S -> S (2, flagged);
    K03 C,S,B,A -> B (3, flagged); K04 A,S -> A (1); K06 C (0); K09 B,C -> C (1);
    K10 B,B,A,C,S -> B (3, flagged); K05 ungraded.
    E1 over the items with ≥ 2 grades (K06 alone is not compared):
      K01 A/A 0, K02 S/S 0, K03 C/B +1, K04 A/A 0, K09 B/C −1, K10 B/B 0
      -> severity 0/6 = 0, mean |d| 2/6, disagreement 2/6
    E2: K01 S/A −1, K02 B/S +2, K03 S/B −2, K04 S/A −1, K09 C/C 0, K10 B/B 0
      -> severity −2/6 = −0.3333, mean |d| 6/6 = 1, disagreement 4/6 = 0.6667
    """
    ws = make_ws(tmp_path, PANEL)
    proc = run_merit("panel", "report", ws)
    assert proc.returncode == 0, proc.stderr
    items = {r["item_id"]: r for r in read_csv(ws / "panel" / "report.csv")}
    assert list(items) == ["K01", "K02", "K03", "K04", "K05", "K06", "K09", "K10"]
    got = {k: (r["final_grade"], r["grades"], r["spread"], r["flagged"]) for k, r in items.items()}
    assert got == {
        "K01": ("A", "S;A;B", "2", "true"), "K02": ("S", "S;S;B", "2", "true"),
        "K03": ("B", "S;A;B;C", "3", "true"), "K04": ("A", "S;A", "1", "false"),
        "K05": ("", "", "", "false"), "K06": ("C", "C", "0", "false"),
        "K09": ("C", "B;C", "1", "false"), "K10": ("B", "S;A;B;B;C", "3", "true"),
    }
    assert items["K03"]["by_panelist"] == "E1=C;E2=S;E3=B;E4=A"
    assert items["K02"]["authors"] == "A1; A3"
    pan = {r["panelist"]: r for r in read_csv(ws / "panel" / "panelists.csv")}
    assert list(pan) == ["E1", "E2", "E3", "A1", "B2", "E4", "E5"]  # panel.yaml order, then other graders
    assert (pan["E1"]["graded"], pan["E1"]["compared"], pan["E1"]["severity"], pan["E1"]["mean_abs_distance"],
            pan["E1"]["disagreement_rate"]) == ("7", "6", "0", "0.3333", "0.3333")
    assert (pan["E2"]["severity"], pan["E2"]["mean_abs_distance"], pan["E2"]["disagreement_rate"]) \
        == ("-0.3333", "1", "0.6667")
    assert pan["A1"]["graded"] == "0" and pan["A1"]["severity"] == ""
    agreement = {r["scope"]: r for r in read_csv(ws / "panel" / "agreement.csv")}
    # 6 items with >= 2 grades, 2+... = 3+3+4+2+2+5 = 19 pairable grades
    assert (agreement["all"]["items"], agreement["all"]["grades"]) == ("6", "19")
    from merit.panel.agreement import panel_alpha
    from merit.panel.report import num

    grades = pd.read_csv(ws / "data" / "grades.csv", dtype=str)
    cycle = grades[grades["item_id"] != "K07"]
    assert float(agreement["all"]["alpha"]) == pytest.approx(panel_alpha(cycle).value, abs=1e-4)

    # the PDF
    pdf = ws / "panel" / "report.pdf"
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "Expert panel report" in text
    assert "Items for a calibration discussion" in text
    assert "E1: C, E2: S, E3: B, E4: A" in text  # K03's grades
    assert num(panel_alpha(cycle).value, 3) in text
    assert "Krippendorff" in text and "Severity" in text
    first = pdf.read_bytes()
    assert run_merit("panel", "report", ws).returncode == 0
    assert pdf.read_bytes() == first  # deterministic


def test_report_blind_hides_authors(tmp_path):
    ws = make_ws(tmp_path, PANEL + "blind: true\n")
    assert run_merit("panel", "report", ws, "--no-pdf").returncode == 0
    assert {r["authors"] for r in read_csv(ws / "panel" / "report.csv")} == {""}
    assert not (ws / "panel" / "report.pdf").exists()


def test_item_verdicts_for_scorecards(tmp_path):
    from merit.panel.report import workspace_item_verdicts

    ws = make_ws(tmp_path, PANEL)
    v = workspace_item_verdicts(ws).set_index("item_id")
    assert v.loc["K03", ["final_grade", "flagged"]].tolist() == ["B", True]
    assert v.loc["K04", ["final_grade", "flagged"]].tolist() == ["A", False]


# ------------------------------------------------------------------ the whole workflow, through the CLI
def test_workflow_assign_collect_report_run(tmp_path):
    ws = make_ws(tmp_path, PANEL + "exclude_same_team: true\n", grades=False)
    proc = run_merit("panel", "assign", ws)
    assert proc.returncode == 0, proc.stderr
    assigned = _assigned(ws)
    # every item of the period has 3 panelists; K08 (October) and K07 (June) are not in the cycle
    items = {i for v in assigned.values() for i in v}
    assert items == {"K01", "K02", "K03", "K04", "K05", "K06", "K09", "K10"}
    sheets, ret = ws / "panel" / "sheets", ws / "panel" / "returned"
    # every panelist grades: E1 leniently (S), E2 strictly (C), the others B; half return XLSX, half CSV
    plan = {"E1": "S", "E2": "C", "E3": "B", "A1": "B", "B2": "B"}
    for i, (pid, grade) in enumerate(plan.items()):
        if pid not in assigned:
            continue
        grades = {item: grade for item in assigned[pid]}
        if i % 2:
            fill_csv(sheets / f"{pid}.csv", ret / f"{pid}.csv", grades)
        else:
            fill_xlsx(sheets / f"{pid}.xlsx", ret / f"{pid}.xlsx", grades)
    proc = run_merit("panel", "collect", ws, "--at", "2026-10-05 10:00")
    assert proc.returncode == 0, proc.stderr
    assert "24 new grades" in proc.stdout
    proc = run_merit("panel", "status", ws)
    assert "All items have their grades" in proc.stdout
    proc = run_merit("panel", "report", ws)
    assert proc.returncode == 0, proc.stderr
    pan = {r["panelist"]: r for r in read_csv(ws / "panel" / "panelists.csv")}
    assert float(pan["E1"]["severity"]) < 0 < float(pan["E2"]["severity"])  # E1 lenient, E2 strict
    # the cycle runs on the collected grades
    proc = run_merit("run", ws, "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    metrics = pd.read_csv(ws / "out" / "metrics.csv", dtype={"value": str})
    org = metrics[(metrics["scope"] == "org") & (metrics["breakdown"].isna())].set_index("metric")["value"]
    assert org["knowledge_ungraded"] == "0"
    report = {r["item_id"]: r for r in read_csv(ws / "panel" / "report.csv")}
    flagged = sum(r["flagged"] == "true" for r in report.values())
    assert float(org["knowledge_flagged"]) == flagged


def test_knowledge_flagged_metric():
    """Default ruleset: items whose grades spread over 2 steps or more, credit-split.
    In the period: K01 (A1), K02 (A1; A3), K03 (A2; A4; B1), K10 (A3) are flagged.
    A1 = 1 + 1/2 = 1.5; A3 = 1/2 + 1 = 1.5; B1 = 1/3; org = 4."""
    from merit.core.evaluate import evaluate
    from merit.core.pipeline import prepare

    prep = prepare(FIXTURES / "full_ws")
    ev = evaluate(prep.plan, prep.tables, prep.ws)
    agent = ev.frame("agent").set_index("id")["knowledge_flagged"]
    assert agent["A1"] == pytest.approx(1.5) and agent["A3"] == pytest.approx(1.5)
    assert agent["B1"] == pytest.approx(1 / 3) and agent["B2"] == 0
    assert ev.frame("org")["knowledge_flagged"].iloc[0] == pytest.approx(4)
