"""Rulesets: the shipped default, extends, and errors that point at the line."""

from __future__ import annotations

import json
import textwrap

import pytest

from merit.core.compile import compile_ruleset
from merit.core.errors import MeritError, ProblemList
from merit.core.ruleset import load_ruleset
from tests.conftest import assert_user_error, run_merit

BUSINESS = ["tickets", "fdr", "fcr", "rating_rate", "good_rate", "bad_rate", "bad_rate_service",
            "independent_closure", "independent_closure_narrow", "productivity", "dts_avg_hours",
            "dts_p50_hours", "dts_p80_hours", "handoff_rate", "first_response_avg_minutes", "aht_minutes",
            "longest_wait_minutes", "csat_avg", "nps", "fdr_standardized"]


def test_default_defines_every_business_metric_and_compiles():
    loaded = load_ruleset("default")
    missing = [m for m in BUSINESS if m not in loaded.ruleset.metrics]
    assert missing == []
    plan = compile_ruleset(loaded)
    # individual scoring uses bad_rate_service, never bad_rate
    kpis = loaded.ruleset.scoring.kpis
    assert "bad_rate_service" in kpis and "bad_rate" not in kpis
    assert plan.metrics["productivity"].deps == ("days_worked", "resolved_tickets")


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_extends_overrides_by_id(tmp_path):
    write(tmp_path, "child.yaml", """\
        name: child
        extends: default
        params:
          fdr_window_hours: 12
        metrics:
          fdr:
            label: 12-hour resolution
          handoff_rate: null
        scoring:
          kpis:
            handoff_rate: null
            fdr: {weight: 40}
        """)
    loaded = load_ruleset(str(tmp_path / "child.yaml"))
    rs = loaded.ruleset
    assert rs.params["fdr_window_hours"] == 12
    assert rs.params["hours_per_person_day"] == 8  # inherited
    assert rs.metrics["fdr"].label == "12-hour resolution"
    assert rs.metrics["fdr"].agg == "ratio"  # the other fields are the base's
    assert "handoff_rate" not in rs.metrics and "handoff_rate" not in rs.scoring.kpis
    assert rs.scoring.kpis["fdr"].weight == 40
    assert rs.scoring.kpis["fdr"].min_n == 20  # inherited field
    assert loaded.files == ["rulesets/default.yaml", str(tmp_path / "child.yaml")]


def test_error_in_child_points_at_child_line(tmp_path):
    path = write(tmp_path, "child.yaml", """\
        name: child
        extends: default
        metrics:
          fdr:
            numerator: hours_between(created_at, resolvd_at) <= 24
        """)
    with pytest.raises(MeritError) as info:
        compile_ruleset(load_ruleset(str(path)))
    err = info.value
    assert err.file == str(path)
    assert err.line == 5
    # the expression starts at column 16; 'resolvd_at' is 26 characters into it
    assert err.column == 16 + len("hours_between(created_at, ")
    assert "resolvd_at" in err.format() and "resolved_at" in err.format()  # did-you-mean
    assert "^" * len("resolvd_at") in err.format()


@pytest.mark.parametrize("body, line, needle", [
    ("metrics:\n  x:\n    table: tickets\n    agg: counts\n", 6, "agg"),
    ("metrics:\n  x:\n    table: tickets\n    agg: count\n    colour: red\n", 7, "unknown field 'colour'"),
    ("metrics:\n  x:\n    table: tickes\n    agg: count\n", 5, "unknown table 'tickes'"),
    ("metrics:\n  x:\n    formula: y + 1\n  y:\n    formula: x * 2\n", None, "cycle"),
    ("metrics:\n  x:\n    formula: nonexistent / 2\n", 5, "'nonexistent'"),
    ("metrics:\n  x:\n    table: tickets\n    agg: count\n    breakdowns: [weekday]\n", 7, "'weekday'"),
    ("metrics:\n  org_only: {table: tickets, agg: count, scopes: [org]}\n"
     "scoring:\n  kpis:\n    org_only:\n      weight: 1\n      curve: {points: [[0, 0], [1, 100]]}\n", None,
     "agent scope"),
    ("scoring:\n  kpis:\n    fdr:\n      weight: 1\n      curve: {points: [[1, 0], [0, 100]]}\n", 7,
     "increasing"),
    ("scoring:\n  kpis:\n    fdr:\n      weight: 1\n      direction: lower\n      curve: {points: [[0, 0], [1, 100]]}\n",
     None, "direction"),
    ("metrics:\n  x:\n    table: tickets\n    agg: ratio\n", 5, "numerator"),
])
def test_ruleset_errors(tmp_path, body, line, needle):
    path = write(tmp_path, "bad.yaml", "name: bad\nextends: default\n" + body)  # body starts on line 3
    with pytest.raises(MeritError) as info:
        compile_ruleset(load_ruleset(str(path)))
    err = info.value
    problems = err.problems if isinstance(err, ProblemList) else [err]
    text = err.format()
    assert needle in text, text
    assert any(p.file == str(path) for p in problems), text
    if line is not None:
        assert any(p.line == line for p in problems), text


def test_extends_loop_and_unknown_base(tmp_path):
    write(tmp_path, "a.yaml", "name: a\nextends: b.yaml\n")
    write(tmp_path, "b.yaml", "name: b\nextends: a.yaml\n")
    with pytest.raises(MeritError, match="loops"):
        load_ruleset(str(tmp_path / "a.yaml"))
    write(tmp_path, "c.yaml", "name: c\nextends: nosuch\n")
    with pytest.raises(MeritError, match="no shipped ruleset named 'nosuch'"):
        load_ruleset(str(tmp_path / "c.yaml"))


def test_yaml_syntax_error_has_line(tmp_path):
    path = write(tmp_path, "broken.yaml", "name: x\nmetrics:\n  a: [1, 2\n  b: 3\n")
    with pytest.raises(MeritError) as info:
        load_ruleset(str(path))
    assert info.value.file == str(path) and info.value.line is not None


def test_schema_command_prints_json_schema():
    proc = run_merit("schema")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["title"] == "merit ruleset"
    assert {"metrics", "params", "scoring", "extends", "tables"} <= set(doc["properties"])
    assert "Metric" in doc["$defs"] and "agg" in doc["$defs"]["Metric"]["properties"]


def test_bad_ruleset_in_workspace_is_exit_2(service_ws):
    (service_ws / "custom.yaml").write_text(
        "name: custom\nextends: default\nmetrics:\n  fdr:\n    numerator: __import__('os')\n", encoding="utf-8")
    cycle = (service_ws / "cycle.yaml").read_text(encoding="utf-8").replace("ruleset: default", "ruleset: custom.yaml")
    (service_ws / "cycle.yaml").write_text(cycle, encoding="utf-8")
    proc = run_merit("run", service_ws, "--no-pdf")
    assert_user_error(proc, "custom.yaml", "line 5")
    assert not (service_ws / "out").exists()
