"""Fair: no data is not a bad grade (issue 10).

Every expected number is worked out by hand below from the definitions
(docs/metrics.md's metric catalogue, rulesets/default.yaml's scoring), never copied
from merit's output.

The workspace `fair_ws` (September 2026, Asia/Shanghai; 2026-09-01 is a
Tuesday, the month has 22 weekdays):

| agent | team | level | hired_on | tickets | timelog | credits |
|---|---|---|---|---|---|---|
| V1 | alpha | P3 | 2024-01-01 | 20, perfect | 4 days × 8 h | none |
| N1 | alpha | P3 | 2026-09-24 | 6: 5 within 24 h, 1 in 30 h, none reopened | none | none |
| V2 | beta | P3 | 2024-01-01 | 20, perfect | 10 days × 8 h | none |
| N2 | beta | P3 | 2026-09-24 | 6, as N1's | none | an S case, a landed requirement, a patent, two onsite visits |

"Perfect" tickets: created on a September weekday at 09:00, resolved two
hours later, never reopened, rated good (csat 5), not escalated, no handoff.

Default scoring (weights: fdr 20, fcr 15, bad_rate_service 15, good_rate 10,
independent_closure 10, productivity 15, dts_p80_hours 10, handoff_rate 5,
knowledge_points 8, requirement_points 5, innovation_points 4,
influence_points 3; total weight 120):

* V1: fdr 1 → 100, fcr 1 → 100, bad_rate_service 0 → 100, good_rate 1 → 100,
  independent_closure 1 → 100, productivity 20 resolved / 4 logged days = 5 →
  80, dts_p80 2 h → 100 (clamped below 8 h), handoff_rate 0 → 100, the four
  credit KPIs 0 → 0 (min_n 0: producing nothing is a real 0).  Every KPI has
  enough data (n 20 ≥ min_n 20 / 10).  Total = (2000 + 1500 + 1500 + 1000 +
  1000 + 15·80 + 1000 + 500 + 0) / 120 = 9700 / 120 = 80.8333… → A.
* V2: the same but productivity 20 / 10 = 2 → 0 points: 8500 / 120 =
  70.8333… → B.
* N1: fdr 5/6 (83 %), fcr 6/6 (100 %) on n 6 < 20; no rating (good_rate and
  bad_rate_service undefined); productivity 6 resolved / 5 weekdays employed
  (24, 25, 28, 29, 30 September) = 1.2 on n 6 < 20; dts_p80 and handoff_rate
  n 6 < 20.  Only the four credit KPIs (weight 8 + 5 + 4 + 3 = 20) have enough
  data, all 0.  Today: total 0, grade D.  Scored weight 20 / 120 = 1/6 < 0.5:
  not rated.
* N2: as N1 on service; knowledge 30 points (one S case) → 100,
  requirement_points 5 (excitement) × 4 (all customers) = 20 → 100,
  innovation_points 10 (patent) × 4 (national) = 40 → 100, influence_points
  5 + 5 (two onsite visits) = 10 → 100.  Today: total 100, grade S, rank 1
  (ahead of both veterans).  Scored weight 1/6: not rated.
"""

from __future__ import annotations

import csv
import json
import datetime as dt
from pathlib import Path

import pytest

from tests.conftest import assert_user_error, copy_of, run_merit

PERIOD_START = dt.date(2026, 9, 1)


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


TICKET_HEADER = ["ticket_id", "customer_id", "channel", "created_at", "first_response_at", "resolved_at",
                 "closed_at", "assignee", "reopened", "escalated", "product_issue", "rating", "csat",
                 "bad_review_cause", "handle_minutes", "wait_seconds"]


def _weekdays(first: dt.date, count: int) -> list[dt.date]:
    days, day = [], first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def _perfect_tickets(agent: str, prefix: str) -> list[list]:
    """20 tickets on the first 20 weekdays of September, resolved in 2 hours, rated good."""
    rows = []
    for i, day in enumerate(_weekdays(PERIOD_START, 20), start=1):
        created = dt.datetime.combine(day, dt.time(9))
        rows.append([f"{prefix}{i:02d}", f"C{i:02d}", "im", f"{created:%Y-%m-%d %H:%M}",
                     f"{created + dt.timedelta(minutes=10):%Y-%m-%d %H:%M}",
                     f"{created + dt.timedelta(hours=2):%Y-%m-%d %H:%M}", "", agent, 0, "false", "false",
                     "good", 5, "", 30, 60])
    return rows


def _new_hire_tickets(agent: str, prefix: str) -> list[list]:
    """6 tickets from 24 to 29 September: five resolved in 2 hours, the last in 30 hours."""
    rows = []
    for i, day in enumerate((24, 25, 26, 27, 28, 29), start=1):
        created = dt.datetime(2026, 9, day, 9)
        hours = 30 if i == 6 else 2
        rows.append([f"{prefix}{i}", f"C{i:02d}", "email", f"{created:%Y-%m-%d %H:%M}", "",
                     f"{created + dt.timedelta(hours=hours):%Y-%m-%d %H:%M}", "", agent, 0, "false", "false",
                     "", "", "", 20, 30])
    return rows


def make_fair_ws(root: Path, *, ruleset: str = "default", only_required: bool = False) -> Path:
    """The workspace described in the module docstring (with only agents and tickets if asked)."""
    data = root / "data"
    data.mkdir(parents=True)
    (root / "cycle.yaml").write_text(
        "name: 2026-09\nperiod: {start: 2026-09-01, end: 2026-09-30}\n"
        f"timezone: Asia/Shanghai\nruleset: {ruleset}\n", encoding="utf-8")
    _write_csv(data / "agents.csv", ["agent_id", "name", "team", "level", "role", "hired_on", "left_on"], [
        ["V1", "Veteran One", "alpha", "P3", "web", "2024-01-01", ""],
        ["N1", "New Hire One", "alpha", "P3", "web", "2026-09-24", ""],
        ["V2", "Veteran Two", "beta", "P3", "web", "2024-01-01", ""],
        ["N2", "New Hire Two", "beta", "P3", "web", "2026-09-24", ""],
    ])
    _write_csv(data / "tickets.csv", TICKET_HEADER,
               _perfect_tickets("V1", "V1-") + _new_hire_tickets("N1", "N1-")
               + _perfect_tickets("V2", "V2-") + _new_hire_tickets("N2", "N2-"))
    if only_required:
        return root
    _write_csv(data / "handoffs.csv", ["ticket_id", "from_agent", "to_agent", "at"],
               [["N1-1", "N1", "V1", "2026-09-24 10:00"]])
    timelog = [["V1", f"{d}", "online_support", 8] for d in _weekdays(PERIOD_START, 4)]
    timelog += [["V2", f"{d}", "online_support", 8] for d in _weekdays(PERIOD_START, 10)]
    _write_csv(data / "timelog.csv", ["agent_id", "date", "activity", "hours"], timelog)
    _write_csv(data / "knowledge.csv", ["item_id", "kind", "title", "authors", "published_on", "views", "citations"],
               [["K1", "case", "Disk full on upgrade", "N2", "2026-09-28", 10, 1]])
    _write_csv(data / "grades.csv", ["item_id", "panelist", "grade", "graded_at", "comment"],
               [["K1", "P01", "S", "2026-09-29 10:00", ""]])
    _write_csv(data / "requirements.csv", ["requirement_id", "title", "submitter", "submitted_on", "kano",
                                           "impact_share", "status", "landed_on"],
               [["R1", "Bulk export", "N2", "2026-09-25", "excitement", 1.0, "landed", "2026-09-29"]])
    _write_csv(data / "innovations.csv", ["innovation_id", "kind", "title", "owners", "honor", "recognized_on"],
               [["I1", "patent", "Log triage", "N2", "national", "2026-09-28"]])
    _write_csv(data / "influence.csv", ["record_id", "kind", "owners", "customer_id", "revenue", "date"],
               [["F1", "onsite", "N2", "C01", 0, "2026-09-25"], ["F2", "onsite", "N2", "C02", 0, "2026-09-28"]])
    return root


@pytest.fixture
def fair_ws(tmp_path) -> Path:
    return make_fair_ws(tmp_path / "fair")


@pytest.fixture(scope="module")
def fair_run(tmp_path_factory) -> Path:
    """fair_ws after ``merit run --no-pdf``, once for the module: read it, or copy it to change it."""
    ws = make_fair_ws(tmp_path_factory.mktemp("fair-run") / "fair")
    proc = run_merit("run", ws, "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    return ws


def read_rows(path: Path) -> tuple[list[str], dict[str, dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    return list(reader.fieldnames or []), rows


def scores_by_agent(ws: Path) -> tuple[list[str], dict[str, dict[str, str]]]:
    header, rows = read_rows(ws / "out" / "scores.csv")
    return header, {r["agent_id"]: r for r in rows}


def metric_value(ws: Path, scope: str, sid: str, metric: str) -> dict[str, str]:
    _, rows = read_rows(ws / "out" / "metrics.csv")
    hits = [r for r in rows if (r["scope"], r["id"], r["breakdown"], r["metric"]) == (scope, sid, "", metric)]
    assert len(hits) == 1, (scope, sid, metric, hits)
    return hits[0]


# ------------------------------------------------------------ not rated


def test_new_hire_with_too_little_data_is_not_rated(fair_run):
    fair_ws = fair_run  # run by the fixture (exit 0)
    header, rows = scores_by_agent(fair_ws)
    # same columns as ever: the unrated agents' total, grade and rank are empty
    assert header[:7] == ["agent_id", "name", "team", "level", "total", "grade", "rank"]
    for aid in ("N1", "N2"):
        assert rows[aid]["total"] == rows[aid]["grade"] == rows[aid]["rank"] == rows[aid]["team_rank"] == "", rows[aid]
    # the numbers are still there: N1's credit KPIs are a real 0, N2's 100; service KPIs are insufficient
    assert [rows["N1"][k] for k in ("knowledge_points", "requirement_points", "innovation_points",
                                    "influence_points")] == ["0", "0", "0", "0"]
    assert [rows["N2"][k] for k in ("knowledge_points", "requirement_points", "innovation_points",
                                    "influence_points")] == ["100", "100", "100", "100"]
    assert rows["N1"]["fdr"] == rows["N1"]["fcr"] == ""
    # the veterans: 9700/120 and 8500/120, ranked 1 and 2 of 2 (N2's 100 and N1's 0 do not count)
    assert float(rows["V1"]["total"]) == pytest.approx(9700 / 120, abs=1e-9)
    assert float(rows["V2"]["total"]) == pytest.approx(8500 / 120, abs=1e-9)
    assert (rows["V1"]["grade"], rows["V1"]["rank"], rows["V1"]["team_rank"]) == ("A", "1", "1")
    assert (rows["V2"]["grade"], rows["V2"]["rank"], rows["V2"]["team_rank"]) == ("B", "2", "1")
    # N1's metrics are what the issue says: FDR 5/6, FCR 6/6, on 6 tickets
    assert float(metric_value(fair_ws, "agent", "N1", "fdr")["value"]) == pytest.approx(5 / 6, abs=1e-11)
    assert metric_value(fair_ws, "agent", "N1", "fcr")["value"] == "1"


def test_unrated_agents_do_not_count_in_others_ranks_or_forced_distribution(fair_ws):
    from merit.cycles.run import run_cycle

    (fair_ws / "forced.yaml").write_text(
        "name: forced\nextends: default\nscoring:\n  forced_distribution: {A: 0.5, B: 0.5}\n", encoding="utf-8")
    result = run_cycle(fair_ws, ruleset="forced.yaml")
    table = result.scores.table.set_index("agent_id")
    assert table["rated"].to_dict() == {"N1": False, "N2": False, "V1": True, "V2": True}
    # scored weight: N1 and N2 20/120 (the credit KPIs), the veterans all 120
    assert table.loc["N1", "scored_weight"] == pytest.approx(20 / 120)
    assert table.loc["V1", "scored_weight"] == pytest.approx(1.0)
    # ranked of 2, not of 4: V1 1/2 → 50 %, V2 2/2 → 100 % (today N2 is ranked first with 100
    # points and V2 is 3rd of 4, 75 %)
    assert table.loc["V1", "top_percent"] == 50.0 and table.loc["V2", "top_percent"] == 100.0
    assert table.loc["V2", "team_rank"] == 1  # N2 (beta) is not ahead of V2
    assert pd_isna(table.loc["N2", "top_percent"]) and pd_isna(table.loc["N2", "rank"])
    # forced distribution over the 2 rated agents: rank 1/2 reaches A's 0.5, rank 2/2 B's 1.0
    assert table["grade"].to_dict() == {"N1": "", "N2": "", "V1": "A", "V2": "B"}
    # no share of a total that does not exist
    for k in result.scores.kpis:
        assert k.weight_share[list(table.index).index("N2")] == 0.0
    doc = json.loads((fair_ws / "out" / "results.json").read_text(encoding="utf-8"))
    by_id = {r["agent_id"]: r for r in doc["scores"]}
    assert (by_id["N1"]["total"], by_id["N1"]["grade"], by_id["N1"]["rank"], by_id["N1"]["rated"]) == \
        (None, None, None, False)
    assert by_id["V1"]["rated"] is True and by_id["V1"]["total"] == pytest.approx(9700 / 120, abs=1e-9)


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_export_shows_no_total_grade_or_rank_for_unrated_agents(fair_run, tmp_path):
    from openpyxl import load_workbook

    fair_ws = copy_of(fair_run, tmp_path / "fair")  # run by the fixture (exit 0)
    target = fair_ws / "export.xlsx"
    proc = run_merit("export", fair_ws, "--out", target)
    assert proc.returncode == 0, proc.stderr
    wb = load_workbook(target)
    rows = {}
    for team in ("alpha", "beta"):
        sheet = wb[team]
        header = [c.value for c in sheet[1]]
        for line in sheet.iter_rows(min_row=2, values_only=True):
            rows[line[0]] = dict(zip(header, line))
    for aid in ("N1", "N2"):  # (the export's column titles are labels: docs/i18n.md)
        assert (rows[aid]["Total"], rows[aid]["Grade"], rows[aid]["Rank"], rows[aid]["Team rank"]) == \
            (None, None, None, None), rows[aid]
    assert rows["N2"]["Knowledge points: points"] == 100  # the numbers are still shown
    assert rows["V1"]["Total"] == 80.8  # 9700 / 120 = 80.83…, rounded as on the scorecard
    assert (rows["V1"]["Grade"], rows["V1"]["Rank"]) == ("A", 1)
    assert (rows["V2"]["Grade"], rows["V2"]["Rank"], rows["V2"]["Team rank"]) == ("B", 2, 1)
    summary = {r[0]: r for r in wb["Summary"].iter_rows(values_only=True) if r and r[0] in ("alpha", "All teams")}
    assert summary["alpha"][1:3] == (2, 1)  # 2 agents, 1 graded
    assert summary["All teams"][1:3] == (4, 2)


TWO_KPIS = """\
name: two-kpis
extends: default
scoring:
  min_scored_weight: {share}
  kpis:
{removed}
    fdr: {{weight: 1}}
    knowledge_points: {{weight: 1}}
"""


def _two_kpi_ruleset(ws: Path, share: str) -> str:
    from merit.core.ruleset import load_ruleset

    others = [k for k in load_ruleset("default").ruleset.scoring.kpis if k not in ("fdr", "knowledge_points")]
    (ws / "two.yaml").write_text(TWO_KPIS.format(share=share, removed="\n".join(f"    {k}: null" for k in others)),
                                 encoding="utf-8")
    return "two.yaml"


def test_exactly_the_minimum_share_is_rated(fair_ws):
    # fdr (weight 1, n 6 < 20: insufficient) and knowledge_points (weight 1, ok): N1 and N2 carry
    # exactly 1/2 of the weight.  At min_scored_weight 0.5 they are rated: N1 0 points → D,
    # N2 100 → S; V1 and V2 (fdr 1 → 100, knowledge 0 → 0) total 50 → C.
    proc = run_merit("run", fair_ws, "--no-pdf", "--ruleset", _two_kpi_ruleset(fair_ws, "0.5"))
    assert proc.returncode == 0, proc.stderr
    _, rows = scores_by_agent(fair_ws)
    assert [(rows[a]["total"], rows[a]["grade"], rows[a]["rank"]) for a in ("N2", "V1", "V2", "N1")] == \
        [("100", "S", "1"), ("50", "C", "2"), ("50", "C", "2"), ("0", "D", "4")]
    # just above the share: only the veterans (who carry it all) are rated
    proc = run_merit("run", fair_ws, "--no-pdf", "--ruleset", _two_kpi_ruleset(fair_ws, "0.51"))
    assert proc.returncode == 0, proc.stderr
    _, rows = scores_by_agent(fair_ws)
    assert [(rows[a]["total"], rows[a]["grade"], rows[a]["rank"]) for a in ("N2", "V1", "V2", "N1")] == \
        [("", "", ""), ("50", "C", "1"), ("50", "C", "1"), ("", "", "")]


def test_min_scored_weight_outside_0_1_is_an_error(fair_ws):
    (fair_ws / "bad.yaml").write_text("name: bad\nextends: default\nscoring:\n  min_scored_weight: 1.5\n",
                                      encoding="utf-8")
    (fair_ws / "cycle.yaml").write_text((fair_ws / "cycle.yaml").read_text(encoding="utf-8")
                                        .replace("ruleset: default", "ruleset: bad.yaml"), encoding="utf-8")
    proc = run_merit("check", fair_ws)
    assert_user_error(proc, "bad.yaml", "line 4", "min_scored_weight")


# ------------------------------------------------- productivity without a timelog


def test_productivity_without_timelog_uses_weekdays_employed(tmp_path):
    # Only agents and tickets.  Days worked fall back to the weekdays of the period on which the
    # agent was employed: the veterans all 22 weekdays of September, the new hires 5 (24, 25, 28,
    # 29, 30 September).  Resolved tickets: V1 and V2 20, N1 and N2 6.
    ws = make_fair_ws(tmp_path / "bare", only_required=True)
    proc = run_merit("run", ws, "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    expected = {("agent", "V1"): (20 / 22, 20), ("agent", "N1"): (6 / 5, 6), ("agent", "V2"): (20 / 22, 20),
                ("agent", "N2"): (6 / 5, 6),
                ("team", "alpha"): ((20 + 6) / (22 + 5), 26), ("team", "beta"): (26 / 27, 26),
                ("org", "org"): (52 / 54, 52)}
    for (scope, sid), (value, n) in expected.items():
        row = metric_value(ws, scope, sid, "productivity")
        assert row["value"] != "", (scope, sid, row)
        assert float(row["value"]) == pytest.approx(value, abs=1e-11), (scope, sid, row)
        assert row["n"] == str(n), (scope, sid, row)
        assert row["note"] == ""
    assert float(metric_value(ws, "agent", "V1", "days_worked")["value"]) == 22
    # the timelog's own metrics stay undefined, with the note that says why
    engagement = metric_value(ws, "team", "alpha", "engagement")
    assert engagement["value"] == "" and "timelog" in engagement["note"]
    # and productivity is scored: V1's 20/22 = 0.91 is below the curve's 2 → 0 points, weight 15.
    # Without handoffs and credit tables, V1's KPIs with data: fdr, fcr, bad_rate_service,
    # good_rate, independent_closure, dts_p80 (100 each) and productivity (0):
    # (20 + 15 + 15 + 10 + 10 + 10) · 100 / 95 = 8000 / 95.
    _, rows = scores_by_agent(ws)
    assert rows["V1"]["productivity"] == "0"
    assert float(rows["V1"]["total"]) == pytest.approx(8000 / 95, abs=1e-9)


# ----------------------------------------------------------------- NPS


def test_survey_without_a_score_is_not_an_nps_response(fair_ws):
    # V1: 10 and 9 (promoters), 5 (detractor) and one without a score → (2 − 1) / 3 × 100 = 100/3
    # (today (2 − 1) / 4 × 100 = 25).  V2: 8 (passive) and one without a score → 0 / 1 = 0, n 1.
    # N1: only a survey without a score → no response: undefined (today 0, n 1).
    # Team alpha = V1 + N1 → 100/3 (n 3); org: promoters 2, detractors 1 of 4 → 25.
    _write_csv(fair_ws / "data" / "surveys.csv", ["response_id", "customer_id", "answered_on", "score", "agent_id"], [
        ["S1", "C01", "2026-09-02", 10, "V1"], ["S2", "C02", "2026-09-03", 9, "V1"],
        ["S3", "C03", "2026-09-04", "", "V1"], ["S4", "C04", "2026-09-07", 5, "V1"],
        ["S5", "C05", "2026-09-08", 8, "V2"], ["S6", "C06", "2026-09-09", "", "V2"],
        ["S7", "C07", "2026-09-29", "", "N1"],
    ])
    proc = run_merit("run", fair_ws, "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    expected = {("agent", "V1"): (100 / 3, "3"), ("agent", "V2"): (0, "1"), ("team", "alpha"): (100 / 3, "3"),
                ("team", "beta"): (0, "1"), ("org", "org"): (25, "4")}
    for (scope, sid), (value, n) in expected.items():
        row = metric_value(fair_ws, scope, sid, "nps")
        assert float(row["value"]) == pytest.approx(value, abs=1e-9), (scope, sid, row)
        assert row["n"] == n, (scope, sid, row)
    row = metric_value(fair_ws, "agent", "N1", "nps")
    assert (row["value"], row["n"]) == ("", "0")


# ------------------------------------------------------ numbers written


def significant_digits(text: str) -> int:
    mantissa = text.lower().lstrip("-").split("e")[0].replace(".", "")
    return len(mantissa.strip("0")) or 1


def test_wilson_bounds_of_0_and_1_are_exact():
    import numpy as np

    from merit.core.intervals import wilson_interval

    n = np.arange(1, 200)
    low, high = wilson_interval(np.zeros(199), n)
    assert (low == 0.0).all()  # today 5.551115123125783e-17 for n = 3, 2.8e-17 for n = 6, …
    low, high = wilson_interval(n, n)
    assert (high == 1.0).all()  # today 0.9999999999999999 for n = 10, 13, 25, …
    # the Wilson interval of 1 of 3 (by hand: z² = 3.8415, centre (1/3 + z²/6) / (1 + z²/3)
    # = 0.97358 / 2.28049 = 0.42692, half z·√(2/27 + z²/36) / 2.28049 = 0.36617)
    low, high = wilson_interval(np.array([1]), np.array([3]))
    assert (low[0], high[0]) == (pytest.approx(0.0615, abs=1e-4), pytest.approx(0.7923, abs=1e-4))


def test_number_texts_never_have_more_than_12_significant_digits():
    import numpy as np

    from merit.core.outputs import fmt_numbers, round_float, round_sig

    rng = np.random.default_rng(10)
    values = rng.random(20000) * 10.0 ** rng.integers(-40, 40, 20000) * rng.choice([-1, 1], 20000)
    values = np.concatenate([values, [5.551115123125783e-17, 0.1 + 0.2, 1 / 3, 2 / 3 * 1e-30, 1e40 / 3, 0.0, -0.0]])
    texts = fmt_numbers(values)
    assert max(significant_digits(t) for t in texts) <= 12
    back = np.array([float(t) for t in texts])
    assert np.allclose(back, values, rtol=5e-12, atol=0)
    assert texts[-7] == "5.55111512313e-17"  # today "5.551115123130001e-17"
    assert list(texts[-6:]) == ["0.3", "0.333333333333", "6.66666666667e-31", "3.33333333333e+39", "0", "0"]
    assert round_float(2 / 3 * 1e-30) == 6.66666666667e-31
    assert repr(float(round_sig([5.551115123125783e-17])[0])) == "5.55111512313e-17"


def _numbers_in_json(text: str) -> list[str]:
    found: list[str] = []

    def keep(s):
        found.append(s)
        return float(s)

    json.loads(text, parse_float=keep, parse_int=keep)
    return found


def test_no_output_number_has_more_than_12_significant_digits(fair_run, tmp_path):
    from openpyxl import load_workbook

    fair_ws = copy_of(fair_run, tmp_path / "fair")  # run by the fixture (exit 0)
    assert run_merit("export", fair_ws, "--out", fair_ws / "export.xlsx").returncode == 0
    out = fair_ws / "out"
    # N2's handoff rate is 0 of 6: its Wilson interval starts at exactly 0 (today 2.7755575615628914e-17)
    row = metric_value(fair_ws, "agent", "N2", "handoff_rate")
    assert (row["value"], row["n"], row["low"]) == ("0", "6", "0")
    # V1's fdr is 20 of 20: it ends at exactly 1
    row = metric_value(fair_ws, "agent", "V1", "fdr")
    assert (row["value"], row["high"]) == ("1", "1")
    texts = []
    for name in ("metrics.csv", "scores.csv", "lists.csv"):
        header, rows = read_rows(out / name)
        for r in rows:
            for col in header:
                value = r[col]
                try:
                    float(value)
                except ValueError:
                    continue
                texts.append((name, col, value))
    texts += [("results.json", "", t) for t in _numbers_in_json((out / "results.json").read_text(encoding="utf-8"))]
    wb = load_workbook(fair_ws / "export.xlsx")
    for sheet in wb.worksheets:
        for line in sheet.iter_rows(values_only=True):
            texts += [(sheet.title, "", repr(v)) for v in line if isinstance(v, float)]
    assert len(texts) > 500
    too_long = [t for t in texts if significant_digits(t[2]) > 12]
    assert not too_long, too_long[:10]


# ------------------------------------------------------------- explain


def _explain_csv(ws: Path, agent: str, metric: str, key: str = "ticket_id"):
    """stdout, the CSV's header and its rows by *key*."""
    target = ws / f"explain-{agent}-{metric}.csv"
    proc = run_merit("explain", ws, "--agent", agent, "--metric", metric, "--csv", target)
    assert proc.returncode == 0, proc.stderr
    header, rows = read_rows(target)
    return proc.stdout, header, {r[key]: r for r in rows}


def test_explain_shows_local_times_labelled_with_the_time_zone(service_ws):
    # service_ws is in Asia/Shanghai (UTC+8).  T03 is created 2026-07-01 00:30 local, which is
    # 2026-06-30 16:30 UTC (what explain showed, unlabelled); T08 was given as
    # 2026-08-31T15:30:00+00:00, which is 23:30 local; T10 as 08:00+08:00.
    stdout, header, rows = _explain_csv(service_ws, "A1", "fdr")
    assert header == ["line", "ticket_id", "created_at (Asia/Shanghai)", "resolved_at (Asia/Shanghai)", "counted"]
    assert rows["T03"]["created_at (Asia/Shanghai)"] == "2026-07-01 00:30:00"
    assert rows["T03"]["resolved_at (Asia/Shanghai)"] == ""
    assert rows["T01"]["created_at (Asia/Shanghai)"] == "2026-08-20 20:00:00"
    assert rows["T01"]["resolved_at (Asia/Shanghai)"] == "2026-08-21 19:00:00"
    assert "Asia/Shanghai" in stdout
    _, _, rows = _explain_csv(service_ws, "A2", "fdr")
    assert rows["T08"]["created_at (Asia/Shanghai)"] == "2026-08-31 23:30:00"
    _, _, rows = _explain_csv(service_ws, "B1", "fdr")
    assert rows["T10"]["created_at (Asia/Shanghai)"] == "2026-07-05 08:00:00"
    # dates are dates (no midnight time), and not labelled with a zone
    _, header, rows = _explain_csv(service_ws, "A1", "timelog_days", key="line")
    assert "date" in header and rows["3"]["date"] == "2026-07-01"


def test_explain_marks_adjusted_values_with_the_adjustment_and_the_original(service_ws):
    # T02 (A1): created 08-03 09:00, resolved 08-04 09:30 (24.5 h: not within 24 h).  Corrected to
    # 08:30 (23.5 h): A1's fdr goes from 2/5 to 3/5.
    proc = run_merit("adjust", service_ws, "--ticket", "T02", "--set", "resolved_at=2026-08-04 08:30",
                     "--reason", "resolution time was logged late", "--by", "lead")
    assert proc.returncode == 0, proc.stderr
    proc = run_merit("adjust", service_ws, "--ticket", "T02", "--set", "rating=neutral",
                     "--reason", "customer changed the rating", "--by", "lead")
    assert proc.returncode == 0, proc.stderr
    stdout, header, rows = _explain_csv(service_ws, "A1", "fdr")
    assert "3 / 5" in stdout
    assert rows["T02"]["resolved_at (Asia/Shanghai)"] == \
        "2026-08-04 08:30:00 (adjustment #1; was 2026-08-04 09:30:00)"
    assert rows["T02"]["counted"] == "numerator and denominator"
    assert rows["T01"]["resolved_at (Asia/Shanghai)"] == "2026-08-21 19:00:00"  # not adjusted: no mark
    # a field the metric does not read but that was adjusted is shown too, marked
    assert rows["T02"]["rating"] == "neutral (adjustment #2; was bad)"
    assert rows["T01"]["rating"] == "good"


def test_explain_lists_a_panel_grade_adjustment_on_the_knowledge_item(tmp_path):
    import shutil

    from tests.conftest import FIXTURES

    ws = tmp_path / "full"
    shutil.copytree(FIXTURES / "full_ws", ws)
    # K01 (A1's case) is graded A, S, B by E1, E2, E3: final grade (lower median of B, A, S) A.
    # E3's B corrected to S: A, S, S → S, worth 30 points.
    proc = run_merit("adjust", ws, "--grade", "K01:E3", "--set", "grade=S", "--reason", "regraded", "--by", "lead")
    assert proc.returncode == 0, proc.stderr
    _, header, rows = _explain_csv(ws, "A1", "knowledge_points", key="item_id")
    assert (rows["K01"]["final_grade"], rows["K01"]["value"]) == ("S", "30")
    assert rows["K01"]["adjusted"] == "#1 grade of K01 by E3: grade changed from B to S"
    assert rows["K02"]["adjusted"] == ""


# ------------------------------------------------ extending rulesets merge by key

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_ruleset() -> str:
    """The example ruleset of README's "Writing rulesets", verbatim (the first yaml block)."""
    text = README.read_text(encoding="utf-8")
    assert "## Writing rulesets" in text, "README has no 'Writing rulesets' section any more"
    section = text.split("## Writing rulesets", 1)[1].split("\n## ", 1)[0]
    start = section.index("```yaml\n") + len("```yaml\n")
    block = section[start:section.index("```", start)]
    assert "name: acme-support" in block and "extends: default" in block, block
    return block


def test_readme_example_ruleset_works_verbatim(service_ws):
    # The example overrides tickets' dimensions with month and channel: merged by key, the
    # default's `customer` (used by the default's customer lists) stays.
    (service_ws / "acme.yaml").write_text(readme_ruleset(), encoding="utf-8")
    proc = run_merit("run", service_ws, "--no-pdf", "--ruleset", "acme.yaml")
    assert proc.returncode == 0, proc.stderr
    # By hand from tests/fixtures/service_ws/EXPECTED.md, A1's tickets: T01 23 h, T02 24.5 h,
    # T03 unresolved, T04 26 h, T05 2 h; within the README's 12 hours: T05 → fdr 1/5.
    assert float(metric_value(service_ws, "agent", "A1", "fdr")["value"]) == pytest.approx(1 / 5)
    # phone_share: A1's phone ticket T03 → 1/5; escalated_tickets: T03, T04 → 2;
    # escalations_per_day: 2 / 5 days worked (A1's timelog) = 0.4
    assert float(metric_value(service_ws, "agent", "A1", "phone_share")["value"]) == pytest.approx(1 / 5)
    assert metric_value(service_ws, "agent", "A1", "escalated_tickets")["value"] == "2"
    assert float(metric_value(service_ws, "agent", "A1", "escalations_per_day")["value"]) == pytest.approx(0.4)
    # the default's customer lists still work: org's most tickets: C101 (T01, T04, T13) 3 tickets,
    # C102 (T02, T07) 2, ...
    _, lists = read_rows(service_ws / "out" / "lists.csv")
    top = [r for r in lists
           if (r["scope"], r["id"], r["list"], r["rank"]) == ("org", "org", "customers_most_tickets", "1")]
    assert [(r["key"], r["value"]) for r in top] == [("C101", "3")]
    header, _ = scores_by_agent(service_ws)
    assert "handoff_rate" not in header and "fdr" in header


def _write_child(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "child.yaml"
    path.write_text("name: child\nextends: default\n" + body, encoding="utf-8")
    return path


def test_keyed_blocks_merge_by_key_and_null_removes_a_key(tmp_path):
    from merit.core.ruleset import load_ruleset

    path = _write_child(tmp_path, """\
params:
  level_coefficients: {P5: 1.4, P2: null}
tables:
  tickets:
    dimensions: {weekday: weekday(created_at)}
  item_grades:
    columns: {median_high: {agg: median_high, value: grade, order: [C, B, A, S]}, best_grade: null}
scoring:
  kpis:
    fdr:
      by_level:
        P2: {points: [[0.4, 0], [0.9, 100]]}
""")
    rs = load_ruleset(str(path)).ruleset
    assert rs.params["level_coefficients"] == {"P3": 1.0, "P4": 1.2, "P5": 1.4}
    assert rs.params["fdr_window_hours"] == 24
    assert rs.tables["tickets"].dimensions == {"month": "month(created_at)", "channel": "channel",
                                               "customer": "customer_id", "weekday": "weekday(created_at)"}
    assert rs.tables["tickets"].period == "created_at"
    assert set(rs.tables["item_grades"].columns) == {"final_grade", "worst_grade", "panelists", "median_high"}
    assert rs.tables["knowledge"].join == {"item_grades": "item_id"}
    assert set(rs.scoring.kpis["fdr"].by_level) == {"P4", "P2"}
    assert rs.scoring.kpis["fdr"].by_level["P2"].points == [(0.4, 0), (0.9, 100)]
    assert rs.scoring.kpis["fdr"].curve.target == 0.85  # the rest of the KPI is the base's


def test_error_in_the_base_caused_by_the_child_names_the_child(tmp_path):
    from merit.core.compile import compile_ruleset
    from merit.core.errors import MeritError
    from merit.core.ruleset import load_ruleset

    # removing the customer dimension breaks the default's customer lists
    path = _write_child(tmp_path, "tables:\n  tickets:\n    dimensions: {customer: null}\n")
    with pytest.raises(MeritError) as info:
        compile_ruleset(load_ruleset(str(path)))
    text = info.value.format()
    assert "rulesets/default.yaml" in text and "no dimension 'customer'" in text
    assert f"extended by {path}: check what that overrides or removes" in text, text
    # removing a parameter the default's fdr uses: the expression error names the child too
    path = _write_child(tmp_path, "params:\n  fdr_window_hours: null\n")
    with pytest.raises(MeritError) as info:
        compile_ruleset(load_ruleset(str(path)))
    text = info.value.format()
    assert "rulesets/default.yaml" in text and "fdr_window_hours" in text
    assert f"extended by {path}: check what that overrides or removes" in text, text
    # an error in the child itself is reported at the child's line, without the note
    path = _write_child(tmp_path, "tables:\n  tickets:\n    dimensions: {weekday: weekday(nope)}\n")
    with pytest.raises(MeritError) as info:
        compile_ruleset(load_ruleset(str(path)))
    err = info.value
    assert (err.file, err.line) == (str(path), 5) and "extended by" not in err.format()


def test_an_empty_mapping_clears_the_base_mapping(tmp_path):
    # small_team.yaml's idiom: `by_level: {}` is one bar for everyone, `level_coefficients: {}` no levels
    from merit.core.ruleset import load_ruleset

    path = _write_child(tmp_path, """\
params:
  level_coefficients: {}
tables:
  tickets:
    dimensions: {}
lists:
  customers_most_tickets: null
  customers_lowest_csat: null
  customers_highest_csat: null
scoring:
  kpis:
    fdr: {by_level: {}}
    independent_closure: {by_level: null}
""")
    rs = load_ruleset(str(path)).ruleset
    assert rs.params["level_coefficients"] == {}
    assert rs.tables["tickets"].dimensions == {}
    assert rs.scoring.kpis["fdr"].by_level == {} and rs.scoring.kpis["independent_closure"].by_level == {}
    small = load_ruleset("small_team").ruleset
    assert small.params["level_coefficients"] == {}
    assert small.scoring.kpis["productivity"].by_level == {}
    # loading a child does not change its base: the default still has its levels
    assert load_ruleset("default").ruleset.params["level_coefficients"] == {"P2": 0.8, "P3": 1.0, "P4": 1.2}


def test_explain_a_metric_of_the_built_in_roster_days(tmp_path):
    # today a KeyError traceback: roster_days has no source file
    ws = make_fair_ws(tmp_path / "bare", only_required=True)
    proc = run_merit("explain", ws, "--agent", "N1", "--metric", "weekdays_employed", "--csv", ws / "x.csv")
    assert proc.returncode == 0, proc.stderr
    assert "built by merit from" in proc.stdout
    header, rows = read_rows(ws / "x.csv")
    assert [r["date"] for r in rows] == ["2026-09-24", "2026-09-25", "2026-09-28", "2026-09-29", "2026-09-30"]
