"""load_tables: every input file of a workspace, in contract order, opened, typed and validated;
all problems raised together at the end."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb

from merit.core.contract import TableSchema, contract
from merit.core.errors import DataError, Problems
from merit.core.sources.encoding import detect_encoding
from merit.core.sources.mapping import NO_ENTRY
from merit.core.tables.connection import connect, set_zone
from merit.core.tables.model import FORMATS, Source, SourceFile, Tables
from merit.core.tables.read_csv import NOT_UTF8, csv_source
from merit.core.tables.read_parquet import parquet_source, unreadable
from merit.core.tables.read_xlsx import xlsx_source
from merit.core.tables.sql import drop, ident, typed_name
from merit.core.tables.typed_table import create_typed
from merit.core.tables.typing_sql import LocalTime
from merit.core.tables.validate import validate
from merit.core.workspace import Workspace


def load_tables(ws: Workspace, con=None, *, limit: int = 50,
                progress: Callable[[str], Any] | None = None, elsewhere: frozenset[str] = frozenset()) -> Tables:
    """Load, type and validate every input file of the workspace *ws*, but those of the tables
    *elsewhere* (loaded by the backend itself, merit.core.backend_tables).

    Raises :class:`DataError` (one problem) or :class:`ProblemList` (several,
    at most *limit* shown, with the true total) when the data is bad.
    """
    elsewhere = elsewhere | frozenset(ws.table_sources) | frozenset(ws.cluster_files)
    _check_required_tables(ws, elsewhere)
    con = _prepared(con, ws.config.timezone)
    result = Tables(con=con)
    loading = _Loading(result, Problems(limit), LocalTime(con, ws.config.period.start, ws.config.period.end),
                       limit)
    try:
        for t_order, (name, schema) in enumerate(contract().tables.items()):
            if name in elsewhere:
                continue
            path = ws.tables.get(name)
            if path is None:
                result.missing.append(name)
                continue
            if progress is not None:
                progress(name)
            loading.load(schema, source_file(ws, name, path), t_order)
    finally:
        loading.finish()
    loading.problems.raise_if_any()
    return result


def source_file(ws: Workspace, name: str, path) -> SourceFile:
    """The file of table *name*, with its `sources:` entry and (CSV) encoding."""
    src = SourceFile(name, path, ws.display(path), FORMATS[path.suffix.lower()], entry=ws.sources.get(name))
    if src.entry is not None and src.format == "csv":
        src.encoding = detect_encoding(path, src.entry.spec.encoding)
        src.delimiter = src.entry.spec.delimiter
    return src


def _check_required_tables(ws: Workspace, elsewhere: frozenset[str]) -> None:
    missing = [t for t in contract().required_tables if t not in ws.tables and t not in elsewhere]
    if missing:
        names = " and ".join(missing)
        files = "; ".join(f"{t}.csv, {t}.parquet or {t}.xlsx" for t in missing)
        raise DataError(
            f"required table{'s' if len(missing) > 1 else ''} {names} not found in the data folder",
            file=ws.display(ws.data_dir), expected=files,
        )


def _prepared(con, timezone: str):
    """*con* (a new connection when None) in the cycle's time zone."""
    if con is None:
        con = connect(timezone)
    else:
        set_zone(con, timezone)
    # (DuckDB's default, which _row relies on: a table's rowid follows the scan order of the file.)
    con.raw_sql("SET preserve_insertion_order = true")
    return con


def open_source(con, src: SourceFile, schema: TableSchema, result: Tables, problems: Problems,
                t_order: int) -> Source:
    """Read the header (reporting missing columns) and describe the file as a :class:`Source`."""
    if src.format == "csv":
        return csv_source(con, src, schema, result, problems, t_order)
    if src.format == "parquet":
        return parquet_source(con, src, schema, result, problems, t_order)
    return xlsx_source(con, src, schema, result, problems, t_order)


class _Loading:
    """One load_tables run: the tables loaded so far, the problems, the files opened."""

    def __init__(self, result: Tables, problems: Problems, local: LocalTime, limit: int):
        self.result = result
        self.problems = problems
        self.local = local
        self.limit = limit
        self.opened: list[Source] = []

    def load(self, schema: TableSchema, src: SourceFile, t_order: int) -> None:
        """Type and validate one file; its table is then the view named after it, whose
        columns are ``_row`` (the typed table's ``rowid``) and the contract columns."""
        con, name = self.result.con, schema.name
        self.result.sources[name] = src
        drop(con, name)
        drop(con, typed_name(name))
        source = self._typed(schema, src, t_order)
        if source is None:
            return
        self.result.absent[name] = frozenset(schema.names) - frozenset(source.values)
        typed = ident(typed_name(name))
        try:
            validate(self.result, schema, source, self.problems, t_order, self.limit)
        except duckdb.Error as exc:  # (a view over a Parquet file: its pages are first read here)
            if source.in_place_row is None:
                raise
            self.problems.add(unreadable(src, exc), (t_order, 0, -1))
            del self.result.sources[name]
            drop(con, typed_name(name))
            return
        if source.in_place_row is None:
            con.raw_sql(f"ALTER TABLE {typed} DROP COLUMN _bad")  # (shares the other columns: no copy)
            con.raw_sql(f"CREATE VIEW {ident(name)} AS SELECT rowid AS _row, * FROM {typed}")
        else:
            self._without_nul_checks(schema, src, source)
            con.raw_sql(f"CREATE VIEW {ident(name)} AS SELECT * EXCLUDE (_bad) FROM {typed}")
        self.result.tables[name] = con.table(name)

    def _without_nul_checks(self, schema: TableSchema, src: SourceFile, source: Source) -> None:
        """A view over a file types its values again in every query that reads it: once
        validation has found no problem so far (a NUL in a value is one, and any problem stops
        the run), the view is made again without looking for NULs (0.15 to 0.45 s a scan of 10
        million tickets, by the number of text columns the scan reads)."""
        if not source.nul_checked() or self.problems:
            return
        source.may_hold_nul = False
        drop(self.result.con, typed_name(schema.name))
        create_typed(self.result.con, src, schema, source, self.local)

    def _typed(self, schema: TableSchema, src: SourceFile, t_order: int) -> Source | None:
        """Open the file and create its typed table; None (the problem noted) when it cannot be read."""
        noted = (len(self.problems.items), self.problems.total)
        try:
            return self._open_and_type(schema, src, t_order)
        except DataError as err:
            if not _utf8_guess_failed(src, err):
                raise
        # `auto`: UTF-8 at its start, not further on; read again (the header's problems once)
        del self.problems.items[noted[0]:]
        self.problems.total = noted[1]
        src.encoding = "gb18030"
        return self._open_and_type(schema, src, t_order)

    def _open_and_type(self, schema: TableSchema, src: SourceFile, t_order: int) -> Source | None:
        con = self.result.con
        source = None
        try:
            source = open_source(con, src, schema, self.result, self.problems, t_order)
            self.opened.append(source)
            create_typed(con, src, schema, source, self.local)
        except (DataError, duckdb.Error) as err:
            if _utf8_guess_failed(src, err):
                raise
            if not (NO_ENTRY in str(err) and source is not None and source.no_entry_problems is not None
                    and source.no_entry_problems()):
                if isinstance(err, duckdb.Error):
                    raise
                self.problems.add(err, (t_order, err.line or 0, -1))
            del self.result.sources[schema.name]
            drop(con, typed_name(schema.name))
            return None
        return source

    def finish(self) -> None:
        """Drop what the files' reading left (scratch tables, types) and delete the temporary files."""
        con = self.result.con
        for source in self.opened:
            for scratch in source.scratch:
                drop(con, scratch)
            for type_name in source.scratch_types:
                con.raw_sql(f"DROP TYPE IF EXISTS {ident(type_name)}")
            for temp in source.temp_files:
                temp.unlink(missing_ok=True)


def _utf8_guess_failed(src: SourceFile, err: Exception) -> bool:
    """A source read as UTF-8 by `encoding: auto` that is not UTF-8 after its first 2 MiB."""
    return (isinstance(err, DataError) and err.message == NOT_UTF8 and src.entry is not None
            and src.format == "csv" and src.entry.spec.encoding == "auto" and src.encoding == "utf-8")
