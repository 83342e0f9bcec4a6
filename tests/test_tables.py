"""engine.tables: typing, time zones, validation and line numbers.

Every expected value below is worked out by hand from the little files the
tests write.
"""

from __future__ import annotations

import datetime as dt

import pytest

from engine.errors import DataError, MeritError, ProblemList
from engine.tables import REQUIRED_TABLES, SCHEMAS, load_tables
from engine.workspace import open_workspace

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
    return [err], 1


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
    assert SCHEMAS["agents"].names[-1] == "cost_per_month"
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
    tickets = T_HEAD + "".join(f"t{i},c1,im,2026-08-20 20:00,,,,a1,0,no,no,,9,,,\n" for i in range(120))
    errs, total = problems_of(make_ws(tmp_path, {"tickets.csv": tickets}), limit=50)
    assert total == 120
    assert len(errs) == 50
    assert [e.line for e in errs] == list(range(2, 52))
    with pytest.raises(ProblemList) as info:
        load_tables(make_ws(tmp_path / "again", {"tickets.csv": tickets}), limit=5)
    text = info.value.format()
    assert "... and 115 more (showing the first 5)" in text
    assert "120 problems found" in text


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
