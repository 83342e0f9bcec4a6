"""Tables that live on a backend (`sources: {NAME: {table: ...}}`) and files Spark reads itself
(merit.core.backend_tables): typed as the file loader types the same text, validated on the
backend with problems named by table, key and column.  DuckDB plays "a database holding the
tables" (cheap); PostgreSQL and Spark run on the real engines (tests/backend_servers.py)."""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest

from merit.core.backend_tables import load_backend_tables
from merit.core.backend_tables.typing import typed_text
from merit.core.contract import Column
from merit.core.errors import DataError, MeritError, ProblemList
from merit.core.tables import Tables, connect, load_tables
from merit.core.workspace import open_workspace

FIXTURE = Path(__file__).parent / "fixtures" / "service_ws"
SERVICE = sorted(p.stem for p in (FIXTURE / "data").glob("*.csv"))
HEAD = "name: backend-tables\nperiod: {start: 2026-07-01, end: 2026-08-31}\ntimezone: Asia/Shanghai\n"


def _text_table(columns: dict[str, list]) -> pa.Table:
    return pa.table({c: pa.array(v, pa.string()) for c, v in columns.items()})


def _csv_as_text(path: Path) -> pa.Table:
    t = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(strings_can_be_null=False))
    return pa.table({c: t[c].cast(pa.string()) for c in t.column_names})


def _workspace(tmp_path: Path, sources: str, copy_data: bool = False):
    root = tmp_path / "ws"
    if copy_data:
        shutil.copytree(FIXTURE, root)
        text = (root / "cycle.yaml").read_text()
    else:
        root.mkdir(parents=True)
        text = HEAD
    (root / "cycle.yaml").write_text(text + ("sources:\n" + sources if sources else ""))
    return open_workspace(root)


def _problems(call) -> list[MeritError]:
    with pytest.raises((DataError, ProblemList)) as info:
        call()
    err = info.value
    return err.problems if isinstance(err, ProblemList) else [err]


def _same_as_file_loader(tables: Tables, reference: Tables, names) -> None:
    """Every typed table equals the file loader's, row by row in key order (or every value's)."""
    for name in names:
        want = reference.tables[name].execute().drop(columns="_row")
        got = tables.tables[name].execute().drop(columns="_row")
        assert list(got.columns) == list(want.columns)
        want = want.astype(str).sort_values(list(want.columns)).reset_index(drop=True)
        got = got.astype(str).sort_values(list(got.columns)).reset_index(drop=True)
        assert got.to_dict("records") == want.to_dict("records"), name
        assert tables.counts[name] == reference.counts[name]


# ------------------------------------------------------------------ DuckDB


def test_text_tables_type_as_the_file_loader(tmp_path):
    reference = load_tables(open_workspace(FIXTURE))
    con = connect("Asia/Shanghai")
    con.raw_sql("CREATE SCHEMA support")
    for name in SERVICE:
        con.create_table(name, _csv_as_text(FIXTURE / "data" / f"{name}.csv"), database="support")
    ws = _workspace(tmp_path, "".join(f"  {n}: {{table: support.{n}}}\n" for n in SERVICE), copy_data=True)
    assert ws.table_sources == {n: f"support.{n}" for n in SERVICE}
    tables = Tables(con=con)
    load_backend_tables(ws, con, tables, set(SERVICE))
    _same_as_file_loader(tables, reference, SERVICE)
    assert tables.sources["tickets"].display == "table support.tickets"
    assert tables.absent["tickets"] == frozenset()
    rows = tables.tables["tickets"].order_by("_row").select("_row", "ticket_id").execute()
    assert rows["ticket_id"].tolist() == sorted(rows["ticket_id"]) and rows["_row"].tolist() == list(range(22))


def test_typing_agrees_with_the_file_loader_on_every_tricky_text():
    from tests.test_tables import _mutations, _typing_over

    seeds = ["2026-08-20", "2026-08-20 20:00", "2026-08-20 20:05:30", "2026-08-20T20:05:30+08:00",
             "2026-08-20 20:05:30.25Z", "2026-11-01 01:30:00", "2026-03-08 02:30:00", "2026-06-28 00:56:41 +0800"]
    times = [m for seed in seeds for m in _mutations(seed, "0129 -:T.Z+a/")]
    times += ["2026-08-20 24:00:00", "2026-02-29", "2024-02-29", "2026-08-20 20:00:00.1234567+08"]
    numbers = ["".join(p) for k in range(1, 4) for p in itertools.product("019.+-eE_xn ", repeat=k)]
    numbers += ["1e400", "-1e400", "1e-400", "9223372036854775807", "9223372036854775808",
                "-9223372036854775808", "3.000", "1.8e308", "1e308", "Yes", "TRUE", "no"]
    con = connect("America/New_York")
    for ctype, strings in (("timestamp", times), ("date", times), ("int", numbers), ("float", numbers),
                           ("bool", numbers)):
        want, strings = _typing_over(con, ctype, strings)
        t = con.table("_strings")
        got = t.select("s", v=typed_text(Column("x", ctype), t.s, "America/New_York").cast("string")).execute()
        got = {s: (None if v != v else v) for s, v in zip(got.s, got.v)}
        assert {s: (want[s], got[s]) for s in strings if want[s] != got[s]} == {}, ctype


def _bad_tables(con, create) -> str:
    """Tables with known problems; returns their `sources:` (a value map on channel)."""
    create(con, "agents", _text_table({"agent_id": ["A1", "A2"], "name": ["Ann", "Bo"]}))
    create(con, "tickets", _text_table({
        "ticket_id": ["T1", "T2", "T2", "T3", "T4", "T5"],
        "created_at": ["2026-07-01 10:00", "2026-07-02 10:00", "2026-07-02 11:00", "yesterday",
                       "2026-07-05 10:00", "2026-07-06 10:00"],
        "resolved_at": ["2026-07-01 12:00", None, None, None, "2026-07-04 10:00", None],
        "assignee": ["A1", "A2", "A2", "A1", "a9", "A1"],
        "rating": ["good", "great", "", None, "bad", "bad"],
        "Via": ["Web", "Web", "Fax", "Fax", "Mail", "Web"]}))
    return ("  agents: {table: T_agents}\n"
            "  tickets:\n    table: T_tickets\n"
            "    columns: {channel: {column: Via, values: {Web: ticket, Mail: email}}}\n")


def _expected_problems(display) -> list[tuple[str, str, str]]:
    return [
        (display("agents"), "team", "missing column 'team' (the table has: agent_id, name)"),
        (display("tickets"), "ticket_id", "1 row repeats the ticket_id of another row, e.g. 'T2' (2 rows)"),
        (display("tickets"), "channel", "1 value of column 'Via' has no entry in the value map of channel: "
                                        "'Fax' (2 rows, e.g. ticket_id 'T2')"),
        (display("tickets"), "created_at", "1 value is not a valid timestamp, e.g. 'yesterday', "
                                           "in the row with ticket_id 'T3'"),
        (display("tickets"), "resolved_at", "1 row has resolved_at before created_at, e.g. 2026-07-04 10:00 "
                                            "before 2026-07-05 10:00, in the row with ticket_id 'T4'"),
        (display("tickets"), "assignee", "1 value of assignee is not agent_ids in agents, e.g. 'a9', "
                                         "in the row with ticket_id 'T4'"),
        (display("tickets"), "rating", "1 value is not allowed for rating, e.g. 'great', "
                                       "in the row with ticket_id 'T2'"),
    ]


def _check_bad(tmp_path, con, create, table_name) -> None:
    sources = _bad_tables(con, create).replace("T_agents", table_name("agents")).replace(
        "T_tickets", table_name("tickets"))
    ws = _workspace(tmp_path, sources)
    errs = _problems(lambda: load_backend_tables(ws, con, Tables(con=con), {"agents", "tickets"}))
    got = sorted((e.file, e.field, e.message) for e in errs)
    want = sorted(_expected_problems(lambda n: f"table {table_name(n)}"))
    assert got == want
    assert all(e.line is None for e in errs)


def _duck_create(con, name, table):
    con.create_table(name, table, database="support")


def test_problems_name_table_key_and_column(tmp_path):
    con = connect("Asia/Shanghai")
    con.raw_sql("CREATE SCHEMA support")
    _check_bad(tmp_path, con, _duck_create, lambda n: f"support.{n}")


def test_many_rows_one_problem_with_count_and_first_keys(tmp_path):
    con = connect("UTC")
    n = 1000
    con.create_table("tickets", _text_table({
        "ticket_id": [f"T{i:04d}" for i in range(n)],
        "created_at": ["2026/07/01" if i % 3 == 0 else "2026-07-01 08:00" for i in range(n)],
        "assignee": [None] * n}))
    con.create_table("agents", _text_table({"agent_id": ["A1"], "name": ["Ann"], "team": ["x"]}))
    ws = _workspace(tmp_path, "  agents: {table: agents}\n  tickets: {table: tickets}\n")
    errs = _problems(lambda: load_backend_tables(ws, con, Tables(con=con), {"agents", "tickets"}))
    assert [(e.field, e.count) for e in errs] == [("created_at", 334)]
    assert errs[0].message == ("334 values are not valid timestamps, e.g. '2026/07/01', first in the rows with "
                               "ticket_id 'T0000', 'T0003', 'T0006', 'T0009' and 'T0012'")


def test_a_source_names_a_file_or_a_table(tmp_path):
    for sources, words in (("  tickets: {file: a.csv, table: x.tickets}\n", "not both"),
                           ("  tickets: {encoding: auto}\n", "give either 'file'"),
                           ("  tickets: {table: 'two words'}\n", "is not a table name"),
                           ("  tickets: {table: 't;DROP/**/TABLE/**/x'}\n", "'t;DROP/**/TABLE/**/x' is not a table"),
                           ("  tickets: {table: 'a`.b'}\n", "'a`.b' is not a table name")):
        with pytest.raises(MeritError) as info:
            _workspace(tmp_path / str(abs(hash(sources))), sources)
        assert words in info.value.format()


def test_a_table_with_none_of_its_columns_reports_them(tmp_path):
    """A table whose columns all have other names (here: one semicolon-separated header read as one
    column) is reported for its missing columns, as the file loader does, not a failure of merit's."""
    con = connect("UTC")
    con.create_table("agents", _text_table({"agent_id;name;team": ["A1;Ann;x"]}))
    ws = _workspace(tmp_path, "  agents: {table: agents}\n")
    errs = _problems(lambda: load_backend_tables(ws, con, Tables(con=con), {"agents"}))
    assert [(e.file, e.field) for e in errs] == [("table agents", "agent_id"), ("table agents", "name"),
                                               ("table agents", "team")]
    assert all(e.message.startswith("missing column") for e in errs)


def test_a_table_the_backend_lacks(tmp_path):
    con = connect("UTC")
    ws = _workspace(tmp_path, "  agents: {table: nowhere.agents}\n")
    errs = _problems(lambda: load_backend_tables(ws, con, Tables(con=con), {"agents"}))
    assert errs[0].file == "table nowhere.agents" and "cannot be read" in errs[0].message


# timestamp_format patterns: what DuckDB's try_strptime reads (the file loader), read on the other
# engines with regular expressions (merit.core.backends.strptime_parts); each pattern with texts
# that read and texts that must not (a wrong day of the month, an hour 24, a 7th decimal, ...).
STRPTIME_CASES = {
    "%Y-%m-%d %H:%M:%S": ["2026-8-5 8:05:09", "2026-08-05  08:05:09", "2026-08-05T08:05:09", "2026-02-29 00:00:00",
                          "2024-02-29 23:59:59", "2026-12-01 24:00:00", "2026-12-01 23:60:00", "2026-12-01 23:59:60",
                          "2026-13-01 00:00:00", "2026-00-01 00:00:00", "2026-04-31 10:00:00", "02026-08-05 00:00:00",
                          "126-08-05 00:00:00", "2026-008-05 00:00:00", "2026-08-05 00:00:00x", " 2026-08-05 1:2:3 ",
                          "2026-08-0500:56:41", "9999-12-31 23:59:59", "1900-02-29 00:00:00", "2000-02-29 12:00:00"],
    "%Y/%m/%d %H:%M": ["2026/8/20 20:00", "2026/8/20 20:00:00", "2026/08/20 20:00", "2026-08-20 20:00", "2026/8/20"],
    "%m/%d/%Y %I:%M %p": ["08/20/2026 8:00 PM", "08/20/2026 12:00 AM", "08/20/2026 12:00 pm", "08/20/2026 12:30 Am",
                          "08/20/2026 13:00 PM", "08/20/2026 0:00 AM", "08/20/2026 8:00 P.M.", "8/20/2026 8:00PM"],
    "%m/%d/%Y %I:%M": ["12/31/2026 12:00", "12/31/2026 0:00", "12/31/2026 7:05"],
    "%d.%m.%Y %H:%M:%S.%f": ["20.08.2026 10:11:12.5", "20.08.2026 10:11:12.123456", "20.08.2026 10:11:12.1234567",
                             "20.08.2026 10:11:12.", "20.08.2026 10:11:12.000001"],
    "%d %b %Y": ["20 Aug 2026", "20 aug 2026", "20 AUG 2026", "20 August 2026", "20 Sept 2026", "31 Sep 2026"],
    "%A %d %B %Y": ["Monday 20 August 2026", "Mon 20 August 2026", "FRIDAY 20 august 2026", "Funday 20 August 2026"],
    "%a, %d %b %Y %H:%M:%S %z": ["Thu, 20 Aug 2026 20:00:00 +0800", "Thu, 20 Aug 2026 20:00:00 -05:30",
                                 "Thu, 20 Aug 2026 20:00:00 +08", "Thu, 20 Aug 2026 20:00:00 Z",
                                 "Thu, 20 Aug 2026 20:00:00 +800", "Thu, 20 Aug 2026 00:30:00 +1400"],
    "%Y-%m-%d %H:%M:%S%z": ["2026-08-05 00:56:41+0800", "2026-08-05 00:56:41+08:00", "2026-08-05 00:56:41"],
    "%Y%m%d": ["20260805", "2026085", "202685", "2026-08-05"],
    "%y-%m-%d": ["99-08-05", "69-08-05", "68-08-05", "5-08-05", "2026-08-05"],
    "%Y年%-m月%-d日": ["2026年8月5日", "2026年08月05日", "2026年8月5"],
    "%d%%%m%%%Y": ["05%08%2026", "05%08%2026%"],
}


def strptime_values(con, read) -> dict[tuple[str, str], object]:
    """(pattern, text) -> the time *read(text column, pattern)* gives on *con* (None: not read)."""
    rows = [(fmt, text) for fmt, texts in STRPTIME_CASES.items() for text in texts]
    t = con.create_table("_strptime_cases", pa.table({"i": pa.array(range(len(rows)), pa.int64()),
                                                      "s": pa.array([r[1] for r in rows], pa.string())}),
                         overwrite=True)
    # every pattern over every text, in one query (one job on Spark); as text: a year before 1677
    # is beyond pandas' timestamps
    patterns = list(STRPTIME_CASES)
    frame = con.execute(t.select("i", **{f"p{k}": read(t.s, fmt).cast("string") for k, fmt in enumerate(patterns)})
                        .order_by("i"))
    return {rows[i]: _as_datetime(frame[f"p{patterns.index(rows[i][0])}"].iloc[n])
            for n, i in enumerate(frame.i)}


def _as_datetime(text) -> dt.datetime | None:
    """An engine's text of a timestamp ('0126-08-05 00:00:00', '… 10:11:12.5') as a datetime."""
    if text is None or pd.isna(text):
        return None
    whole, _, fraction = str(text).partition(".")
    return dt.datetime.fromisoformat(whole + "." + fraction.ljust(6, "0") if fraction else whole)


def duckdb_strptime_values() -> dict[tuple[str, str], object]:
    """The same as DuckDB's try_strptime reads them (an instant, with %z, as its naive UTC time)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return {(fmt, text): con.execute("SELECT try_strptime(?, ?)::TIMESTAMP", [text, fmt]).fetchone()[0]
            for fmt, texts in STRPTIME_CASES.items() for text in texts}


def test_timestamp_format_patterns_read_as_duckdb_reads_them():
    from merit.core.backends import strptime_parts

    want = duckdb_strptime_values()
    got = strptime_values(connect("UTC"), lambda s, fmt: strptime_parts.read(s, fmt, "test"))
    assert {k: (want[k], got[k]) for k in want if want[k] != got[k]} == {}
    # the values worked out by hand, beside DuckDB's own
    assert got[("%m/%d/%Y %I:%M %p", "08/20/2026 12:00 AM")] == dt.datetime(2026, 8, 20, 0, 0)
    assert got[("%a, %d %b %Y %H:%M:%S %z", "Thu, 20 Aug 2026 20:00:00 -05:30")] == dt.datetime(2026, 8, 21, 1, 30)
    assert got[("%Y%m%d", "2026085")] == dt.datetime(2026, 8, 5) and got[("%Y%m%d", "202685")] is None
    assert sum(v is None for v in got.values()) == 36  # (counted by hand, pattern by pattern)


def test_a_directive_not_read_is_named():
    from merit.core.backends import strptime_parts

    with pytest.raises(MeritError) as info:
        strptime_parts.compile_pattern("%Y-%j", "PostgreSQL")
    assert "'%j' cannot be read on PostgreSQL" in str(info.value) and "%Y" in str(info.value)


# ------------------------------------------------------------------ PostgreSQL


@pytest.mark.backends
def test_postgres_tables_native_and_text(tmp_path, postgres_url):
    import ibis

    con = ibis.connect(postgres_url)
    con.raw_sql("SET TIME ZONE 'UTC'")
    con.raw_sql("DROP SCHEMA IF EXISTS bt CASCADE; CREATE SCHEMA bt")
    for name in SERVICE:
        con.create_table(name, _csv_as_text(FIXTURE / "data" / f"{name}.csv"), database="bt")
    ws = _workspace(tmp_path / "text", "".join(f"  {n}: {{table: bt.{n}}}\n" for n in SERVICE), copy_data=True)
    tables = Tables(con=con)
    load_backend_tables(ws, con, tables, set(SERVICE))
    _same_as_file_loader(tables, load_tables(open_workspace(FIXTURE)), SERVICE)
    # native types: timestamptz is an instant, timestamp a wall clock in the cycle's zone
    con.raw_sql("CREATE TABLE bt.native (incident_id text, started_at timestamptz, ended_at timestamp)")
    con.raw_sql("INSERT INTO bt.native VALUES ('I1', '2026-08-20 20:00+08', '2026-08-20 21:00'), "
                "('I2', '2026-08-21 00:00Z', NULL)")
    ws = _workspace(tmp_path / "native", "  incidents: {table: bt.native}\n")
    load_backend_tables(ws, con, tables, {"incidents"})
    got = tables.tables["incidents"].order_by("_row").execute()
    assert got["started_at"].tolist() == [dt.datetime(2026, 8, 20, 12), dt.datetime(2026, 8, 21)]
    assert got["ended_at"].tolist()[0] == dt.datetime(2026, 8, 20, 13)
    # text written another way, read by the source's timestamp_format (on the engine)
    con.raw_sql("CREATE TABLE bt.excel (incident_id text, started_at text, ended_at text)")
    con.raw_sql("INSERT INTO bt.excel VALUES ('I1', '2026/8/20 20:00', '8/20/2026 9:05 PM'), "
                "('I2', '2026-08-21 00:00', '')")
    ws = _workspace(tmp_path / "formats", "  incidents:\n    table: bt.excel\n"
                                          "    timestamp_format: ['%Y/%m/%d %H:%M', '%m/%d/%Y %I:%M %p']\n")
    load_backend_tables(ws, con, tables, {"incidents"})
    got = tables.tables["incidents"].order_by("_row").execute()  # (Asia/Shanghai: UTC+8)
    assert got["started_at"].tolist() == [dt.datetime(2026, 8, 20, 12), dt.datetime(2026, 8, 20, 16)]
    assert got["ended_at"].tolist()[0] == dt.datetime(2026, 8, 20, 13, 5) and pd.isna(got["ended_at"].tolist()[1])
    # a directive PostgreSQL cannot be asked to read: said at its line of cycle.yaml
    ws = _workspace(tmp_path / "day_of_year", "  incidents:\n    table: bt.excel\n    timestamp_format: '%Y-%j'\n")
    with pytest.raises(MeritError) as info:
        load_backend_tables(ws, con, tables, {"incidents"})
    err = info.value
    assert (err.field, err.line) == ("sources.incidents.timestamp_format", 7), (err.field, err.line)
    assert err.file.endswith("cycle.yaml") and "'%j' cannot be read on PostgreSQL" in err.message
    con.raw_sql("CREATE SCHEMA IF NOT EXISTS support")
    _check_bad(tmp_path / "bad", con, lambda c, n, t: c.create_table(n, t, database="support", overwrite=True),
               lambda n: f"support.{n}")


# ------------------------------------------------------------------ Spark


def test_timestamp_format_patterns_through_portability_on_duckdb():
    """The portability layer's reading on DuckDB itself (one try_strptime per pattern with %z)
    gives what DuckDB's try_strptime gives, and no 30 February."""
    from merit.core.backends import portability

    want = duckdb_strptime_values()
    got = strptime_values(connect("UTC"), lambda s, fmt: portability.strptime_utc(s, (fmt,), "UTC"))
    assert {k: (want[k], got[k]) for k in want if want[k] != got[k]} == {}
    con = connect("UTC")
    t = con.create_table("_feb", pa.table({"s": ["2026/02/30 20:00 +0800", "2026/02/28 20:00 +0800"]}))
    read = t.select(v=portability.strptime_utc(t.s, ("%d.%m.%Y %H:%M %z", "%Y/%m/%d %H:%M %z"), "UTC"))
    values = con.execute(read)["v"].tolist()
    assert pd.isna(values[0]) and values[1] == pd.Timestamp("2026-02-28 12:00:00")
