"""Excel workbooks (.xlsx): the first sheet (or the one a source names), read with openpyxl (small files: a Python loop over
the rows is fine) into a scratch table of text, which is then typed like a CSV file."""

from __future__ import annotations

import datetime as _dt
import io
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from typing import Any
from xml.etree.ElementTree import ParseError

from merit.core.contract import TableSchema
from merit.core.errors import DataError, Problems
from merit.core.sources.mapping import ColumnPlan, mapped_values, plan_columns
from merit.core.sources.no_entry import attach_checks
from merit.core.suggest import did_you_mean
from merit.core.tables.model import Source, SourceFile, Tables
from merit.core.tables.sql import clean, drop, fetch_raw, ident

# What reading a damaged sheet raises: XML a parser refuses (a cell holding a NUL, which no
# workbook can hold), a damaged zip member.
BROKEN_SHEET = (ParseError, zipfile.BadZipFile, zlib.error, EOFError)
_CELL_REF = re.compile(r'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{1,3})([0-9]+)"')


def _unopenable() -> tuple[type[BaseException], ...]:
    """What openpyxl raises when a file is not a workbook it can open: not a zip (BadZipFile), a
    missing part (KeyError), broken XML (ParseError), an attribute of the wrong type or value
    (TypeError, ValueError, from its typed descriptors), an unreadable file (OSError).  Only the
    call to openpyxl is guarded by these."""
    from openpyxl.utils.exceptions import InvalidFileException

    return (InvalidFileException, KeyError, TypeError, ValueError, OSError) + BROKEN_SHEET


def cell_text(value: Any, ctype: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip(" ") or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _dt.datetime):
        if ctype == "date" and value.time() == _dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def xlsx_source(con, src: SourceFile, schema: TableSchema, result: Tables, problems: Problems,
                t_order: int) -> Source:
    import openpyxl
    import pyarrow as pa

    try:
        wb = openpyxl.load_workbook(src.path, read_only=True, data_only=True)
    except _unopenable() as exc:
        raise DataError(f"the file cannot be read as an Excel workbook (.xlsx): {exc}", file=src.display) from None
    try:
        plan, data, sheet_rows = _read_sheet(src, schema, wb, problems, t_order)
    finally:
        wb.close()
    result._sheet_rows[schema.name] = sheet_rows
    arrow = pa.table({f"c{i}": pa.array(vals, type=pa.string()) for i, vals in data.items()}) if data \
        else pa.table({"_none": pa.array([None] * len(sheet_rows), type=pa.string())})
    scratch = f"_raw_{schema.name}"
    drop(con, scratch)
    con.create_table(scratch, arrow)

    def text(i: int) -> str:
        return clean(ident(f"c{i}"))

    values, types, checked = mapped_values(con, plan, lambda i, ctype: (text(i), "VARCHAR"), text, schema,
                                           result.tables.get("agents"))

    def raw(wanted: list[int], columns: Iterable[str]) -> dict[int, dict[str, Any]]:
        select = "".join(f", {values[name][0]} AS {ident(name)}" for name in columns)
        return fetch_raw(con, f"SELECT rowid AS _row{select} FROM {ident(scratch)}", wanted)

    source = Source(ident(scratch), values, raw, scratch=[scratch], scratch_types=types,
                    timestamp_formats=src.entry.spec.timestamp_formats if src.entry is not None else ())
    attach_checks(con, src, source, checked, result, schema, problems, t_order)
    return source


def _sheet(src: SourceFile, wb):
    """The sheet a source names (`sheet:`), else the first."""
    if not wb.worksheets:
        raise DataError("the workbook has no sheet that can be read", file=src.display,
                        expected="a workbook whose first sheet holds the table")
    wanted = src.entry.spec.sheet if src.entry is not None else None
    if wanted is None:
        return wb.worksheets[0]
    if wanted not in wb.sheetnames:
        entry = src.entry
        raise DataError(f"the workbook has no sheet '{wanted}'{did_you_mean(wanted, wb.sheetnames)}; its sheets "
                        f"are: {', '.join(wb.sheetnames)}", file=src.display, field=entry.key("sheet"),
                        expected=f"the name of one of its sheets in {entry.key('sheet')} (cycle.yaml line "
                                 f"{entry.line('sheet')})")
    return wb[wanted]


def _read_sheet(src: SourceFile, schema: TableSchema, wb, problems: Problems, t_order: int
                ) -> tuple[ColumnPlan, dict[int, list], list[int]]:
    """Where each contract column comes from, the text of the cells of every column read (by
    position) and the sheet row of each record (completely empty rows are skipped)."""
    sheet = _sheet(src, wb)
    header: list[str] = []
    try:
        rows = sheet.iter_rows(values_only=True)
        first = next(rows, None)
        if first is None:
            raise DataError(f"the sheet '{sheet.title}' is empty: it needs a header row naming its columns",
                            file=src.display, line=1)
        header = ["" if v is None else str(v) for v in first]
        plan = plan_columns(src, schema, header, problems, t_order)
        data, sheet_rows = _cells(rows, _cell_types(plan, schema))
    except BROKEN_SHEET as exc:  # (the sheet is parsed as it is read)
        raise broken_sheet(src, wb, sheet, exc, header) from None
    return plan, data, sheet_rows


def _cell_types(plan: ColumnPlan, schema: TableSchema) -> dict[int, str]:
    """The contract type each column read is written as text for (a date cell in a date column
    is YYYY-MM-DD): the type of the column read by name or through a plain `column:`."""
    ctypes = {i: "string" for i in plan.needed}
    ctypes.update({i: schema.column(name).type for name, i in plan.by_name.items()})
    for name, m in plan.mapped.items():
        if m.position is not None and m.cmap.values is None and m.cmap.match is None:
            ctypes[m.position] = schema.column(name).type
    return ctypes


def _cells(rows: Iterator[tuple], ctypes: dict[int, str]) -> tuple[dict[int, list], list[int]]:
    data: dict[int, list] = {i: [] for i in sorted(ctypes)}
    sheet_rows: list[int] = []
    for n, row in enumerate(rows, start=2):  # small files: a Python loop is fine here
        if row is None or all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
            continue
        sheet_rows.append(n)
        for i, ctype in ctypes.items():
            data[i].append(cell_text(row[i] if i < len(row) else None, ctype))
    return data, sheet_rows


def broken_sheet(src: SourceFile, wb, sheet, exc: Exception, header: list[str]) -> DataError:
    """The sheet cannot be read past some point: name the cell (row and column) when found."""
    cell = _cell_at(wb, sheet, getattr(exc, "position", None))
    if cell is None:
        return DataError(f"the file cannot be read as an Excel workbook (.xlsx): {exc}", file=src.display)
    from openpyxl.utils import get_column_letter

    row, col = cell
    named = col < len(header) and header[col].strip()
    name = header[col].strip() if named else f"column {get_column_letter(col + 1)}"
    return DataError(f"this cell cannot be read ({exc} in the sheet's XML): a cell cannot hold a NUL or "
                     f"another control character", file=src.display, line=row, field=name,
                     expected="a workbook saved by a spreadsheet program, with no NUL characters in its cells")


def _cell_at(wb, sheet, position) -> tuple[int, int] | None:
    """(row, 0-based column) of the cell at *position* (line, column) of the sheet's XML, from the
    last cell reference before it; None when unknown.  (openpyxl's read-only sheet knows its part.)"""
    archive, part = getattr(wb, "_archive", None), getattr(sheet, "_worksheet_path", None)
    if position is None or archive is None or part is None:
        return None
    from openpyxl.utils import column_index_from_string

    line_no, column = position
    try:
        with archive.open(part) as raw:
            for k, line in enumerate(io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline=""), 1):
                if k == line_no:
                    refs = _CELL_REF.findall(line[:column])
                    break
            else:
                return None
    except BROKEN_SHEET:
        return None
    if not refs:
        return None
    letters, row = refs[-1]
    return int(row), column_index_from_string(letters) - 1
