"""CSV files: the header (read in Python), the records (DuckDB's strict reader, every value
as text) and DuckDB's read errors in the user's words, with the file's line."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from merit.core.contract import TableSchema
from merit.core.errors import DataError, Problems
from merit.core.tables.csv_lines import csv_scan, first_long_line, has_nul_byte
from merit.core.sources.encoding import UTF16_BOMS, transcoded
from merit.core.sources.mapping import mapped_values, plan_columns
from merit.core.sources.no_entry import attach_checks
from merit.core.sources.spec import DELIMITERS, delimiter_name
from merit.core.tables.messages import NUL_EXPECTED
from merit.core.tables.model import Source, SourceFile, Tables
from merit.core.tables.sql import clean, fetch_raw, ident, sql_str

# The longest CSV record (line) merit reads, in bytes (DuckDB's default, pinned): a longer one is
# reported with its line, not read (docs/data.md).
MAX_CSV_RECORD_BYTES = 2_000_000

_HEADER_PROBE = MAX_CSV_RECORD_BYTES + 3  # (a byte-order mark)
_UTF8_EXPECTED = ("a UTF-8 text file (save it from Excel as 'CSV UTF-8'), or a `sources:` entry giving its "
                  "encoding (docs/data.md)")
NOT_UTF8 = "the file is not UTF-8 encoded"


def too_long(src: SourceFile, line: int | None) -> DataError:
    return DataError(f"this line is longer than the maximum of {MAX_CSV_RECORD_BYTES:,} bytes for one record",
                     file=src.display, line=line,
                     expected=f"records of at most {MAX_CSV_RECORD_BYTES:,} bytes (2 MB); is a quote left open, "
                              f"or is this not a CSV file?")


def read_csv_header(src: SourceFile) -> list[str]:
    with open(src.readable, "rb") as fh:
        head = fh.read(_HEADER_PROBE)
        longer = bool(fh.read(1))
    if not head.strip():
        raise DataError("the file is empty: it needs a header row naming its columns",
                        file=src.display, line=1)
    if head.startswith(UTF16_BOMS):  # (a file in UTF-16 read without its `sources:` entry saying so)
        raise DataError("the file is UTF-16 text, as Excel's 'Unicode Text' writes it", file=src.display, line=1,
                        expected='a UTF-8 CSV (save it from Excel as \'CSV UTF-8\'), or a `sources:` entry for it '
                                 'with encoding: auto (and delimiter: "\\t" for Unicode Text) (docs/data.md)')
    if longer and b"\n" not in head and b"\r" not in head:
        raise too_long(src, 1)
    if b"\0" in head.split(b"\n", 1)[0]:
        raise DataError("the header row holds a NUL character (a zero byte)", file=src.display, line=1,
                        expected=NUL_EXPECTED)
    text = head.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        header = next(csv.reader(io.StringIO(text, newline=""), delimiter=src.delimiter))
    except (StopIteration, csv.Error) as exc:  # pragma: no cover - csv is very forgiving
        raise DataError(f"cannot read the header row ({exc})", file=src.display, line=1)
    if any("\ufffd" in h for h in header):
        raise DataError(NOT_UTF8, file=src.display, line=1, expected=_UTF8_EXPECTED)
    _check_delimiter(src, header)
    return header


def _check_delimiter(src: SourceFile, header: list[str]) -> None:
    """A header read as one column whose text another delimiter would split: the file is
    separated by that one (a semicolon CSV, Excel's tab-separated Unicode Text)."""
    if len(header) != 1:
        return
    others = [c for c in DELIMITERS if c != src.delimiter and len(header[0].split(c)) > 1]
    if others:
        found = delimiter_name(others[0])
        written = {"\t": '"\\t"'}.get(others[0], f"'{others[0]}'")
        raise DataError(f"the header row is one column: its names are separated by a {found}, not a "
                        f"{delimiter_name(src.delimiter)}", file=src.display, line=1,
                        expected=f"a {delimiter_name(src.delimiter)}-separated file, or a `sources:` entry for it "
                                 f"with delimiter: {written} (docs/data.md)")


def csv_source(con, src: SourceFile, schema: TableSchema, result: Tables, problems: Problems,
               t_order: int) -> Source:
    temp_files = []
    if src.encoding != "utf-8" and src.text_path is None:  # (read from a private UTF-8 copy)
        src.text_path = transcoded(src.path, src.encoding, src.display)
        temp_files.append(src.text_path)
    header = read_csv_header(src)
    plan = plan_columns(src, schema, header, problems, t_order)
    cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header))) + "}"

    def relation_of(path: Path) -> str:
        return (f"read_csv({sql_str(str(path))}, columns = {cols}, header = true, auto_detect = false, "
                f"delim = {sql_str(src.delimiter)}, quote = '\"', escape = '\"', strict_mode = true, "
                f"null_padding = false, "
                f"ignore_errors = false, encoding = 'utf-8', max_line_size = {MAX_CSV_RECORD_BYTES})")

    def text(i: int) -> str:
        return clean(f"c{i}")

    values, types, checked = mapped_values(con, plan, lambda i, ctype: (text(i), "VARCHAR"), text, schema,
                                           result.tables.get("agents"))

    def raw(rows: list[int], columns: Iterable[str]) -> dict[int, dict[str, Any]]:
        # The scan order of read_csv is the record order (DuckDB preserves it), as in the typed table.
        select = "".join(f", {values[name][0]} AS {ident(name)}" for name in columns)
        return fetch_raw(con, f"SELECT row_number() OVER () - 1 AS _row{select} FROM {source.relation}", rows)

    source = Source(relation_of(src.readable), values, raw, may_hold_nul=has_nul_byte(src.readable),
                    relation_of=relation_of, temp_files=temp_files, scratch_types=types,
                    timestamp_formats=src.entry.spec.timestamp_formats if src.entry is not None else ())
    attach_checks(con, src, source, checked, result, schema, problems, t_order)
    return source


_DUCK_LINE = re.compile(r"CSV Error on Line:\s*(\d+)")


def csv_error(src: SourceFile, exc: Exception) -> DataError:
    """DuckDB's error reading the file *src*, as a problem of that file (at its line, when known)."""
    text = str(exc)
    line = None
    m = _DUCK_LINE.search(text)
    if m:
        segment = int(m.group(1)) - 1  # DuckDB counts the header and blank lines, not quoted newlines
        line = csv_scan(src.readable, segments=[segment]).get(segment, segment + 1)
    if "Maximum line size" in text:
        return too_long(src, line)
    if "does not support a full read" in text:  # a record larger than DuckDB's buffer: no line given
        return too_long(src, first_long_line(src.readable, MAX_CSV_RECORD_BYTES))
    m_cols = re.search(r"Expected Number of Columns:\s*(\d+)\s*Found:\s*(\d+)", text)
    if m_cols:
        return DataError(f"this line has {m_cols.group(2)} fields but the header has {m_cols.group(1)}",
                         file=src.display, line=line,
                         expected=f"{m_cols.group(1)} {delimiter_name(src.delimiter)}-separated fields; quote values "
                                  f"that contain a {delimiter_name(src.delimiter)}")
    low = text.lower()
    if "invalid unicode" in low or "not utf-8" in low:
        return DataError(NOT_UTF8, file=src.display, line=line, expected=_UTF8_EXPECTED)
    if "unterminated quote" in low:
        return DataError("a quoted value is not closed (or a quote appears inside an unquoted value)",
                         file=src.display, line=line,
                         expected='values quoted as "…", with quotes inside them doubled ("")')
    first = text.splitlines()[0] if text else type(exc).__name__
    first = re.sub(r"^[A-Za-z ]*Error:\s*", "", first)
    return DataError(f"the file cannot be read as CSV: {first}", file=src.display, line=line)
