"""What `merit check` accepts, `merit run` computes.

Each case below passed `merit check` and then crashed `merit run` with a traceback
(or, for levels, gave a wrong capacity in silence).  Now each is refused at `check`
with the ruleset's (or the data file's) name, line and column, and exit code 2.

The rulesets here extend the default with a few lines (``ext.yaml``) over a copy of
tests/fixtures/service_ws; the line and column numbers asserted are those of ext.yaml
as written below (line 1 ``name: ext``, line 2 ``extends: default``).
"""

from __future__ import annotations

import csv
import textwrap
from fractions import Fraction
from pathlib import Path

import pytest
from typer.testing import CliRunner

from merit.cli.main import app
from tests.conftest import assert_user_error, run_merit_subprocess

runner = CliRunner()


def cli(*args) -> tuple[int, str]:
    """merit in-process: exit code and everything it wrote (a traceback fails the test)."""
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def extend(ws: Path, body: str) -> Path:
    """Score *ws* with ext.yaml: the default ruleset plus *body* (from line 3 on)."""
    path = ws / "ext.yaml"
    path.write_text("name: ext\nextends: default\n" + textwrap.dedent(body), encoding="utf-8")
    cycle = ws / "cycle.yaml"
    cycle.write_text(cycle.read_text(encoding="utf-8").replace("ruleset: default", "ruleset: ext.yaml"),
                     encoding="utf-8")
    return path


def assert_refused(code: int, output: str, *needles: str) -> None:
    assert code == 2, output
    assert "Traceback" not in output, output
    for needle in needles:
        assert needle in output, (needle, output)


def metric_values(ws: Path, scope: str, ident: str) -> dict[str, str]:
    with open(ws / "out" / "metrics.csv", encoding="utf-8", newline="") as fh:
        return {r["metric"]: r["value"] for r in csv.DictReader(fh)
                if r["scope"] == scope and r["id"] == ident and r["breakdown"] == ""}


def set_levels(ws: Path, levels: dict[str, str], extra_rows: list[str] = ()) -> None:
    """Give agents other levels in data/agents.csv (and append rows)."""
    path = ws / "data" / "agents.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        if cells[0] in levels:
            cells[header.index("level")] = levels[cells[0]]
        out.append(",".join(cells))
    path.write_text("\n".join(out + list(extra_rows)) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- filters

FILTERS = {
    # where: a string column (line 7: "    where: " is 11 characters, so the text starts at column 12)
    "where_string": ("""\
        metrics:
          x:
            table: tickets
            agg: count
            where: channel
        """, 7, 12, "where", "a string"),
    # a quoted number: the text starts after the quote
    "where_number": ("""\
        metrics:
          x:
            table: tickets
            agg: count
            where: "1"
        """, 7, 13, "where", "a number"),
    "numerator_timestamp": ("""\
        metrics:
          x:
            table: tickets
            agg: ratio
            numerator: created_at
        """, 7, 16, "numerator", "a timestamp"),
    "denominator_string": ("""\
        metrics:
          x:
            table: tickets
            agg: ratio
            numerator: csat >= 4
            denominator: channel
        """, 8, 18, "denominator", "a string"),
    "parameter_number": ("""\
        params:
          window: 24
        metrics:
          x:
            table: tickets
            agg: count
            where: params.window
        """, 9, 12, "where", "a number"),
    # the where of a derived table's column: "      n: {agg: count, where: " is 29 characters
    "derived_where": ("""\
        tables:
          per_customer:
            from: tickets
            group_by: customer_id
            columns:
              n: {agg: count, where: channel}
        """, 8, 30, "where", "a string"),
}


@pytest.mark.parametrize("case", sorted(FILTERS))
def test_a_filter_that_is_not_true_or_false_is_refused_at_check(service_ws, case):
    body, line, column, field, gives = FILTERS[case]
    extend(service_ws, body)
    code, output = cli("check", service_ws)
    assert_refused(code, output, f"ext.yaml, line {line}, column {column}, field '{field}'",
                   f"a filter must be true or false, but this gives {gives}",
                   "expected: a condition such as rating == 'bad'")


# ---------------------------------------------------------------- values and formulas

VALUES = {
    "sum_of_string": ("""\
        metrics:
          x:
            table: tickets
            agg: sum
            value: channel
        """, "line 7, column 12, field 'value'",
        "the value of sum must be a number or a true/false value, but this gives a string"),
    "max_of_timestamp": ("""\
        metrics:
          x:
            table: tickets
            agg: max
            value: created_at
        """, "line 7, column 12, field 'value'",
        "the value of max must be a number or a true/false value, but this gives a timestamp"),
    "quantile_of_date": ("""\
        metrics:
          x:
            table: surveys
            agg: quantile
            q: 0.5
            value: answered_on
        """, "line 8, column 12, field 'value'",
        "the value of quantile must be a number or a true/false value, but this gives a date"),
    "numerator_value_string": ("""\
        metrics:
          x:
            table: tickets
            agg: ratio
            numerator: csat >= 4
            numerator_value: channel
        """, "line 8, column 22, field 'numerator_value'",
        "numerator_value must be a number or a true/false value, but this gives a string"),
    # a formula is a number computed from metrics (numbers)
    "formula_string": ("""\
        metrics:
          x:
            formula: "'abc'"
        """, "line 5, column 15, field 'formula'",
        "a formula must be a number or a true/false value, but this gives a string"),
    "formula_timestamp": ("""\
        metrics:
          x:
            formula: period_start()
        """, "line 5, column 14, field 'formula'",
        "a formula must be a number or a true/false value, but this gives a timestamp"),
    "formula_plus_string_param": ("""\
        params:
          suffix: abc
        metrics:
          x:
            formula: tickets + params.suffix
        """, "line 7, column 14, field 'formula'", "'+' cannot combine a number with a string"),
    "formula_lookup_by_metric": ("""\
        metrics:
          x:
            formula: lookup(params.level_coefficients, tickets, 1.0)
        """, "line 5, column 21, field 'formula'",
        "the key 'P2' of params.level_coefficients is not a number, but the key column is"),
    "derived_sum_of_string": ("""\
        tables:
          per_customer:
            from: tickets
            group_by: customer_id
            columns:
              s: {agg: sum, value: channel}
        """, "line 8, column 28, field 'value'",
        "the value of sum must be a number or a true/false value, but this gives a string"),
    "derived_labels_of_numbers": ("""\
        tables:
          per_customer:
            from: tickets
            group_by: customer_id
            columns:
              s: {agg: median_low, value: csat, order: [C, B, A, S]}
        """, "line 8, column 35, field 'value'",
        "the value of median_low with an 'order' (labels) must be a string, but this gives a number"),
    "weights_not_a_table": ("""\
        params:
          w: 3
        metrics:
          x:
            agg: standardized
            metric: fdr
            by: channel
            weights: params.w
        """, "line 10, column 14, field 'weights'",
        "weights must be a parameter table of numbers (channel → weight), but it gives 3"),
    "weights_not_numbers": ("""\
        params:
          w: {im: half, phone: half}
        metrics:
          x:
            agg: standardized
            metric: fdr
            by: channel
            weights: params.w
        """, "line 10, column 14, field 'weights'", "but the weight of 'im' is 'half'"),
}


@pytest.mark.parametrize("case", sorted(VALUES))
def test_a_value_of_the_wrong_kind_is_refused_at_check(service_ws, case):
    body, where, message = VALUES[case]
    extend(service_ws, body)
    code, output = cli("check", service_ws)
    assert_refused(code, output, f"ext.yaml, {where}", message)


# ---------------------------------------------------------------- limits

LIMITS = {
    # digits at column 23: "    value: round(1.5, " is 22 characters
    "round_digits": ("""\
        metrics:
          x:
            table: tickets
            agg: sum
            value: round(1.5, 100000000)
        """, "line 7, column 23", "round() to 100000000 digits is out of range",
        "digits between -20 and 20"),
    "round_digits_of_a_column": ("""\
        metrics:
          x:
            table: tickets
            agg: sum
            value: round(csat, -400)
        """, "line 7, column 24", "round() to -400 digits is out of range", None),
    # strings are never repeated, whatever the parameter's value
    "string_repetition": ("""\
        params:
          n: 100000000
        metrics:
          x:
            table: tickets
            agg: count
            where: "('a' * params.n) == 'a'"
        """, "line 9, column 14", "'*' cannot be applied to a string", "numbers (strings cannot be repeated)"),
    # a chain of long parameters joined to a column: every record would hold 12 000 characters
    "long_concatenation": ("""\
        params:
          s: """ + "x" * 6000 + """
        metrics:
          x:
            table: tickets
            agg: count_distinct
            value: channel + params.s + params.s
        """, "line 9, column 12", "the string is too long", "strings of at most 10000 characters"),
    "long_string_parameter": ("""\
        params:
          s: """ + "x" * 10001 + """
        metrics:
          x:
            table: tickets
            agg: count_distinct
            value: channel + params.s
        """, "line 9, column 22", "params.s is too long (10001 characters)", None),
    "infinite_literal": ("""\
        metrics:
          x:
            table: tickets
            agg: sum
            value: csat * 1e999
        """, "line 7, column 19", "the number is too large", None),
    "constant_overflow": ("""\
        metrics:
          x:
            table: tickets
            agg: sum
            value: 10.0 ** 99 * 10.0 ** 99 * 10.0 ** 99 * 10.0 ** 99
        """, "line 7, column 12", "the number is too large", None),
    "infinite_parameter": ("""\
        params:
          big: .inf
        metrics:
          x:
            table: tickets
            agg: sum
            value: csat * params.big
        """, "line 9, column 19", "params.big is not a finite number", None),
}


@pytest.mark.parametrize("case", sorted(LIMITS))
def test_a_limit_is_checked_at_check(service_ws, case):
    body, where, message, expected = LIMITS[case]
    extend(service_ws, body)
    code, output = cli("check", service_ws)
    assert_refused(code, output, f"ext.yaml, {where}", message, *([f"expected: {expected}"] if expected else []))


# ---------------------------------------------------------------- parameter tables

@pytest.mark.parametrize("text,column", [
    ("params.level_coefficients['P9']", 38),     # the key starts after "    value: params.level_coefficients["
    ("lookup(params.level_coefficients, 'P9')", 46),
])
def test_a_constant_key_missing_from_its_table_is_refused_at_check(service_ws, text, column):
    extend(service_ws, f"""\
        metrics:
          x:
            table: roster_days
            agg: sum
            value: {text}
            scopes: [team, org]
        """)
    code, output = cli("check", service_ws)
    assert_refused(code, output, f"ext.yaml, line 7, column {column}, field 'value'",
                   "'P9' is not a key of params.level_coefficients",
                   "expected: one of P2, P3, P4; or add the key to params.level_coefficients")


def test_a_key_with_a_default_may_be_missing(service_ws):
    extend(service_ws, """\
        metrics:
          x:
            table: roster_days
            agg: sum
            value: lookup(params.level_coefficients, 'P9', 1.0)
            scopes: [team, org]
        """)
    code, output = cli("check", service_ws)
    assert code == 0, output


# ---------------------------------------------------------------- always-empty values

def test_an_always_empty_value_runs(service_ws):
    """`value: None` passed check and crashed run (DuckDB stores no NULL-typed column)."""
    extend(service_ws, """\
        tables:
          tickets:
            dimensions:
              nothing: None
          per_customer:
            from: tickets
            group_by: customer_id
            columns:
              top: {agg: max, value: None}
        metrics:
          distinct_nothing:
            table: tickets
            agg: count_distinct
            value: None
            breakdowns: [nothing]
          max_nothing:
            table: tickets
            agg: max
            value: None
          ratio_of_nothing:
            table: tickets
            agg: ratio
            numerator_value: None
            denominator_value: csat
        """)
    assert cli("check", service_ws)[0] == 0
    code, output = cli("run", service_ws, "--no-pdf")
    assert code == 0, output
    a1 = metric_values(service_ws, "agent", "A1")
    assert a1["distinct_nothing"] == "0"  # a count of nothing is 0
    assert a1["max_nothing"] == "" and a1["ratio_of_nothing"] == ""  # undefined


# ---------------------------------------------------------------- levels

def test_a_level_missing_from_level_coefficients_is_a_data_error_at_check(service_ws):
    """Each bad level once, with its count and first lines, the known levels, exit 2.

    agents.csv: A1 (line 2) 'p3', A2 (line 3) and B2 (line 7) 'P5', 120 new agents (lines 8
    to 127) 'P9'.  A4 (line 5) left before the period: a bad level of hers would not count."""
    extra = [f"G{i:03d},Agent {i},gamma,P9,web,2025-01-01,,20000" for i in range(120)]
    set_levels(service_ws, {"A1": "p3", "A2": "P5", "B2": "P5", "A4": "P0"}, extra)
    code, output = cli("check", service_ws)
    assert_refused(code, output, "3 problems found")
    assert ("agents.csv, line 2, field 'level': level 'p3' is not a key of params.level_coefficients, which "
            "metric 'standard_person_days' (rulesets/default.yaml, line ") in output
    assert "looks up: 1 record of agents, line 2; did you mean 'P3'?" in output
    assert "agents.csv, line 3, field 'level': level 'P5' is not a key" in output
    assert "looks up: 2 records of agents, lines 3, 7\n" in output
    assert "agents.csv, line 8, field 'level': level 'P9' is not a key" in output
    assert "looks up: 120 records of agents, lines 8, 9, 10 and more\n" in output
    assert output.count("expected: one of P2, P3, P4; or add the key to params.level_coefficients") == 3
    for value in ("'p3'", "'P5'", "'P9'"):
        assert output.count(f"level {value} is not a key") == 1  # reported once, not per agent or day
    assert "'P0'" not in output
    # run refuses it the same way, and writes nothing
    code, output = cli("run", service_ws, "--no-pdf")
    assert_refused(code, output, "level 'P5' is not a key of params.level_coefficients")
    assert not (service_ws / "out").exists()


def test_a_level_listed_in_level_coefficients_counts_with_its_coefficient(service_ws):
    """B2 (beta, hired 2026-08-12: 20 days of the 62) is a P5 = 1.5.

    beta:  B1 P3 62 days * 1.0 + B2 P5 20 days * 1.5 = 92 standard person-days, capacity 92 / 62;
    alpha: A1 P3 62 * 1.0 + A2 P2 62 * 0.8 + A3 P4 (left 2026-07-15) 15 * 1.2 = 129.6, / 62;
    A4 left before the period."""
    set_levels(service_ws, {"B2": "P5"})
    extend(service_ws, """\
        params:
          level_coefficients: {P2: 0.8, P3: 1.0, P4: 1.2, P5: 1.5}
        """)
    code, output = cli("run", service_ws, "--no-pdf")
    assert code == 0, output
    beta = metric_values(service_ws, "team", "beta")
    assert Fraction(beta["standard_person_days"]) == 92
    assert float(beta["capacity"]) == pytest.approx(float(Fraction(92, 62)), abs=1e-11)
    alpha = metric_values(service_ws, "team", "alpha")
    assert float(alpha["standard_person_days"]) == pytest.approx(129.6, abs=1e-9)
    assert float(alpha["capacity"]) == pytest.approx(float(Fraction(1296, 620)), abs=1e-11)
    assert float(metric_values(service_ws, "agent", "B2")["level_coefficient"]) == 1.5


def test_small_team_counts_every_level_as_the_baseline(service_ws):
    """small_team lists no levels: every agent is 1.0, a level no ruleset knows included.
    beta: B1 62 days + B2 20 days = 82, capacity 82 / 62."""
    set_levels(service_ws, {"B2": "P7"})
    cycle = service_ws / "cycle.yaml"
    cycle.write_text(cycle.read_text(encoding="utf-8").replace("ruleset: default", "ruleset: small_team"),
                     encoding="utf-8")
    assert cli("check", service_ws)[0] == 0
    code, output = cli("run", service_ws, "--no-pdf")
    assert code == 0, output
    beta = metric_values(service_ws, "team", "beta")
    assert Fraction(beta["standard_person_days"]) == 82
    assert float(beta["capacity"]) == pytest.approx(float(Fraction(82, 62)), abs=1e-11)


# ---------------------------------------------------------------- the real command

def test_the_real_command_exits_2_without_a_traceback(service_ws):
    set_levels(service_ws, {"A2": "P5"})
    proc = run_merit_subprocess("check", service_ws)
    assert_user_error(proc, "agents.csv, line 3, field 'level'", "level 'P5' is not a key of "
                      "params.level_coefficients", "expected: one of P2, P3, P4")
    set_levels(service_ws, {"A2": "P2"})
    extend(service_ws, """\
        metrics:
          x:
            table: tickets
            agg: count
            where: channel
        """)
    proc = run_merit_subprocess("run", service_ws, "--no-pdf")  # run checks what check checks
    assert_user_error(proc, "ext.yaml, line 7, column 12, field 'where'", "a filter must be true or false")
