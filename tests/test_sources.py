"""Sources (cycle.yaml's `sources:`): an organisation's exports read as they are.

The exports under tests/fixtures/exports/ are hand-made in the documented shapes of Zendesk's
ticket CSV (a byte-order mark and CRLF line endings, as Excel writes a file back; `+0800`
offsets; assignees by name; tags separated by spaces) and Freshdesk's ticket export (an Excel
workbook whose tickets are on the sheet 'Tickets', not the first).  Every expected value is
worked out by hand from those files (the comments show how).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from merit.core.errors import MeritError, ProblemList
from merit.core.sources.spec import expr_name
from merit.core.tables import load_tables
from merit.core.workspace import open_workspace
from tests.conftest import assert_user_error
from tests.merit_cli import run_merit
from tests.metrics_helpers import check_metric, index_metrics, read_csv_rows

EXPORTS = Path(__file__).parent / "fixtures" / "exports"
HEAD = "name: t\nperiod: {start: 2026-08-01, end: 2026-08-31}\ntimezone: Asia/Shanghai\n"


def make_ws(tmp_path: Path, sources: str, exports: dict[str, str | bytes] | None = None,
            agents: str = "agents.csv") -> Path:
    """A workspace: data/agents.csv, the exports named (fixture names, or name -> content) under
    exports/, and cycle.yaml with *sources* (the text of its `sources:` section)."""
    root = tmp_path / "ws"
    (root / "data").mkdir(parents=True)
    (root / "exports").mkdir()
    shutil.copy(EXPORTS / agents, root / "data" / "agents.csv")
    for name, content in (exports or {}).items():
        target = root / "exports" / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        elif content == "fixture":
            shutil.copy(EXPORTS / name, target)
        else:
            target.write_text(content, encoding="utf-8", newline="")
    (root / "cycle.yaml").write_text(HEAD + "sources:\n" + sources, encoding="utf-8")
    return root


def ticket_rows(root: Path, *cols: str) -> list[tuple]:
    tables = load_tables(open_workspace(root))
    return [tuple(r[c] for c in cols) for r in
            tables.tables["tickets"].order_by("_row").select(*cols).to_pyarrow().to_pylist()]


def problems(root: Path) -> list[MeritError]:
    with pytest.raises(MeritError) as info:
        load_tables(open_workspace(root))
    err = info.value
    return err.problems if isinstance(err, ProblemList) else [err]


def workspace_error(root: Path) -> MeritError:
    with pytest.raises(MeritError) as info:
        open_workspace(root)
    return info.value


ZENDESK = "  tickets:\n    file: exports/zendesk-tickets.csv\n    preset: zendesk\n"


# --------------------------------------------------------------------------- names in expressions

@pytest.mark.parametrize("header,name", [("Satisfaction Score", "satisfaction_score"), ("Tags", "tags"),
                                         ("Ticket ID", "ticket_id"), (" Created at ", "created_at"),
                                         ("First reply time (in hrs)", "first_reply_time_in_hrs"),
                                         ("客户 名称", "客户_名称")])
def test_expression_names_of_headers(header, name):
    assert expr_name(header) == name


# --------------------------------------------------------------------------- Zendesk

def test_zendesk_export_is_read_as_it_is(tmp_path):
    root = make_ws(tmp_path, ZENDESK, {"zendesk-tickets.csv": "fixture"})
    rows = ticket_rows(root, "ticket_id", "customer_id", "assignee", "channel", "rating", "escalated", "reopened")
    assert rows == [
        ("101", "9001", "a1", "ticket", "good", True, 0),  # Web form; tags 'vip escalated'
        ("102", "9001", "a1", "email", "bad", False, 1),  # no tags: not escalated
        ("103", "9002", "a2", "im", "good", False, 0),  # the tag 'not_escalated' is not 'escalated'
        ("104", "9002", "a2", "ticket", None, False, 0),  # Offered: not rated
        ("105", "9003", None, "email", None, False, None),  # no assignee: unassigned
        ("106", "9003", "a3", "phone", "bad", True, 0),  # Voicemail
        ("107", "9001", "a3", "other", "good", False, 0),  # 'cai xin' is Cai Xin; Twitter: the default
    ]


def test_zendesk_offsets_are_instants(tmp_path):
    root = make_ws(tmp_path, ZENDESK, {"zendesk-tickets.csv": "fixture"})
    rows = ticket_rows(root, "created_at", "resolved_at")
    # 2026-08-03 09:00:00 +0800 is 01:00 UTC; 2026-08-12 23:00 +0800 is 15:00 UTC
    assert [(c.isoformat(), r and r.isoformat()) for c, r in (rows[0], rows[4], rows[5])] == [
        ("2026-08-03T01:00:00", "2026-08-03T12:00:00"), ("2026-08-11T04:00:00", None),
        ("2026-08-12T15:00:00", "2026-08-13T17:00:00")]


@pytest.fixture(scope="module")
def zendesk_metrics(tmp_path_factory):
    root = make_ws(tmp_path_factory.mktemp("zendesk"), ZENDESK, {"zendesk-tickets.csv": "fixture"})
    result = run_merit("run", root, "--no-pdf")
    assert result.returncode == 0, result.stderr
    return index_metrics(read_csv_rows(root / "out" / "metrics.csv")[1])


@pytest.mark.parametrize("sid,metric,value,n", [
    # fdr: resolved within 24 h of creation, over all tickets: 101 (11 h), 103 (1.5 h), 107 (1 h) of 7
    ("org", "fdr", 3 / 7, 7),
    ("a1", "fdr", 1 / 2, 2),  # 101 yes, 102 (48 h) no
    ("a2", "fdr", 1 / 2, 2),  # 103 yes, 104 unresolved
    ("a3", "fdr", 1 / 2, 2),  # 106 (26 h) no, 107 yes
    # good_rate: good over rated: 101, 103, 107 good of 101, 102, 103, 106, 107
    ("org", "good_rate", 3 / 5, 5),
    ("a1", "good_rate", 1 / 2, 2),
    ("a2", "good_rate", 1.0, 1),  # 104 is only offered, not rated
    # the export has no first-response time: undefined, not zero
    ("org", "first_response_avg_minutes", None, None),
])
def test_zendesk_metrics(zendesk_metrics, sid, metric, value, n):
    scope = "org" if sid == "org" else "agent"
    check_metric(zendesk_metrics.get((scope, sid, "", metric)), value, n, f"{sid} {metric}")


def test_zendesk_undefined_metric_names_the_missing_column(zendesk_metrics):
    assert "first_response_at" in zendesk_metrics[("org", "org", "", "first_response_avg_minutes")]["note"]


# --------------------------------------------------------------------------- Freshdesk (xlsx, a sheet)

FRESHDESK = "  tickets:\n    file: exports/freshdesk-tickets.xlsx\n    sheet: Tickets\n    preset: freshdesk\n"


def test_freshdesk_workbook_sheet_is_read(tmp_path):
    root = make_ws(tmp_path, FRESHDESK, {"freshdesk-tickets.xlsx": "fixture"})
    rows = ticket_rows(root, "ticket_id", "assignee", "channel", "rating", "escalated")
    assert rows == [("1", "a1", "email", "good", True), ("2", "a2", "ticket", "bad", False),
                    ("3", "a2", "phone", "neutral", False), ("4", "a3", "im", None, False),
                    ("5", None, "email", "good", False), ("6", "a1", "ticket", None, False)]


@pytest.fixture(scope="module")
def freshdesk_metrics(tmp_path_factory):
    root = make_ws(tmp_path_factory.mktemp("freshdesk"), FRESHDESK, {"freshdesk-tickets.xlsx": "fixture"})
    result = run_merit("run", root, "--no-pdf")
    assert result.returncode == 0, result.stderr
    return index_metrics(read_csv_rows(root / "out" / "metrics.csv")[1])


@pytest.mark.parametrize("sid,metric,value,n", [
    # fdr: 1 (6 h), 3 (12 h), 5 (1 h), 6 (23:59:59) of 6; 2 took 49 h, 4 is unresolved
    ("org", "fdr", 4 / 6, 6),
    ("a1", "fdr", 1.0, 2),
    ("a2", "fdr", 1 / 2, 2),
    ("a3", "fdr", 0.0, 1),
    # good_rate: 1 and 5 Awesome of the rated 1, 2 (Not Good), 3 (Just Okay), 5
    ("org", "good_rate", 2 / 4, 4),
    ("a2", "good_rate", 0.0, 2),
    # first response: 30, 120, 10 and 20 minutes (4 and 6 have none)
    ("org", "first_response_avg_minutes", 45.0, 4),
])
def test_freshdesk_metrics(freshdesk_metrics, sid, metric, value, n):
    scope = "org" if sid == "org" else "agent"
    check_metric(freshdesk_metrics.get((scope, sid, "", metric)), value, n, f"{sid} {metric}")


def test_unknown_sheet_lists_the_sheets(tmp_path):
    root = make_ws(tmp_path, FRESHDESK.replace("sheet: Tickets", "sheet: Ticket"),
                   {"freshdesk-tickets.xlsx": "fixture"})
    [err] = problems(root)
    assert err.message == "the workbook has no sheet 'Ticket' (did you mean 'Tickets'?); its sheets are: Summary, Tickets"
    assert err.file == "ws/exports/freshdesk-tickets.xlsx"
    assert "cycle.yaml line 7" in err.expected


# --------------------------------------------------------------------------- encodings

@pytest.mark.parametrize("name,encoding", [("zendesk-tickets-gb18030.csv", "auto"),
                                           ("zendesk-tickets-gb18030.csv", "gb18030"),
                                           ("zendesk-tickets-utf16.csv", "auto"),
                                           ("zendesk-tickets-utf16.csv", "utf-16")])
def test_gb18030_and_utf16_exports(tmp_path, name, encoding):
    root = make_ws(tmp_path, f"  tickets:\n    file: exports/{name}\n    preset: zendesk\n    encoding: {encoding}\n",
                   {name: "fixture"}, agents="agents-zh.csv")
    rows = ticket_rows(root, "ticket_id", "assignee")
    # 李安 is a1, 吴波 a2, 蔡欣 a3 (agents-zh.csv); ticket 105 has none
    assert rows == [("101", "a1"), ("102", "a1"), ("103", "a2"), ("104", "a2"), ("105", None), ("106", "a3"),
                    ("107", "a3")]


def test_utf8_start_and_gb18030_further_on(tmp_path, monkeypatch):
    monkeypatch.setattr("merit.core.sources.encoding.PROBE_BYTES", 200)  # the header and first row are ASCII
    root = make_ws(tmp_path, "  tickets:\n    file: exports/zendesk-tickets-gb18030.csv\n    preset: zendesk\n",
                   {"zendesk-tickets-gb18030.csv": "fixture"}, agents="agents-zh.csv")
    assert ticket_rows(root, "assignee")[1] == ("a1",)


def test_line_numbers_of_a_transcoded_file_are_the_files(tmp_path):
    text = (EXPORTS / "zendesk-tickets-gb18030.csv").read_bytes().decode("gb18030")
    bad = text.replace("2026-08-05 08:00:00 +0800", "yesterday")  # ticket 103, line 4
    root = make_ws(tmp_path, "  tickets:\n    file: exports/t.csv\n    preset: zendesk\n    encoding: utf-16\n",
                   {"t.csv": bad.encode("utf-16")}, agents="agents-zh.csv")
    [err] = problems(root)
    assert (err.file, err.line, err.field) == ("ws/exports/t.csv", 4, "created_at")


def test_windows_1252_export_is_read_when_said(tmp_path):
    """Excel's "CSV (Comma delimited)" on a Western European Windows: Windows-1252, in which 'é' is
    one byte (0xE9); the assignee is matched by name against agents.csv (UTF-8) only when read right."""
    text = "Id,Assignee,Created at\n1,Renée Lévesque,2026-08-03 09:00:00 +0800\n2,Ann Lee,2026-08-04 10:00:00 +0800\n"
    sources = ("  tickets:\n    file: exports/t.csv\n    timestamp_format: '%Y-%m-%d %H:%M:%S %z'\n    columns:\n"
               "      ticket_id: Id\n      created_at: Created at\n      assignee: {column: Assignee, match: name}\n")
    root = make_ws(tmp_path, sources.replace("    columns:", "    encoding: windows-1252\n    columns:"),
                   {"t.csv": text.encode("cp1252")})
    agents = root / "data" / "agents.csv"
    agents.write_text(agents.read_text(encoding="utf-8") + "a4,Renée Lévesque,blue,P2,web,2025-01-01,\n",
                      encoding="utf-8")
    assert ticket_rows(root, "ticket_id", "assignee") == [("1", "a4"), ("2", "a1")]
    # `auto` does not guess it: as GB18030, 'é' and the 'e' after it are one other character
    (root / "cycle.yaml").write_text(HEAD + "sources:\n" + sources, encoding="utf-8")
    [err] = problems(root)
    assert (err.line, err.field) == (2, "assignee") and "'Ren閑 L関esque'" in err.message  # é+e -> 閑, é+v -> 関


def test_timestamp_formats_with_offsets_read_only_real_dates(tmp_path):
    """Patterns with %z, tried in order on what ISO 8601 does not read: 20:00 at +08:00 is 12:00
    UTC, 10:30 at -05:30 is 16:00 UTC; 30 February is no date, whichever pattern is tried (DuckDB's
    strptime given a list of such patterns read it as 2 March)."""
    text = ("Id,Created at,assignee\n1,2026/08/20 20:00 +0800,a1\n2,20.08.2026 10:30 -05:30,a1\n"
            "3,2026-08-21 09:00:00+08:00,a1\n4,2026/02/30 20:00 +0800,a1\n")
    sources = ("  tickets:\n    file: exports/t.csv\n"
               "    timestamp_format: ['%d.%m.%Y %H:%M %z', '%Y/%m/%d %H:%M %z']\n"
               "    columns:\n      ticket_id: Id\n      created_at: Created at\n")
    root = make_ws(tmp_path, sources, {"t.csv": text})
    [err] = problems(root)
    assert (err.line, err.field) == (5, "created_at") and "'2026/02/30 20:00 +0800'" in err.message
    (root / "exports" / "t.csv").write_text(text.rsplit("4,", 1)[0], encoding="utf-8")
    assert ticket_rows(root, "ticket_id", "created_at") == [
        ("1", dt.datetime(2026, 8, 20, 12, 0)), ("2", dt.datetime(2026, 8, 20, 16, 0)),
        ("3", dt.datetime(2026, 8, 21, 1, 0))]  # (ISO 8601, read before any pattern)


def test_utf16_without_byte_order_mark(tmp_path):
    root = make_ws(tmp_path, "  tickets:\n    file: exports/t.csv\n    preset: zendesk\n    encoding: utf-16\n",
                   {"t.csv": "Id,Created at\n1,2026-08-03\n".encode("utf-16-le")})
    [err] = problems(root)
    assert err.message == "the file does not start with a UTF-16 byte-order mark"


# --------------------------------------------------------------------------- delimiters

def _zendesk_rows() -> list[list[str]]:
    import csv
    import io

    text = (EXPORTS / "zendesk-tickets.csv").read_text(encoding="utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


ZENDESK_IDS_AND_ASSIGNEES = [("101", "a1"), ("102", "a1"), ("103", "a2"), ("104", "a2"), ("105", None),
                             ("106", "a3"), ("107", "a3")]


@pytest.mark.parametrize("written", ['"\\t"', "tab", "'\\t'"])
def test_excel_unicode_text_is_utf16_and_tab_separated(tmp_path, written):
    """Excel's "Unicode Text": UTF-16 with its byte-order mark, tabs between fields, CRLF; the value
    "Question, billing" of ticket 104 holds a comma and is not quoted there."""
    text = "".join("\t".join(row) + "\r\n" for row in _zendesk_rows())
    root = make_ws(tmp_path, f"  tickets:\n    file: exports/t.csv\n    preset: zendesk\n    delimiter: {written}\n",
                   {"t.csv": text.encode("utf-16")})
    assert ticket_rows(root, "ticket_id", "assignee") == ZENDESK_IDS_AND_ASSIGNEES


def test_semicolon_separated_with_quoted_semicolons(tmp_path):
    import csv
    import io

    out = io.StringIO()
    rows = _zendesk_rows()
    rows[4][5] = "Question; billing"  # ticket 104's subject: quoted, as Excel writes it
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    assert '"Question; billing"' in out.getvalue()
    root = make_ws(tmp_path, "  tickets:\n    file: exports/t.csv\n    preset: zendesk\n    delimiter: ';'\n",
                   {"t.csv": "\ufeff" + out.getvalue()})
    assert ticket_rows(root, "ticket_id", "assignee") == ZENDESK_IDS_AND_ASSIGNEES
    # a line with one field too many is said in the file's own delimiter
    bad = out.getvalue().replace("\r\n102;", ";x\r\n102;", 1)  # the end of line 2 (ticket 101)
    root = make_ws(tmp_path / "bad", "  tickets:\n    file: exports/t.csv\n    preset: zendesk\n    delimiter: ';'\n",
                   {"t.csv": bad})
    [err] = problems(root)
    assert (err.line, err.message) == (2, "this line has 14 fields but the header has 13")
    assert err.expected.startswith("13 semicolon-separated fields")


@pytest.mark.parametrize("delimiter,name,written", [(";", "semicolon", "';'"), ("\t", "tab", '"\\t"'),
                                                    ("|", "vertical bar", "'|'")])
def test_a_file_in_data_split_by_another_delimiter_says_which_entry_to_add(service_ws, delimiter, name, written):
    agents = service_ws / "data" / "agents.csv"
    agents.write_text(agents.read_text(encoding="utf-8").replace(",", delimiter), encoding="utf-8")
    [err] = problems(service_ws)
    assert (err.file, err.line) == ("ws/data/agents.csv", 1)
    assert err.message == f"the header row is one column: its names are separated by a {name}, not a comma"
    assert f"delimiter: {written}" in err.expected


def test_a_utf16_file_in_data_says_it_is_utf16(service_ws):
    agents = service_ws / "data" / "agents.csv"
    agents.write_bytes(agents.read_text(encoding="utf-8").encode("utf-16"))
    [err] = problems(service_ws)
    assert (err.file, err.line, err.message) == ("ws/data/agents.csv", 1,
                                                 "the file is UTF-16 text, as Excel's 'Unicode Text' writes it")
    assert "encoding: auto" in err.expected


@pytest.mark.parametrize("entry,line,message", [
    ("  tickets: {file: exports/t.csv, delimiter: ':'}\n", 5, "the delimiter ':' is not one merit reads"),
    ("  tickets: {file: exports/t.csv, delimiter: ',,'}\n", 5, "the delimiter ',,' is not one merit reads"),
    ("  tickets: {file: exports/t.xlsx, delimiter: ';'}\n", 5, "'delimiter' is for CSV files only"),
])
def test_a_delimiter_merit_does_not_read_is_said_at_its_line(tmp_path, entry, line, message):
    root = make_ws(tmp_path, entry, {"t.csv": "Id\n", "t.xlsx": (EXPORTS / "freshdesk-tickets.xlsx").read_bytes()})
    err = workspace_error(root)
    found = err.problems if isinstance(err, ProblemList) else [err]
    assert [(e.line, e.field) for e in found] == [(line, "sources.tickets.delimiter")], found
    assert message in found[0].message


# --------------------------------------------------------------------------- value maps

MAPPED = ("  tickets:\n    file: exports/t.csv\n    columns:\n      ticket_id: Id\n      created_at: Created at\n"
          "      assignee: {column: Assignee, match: name}\n")
T_HEAD = "Id,Created at,Assignee,Via\n"


def test_value_without_entry_is_one_problem_with_count_and_map(tmp_path):
    rows = ("1,2026-08-03,Ann Lee,Web form\n2,2026-08-03,,Twitter\n3,2026-08-04,,Email\n4,2026-08-04,,Twitter\n"
            "5,2026-08-05,,API\n")
    root = make_ws(tmp_path, MAPPED + "      channel: {column: Via, values: {Web form: ticket, Email: email}}\n",
                   {"t.csv": T_HEAD + rows})
    [err] = problems(root)
    assert err.message == ("2 values of column 'Via' have no entry in the value map of channel: "
                           "'Twitter' (2 records), 'API' (1 record)")
    assert (err.file, err.line, err.field) == ("ws/exports/t.csv", 3, "channel")
    assert err.expected.startswith("a value the map has (Web form, Email): add them to "
                                   "sources.tickets.columns.channel.values")


def test_default_takes_the_values_without_entry(tmp_path):
    rows = "1,2026-08-03,Ann Lee,Web form\n2,2026-08-03,,Twitter\n3,2026-08-04,, \n"
    root = make_ws(tmp_path, MAPPED + "      channel: {column: Via, values: {Web form: ticket}, default: other}\n",
                   {"t.csv": T_HEAD + rows})
    # an empty cell stays empty: the default is for values
    assert ticket_rows(root, "channel") == [("ticket",), ("other",), (None,)]


def test_yes_no_keys_must_be_quoted(tmp_path):
    root = make_ws(tmp_path, MAPPED + "      escalated: {column: Via, values: {Yes: true, 'No': false}}\n",
                   {"t.csv": T_HEAD})
    err = workspace_error(root)
    assert (err.line, err.field) == (11, "sources.tickets.columns.escalated.values")
    assert "the key True is read by YAML as true/false: quote it" in err.message


# --------------------------------------------------------------------------- agent names

def test_unknown_and_ambiguous_names(tmp_path):
    agents = (EXPORTS / "agents.csv").read_text() + "a4,Bob Wu,blue,P3,web,2025-01-01,\n"
    rows = "1,2026-08-03,Ann Lee,\n2,2026-08-03,Bob Wu,\n3,2026-08-04,Anne Lee,\n4,2026-08-04,Anne Lee,\n"
    root = make_ws(tmp_path, MAPPED, {"t.csv": T_HEAD + rows})
    (root / "data" / "agents.csv").write_text(agents)
    errs = problems(root)
    assert [(e.line, e.field, e.message) for e in errs] == [
        (3, "assignee", "'Bob Wu' in column 'Assignee' (1 record) is the name of 2 agents: a2 (Bob Wu), a4 (Bob Wu)"),
        (4, "assignee", "'Anne Lee' in column 'Assignee' (2 records) is not the name of any agent "
                        "(the closest: 'Ann Lee')"),
    ]
    assert all(e.file == "ws/exports/t.csv" for e in errs)


def test_match_is_only_for_agent_ids(tmp_path):
    root = make_ws(tmp_path, MAPPED + "      customer_id: {column: Via, match: name}\n", {"t.csv": T_HEAD})
    err = workspace_error(root)
    assert err.message == "'match' resolves agent names to agent ids, but tickets.customer_id is not an agent id"
    assert (err.line, err.field) == (11, "sources.tickets.columns.customer_id.match")


# --------------------------------------------------------------------------- expressions

def test_expression_over_source_columns(tmp_path):
    head = "Id,Created at,Tags,Agent Email,Assignee\n"
    rows = "1,2026-08-03,vip escalated,Ann Lee <ann@x.org>,\n2,2026-08-03,,,\n3,2026-08-04,escalated_not,,\n"
    root = make_ws(tmp_path, "  tickets:\n    file: exports/t.csv\n    columns:\n      ticket_id: Id\n"
                             "      created_at: Created at\n"
                             "      escalated: {expr: \"contains(tags, 'escalated')\"}\n"
                             "      customer_id: {expr: \"split_part(agent_email, '<', 2)\"}\n",
                   {"t.csv": head + rows})
    # contains() is a substring test (has_tag() the whole tag); an empty text contains nothing
    assert ticket_rows(root, "escalated", "customer_id") == [(True, "ann@x.org>"), (False, None), (True, None)]


def test_expression_naming_an_unknown_column(tmp_path):
    root = make_ws(tmp_path, "  tickets:\n    file: exports/t.csv\n    columns:\n      ticket_id: Id\n"
                             "      created_at: Created at\n      escalated: {expr: \"contains(tagz, 'x')\"}\n",
                   {"t.csv": "Id,Created at,Tags,Assignee\n1,2026-08-03,x,\n"})
    [err] = problems(root)
    assert err.message.startswith("unknown column 'tagz' in table tickets; did you mean 'tags'?")
    assert (err.file, err.line) == ("ws/cycle.yaml", 10)


def test_expression_syntax_is_checked_when_the_workspace_opens(tmp_path):
    root = make_ws(tmp_path, MAPPED + "      escalated: {expr: \"contains(tags, \"}\n", {"t.csv": T_HEAD})
    err = workspace_error(root)
    assert err.message == "invalid syntax: '(' is never closed"
    assert (err.file, err.line) == ("ws/cycle.yaml", 11)


# --------------------------------------------------------------------------- cycle.yaml's sources

def test_file_outside_the_workspace(tmp_path):
    root = make_ws(tmp_path, "  tickets:\n    file: ../elsewhere.csv\n")
    (tmp_path / "elsewhere.csv").write_text("Id\n")
    err = workspace_error(root)
    assert err.message == "the file '../elsewhere.csv' is outside the workspace"
    assert (err.file, err.line, err.field) == ("ws/cycle.yaml", 6, "sources.tickets.file")


def test_parquet_the_cluster_reads_is_a_location_not_a_file(tmp_path):
    root = make_ws(tmp_path, "  tickets:\n    file: s3a://lake/support/tickets/*.parquet\n")
    ws = open_workspace(root)
    assert ws.cluster_files == {"tickets": "s3a://lake/support/tickets/*.parquet"}
    assert "tickets" not in ws.tables and ws.table_sources == {}
    # only Spark reads it: on the embedded DuckDB, a clear error before any table is read
    proc = run_merit("check", root)
    assert_user_error(proc, "'tickets' is read from s3a://lake/support/tickets/*.parquet, which only a Spark "
                            "cluster reads, but the cycle runs on the embedded DuckDB", "sources.tickets.file",
                      "backend: {kind: spark, ...}")


@pytest.mark.parametrize("entry, line, message", [
    ("file: s3a://lake/tickets.csv", 6, "'s3a://lake/tickets.csv' is read by the Spark cluster, which reads Parquet there"),
    ("file: hdfs://nn/tickets/\n    sheet: Tickets", 7, "'sheet' is for Excel workbooks (.xlsx) only"),
    ("file: file:///lake/t.parquet\n    encoding: gb18030", 7, "'encoding' is for CSV files: Parquet says its own"),
])
def test_a_cluster_location_names_parquet(tmp_path, entry, line, message):
    err = workspace_error(make_ws(tmp_path, f"  tickets:\n    {entry}\n"))
    assert (err.message, err.line, err.file) == (message, line, "ws/cycle.yaml")


def test_unknown_table_column_and_preset(tmp_path):
    root = make_ws(tmp_path, "  ticket:\n    file: exports/t.csv\n  tickets:\n    file: exports/t.csv\n"
                             "    preset: zendeks\n", {"t.csv": T_HEAD})
    err = workspace_error(root)
    assert [(e.line, e.message) for e in err.problems] == [
        (5, "'ticket' is not a table merit reads (did you mean 'tickets'?)"),
        (9, "unknown preset 'zendeks' (did you mean 'zendesk'?)"),
    ]
    root = make_ws(tmp_path / "2", "  tickets:\n    file: exports/t.csv\n    columns: {asignee: Assignee}\n",
                   {"t.csv": T_HEAD})
    err = workspace_error(root)
    assert err.message == "'asignee' is not a column of tickets (did you mean 'assignee'?)"


def test_mapped_header_missing_from_the_file(tmp_path):
    root = make_ws(tmp_path, MAPPED, {"t.csv": "Id,Created at,Asignee\n1,2026-08-03,\n"})
    [err] = problems(root)
    assert err.message.startswith("cycle.yaml maps tickets.assignee to the column 'Assignee', which is not in the "
                                  "header (did you mean 'Asignee'?)")
    assert (err.file, err.line) == ("ws/exports/t.csv", 1)


def test_user_entries_override_the_preset(tmp_path):
    root = make_ws(tmp_path, ZENDESK + "    columns:\n      channel: {column: Via, values: {Web form: web}, "
                                       "default: other}\n", {"zendesk-tickets.csv": "fixture"})
    assert [c for (c,) in ticket_rows(root, "channel")] == ["web", "other", "other", "web", "other", "other", "other"]
