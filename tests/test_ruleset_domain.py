"""The support domain declared in the ruleset, not in Python (docs/rulesets.md, "The support
domain"): the panel's grade scale and final-grade rule, what an appeal may correct and how it
is worded, the scorecard's sections; and the errors a wrong declaration gets.

Worked from tests/fixtures/full_ws (data/grades.csv): K01 A, S, B → A; K02 S, B, S → S;
K03 C, S, B, A → B (four grades: the lower middle one); K04 A, S → A; K09 B, C → C.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from merit.core.errors import MeritError, ProblemList, RulesetError
from merit.core.ruleset import load_ruleset
from merit.cycles import adjustments
from merit.panel.agreement import final_grades, item_summary, median_low
from merit.panel.assignment import ruleset_grade_settings
from tests.conftest import FIXTURES

FULL_FINALS = {"K01": "A", "K02": "S", "K03": "B", "K04": "A", "K09": "C"}


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def workspace(tmp_path: Path, fixture: str, ruleset_files: dict[str, str] | None = None,
              ruleset: str = "default") -> Path:
    ws = tmp_path / "ws"
    shutil.copytree(FIXTURES / fixture, ws)
    for name, text in (ruleset_files or {}).items():
        write(ws, name, text)
    cycle = ws / "cycle.yaml"
    cycle.write_text(cycle.read_text(encoding="utf-8").replace("ruleset: default", f"ruleset: {ruleset}"),
                     encoding="utf-8")
    return ws


def contexts(ws: Path, agents: list[str]) -> dict[str, dict]:
    """The agents' scorecard contexts and the teams' (no PDF is rendered)."""
    from merit.core.evaluate import evaluate
    from merit.core.scoring import score
    from merit.cycles.run import prepare_cycle
    from merit.render.context import ContextBuilder

    prep = prepare_cycle(ws)
    evaluation = evaluate(prep.plan, prep.tables, prep.ws)
    scores = score(evaluation)
    builder = ContextBuilder(prep, evaluation, scores)
    teams = sorted({str(t) for t in scores.table["team"]})
    return dict(builder.agent_contexts(agents)) | dict(builder.team_contexts(teams))


def final_grade_cells(ctx: dict, title: str = "Knowledge outputs") -> dict[str, str]:
    [section] = [s for s in ctx["credit_sections"] if s["title"] == title]
    at = section["headers"].index("Final grade")
    return {row[0]: row[at].removesuffix(" †") for row in section["rows"]}  # † under calibration


# ------------------------------------------------------------------ the grade scale
# params.grade_points written worst first: the scale is panel.grades, never a mapping's key order
REVERSED = {
    "base.yaml": """\
        name: base
        extends: default
        params:
          grade_points: null
        """,
    "reversed.yaml": """\
        name: reversed
        extends: base.yaml
        params:
          grade_points: {C: 1, B: 3, A: 8, S: 30}
        """,
}


def test_the_grade_order_is_the_typed_scale_not_a_mapping_order(tmp_path):
    for name, text in REVERSED.items():
        write(tmp_path, name, text)
    rs = load_ruleset(str(tmp_path / "reversed.yaml")).ruleset
    assert list(rs.params["grade_points"]) == ["C", "B", "A", "S"]
    assert rs.panel.best_first == ("S", "A", "B", "C") and rs.panel.worst_first == ("C", "B", "A", "S")
    order, spread, _ = ruleset_grade_settings(rs)
    assert order == ("C", "B", "A", "S") and spread == 2
    assert median_low(["S", "C"], order) == "C" and median_low(["S", "A", "C"], order) == "A"


def test_scorecards_and_metrics_agree_under_a_reversed_points_table(tmp_path):
    ws = workspace(tmp_path, "full_ws", REVERSED, ruleset="reversed.yaml")
    ctx = contexts(ws, ["A1", "A2"])
    assert final_grade_cells(ctx["A1"]) == {"K01": "A", "K02": "S"}
    assert final_grade_cells(ctx["A2"])["K03"] == "B"
    # the panel's flags: K01 (B to S) and K03 (C to S) spread over 2 steps or more
    assert {f["id"] for a in ("A1", "A2") for s in ctx[a]["credit_sections"] for f in s["flagged"]} >= {"K01", "K03"}
    [section] = [s for s in ctx["A2"]["credit_sections"] if s["title"] == "Knowledge outputs"]
    assert {"id": "K03", "grade": "B"} in section["flagged"]


# ------------------------------------------------------------------ the final-grade rule
@pytest.mark.parametrize("grades, final", [
    (["S", "A", "C"], "A"), (["S", "A"], "A"), (["B", "C"], "C"), (["S", "A", "B", "C"], "B"), (["C"], "C"),
])
def test_final_grade_rule(grades, final):
    order = load_ruleset("default").ruleset.panel.worst_first
    frame = pd.DataFrame({"item_id": "K", "grade": grades})
    assert final_grades(frame, order).to_dict() == {"K": final}
    assert item_summary(frame, order)["final_grade"].tolist() == [final]
    assert median_low(grades, order) == final


def test_final_grade_is_one_rule_in_python_and_in_the_ruleset(tmp_path):
    """merit.panel.agreement.final_grades, the ruleset's item_grades.final_grade (what the
    metrics use) and the scorecards' final-grade column give the same grade for every item."""
    from merit.core.evaluate import Evaluator
    from merit.core.pipeline import prepare

    ws = workspace(tmp_path, "full_ws")
    prep = prepare(ws)
    grades = prep.tables.tables["grades"].select("item_id", "grade").execute()
    python = final_grades(grades, prep.loaded.ruleset.panel.worst_first).to_dict()
    evaluator = Evaluator(prep.plan, prep.tables, prep.ws)
    derived = evaluator.cohort("knowledge").select("item_id", "final_grade").execute().dropna()
    in_ruleset = dict(zip(derived["item_id"], derived["final_grade"]))
    assert {k: python[k] for k in FULL_FINALS} == FULL_FINALS
    assert {k: v for k, v in python.items() if k in in_ruleset} == in_ruleset
    ctx = contexts(ws, ["A1", "A2", "B1"])
    shown = {k: v for a in ("A1", "A2", "B1") for k, v in final_grade_cells(ctx[a]).items()}
    assert {k: v for k, v in shown.items() if v != "ungraded"} == {k: python[k] for k in shown if k in python}


# ------------------------------------------------------------------ corrections
CORRECTIONS = """\
    name: appeals
    extends: default
    corrections:
      tickets:
        fields:
          rating: null                    # no longer correctable here
          customer_id: {changed: "customer {before} replaced by {after}"}
          bad_review_cause:
            to: {product: "cause: the product"}
    """


def test_correctable_fields_and_wording_come_from_the_ruleset(tmp_path):
    ws = workspace(tmp_path, "service_ws", {"appeals.yaml": CORRECTIONS}, ruleset="appeals.yaml")
    rs = load_ruleset(str(ws / "appeals.yaml")).ruleset
    assert "rating" not in rs.corrections["tickets"].fields and "csat" in rs.corrections["tickets"].fields
    with pytest.raises(adjustments.AdjustmentError) as info:
        adjustments.record(ws, table="tickets", keys=("T02",), changes=[("rating", "good")], reason="r", by="x")
    assert "not a correctable field" in info.value.message and "customer_id" in info.value.expected
    [a] = adjustments.record(ws, table="tickets", keys=("T02",), changes=[("customer_id", "C9")],
                             reason="wrong customer", by="hr")
    assert a.change_text().startswith("ticket T02: customer ") and a.change_text().endswith(" replaced by C9")
    [b] = adjustments.record(ws, table="tickets", keys=("T02",), changes=[("bad_review_cause", "product")],
                             reason="a bug", by="hr")
    assert b.change_text() == "ticket T02: cause: the product"
    assert [x.change_text() for x in adjustments.list_adjustments(ws)] == [a.change_text(), b.change_text()]
    with pytest.raises(adjustments.AdjustmentError) as info:
        adjustments.record(ws, table="incidents", keys=("I1",), changes=[("ended_at", "")], reason="r", by="x")
    assert info.value.expected == "tickets or grades"


# ------------------------------------------------------------------ scorecard sections
SCORECARD = """\
    name: cards
    extends: default
    scorecard:
      credits:
        knowledge:
          title: Articles
          columns:
            - {column: title, header: Title}
            - {column: final_grade, header: Final grade, empty: not yet graded, calibration: true}
      groups:
        service: {title: Customer service, tables: [tickets, surveys]}
        rest: {title: Everything else, others: true}
    """


def test_scorecard_sections_come_from_the_ruleset(tmp_path):
    ws = workspace(tmp_path, "full_ws", {"cards.yaml": SCORECARD}, ruleset="cards.yaml")
    ctx = contexts(ws, ["A1", "A2"])
    [section] = ctx["A1"]["credit_sections"]  # requirements, innovations, influence: not listed any more
    assert section["title"] == "Articles"
    assert section["headers"] == ["Id", "Title", "Final grade", "Credit", "Knowledge points"]
    assert final_grade_cells(ctx["A1"], "Articles") == {"K01": "A", "K02": "S"}
    team = next(c for c in ctx.values() if c["kind"] == "team")
    assert [g["title"] for g in team["groups"]] == ["Customer service", "Everything else"]
    service = {r["id"] for r in team["groups"][0]["rows"]}
    assert "fdr" in service and "knowledge_points" not in service
    assert "knowledge_points" in {r["id"] for r in team["groups"][1]["rows"]}


# ------------------------------------------------------------------ schema errors
@pytest.mark.parametrize("body, field, needle", [
    ("panel: {grades: [S, A, A, C]}\n", "panel.grades", "grade 'A' is listed twice"),
    ("params: {grade_points: {C: null}}\n", "params.grade_points", "one entry per grade"),
    ("params: {grade_rank: {C: 4, B: 3, A: 2, S: 1}}\n", "params.grade_rank", "worst = lowest"),
    ("panel: {grades: [S, A, B, C], flag_spread: nosuch}\n", "panel.flag_spread", "params.nosuch"),
    ("tables:\n  item_grades:\n    columns:\n      worst_grade: {agg: min, value: grade, order: [S, A, B, C]}\n",
     "tables.item_grades.columns.worst_grade.order", "worst first"),
    ("tables:\n  item_grades:\n    columns:\n      final_grade: {agg: median_high, value: grade, order: [C, B, A, S]}\n",
     "tables.item_grades.columns.final_grade", "median_low"),
    ("rubric: {faq: {D: a fifth grade}}\n", "rubric.faq.D", "not on the panel's scale"),
    ("corrections: {tickets: {fields: {nosuch: {}}}}\n", "corrections.tickets.fields.nosuch",
     "no column 'nosuch'"),
    ("corrections: {nosuch: {keys: [x], record: x, missing: x, fields: {x: {}}}}\n", "corrections.nosuch",
     "not an input table"),
    ("corrections: {tickets: {record: 'ticket {id}'}}\n", "corrections.tickets", "uses {id}"),
    ("corrections: {tickets: {fields: {rating: {changed: '{field} is {colour}'}}}}\n",
     "corrections.tickets.fields.rating", "uses {colour}"),
    ("scorecard: {groups: {a: {title: A, tables: [tickets]}}}\n", "scorecard", "others: true"),
    ("scorecard: {credits: {costs: {title: Costs}}}\n", "scorecard.credits.costs", "not credited to agents"),
])
def test_domain_schema_errors_name_the_file_and_key(tmp_path, body, field, needle):
    path = write(tmp_path, "bad.yaml", "name: bad\nextends: default\n" + body)
    with pytest.raises(MeritError) as info:
        load_ruleset(str(path))
    errors = info.value.problems if isinstance(info.value, ProblemList) else [info.value]
    hit = [e for e in errors if e.field == field and needle in e.message]
    assert hit, [(e.field, e.message) for e in errors]
    assert all(isinstance(e, RulesetError) for e in hit)
    assert hit[0].file == str(path) and hit[0].line is not None and hit[0].line >= 3


def test_a_ruleset_without_a_panel_scale_cannot_grade():
    from merit.core.ruleset import Ruleset

    with pytest.raises(RulesetError) as info:
        ruleset_grade_settings(Ruleset(name="bare"))
    assert "panel" in info.value.message and "grades" in info.value.expected
