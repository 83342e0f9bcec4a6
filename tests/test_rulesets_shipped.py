"""The shipped rulesets: the same data scores differently under small_team.

Hand-worked from tests/fixtures/service_ws/EXPECTED.md (resolution hours per
ticket): within 12 h are T05 (2 h), T06 (1), T08 (2), T19 (12), T10 (12),
T13 (1), T16 (1.5), T18 (8); T01 (23), T11 (24) and T14 (18) are within 24 h only.
"""

from __future__ import annotations

import csv
from fractions import Fraction as F

import pytest

from merit.core.compile import compile_ruleset
from merit.core.ruleset import load_ruleset, shipped_rulesets
from tests.conftest import run_merit


def test_every_shipped_ruleset_compiles():
    assert {"default", "small_team"} <= set(shipped_rulesets())
    for name in shipped_rulesets():
        compile_ruleset(load_ruleset(name))


def _read(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    import shutil
    from tests.conftest import FIXTURES
    out = {}
    for name in ("default", "small_team"):
        ws = tmp_path_factory.mktemp(name) / "ws"
        shutil.copytree(FIXTURES / "service_ws", ws)
        proc = run_merit("run", ws, "--no-pdf", "--ruleset", name)
        assert proc.returncode == 0, proc.stderr
        metrics = {(r["scope"], r["id"], r["breakdown"], r["metric"]): r["value"]
                   for r in _read(ws / "out" / "metrics.csv")}
        out[name] = (metrics, {r["agent_id"]: r for r in _read(ws / "out" / "scores.csv")},
                     list(_read(ws / "out" / "scores.csv")[0].keys()))
    return out


@pytest.mark.parametrize("scope, ident, within24, within12", [
    ("agent", "A1", F(2, 5), F(1, 5)),   # 24 h: T01, T05; 12 h: T05
    ("agent", "A2", F(3, 6), F(3, 6)),   # 24 h: T06, T08, T19; 12 h: the same three
    ("agent", "B1", F(4, 6), F(2, 6)),   # 24 h: T10, T11, T13, T14; 12 h: T10, T13
    ("agent", "B2", F(2, 3), F(2, 3)),   # T16, T18 both ways
    ("org", "org", F(11, 20), F(8, 20)),
])
def test_fdr_window_differs(both, scope, ident, within24, within12):
    assert float(both["default"][0][(scope, ident, "", "fdr")]) == pytest.approx(float(within24), abs=1e-9)
    assert float(both["small_team"][0][(scope, ident, "", "fdr")]) == pytest.approx(float(within12), abs=1e-9)


def test_scoring_differs(both):
    _, default_scores, default_cols = both["default"]
    _, small_scores, small_cols = both["small_team"]
    assert "innovation_points" in default_cols and "innovation_points" not in small_cols
    assert "handoff_rate" not in small_cols
    # default: fdr needs 20 tickets, nobody has them → insufficient everywhere
    assert all(default_scores[a]["fdr"] == "" for a in default_scores)
    # small team: min 5 tickets, curve 0.3 → 0, 0.6 → 80:
    # A1 0.2 → 0; A2 0.5 → (0.2/0.3)·80 = 53.33; B1 1/3 → (1/30)/0.3·80 = 8.89; B2 n 3 < 5 → insufficient
    assert float(small_scores["A1"]["fdr"]) == pytest.approx(0)
    assert float(small_scores["A2"]["fdr"]) == pytest.approx(160 / 3, abs=1e-9)
    assert float(small_scores["B1"]["fdr"]) == pytest.approx(80 / 9, abs=1e-9)
    assert small_scores["B2"]["fdr"] == ""
    assert {r["grade"] for r in small_scores.values()} <= {"A", "B", "C", ""}
