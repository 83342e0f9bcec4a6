"""Problems as a person reads them: the same problem in one column is one problem with its count,
first lines and examples; a recognisable date pattern names the timestamp_format to add; and
"did you mean" for mistyped keys, metric ids and ids that differ only in case.

Every expected value is worked out by hand from the little files the tests write.
"""

from __future__ import annotations

import datetime as dt

import pytest

from merit.core.errors import DataError, MeritError, ProblemList, Problems
from merit.core.suggest import did_you_mean
from merit.core.tables import Column, _LocalTime, _typing, connect, load_tables
from merit.core.tables.date_patterns import recognised_formats
from merit.core.workspace import open_workspace
from tests.conftest import assert_user_error, run_merit
from tests.test_tables import AGENTS, T_HEAD, make_ws, problems_of, rows

EXCEL = "2026/8/20 20:00"


def ticket(i, created="2026-08-20 20:00", assignee="a1", rating="", csat=""):
    return f"t{i},c1,im,{created},,,,{assignee},0,no,no,{rating},{csat},,,\n"


# --------------------------------------------------------------------------
# One problem per column and check
# --------------------------------------------------------------------------


def test_a_bad_column_is_one_problem_with_count_lines_and_examples(tmp_path):
    # 84 rows in Excel's way: one problem counting 84, the first 5 lines, 3 distinct examples.
    body = "".join(ticket(i, created=f"2026/8/{20 + i % 3} 20:00") for i in range(84))
    errs, total = problems_of(make_ws(tmp_path, {"tickets.csv": T_HEAD + body}))
    assert total == 84
    assert len(errs) == 1
    err = errs[0]
    assert (err.file, err.line, err.field, err.count) == ("ws/data/tickets.csv", 2, "created_at", 84)
    assert err.message == ("84 values are not valid timestamps, e.g. '2026/8/20 20:00', '2026/8/21 20:00', "
                           "'2026/8/22 20:00', first on lines 2, 3, 4, 5 and 6")
    assert err.expected == (
        "an ISO 8601 timestamp, e.g. 2026-08-20 20:00 or 2026-08-20T20:00:00+08:00; or, to read them as they "
        'are, add to cycle.yaml: sources: {tickets: {file: data/tickets.csv, timestamp_format: "%Y/%m/%d %H:%M"}}')


def test_thousands_are_counted_exactly_and_written_with_separators(tmp_path):
    body = "".join(ticket(i, csat=9) for i in range(1234))
    errs, total = problems_of(make_ws(tmp_path, {"tickets.csv": T_HEAD + body}))
    assert total == 1234 and [e.count for e in errs] == [1234]
    assert errs[0].message == "1,234 values of csat are out of range, e.g. 9, first on lines 2, 3, 4, 5 and 6"


def test_problems_keep_table_line_column_order(tmp_path):
    body = (ticket(1) + ticket(2, rating="great") + ticket(3, csat=7) + ticket(4, rating="meh", csat=0)
            + ticket(5, created="tomorrow"))
    agents = AGENTS + "a3,Cy,red,P2,web,someday,\n"
    errs, total = problems_of(make_ws(tmp_path, {"tickets.csv": T_HEAD + body, "agents.csv": agents}))
    # agents first; then tickets by first line: rating (line 3), csat (line 4), created_at (line 6)
    assert [(e.file.split("/")[-1], e.line, e.field, e.count) for e in errs] == [
        ("agents.csv", 4, "hired_on", 1), ("tickets.csv", 3, "rating", 2), ("tickets.csv", 4, "csat", 2),
        ("tickets.csv", 6, "created_at", 1)]
    assert total == 6
    assert errs[1].message == "2 values are not allowed for rating, e.g. 'great', 'meh', on lines 3 and 5"
    assert errs[1].expected == "one of good, neutral, bad (or empty)"
    assert errs[2].message == "2 values of csat are out of range, e.g. 7, 0, on lines 4 and 5"
    assert errs[3].message == "'tomorrow' is not a valid timestamp"  # one row: as that row's problem
    assert errs[3].expected == "an ISO 8601 timestamp, e.g. 2026-08-20 20:00 or 2026-08-20T20:00:00+08:00"


def test_empty_ids_and_order_grouped(tmp_path):
    body = ("t1,c1,im,,,,,a1,0,no,no,,,,,\n" * 3
            + "t9,c1,im,2026-08-20 20:00,,,2026-08-20 19:00,a1,0,no,no,,,,,\n"
            + "t8,c1,im,2026-08-21 20:00,,,2026-08-21 10:00,a1,0,no,no,,,,,\n")
    errs, total = problems_of(make_ws(tmp_path, {"tickets.csv": T_HEAD + body}))
    by = {(e.field, e.message.split()[0]): e for e in errs}
    assert total == 3 + 2 + 2  # 3 empty created_at, 2 repeated t1, 2 closed before created
    empty = next(e for e in errs if e.field == "created_at")
    assert empty.message == "created_at is empty in 3 rows, on lines 2, 3 and 4: every row needs a value"
    dup = next(e for e in errs if e.field == "ticket_id")
    assert (dup.line, dup.count) == (3, 2)
    assert dup.message == "2 rows repeat a ticket_id of an earlier row, e.g. 't1' (first used on line 2), on lines 3 and 4"
    order = next(e for e in errs if e.field == "closed_at")
    assert (order.line, order.count) == (5, 2)
    assert order.message == ("2 rows have closed_at before created_at, e.g. 2026-08-20 19:00 before "
                             "2026-08-20 20:00, on lines 5 and 6")
    assert len(by) == 3


def test_unknown_agents_grouped_with_did_you_mean_for_case(tmp_path):
    body = ticket(1, assignee="A1") + ticket(2, assignee="ghost") + ticket(3, assignee="A1")
    errs, total = problems_of(make_ws(tmp_path, {"tickets.csv": T_HEAD + body}))
    assert total == 3 and len(errs) == 1
    assert errs[0].message == ("3 values of assignee are not agent_ids in agents, e.g. 'A1' (did you mean "
                               "'a1'?), 'ghost', on lines 2, 3 and 4")
    errs, total = problems_of(make_ws(tmp_path / "one", {"tickets.csv": T_HEAD + ticket(1, assignee="A2")}))
    assert errs[0].message == "assignee 'A2' is not an agent_id in agents (did you mean 'a2'?)"
    assert errs[0].expected == "an agent listed in agents (or empty)"


def test_list_references_grouped(tmp_path):
    knowledge = ("item_id,kind,title,authors,published_on,views,citations\n"
                 "k1,faq,A,a1;ghost,2026-08-01,0,0\n"
                 "k2,faq,B,A2;ghost;nobody,2026-08-01,0,0\n")
    errs, total = problems_of(make_ws(tmp_path, {"knowledge.csv": knowledge}))
    assert total == 4 and len(errs) == 1
    assert (errs[0].line, errs[0].field) == (2, "authors")
    assert errs[0].message == ("authors names 4 ids that are not agent_ids in agents, e.g. 'ghost', "
                               "'A2' (did you mean 'a2'?), 'nobody', on lines 2 and 3")
    assert errs[0].expected == "';'-separated ids that all appear in agents.agent_id"


def test_control_characters_are_escaped_and_long_values_cut(tmp_path):
    long = "x" * 80
    body = ticket(1, rating="go\x1b[31mod") + ticket(2, rating=long)
    errs, _ = problems_of(make_ws(tmp_path, {"tickets.csv": T_HEAD + body}))
    assert errs[0].message == f"2 values are not allowed for rating, e.g. 'go\\x1b[31mod', '{'x' * 57}...', on lines 2 and 3"
    assert "\x1b" not in errs[0].format()


def test_cli_headline_counts_rows_and_lists_groups(tmp_path):
    body = "".join(ticket(i, created=EXCEL, csat=9) for i in range(3))
    ws = make_ws(tmp_path, {"tickets.csv": T_HEAD + body})
    proc = run_merit("check", ws.root)
    assert_user_error(proc, "6 problems found, listed as 2 groups (one per column and kind); nothing was written",
                      "field 'created_at': 3 values are not valid timestamps, e.g. '2026/8/20 20:00', on lines 2, 3 and 4",
                      "field 'csat': 3 values of csat are out of range, e.g. 9, on lines 2, 3 and 4")


def test_problems_class_counts_occurrences():
    problems = Problems(limit=1)
    problems.add(DataError("a", count=5), (0, 2))
    problems.add(DataError("b"), (0, 1))
    assert problems.total == 6
    with pytest.raises(ProblemList) as info:
        problems.raise_if_any()
    assert [p.message for p in info.value.problems] == ["b"]
    assert info.value.format().splitlines()[1:] == [
        "... and 5 more (showing the first 1)",
        "6 problems found; nothing was written"]
    single = Problems()
    single.add(DataError("c", count=7))
    with pytest.raises(DataError) as one:  # one problem, however many rows: raised as it is
        single.raise_if_any()
    assert one.value.count == 7


# --------------------------------------------------------------------------
# Timestamps: patterns recognised, timestamp_format honoured, offsets after a space
# --------------------------------------------------------------------------


@pytest.mark.parametrize("values, formats", [
    (["2026/8/20 20:00"], ["%Y/%m/%d %H:%M"]),
    (["08/20/2026 8:00 PM"], ["%m/%d/%Y %I:%M %p"]),
    (["20.08.2026"], ["%d.%m.%Y"]),
    (["08/07/2026 10:00"], ["%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M"]),  # month or day first: both said
    (["08/07/2026 10:00", "08/20/2026 10:00"], ["%m/%d/%Y %H:%M"]),  # 20 is no month
    (["2026/08/20 20:00:00 +0800"], ["%Y/%m/%d %H:%M:%S %z"]),
    (["20 Aug 2026"], ["%d %b %Y"]),
    (["2026-8-20"], ["%Y-%m-%d"]),
    (["2026年8月20日 20:05"], ["%Y年%m月%d日 %H:%M"]),
    (["2026年08月20日 20时05分", "2026年8月2日 9时30分"], ["%Y年%m月%d日 %H时%M分"]),
    (["2026年08月20日 20时05分30秒"], ["%Y年%m月%d日 %H时%M分%S秒"]),
    (["garbage"], []),
    (["2026/8/20 20:00", "garbage"], []),  # every example must fit
    (["2026-02-30"], []),
])
def test_recognised_formats(values, formats):
    assert recognised_formats(connect("UTC"), values) == formats


def _typed(tz: str, ctype: str, strings: list[str], formats: tuple[str, ...]) -> dict:
    import pyarrow as pa

    con = connect(tz)
    con.create_table("_strings", pa.table({"s": pa.array(strings, pa.string())}))
    local = _LocalTime(con, dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    pre, typed = _typing(Column("x", ctype), "s", "VARCHAR", local, formats)
    inner = ", ".join(["s"] + [f"{e} AS s{suffix}" for suffix, e in pre.items()])
    return dict(con.raw_sql(f"SELECT s, CAST({typed} AS VARCHAR) FROM (SELECT {inner} FROM _strings)").fetchall())


def test_timestamp_formats_in_typing():
    got = _typed("Asia/Shanghai", "timestamp",
                 ["2026/8/20 20:00", "08/21/2026 8:00 PM", "20.08.2026 20:00 +0200", "2026-08-20 20:00",
                  "2026-08-20T20:00:00Z", "2026/8/20", "nonsense"],
                 ("%Y/%m/%d %H:%M", "%m/%d/%Y %I:%M %p", "%d.%m.%Y %H:%M %z"))
    assert got == {
        "2026/8/20 20:00": "2026-08-20 12:00:00",  # local wall time (UTC+8)
        "08/21/2026 8:00 PM": "2026-08-21 12:00:00",
        "20.08.2026 20:00 +0200": "2026-08-20 18:00:00",  # %z: the instant
        "2026-08-20 20:00": "2026-08-20 12:00:00",  # ISO 8601 still read
        "2026-08-20T20:00:00Z": "2026-08-20 20:00:00",
        "2026/8/20": None, "nonsense": None}


def test_timestamp_formats_in_dates():
    got = _typed("UTC", "date", ["2026/8/20", "2026/8/20 0:00", "2026/8/20 10:00", "2026-08-20", "20/08/2026"],
                 ("%Y/%m/%d", "%Y/%m/%d %H:%M", "%d/%m/%Y %z"))
    # a time of day other than midnight is no date; %z patterns are not used for dates
    assert got == {"2026/8/20": "2026-08-20", "2026/8/20 0:00": "2026-08-20", "2026/8/20 10:00": None,
                   "2026-08-20": "2026-08-20", "20/08/2026": None}


def test_offset_after_a_space_is_read_without_a_format(tmp_path):
    body = (ticket(1, created="2026-06-28 00:56:41 +0800") + ticket(2, created="2026-08-20 20:00:00 -05:00")
            + ticket(3, created="2026-08-20 20:00:00 Z"))
    tables = load_tables(make_ws(tmp_path, {"tickets.csv": T_HEAD + body}))
    assert [r["created_at"] for r in rows(tables, "tickets", "created_at")] == [
        dt.datetime(2026, 6, 27, 16, 56, 41), dt.datetime(2026, 8, 21, 1, 0), dt.datetime(2026, 8, 20, 20, 0)]


def test_timestamp_format_from_cycle_yaml(tmp_path):
    body = ticket(1, created=EXCEL) + "t2,c1,im,2026/8/21 9:00,08/21/2026 8:00 PM,,,a1,0,no,no,,,,,\n"
    ws = make_ws(tmp_path, {"tickets.csv": T_HEAD + body})
    cycle = ws.root / "cycle.yaml"
    base = cycle.read_text()
    cycle.write_text(base + 'sources:\n  tickets:\n    file: data/tickets.csv\n'
                            '    timestamp_format: ["%Y/%m/%d %H:%M", "%m/%d/%Y %I:%M %p"]\n')
    got = rows(load_tables(open_workspace(ws.root)), "tickets", "created_at", "first_response_at")
    assert got == [{"created_at": dt.datetime(2026, 8, 20, 12, 0), "first_response_at": None},
                   {"created_at": dt.datetime(2026, 8, 21, 1, 0), "first_response_at": dt.datetime(2026, 8, 21, 12, 0)}]
    cycle.write_text(base + 'sources:\n  tickets:\n    file: data/tickets.csv\n    timestamp_format: "%m/%d/%Y %I:%M %p"\n')
    errs, total = problems_of(open_workspace(ws.root))
    assert total == 2 and errs[0].message == (
        "2 values are not valid timestamps, e.g. '2026/8/20 20:00', '2026/8/21 9:00', on lines 2 and 3")
    assert errs[0].expected == (
        'an ISO 8601 timestamp, e.g. 2026-08-20 20:00 or 2026-08-20T20:00:00+08:00, or as its timestamp_format '
        'says ("%m/%d/%Y %I:%M %p"); or, to read them as they are, add "%Y/%m/%d %H:%M" to the timestamp_format '
        'list of the tickets entry of sources: in cycle.yaml')


# --------------------------------------------------------------------------
# Did you mean
# --------------------------------------------------------------------------


@pytest.mark.parametrize("word, candidates, text", [
    ("csat_agv", ["csat_avg", "fdr", "fcr"], " (did you mean 'csat_avg'?)"),
    ("a007", ["A007", "a008"], " (did you mean 'A007'?)"),  # case first, even with a closer spelling
    ("FDR", ["fdr", "fcr"], " (did you mean 'fdr'?)"),
    ("aht", ["fdr", "csat_avg"], ""),  # nothing close: no guess
    ("fdr", ["fdr"], ""),  # itself is never suggested
    ("x", [], ""),
])
def test_did_you_mean(word, candidates, text):
    assert did_you_mean(word, candidates) == text


def test_unknown_keys_in_cycle_yaml(tmp_path):
    ws = make_ws(tmp_path, {})
    cycle = ws.root / "cycle.yaml"
    cycle.write_text(cycle.read_text().replace("timezone:", "timezon:").replace("end:", "ende:"))
    with pytest.raises(MeritError) as info:
        open_workspace(ws.root)
    text = info.value.format()
    assert "unknown field 'timezon' (did you mean 'timezone'?)" in text
    assert "unknown field 'ende' (did you mean 'end'?)" in text
    cycle.write_text(cycle.read_text().replace("timezon:", "timezone:").replace("ende:", "end:")
                     + "sources:\n  tickets:\n    file: data/tickets.csv\n    timestamp_fromat: '%Y'\n")
    with pytest.raises(MeritError) as info:
        open_workspace(ws.root)
    assert "unknown field 'timestamp_fromat' (did you mean 'timestamp_format'?)" in info.value.format()


def test_unknown_keys_and_metric_ids_in_a_ruleset(tmp_path):
    from merit.core.compile import compile_ruleset
    from merit.core.ruleset import load_ruleset

    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nextends: default\nscoring:\n  kpis:\n    fdr:\n      weigth: 3\n")
    with pytest.raises(MeritError) as info:
        load_ruleset(str(path))
    assert "unknown field 'weigth' (did you mean 'weight'?)" in info.value.format()
    path.write_text("name: bad\nextends: default\nscoring:\n  kpis:\n    fdr:\n      metric: csat_agv\n")
    with pytest.raises(MeritError) as info:
        compile_ruleset(load_ruleset(str(path)))
    assert ("KPI 'fdr' scores 'csat_agv', which is not a metric of this ruleset (did you mean 'csat_avg'?)"
            in info.value.format())


def test_explain_suggests_metric_and_agent(service_ws):
    assert_user_error(run_merit("explain", service_ws, "--agent", "A1", "--metric", "csat_agv"),
                      "unknown metric 'csat_agv' (did you mean 'csat_avg'?)")
    assert_user_error(run_merit("explain", service_ws, "--agent", "a1", "--metric", "fdr"),
                      "unknown agent 'a1' (did you mean 'A1'?)")
