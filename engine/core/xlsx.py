"""Spreadsheet files merit writes and reads back.

Byte-identical XLSX files
    openpyxl and zipfile stamp the clock; :func:`deterministic_xlsx` puts fixed dates back.

Text stays text (no live formulas)
    Names, titles and comments come from people (agents name themselves,
    write knowledge titles; panelists write comments).  A spreadsheet takes a
    cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return for a formula (OWASP, "CSV injection"), so such text must never
    reach a spreadsheet as it is:

    * XLSX: every text is stored as a text cell, never as a formula or an
      error value, whatever it begins with (:func:`xlsx_row`); a text that
      begins with a formula character also gets Excel's "quote prefix", so
      editing the cell keeps it text.
    * CSV: a text field that begins with one of those characters gets a
      leading ``'`` (:func:`csv_risky` decides, :func:`csv_safe` and
      :func:`csv_safe_frame` apply it).  A plain number (``-5``, ``+1.5``,
      ``-2e-3``) is not text a spreadsheet could run and stays as it is, so
      numbers, negative ones included, stay numbers.
    * Reading back a file merit wrote (returned grading sheets and their CSV
      twins, grades.csv, assignments.csv) removes that ``'`` again
      (:func:`restore_text`, :func:`restore_sql`).  So that nothing is lost, a
      value that already begins with quotes before a formula character gets
      one more quote when written (CSV and XLSX alike): reading strips exactly
      one.

Bounded reading of returned workbooks
    :func:`check_xlsx_bounds` inspects the zip (entries, uncompressed sizes)
    and streams every XML part (rows, columns, merged cells, no DTD) before
    openpyxl loads anything, so a small file that would unpack into millions of
    rows is refused in milliseconds.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
import xml.parsers.expat
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from merit.core.errors import DataError

# ------------------------------------------------------------------ deterministic bytes


def deterministic_xlsx(payload: bytes, when: dt.datetime) -> bytes:
    """The XLSX *payload* with every zip entry dated *when* and docProps/core.xml's
    created/modified set to *when*, so the same workbook gives the same bytes."""
    core_date = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    stamp = (max(when.year, 1980),) + when.timetuple()[1:6]
    src = zipfile.ZipFile(io.BytesIO(payload))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = data.decode("utf-8")
                text = re.sub(r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                              lambda m: f"{m.group(1)}{core_date}{m.group(3)}", text)
                data = text.encode("utf-8")
            entry = zipfile.ZipInfo(info.filename, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, data)
    return buf.getvalue()


# ------------------------------------------------------------------ text stays text
FORMULA_CHARS = "=+-@\t\r"  # a cell beginning with one of these is a formula to a spreadsheet
_CLASS = r"[=+\-@\t\r]"
# CSV: prefixed with ' (quotes first: so that reading back strips exactly the one added)
_CSV_RISKY = rf"^'*{_CLASS}"
# already quoted before a formula character: the reader would strip one quote, so the writer adds one
_QUOTED = rf"^'+{_CLASS}"
_QUOTED_RE = re.compile(_QUOTED)
# a plain number literal: nothing a spreadsheet could run (tables.py reads numbers with the same pattern)
_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_XLSX_ERRORS = frozenset(("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"))


def _strings(values) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
    return pa.array(values, type=pa.string(), from_pandas=True)


def csv_risky(values) -> pa.Array:
    """THE rule for CSV fields: True where a text must get a leading ``'`` (it begins,
    after any quotes, with ``=``, ``+``, ``-``, ``@``, tab or carriage return, and is not a
    plain number literal); null stays null.  Vectorised (Arrow regular expressions)."""
    arr = _strings(values)
    return pc.and_kleene(pc.match_substring_regex(arr, _CSV_RISKY),
                         pc.invert(pc.match_substring_regex(arr, _NUMBER)))


def csv_safe(values) -> pa.Array:
    """Text fields for a CSV people open in a spreadsheet (see :func:`csv_risky`)."""
    arr = _strings(values)
    risky = csv_risky(arr)
    if not pc.any(risky).as_py():  # the usual case: nothing to change
        return arr
    return pc.if_else(risky, pc.binary_join_element_wise("'", arr, ""), arr)


def csv_safe_frame(df):
    """*df* with every cell whose text :func:`csv_risky` flags replaced by its neutralised
    text; number columns and every other cell are left as they are (for ``DataFrame.to_csv``)."""
    import pandas as pd

    out = None
    for name in df.columns:
        col = df[name]
        if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_datetime64_any_dtype(col.dtype):
            continue  # numbers stay numbers
        text = pa.array(col.astype(str).to_numpy(dtype=object), type=pa.string())
        risky = csv_risky(text)
        if not pc.any(risky).as_py():
            continue
        if out is None:
            out = df.copy()
        mask = risky.to_numpy(zero_copy_only=False)
        out[name] = col.astype(object).where(~mask, pd.Series(csv_safe(text).to_numpy(zero_copy_only=False),
                                                               index=col.index))
    header = csv_safe([str(c) for c in df.columns]).to_pylist()
    if header != [str(c) for c in df.columns]:
        out = (df if out is None else out).set_axis(header, axis=1)
    return df if out is None else out


def restore_text(text: str) -> str:
    """A field of a CSV or sheet merit wrote, as it was before :func:`csv_safe` or :func:`xlsx_row`:
    one leading ``'`` before a formula character removed."""
    return text[1:] if _QUOTED_RE.match(text) else text


def restore_sql(expr: str) -> str:
    """SQL (DuckDB): :func:`restore_text` of the text *expr*."""
    return f"regexp_replace({expr}, '^''(''*{_CLASS})', '\\1')"


def xlsx_text(text: str) -> str:
    """A text as stored in an XLSX cell: as it is, except that one ``'`` is added when it
    already begins with quotes before a formula character (see :func:`restore_text`)."""
    return "'" + text if _QUOTED_RE.match(text) else text


def xlsx_row(sheet, values) -> list:
    """*values* ready for ``sheet.append``: every text stored as a text cell, never a formula
    or an error value, whatever it begins with; other values as they are."""
    return [_text_cell(sheet, v) if isinstance(v, str) else v for v in values]


def _text_cell(sheet, text: str):
    text = xlsx_text(text)
    if not text or (text[0] not in FORMULA_CHARS and text not in _XLSX_ERRORS):
        return text  # openpyxl stores it as text already (the same bytes as ever)
    from openpyxl.cell.cell import Cell

    cell = Cell(sheet, value=text)
    cell.data_type = "s"  # openpyxl would make a formula (=...) or an error value (#N/A) of it
    cell.quotePrefix = True  # Excel keeps it text when the cell is edited
    return cell


# ------------------------------------------------------------------ bounded reading
_SPREADSHEET_NS = ("http://schemas.openxmlformats.org/spreadsheetml/2006/main",
                   "http://purl.oclc.org/ooxml/spreadsheetml/main")
_CELL_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?([0-9]{1,7})$")


@dataclass(frozen=True)
class XlsxBounds:
    """The most a returned workbook may hold: worksheet rows and columns (highest index),
    merged cells, uncompressed bytes of all its parts together, and zip entries."""

    rows: int
    columns: int
    bytes: int
    entries: int = 200

    @property
    def merged_cells(self) -> int:
        return self.rows * self.columns


class _TooBig(Exception):
    pass


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def _ref(ref: str) -> tuple[int, int] | None:
    m = _CELL_REF.match(ref.strip())
    return (int(m.group(2)), _column_number(m.group(1))) if m else None


class _PartScan:
    """Streams one XML part: refuses a DTD, counts rows, columns and merged cells."""

    def __init__(self, bounds: XlsxBounds):
        self.bounds = bounds
        self.row = 0
        self.col = 0
        self.merged = 0
        p = xml.parsers.expat.ParserCreate(namespace_separator=" ")
        p.StartDoctypeDeclHandler = self._doctype
        p.EntityDeclHandler = self._doctype
        p.StartElementHandler = self._start
        self.parser = p

    def _doctype(self, *args):
        raise _TooBig("it declares a DTD or entities, which no Excel workbook part has")

    def _start(self, name, attrs):
        ns, _, local = name.rpartition(" ")
        if ns not in _SPREADSHEET_NS:
            return
        b = self.bounds
        if local == "row":
            r = attrs.get("r")
            self.row = int(r) if r and r.isdigit() else self.row + 1
            self.col = 0
            if self.row > b.rows:
                raise _TooBig(f"it has a row {self.row}, more rows than the sheet that was issued "
                              f"(at most {b.rows} are accepted)")
        elif local == "c":
            ref = _ref(attrs.get("r", ""))
            self.col = ref[1] if ref else self.col + 1
            if self.col > b.columns:
                raise _TooBig(f"it has a cell in column {self.col}, more columns than the sheet that was "
                              f"issued (at most {b.columns} are accepted)")
            if ref and ref[0] > b.rows:
                raise _TooBig(f"it has a cell in row {ref[0]}, more rows than the sheet that was issued "
                              f"(at most {b.rows} are accepted)")
        elif local == "mergeCell":
            parts = attrs.get("ref", "").split(":")
            corners = [_ref(x) for x in parts]
            if len(parts) not in (1, 2) or None in corners:
                raise _TooBig(f"a merged range '{attrs.get('ref', '')}' is not a cell range")
            (r1, c1), (r2, c2) = corners[0], corners[-1]
            if max(r1, r2) > b.rows or max(c1, c2) > b.columns:
                raise _TooBig(f"a merged range '{attrs.get('ref')}' reaches beyond the sheet that was issued "
                              f"(at most {b.rows} rows and {b.columns} columns are accepted)")
            self.merged += (abs(r2 - r1) + 1) * (abs(c2 - c1) + 1)
            if self.merged > b.merged_cells:
                raise _TooBig("its merged ranges cover more cells than the sheet that was issued has")


def check_xlsx_bounds(path: Path, display: str, bounds: XlsxBounds) -> None:
    """Refuse (DataError naming *display*) a workbook larger than *bounds*, before anything
    loads it: the file size, the zip's entries and their declared uncompressed sizes (zipfile
    never inflates an entry beyond its declared size), then a streaming pass over every XML
    part that stops at the first row, column or merged range beyond the bounds."""
    def refuse(why: str):
        return DataError(f"refused unread: {why}; a grading sheet issued by merit panel assign is far smaller "
                         "(a damaged or hostile file?)", file=display,
                         expected="the workbook as issued, with grades and comments filled in")

    size = path.stat().st_size
    if size > bounds.bytes:
        raise refuse(f"the file has {size:,} bytes (at most {bounds.bytes:,} are accepted)")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise DataError("the file cannot be read as an Excel workbook (it is not a zip archive)",
                        file=display) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > bounds.entries:
            raise refuse(f"it has {len(infos):,} parts (at most {bounds.entries} are accepted)")
        total = sum(i.file_size for i in infos)
        if total > bounds.bytes:
            raise refuse(f"it unpacks to {total:,} bytes (at most {bounds.bytes:,} are accepted)")
        for info in infos:
            if not info.filename.lower().endswith((".xml", ".rels")):  # (VML is not parsed by openpyxl)
                continue
            scan = _PartScan(bounds)
            try:
                with zf.open(info) as fh:
                    while chunk := fh.read(1 << 16):
                        scan.parser.Parse(chunk, False)
                    scan.parser.Parse(b"", True)
            except _TooBig as exc:
                raise refuse(f"part {info.filename}: {exc}") from None
            except (zipfile.BadZipFile, xml.parsers.expat.ExpatError, OSError, EOFError,
                    NotImplementedError, RuntimeError) as exc:
                raise DataError(f"the file cannot be read as an Excel workbook (part {info.filename}: "
                                f"{type(exc).__name__})", file=display) from None
