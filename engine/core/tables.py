"""The input-table contract, loading into DuckDB through Ibis, and validation.

Each input file is read once, as a relation (DuckDB's own CSV and Parquet
readers; openpyxl for the small .xlsx files), by one ``CREATE TABLE ... AS
SELECT`` that types every value (the typed table of the contract, see
docs/architecture.md, "Typed tables") and computes ``_bad``, a bit mask of the
record checks each record fails: a text check (an empty id, a value that does
not parse) or a check of typed values (a value outside its set, range or
pattern, times out of order).  No table of raw strings is ever materialised;
the record index ``_row`` is the typed table's ``rowid`` (DuckDB keeps the
scan order), exposed through a view named after the table, whose columns are
``_row`` and the contract columns.

Each table is then checked with one aggregate query (which bits are set,
duplicate keys, references to other tables) and, only when something is wrong,
a count per check, one query fetching the first offending records and one
re-reading the file for their text, which the messages quote.  Nothing here
loops over records in Python; per-problem work is bounded by ``limit``.

Problems are :class:`~merit.core.errors.DataError` values that name the file, the
line in that file and the field; all of them are raised together as a
:class:`~merit.core.errors.ProblemList` carrying the true total.
"""

from __future__ import annotations

import csv
import tempfile
import os
import datetime as _dt
import io
import mmap
import re
import zipfile
import zlib
from xml.etree.ElementTree import ParseError
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import numpy as np

from merit.core.errors import DataError, MeritError, ProblemList
from merit.core.workspace import Workspace
from merit.core.xlsx import restore_sql

# --------------------------------------------------------------------------
# The contract
# --------------------------------------------------------------------------

TYPES = ("string", "enum", "int", "float", "bool", "timestamp", "date", "list")


@dataclass
class Column:
    name: str
    type: str  # one of TYPES
    required: bool = True  # the column must exist in the file (optional ones may be absent: all NULL)
    nonempty: bool = False  # every cell must hold a value (ids)
    allowed: tuple[str, ...] | None = None  # enum: the allowed set (None: an open set, only lower-cased)
    min: float | None = None
    max: float | None = None
    pattern: str | None = None  # string: a regular expression the whole value must match
    pattern_text: str | None = None  # how to describe the pattern to a user

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"unknown column type {self.type!r}")


@dataclass
class TableSchema:
    name: str
    columns: list[Column]
    key: str | None = None  # unique id column

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def _s(name, **kw):
    return Column(name, "string", **kw)


def _id(name, **kw):
    return Column(name, "string", nonempty=True, **kw)


def _enum(name, allowed=None, **kw):
    return Column(name, "enum", allowed=tuple(allowed) if allowed else None, **kw)


# Order matters: agents first (everything refers to it), knowledge before grades.
SCHEMAS: dict[str, TableSchema] = {
    s.name: s
    for s in [
        TableSchema("agents", [
            _id("agent_id"), _s("name"), _s("team"), _s("level"), _s("role"),
            Column("hired_on", "date"), Column("left_on", "date"),
            Column("cost_per_month", "float", required=False, min=0),
        ], key="agent_id"),
        TableSchema("tickets", [
            _id("ticket_id"), _s("customer_id"), _enum("channel"),
            Column("created_at", "timestamp", nonempty=True),
            Column("first_response_at", "timestamp"), Column("resolved_at", "timestamp"),
            Column("closed_at", "timestamp"), _s("assignee"),
            Column("reopened", "int", min=0), Column("escalated", "bool"), Column("product_issue", "bool"),
            _enum("rating", ("good", "neutral", "bad")), Column("csat", "int", min=1, max=5),
            _enum("bad_review_cause", ("product", "service")),
            Column("handle_minutes", "float", min=0), Column("wait_seconds", "float", min=0),
        ], key="ticket_id"),
        TableSchema("handoffs", [
            _id("ticket_id"), _s("from_agent"), _s("to_agent"), Column("at", "timestamp"),
        ]),
        TableSchema("timelog", [
            _id("agent_id"), Column("date", "date", nonempty=True), _enum("activity"),
            Column("hours", "float", min=0, max=24),
        ]),
        TableSchema("knowledge", [
            _id("item_id"), _enum("kind", ("faq", "sop", "case", "best_practice")), _s("title"),
            Column("authors", "list"), Column("published_on", "date"),
            Column("views", "int", min=0), Column("citations", "int", min=0),
        ], key="item_id"),
        TableSchema("grades", [
            _id("item_id"), _s("panelist"), _enum("grade", ("S", "A", "B", "C")),
            Column("graded_at", "timestamp"), _s("comment"),
        ]),
        TableSchema("requirements", [
            _id("requirement_id"), _s("title"), _s("submitter"), Column("submitted_on", "date"),
            _enum("kano", ("basic", "performance", "excitement", "indifferent", "reverse")),
            Column("impact_share", "float", min=0, max=1),
            _enum("status", ("open", "accepted", "landed", "rejected")), Column("landed_on", "date"),
        ], key="requirement_id"),
        TableSchema("innovations", [
            _id("innovation_id"), _enum("kind", ("patent", "book", "article", "contest", "other")),
            _s("title"), Column("owners", "list"),
            _enum("honor", ("team", "company", "industry", "national", "international")),
            Column("recognized_on", "date"),
        ], key="innovation_id"),
        TableSchema("influence", [
            _id("record_id"), _enum("kind", ("onsite", "diagnosis", "tuning", "training", "thanks_letter")),
            Column("owners", "list"), _s("customer_id"), Column("revenue", "float"), Column("date", "date"),
        ], key="record_id"),
        TableSchema("interceptions", [
            Column("date", "date"), _enum("kind", ("smart", "tool")), _s("tool"),
            Column("inquiries", "int", min=0), Column("intercepted", "int", min=0),
            _s("team", required=False),
        ]),
        TableSchema("surveys", [
            _id("response_id"), _s("customer_id"), Column("answered_on", "date"),
            Column("score", "int", min=0, max=10), _s("agent_id", required=False),
        ], key="response_id"),
        TableSchema("incidents", [
            _id("incident_id"), Column("started_at", "timestamp"), Column("ended_at", "timestamp"),
        ], key="incident_id"),
        TableSchema("costs", [
            _s("month", pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", pattern_text="a month as YYYY-MM, e.g. 2026-08"),
            _s("team"), Column("amount", "float"),
        ]),
    ]
}

REQUIRED_TABLES = ("agents", "tickets")

# Tables merit itself rewrites (panel collect): their text fields lose the leading ' that merit
# puts before =, +, -, @, tab and CR so that no spreadsheet runs them as formulas.
MERIT_WRITTEN = ("grades",)

# (table, column, target table, target column): a non-empty value must exist in the target.
REFERENCES: tuple[tuple[str, str, str, str], ...] = (
    ("tickets", "assignee", "agents", "agent_id"),
    ("handoffs", "from_agent", "agents", "agent_id"),
    ("handoffs", "to_agent", "agents", "agent_id"),
    ("timelog", "agent_id", "agents", "agent_id"),
    ("knowledge", "authors", "agents", "agent_id"),
    ("grades", "item_id", "knowledge", "item_id"),
    ("requirements", "submitter", "agents", "agent_id"),
    ("innovations", "owners", "agents", "agent_id"),
    ("influence", "owners", "agents", "agent_id"),
    ("surveys", "agent_id", "agents", "agent_id"),
)

# (table, later column, earlier column): when both are set, later must not be before earlier.
ORDERINGS: tuple[tuple[str, str, str], ...] = (
    ("agents", "left_on", "hired_on"),
    ("tickets", "first_response_at", "created_at"),
    ("tickets", "resolved_at", "created_at"),
    ("tickets", "closed_at", "created_at"),
    ("incidents", "ended_at", "started_at"),
)

# The longest CSV record (line) merit reads, in bytes (DuckDB's default, pinned): a longer one is
# reported with its line, not read (docs/data.md).
MAX_CSV_RECORD_BYTES = 2_000_000

NUL_EXPECTED = ("text without NUL characters (a NUL usually means a damaged or binary file: "
                "export the table again)")
NUL_LINES_SHOWN = 5  # a NUL problem names the first few lines holding one

FORMATS = {".csv": "csv", ".parquet": "parquet", ".xlsx": "xlsx"}

# What a value of each type must look like (DuckDB's casts alone are too lenient:
# they round '3.5' to an integer and read '0x10' or '1_000').  Typing applies
# cheaper tests that agree with these (see _typing); tests/test_tables.py checks
# the agreement exhaustively.
_INT_RE = r"^[+-]?[0-9]+(\.0*)?$"
_FLOAT_RE = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_TS_RE = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
          r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?"
          r" ?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)?$")
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")

EXPECTED = {
    "int": "a whole number, e.g. 3",
    "float": "a number, e.g. 2.5",
    "bool": "true/false, 1/0 or yes/no",
    "timestamp": "an ISO 8601 timestamp, e.g. 2026-08-20 20:00 or 2026-08-20T20:00:00+08:00",
    "date": "a date as YYYY-MM-DD, e.g. 2026-08-20",
}
_TYPE_WORD = {"int": "whole number", "float": "number", "bool": "boolean", "timestamp": "timestamp",
              "date": "date"}


@ibis.udf.scalar.builtin(name="hash")
def _hash(value: str) -> dt.uint64:  # type: ignore[valid-type]
    """DuckDB's hash(value): equal values, equal hashes."""


# --------------------------------------------------------------------------
# Loaded tables
# --------------------------------------------------------------------------


@dataclass
class SourceFile:
    table: str
    path: Path
    display: str
    format: str  # 'csv' | 'parquet' | 'xlsx'


@dataclass
class Tables:
    con: Any
    tables: dict[str, ibis.Table] = field(default_factory=dict)
    sources: dict[str, SourceFile] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # records per table
    _sheet_rows: dict[str, list[int]] = field(default_factory=dict, repr=False)  # xlsx: record -> sheet row
    _csv_identity: dict[str, bool] = field(default_factory=dict, repr=False)

    def has(self, name: str) -> bool:
        return name in self.tables

    def line_of(self, table: str, rows):
        """The line (in the source file) of record index *rows* (``_row``, 0-based).

        Accepts one index (returns an int) or an iterable of them (returns a
        list in the same order).  CSV: the header is line 1, and records that
        span several lines (quoted newlines) or blank lines shift the numbers;
        xlsx: the sheet row; parquet: the 1-based row number.
        """
        single = not isinstance(rows, Iterable)
        arr = np.asarray([rows] if single else list(rows), dtype=np.int64).ravel()
        wanted = arr.tolist()
        src = self.sources[table]
        if src.format == "parquet":
            lines = (arr + 1).tolist()
        elif src.format == "xlsx":
            sheet = self._sheet_rows[table]
            lines = [sheet[r] if 0 <= r < len(sheet) else r + 2 for r in wanted]
        else:
            if table not in self._csv_identity:
                self._csv_identity[table] = _csv_lines_are_records(src.path, self.counts.get(table, -1))
            if self._csv_identity[table]:
                lines = (arr + 2).tolist()
            else:
                found = _csv_scan(src.path, records=wanted)
                lines = [found.get(r, r + 2) for r in wanted]
        return lines[0] if single else lines


# --------------------------------------------------------------------------
# Connection
# --------------------------------------------------------------------------


def _sql_str(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _clean(sql: str) -> str:
    """SQL: the value trimmed of spaces, NULL when nothing is left.

    (Only spaces: trimming a set of characters costs twice as much on big files;
    and TRIM copies every value, so it runs only on values that start or end
    with a space.)"""
    return f"CASE WHEN prefix({sql}, ' ') OR suffix({sql}, ' ') THEN NULLIF(TRIM({sql}), '') ELSE NULLIF({sql}, '') END"


def connect(timezone: str):
    """An in-memory DuckDB connection (through Ibis) whose session time zone is *timezone*.

    DuckDB's memory is capped (MERIT_MEMORY_LIMIT, default 3GB) with spilling to the
    system's temporary folder: on 10 million tickets that keeps the whole run under
    4 GB and is no slower (DuckDB otherwise keeps up to 80 % of RAM in buffers).
    """
    con = ibis.duckdb.connect()
    _set_zone(con, timezone)
    limit = os.environ.get("MERIT_MEMORY_LIMIT", "3GB")
    try:
        con.raw_sql(f"SET memory_limit = {_sql_str(limit)}")
    except Exception:  # duckdb's own exception types
        raise MeritError(f"MERIT_MEMORY_LIMIT={limit!r} is not a memory size",
                         expected="a size such as 3GB or 512MB") from None
    spill = Path(tempfile.gettempdir()) / f"merit-duckdb-{os.getpid()}"
    con.raw_sql(f"SET temp_directory = {_sql_str(str(spill))}")
    # An in-memory database has nothing to persist: the automatic checkpoint (after 16 MB
    # of changes) only rewrites the tables just loaded, about 3 s at 10 million tickets.
    con.raw_sql("SET checkpoint_threshold = '1000GB'")
    return con


def _set_zone(con, timezone: str) -> None:
    con.raw_sql(f"SET TimeZone = {_sql_str(timezone)}")


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------


class _Problems:
    """Problems collected across tables, sorted by (table, line, column) at the end."""

    def __init__(self, limit: int):
        self.limit = max(1, limit)
        self.items: list[tuple[tuple, MeritError]] = []
        self.total = 0

    def add(self, err: MeritError, order: tuple = (), count: bool = True) -> None:
        self.items.append((order, err))
        if count:
            self.total += 1

    def raise_if_any(self) -> None:
        if not self.items and not self.total:
            return
        self.items.sort(key=lambda it: it[0])
        errs = [e for _, e in self.items]
        total = max(self.total, len(errs))
        if total == 1 and len(errs) == 1:
            raise errs[0]
        raise ProblemList(errs, limit=self.limit, total=total)


@dataclass
class _Source:
    """An input file as DuckDB sees it, before typing.

    ``relation`` is a SQL FROM item (``read_csv(...)``, ``read_parquet(...)`` or
    a scratch table) whose scan order is the record order; ``values`` maps each
    contract column present in the file to a SQL expression over it and the
    DuckDB type of that expression (``VARCHAR``: the cleaned string, see
    :func:`_clean`; otherwise a native Parquet value).  ``raw(rows, columns)``
    returns the cleaned strings of some records (by ``_row``) and columns, for
    messages: it is called only on the error path.
    """

    relation: str
    values: dict[str, tuple[str, str]]
    raw: Callable[[list[int], Iterable[str]], dict[int, dict[str, Any]]]
    scratch: list[str] = field(default_factory=list)  # tables to drop once the typed table exists
    # Whether text values may hold a NUL character, so that typing checks each one (CSV: only
    # when the file has a zero byte; Parquet and xlsx: always, a columnar test of every value).
    may_hold_nul: bool = True
    # CSV: the relation reading another file in the same layout (a copy with LF line endings).
    relation_of: Callable[[Path], str] | None = None
    temp_files: list[Path] = field(default_factory=list)  # deleted once every table is loaded

    def nul_checked(self) -> frozenset[str]:
        """The columns whose values are checked for NUL characters: every text value read."""
        if not self.may_hold_nul:
            return frozenset()
        return frozenset(name for name, (_, kind) in self.values.items() if kind == "VARCHAR")


def _typed_name(name: str) -> str:
    return f"_typed_{name}"


def load_tables(ws: Workspace, con=None, *, limit: int = 50,
                progress: Callable[[str], Any] | None = None) -> Tables:
    """Load, type and validate every input table of the workspace *ws*.

    Raises :class:`DataError` (one problem) or :class:`ProblemList` (several,
    at most *limit* shown, with the true total) when the data is bad.
    """
    missing_required = [t for t in REQUIRED_TABLES if t not in ws.tables]
    if missing_required:
        names = " and ".join(missing_required)
        files = "; ".join(f"{t}.csv, {t}.parquet or {t}.xlsx" for t in missing_required)
        raise DataError(
            f"required table{'s' if len(missing_required) > 1 else ''} {names} not found in the data folder",
            file=ws.display(ws.data_dir), expected=files,
        )
    if con is None:
        con = connect(ws.config.timezone)
    else:
        _set_zone(con, ws.config.timezone)
    # (DuckDB's default, which _row relies on: a table's rowid follows the scan order of the file.)
    con.raw_sql("SET preserve_insertion_order = true")
    result = Tables(con=con)
    problems = _Problems(limit)
    local = _LocalTime(con, ws.config.period.start, ws.config.period.end)
    opened: list[_Source] = []
    try:
        for t_order, (name, schema) in enumerate(SCHEMAS.items()):
            path = ws.tables.get(name)
            if path is None:
                result.missing.append(name)
                continue
            if progress is not None:
                progress(name)
            src = SourceFile(name, path, ws.display(path), FORMATS[path.suffix.lower()])
            result.sources[name] = src
            _drop(con, name)
            _drop(con, _typed_name(name))
            source = None
            try:
                try:
                    source = _open_source(con, src, schema, result, problems, t_order)
                    opened.append(source)
                    _create_typed(con, src, schema, source, local)
                except DataError as err:
                    problems.add(err, (t_order, err.line or 0, -1))
                    del result.sources[name]
                    _drop(con, _typed_name(name))
                    continue
            finally:
                for scratch in (source.scratch if source is not None else ()):
                    _drop(con, scratch)
            _validate(result, schema, source, problems, t_order, limit)
            typed = _ident(_typed_name(name))
            con.raw_sql(f"ALTER TABLE {typed} DROP COLUMN _bad")  # (shares the other columns: no copy)
            con.raw_sql(f"CREATE VIEW {_ident(name)} AS SELECT rowid AS _row, * FROM {typed}")
            result.tables[name] = con.table(name)
    finally:
        for source in opened:
            for temp in source.temp_files:
                temp.unlink(missing_ok=True)
    problems.raise_if_any()
    return result


def _drop(con, name: str) -> None:
    """Drop the table or view *name* if there is one."""
    kinds = con.raw_sql(
        f"SELECT 'TABLE' FROM duckdb_tables() WHERE table_name = {_sql_str(name)} "
        f"AND schema_name = current_schema() UNION ALL SELECT 'VIEW' FROM duckdb_views() "
        f"WHERE view_name = {_sql_str(name)} AND schema_name = current_schema()").fetchall()
    for (kind,) in kinds:
        con.raw_sql(f"DROP {kind} IF EXISTS {_ident(name)}")


def _header_problems(src: SourceFile, schema: TableSchema, header: list[str], problems: _Problems,
                     t_order: int) -> dict[str, int]:
    """Map contract columns to header positions; report missing and repeated ones."""
    positions: dict[str, int] = {}
    names = [h.strip().lower() for h in header]
    for i, h in enumerate(names):
        if h in positions and h in schema.names:
            problems.add(DataError(f"column '{h}' appears twice in the header", file=src.display, line=1,
                                   field=h, expected="each column once"), (t_order, 1, schema.names.index(h)))
            continue
        positions.setdefault(h, i)
    shown = ", ".join(h.strip() for h in header if h.strip()) or "(none)"
    for j, col in enumerate(schema.columns):
        if col.required and col.name not in positions:
            problems.add(DataError(
                f"missing column '{col.name}' (the header has: {shown})",
                file=src.display, line=1, field=col.name,
                expected=f"a column named '{col.name}'; {schema.name} needs: {', '.join(schema.names)}",
            ), (t_order, 1, j))
    return {c.name: positions[c.name] for c in schema.columns if c.name in positions}




def _open_source(con, src: SourceFile, schema: TableSchema, result: Tables, problems: _Problems,
                 t_order: int) -> _Source:
    """Read the header (reporting missing columns) and describe the file as a :class:`_Source`."""
    if src.format == "csv":
        return _csv_source(con, src, schema, problems, t_order)
    if src.format == "parquet":
        return _parquet_source(con, src, schema, problems, t_order)
    return _xlsx_source(con, src, schema, result, problems, t_order)


# ---- CSV -------------------------------------------------------------------

_HEADER_PROBE = MAX_CSV_RECORD_BYTES + 3  # (a byte-order mark)


def _too_long(src: SourceFile, line: int | None) -> DataError:
    return DataError(f"this line is longer than the maximum of {MAX_CSV_RECORD_BYTES:,} bytes for one record",
                     file=src.display, line=line,
                     expected=f"records of at most {MAX_CSV_RECORD_BYTES:,} bytes (2 MB); is a quote left open, "
                              f"or is this not a CSV file?")


def _read_csv_header(src: SourceFile) -> list[str]:
    with open(src.path, "rb") as fh:
        head = fh.read(_HEADER_PROBE)
        longer = bool(fh.read(1))
    if not head.strip():
        raise DataError("the file is empty: it needs a header row naming its columns",
                        file=src.display, line=1)
    if longer and b"\n" not in head and b"\r" not in head:
        raise _too_long(src, 1)
    if b"\0" in head.split(b"\n", 1)[0]:
        raise DataError("the header row holds a NUL character (a zero byte)", file=src.display, line=1,
                        expected=NUL_EXPECTED)
    text = head.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        header = next(csv.reader(io.StringIO(text, newline="")))
    except (StopIteration, csv.Error) as exc:  # pragma: no cover - csv is very forgiving
        raise DataError(f"cannot read the header row ({exc})", file=src.display, line=1)
    if any("\ufffd" in h for h in header):
        raise DataError("the file is not UTF-8 encoded", file=src.display, line=1,
                        expected="a UTF-8 text file (save it from Excel as 'CSV UTF-8')")
    return header


def _csv_source(con, src: SourceFile, schema: TableSchema, problems: _Problems, t_order: int) -> _Source:
    header = _read_csv_header(src)
    positions = _header_problems(src, schema, header, problems, t_order)
    cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header))) + "}"

    def relation_of(path: Path) -> str:
        return (f"read_csv({_sql_str(str(path))}, columns = {cols}, header = true, auto_detect = false, "
                f"delim = ',', quote = '\"', escape = '\"', strict_mode = true, null_padding = false, "
                f"ignore_errors = false, encoding = 'utf-8', max_line_size = {MAX_CSV_RECORD_BYTES})")

    values = {name: (_clean(f"c{i}"), "VARCHAR") for name, i in positions.items()}

    def raw(rows: list[int], columns: Iterable[str]) -> dict[int, dict[str, Any]]:
        # The scan order of read_csv is the record order (DuckDB preserves it), as in the typed table.
        select = "".join(f", {values[name][0]} AS {_ident(name)}" for name in columns)
        return _fetch_raw(con, f"SELECT row_number() OVER () - 1 AS _row{select} FROM {source.relation}", rows)

    source = _Source(relation_of(src.path), values, raw, may_hold_nul=_has_nul_byte(src.path),
                     relation_of=relation_of)
    return source


def _has_nul_byte(path: Path) -> bool:
    """Whether the file holds a zero byte anywhere: a search of the mapped file (memchr, no copy),
    so that clean files, nearly all, skip the per-value NUL check."""
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return False
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return mapped.find(b"\0") >= 0


def _fetch_raw(con, sql: str, rows: list[int]) -> dict[int, dict[str, Any]]:
    """The records *rows* of *sql* (which numbers them as ``_row``); the scan stops at the last one."""
    wanted = sorted(set(int(r) for r in rows))
    if not wanted:
        return {}
    got = con.raw_sql(f"SELECT * FROM ({sql}) WHERE _row IN ({', '.join(map(str, wanted))}) "
                      f"LIMIT {len(wanted)}").fetch_arrow_table().to_pylist()
    return {r["_row"]: r for r in got}


_DUCK_LINE = re.compile(r"CSV Error on Line:\s*(\d+)")


def _csv_error(src: SourceFile, exc: Exception) -> DataError:
    text = str(exc)
    line = None
    m = _DUCK_LINE.search(text)
    if m:
        segment = int(m.group(1)) - 1  # DuckDB counts the header and blank lines, not quoted newlines
        line = _csv_scan(src.path, segments=[segment]).get(segment, segment + 1)
    if "Maximum line size" in text:
        return _too_long(src, line)
    if "does not support a full read" in text:  # a record larger than DuckDB's buffer: no line given
        return _too_long(src, _first_long_line(src.path, MAX_CSV_RECORD_BYTES))
    m_cols = re.search(r"Expected Number of Columns:\s*(\d+)\s*Found:\s*(\d+)", text)
    if m_cols:
        return DataError(f"this line has {m_cols.group(2)} fields but the header has {m_cols.group(1)}",
                         file=src.display, line=line,
                         expected=f"{m_cols.group(1)} comma-separated fields; quote values that contain commas")
    low = text.lower()
    if "invalid unicode" in low or "not utf-8" in low:
        return DataError("the file is not UTF-8 encoded", file=src.display, line=line,
                         expected="a UTF-8 text file (save it from Excel as 'CSV UTF-8')")
    if "unterminated quote" in low:
        return DataError("a quoted value is not closed (or a quote appears inside an unquoted value)",
                         file=src.display, line=line,
                         expected='values quoted as "…", with quotes inside them doubled ("")')
    first = text.splitlines()[0] if text else type(exc).__name__
    first = re.sub(r"^[A-Za-z ]*Error:\s*", "", first)
    return DataError(f"the file cannot be read as CSV: {first}", file=src.display, line=line)


def _first_long_line(path: Path, limit: int) -> int | None:
    """The first line of the file longer than *limit* bytes (None if none is), found with numpy
    over chunks: error path only."""
    line = 1  # the line that starts at byte *start*
    start = 0
    offset = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10) + offset
            starts = np.concatenate(([start], ends[:-1] + 1)) if len(ends) else np.zeros(0, dtype=np.int64)
            long = np.flatnonzero(ends - starts > limit)
            if len(long):
                return line + int(long[0])
            if len(ends):
                line += len(ends)
                start = int(ends[-1]) + 1
            offset += len(chunk)
            if offset - start > limit:  # the current line is already too long
                return line
    return None


def _mixed_line_endings(path: Path) -> bool:
    """Whether some lines end in CRLF and others in LF alone (error path only)."""
    lf = crlf = 0
    last = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            lf += chunk.count(b"\n")
            crlf += chunk.count(b"\r\n") + (last == b"\r" and chunk[:1] == b"\n")
            last = chunk[-1:]
    return 0 < crlf < lf


def _lf_copy(path: Path) -> Path:
    """A private temporary copy of the file with CRLF line endings turned into LF: lines keep their
    numbers, so messages about the copy hold for the file."""
    fd, name = tempfile.mkstemp(prefix="merit-", suffix=".csv")
    with open(path, "rb") as fh, os.fdopen(fd, "wb") as out:
        carry = b""
        while chunk := fh.read(1 << 24):
            chunk = carry + chunk
            carry = b"\r" if chunk.endswith(b"\r") else b""  # (its LF may start the next chunk)
            out.write(chunk[:len(chunk) - len(carry)].replace(b"\r\n", b"\n"))
        out.write(carry)
    return Path(name)


def _count_newlines(path: Path) -> tuple[int, bool]:
    n, last = 0, b""
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n, last == b"\n"


def _csv_lines_are_records(path: Path, records: int) -> bool:
    """True when every record is on one line and there is no blank line (the common case)."""
    n, ends_nl = _count_newlines(path)
    physical = n if ends_nl else n + 1
    return physical == records + 1


def _csv_scan(path: Path, *, records: Iterable[int] = (), segments: Iterable[int] = ()) -> dict[int, int]:
    """Find the first line of the given records (0-based, after the header) or
    *segments* (0-based line-like units: the header is segment 0; blank lines
    are segments of their own; a record spanning lines is one segment).

    A newline ends a segment when an even number of quote characters precede
    it (RFC 4180 quoting, ``""`` inside quotes).  The file is scanned in
    chunks with numpy; memory stays bounded.
    """
    want_rec = np.array(sorted(set(records)), dtype=np.int64)
    want_seg = np.array(sorted(set(segments)), dtype=np.int64)
    out: dict[int, int] = {}
    seg_no = 0  # index of the segment that starts at cur_start
    rec_no = 0  # number of records seen so far
    cur_start = 0  # byte offset where the current segment starts
    cur_line = 1  # line on which it starts
    nl_seen = 0
    quotes = 0
    offset = 0
    prev_last = -1

    def emit(ends, lines_start, starts, chunk_arr, chunk_off):
        nonlocal seg_no, rec_no
        n = len(ends)
        if n == 0:
            return
        lengths = ends - starts
        idx = ends - 1 - chunk_off
        if len(chunk_arr):
            last_byte = np.where(idx >= 0, chunk_arr[np.clip(idx, 0, len(chunk_arr) - 1)], prev_last)
        else:
            last_byte = np.full(n, prev_last)
        blank = (lengths == 0) | ((lengths == 1) & (last_byte == 13))
        segs = seg_no + np.arange(n, dtype=np.int64)
        if len(want_seg):
            hit = np.isin(segs, want_seg)
            for s, ln in zip(segs[hit].tolist(), lines_start[hit].tolist()):
                out[s] = ln
        is_rec = (segs >= 1) & ~blank
        if len(want_rec) and is_rec.any():
            recs = rec_no + np.cumsum(is_rec) - 1
            hit = is_rec & np.isin(recs, want_rec)
            for r, ln in zip(recs[hit].tolist(), lines_start[hit].tolist()):
                out[-1 - r] = ln
        seg_no += n
        rec_no += int(is_rec.sum())

    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            arr = np.frombuffer(chunk, dtype=np.uint8)
            nl = np.flatnonzero(arr == 10)
            qs = np.flatnonzero(arr == 34)
            before = quotes + np.searchsorted(qs, nl)
            is_end = (before % 2) == 0
            ends = nl[is_end] + offset
            ords = nl_seen + np.flatnonzero(is_end)
            starts = np.concatenate(([cur_start], ends[:-1] + 1)).astype(np.int64) if len(ends) else ends
            lines_start = np.concatenate(([cur_line], ords[:-1] + 2)).astype(np.int64) if len(ends) else ends
            emit(ends, lines_start, starts, arr, offset)
            if len(ends):
                cur_start = int(ends[-1]) + 1
                cur_line = int(ords[-1]) + 2
            nl_seen += len(nl)
            quotes += len(qs)
            prev_last = int(arr[-1])
            offset += len(chunk)
            if (not len(want_seg) or seg_no > want_seg[-1]) and (not len(want_rec) or rec_no > want_rec[-1]):
                break
    if offset > cur_start and (len(want_seg) or len(want_rec)):  # a last segment without a newline
        emit(np.array([offset], dtype=np.int64), np.array([cur_line], dtype=np.int64),
             np.array([cur_start], dtype=np.int64), np.zeros(0, dtype=np.uint8), offset)
    result = {s: out[s] for s in want_seg.tolist() if s in out}
    result_rec = {r: out[-1 - r] for r in want_rec.tolist() if -1 - r in out}
    return result_rec if len(want_rec) else result




# ---- Parquet ---------------------------------------------------------------

# Parquet types read natively (no round trip through strings), per contract type.
_INT_KINDS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
              "HUGEINT", "UHUGEINT")
_NATIVE = {
    "int": _INT_KINDS,
    "float": _INT_KINDS + ("DOUBLE",),  # (FLOAT and DECIMAL go through their shortest decimal text, as before)
    "bool": ("BOOLEAN",),
    "date": ("DATE", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP WITH TIME ZONE"),
    "timestamp": ("DATE", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP WITH TIME ZONE"),
}


def _parquet_text(col: str, kind: str, ctype: str) -> str:
    """SQL: the value of a Parquet column as text (what messages quote, and the typing input
    when the column's type is not read natively)."""
    if kind.endswith("[]"):
        expr = f"array_to_string({col}, ';')"
    elif ctype == "date" and (kind == "DATE" or kind.startswith("TIMESTAMP")):
        expr = f"strftime(CAST({col} AS DATE), '%Y-%m-%d')"
    elif kind.startswith("TIMESTAMP"):
        expr = f"strftime({col}, '%Y-%m-%d %H:%M:%S.%f')" if "TIME ZONE" not in kind else f"CAST({col} AS VARCHAR)"
    else:
        expr = f"CAST({col} AS VARCHAR)"
    return _clean(expr)


def _parquet_source(con, src: SourceFile, schema: TableSchema, problems: _Problems, t_order: int) -> _Source:
    path = _sql_str(str(src.path))
    try:
        described = con.raw_sql(f"DESCRIBE SELECT * FROM read_parquet({path})").fetchall()
    except Exception as exc:
        raise DataError(f"the file cannot be read as Parquet: {str(exc).splitlines()[0]}",
                        file=src.display) from None
    header = [row[0] for row in described]
    types = {row[0]: str(row[1]).upper() for row in described}
    positions = _header_problems(src, schema, header, problems, t_order)
    values: dict[str, tuple[str, str]] = {}
    texts: dict[str, str] = {}
    for name, i in positions.items():
        col, kind = _ident(header[i]), types[header[i]]
        ctype = schema.column(name).type
        texts[name] = _parquet_text(col, kind, ctype)
        values[name] = (col, kind) if kind in _NATIVE.get(ctype, ()) else (texts[name], "VARCHAR")

    def raw(rows: list[int], columns: Iterable[str]) -> dict[int, dict[str, Any]]:
        select = "".join(f", {texts[name]} AS {_ident(name)}" for name in columns)
        return _fetch_raw(con, f"SELECT file_row_number AS _row{select} "
                               f"FROM read_parquet({path}, file_row_number = true)", rows)

    return _Source(f"read_parquet({path})", values, raw)


# ---- XLSX ------------------------------------------------------------------

def _cell_text(value: Any, ctype: str) -> str | None:
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




def _xlsx_source(con, src: SourceFile, schema: TableSchema, result: Tables, problems: _Problems,
                 t_order: int) -> _Source:
    import openpyxl
    import pyarrow as pa

    try:
        wb = openpyxl.load_workbook(src.path, read_only=True, data_only=True)
    except Exception as exc:
        raise DataError(f"the file cannot be read as an Excel workbook (.xlsx): {exc}", file=src.display) from None
    header: list[str] = []
    try:
        ws = wb.worksheets[0]
        try:
            rows = ws.iter_rows(values_only=True)
            first = next(rows, None)
            if first is None:
                raise DataError("the first sheet is empty: it needs a header row naming its columns",
                                file=src.display, line=1)
            header = ["" if v is None else str(v) for v in first]
            positions = _header_problems(src, schema, header, problems, t_order)
            ctypes = {name: schema.column(name).type for name in positions}
            data: dict[str, list] = {name: [] for name in positions}
            sheet_rows: list[int] = []
            for n, row in enumerate(rows, start=2):  # small files: a Python loop is fine here
                if row is None or all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
                    continue
                sheet_rows.append(n)
                for name, i in positions.items():
                    data[name].append(_cell_text(row[i] if i < len(row) else None, ctypes[name]))
        except _BROKEN_SHEET as exc:  # (the sheet is parsed as it is read)
            raise _broken_sheet(src, wb, ws, exc, header) from None
    finally:
        wb.close()
    result._sheet_rows[schema.name] = sheet_rows
    arrow = pa.table({name: pa.array(vals, type=pa.string()) for name, vals in data.items()}) if data \
        else pa.table({"_none": pa.array([None] * len(sheet_rows), type=pa.string())})
    scratch = f"_raw_{schema.name}"
    _drop(con, scratch)
    con.create_table(scratch, arrow)
    values = {name: (_clean(_ident(name)), "VARCHAR") for name in positions}

    def raw(wanted: list[int], columns: Iterable[str]) -> dict[int, dict[str, Any]]:
        return {r: {"_row": r, **{name: data[name][r] for name in columns}}
                for r in set(wanted) if 0 <= r < len(sheet_rows)}

    return _Source(_ident(scratch), values, raw, scratch=[scratch])


# What reading a damaged sheet raises: XML a parser refuses (a cell holding a NUL, which no
# workbook can hold), a damaged zip member.
_BROKEN_SHEET = (ParseError, zipfile.BadZipFile, zlib.error, EOFError)
_CELL_REF = re.compile(r'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{1,3})([0-9]+)"')


def _broken_sheet(src: SourceFile, wb, sheet, exc: Exception, header: list[str]) -> DataError:
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
    except _BROKEN_SHEET:
        return None
    if not refs:
        return None
    letters, row = refs[-1]
    return int(row), column_index_from_string(letters) - 1


# --------------------------------------------------------------------------
# Typing
# --------------------------------------------------------------------------


def _case_of(col: Column) -> str:
    if col.allowed and all(a == a.upper() for a in col.allowed):
        return "upper"
    return "lower"


class _LocalTime:
    """SQL turning a naive local wall time (the session time zone, the cycle's) into the
    naive UTC instant.

    DuckDB's conversion (ICU) is exact but costs about as much as parsing the
    timestamp.  Around the cycle's period (two years either side), the zone's
    offset is sampled hourly through that same conversion; within each stretch
    of constant offset (less a day at either end, so that daylight-saving gaps and
    overlaps are left to ICU) the conversion is an addition.  Anything else goes
    through ICU.
    """

    MARGIN_US = 86_400_000_000  # one day

    def __init__(self, con, start: _dt.date, end: _dt.date):
        lo = _dt.datetime(start.year - 2, 1, 1)
        hi = _dt.datetime(end.year + 3, 1, 1)
        rows = con.raw_sql(
            f"SELECT epoch_us(h), epoch_us(CAST(h AS TIMESTAMPTZ)) - epoch_us(h) FROM range("
            f"TIMESTAMP '{lo:%Y-%m-%d %H:%M:%S}', TIMESTAMP '{hi:%Y-%m-%d %H:%M:%S}', INTERVAL 1 HOUR) t(h) "
            f"ORDER BY 1").fetchall()
        runs: list[tuple[int, int, int]] = []  # (first, last sample, offset) in local microseconds
        for at, off in rows:
            if runs and runs[-1][2] == off:
                runs[-1] = (runs[-1][0], at, off)
            else:
                runs.append((at, at, off))
        mid = (_dt.datetime(start.year, start.month, start.day) - _dt.datetime(1970, 1, 1)) // _dt.timedelta(
            microseconds=1)
        safe = [(a + self.MARGIN_US, b - self.MARGIN_US, off) for a, b, off in runs if b - a > 2 * self.MARGIN_US]
        # Most records are near the period: try the stretches nearest to it first.
        safe.sort(key=lambda r: 0 if r[0] <= mid <= r[1] else min(abs(r[0] - mid), abs(r[1] - mid)))
        self.stretches = safe

    @staticmethod
    def _ts(us: int) -> str:
        return f"make_timestamp({us})"

    def to_utc(self, v: str) -> str:
        icu = f"make_timestamp(epoch_us(CAST({v} AS TIMESTAMPTZ)))"
        if not self.stretches:
            return icu
        whens = " ".join(
            f"WHEN {v} BETWEEN {self._ts(a)} AND {self._ts(b)} THEN {v} + INTERVAL '{off} microseconds'"
            if off else f"WHEN {v} BETWEEN {self._ts(a)} AND {self._ts(b)} THEN {v}"
            for a, b, off in self.stretches)
        return f"CASE {whens} ELSE {icu} END"


def _sql_type(ctype: str) -> str:
    return {"string": "VARCHAR", "enum": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN",
            "timestamp": "TIMESTAMP", "date": "DATE", "list": "VARCHAR[]"}[ctype]


def _typing(col: Column, s: str, kind: str, local: _LocalTime) -> tuple[dict[str, str], str]:
    """How to type one column: SQL computed first (``{suffix: expr}``, over *s*) and the typed
    value (over *s* and those, referenced as ``s + suffix``).  NULL when empty or unparsable.

    *s* holds the cleaned string (*kind* ``VARCHAR``) or a native Parquet value.
    Casts are tried first; a value a cast accepts is kept only if it is written
    the way the contract says (DuckDB's casts alone are too lenient: they round
    '3.5' to an integer, read '0x10', '1_000', 'nan', trailing junk after a
    date, and drop a timestamp's offset when casting to TIMESTAMP).  Values
    written canonically pass a cheap test; only the others meet a regular
    expression.
    """
    t = col.type
    if kind != "VARCHAR":  # native Parquet values (see _NATIVE)
        if t == "int":
            return {}, f"TRY_CAST({s} AS BIGINT)"
        if t == "float":
            return {"_d": f"CAST({s} AS DOUBLE)"}, f"CASE WHEN isfinite({s}_d) THEN {s}_d END"
        if t == "bool":
            return {}, s
        if t == "date":
            return {"_d": f"CAST({s} AS DATE)"}, f"CASE WHEN isfinite({s}_d) THEN {s}_d END"
        if t == "timestamp":
            if "TIME ZONE" in kind:
                return {}, f"CASE WHEN isfinite({s}) THEN make_timestamp(epoch_us({s})) END"
            return {"_v": f"CAST({s} AS TIMESTAMP)"}, \
                f"CASE WHEN isfinite({s}_v) THEN {local.to_utc(f'{s}_v')} END"
        raise AssertionError((t, kind))
    if t == "string":
        return {}, s
    if t == "enum":
        return {}, f"upper({s})" if _case_of(col) == "upper" else f"lower({s})"
    if t == "int":
        # '12' round-trips through BIGINT unchanged; '+3', '3.0', '007' meet the regex.
        return {"_i": f"TRY_CAST({s} AS BIGINT)"}, (
            f"CASE WHEN CAST({s}_i AS VARCHAR) = {s} THEN {s}_i "
            f"WHEN regexp_full_match({s}, {_sql_str(_INT_RE)}) THEN {s}_i END")
    if t == "float":
        # The cast also reads 'nan', 'inf', 'infinity' (not finite), '1_000' and '+-1'; nothing
        # else it reads is refused by the regex (tests/test_tables.py checks this exhaustively).
        # (Numbers too big for a double, '1e999', are refused too.)
        return {"_d": f"TRY_CAST({s} AS DOUBLE)"}, (
            f"CASE WHEN isfinite({s}_d) AND NOT contains({s}, '_') AND NOT starts_with({s}, '+-') "
            f"THEN {s}_d END")
    if t == "bool":
        return {"_l": f"lower({s})"}, (
            f"CASE WHEN {s}_l IN ({', '.join(map(_sql_str, _TRUE))}) THEN true "
            f"WHEN {s}_l IN ({', '.join(map(_sql_str, _FALSE))}) THEN false END")
    if t == "date":
        # A date is exactly YYYY-MM-DD when it prints back as itself in 10 characters.
        return {"_d": f"TRY_CAST({s} AS DATE)"}, (
            f"CASE WHEN length({s}) = 10 AND CAST({s}_d AS VARCHAR) = {s} THEN {s}_d END")
    if t == "timestamp":
        # Canonical local times ('2026-08-20', '2026-08-20 20:00', '2026-08-20 20:00:00') are a
        # prefix of how their TIMESTAMP prints; the rest (T, fractions, offsets) meet the regex
        # and DuckDB's TIMESTAMPTZ cast, which honours offsets (naive: session zone).
        return {"_v": f"TRY_CAST({s} AS TIMESTAMP)"}, (
            f"CASE WHEN length({s}) IN (10, 16, 19) AND {s}_v < TIMESTAMP '10000-01-01' "
            f"AND starts_with(CAST({s}_v AS VARCHAR), {s}) THEN {local.to_utc(f'{s}_v')} "
            f"WHEN regexp_full_match({s}, {_sql_str(_TS_RE)}) "
            f"THEN make_timestamp(epoch_us(TRY_CAST({s} AS TIMESTAMPTZ))) END")
    if t == "list":
        return {}, (f"list_filter(list_transform(string_split({s}, ';'), lambda x: trim(x, ' \t\n')), "
                    f"lambda x: x <> '')")
    raise AssertionError(t)


@dataclass
class _Check:
    kind: str  # 'nul' | 'empty' | 'parse' | 'enum' | 'range' | 'pattern' | 'order' | 'dup' | 'ref'
    column: str
    other: str | None = None  # order: the earlier column; ref: 'table.column'
    bit: int = 0  # record checks: the bit of ``_bad``
    flag: Any = None  # dup and ref: boolean Ibis expression over the typed table


def _record_checks(schema: TableSchema, present: set[str], nul: frozenset[str] = frozenset()) -> list[_Check]:
    """The checks of single records, each with its bit of ``_bad``: on the file's text
    (nul: a NUL character in a column of *nul*; empty, parse) and on the typed values
    (enum, pattern, range, order)."""
    checks: list[_Check] = []
    for col in schema.columns:
        if col.name not in present:
            continue
        if col.name in nul:
            checks.append(_Check("nul", col.name))
        if col.nonempty:
            checks.append(_Check("empty", col.name))
        if col.type in ("int", "float", "bool", "timestamp", "date"):
            checks.append(_Check("parse", col.name))
        if col.type == "enum" and col.allowed:
            checks.append(_Check("enum", col.name))
        if col.pattern:
            checks.append(_Check("pattern", col.name))
        if col.min is not None or col.max is not None:
            checks.append(_Check("range", col.name))
    for table, later, earlier in ORDERINGS:
        if table == schema.name and later in present and earlier in present:
            checks.append(_Check("order", later, other=earlier))
    for i, ch in enumerate(checks):
        ch.bit = 1 << i
    return checks


def _record_check_sql(schema: TableSchema, ch: _Check, nul: frozenset[str] = frozenset()) -> str:
    """SQL: the check fails (over ``s<j>``, the text, ``t<j>``, the typed value, of column j, and
    for the columns of *nul*, ``s<j>_z``, the text holds a NUL; its typed value is then NULL)."""
    j = schema.names.index(ch.column)
    col = schema.columns[j]
    s, t = f"s{j}", f"t{j}"
    if ch.kind == "nul":
        return f"{s}_z"
    if ch.kind == "empty":
        return f"{s} IS NULL"
    if ch.kind == "parse":  # (a NUL is its own problem: not also a value that does not parse)
        return f"{s} IS NOT NULL AND {t} IS NULL" + (f" AND NOT {s}_z" if ch.column in nul else "")
    if ch.kind == "enum":
        return f"{t} NOT IN ({', '.join(map(_sql_str, col.allowed))})"
    if ch.kind == "pattern":
        return f"NOT regexp_matches({t}, {_sql_str(col.pattern)})"
    if ch.kind == "range":
        low = f"{t} < {col.min!r}" if col.min is not None else None
        high = f"{t} > {col.max!r}" if col.max is not None else None
        return " OR ".join(x for x in (low, high) if x)
    if ch.kind == "order":
        return f"{t} < t{schema.names.index(ch.other)}"
    raise AssertionError(ch.kind)


def _create_typed(con, src: SourceFile, schema: TableSchema, source: _Source, local: _LocalTime) -> None:
    """Create the typed table in one pass over the file: the contract columns, typed, and
    ``_bad``, the bit mask of the record checks that fail (see :func:`_record_checks`;
    NULL values pass every check but 'empty').  Its ``rowid`` is the record index
    (DuckDB keeps the scan order)."""
    l1, l2, l3, out = [], [], [], []
    nul = source.nul_checked()
    for j, col in enumerate(schema.columns):
        if col.name not in source.values:
            out.append(f"CAST(NULL AS {_sql_type(col.type)}) AS {_ident(col.name)}")
            continue
        s = f"s{j}"
        sql, kind = source.values[col.name]
        pre, typed = _typing(col, s, kind, local)
        if schema.name in MERIT_WRITTEN and col.type == "string" and kind == "VARCHAR":
            typed = restore_sql(typed)  # '=x, merit's neutralised text (merit.core.xlsx), reads back as =x
        l1.append(f"{sql} AS {s}")
        l2.append(s)
        l2 += [f"{expr} AS {s}{suffix}" for suffix, expr in pre.items()]
        if col.name in nul:  # a value holding a NUL is reported as such, and typed as NULL
            l2.append(f"contains({s}, chr(0)) AS {s}_z")
            typed = f"CASE WHEN NOT {s}_z THEN {typed} END"
            l3.append(f"{s}_z")
        l3 += [s, f"CAST({typed} AS {_sql_type(col.type)}) AS t{j}"]
        out.append(f"t{j} AS {_ident(col.name)}")
    terms = [f"CASE WHEN {_record_check_sql(schema, ch, nul)} THEN {ch.bit} ELSE 0 END"
             for ch in _record_checks(schema, set(source.values), nul)]
    out.append(f"CAST({' + '.join(terms) or '0'} AS {'INTEGER' if len(terms) < 31 else 'BIGINT'}) AS _bad")
    sql = (f"CREATE TABLE {_ident(_typed_name(schema.name))} AS SELECT {', '.join(out)} FROM ("
           f"SELECT {', '.join(l3) or '1 AS _none'} FROM ("
           f"SELECT {', '.join(l2) or '1 AS _none'} FROM ("
           f"SELECT {', '.join(l1) or '1 AS _none'} FROM {source.relation})))")
    try:
        con.raw_sql(sql)
    except Exception as exc:  # duckdb raises its own exception classes
        if src.format == "csv":
            # DuckDB's strict reader takes the line ending of the first line for all: a file mixing
            # CRLF and LF (Excel output with lines added by another tool) is read from an LF copy.
            if (source.relation_of is not None and not source.temp_files and "invalid state" in str(exc)
                    and _mixed_line_endings(src.path)):
                source.temp_files.append(_lf_copy(src.path))
                source.relation = source.relation_of(source.temp_files[-1])
                return _create_typed(con, src, schema, source, local)
            raise _csv_error(src, exc) from None
        if src.format == "parquet":
            raise DataError(f"the file cannot be read as Parquet: {str(exc).splitlines()[0]}",
                            file=src.display) from None
        raise


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------


def _fmt_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _range_text(col: Column) -> str:
    if col.min is not None and col.max is not None:
        return f"a value from {_fmt_num(col.min)} to {_fmt_num(col.max)}"
    if col.min is not None:
        return f"a value of at least {_fmt_num(col.min)}"
    return f"a value of at most {_fmt_num(col.max)}"


def _checks(result: Tables, schema: TableSchema, present: set[str], rel, first=None,
            nul: frozenset[str] = frozenset()) -> tuple[list[_Check], list[tuple[str, str, str]]]:
    """Every check of *schema*'s records over *rel* (the typed table with ``_row`` and
    ``_bad``): the record checks, then duplicates and references.

    The duplicate check needs *first* (the first ``_row`` holding the same
    key).  Also returns the references from list columns (checked through
    unnest).
    """
    checks = _record_checks(schema, present, nul)
    if schema.key in present:
        t = rel[schema.key]
        checks.append(_Check("dup", schema.key, flag=t.notnull() & (rel["_row"] != first)
                             if first is not None else ibis.literal(False)))
    list_refs = []
    for table, column, target, tcol in REFERENCES:
        if table != schema.name or column not in present or target not in result.tables:
            continue
        if schema.column(column).type == "list":
            list_refs.append((column, target, tcol))
            continue
        ids = result.tables[target][tcol]
        t = rel[column]
        checks.append(_Check("ref", column, other=f"{target}.{tcol}", flag=t.notnull() & ~t.isin(ids)))
    return checks, list_refs


def _validate(result: Tables, schema: TableSchema, source: _Source, problems: _Problems,
              t_order: int, limit: int) -> None:
    """Count every problem with one aggregate query over the typed table (and one more over
    the records that fail some record check, if any); when there are problems, fetch
    the first *limit* offending records, and their text from the file for the messages."""
    name = schema.name
    src = result.sources[name]
    con = result.con
    present = set(source.values)
    nul = source.nul_checked()
    full = con.sql(f"SELECT rowid AS _row, * FROM {_ident(_typed_name(name))}")
    checks, list_refs = _checks(result, schema, present, full, nul=nul)

    def flag(rel, ch):
        return (rel["_bad"] & ch.bit) != 0 if ch.bit else ch.flag

    # Counts: dup = keys - distinct keys; record checks by their bits; references by their flags.
    # (Keys are first told apart by their hashes, cheaper to count: when all differ, so do the keys.)
    aggs: dict[str, Any] = {"_n": full.count(), "_bits": full["_bad"].bit_or()}
    for i, ch in enumerate(checks):
        if ch.kind == "dup":
            key = full[ch.column]
            aggs[f"k{i}"] = key.count() - _hash(key).nunique(where=key.notnull())  # (hash(NULL) is a value)
        elif not ch.bit:
            aggs[f"k{i}"] = ch.flag.fill_null(False).cast("int64").sum()
    got = full.aggregate(**aggs).to_pyarrow().to_pylist()[0]
    result.counts[name] = int(got["_n"])
    for i, ch in enumerate(checks):
        if ch.kind == "dup" and got[f"k{i}"]:  # duplicates, or hashes that collide
            key = full[ch.column]
            got[f"k{i}"] = full.aggregate(k=key.count() - key.nunique()).to_pyarrow().to_pylist()[0]["k"]
    if got["_bits"]:
        bad = full.filter(full["_bad"] != 0)
        got.update(bad.aggregate(**{f"k{i}": flag(bad, ch).cast("int64").sum() for i, ch in enumerate(checks)
                                    if ch.bit}).to_pyarrow().to_pylist()[0])
    counts = {i: int(got.get(f"k{i}") or 0) for i in range(len(checks))}

    order = {c: i for i, c in enumerate(schema.names)}
    for i, ch in enumerate(checks):
        if ch.kind == "nul" and counts[i]:  # one problem per column, with its count, not one per record
            first = full.filter(flag(full, ch)).order_by("_row").limit(NUL_LINES_SHOWN).select("_row")
            lines = result.line_of(name, first.to_pyarrow().column("_row").to_pylist())
            problems.add(_nul_problem(src, ch.column, counts[i], lines), (t_order, lines[0], order[ch.column], -1))
            counts[i] = 0
    kind_rank = {"empty": 0, "parse": 1, "enum": 1, "pattern": 1, "range": 2, "dup": 3, "order": 4, "ref": 5}
    n = sum(counts.values())
    if n:
        problems.total += n
        dup = any(counts[i] for i, ch in enumerate(checks) if ch.kind == "dup")
        base = full.mutate(_first=full["_row"].min().over(group_by=full[schema.key])) if dup else full
        rel_checks, _ = _checks(result, schema, present, base, first=base["_first"] if dup else None, nul=nul)
        active = [f"f{i}" for i in counts if counts[i]]
        flagged = base.mutate(**{f"f{i}": flag(base, rel_checks[i]).fill_null(False) for i in counts if counts[i]})
        any_flag = ibis.or_(*[flagged[k] for k in active])
        wanted = ["_row"] + active + (["_first"] if dup else [])
        rows = flagged.filter(any_flag).order_by("_row").limit(limit).select(*wanted).to_pyarrow().to_pylist()
        quoted = {c for i in counts if counts[i] for c in (checks[i].column, checks[i].other) if c in present}
        text = source.raw([r["_row"] for r in rows], sorted(quoted, key=schema.names.index))
        needed = [r["_row"] for r in rows] + [r["_first"] for r in rows if r.get("_first") is not None]
        lines = dict(zip(needed, result.line_of(name, needed))) if needed else {}
        for r in rows:
            r.update({f"s_{c}": text.get(r["_row"], {}).get(c) for c in schema.names})
            for k in active:
                if not r[k]:
                    continue
                ch = checks[int(k[1:])]
                err = _problem(schema, src, ch, r, lines)
                problems.add(err, (t_order, lines[r["_row"]], order[ch.column], kind_rank[ch.kind]),
                             count=False)
    for column, target, tcol in list_refs:
        ids = result.tables[target][tcol]
        un = full.select("_row", _v=full[column].unnest())
        bad = un.filter(un._v.notnull() & ~un._v.isin(ids))
        n = int(bad.count().execute())
        if not n:
            continue
        problems.total += n
        rows = bad.order_by("_row").limit(limit).to_pyarrow().to_pylist()
        lines = dict(zip([r["_row"] for r in rows], result.line_of(name, [r["_row"] for r in rows])))
        for r in rows:
            err = DataError(
                f"{column} names '{r['_v']}', which is not an agent_id in {target}"
                if target == "agents" else f"{column} '{r['_v']}' is not a {tcol} in {target}",
                file=src.display, line=lines[r["_row"]], field=column,
                expected=f"';'-separated ids that all appear in {target}.{tcol}",
            )
            problems.add(err, (t_order, lines[r["_row"]], order[column], kind_rank["ref"]), count=False)


def _and_list(items: list) -> str:
    """'2', '2 and 4', '2, 4 and 9'."""
    words = [str(x) for x in items]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _nul_problem(src: SourceFile, column: str, count: int, lines: list[int]) -> DataError:
    """*count* values of *column* hold a NUL character, the first on *lines*.  (Never quoted:
    a terminal would cut the message at the NUL.)"""
    values = "1 value contains" if count == 1 else f"{count} values contain"
    where = (f"on line{'s' if len(lines) > 1 else ''} {_and_list(lines)}" if count <= len(lines)
             else f"first on lines {_and_list(lines)}")
    return DataError(f"{values} a NUL character (a zero byte), {where}", file=src.display, line=lines[0],
                     field=column, expected=NUL_EXPECTED)


def _problem(schema: TableSchema, src: SourceFile, ch: _Check, r: dict, lines: dict[int, int]) -> DataError:
    col = schema.column(ch.column)
    value = r[f"s_{ch.column}"]
    line = lines[r["_row"]]
    kw = dict(file=src.display, line=line, field=ch.column)
    if ch.kind == "empty":
        what = "id" if schema.key == ch.column or ch.column.endswith("_id") else "value"
        return DataError(f"{ch.column} is empty: every row needs a{'n' if what == 'id' else ''} {what}",
                         expected=f"a non-empty {ch.column}", **kw)
    if ch.kind == "parse":
        return DataError(f"'{value}' is not a valid {_TYPE_WORD[col.type]}", expected=EXPECTED[col.type], **kw)
    if ch.kind == "enum":
        return DataError(f"'{value}' is not an allowed {ch.column}",
                         expected=f"one of {', '.join(col.allowed)} (or empty)", **kw)
    if ch.kind == "pattern":
        return DataError(f"'{value}' is not a valid {ch.column}", expected=col.pattern_text or col.pattern, **kw)
    if ch.kind == "range":
        return DataError(f"{ch.column} {value} is out of range", expected=_range_text(col), **kw)
    if ch.kind == "dup":
        first = lines.get(r.get("_first"))
        return DataError(f"duplicate {ch.column} '{value}' (first used on line {first})",
                         expected=f"each {ch.column} once", **kw)
    if ch.kind == "order":
        other = r[f"s_{ch.other}"]
        return DataError(f"{ch.column} {value} is before {ch.other} {other}",
                         expected=f"{ch.column} at or after {ch.other}", **kw)
    if ch.kind == "ref":
        target, tcol = ch.other.split(".")
        if target == "agents":
            return DataError(f"{ch.column} '{value}' is not an agent_id in agents",
                             expected="an agent listed in agents (or empty)", **kw)
        return DataError(f"{ch.column} '{value}' is not a {tcol} in {target}",
                         expected=f"a {tcol} listed in {target}", **kw)
    raise AssertionError(ch.kind)
