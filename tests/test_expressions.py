"""The expression language: column mode on DuckDB, scalar mode, sandbox, errors.

Expected values are worked by hand from the small table below.
"""

from __future__ import annotations

import datetime as d
import math

import ibis
import pytest

from merit.core.errors import ExpressionError, Origin
from merit.core.expressions import ColumnContext, Expr, as_filter, parse, to_local

# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------

SCHEMA = {
    "ticket_id": "string",
    "rating": "string",
    "bad_review_cause": "string",
    "channel": "string",
    "created_at": "timestamp",
    "resolved_at": "timestamp",
    "n": "int64",
    "m": "int64",
    "k": "int64",
    "x": "float64",
    "escalated": "boolean",
    "assignee": "string",
    "published_on": "date",
    "authors": "array<string>",
}
ROWS = {
    "ticket_id": ["t1", "t2", "t3", "t4"],
    "rating": ["bad", "bad", None, "good"],
    "bad_review_cause": ["product", None, None, "service"],
    "channel": ["im", "phone", None, "email"],
    "created_at": [d.datetime(2026, 8, 20, 12), d.datetime(2026, 8, 20, 12), None, d.datetime(2026, 10, 24, 23, 30)],
    "resolved_at": [d.datetime(2026, 8, 21, 11), None, None, d.datetime(2026, 10, 25, 1, 30)],
    "n": [1, 2, None, 4],
    "m": [2, 0, 1, None],
    "k": [-7, 7, None, -7],
    "x": [1.5, -2.5, None, 2.675],
    "escalated": [True, False, None, True],
    "assignee": ["a1", "a2", "a9", None],
    "published_on": [d.date(2026, 7, 1), d.date(2026, 7, 31), None, d.date(2026, 9, 30)],
    "authors": [["a1", "a2"], [], None, ["a3"]],
}
PARAMS = {
    "fdr_window_hours": 24,
    "grade_points": {"S": 30, "A": 8, "B": 3, "C": 1},
    "rating_points": {"bad": -1, "good": 2},
    "allowed_channels": ["im", "phone"],
    "level_coefficients": {"P2": 0.8, "P3": 1.0, "P4": 1.2},
}
ORIGIN = Origin(file="rulesets/team.yaml", line=12, column=14, resource="metric 'fdr'", field="where")


@pytest.fixture(scope="module")
def con():
    return ibis.duckdb.connect()


@pytest.fixture(scope="module")
def tickets():
    return ibis.memtable(ROWS, schema=SCHEMA)


@pytest.fixture(scope="module")
def agents():
    return ibis.memtable({"agent_id": ["a1", "a2", None], "team": ["x", "y", "z"]},
                         schema={"agent_id": "string", "team": "string"})


def ctx(tz: str = "UTC", tables=None, params=PARAMS) -> ColumnContext:
    return ColumnContext(params=params, timezone=tz, tables=tables or {}, table_name="tickets")


def run(con, table, text, tz="UTC", tables=None, params=PARAMS):
    value = parse(text).to_column(table, ctx(tz, tables, params))
    return con.to_pyarrow(table.select(v=value))["v"].to_pylist()


def records():
    keys = list(ROWS)
    return [{k: ROWS[k][i] for k in keys} for i in range(len(ROWS["ticket_id"]))]


def scalar(text, tz="UTC", params=PARAMS):
    e = parse(text)
    return [e.evaluate(r, params, tz) for r in records()]


def same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    return a == b and type(a) is type(b) if isinstance(a, bool) or isinstance(b, bool) else a == b


# ---------------------------------------------------------------------------
# Empty-value semantics (hand-worked over the four rows)
# ---------------------------------------------------------------------------

T, F, E = True, False, None

NULL_TABLE = [
    ("rating == 'bad' and bad_review_cause != 'product'", [F, T, F, F]),
    ("bad_review_cause != 'product'", [F, T, T, T]),
    ("bad_review_cause == 'product'", [T, F, F, F]),
    ("bad_review_cause == None", [F, T, T, F]),
    ("bad_review_cause != None", [T, F, F, T]),
    ("bad_review_cause is None", [F, T, T, F]),
    ("bad_review_cause is not None", [T, F, F, T]),
    ("is_empty(bad_review_cause)", [F, T, T, F]),
    ("rating == bad_review_cause", [F, F, T, F]),
    ("rating != bad_review_cause", [T, T, F, T]),
    ("bad_review_cause in ['product', 'service']", [T, F, F, T]),
    ("bad_review_cause not in ['product']", [F, T, T, T]),
    ("bad_review_cause in ['product', None]", [T, T, T, F]),
    ("bad_review_cause not in ['product', None]", [F, F, F, T]),
    ("channel in params.allowed_channels", [T, T, F, F]),
    ("rating in params.rating_points", [T, T, F, T]),
    ("'a1' in authors", [T, F, F, F]),
    ("assignee in authors", [T, F, F, F]),
    ("n > 1", [F, T, E, T]),
    ("n <= m", [T, F, E, E]),
    ("n + 1", [2, 3, E, 5]),
    ("n - m", [-1, 2, E, E]),
    ("n * x", [1.5, -5.0, E, 10.7]),
    ("n / m", [0.5, E, E, E]),
    ("n / 0", [E, E, E, E]),
    ("k // 2", [-4, 3, E, -4]),
    ("k % 2", [1, 1, E, 1]),
    ("k % -2", [-1, -1, E, -1]),
    ("k % m", [1, E, E, E]),
    ("k // m", [-4, E, E, E]),
    ("n ** 2", [1, 4, E, 16]),
    ("-n", [-1, -2, E, -4]),
    ("n > 1 and escalated", [F, F, E, T]),
    ("n > 1 or escalated", [T, T, E, T]),
    ("not escalated", [F, T, E, F]),
    ("escalated and None", [E, F, E, E]),
    ("escalated or None", [T, E, E, T]),
    ("escalated and True", [T, F, E, T]),
    ("escalated or False", [T, F, E, T]),
    ("0 < n <= 2", [T, T, E, F]),
    ("1 <= n < m", [T, F, E, E]),
    ("n < m < 3", [T, F, E, E]),
    ("'hi' if n > 1 else 'lo'", ["lo", "hi", "lo", "hi"]),
    ("n if escalated else None", [1, E, E, 4]),
    ("coalesce(bad_review_cause, 'service')", ["product", "service", "service", "service"]),
    ("coalesce(n, m, 0)", [1, 2, 1, 4]),
    ("least(n, m)", [1, 0, 1, 4]),
    ("greatest(n, m, 3)", [3, 3, 3, 4]),
    ("abs(k)", [7, 7, E, 7]),
    ("round(x)", [2, -3, E, 3]),
    ("round(x, 1)", [1.5, -2.5, E, 2.7]),
    ("round(x, 2)", [1.5, -2.5, E, 2.68]),
    ("round(n / 3, 2)", [0.33, 0.67, E, 1.33]),
    ("length(authors)", [2, 0, E, 1]),
    ("length(channel)", [2, 5, E, 5]),
    ("upper(channel)", ["IM", "PHONE", E, "EMAIL"]),
    ("lower(upper(rating)) + '!'", ["bad!", "bad!", E, "good!"]),
    ("published_on >= '2026-07-31'", [F, T, E, T]),
    ("published_on in ['2026-07-01', '2026-09-30']", [T, F, F, T]),
    ("days_between(published_on, date(created_at))", [50.0, 20.0, E, 24.0]),
    ("month(published_on)", ["2026-07", "2026-07", E, "2026-09"]),
    ("weekday(published_on)", [2, 4, E, 2]),
    ("date(published_on) == published_on", [T, T, T, T]),
    ("hours_between(created_at, resolved_at)", [23.0, E, E, 2.0]),
    ("minutes_between(created_at, resolved_at)", [1380.0, E, E, 120.0]),
    ("days_between(resolved_at, created_at)", [-23 / 24, E, E, -2 / 24]),
    ("hours_between(created_at, resolved_at) <= params.fdr_window_hours", [T, E, E, T]),
    ("params.rating_points[rating]", [-1, -1, E, 2]),
    ("lookup(params.rating_points, rating, 0)", [-1, -1, 0, 2]),
    ("lookup(params.rating_points, channel)", [E, E, E, E]),
    ("params.rating_points['good'] * n", [2, 4, E, 8]),
    ("7 / 2 + n * 0", [3.5, 3.5, E, 3.5]),
]


@pytest.mark.parametrize("text,expected", NULL_TABLE)
def test_column_mode(con, tickets, text, expected):
    got = run(con, tickets, text)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert same(g, e), (text, got, expected)


@pytest.mark.parametrize("text,expected", NULL_TABLE)
def test_scalar_mode_matches(text, expected):
    got = scalar(text)
    for g, e in zip(got, expected):
        assert same(g, e), (text, got, expected)


def test_as_filter_and_to_filter(con, tickets):
    e = parse("n > 1 and escalated")
    f = e.to_filter(tickets, ctx())
    assert con.to_pyarrow(tickets.filter(f).select("ticket_id"))["ticket_id"].to_pylist() == ["t4"]
    assert as_filter(None) is False and as_filter(True) is True
    assert [e.test(r, PARAMS) for r in records()] == [False, False, False, True]
    with pytest.raises(ExpressionError, match="a filter must be true or false"):
        parse("n + 1").to_filter(tickets, ctx())


def test_constants_fold(con, tickets):
    assert parse("7 / 2").evaluate({}) == 3.5
    assert parse("-7 // 2").evaluate({}) == -4
    assert parse("-7 % 2").evaluate({}) == 1
    assert parse("1 / 0").evaluate({}) is None
    assert parse("2 ** -1").evaluate({}) == 0.5
    assert parse("None == None").evaluate({}) is True
    assert parse("None < 1").evaluate({}) is None
    assert parse("1 < 2 < 3 < 2").evaluate({}) is False
    assert run(con, tickets, "False and n > 1") == [False] * 4
    assert run(con, tickets, "1 + 2") == [3] * 4
    assert run(con, tickets, "None") == [None] * 4
    assert parse("round(2.5)").evaluate({}) == 3 and parse("round(-2.5)").evaluate({}) == -3


def test_literal_columns_are_wide(con, tickets):
    # 120 * 1000 ** 3 overflows int32; columns built from literals are int64
    assert run(con, tickets, "(100 if n > 1 else 120) * 1000 * 1000 * 1000") == [
        120_000_000_000, 100_000_000_000, 120_000_000_000, 100_000_000_000]
    assert run(con, tickets, "(1.5 if n > 1 else 2.25) * 1e6 * 1000 * 1000 * 1000 * 1000") == [
        2.25e18, 1.5e18, 2.25e18, 1.5e18]
    assert run(con, tickets, "n * 0.1") == [0.1, 0.2, None, 0.4]  # double arithmetic, as in Python
    assert run(con, tickets, "abs(k) * 0.1") == [7 * 0.1, 7 * 0.1, None, 7 * 0.1]
    assert parse("1 if n > 1 else 0").to_column(tickets, ctx()).type().is_int64()
    assert parse("lookup(params.rating_points, rating, 0)").to_column(tickets, ctx()).type().is_int64()


def test_formula_mode(con):
    metrics = ibis.memtable({"escalated": [1, 0, 3], "tickets": [4, 0, None]},
                            schema={"escalated": "int64", "tickets": "int64"})
    e = parse("1 - escalated / tickets")
    got = con.to_pyarrow(metrics.select(v=e.to_column(metrics, ColumnContext(params={}, what="metric"))))["v"]
    assert got.to_pylist() == [0.75, None, None]
    assert e.evaluate({"escalated": 1, "tickets": 4}) == 0.75
    assert e.evaluate({"escalated": 1, "tickets": 0}) is None
    assert e.evaluate({"escalated": 1, "tickets": float("nan")}) is None  # NaN from pandas is empty
    assert e.names == frozenset({"escalated", "tickets"})
    with pytest.raises(ExpressionError, match="unknown metric 'ticket'; did you mean 'tickets'"):
        parse("escalated / ticket").to_column(metrics, ColumnContext(params={}, what="metric"))


def test_expr_attributes():
    e = parse("in_table(assignee, 'agents', 'agent_id') and lookup(params.rating_points, rating, 0) > params.x"
              " and hour(created_at) < 9")
    assert isinstance(e, Expr)
    assert e.names == frozenset({"assignee", "rating", "created_at"})
    assert e.params == frozenset({"rating_points", "x"})
    assert e.tables == frozenset({"agents"})
    assert e.text.startswith("in_table")


# ---------------------------------------------------------------------------
# Parameters and parameter tables
# ---------------------------------------------------------------------------


def test_param_table_with_column_key_compiles_to_case(tickets):
    value = parse("params.rating_points[rating]").to_column(tickets, ctx())
    sql = " ".join(ibis.to_sql(tickets.select(v=value)).split())
    assert value.type().is_int64()
    assert "CASE" in sql and "WHEN 'bad' THEN" in sql and "WHEN 'good' THEN" in sql


def test_unknown_param_lists_known_ones(tickets):
    with pytest.raises(ExpressionError) as info:
        parse("hours_between(created_at, resolved_at) <= params.fdr_window", ORIGIN).to_column(tickets, ctx())
    err = info.value
    assert err.message == "unknown parameter 'fdr_window'; did you mean 'fdr_window_hours'?"
    assert err.expected == ("one of: allowed_channels, fdr_window_hours, grade_points, "
                            "level_coefficients, rating_points")
    assert err.span == (42, 59) and err.column == 14 + 42
    with pytest.raises(ExpressionError, match="unknown parameter 'nope'"):
        parse("params.nope + 1").evaluate({}, PARAMS)


def test_param_misuse(tickets):
    with pytest.raises(ExpressionError, match="params.fdr_window_hours is a number, not a parameter table"):
        parse("params.fdr_window_hours[rating]").to_column(tickets, ctx())
    with pytest.raises(ExpressionError, match="gives a list, not a single value"):
        parse("params.allowed_channels").to_column(tickets, ctx())
    with pytest.raises(ExpressionError, match="the right side of 'in' must be a list, not a number"):
        parse("channel in params.fdr_window_hours").to_column(tickets, ctx())
    assert parse("params.grade_points").evaluate({}, PARAMS) == PARAMS["grade_points"]  # a whole table
    assert parse("params.grade_points['S']").evaluate({}, PARAMS) == 30
    assert parse("params.grade_points['X']").evaluate({}, PARAMS) is None
    assert parse("lookup(params.grade_points, g, 0)").evaluate({"g": "X"}, PARAMS) == 0
    assert parse("lookup(params.level_coefficients, level, 1.0)").evaluate({"level": None}, PARAMS) == 1.0


# ---------------------------------------------------------------------------
# in_table
# ---------------------------------------------------------------------------


def test_in_table(con, tickets, agents):
    tables = {"agents": agents}
    assert run(con, tickets, "in_table(assignee, 'agents', 'agent_id')", tables=tables) == [T, T, F, F]
    assert run(con, tickets, "not in_table(assignee, 'agents', 'agent_id')", tables=tables) == [F, F, T, T]
    with pytest.raises(ExpressionError, match="unknown table 'agent'; did you mean 'agents'") as info:
        parse("in_table(assignee, 'agent', 'agent_id')", ORIGIN).to_column(tickets, ctx(tables=tables))
    assert info.value.span == (19, 26) and info.value.expected == "one of: agents"
    with pytest.raises(ExpressionError, match="unknown column 'id' in table agents"):
        parse("in_table(assignee, 'agents', 'id')").to_column(tickets, ctx(tables=tables))
    with pytest.raises(ExpressionError, match="only works in record-level expressions"):
        parse("in_table(a, 'agents', 'agent_id')").evaluate({"a": "a1"})


# ---------------------------------------------------------------------------
# Time: local time in both compile paths, DST edge
# ---------------------------------------------------------------------------

TS = [
    d.datetime(2026, 10, 24, 23, 59),  # Berlin 01:59 CEST, Shanghai 07:59 on the 25th
    d.datetime(2026, 10, 25, 0, 30),  # Berlin 02:30 CEST (first 02:30)
    d.datetime(2026, 10, 25, 1, 30),  # Berlin 02:30 CET (second 02:30, after the change)
    d.datetime(2026, 12, 31, 16, 0),  # Berlin 17:00, Shanghai 2027-01-01 00:00
    d.datetime(2026, 3, 29, 0, 59),  # Berlin 01:59 CET, just before spring forward
    d.datetime(2026, 3, 29, 1, 0),  # Berlin 03:00 CEST
    None,
]
TIME_CASES = {
    "Asia/Shanghai": {
        "month(ts)": ["2026-10", "2026-10", "2026-10", "2027-01", "2026-03", "2026-03", None],
        "date(ts)": [d.date(2026, 10, 25)] * 3 + [d.date(2027, 1, 1), d.date(2026, 3, 29), d.date(2026, 3, 29), None],
        "hour(ts)": [7, 8, 9, 0, 8, 9, None],
        "weekday(ts)": [6, 6, 6, 4, 6, 6, None],  # 2026-10-25 is a Sunday, 2027-01-01 a Friday
    },
    "Europe/Berlin": {
        "month(ts)": ["2026-10", "2026-10", "2026-10", "2026-12", "2026-03", "2026-03", None],
        "date(ts)": [d.date(2026, 10, 25)] * 3 + [d.date(2026, 12, 31), d.date(2026, 3, 29), d.date(2026, 3, 29), None],
        "hour(ts)": [1, 2, 2, 17, 1, 3, None],
        "weekday(ts)": [6, 6, 6, 3, 6, 6, None],
    },
    "UTC": {
        "month(ts)": ["2026-10", "2026-10", "2026-10", "2026-12", "2026-03", "2026-03", None],
        "date(ts)": [d.date(2026, 10, 24), d.date(2026, 10, 25), d.date(2026, 10, 25), d.date(2026, 12, 31),
                     d.date(2026, 3, 29), d.date(2026, 3, 29), None],
        "hour(ts)": [23, 0, 1, 16, 0, 1, None],
        "weekday(ts)": [5, 6, 6, 3, 6, 6, None],
    },
}


@pytest.fixture(scope="module")
def times():
    return ibis.memtable({"ts": TS, "i": list(range(len(TS)))}, schema={"ts": "timestamp", "i": "int64"})


@pytest.mark.parametrize("tz", list(TIME_CASES))
def test_local_time_functions(con, times, tz):
    for text, expected in TIME_CASES[tz].items():
        assert run(con, times, text, tz=tz, params={}) == expected, (tz, text)
        e = parse(text)
        assert [e.evaluate({"ts": v}, timezone=tz) for v in TS] == expected, (tz, text, "scalar")


def test_hours_between_is_exact_across_dst(con, times):
    # 00:30 UTC and 01:30 UTC are both 02:30 in Berlin: one hour apart all the same.
    t = times.filter(times.i == 1).mutate(later=ibis.literal(TS[2]))
    assert run(con, t, "hours_between(ts, later)", tz="Europe/Berlin", params={}) == [1.0]
    assert parse("hours_between(a, b)").evaluate({"a": TS[1], "b": TS[2]}, timezone="Europe/Berlin") == 1.0
    assert parse("minutes_between(a, b)").evaluate({"a": TS[0], "b": None}) is None


def test_to_local_paths(times):
    fixed = ibis.to_sql(times.select(v=to_local(times.ts, "Asia/Shanghai")))
    assert "INTERVAL '28800' SECOND" in fixed and "TIMEZONE" not in fixed.upper()
    assert ibis.to_sql(times.select(v=to_local(times.ts, "UTC"))).count("INTERVAL") == 0
    dst = ibis.to_sql(times.select(v=to_local(times.ts, "Europe/Berlin")))
    assert "TIMEZONE('Europe/Berlin', TIMEZONE('UTC'" in dst


def test_date_and_timestamp_do_not_mix(tickets):
    with pytest.raises(ExpressionError, match="cannot mix a date and a timestamp"):
        parse("days_between(published_on, created_at)").to_column(tickets, ctx())
    with pytest.raises(ExpressionError, match="cannot compare a timestamp with a string"):
        parse("created_at >= '2026-07-01'").to_column(tickets, ctx())
    with pytest.raises(ExpressionError, match="hour\\(\\) needs a timestamp, not a date"):
        parse("hour(published_on)").to_column(tickets, ctx())


# ---------------------------------------------------------------------------
# Sandbox: every known escape is a clear ExpressionError at parse time
# ---------------------------------------------------------------------------

ESCAPES = [
    ("().__class__.__bases__[0].__subclasses__()", "attribute access ('.__class__') is not allowed"),
    ("__import__('os')", "unknown function '__import__'"),
    ("__import__", "the name '__import__' is not allowed"),
    ("open('/etc/passwd')", "unknown function 'open'"),
    ("getattr(x, 'y')", "unknown function 'getattr'"),
    ("exec('import os')", "unknown function 'exec'"),
    ("eval('1')", "unknown function 'eval'"),
    ("lambda: 1", "lambda functions are not allowed"),
    ("(lambda: 1)()", "lambda functions are not allowed"),
    ("[x for x in y]", "comprehensions are not allowed"),
    ("x in (y for y in z)", "comprehensions are not allowed"),
    ("params.__class__", "the parameter name '__class__' is not allowed"),
    ("params.x.__class__", "attribute access ('.__class__') is not allowed"),
    ("params.x.__class__.__mro__", "attribute access ('.__class__') is not allowed"),
    ("x.real", "attribute access ('.real') is not allowed"),
    ("rating.lower()", "attribute access ('.lower') is not allowed"),
    ("'a' * 10**9", "'*' cannot be applied to a string"),
    ("'ab' + 'c' * 99", "'*' cannot be applied to a string"),
    ("9 ** 9 ** 9", "the exponent 387420489 is too large"),
    ("x ** 101", "the exponent 101 is too large"),
    ("(10 ** 100) ** 100", "the number is too large"),
    ("f'{x}'", "f-strings are not allowed"),
    ("(y := 1)", "assignment (':=') is not allowed"),
    ("-" * 60 + "1", "nested too deeply"),
    ("(" * 300 + "1" + ")" * 300, "invalid syntax"),
    ("x + " * 600 + "x", "too long"),
    ("x = 1", "assignment is not allowed"),
    ("x += 1", "assignment is not allowed"),
    ("import os", "import is not allowed"),
    ("from os import system", "import is not allowed"),
    ("a; b", "only one expression is allowed"),
    ("del x", "a 'delete' statement is not allowed"),
    ("{'a': 1}", "'{...}' literals are not allowed"),
    ("{*x}", "'{...}' literals are not allowed"),
    ("[*x]", "'*' unpacking is not allowed"),
    ("abs(*x)", "'*' unpacking is not allowed"),
    ("round(x, ndigits=2)", "takes its arguments by position"),
    ("x[0]", "indexing ('[...]') is only allowed on a parameter table"),
    ("params.t[1:2]", "a parameter table takes one key"),
    ("params", "'params' must be followed by a parameter name"),
    ("b'x'", "bytes literals are not allowed"),
    ("1j", "complex literals are not allowed"),
    ("...", "ellipsis literals are not allowed"),
    ("x & y", "'&' is not allowed; use 'and'"),
    ("~x", "'~' is not allowed; use 'not'"),
    ("x is 1", "'is' is only allowed as 'x is None'"),
    ("x @ y", "'@' is not allowed"),
    ("x << 2", "'<<' is not allowed"),
]


@pytest.mark.parametrize("text,message", ESCAPES)
def test_sandbox_escapes_are_refused_at_parse(text, message):
    with pytest.raises(ExpressionError) as info:
        parse(text, ORIGIN)
    assert message in info.value.message, info.value.message
    assert info.value.file == "rulesets/team.yaml" and info.value.line is not None
    assert info.value.format()  # renders without failing


def test_no_other_exception_types_escape(con, tickets):
    """Odd but syntactically valid inputs still end as ExpressionError."""
    odd = ["abs('x')", "lower(n)", "length(n)", "coalesce(n, 'x')", "least(authors, 1)",
           "'a' < 1", "n if n else m", "not n", "n and escalated", "1 if escalated else 'x'",
           "rating in 'bad'", "params.rating_points[authors]", "hours_between(n, m)",
           "month(rating)", "n + created_at", "created_at - resolved_at", "true", "null",
           "escalated < True", "\x00"]
    for text in odd:
        for mode in ("column", "scalar"):
            with pytest.raises(ExpressionError):
                e = parse(text)
                if mode == "column":
                    e.to_column(tickets, ctx())
                else:
                    e.evaluate(records()[0], PARAMS)


def test_evaluator_is_simpleeval():
    import simpleeval

    from merit.core.expressions import _ColumnEval, _ScalarEval

    assert issubclass(_ScalarEval, simpleeval.SimpleEval)
    assert issubclass(_ColumnEval, simpleeval.SimpleEval)


# ---------------------------------------------------------------------------
# Error positions
# ---------------------------------------------------------------------------


def test_unknown_column_position_and_message(tickets):
    with pytest.raises(ExpressionError) as info:
        parse("hours_between(created_at, resolvd_at) <= 24", ORIGIN).to_column(tickets, ctx())
    err = info.value
    assert err.message == "unknown column 'resolvd_at' in table tickets; did you mean 'resolved_at'?"
    assert err.expected.startswith("one of: assignee, authors, bad_review_cause, channel, created_at,")
    assert (err.file, err.line, err.column, err.field, err.resource) == (
        "rulesets/team.yaml", 12, 40, "where", "metric 'fdr'")
    assert err.text == "hours_between(created_at, resolvd_at) <= 24"
    assert err.span == (26, 36)
    assert err.format() == (
        "rulesets/team.yaml, line 12, column 40, field 'where': metric 'fdr': "
        "unknown column 'resolvd_at' in table tickets; did you mean 'resolved_at'?\n"
        "    hours_between(created_at, resolvd_at) <= 24\n"
        "                              ^^^^^^^^^^\n"
        "  expected: " + err.expected
    )


def test_unknown_name_in_scalar_mode():
    with pytest.raises(ExpressionError) as info:
        parse("escalated / tickts", ORIGIN).evaluate({"escalated": 1, "tickets": 2})
    assert info.value.message == "unknown name 'tickts'; did you mean 'tickets'?"
    assert info.value.span == (12, 18) and info.value.column == 26


def test_unknown_function_position():
    with pytest.raises(ExpressionError) as info:
        parse("n > 1 and hours_betwen(a, b) < 2", ORIGIN)
    err = info.value
    assert err.message == "unknown function 'hours_betwen'; did you mean 'hours_between'?"
    assert (err.line, err.column, err.span) == (12, 24, (10, 22))
    assert "hours_between" in err.expected


def test_syntax_error_position():
    with pytest.raises(ExpressionError) as info:
        parse("rating == == 'bad'", ORIGIN)
    err = info.value
    assert err.message.startswith("invalid syntax")
    assert (err.line, err.column, err.span) == (12, 24, (10, 12))
    with pytest.raises(ExpressionError) as info:
        parse("csat >= 4 and (rating == 'bad'", ORIGIN)
    assert info.value.message == "invalid syntax: '(' is never closed" and info.value.span == (14, 15)
    with pytest.raises(ExpressionError) as info:
        parse("lookup(params.t, [x, 1)", ORIGIN)
    assert info.value.span == (22, 23) and "does not match opening parenthesis '['" in info.value.message
    with pytest.raises(ExpressionError) as info:
        parse("rating == 'bad')", ORIGIN)
    assert info.value.message == "invalid syntax: unmatched ')'" and info.value.span == (15, 16)
    with pytest.raises(ExpressionError) as info:
        parse("n >", ORIGIN)
    assert info.value.message == "invalid syntax: the expression is incomplete" and info.value.span == (3, 4)


def test_positions_count_characters_not_bytes():
    with pytest.raises(ExpressionError) as info:
        parse("title == '产品问题' and x.real", ORIGIN)
    assert info.value.span == (20, 26) and info.value.column == 34


def test_multiline_positions():
    text = "rating == 'bad'\n  and bad_review_cause != 'product'\n  and x.imag"
    with pytest.raises(ExpressionError) as info:
        parse(text, ORIGIN)
    err = info.value
    assert (err.line, err.column, err.span, err.text) == (14, 20, (6, 12), "  and x.imag")
    ok = parse("rating == 'bad'\n  and n > 1")
    assert ok.evaluate({"rating": "bad", "n": 2}) is True


def test_two_statements_position():
    with pytest.raises(ExpressionError) as info:
        parse("a; b", ORIGIN)
    assert info.value.span == (3, 4) and info.value.column == 17


def test_assignment_hint():
    with pytest.raises(ExpressionError) as info:
        parse("rating = 'bad'", ORIGIN)
    assert info.value.message == "assignment is not allowed (use '==' to compare)"


def test_operand_type_error_points_at_operand(tickets):
    with pytest.raises(ExpressionError) as info:
        parse("n > 1 and channel", ORIGIN).to_column(tickets, ctx())
    assert info.value.message == "'and' needs true/false values, not a string"
    assert info.value.span == (10, 17)


def test_errors_without_origin():
    with pytest.raises(ExpressionError) as info:
        parse("a +* b")
    assert info.value.line is None and info.value.column == 4 and info.value.file is None


def test_literal_hint(tickets):
    with pytest.raises(ExpressionError, match=r"unknown column 'true' in table tickets \(write True\)"):
        parse("escalated == true").to_column(tickets, ctx())


def test_empty_and_long_text():
    with pytest.raises(ExpressionError, match="the expression is empty"):
        parse("  ", ORIGIN)
    with pytest.raises(ExpressionError, match=r"too long \(2001 characters\)") as info:
        parse("x" * 2001, ORIGIN)
    assert info.value.expected.startswith("at most 2000 characters")


# ---------------------------------------------------------------------------
# What the ruleset check relies on (issue 10: what `check` accepts, `run` computes)
# ---------------------------------------------------------------------------


def test_a_power_the_database_cannot_take_is_empty_in_both_modes(con, tickets):
    # n = 1, 2, empty, 4: (n - 10) ** 0.5 is the root of a negative number, (n - n) ** -1 is 1 / 0;
    # Python has no real answer for either (scalar mode: empty), the database gives NaN and inf
    for text in ("(n - 10) ** 0.5", "(n - n) ** -1"):
        assert run(con, tickets, text) == [E, E, E, E], text
        assert scalar(text) == [E, E, E, E], text
    assert run(con, tickets, "(n - 3) ** 2") == [4.0, 1.0, E, 1.0]  # a negative base to a whole power is fine


@pytest.mark.parametrize("text,message,span", [
    ("round(x, 100000000)", "round() to 100000000 digits is out of range", (9, 18)),
    ("round(x, -21)", "round() to -21 digits is out of range", (9, 12)),
    ("x * 1e999", "the number is too large", (4, 9)),
    ("1e300 * 1e300 > x", "the number is too large", (0, 13)),
    ("x < 1e308 / 1e-10", "the number is too large", (4, 17)),
])
def test_limits_are_checked_when_the_expression_is_parsed(text, message, span):
    with pytest.raises(ExpressionError) as info:
        parse(text, ORIGIN)
    assert info.value.message == message and info.value.span == span
    assert parse("round(x, 20)") and parse("round(x, -20)")


def test_parameters_are_bounded(tickets):
    params = {"s": "y" * 10_001, "t": "y" * 6000, "inf": float("inf")}
    with pytest.raises(ExpressionError, match=r"params.s is too long \(10001 characters\)"):
        parse("channel + params.s").to_column(tickets, ctx(params=params))
    with pytest.raises(ExpressionError, match="params.inf is not a finite number"):
        parse("x * params.inf").to_column(tickets, ctx(params=params))
    # joined to a column, 6000 + 6000 characters of constants: every record would exceed the bound
    with pytest.raises(ExpressionError, match="the string is too long") as info:
        parse("channel + params.t + params.t", ORIGIN).to_column(tickets, ctx(params=params))
    assert info.value.span == (0, 29)
    assert parse("channel + params.t").to_column(tickets, ctx(params=params)) is not None


def test_to_value_checks_the_kind(tickets):
    assert parse("n * 2").to_value(tickets, ctx(), ("number",), "the value of sum", "a number").type().is_int64()
    assert parse("None").to_value(tickets, ctx(), ("number",), "the value of sum", "a number") is not None
    with pytest.raises(ExpressionError) as info:
        parse("channel", ORIGIN).to_value(tickets, ctx(), ("number", "boolean"), "the value of sum", "a number")
    assert info.value.message == "the value of sum must be a number or a true/false value, but this gives a string"
    assert info.value.column == 14 and info.value.expected == "a number"


def test_strict_lookups_are_collected_not_evaluated(con, tickets):
    """Without a default (or as params.NAME[key]) a lookup is strict: the value of a missing key
    is still empty in both modes, and the context collects the lookup so that the ruleset
    check (constant keys) and the data check (column keys) can refuse missing keys."""
    checks = []
    context = ColumnContext(params=PARAMS, tables={}, table_name="tickets", key_checks=checks)
    e = parse("lookup(params.rating_points, rating) + params.grade_points['S'] + lookup(params.rating_points, "
              "channel, 0)", ORIGIN)
    assert e.strict_lookup
    value = e.to_column(tickets, context)
    assert con.to_pyarrow(tickets.select(v=value))["v"].to_pylist() == [29, 29, E, 32]
    assert [(c.param, c.key_text, sorted(c.keys)) for c in checks] == [
        ("rating_points", "rating", ["bad", "good"]), ("grade_points", "'S'", ["A", "B", "C", "S"])]
    assert isinstance(checks[0].key, ibis.Value) and checks[1].key == "S"
    assert checks[0].missing_constant() is None and checks[1].missing_constant() is None
    assert not parse("lookup(params.rating_points, rating, 0)").strict_lookup
    # a constant key that is missing: an error at its position, with the keys it could be
    checks.clear()
    parse("params.grade_points['s']", ORIGIN).to_column(tickets, context)
    err = checks[0].missing_constant()
    assert err.message == "'s' is not a key of params.grade_points; did you mean 'S'?"
    assert err.span == (20, 23) and err.column == 14 + 20
    assert err.expected == ("one of A, B, C, S; or add the key to params.grade_points, or give a default: "
                            "lookup(params.grade_points, 's', DEFAULT)")
    assert parse("params.grade_points['s']").evaluate({}, PARAMS) is None  # evaluation: empty
