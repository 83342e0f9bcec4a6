"""Scoring: curves, weights with insufficient data, grades, ranks.

Expected totals are worked out by hand from the fixture's metric values, which
are themselves derived by hand in tests/fixtures/service_ws/EXPECTED.md:
A1 fdr 2/5 (n 5), bad_rate_service 1/3 (n 3); A2 fdr 3/6 (n 6), bsr 1/5 (n 5);
A3 no tickets (both undefined); B1 fdr 4/6 (n 6), bsr 1/3 (n 3);
B2 fdr 2/3 (n 3), bsr 1/3 (n 3).  Levels: A1 P3, A2 P2, A3 P4, B1 P3, B2 P2.
"""

from __future__ import annotations

import csv
import math

import numpy as np
import pandas as pd
import pytest

from merit.core.ruleset import Band, Curve, load_ruleset
from merit.core.scoring import _forced, _grades, apply_curve
from tests.conftest import run_merit


def test_linear_curve_interpolates_and_clamps():
    curve = Curve(points=[(0.6, 0), (0.85, 80), (0.95, 100)])
    got = apply_curve(curve, np.array([0.5, 0.6, 0.725, 0.85, 0.9, 1.0, np.nan]))
    # 0.725 is halfway from 0.6 to 0.85 → 40; 0.9 halfway from 0.85 to 0.95 → 90
    assert got[:6].tolist() == pytest.approx([0, 0, 40, 80, 90, 100])
    assert math.isnan(got[6])


def test_lower_is_better_curve():
    curve = Curve(points=[(0.0, 100), (0.03, 80), (0.10, 0)])
    got = apply_curve(curve, np.array([0.0, 0.015, 0.065, 0.2]))
    # 0.015 halfway 0→0.03 → 90; 0.065 halfway 0.03→0.10 → 40
    assert got.tolist() == pytest.approx([100, 90, 40, 0])


def test_bands_first_match_wins():
    curve = Curve(bands=[Band(min=0.9, points=100), Band(min=0.8, points=70), Band(min=0.0, points=10)])
    got = apply_curve(curve, np.array([0.95, 0.9, 0.85, 0.1, -1.0]))
    assert got.tolist() == [100, 100, 70, 10, 0]  # below every band: 0 points
    lower = Curve(bands=[Band(max=0.02, points=100), Band(max=0.05, points=50)])
    assert apply_curve(lower, np.array([0.01, 0.02, 0.04, 0.2])).tolist() == [100, 100, 50, 0]


def test_grades_from_bands():
    from merit.core.ruleset import Scoring, GradeBand
    scoring = Scoring(grades=[GradeBand(grade="S", min=90), GradeBand(grade="A", min=80), GradeBand(grade="D", min=0)])
    got = _grades(np.array([95.0, 90.0, 89.99, 0.0, np.nan]), scoring)
    assert got.tolist() == ["S", "S", "A", "D", ""]


def test_forced_distribution_by_rank():
    # 3 ranked agents, shares A 34 %, B 33 %, C 33 %: rank/3 = 0.33 → A, 0.67 → B, 1.0 → C
    ranks = pd.Series([1, 2, 3, None], dtype="Int64")
    assert _forced(ranks, 3, {"A": 0.34, "B": 0.33, "C": 0.33}).tolist() == ["A", "B", "C", ""]
    # ties share the better grade: two agents ranked 1
    ranks = pd.Series([1, 1, 3], dtype="Int64")
    assert _forced(ranks, 3, {"A": 0.34, "B": 0.33, "C": 0.33}).tolist() == ["A", "A", "C"]


KPIS = """\
scoring:
  kpis:
    fdr:
      weight: 2
      min_n: 4
      curve: {points: [[0, 0], [1, 100]]}
      by_level:
        P2: {points: [[0, 0], [0.5, 100]]}
    bad_rate_service:
      weight: 1
      direction: lower
      min_n: 4
      curve: {points: [[0, 100], [0.5, 0]]}
"""


def test_scores_end_to_end(service_ws):
    # A ruleset that keeps the default's metrics and scores two KPIs only.
    (service_ws / "scoring.yaml").write_text(
        "name: scoring-test\nextends: default\n" + KPIS + """\
  grades:
    - {grade: A, min: 60}
    - {grade: B, min: 40}
    - {grade: C, min: 0}
""", encoding="utf-8")
    # the default's other KPIs are removed with null
    text = (service_ws / "scoring.yaml").read_text(encoding="utf-8")
    others = [k for k in load_ruleset("default").ruleset.scoring.kpis if k not in ("fdr", "bad_rate_service")]
    removed = "\n".join(f"    {k}: null" for k in others)
    (service_ws / "scoring.yaml").write_text(text.replace("  kpis:\n", "  kpis:\n" + removed + "\n", 1),
                                             encoding="utf-8")
    proc = run_merit("run", service_ws, "--no-pdf", "--ruleset", "scoring.yaml")
    assert proc.returncode == 0, proc.stderr
    with open(service_ws / "out" / "scores.csv", newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["agent_id", "name", "team", "level", "total", "grade", "rank",
                                     "fdr", "bad_rate_service", "team_rank"]
        rows = {r["agent_id"]: r for r in reader}
    # A1 (P3): fdr 0.4 → 40 points; bsr n 3 < 4 → insufficient, its weight moves to fdr → total 40 → B
    assert float(rows["A1"]["fdr"]) == pytest.approx(40)
    assert rows["A1"]["bad_rate_service"] == ""
    assert float(rows["A1"]["total"]) == pytest.approx(40)
    assert rows["A1"]["grade"] == "B"
    # A2 (P2): P2 curve 0.5 → 100; bsr 0.2 → 100 − 0.2/0.5·100 = 60; total (2·100 + 60)/3 = 86.667 → A
    assert float(rows["A2"]["fdr"]) == pytest.approx(100)
    assert float(rows["A2"]["bad_rate_service"]) == pytest.approx(60)
    assert float(rows["A2"]["total"]) == pytest.approx(260 / 3, abs=1e-9)
    assert rows["A2"]["grade"] == "A"
    # A3: no tickets: nothing to score, no total, no grade, no rank
    assert rows["A3"]["total"] == rows["A3"]["grade"] == rows["A3"]["rank"] == ""
    # B1 (P3): fdr 4/6 → 66.667; bsr insufficient → total 66.667 → A
    assert float(rows["B1"]["total"]) == pytest.approx(200 / 3, abs=1e-9)
    assert rows["B1"]["grade"] == "A"
    # B2: fdr n 3 and bsr n 3 are both below 4 → no total
    assert rows["B2"]["total"] == ""
    # ranks: A2 86.7 (1), B1 66.7 (2), A1 40 (3); within teams: alpha A2 1, A1 2; beta B1 1
    assert [rows[a]["rank"] for a in ("A2", "B1", "A1")] == ["1", "2", "3"]
    assert [rows[a]["team_rank"] for a in ("A2", "A1", "B1")] == ["1", "2", "1"]
