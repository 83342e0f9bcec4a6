"""The input-table contract, loading into DuckDB through Ibis, and validation.

Every input file becomes a *raw* DuckDB table of strings (DuckDB's own CSV and
Parquet readers; openpyxl for the small .xlsx files), whose ``rowid`` is the
record index ``_row``.  Ibis expressions turn the raw strings into the typed
table of the contract (see docs/architecture.md, "Typed tables") and, in the
same terms, find every bad value: each table is checked with one aggregate
query (how many problems of each kind) and, only when something is wrong, one
more query that fetches the first offending rows.  Nothing here loops over
records in Python; per-problem work is bounded by ``limit``.

Problems are :class:`~engine.errors.DataError` values that name the file, the
line in that file and the field; all of them are raised together as a
:class:`~engine.errors.ProblemList` carrying the true total.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import numpy as np

from .errors import DataError, MeritError, ProblemList
from .workspace import Workspace

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

FORMATS = {".csv": "csv", ".parquet": "parquet", ".xlsx": "xlsx"}

_IBIS_TYPES = {
    "string": dt.string, "enum": dt.string, "int": dt.int64, "float": dt.float64,
    "bool": dt.boolean, "timestamp": dt.Timestamp(), "date": dt.date, "list": dt.Array(dt.string),
}

# What a value of each type must look like (DuckDB's casts alone are too lenient:
# they round '3.5' to an integer and read '0x10' or '1_000').
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


@ibis.udf.scalar.builtin(name="timezone")
def _naive_in_zone(tz: str, ts: dt.Timestamp(timezone="UTC")) -> dt.Timestamp():  # type: ignore[valid-type]
    """DuckDB's timezone(zone, timestamptz): the naive wall time in *zone*."""


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

    (Only spaces: trimming a set of characters costs twice as much on big files.)"""
    return f"NULLIF(TRIM({sql}), '')"


def connect(timezone: str):
    """An in-memory DuckDB connection (through Ibis) whose session time zone is *timezone*."""
    con = ibis.duckdb.connect()
    _set_zone(con, timezone)
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
    result = Tables(con=con)
    problems = _Problems(limit)
    for t_order, (name, schema) in enumerate(SCHEMAS.items()):
        path = ws.tables.get(name)
        if path is None:
            result.missing.append(name)
            continue
        if progress is not None:
            progress(name)
        src = SourceFile(name, path, ws.display(path), FORMATS[path.suffix.lower()])
        result.sources[name] = src
        raw_name = f"_raw_{name}"
        try:
            try:
                present = _read_raw(con, src, schema, raw_name, result, problems, t_order)
            except DataError as err:
                problems.add(err, (t_order, err.line or 0, -1))
                del result.sources[name]
                continue
            con.raw_sql(f"CREATE OR REPLACE VIEW {_ident(raw_name + '_v')} AS "
                        f"SELECT rowid AS _row, * FROM {_ident(raw_name)}")
            raw = con.table(raw_name + "_v")
            result.counts[name] = int(raw.count().execute())
            base = _typed_columns(raw, schema, present)
            typed = base.select("_row", *[base[f"t_{c.name}"].name(c.name) for c in schema.columns])
            # (dropped through SQL: with sqlglot 30, ibis 12's create_table(overwrite=True)
            # and drop_table emit a bare "DROP TABLE IF EXISTS")
            con.raw_sql(f"DROP TABLE IF EXISTS {_ident(name)}")
            result.tables[name] = con.create_table(name, typed)
            _validate(result, schema, raw, base, present, problems, t_order, limit)
        finally:
            con.raw_sql(f"DROP VIEW IF EXISTS {_ident(raw_name + '_v')}")
            con.raw_sql(f"DROP TABLE IF EXISTS {_ident(raw_name)}")
    problems.raise_if_any()
    return result


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


def _read_raw(con, src: SourceFile, schema: TableSchema, raw_name: str, result: Tables,
              problems: _Problems, t_order: int) -> set[str]:
    """Create the raw all-string table *raw_name*; return the contract columns present."""
    if src.format == "csv":
        return _read_csv(con, src, schema, raw_name, problems, t_order)
    if src.format == "parquet":
        return _read_parquet(con, src, schema, raw_name, problems, t_order)
    return _read_xlsx(con, src, schema, raw_name, result, problems, t_order)


# ---- CSV -------------------------------------------------------------------

_HEADER_PROBE = 1 << 20


def _read_csv_header(src: SourceFile) -> list[str]:
    with open(src.path, "rb") as fh:
        head = fh.read(_HEADER_PROBE)
    if not head.strip():
        raise DataError("the file is empty: it needs a header row naming its columns",
                        file=src.display, line=1)
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


_DUCK_LINE = re.compile(r"CSV Error on Line:\s*(\d+)")


def _csv_error(src: SourceFile, exc: Exception, ncols: int) -> DataError:
    text = str(exc)
    line = None
    m = _DUCK_LINE.search(text)
    if m:
        segment = int(m.group(1)) - 1  # DuckDB counts the header and blank lines, not quoted newlines
        line = _csv_scan(src.path, segments=[segment]).get(segment, segment + 1)
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


def _read_csv(con, src: SourceFile, schema: TableSchema, raw_name: str, problems: _Problems,
              t_order: int) -> set[str]:
    header = _read_csv_header(src)
    positions = _header_problems(src, schema, header, problems, t_order)
    cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header))) + "}"
    select = ", ".join(f"{_clean(f'c{i}')} AS {_ident(name)}" for name, i in positions.items()) or "NULL AS _none"
    sql = (f"CREATE OR REPLACE TABLE {_ident(raw_name)} AS SELECT {select} FROM read_csv("
           f"{_sql_str(str(src.path))}, columns = {cols}, header = true, auto_detect = false, "
           f"delim = ',', quote = '\"', escape = '\"', strict_mode = true, null_padding = false, "
           f"ignore_errors = false, encoding = 'utf-8')")
    try:
        con.raw_sql(sql)
    except Exception as exc:  # duckdb raises its own exception classes
        raise _csv_error(src, exc, len(header)) from None
    return set(positions)


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


def _read_parquet(con, src: SourceFile, schema: TableSchema, raw_name: str, problems: _Problems,
                  t_order: int) -> set[str]:
    path = _sql_str(str(src.path))
    try:
        described = con.raw_sql(f"DESCRIBE SELECT * FROM read_parquet({path})").fetchall()
    except Exception as exc:
        raise DataError(f"the file cannot be read as Parquet: {str(exc).splitlines()[0]}",
                        file=src.display) from None
    header = [row[0] for row in described]
    types = {row[0]: str(row[1]).upper() for row in described}
    positions = _header_problems(src, schema, header, problems, t_order)
    parts = []
    for name, i in positions.items():
        col, kind = _ident(header[i]), types[header[i]]
        ctype = schema.column(name).type
        if kind.endswith("[]"):
            expr = f"array_to_string({col}, ';')"
        elif ctype == "date" and (kind == "DATE" or kind.startswith("TIMESTAMP")):
            expr = f"strftime(CAST({col} AS DATE), '%Y-%m-%d')"
        elif kind.startswith("TIMESTAMP"):
            expr = f"strftime({col}, '%Y-%m-%d %H:%M:%S.%f')" if "TIME ZONE" not in kind else f"CAST({col} AS VARCHAR)"
        else:
            expr = f"CAST({col} AS VARCHAR)"
        parts.append(f"{_clean(expr)} AS {_ident(name)}")
    select = ", ".join(parts) or "NULL AS _none"
    try:
        con.raw_sql(f"CREATE OR REPLACE TABLE {_ident(raw_name)} AS SELECT {select} FROM read_parquet({path})")
    except Exception as exc:
        raise DataError(f"the file cannot be read as Parquet: {str(exc).splitlines()[0]}",
                        file=src.display) from None
    return set(positions)


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


def _read_xlsx(con, src: SourceFile, schema: TableSchema, raw_name: str, result: Tables,
               problems: _Problems, t_order: int) -> set[str]:
    import openpyxl
    import pyarrow as pa

    try:
        wb = openpyxl.load_workbook(src.path, read_only=True, data_only=True)
    except Exception as exc:
        raise DataError(f"the file cannot be read as an Excel workbook (.xlsx): {exc}", file=src.display) from None
    try:
        ws = wb.worksheets[0]
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
    finally:
        wb.close()
    result._sheet_rows[schema.name] = sheet_rows
    arrow = pa.table({name: pa.array(vals, type=pa.string()) for name, vals in data.items()}) if data \
        else pa.table({"_none": pa.array([None] * len(sheet_rows), type=pa.string())})
    con.raw_sql(f"DROP TABLE IF EXISTS {_ident(raw_name)}")
    con.create_table(raw_name, arrow)
    return set(positions)


# --------------------------------------------------------------------------
# Typing
# --------------------------------------------------------------------------


def _case_of(col: Column) -> str:
    if col.allowed and all(a == a.upper() for a in col.allowed):
        return "upper"
    return "lower"


def _typed(col: Column, s):
    """The typed value of cleaned string *s* (NULL when empty or unparsable)."""
    t = col.type
    if t == "string":
        return s
    if t == "enum":
        return s.upper() if _case_of(col) == "upper" else s.lower()
    if t == "int":
        return ibis.ifelse(s.re_search(_INT_RE), s.try_cast("int64"), ibis.null("int64"))
    if t == "float":
        return ibis.ifelse(s.re_search(_FLOAT_RE), s.try_cast("float64"), ibis.null("float64"))
    if t == "bool":
        low = s.lower()
        return ibis.cases((low.isin(_TRUE), True), (low.isin(_FALSE), False), else_=ibis.null("boolean"))
    if t == "timestamp":
        aware = ibis.ifelse(s.re_search(_TS_RE), s.try_cast(dt.Timestamp(timezone="UTC")),
                            ibis.null(dt.Timestamp(timezone="UTC")))
        return _naive_in_zone("UTC", aware)
    if t == "date":
        return ibis.ifelse(s.re_search(_DATE_RE), s.try_cast("date"), ibis.null("date"))
    if t == "list":
        return s.split(";").map(lambda x: x.strip()).filter(lambda x: x != "")
    raise AssertionError(t)


def _typed_columns(raw, schema: TableSchema, present: set[str]):
    """raw (strings) → a relation with ``_row``, ``s_<col>`` (trimmed string or NULL) and ``t_<col>`` (typed)."""
    cols: dict[str, Any] = {}
    for col in schema.columns:
        if col.name in present:
            s = raw[col.name]  # already trimmed, NULL when empty (see _clean)
            cols[f"s_{col.name}"] = s
            cols[f"t_{col.name}"] = _typed(col, s).cast(_IBIS_TYPES[col.type])
        else:
            cols[f"s_{col.name}"] = ibis.null("string")
            cols[f"t_{col.name}"] = ibis.null(_IBIS_TYPES[col.type])
    return raw.select("_row", **cols)


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------


@dataclass
class _Check:
    kind: str  # 'empty' | 'parse' | 'enum' | 'range' | 'pattern' | 'dup' | 'order' | 'ref'
    column: str
    flag: Any  # boolean Ibis expression over the base relation
    other: str | None = None  # order: the earlier column; ref: 'table.column'


def _fmt_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _range_text(col: Column) -> str:
    if col.min is not None and col.max is not None:
        return f"a value from {_fmt_num(col.min)} to {_fmt_num(col.max)}"
    if col.min is not None:
        return f"a value of at least {_fmt_num(col.min)}"
    return f"a value of at most {_fmt_num(col.max)}"


def _checks(result: Tables, schema: TableSchema, present: set[str], rel, s_of, t_of,
            first=None) -> tuple[list[_Check], list[tuple[str, str, str]]]:
    """The row checks of *schema* as boolean expressions over *rel*.

    ``s_of(col)`` gives the cleaned string, ``t_of(col)`` the typed value; the
    duplicate check needs *first* (the first ``_row`` holding the same key).
    Also returns the references from list columns (checked through unnest).
    """
    checks: list[_Check] = []
    for col in schema.columns:
        if col.name not in present:
            continue
        if col.nonempty:
            checks.append(_Check("empty", col.name, s_of(col.name).isnull()))
        if col.type in ("int", "float", "bool", "timestamp", "date"):
            checks.append(_Check("parse", col.name, s_of(col.name).notnull() & t_of(col.name).isnull()))
        t = t_of(col.name)
        if col.type == "enum" and col.allowed:
            checks.append(_Check("enum", col.name, t.notnull() & ~t.isin(col.allowed)))
        if col.pattern:
            checks.append(_Check("pattern", col.name, t.notnull() & ~t.re_search(col.pattern)))
        if col.min is not None or col.max is not None:
            out = ibis.literal(False)
            if col.min is not None:
                out = out | (t < col.min)
            if col.max is not None:
                out = out | (t > col.max)
            checks.append(_Check("range", col.name, t.notnull() & out))
        if schema.key == col.name:
            flag = t.notnull() & (rel["_row"] != first) if first is not None else ibis.literal(False)
            checks.append(_Check("dup", col.name, flag))
    for table, later, earlier in ORDERINGS:
        if table == schema.name and later in present and earlier in present:
            a, b = t_of(later), t_of(earlier)
            checks.append(_Check("order", later, a.notnull() & b.notnull() & (a < b), other=earlier))
    list_refs = []
    for table, column, target, tcol in REFERENCES:
        if table != schema.name or column not in present or target not in result.tables:
            continue
        if schema.column(column).type == "list":
            list_refs.append((column, target, tcol))
            continue
        ids = result.tables[target][tcol]
        t = t_of(column)
        checks.append(_Check("ref", column, t.notnull() & ~t.isin(ids), other=f"{target}.{tcol}"))
    return checks, list_refs


def _validate(result: Tables, schema: TableSchema, raw, base, present: set[str], problems: _Problems,
              t_order: int, limit: int) -> None:
    """Count every problem with two aggregate queries (raw strings, typed table);
    when there are some, fetch the first *limit* offending rows in one more query."""
    name = schema.name
    src = result.sources[name]
    typed = result.tables[name]
    checks, list_refs = _checks(result, schema, present, typed, lambda c: typed[c], lambda c: typed[c])
    # Counts.  empty = rows - non-empty raw cells; parse = non-empty raw cells - typed values;
    # dup = keys - distinct keys; everything else is a condition on the typed table.
    raw_cols = sorted({ch.column for ch in checks if ch.kind in ("empty", "parse")})
    raw_aggs = {f"n_{c}": raw[c].count() for c in raw_cols}
    raw_counts = raw.aggregate(_n=raw.count(), **raw_aggs).to_pyarrow().to_pylist()[0] if raw_aggs else {}
    typed_aggs: dict[str, Any] = {}
    for i, ch in enumerate(checks):
        if ch.kind == "parse":
            typed_aggs[f"k{i}"] = typed[ch.column].count()
        elif ch.kind == "dup":
            typed_aggs[f"k{i}"] = typed[ch.column].count() - typed[ch.column].nunique()
        elif ch.kind != "empty":
            typed_aggs[f"k{i}"] = ch.flag.fill_null(False).cast("int64").sum()
    typed_counts = typed.aggregate(**typed_aggs).to_pyarrow().to_pylist()[0] if typed_aggs else {}
    counts: dict[int, int] = {}
    for i, ch in enumerate(checks):
        if ch.kind == "empty":
            counts[i] = raw_counts["_n"] - raw_counts[f"n_{ch.column}"]
        elif ch.kind == "parse":
            counts[i] = raw_counts[f"n_{ch.column}"] - (typed_counts[f"k{i}"] or 0)
        else:
            counts[i] = int(typed_counts[f"k{i}"] or 0)

    order = {c: i for i, c in enumerate(schema.names)}
    kind_rank = {"empty": 0, "parse": 1, "enum": 1, "pattern": 1, "range": 2, "dup": 3, "order": 4, "ref": 5}
    n = sum(counts.values())
    if n:
        problems.total += n
        # The rows themselves: the same checks over the raw strings and the recomputed types.
        dup = any(counts[i] for i, ch in enumerate(checks) if ch.kind == "dup")
        if dup:
            base = base.mutate(_first=base["_row"].min().over(group_by=base[f"t_{schema.key}"]))
        rel_checks, _ = _checks(result, schema, present, base, lambda c: base[f"s_{c}"],
                                lambda c: base[f"t_{c}"], first=base["_first"] if dup else None)
        active = [f"f{i}" for i in counts if counts[i]]
        flagged = base.mutate(**{f"f{i}": rel_checks[i].flag.fill_null(False) for i in counts if counts[i]})
        any_flag = ibis.or_(*[flagged[k] for k in active])
        wanted = ["_row"] + active + [f"s_{c}" for c in schema.names] + (["_first"] if dup else [])
        rows = flagged.filter(any_flag).order_by("_row").limit(limit).select(*wanted).to_pyarrow().to_pylist()
        needed = [r["_row"] for r in rows] + [r["_first"] for r in rows if r.get("_first") is not None]
        lines = dict(zip(needed, result.line_of(name, needed))) if needed else {}
        for r in rows:
            for k in active:
                if not r[k]:
                    continue
                ch = checks[int(k[1:])]
                err = _problem(schema, src, ch, r, lines)
                problems.add(err, (t_order, lines[r["_row"]], order[ch.column], kind_rank[ch.kind]),
                             count=False)
    for column, target, tcol in list_refs:
        ids = result.tables[target][tcol]
        un = typed.select("_row", _v=typed[column].unnest())
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
