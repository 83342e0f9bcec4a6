"""merit.core.tables: typing, time zones, validation and line numbers.

Every expected value below is worked out by hand from the little files the
tests write.
"""

from __future__ import annotations

import datetime as dt

import pytest

from merit.core.errors import DataError, MeritError, ProblemList
from merit.core.tables import REQUIRED_TABLES, SCHEMAS, load_tables
from merit.core.workspace import open_workspace

AGENTS = (
    "agent_id,name,team,level,role,hired_on,left_on\n"
    "a1,Ann,red,P3,web,2025-01-01,\n"
    "a2,Bob,red,P4,ios,2024-03-01,2026-08-31\n"
)
T_HEAD = ("ticket_id,customer_id,channel,created_at,first_response_at,resolved_at,closed_at,assignee,"
          "reopened,escalated,product_issue,rating,csat,bad_review_cause,handle_minutes,wait_seconds\n")
T_OK = "t1,c1,im,2026-08-20 20:00,,,,a1,0,no,no,,,,,\n"


def make_ws(tmp_path, files: dict, tz: str = "Asia/Shanghai"):
    root = tmp_path / "ws"
    (root / "data").mkdir(parents=True)
    (root / "cycle.yaml").write_text(
        f"name: t\nperiod: {{start: 2026-07-01, end: 2026-09-30}}\ntimezone: {tz}\n")
    files = {"agents.csv": AGENTS, "tickets.csv": T_HEAD + T_OK, **files}
    for name, content in files.items():
        if content is None:
            continue
        path = root / "data" / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8", newline="")
        else:  # a callable writing the file itself
            content(path)
    return open_workspace(root)


def problems_of(ws, **kw) -> tuple[list[MeritError], int]:
    with pytest.raises(MeritError) as info:
        load_tables(ws, **kw)
    err = info.value
    if isinstance(err, ProblemList):
        return err.problems, err.total
    assert isinstance(err, DataError)
    return [err], err.count


def where(errs) -> list[tuple]:
    return [(e.file, e.line, e.field) for e in errs]


def rows(tables, name, *cols):
    t = tables.tables[name]
    return t.order_by("_row").select(*cols).to_pyarrow().to_pylist()


# --------------------------------------------------------------------------
# The contract
# --------------------------------------------------------------------------


def test_schemas_cover_the_contract():
    assert list(SCHEMAS) == ["agents", "tickets", "handoffs", "timelog", "knowledge", "grades",
                             "requirements", "innovations", "influence", "interceptions", "surveys",
                             "incidents", "costs"]
    assert REQUIRED_TABLES == ("agents", "tickets")
    assert SCHEMAS["tickets"].names == T_HEAD.strip().split(",")
    assert SCHEMAS["agents"].names[-2:] == ["cost_per_month", "email"]
    assert not SCHEMAS["agents"].column("email").required
    assert not SCHEMAS["agents"].column("cost_per_month").required
    assert not SCHEMAS["surveys"].column("agent_id").required
    assert not SCHEMAS["interceptions"].column("team").required


# --------------------------------------------------------------------------
# Typing
# --------------------------------------------------------------------------


def test_types_of_ticket_columns(tmp_path):
    tickets = T_HEAD + (
        " t1 , c1 ,IM,2026-08-20 20:00,2026-08-20 20:05:30,2026-08-21 19:00,,a1,0,YES,false,Good,5,,12.5,30\n"
        "t2,c2,Phone,2026-08-20T20:00:00+00:00,,,,,2,0,1,bad,1,Service,3,0.5\n"
        "t3,,email,2026-08-20,,,,  ,3.0,No,TRUE,,,,,\n"
    )
    tables = load_tables(make_ws(tmp_path, {"tickets.csv": tickets}))
    schema = tables.tables["tickets"].schema()
    assert str(schema["_row"]) == "int64"
    assert str(schema["ticket_id"]) == "string"
    assert schema["created_at"].is_timestamp() and schema["created_at"].timezone is None  # naive UTC instant
    assert str(schema["reopened"]) == "int64"
    assert str(schema["escalated"]) == "boolean"
    assert str(schema["handle_minutes"]) == "float64"
    got = rows(tables, "tickets", "_row", "ticket_id", "customer_id", "channel", "created_at",
               "first_response_at", "resolved_at", "assignee", "reopened", "escalated", "product_issue",
               "rating", "csat", "bad_review_cause", "handle_minutes", "wait_seconds")
    assert got[0] == {
        "_row": 0, "ticket_id": "t1", "customer_id": "c1", "channel": "im",
        # Asia/Shanghai is UTC+8: 20:00 local is 12:00 UTC
        "created_at": dt.datetime(2026, 8, 20, 12, 0), "first_response_at": dt.datetime(2026, 8, 20, 12, 5, 30),
        "resolved_at": dt.datetime(2026, 8, 21, 11, 0), "assignee": "a1", "reopened": 0,
        "escalated": True, "product_issue": False, "rating": "good", "csat": 5, "bad_review_cause": None,
        "handle_minutes": 12.5, "wait_seconds": 30.0,
    }
    # an explicit offset is honoured: +00:00 stays 20:00 UTC
    assert got[1]["created_at"] == dt.datetime(2026, 8, 20, 20, 0)
    assert got[1]["channel"] == "phone" and got[1]["assignee"] is None  # empty assignee: unassigned
    assert (got[1]["escalated"], got[1]["product_issue"]) == (False, True)
    assert got[1]["bad_review_cause"] == "service" and got[1]["rating"] == "bad"
    # a date alone is local midnight: 2026-08-20 00:00 +08:00 = 2026-08-19 16:00 UTC
    assert got[2]["created_at"] == dt.datetime(2026, 8, 19, 16, 0)
    assert got[2]["customer_id"] is None and got[2]["assignee"] is None  # empty / blank cells are NULL
    assert got[2]["reopened"] == 3  # '3.0' is a whole number
    assert (got[2]["escalated"], got[2]["product_issue"]) == (False, True)


def test_utc_workspace_keeps_naive_times(tmp_path):
    tickets = T_HEAD + "t1,c1,im,2026-08-20 20:00,,,,a1,0,no,no,,,,,\n" \
                       "t2,c1,im,2026-08-20T20:00:00+08:00,,,,a1,0,no,no,,,,,\n"
    tables = load_tables(make_ws(tmp_path, {"tickets.csv": tickets}, tz="UTC"))
    got = [r["created_at"] for r in rows(tables, "tickets", "created_at")]
    assert got == [dt.datetime(2026, 8, 20, 20, 0), dt.datetime(2026, 8, 20, 12, 0)]


def test_daylight_saving_zone(tmp_path):
    # Europe/Berlin: +02:00 in August, +01:00 in January
    tickets = T_HEAD + "t1,c1,im,2026-08-20 20:00,,,,a1,0,no,no,,,,,\n" \
                       "t2,c1,im,2026-01-20 20:00,,,,a1,0,no,no,,,,,\n"
    tables = load_tables(make_ws(tmp_path, {"tickets.csv": tickets}, tz="Europe/Berlin"))
    got = [r["created_at"] for r in rows(tables, "tickets", "created_at")]
    assert got == [dt.datetime(2026, 8, 20, 18, 0), dt.datetime(2026, 1, 20, 19, 0)]


def test_dates_lists_enums_and_grade_case(tmp_path):
    files = {
        "knowledge.csv": "item_id,kind,title,authors,published_on,views,citations\n"
                         "k1,FAQ,Reset, a1 ; a2;;,2026-08-01,10,2\n"
                         "k2,best_practice,Flow,,2026-08-02,,\n",
        "grades.csv": "item_id,panelist,grade,graded_at,comment\n"
                      "k1,p1,a,2026-08-03 10:00,fine\n"
                      "k1,p2,S,,\n",
        "timelog.csv": "agent_id,date,activity,hours\n"
                       "a1,2026-08-03,Online_Support,7.5\n",
        "costs.csv": "month,team,amount\n2026-08,red,1200.5\n",
    }
    tables = load_tables(make_ws(tmp_path, files))
    k = rows(tables, "knowledge", "kind", "authors", "published_on", "views")
    assert k == [
        {"kind": "faq", "authors": ["a1", "a2"], "published_on": dt.date(2026, 8, 1), "views": 10},
        {"kind": "best_practice", "authors": None, "published_on": dt.date(2026, 8, 2), "views": None},
    ]
    assert str(tables.tables["knowledge"].schema()["authors"]) == "array<string>"
    assert [r["grade"] for r in rows(tables, "grades", "grade")] == ["A", "S"]  # grades stay upper-case
    assert rows(tables, "timelog", "activity", "hours", "date") == [
        {"activity": "online_support", "hours": 7.5, "date": dt.date(2026, 8, 3)}]
    assert rows(tables, "costs", "month", "amount") == [{"month": "2026-08", "amount": 1200.5}]
    assert rows(tables, "agents", "level", "left_on")[1] == {"level": "P4", "left_on": dt.date(2026, 8, 31)}


def test_missing_optional_tables_and_columns(tmp_path):
    files = {"notes.csv": "whatever\n1\n",  # unknown files are ignored
             "surveys.csv": "response_id,customer_id,answered_on,score,extra\nr1,c1,2026-08-01,9,x\n"}
    tables = load_tables(make_ws(tmp_path, files))
    assert tables.has("agents") and tables.has("tickets") and tables.has("surveys")
    assert not tables.has("notes") and not tables.has("knowledge")
    assert tables.missing == ["handoffs", "timelog", "knowledge", "grades", "requirements", "innovations",
                              "influence", "interceptions", "incidents", "costs"]
    # the optional agent_id column is absent: all NULL; the extra column is dropped
    assert rows(tables, "surveys", "agent_id", "score") == [{"agent_id": None, "score": 9}]
    assert "extra" not in tables.tables["surveys"].columns
    assert rows(tables, "agents", "cost_per_month")[0] == {"cost_per_month": None}
    assert tables.sources["agents"].format == "csv"
    assert tables.sources["agents"].display == "ws/data/agents.csv"


def test_progress_callback(tmp_path):
    seen = []
    load_tables(make_ws(tmp_path, {"costs.csv": "month,team,amount\n"}), progress=seen.append)
    assert seen == ["agents", "tickets", "costs"]


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------


def test_missing_required_table(tmp_path):
    errs, total = problems_of(make_ws(tmp_path, {"agents.csv": None}))
    assert total == 1
    assert errs[0].file == "ws/data"
    assert "agents" in errs[0].message
    assert "agents.csv" in errs[0].expected


def test_missing_column(tmp_path):
    agents = "agent_id,name,level,role,hired_on,left_on\na1,Ann,P3,web,2025-01-01,\n"
    errs, total = problems_of(make_ws(tmp_path, {"agents.csv": agents}))
    assert total == 1
    assert where(errs) == [("ws/data/agents.csv", 1, "team")]
    assert "agent_id, name, level, role, hired_on, left_on" in errs[0].message


def test_every_bad_value_class(tmp_path):
    tickets = T_HEAD + (
        "t1,c1,im,2026-08-20 20:00,,,,a1,0,no,no,,,,,\n"                              # line 2: fine
        ",c1,im,2026-08-20 20:00,,,,a1,0,no,no,,,,,\n"                                # 3: empty id
        "t3,c1,im,20/08/2026,,,,a1,0,no,no,,,,,\n"                                    # 4: bad timestamp
        "t4,c1,im,2026-08-20 20:00,,,,a1,1.5,maybe,no,,,,,\n"                         # 5: bad int, bad bool
        "t1,c1,im,2026-08-20 20:00,,,,a1,0,no,no,,,,,\n"                              # 6: duplicate of line 2
        "t6,c1,im,2026-08-20 20:00,,,,a1,0,no,no,great,,,,\n"                         # 7: enum
        "t7,c1,im,2026-08-20 20:00,,,,a1,-1,no,no,,6,,-2,abc\n"                       # 8: ranges + bad float
        "t8,c1,im,2026-08-20 20:00,2026-08-20 19:00,2026-08-20 19:30,2026-08-20 19:59,a1,0,no,no,,,,,\n"  # 9
        "t9,c1,im,2026-08-20 20:00,,,,ghost,0,no,no,,,,,\n"                           # 10: unknown agent
        "t10,c1,im,2026-08-20 20:00,,,,,0,no,no,,,,,\n"                               # 11: unassigned: fine
    )
    agents = AGENTS + "a3,Cy,red,P2,web,2026-05-01,2026-04-30\n"  # line 4: left before hired
    errs, total = problems_of(make_ws(tmp_path, {"tickets.csv": tickets, "agents.csv": agents}))
    got = [(e.file.split("/")[-1], e.line, e.field) for e in errs]
    assert got == [
        ("agents.csv", 4, "left_on"),
        ("tickets.csv", 3, "ticket_id"),
        ("tickets.csv", 4, "created_at"),
        ("tickets.csv", 5, "reopened"),
        ("tickets.csv", 5, "escalated"),
        ("tickets.csv", 6, "ticket_id"),
        ("tickets.csv", 7, "rating"),
        ("tickets.csv", 8, "reopened"),
        ("tickets.csv", 8, "csat"),
        ("tickets.csv", 8, "handle_minutes"),
        ("tickets.csv", 8, "wait_seconds"),
        ("tickets.csv", 9, "first_response_at"),
        ("tickets.csv", 9, "resolved_at"),
        ("tickets.csv", 9, "closed_at"),
        ("tickets.csv", 10, "assignee"),
    ]
    assert total == 15
    by = {(e.file.split("/")[-1], e.line, e.field): e for e in errs}
    assert "empty" in by[("tickets.csv", 3, "ticket_id")].message
    assert "'20/08/2026'" in by[("tickets.csv", 4, "created_at")].message
    assert "ISO 8601" in by[("tickets.csv", 4, "created_at")].expected
    assert "'1.5'" in by[("tickets.csv", 5, "reopened")].message
    assert "'maybe'" in by[("tickets.csv", 5, "escalated")].message
    assert "line 2" in by[("tickets.csv", 6, "ticket_id")].message
    assert "good, neutral, bad" in by[("tickets.csv", 7, "rating")].expected
    assert by[("tickets.csv", 8, "csat")].expected == "a value from 1 to 5"
    assert by[("tickets.csv", 8, "reopened")].expected == "a value of at least 0"
    assert "'abc'" in by[("tickets.csv", 8, "wait_seconds")].message
    assert "created_at" in by[("tickets.csv", 9, "resolved_at")].message
    assert "'ghost'" in by[("tickets.csv", 10, "assignee")].message
    assert "hired_on" in by[("agents.csv", 4, "left_on")].message


def test_offsets_count_in_ordering(tmp_path):
    # 20:00 Shanghai is 12:00 UTC; a response at 13:00+00:00 is after it, one at 11:59Z before it
    tickets = T_HEAD + (
        "t1,c1,im,2026-08-20 20:00,2026-08-20T13:00:00+00:00,,,a1,0,no,no,,,,,\n"
        "t2,c1,im,2026-08-20 20:00,2026-08-20T11:59:00Z,,,a1,0,no,no,,,,,\n"
    )
    errs, total = problems_of(make_ws(tmp_path, {"tickets.csv": tickets}))
    assert where(errs) == [("ws/data/tickets.csv", 3, "first_response_at")]


def test_other_tables_ranges_enums_and_references(tmp_path):
    files = {
        "timelog.csv": "agent_id,date,activity,hours\n"
                       "a1,2026-08-03,online_support,25\n"          # 2: hours > 24
                       "zz,2026-02-30,online_support,1\n",          # 3: unknown agent, bad date
        "knowledge.csv": "item_id,kind,title,authors,published_on,views,citations\n"
                         "k1,faq,x,a1;ghost;a2,2026-08-01,1,0\n"    # 2: ghost author
                         "k2,wiki,y,a1,2026-08-01,1,0\n",           # 3: bad kind
        "grades.csv": "item_id,panelist,grade,graded_at,comment\n"
                      "k1,p1,A,,\n"
                      "k9,p1,E,,\n",                                # 3: unknown item, bad grade
        "requirements.csv": "requirement_id,title,submitter,submitted_on,kano,impact_share,status,landed_on\n"
                            "r1,x,a9,2026-08-01,basic,1.2,done,\n",  # 2: submitter, share, status
        "innovations.csv": "innovation_id,kind,title,owners,honor,recognized_on\n"
                           "i1,patent,x,a1;a2,galactic,2026-08-01\n",  # 2: honor
        "influence.csv": "record_id,kind,owners,customer_id,revenue,date\n"
                         "f1,onsite,nobody,c1,10,2026-08-01\n",     # 2: owner
        "interceptions.csv": "date,kind,tool,inquiries,intercepted\n2026-08-01,robot,bot,-3,1\n",
        "surveys.csv": "response_id,customer_id,answered_on,score,agent_id\n"
                       "s1,c1,2026-08-01,11,a1\n"                   # 2: score > 10
                       "s2,c1,2026-08-01,7,a7\n",                   # 3: unknown agent
        "costs.csv": "month,team,amount\n2026-8,red,1\n",
        "handoffs.csv": "ticket_id,from_agent,to_agent,at\nt1,a1,a5,2026-08-20 21:00\n",
        "incidents.csv": "incident_id,started_at,ended_at\n"
                         "n1,2026-08-01 10:00,2026-08-01 09:00\n",
    }
    errs, total = problems_of(make_ws(tmp_path, files))
    got = [(e.file.split("/")[-1], e.line, e.field) for e in errs]
    assert got == [
        ("handoffs.csv", 2, "to_agent"),
        ("timelog.csv", 2, "hours"),
        ("timelog.csv", 3, "agent_id"),
        ("timelog.csv", 3, "date"),
        ("knowledge.csv", 2, "authors"),
        ("knowledge.csv", 3, "kind"),
        ("grades.csv", 3, "item_id"),
        ("grades.csv", 3, "grade"),
        ("requirements.csv", 2, "submitter"),
        ("requirements.csv", 2, "impact_share"),
        ("requirements.csv", 2, "status"),
        ("innovations.csv", 2, "honor"),
        ("influence.csv", 2, "owners"),
        ("interceptions.csv", 2, "kind"),
        ("interceptions.csv", 2, "inquiries"),
        ("surveys.csv", 2, "score"),
        ("surveys.csv", 3, "agent_id"),
        ("incidents.csv", 2, "ended_at"),
        ("costs.csv", 2, "month"),
    ]
    assert total == 19
    by = {(e.file.split("/")[-1], e.line, e.field): e for e in errs}
    assert "'ghost'" in by[("knowledge.csv", 2, "authors")].message
    assert "'k9'" in by[("grades.csv", 3, "item_id")].message
    assert "S, A, B, C" in by[("grades.csv", 3, "grade")].expected
    assert "'2026-02-30'" in by[("timelog.csv", 3, "date")].message
    assert by[("timelog.csv", 2, "hours")].expected == "a value from 0 to 24"
    assert by[("requirements.csv", 2, "impact_share")].expected == "a value from 0 to 1"
    assert "YYYY-MM" in by[("costs.csv", 2, "month")].expected


def test_grades_unchecked_without_knowledge(tmp_path):
    files = {"grades.csv": "item_id,panelist,grade,graded_at,comment\nk9,p1,B,,\n"}
    tables = load_tables(make_ws(tmp_path, files))
    assert rows(tables, "grades", "item_id", "grade") == [{"item_id": "k9", "grade": "B"}]


def test_problem_limit_keeps_the_true_total(tmp_path):
    # The same problem in 120 rows is one problem counting 120.
    tickets = T_HEAD + "".join(f"t{i},c1,im,2026-08-20 20:00,,,,a1,0,no,no,,9,,,\n" for i in range(120))
    errs, total = problems_of(make_ws(tmp_path, {"tickets.csv": tickets}), limit=50)
    assert total == 120
    assert [(e.line, e.field, e.count) for e in errs] == [(2, "csat", 120)]
    assert errs[0].message == "120 values of csat are out of range, e.g. 9, first on lines 2, 3, 4, 5 and 6"
    # The limit bounds the problems listed (here 3: csat 120, reopened 60, wait_seconds 1); the total
    # still counts every row of each.
    tickets = T_HEAD + "".join(f"t{i},c1,im,2026-08-20 20:00,,,,a1,{'x' if i % 2 else 0},no,no,,9,,,\n"
                               for i in range(120)) + "u,c1,im,2026-08-20 20:00,,,,a1,0,no,no,,,,,-1\n"
    with pytest.raises(ProblemList) as info:
        load_tables(make_ws(tmp_path / "again", {"tickets.csv": tickets}), limit=2)
    assert info.value.total == 181 and info.value.groups == 3
    text = info.value.format()
    assert "... and 1 more kind of problem (1 in all) not shown (showing the first 2)" in text
    assert "181 problems found, listed as 3 groups (one per column and kind); nothing was written" in text


def test_quoted_newlines_shift_line_numbers(tmp_path):
    agents = (
        "agent_id,name,team,level,role,hired_on,left_on\n"   # 1
        'a1,"Ann\nSmith",red,P3,web,2025-01-01,\n'            # 2-3
        'a2,"Bob\r\nthe\nThird",red,P4,ios,2024-03-01,\n'     # 4-6
        "\n"                                                  # 7: blank, skipped
        "a3,Cy,red,P2,web,yesterday,\n"                       # 8: bad date
    )
    ws = make_ws(tmp_path, {"agents.csv": agents})
    errs, total = problems_of(ws)
    assert where(errs) == [("ws/data/agents.csv", 8, "hired_on")]
    good = agents.replace("yesterday", "2025-02-01")
    tables = load_tables(make_ws(tmp_path / "b", {"agents.csv": good}))
    assert tables.line_of("agents", [0, 1, 2]) == [2, 4, 8]
    assert tables.line_of("agents", 2) == 8
    assert rows(tables, "agents", "name")[1] == {"name": "Bob\r\nthe\nThird"}


def test_line_of_plain_csv_and_crlf(tmp_path):
    agents = AGENTS.replace("\n", "\r\n")
    tables = load_tables(make_ws(tmp_path, {"agents.csv": agents}))
    assert tables.line_of("agents", [1, 0]) == [3, 2]
    assert tables.line_of("tickets", 0) == 2


def test_duplicate_after_multiline_record_names_first_line(tmp_path):
    agents = AGENTS[:AGENTS.index("a2")] + 'a2,"B\nob",red,P4,ios,2024-03-01,\n' + "a2,Bo,red,P4,ios,2024-03-01,\n"
    errs, _ = problems_of(make_ws(tmp_path, {"agents.csv": agents}))
    assert where(errs) == [("ws/data/agents.csv", 5, "agent_id")]
    assert "first used on line 3" in errs[0].message


# --------------------------------------------------------------------------
# Files the CSV reader cannot parse
# --------------------------------------------------------------------------


def test_wrong_number_of_fields(tmp_path):
    agents = AGENTS + 'a3,"C\ny",red,P2,web,2025-01-01,\n' + "a4,Di,red,P2\n"  # 4-5, then 6
    errs, total = problems_of(make_ws(tmp_path, {"agents.csv": agents}))
    assert total == 1
    assert where(errs) == [("ws/data/agents.csv", 6, None)]
    assert "4 fields" in errs[0].message and "7" in errs[0].message


def test_unterminated_quote(tmp_path):
    agents = AGENTS + 'a3,"Cy,red,P2,web,2025-01-01,\n'
    errs, _ = problems_of(make_ws(tmp_path, {"agents.csv": agents}))
    assert where(errs) == [("ws/data/agents.csv", 4, None)]
    assert "quote" in errs[0].message


def test_not_utf8(tmp_path):
    agents = (AGENTS + "a3,Zo\xe9,red,P2,web,2025-01-01,\n").encode("latin-1")
    errs, _ = problems_of(make_ws(tmp_path, {"agents.csv": agents}))
    assert where(errs) == [("ws/data/agents.csv", 4, None)]
    assert "UTF-8" in errs[0].message


def test_empty_file_and_other_tables_still_checked(tmp_path):
    tickets = T_HEAD + "t1,c1,im,2026-08-20 20:00,,,,a1,x,no,no,,,,,\n"
    errs, total = problems_of(make_ws(tmp_path, {"agents.csv": b"", "tickets.csv": tickets}))
    assert total == 2
    assert where(errs) == [("ws/data/agents.csv", 1, None), ("ws/data/tickets.csv", 2, "reopened")]


def test_utf8_bom_header(tmp_path):
    tables = load_tables(make_ws(tmp_path, {"agents.csv": b"\xef\xbb\xbf" + AGENTS.encode()}))
    assert [r["agent_id"] for r in rows(tables, "agents", "agent_id")] == ["a1", "a2"]


# --------------------------------------------------------------------------
# Parquet and xlsx
# --------------------------------------------------------------------------


def test_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    def write(path):
        pq.write_table(pa.table({
            "ticket_id": ["t1", "t2", "t3"],
            "customer_id": ["c1", None, "c3"],
            "channel": ["IM", "phone", "im"],
            "created_at": pa.array([dt.datetime(2026, 8, 20, 20, 0)] * 3, pa.timestamp("us")),
            "first_response_at": pa.array([None, None, None], pa.timestamp("us")),
            "resolved_at": pa.array([dt.datetime(2026, 8, 21, 19, 0), None, None], pa.timestamp("us")),
            "closed_at": pa.array([None, None, None], pa.timestamp("us", tz="UTC")),
            "assignee": ["a1", "a2", "a1"],
            "reopened": [0, 1, 2],
            "escalated": [True, False, None],
            "product_issue": [False, False, True],
            "rating": ["good", None, "bad"],
            "csat": [5.0, None, 7.0],  # row 3: out of range
            "bad_review_cause": [None, None, "product"],
            "handle_minutes": [10.5, 3.0, None],
            "wait_seconds": [1, 2, 3],
        }), path)

    files = {"tickets.csv": None, "tickets.parquet": write}
    errs, total = problems_of(make_ws(tmp_path, files))
    assert where(errs) == [("ws/data/tickets.parquet", 3, "csat")]

    def write_ok(path):
        pq.write_table(pa.table({
            "ticket_id": ["t1"], "customer_id": ["c1"], "channel": ["IM"],
            "created_at": pa.array([dt.datetime(2026, 8, 20, 20, 0)], pa.timestamp("us")),
            "first_response_at": pa.array([dt.datetime(2026, 8, 20, 13, 0)], pa.timestamp("us", tz="UTC")),
            "resolved_at": ["2026-08-21 19:00"], "closed_at": [None], "assignee": ["a1"],
            "reopened": [0], "escalated": [True], "product_issue": [False], "rating": ["good"],
            "csat": [5.0], "bad_review_cause": [None], "handle_minutes": [10.5], "wait_seconds": [1],
        }), path)
        pq.write_table(pa.table({"item_id": ["k1"], "kind": ["faq"], "title": ["x"],
                                 "authors": [["a1", " a2 "]], "published_on": [dt.date(2026, 8, 1)],
                                 "views": [3], "citations": [0]}), path.parent / "knowledge.parquet")

    tables = load_tables(make_ws(tmp_path / "ok", {"tickets.csv": None, "tickets.parquet": write_ok}))
    got = rows(tables, "tickets", "channel", "created_at", "first_response_at", "resolved_at", "csat",
               "escalated")
    assert got == [{"channel": "im", "created_at": dt.datetime(2026, 8, 20, 12, 0),
                    "first_response_at": dt.datetime(2026, 8, 20, 13, 0),
                    "resolved_at": dt.datetime(2026, 8, 21, 11, 0), "csat": 5, "escalated": True}]
    assert rows(tables, "knowledge", "authors", "published_on") == [
        {"authors": ["a1", "a2"], "published_on": dt.date(2026, 8, 1)}]
    assert tables.sources["tickets"].format == "parquet"
    assert tables.line_of("tickets", [0]) == [1]


def test_xlsx(tmp_path):
    import openpyxl

    def write(path, bad=False):
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(["agent_id", "name", "team", "level", "role", "hired_on", "left_on", "cost_per_month"])
        ws.append(["a1", "Ann", "red", "P3", "web", dt.datetime(2025, 1, 1), None, 9000])
        ws.append([None] * 8)  # a blank sheet row is skipped
        ws.append(["a2", "Bob", "red", "P4", "ios", "2024-03-01", "soon" if bad else None, 1.5e4])
        wb.create_sheet("notes").append(["ignored"])
        wb.save(path)

    tables = load_tables(make_ws(tmp_path, {"agents.csv": None, "agents.xlsx": write}))
    assert rows(tables, "agents", "agent_id", "hired_on", "cost_per_month") == [
        {"agent_id": "a1", "hired_on": dt.date(2025, 1, 1), "cost_per_month": 9000.0},
        {"agent_id": "a2", "hired_on": dt.date(2024, 3, 1), "cost_per_month": 15000.0},
    ]
    assert tables.line_of("agents", [0, 1]) == [2, 4]
    errs, _ = problems_of(make_ws(tmp_path / "bad", {"agents.csv": None,
                                                      "agents.xlsx": lambda p: write(p, bad=True)}))
    assert where(errs) == [("ws/data/agents.xlsx", 4, "left_on")]
    assert "'soon'" in errs[0].message


# --------------------------------------------------------------------------
# One pass over big files, typed tables, the cheap value tests
# --------------------------------------------------------------------------


def test_typed_tables_hold_row_and_contract_columns_only(tmp_path):
    tables = load_tables(make_ws(tmp_path, {}))
    for name, t in tables.tables.items():
        assert t.columns == ("_row", *SCHEMAS[name].names)
    assert tables.counts == {"agents": 2, "tickets": 1}
    # loading again on the same connection replaces the tables
    again = load_tables(make_ws(tmp_path / "again", {"tickets.csv": T_HEAD + T_OK + T_OK.replace("t1", "t2")}),
                        tables.con)
    assert [r["ticket_id"] for r in rows(again, "tickets", "ticket_id")] == ["t1", "t2"]


def test_row_numbers_of_a_big_multi_chunk_csv(tmp_path):
    # ~40 MB: several CSV buffers, read by parallel threads; _row must still be the record index
    n = 300_000
    pad = "x" * 100

    def write(path, bad=True):
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(T_HEAD)
            for i in range(n):
                if i == 1000:  # a record spanning two lines: later lines are one more than _row + 2
                    fh.write(f't{i},"c\n{i}",im,2026-08-20 20:00,,,,a1,0,no,no,,,,,\n')
                elif i == n - 7 and bad:
                    fh.write(f"t{i},c{i}{pad},im,2026-08-20 20:00,,,,a1,{i}.5,no,no,,,,,\n")  # not a whole number
                elif i == n - 3 and bad:
                    fh.write(f"t{i},c{i}{pad},im,2026-08-20 20:00,,,,a1,0,no,no,,9,,,\n")  # csat out of range
                else:
                    fh.write(f"t{i},c{i}{pad},im,2026-08-20 20:00,,,,a1,{i % 7},no,no,,,,,{i}\n")

    errs, total = problems_of(make_ws(tmp_path, {"tickets.csv": write}))
    assert total == 2
    assert where(errs) == [("ws/data/tickets.csv", n - 7 + 3, "reopened"), ("ws/data/tickets.csv", n - 3 + 3, "csat")]
    assert f"'{n - 7}.5'" in errs[0].message and "csat 9 " in errs[1].message
    tables = load_tables(make_ws(tmp_path / "ok", {"tickets.csv": lambda p: write(p, bad=False)}))
    t = tables.tables["tickets"]
    mismatched = t.filter(t.ticket_id != ("t" + t._row.cast("string"))).count().execute()
    assert mismatched == 0 and tables.counts["tickets"] == n
    assert tables.line_of("tickets", [999, 1000, 1001, n - 1]) == [1001, 1002, 1004, n + 2]


def _typing_over(con, ctype: str, strings: list[str]):
    """Type cleaned *strings* (trimmed, not empty) as load_tables does; return {s: value as text}."""
    import pyarrow as pa

    from merit.core.tables import Column, _LocalTime, _typing

    strings = sorted({s.strip(" ") for s in strings} - {""})
    con.raw_sql("DROP TABLE IF EXISTS _strings")
    con.create_table("_strings", pa.table({"s": pa.array(strings, pa.string())}))
    local = _LocalTime(con, dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    pre, typed = _typing(Column("x", ctype), "s", "VARCHAR", local)
    inner = ", ".join(["s"] + [f"{e} AS s{suffix}" for suffix, e in pre.items()])
    got = con.raw_sql(f"SELECT s, CAST({typed} AS VARCHAR) FROM (SELECT {inner} FROM _strings)").fetchall()
    return dict(got), strings


def _reference(con, sql: str, strings: list[str]):
    """{s: value as text} by the contract's regular expressions and DuckDB's casts."""
    return dict(con.raw_sql(f"SELECT s, CAST({sql} AS VARCHAR) FROM _strings").fetchall())


def test_cheap_number_tests_agree_with_the_contract_regexes():
    import itertools

    from merit.core.tables import _FLOAT_RE, _INT_RE, connect

    con = connect("UTC")
    alphabet = "019.+-eE_xnif "
    strings = ["".join(p) for k in range(1, 5) for p in itertools.product(alphabet, repeat=k)]
    strings += ["nan", "NaN", "inf", "-inf", "+Infinity", "infinity", "0x10", "0b11", "1_000", "3.5", "3.0",
                "007", "+3", "-0", "1e3", "1.5e3", ".5", "5.", "+.5", "5.e3", "1e400", "-1e400", "1e-400",
                "9223372036854775807", "9223372036854775808", "-9223372036854775808", "1,000", "١٢", "3.000"]
    got, strings = _typing_over(con, "int", strings)
    want = _reference(con, f"CASE WHEN regexp_matches(s, '{_INT_RE}') THEN TRY_CAST(s AS BIGINT) END", strings)
    assert {s: v for s, v in got.items() if v != want[s]} == {}
    assert got["3.0"] == "3" and got["3.5"] is None and got["0x10"] is None and got["1_000"] is None
    got, strings = _typing_over(con, "float", strings)
    want = _reference(con, f"CASE WHEN regexp_matches(s, '{_FLOAT_RE}') AND isfinite(TRY_CAST(s AS DOUBLE)) "
                           f"THEN TRY_CAST(s AS DOUBLE) END", strings)
    assert {s: v for s, v in got.items() if v != want[s]} == {}
    assert got["1e3"] == "1000.0" and got["nan"] is None and got["inf"] is None and got["1e400"] is None


def _mutations(seed: str, alphabet: str) -> list[str]:
    out = [seed]
    for i in range(len(seed) + 1):
        out.append(seed[:i] + seed[i + 1:])
        for c in alphabet:
            out.append(seed[:i] + c + seed[i + 1:])
            out.append(seed[:i] + c + seed[i:])
    return out


@pytest.mark.parametrize("tz", ["UTC", "Asia/Shanghai", "Europe/Berlin", "America/New_York"])
def test_cheap_time_tests_agree_with_the_contract_regexes(tz):
    from merit.core.tables import _DATE_RE, _TS_RE, connect

    con = connect(tz)
    alphabet = "0129 -:T.Z+a/"
    seeds = ["2026-08-20", "2026-08-20 20:00", "2026-08-20 20:05:30", "2026-08-20T20:05:30+08:00",
             "2026-08-20 20:05:30.25Z", "2026-03-29 02:30:00", "2026-10-25 02:30", "2026-11-01 01:30:00",
             "2026-03-08 02:30:00", "0999-01-01 00:00:00", "1969-12-31 23:59:59"]
    strings = [m for seed in seeds for m in _mutations(seed, alphabet)]
    # the offset after a space, as helpdesks export it (read by strptime, which lets whitespace
    # stretch: tabs and doubled spaces in the mutations)
    for seed in ["2026-08-20 20:05:30 +0800", "2026-03-29 02:30:00 -0530", "2026-08-20 24:00:00 +0000"]:
        strings += _mutations(seed, alphabet + "\t")
    strings += ["10000-01-01 00:00:00", "10000-01-01 00:00:0", "2026-08-20 20:00:00 (BC)", "epoch", "infinity",
                "2026-08-2  20:00:00", "2026-08-20 20:00:00 Asia/Tokyo", "2026-08-20 24:00:00", "2026-02-30"]
    # every 90 minutes of 2025 and 2026 (daylight-saving changes included), in both canonical forms
    start = dt.datetime(2025, 1, 1)
    hours = [start + dt.timedelta(minutes=30 * k) for k in range(2 * 366 * 48)]
    strings += [h.strftime("%Y-%m-%d %H:%M:%S") for h in hours[::3]]
    strings += [h.strftime("%Y-%m-%d %H:%M") for h in hours[1::3]]
    got, strings = _typing_over(con, "timestamp", strings)
    # (a space before the offset, '20:00:00 +08:00', is dropped: DuckDB's cast refuses it)
    want = _reference(con, f"CASE WHEN regexp_matches(s, '{_TS_RE}') "
                           f"THEN timezone('UTC', TRY_CAST(regexp_replace(s, ' ([-+Zz])', '\\1') AS TIMESTAMPTZ)) "
                           f"END", strings)
    assert {s: (v, want[s]) for s, v in got.items() if v != want[s]} == {}
    got, strings = _typing_over(con, "date", [m for seed in seeds for m in _mutations(seed[:10], alphabet)])
    want = _reference(con, f"CASE WHEN regexp_matches(s, '{_DATE_RE}') THEN TRY_CAST(s AS DATE) END", strings)
    assert {s: (v, want[s]) for s, v in got.items() if v != want[s]} == {}


def test_parquet_native_types(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    def write(path, bad=False):
        pq.write_table(pa.table({
            "ticket_id": ["t1", "t2", "t3"], "customer_id": [" c1 ", "", None], "channel": ["IM", "im", "im"],
            "created_at": pa.array([dt.datetime(2026, 8, 20, 20, 0)] * 3, pa.timestamp("ms")),
            "first_response_at": pa.array([dt.date(2026, 8, 21), None, None], pa.date32()),
            "resolved_at": pa.array([dt.datetime(2026, 8, 21, 19, 0), None, None], pa.timestamp("us", tz="UTC")),
            "closed_at": pa.array([None] * 3, pa.timestamp("us")), "assignee": ["a1", "a2", None],
            "reopened": pa.array([0, 1, 2], pa.int32()), "escalated": [True, False, None],
            "product_issue": pa.array([1, 0, 2 if bad else 1], pa.int8()),  # integers read as yes/no
            "rating": ["good", None, "bad"], "csat": pa.array([5, None, 4], pa.uint8()),
            "bad_review_cause": [None, None, "product"],
            "handle_minutes": [10.5, float("nan") if bad else 3.0, None],
            "wait_seconds": pa.array([1, 2, 3], pa.int64()),
        }), path)

    tables = load_tables(make_ws(tmp_path, {"tickets.csv": None, "tickets.parquet": write}))
    got = rows(tables, "tickets", "customer_id", "created_at", "first_response_at", "resolved_at", "reopened",
               "product_issue", "csat", "handle_minutes")
    assert got[0] == {"customer_id": "c1", "created_at": dt.datetime(2026, 8, 20, 12, 0),
                      "first_response_at": dt.datetime(2026, 8, 20, 16, 0),  # a date: local midnight
                      "resolved_at": dt.datetime(2026, 8, 21, 19, 0),  # an instant stays as it is
                      "reopened": 0, "product_issue": True, "csat": 5, "handle_minutes": 10.5}
    assert got[1]["customer_id"] is None and got[2]["customer_id"] is None
    schema = tables.tables["tickets"].schema()
    assert str(schema["reopened"]) == "int64" and str(schema["csat"]) == "int64"
    errs, total = problems_of(make_ws(tmp_path / "bad", {"tickets.csv": None,
                                                          "tickets.parquet": lambda p: write(p, bad=True)}))
    assert where(errs) == [("ws/data/tickets.parquet", 2, "handle_minutes"),
                           ("ws/data/tickets.parquet", 3, "product_issue")]
    assert "'nan'" in errs[0].message and "'2'" in errs[1].message


def test_values_the_casts_accept_but_the_contract_refuses(tmp_path):
    tickets = T_HEAD + (
        "t1,c1,im,2026-08-20 20:00:00 Asia/Tokyo,,,,a1,0x10,no,no,,,,nan,1_000\n"
        "t2,c1,im,2026-08-2  20:00:00,,,,a1,1e3,no,no,,,,inf,0x10\n"
        "t3,c1,im,2026-08-20 20:00:00 +0800,,,,a1,1_000,no,no,,,,,\n"  # (an offset after a space is read)
    )
    agents = AGENTS.replace("2025-01-01", "2025-01-01 junk")
    errs, total = problems_of(make_ws(tmp_path, {"tickets.csv": tickets, "agents.csv": agents}))
    # one problem per column and check, with its count: created_at 2, reopened 3, the others 2
    assert [(e.line, e.field, e.count) for e in errs] == [
        (2, "hired_on", 1), (2, "created_at", 2), (2, "reopened", 3), (2, "handle_minutes", 2),
        (2, "wait_seconds", 2)]
    assert total == 10
    assert "'2025-01-01 junk'" in errs[0].message
    assert errs[2].message == "3 values are not valid whole numbers, e.g. '0x10', '1e3', '1_000', on lines 2, 3 and 4"


def test_colliding_key_hashes_are_not_duplicates(tmp_path, monkeypatch):
    import ibis

    import merit.core.tables as tables_mod

    # every key hashes alike: the exact count decides
    monkeypatch.setattr(tables_mod, "_hash",
                        lambda value: ibis.literal(7, "uint64") + value.length().cast("uint64") * 0)
    tickets = T_HEAD + T_OK + T_OK.replace("t1", "t2") + T_OK.replace("t1", "t3")
    tables = load_tables(make_ws(tmp_path, {"tickets.csv": tickets}))
    assert tables.counts["tickets"] == 3
    errs, total = problems_of(make_ws(tmp_path / "dup", {"tickets.csv": tickets + T_OK.replace("t1", "t2")}))
    assert total == 1 and where(errs) == [("ws/data/tickets.csv", 5, "ticket_id")]
    assert "first used on line 3" in errs[0].message


def test_local_times_to_utc_in_two_zones_in_one_process():
    """A zone's offsets are found once per process and zone: two cycles in different zones,
    evaluated one after the other (Shanghai again last), each convert with their own."""
    from merit.core.tables import _LocalTime, connect

    def utc_of(zone: str, local: str) -> tuple[str, list]:
        con = connect(zone)
        lt = _LocalTime(con, dt.date(2026, 7, 1), dt.date(2026, 9, 30))
        value = con.raw_sql(f"SELECT CAST({lt.to_utc(f'TIMESTAMP {local!r}')} AS VARCHAR)").fetchone()[0]
        return value, lt.stretches

    hour = 3_600_000_000  # microseconds
    shanghai, stretches = utc_of("Asia/Shanghai", "2026-08-20 20:00:00")
    assert shanghai == "2026-08-20 12:00:00"  # UTC+8 all year: one stretch, 2024 to 2029
    assert len(stretches) == 1 and stretches[0][2] == -8 * hour
    new_york, stretches = utc_of("America/New_York", "2026-08-20 20:00:00")
    assert new_york == "2026-08-21 00:00:00"  # EDT, UTC-4
    # 2024-01-01 to 2029-01-01: five summers (EDT) between six winters (EST)
    assert len(stretches) == 11 and stretches[0][2] == 4 * hour
    assert sorted({s[2] for s in stretches}) == [4 * hour, 5 * hour]
    winter, _ = utc_of("America/New_York", "2026-01-15 09:30:00")
    assert winter == "2026-01-15 14:30:00"  # EST, UTC-5
    assert utc_of("Asia/Shanghai", "2026-08-20 20:00:00")[0] == "2026-08-20 12:00:00"
